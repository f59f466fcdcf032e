#pragma once
// What each rank measured in one repetition travels to rank 0 as JSON and is merged there into
// the repetition of the run document.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/run_document.hpp"
#include "suites/api/workload.hpp"

namespace fabricbench::engine {

// One rank's result with its fault record (null without a fault on this rank).
std::string serialize(const suites::RankResult& r, const nlohmann::json& fault_record);

// Merges every rank's serialized result into one repetition (rank 0): the measured ranks' bytes
// and ops add up, their latency histograms merge, and `bandwidth` figures are derived.
results::Repetition merge(int index, const std::vector<std::string>& per_rank, bool bandwidth);

}  // namespace fabricbench::engine
