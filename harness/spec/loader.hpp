#pragma once
// Loading experiment files. Errors name file, line, column and field, with the closest valid
// key where there is one ("did you mean 'repetitions'?"). All errors are collected, not only
// the first.
#include <string>
#include <vector>

#include "harness/spec/experiment.hpp"

namespace fabricbench::spec {

struct Diagnostic {
  std::string file;  // path, or "--set" for an override
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based; 0 when unknown
  std::string field;    // dotted path, e.g. "cases[1].tcp.sndbuf"
  std::string message;  // e.g. "expected a size such as 4KiB, got 'lots'"
  std::string to_string() const;  // "quick.yaml:12:7: cases[1].tcp.sndbuf: expected ..."
};

// Thrown by load_* when the file is invalid. what() is all diagnostics, one per line.
// Its kind is core::ErrorKind::config.
class ConfigError;

// Parse, apply `overrides` ("key.path=value", value parsed as YAML), validate and expand.
// Throws ConfigError (derived from core::Error, kind config) carrying every diagnostic.
Experiment load_experiment_file(const std::string& path,
                                const std::vector<std::string>& overrides = {});
Experiment load_experiment_text(const std::string& text, const std::string& display_path,
                                const std::vector<std::string>& overrides = {});

}  // namespace fabricbench::spec
