#pragma once
// Loading experiment files. Errors name file, line, column and field, with the closest valid
// key where there is one ("did you mean 'repetitions'?"). All errors are collected, not only
// the first. Schema v1 is documented key by key in docs/CONFIG.md.
#include <string>
#include <vector>

#include "core/error.hpp"
#include "harness/spec/experiment.hpp"

namespace fabricbench::spec {

struct Diagnostic {
  std::string file;     // path, or "--set" for an override
  int line = 0;         // 1-based; 0 when unknown
  int column = 0;       // 1-based; 0 when unknown
  std::string field;    // dotted path, e.g. "cases[1].tcp.sndbuf"
  std::string message;  // e.g. "expected a size such as 4KiB, got 'lots'"
  // "quick.yaml:12:7: cases[1].tcp.sndbuf: expected ...". Line and column are left out when 0,
  // the field when empty: "missing.yaml: cannot read the file: No such file or directory".
  std::string to_string() const;
};

// Thrown by load_* when the file is invalid. what() is all diagnostics, one per line.
// Its kind is core::ErrorKind::config (exit code 2).
class ConfigError : public core::Error {
 public:
  explicit ConfigError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

// Parse, apply `overrides` ("key.path=value", value parsed as YAML), validate and expand.
// Throws ConfigError (derived from core::Error, kind config) carrying every diagnostic.
Experiment load_experiment_file(const std::string& path,
                                const std::vector<std::string>& overrides = {});
Experiment load_experiment_text(const std::string& text, const std::string& display_path,
                                const std::vector<std::string>& overrides = {});

}  // namespace fabricbench::spec
