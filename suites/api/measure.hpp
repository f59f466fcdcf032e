#pragma once
// The measurement loop's shared pieces: the one place workloads read the clock, wait for
// completions under a watchdog, stamp and check data patterns, and honour interrupts.
// Transports never read a clock for measurement.
#include <cstdint>
#include <span>

#include "harness/core/clock.hpp"
#include "suites/api/workload.hpp"

namespace fabricbench::suites {

// Tag bits carried in WorkRequest::imm / Completion::imm by the workloads.
inline constexpr std::uint32_t kTagLast = 1u << 0;    // last message of this endpoint
inline constexpr std::uint32_t kTagWarmup = 1u << 1;  // warm-up message: not counted

// Collects completions from a set of endpoints honouring the completion mode, a watchdog and
// the interrupt flag.
class Completer {
 public:
  explicit Completer(const Context& context);
  // Returns completions from endpoint `index` (busy: poll; blocking: wait). Throws
  // core::Error(timeout) naming the peer if nothing completes within peer_timeout_ns, and
  // core::Error(runtime, "interrupted") when stop is requested.
  std::size_t next(std::size_t index, std::span<transport::Completion> out);
  // Any endpoint: polls all (busy), or waits on each in turn for a short slice (blocking).
  // `which` receives the endpoint index of the completions returned.
  std::size_t next_any(std::span<transport::Completion> out, std::size_t* which);

 private:
  void check(std::uint64_t now);
  const Context& context_;
  std::uint64_t last_progress_ns_;
  std::size_t cursor_ = 0;
  std::uint32_t spins_ = 0;
};

// Posts; the workloads keep within the endpoint queue depth, so a refused post is an error.
void post_or_throw(transport::Endpoint& endpoint, const transport::WorkRequest& request);

// Data pattern: the first 8 bytes hold the message sequence number, the rest a byte pattern
// derived from it. verify_pattern throws core::Error(runtime) naming the first bad offset.
void stamp_pattern(void* data, std::size_t length, std::uint64_t sequence) noexcept;
void verify_pattern(const void* data, std::size_t length, std::uint64_t sequence, int peer);

}  // namespace fabricbench::suites
