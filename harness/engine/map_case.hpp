#pragma once
// A case with `pattern: all_pairs`: every pair of ranks measured in rounds of disjoint pairs
// (harness/pattern's circle method), one pair per rank at a time; rank 0 judges the map against
// the best pair (the case's `map:` thresholds), every rank retests the suspects in extra rounds
// against known-good partners, and rank 0 classifies them (bad node, bad link, noise). The map,
// the retests and the verdict go to the case's summary (`summary.map`); a bad node or link makes
// the run's exit code ExitCode::map_found_bad.
#include <cstddef>

#include "harness/engine/case_run.hpp"

namespace fabricbench::engine {

// True for every `pattern:` but pairs: all_pairs here, incast and shift handed on to
// flows_case.hpp by run_map_case (case_run.cpp dispatches on this alone).
bool is_map_case(const RunState& run, std::size_t index);
// Runs it on every rank; false when the run must stop (a failure).
bool run_map_case(RunState& run, std::size_t index);

}  // namespace fabricbench::engine
