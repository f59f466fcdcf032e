#pragma once
// The collective suite's contract with the engine: a case that spans every rank over a
// Communicator (transports/api/communicator.hpp) instead of pairing ranks over a Transport. The
// engine connects the communicator, hands the workload a guard that watches every rank's
// progress, calls run() once per repetition on every rank, gathers each rank's JSON and has
// rank 0 merge them (docs/ARCHITECTURE.md, "Collectives").
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/stats/histogram.hpp"
#include "core/stats/interval_series.hpp"
#include "transports/api/communicator.hpp"
#include "transports/api/memory.hpp"

namespace fabricbench::suites {

struct CollectiveParams {
  transport::Collective collective = transport::Collective::all_reduce;
  transport::DataType type = transport::DataType::float32;
  transport::RedOp op = transport::RedOp::sum;
  int root = 0;
  std::uint64_t size = 0;  // the size swept (nccl-tests' -b..-e); layout in suites/collective
  bool out_of_place = true;
  bool in_place = true;
  std::string combine = "avg";  // per-rank times: avg | min | max | rank0 (nccl-tests -a)
  bool check = true;            // the untimed correctness check after the timed runs
  std::uint64_t seed = 1;       // of the check's inputs
  // Timed phase: a count, or a duration (the count is then found by the first repetition).
  std::uint64_t iterations = 0;
  std::uint64_t warmup_iterations = 0;
  std::uint64_t duration_ns = 0;
  std::uint64_t warmup_ns = 0;
  // closed: back to back (nccl-tests); floor: one at a time with a barrier between (IMB, OSU);
  // realistic: issued on a schedule shared by every rank, latency from the intended time.
  std::string regime = "closed";
  double rate_per_s = 0;          // realistic: collectives per second
  bool poisson = false;           // realistic: exponential gaps (seeded) instead of constant
  std::uint64_t regime_seed = 1;  // realistic, poisson
  std::uint64_t deadline_ns = 0;  // realistic: latency above it is a miss (0: none)
  std::uint64_t peer_timeout_ns = 30'000'000'000;
  // realistic: the bin of the completions series (0: none), from which a fault's recovery curve
  // of bus bandwidth is drawn.
  std::uint64_t interval_ns = 0;
};

// Watches the other ranks while this one waits for a collective. poll() is called often from the
// waiting loop with this rank's completed count; it throws core::Error when the case must stop
// (a rank died or fell behind for the peer timeout; the message names it and what it was in).
class ProgressGuard {
 public:
  virtual ~ProgressGuard() = default;
  virtual void poll(std::uint64_t completed) = 0;
  // The timed phase of the first placement starts now (t0_ns: core::now_ns()): a fault's
  // timeline counts from here.
  virtual void measuring(std::uint64_t /*t0_ns*/) {}
};

// What rank 0 makes of every rank's result of one repetition.
struct CollectiveMerged {
  nlohmann::json collective;  // results::Repetition::collective (docs/RESULTS.md)
  stats::Histogram latency;   // per-operation times, ns, the maximum over ranks per operation
  std::uint64_t elapsed_ns = 0;
  std::uint64_t ops = 0;
  nlohmann::json regime;  // realistic: its figures; null otherwise
  // realistic with interval_ns: rank 0's completions per bin of its timed phase as bus bytes
  // (collectives x size x bus factor, so bytes per bin / bin length is busbw), and that phase's
  // start on rank 0 (core::now_ns()).
  std::vector<stats::IntervalPoint> intervals;
  std::uint64_t measure_start_ns = 0;
  // Non-empty when the check found wrong elements: the first mismatch, with its rank.
  std::string failure;
};

class CollectiveWorkload {
 public:
  virtual ~CollectiveWorkload() = default;
  // Why this case cannot run on `comm` (a type or op the backend lacks), or nullopt.
  virtual std::optional<std::string> unsupported(const transport::Communicator& comm,
                                                 const CollectiveParams& p) const = 0;
  // Bytes of each of the two buffers the engine allocates from the backend's memory provider.
  virtual std::uint64_t buffer_bytes(const CollectiveParams& p, int ranks) const = 0;
  // One repetition on this rank: this rank's figures as JSON. Throws core::Error on a backend
  // error, a lost or stalled peer (from the guard), or an interrupt.
  virtual nlohmann::json run(transport::Communicator& comm, const CollectiveParams& p,
                             transport::Buffer send, transport::Buffer recv,
                             ProgressGuard& guard) = 0;
  virtual CollectiveMerged merge(const CollectiveParams& p,
                                 const std::vector<nlohmann::json>& per_rank) const = 0;
};

}  // namespace fabricbench::suites
