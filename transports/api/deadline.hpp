#pragma once
// Deadlines on the clock of core::now_ns() (internal to transports/).
#include <cstdint>
#include <limits>

#include "core/clock.hpp"

namespace fabricbench::transport {

// start + timeout_ns, or the largest value when that does not fit (such a deadline never passes).
inline std::uint64_t saturating_deadline(std::uint64_t start, std::uint64_t timeout_ns) noexcept {
  return timeout_ns > std::numeric_limits<std::uint64_t>::max() - start
             ? std::numeric_limits<std::uint64_t>::max()
             : start + timeout_ns;
}

// now + timeout_ns, saturating as above.
inline std::uint64_t deadline_after(std::uint64_t timeout_ns) noexcept {
  return saturating_deadline(core::now_ns(), timeout_ns);
}

}  // namespace fabricbench::transport
