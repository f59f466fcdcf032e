#pragma once
// Loading experiment files. Errors name file, line, column and field, with the closest valid
// key where there is one ("did you mean 'repetitions'?"). All errors are collected, not only
// the first. Schema v1 is documented key by key in docs/CONFIG.md; the keys of each transport
// and suite come from the catalog (harness/spec/catalog.hpp), which the engine's registry makes.
#include <string>
#include <vector>

#include "core/error.hpp"
#include "harness/spec/catalog.hpp"
#include "harness/spec/diagnostics.hpp"
#include "harness/spec/experiment.hpp"

namespace fabricbench::spec {

// Parse, apply `overrides` ("key.path=value", value parsed as YAML), validate and expand.
// Throws ConfigError (derived from core::Error, kind config) carrying every diagnostic.
Experiment load_experiment_file(const std::string& path, const Catalog& catalog,
                                const std::vector<std::string>& overrides = {});
Experiment load_experiment_text(const std::string& text, const std::string& display_path,
                                const Catalog& catalog,
                                const std::vector<std::string>& overrides = {});

}  // namespace fabricbench::spec
