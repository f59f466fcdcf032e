#pragma once
// What the cases of a `pattern:` other than pairs share (map_case.cpp: all_pairs; flows_case.cpp:
// incast and shift): the nodes' labels, a pair's or flow's figure in the map's unit, and the end
// of the case on every rank (the transport's events and the memory facts to rank 0).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/engine/case_run.hpp"
#include "harness/engine/case_setup.hpp"
#include "results/run_document.hpp"

namespace fabricbench::engine {

// Rank 0: each rank's label, its host name ("rank N" when unknown).
std::vector<std::string> node_names(const RunState& run);
// Rank 0: [{rank, host}, ...], the labels of a map's rows and columns.
nlohmann::json nodes_json(const RunState& run);

// A merged pair's or flow's figure in the map's unit: GB/s (1e9 bytes/s, perftest's and
// nccl-tests' unit; stream, counted by the receiver) or the median half round trip in us
// (ping-pong); NaN when the repetition has none.
double pattern_figure(const results::Repetition& rep, bool bandwidth);

// A finite number, else null.
nlohmann::json number_or_null(double x);

// Every rank: the transport's events and this rank's memory facts to rank 0, which adds them to
// the run document (events) and to `result` (memory).
void gather_case_facts(RunState& run, const spec::Case& c, CaseSetup& setup,
                       results::CaseResult& result);

}  // namespace fabricbench::engine
