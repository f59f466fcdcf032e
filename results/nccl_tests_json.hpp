#pragma once
// `fabricbench export --format nccl-tests`: a run's collective cases as the JSON document that
// nccl-tests writes with `-J file.json` (format version 3, nccl-tests 2.19; docs/RESULTS.md
// "nccl-tests JSON"). Same keys, nesting, units and key order; one result row per case (its
// size), with the out-of-place and in-place figures; facts fabricbench does not know are null,
// as nccl-tests writes absent values.
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/run_document.hpp"

namespace fabricbench::results::nccl_tests {

inline constexpr int kFormatVersion = 3;

// Which cases to export: empty fields match every collective / backend.
struct Selection {
  std::string collective;
  std::string backend;
};

// The (collective, backend) pairs of the run's ok collective cases, in first-seen order.
std::vector<std::pair<std::string, std::string>> groups(const RunDocument& doc);

// The nccl-tests document of the selected cases (one nccl-tests run is one collective on one
// backend). Throws core::Error(config) when the run has no ok collective case, when the selection
// matches none, or when it matches several (collective, backend) groups (naming them).
nlohmann::ordered_json to_json(const RunDocument& doc, const Selection& selection = {});

// to_json, indented, with a final newline.
std::string render(const RunDocument& doc, const Selection& selection = {});

// nccl-tests' name of a data type ("float32" -> "float", "float16" -> "half", "float64" ->
// "double"; others as they are).
std::string type_name(const std::string& type);

}  // namespace fabricbench::results::nccl_tests
