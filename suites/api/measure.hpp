#pragma once
// The measurement loop's shared pieces: the one place workloads read the clock, wait for
// completions under a watchdog, stamp and check data patterns, and honour interrupts.
// Transports never read a clock for measurement.
#include <algorithm>
#include <cstdint>
#include <span>

#include "core/clock.hpp"
#include "suites/api/workload.hpp"

namespace fabricbench::suites {

// Tag bits carried in WorkRequest::imm / Completion::imm by the workloads.
inline constexpr std::uint32_t kTagLast = 1u << 0;    // last message of this endpoint
inline constexpr std::uint32_t kTagWarmup = 1u << 1;  // warm-up message: not counted
// Keep-alive from the active side of a one-sided workload, so the passive side (whose CPU sees
// no completions) can still tell a live peer from a lost one.
inline constexpr std::uint32_t kTagHeartbeat = 1u << 2;

// Collects completions from a set of endpoints honouring the completion mode, a watchdog and
// the interrupt flag.
class Completer {
 public:
  explicit Completer(const Context& context);
  // Returns completions from endpoint `index` (busy: poll; blocking: wait). Throws
  // core::Error(timeout) naming the peer if nothing completes within peer_timeout_ns, and
  // core::Error(runtime, "interrupted") when stop is requested (checked also while completions
  // flow: a relaxed load per return).
  std::size_t next(std::size_t index, std::span<transport::Completion> out);
  // Any endpoint: polls all (busy), or waits on each in turn for a short slice (blocking).
  // `which` receives the endpoint index of the completions returned.
  std::size_t next_any(std::span<transport::Completion> out, std::size_t* which);
  // For a rank with nothing to measure (the passive side of a one-sided workload): polls, and
  // sleeps 10 ms between empty polls whatever the completion mode, leaving the CPU to the
  // fabric's own work (a software RDMA device such as rxe runs on the host's CPU; perftest's
  // passive side sleeps too).
  std::size_t next_relaxed(std::size_t index, std::span<transport::Completion> out);
  // For loops that wait on memory rather than on completions (RDMA write ping-pong): call once
  // per empty spin; applies the same watchdog and interrupt checks. progress() resets it.
  void idle();
  void progress() noexcept { last_progress_ns_ = 0; }

 private:
  void check(std::uint64_t now);
  void check_stop() const;  // throws "interrupted" once Context::stop_requested is set
  const Context& context_;
  std::uint64_t last_progress_ns_;
  std::size_t cursor_ = 0;
  std::uint32_t spins_ = 0;
};

// Posts; the workloads keep within the endpoint queue depth, so a refused post is an error.
void post_or_throw(transport::Endpoint& endpoint, const transport::WorkRequest& request);

// Builds the request for `op` on slot bytes [offset, offset + length) of the local region, aimed
// at the same offset of the peer's region: the peer's receive region for send/write/write_imm,
// its send region for read and atomics (8 bytes).
transport::WorkRequest make_request(const Context& context, transport::Op op, std::size_t offset,
                                    std::size_t length, std::uint32_t tag, bool signaled);

// The passive side of a one-sided workload: keeps one zero-byte receive posted on endpoint 0
// and waits (relaxed, see Completer::next_relaxed) until a message tagged kTagLast arrives;
// heartbeats in between prove the active side is alive.
void await_last_message(const Context& context, Completer& completer);

// The whole run of the passive side of a one-sided workload (await_last_message): it measures
// nothing.
RankResult run_passive(const Context& context);

// How often the active side of a one-sided workload sends a heartbeat: a quarter of the peer
// timeout, and at least once a second.
inline std::uint64_t heartbeat_interval_ns(const Params& params) noexcept {
  return std::min<std::uint64_t>(1'000'000'000, params.peer_timeout_ns / 4);
}

// A zero-byte send carrying only `tag` (heartbeat or last-message flag of one-sided workloads),
// with wr_id ~0.
transport::WorkRequest control_request(const Context& context, std::uint32_t tag, bool signaled);
// Posts control_request(context, tag, signaled) on `endpoint` (post_or_throw).
void post_control(const Context& context, std::size_t endpoint, std::uint32_t tag, bool signaled);

// Data pattern: the first 8 bytes hold the message sequence number, the rest a byte pattern
// derived from it. verify_pattern throws core::Error(runtime) naming the first bad offset.
void stamp_pattern(void* data, std::size_t length, std::uint64_t sequence) noexcept;
void verify_pattern(const void* data, std::size_t length, std::uint64_t sequence, int peer);
// The same on [offset, offset + length) of a buffer, through its memory provider where the CPU
// cannot address it (GPU memory is stamped on the host and copied over, copied back to be
// checked).
void stamp_pattern(const transport::Buffer& buffer, std::size_t offset, std::size_t length,
                   std::uint64_t sequence);
void verify_pattern(const transport::Buffer& buffer, std::size_t offset, std::size_t length,
                    std::uint64_t sequence, int peer);

}  // namespace fabricbench::suites
