#pragma once
// The single clock of the measurement loop: CLOCK_MONOTONIC through the vDSO.
#include <cstdint>
#include <ctime>

namespace fabricbench::core {

inline std::uint64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// Wall-clock time for run documents (RFC 3339, UTC), not for measurement.
std::uint64_t wall_clock_ns() noexcept;

}  // namespace fabricbench::core
