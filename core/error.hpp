#pragma once
// The one error type of the library. The CLI maps kinds to exit codes; the library never prints.
#include <stdexcept>
#include <string>

namespace fabricbench::core {

// Documented process exit codes (README, `fabricbench --help`).
enum class ExitCode : int {
  ok = 0,             // everything ran
  run_failed = 1,     // a case failed at run time (peer lost, transport error, timeout)
  usage = 2,          // bad command line or bad experiment file; nothing was measured
  regression = 3,     // `fabricbench diff` found a regression
  map_found_bad = 4,  // a `pattern: all_pairs` map named a bad node or a bad link
};

enum class ErrorKind {
  config,       // experiment file or --set value is wrong (exit 2)
  usage,        // command line is wrong (exit 2)
  unavailable,  // a transport/launcher/device cannot run here (exit 1, with the reason)
  runtime,      // failure while running (exit 1)
  peer_lost,    // a rank died or stopped answering (exit 1)
  timeout,      // a bounded wait expired (exit 1)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

inline ExitCode exit_code_for(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::config:
    case ErrorKind::usage:
      return ExitCode::usage;
    default:
      return ExitCode::run_failed;
  }
}

}  // namespace fabricbench::core
