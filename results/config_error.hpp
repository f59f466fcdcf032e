#pragma once
// Internal to fb_results: bad input (a run or baseline document, a thresholds file, a history
// database) is a core::Error of kind config (exit 2).
#include <string>

#include "core/error.hpp"

namespace fabricbench::results::detail {

[[noreturn]] inline void config_error(const std::string& message) {
  throw core::Error(core::ErrorKind::config, message);
}

}  // namespace fabricbench::results::detail
