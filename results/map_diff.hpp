#pragma once
// `fabricbench diff` for two all-pairs maps (summary.map of a pattern all_pairs case), pair by
// pair. Pairs are matched by their hosts' names, not by rank, so a map whose ranks were placed
// differently still compares. One map per side holds one figure per pair (the median of its
// repetitions), too few for a U test: a pair is decided by the maps' verdicts, which retested
// every suspect against known-good partners. A pair NEW names bad (a bad link, or an endpoint on a
// bad node) and BASE did not is regressed; the reverse is improved; anything else is unchanged,
// with its relative change and a warning where it moved beyond the threshold unconfirmed.
#include <vector>

#include <nlohmann/json.hpp>

#include "results/diff.hpp"

namespace fabricbench::results::diff {

// One MetricDiff per pair present in both maps, named "map[hostA,hostB]" (hosts sorted), with the
// map's direction (bandwidth: higher is better; latency: lower). Empty when the maps measure
// different metrics, or when either is not an all_pairs map (incast and shift are directed).
std::vector<MetricDiff> compare_maps(const nlohmann::json& base_map, const nlohmann::json& new_map,
                                     const Options& options);

}  // namespace fabricbench::results::diff
