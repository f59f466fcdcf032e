#pragma once
// Workloads: which operations a case issues between a pair of ranks, and what each rank
// measures. The engine sets up transport, endpoints and memory, then calls run() once per
// repetition on every rank of the pair; it gathers every rank's RankResult and merges them.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/stats/histogram.hpp"
#include "core/stats/interval_series.hpp"
#include "transports/api/transport.hpp"

namespace fabricbench::suites {

// The resolved parameters a workload needs (filled by the engine from the experiment's case).
struct Params {
  // send and write_imm are two-sided (the peer posts receives and sees completions); write,
  // read and the atomics are one-sided (the peer's CPU takes no part).
  transport::Op op = transport::Op::send;
  std::uint64_t message_size = 0;
  bool duration_mode = false;
  std::uint64_t iterations = 0;
  std::uint64_t duration_ns = 0;
  std::uint64_t warmup_iterations = 0;
  std::uint64_t warmup_ns = 0;
  bool bidirectional = false;   // stream
  int window = 1;               // stream: messages in flight per endpoint
  bool shared_buffers = false;  // stream: every message of an endpoint uses its first slot
  int cq_moderation = 1;        // stream senders: request a completion for one op in N
  std::uint64_t interval_ns = 100'000'000;
  bool verify = false;
  transport::CompletionMode completion = transport::CompletionMode::busy_poll;
  std::uint64_t peer_timeout_ns = 30'000'000'000;  // no completion for this long -> error
};

// The buffers the engine allocated and registered for this rank.
struct Memory {
  // send_slots() * message_size bytes per endpoint, endpoint-major (slot s of endpoint e at
  // offset (e * send_slots + s) * message_size); recv likewise with recv_slots().
  transport::MemoryRegion send;
  transport::MemoryRegion recv;
};

struct Context {
  const Params& params;
  int rank = 0;
  int peer = 0;
  bool initiator = false;                         // the lower rank of the pair
  std::vector<transport::Endpoint*> endpoints{};  // to `peer`, connections_per_peer of them
  Memory memory{};
  // The peer's registered regions, for one-sided operations (same layout as `memory`).
  transport::RemoteRegion peer_send{};
  transport::RemoteRegion peer_recv{};
  const std::atomic<bool>* stop_requested = nullptr;  // set on SIGINT/SIGTERM
};

inline bool is_two_sided(transport::Op op) noexcept {
  return op == transport::Op::send || op == transport::Op::write_imm;
}
inline bool is_atomic(transport::Op op) noexcept {
  return op == transport::Op::fetch_add || op == transport::Op::compare_swap;
}

// What one rank measured in one repetition.
struct RankResult {
  bool measured = false;  // this rank's figures count (pingpong: initiator; stream: receivers)
  std::uint64_t elapsed_ns = 0;                 // measured phase
  std::uint64_t bytes = 0;                      // payload bytes counted
  std::uint64_t ops = 0;                        // messages or round trips counted
  stats::Histogram latency;                     // per-op latency (pingpong: RTT/2), empty if none
  std::vector<stats::IntervalPoint> intervals;  // duration mode
  // core::now_ns() at the origin of `intervals` (the measured phase's start as this rank saw
  // it; 0 when unknown): fault timelines are placed on the curve with it.
  std::uint64_t measure_start_ns = 0;
  // Filled by the engine, not the workload: a multi-rail transport's traffic per rail during the
  // repetition (transport::RailTrafficSource); empty otherwise.
  std::vector<transport::RailTraffic> rails;
};

// One instance per case on each rank; run() is called once per repetition, so a workload may
// keep per-endpoint state (e.g. receives still posted) from one repetition to the next.
class Workload {
 public:
  virtual ~Workload() = default;
  virtual std::string name() const = 0;
  // Buffer slots per endpoint the engine must provide (message_size bytes each).
  virtual int send_slots(const Params& params) const = 0;
  virtual int recv_slots(const Params& params) const = 0;
  // One repetition. Throws core::Error on a transport failure, a lost peer (no completion within
  // peer_timeout_ns), a data-integrity failure, or an interrupt.
  virtual RankResult run(Context& context) = 0;
  // Why this workload cannot run on memory with these traits (a loop that polls the buffer with
  // the CPU cannot poll GPU memory), or nullopt.
  virtual std::optional<std::string> unsupported(const Params& /*params*/,
                                                 const transport::MemoryTraits& /*memory*/) const {
    return std::nullopt;
  }
};

}  // namespace fabricbench::suites
