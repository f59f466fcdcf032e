#pragma once
// The open-loop measurement loop (regimes floor, realistic, overload and the sustainable-rate
// search; docs/METHODOLOGY.md "Regimes"). The initiator of a pair is the generator: operations
// arrive on a schedule (harness/regime), wait in a bounded per-stream backlog, are posted when the
// stream has fewer than `inflight` unconfirmed operations and the endpoint accepts them, and are
// confirmed by
//   send / write_imm: the responder's acknowledgement (a zero-byte message carrying the count of
//                     messages it has received on that connection: cumulative, like TCP's ACK),
//                     or with `echo` (pingpong) a reply of the request's size, one per request;
//   write / read / atomics: the operation's own completion (RC: the remote side has it).
// Latency runs from the operation's intended issue time (not from when it was posted: no
// coordinated omission) to its confirmation, split into queueing (intended -> posted) and
// service (posted -> confirmed). The loop is transport-agnostic: it only uses transports/api.
#include <cstdint>
#include <optional>
#include <vector>

#include "harness/regime/phase.hpp"
#include "harness/regime/schedule.hpp"
#include "suites/api/workload.hpp"

namespace fabricbench::engine {

struct PhasePlan {
  // closed: each stream posts its next operation as soon as it has fewer than `inflight`
  // unconfirmed (intended = posted: no queueing); open: arrivals follow `profile`.
  bool closed = false;
  regime::Arrival arrival = regime::Arrival::poisson;
  std::vector<regime::RateStep> profile;  // ops/s of the pair, over all streams together
  std::uint64_t length_ns = 0;            // measured phase (arrivals stop at its end)
  std::uint64_t max_ops = 0;              // closed: stop after this many confirmations (0: none)
  std::uint64_t warmup_ns = 0;            // unmeasured lead-in at the first step's rate
  std::uint64_t seed = 1;
  std::uint64_t pair = 0;  // seeds differ per pair of ranks
  int streams = 1;
  int inflight = 64;                // per stream
  std::uint64_t backlog = 100'000;  // per stream
  std::uint64_t deadline_ns = 0;    // 0: none
  std::uint64_t sample_interval_ns = 1'000'000;
  // Blocking completions: the generator polls throughout instead of sleeping in wait() (a
  // spinning load generator; regime.generator: spin). No effect with busy polling.
  bool spin = false;
  std::uint64_t bin_ns = 100'000'000;
  std::vector<regime::MixEntry> mix;  // empty: every operation is params.message_size bytes
};

// Blocking completion mode, one endpoint: how long the generator may sleep in the transport's
// wait() before its next deadline. `to_arrival`: ns until the next arrival (nullopt: no more
// arrivals, or a closed loop); `to_sample`: ns until the next queue sample. A sleep ends spin_ns
// before an arrival, whose last stretch is polled (a sleeping thread wakes late, and the lateness
// would count as queueing), but may run up to a sample (a late sample only moves its time stamp;
// it is taken at the time it is actually taken). At most cap_ns. 0: poll, do not sleep.
std::uint64_t blocking_sleep_ns(std::optional<std::uint64_t> to_arrival, std::uint64_t to_sample,
                                std::uint64_t spin_ns, std::uint64_t cap_ns);

// Buffer slots per endpoint the open loop needs (message_size bytes each).
int open_loop_send_slots(int streams, int inflight, int connections);
int open_loop_recv_slots(int streams, int inflight, int connections);

// One per case and rank; keeps receives posted and sequence counters across phases.
class OpenLoopSession {
 public:
  // `echo`: two-sided operations are answered with a reply of the request's size (pingpong)
  // rather than a cumulative zero-byte acknowledgement (stream). `streams` and `inflight` size the
  // receives and slots and must be the same for every phase of the session.
  OpenLoopSession(const suites::Context& ctx, bool echo, int streams, int inflight);
  ~OpenLoopSession();
  OpenLoopSession(const OpenLoopSession&) = delete;
  OpenLoopSession& operator=(const OpenLoopSession&) = delete;
  // Collective within the pair. The generator (initiator) returns what it measured; the
  // responder returns nullopt. Throws core::Error on transport failures, a lost peer (no progress
  // for peer_timeout_ns), a queue that does not drain, or an interrupt.
  std::optional<regime::PhaseResult> run_phase(const PhasePlan& plan);
  // Generator: core::now_ns() at the start of the last phase's measured part (after its
  // warm-up), the origin of its bins; 0 before the first phase and on the responder.
  std::uint64_t measure_start_mono_ns() const noexcept;

 private:
  struct State;
  State* state_;
};

}  // namespace fabricbench::engine
