#pragma once
// One collective case on every rank (a suite with make_collective over a backend of the
// registry's collective table): set up, agree whether it can run, create the communicator,
// run the repetitions under a ProgressWatch, gather, merge and record (rank 0).
#include <cstddef>

#include "harness/engine/case_run.hpp"

namespace fabricbench::engine {

// True when case `index` is a collective case (its suite makes CollectiveWorkloads).
bool is_collective_case(const RunState& run, std::size_t index);
// Runs it; false when the run must stop after it (a failure).
bool run_collective_case(RunState& run, std::size_t index);

}  // namespace fabricbench::engine
