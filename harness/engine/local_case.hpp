#pragma once
// One local case on every rank (a suite with make_local: each rank alone, no transport, no
// communicator; suites/api/local.hpp): prepare, agree whether it can run (skipped everywhere
// when a rank cannot), run the repetitions (a barrier, then each rank alone), gather, merge and
// record (rank 0).
#include <cstddef>

#include "harness/engine/case_run.hpp"

namespace fabricbench::engine {

// True when case `index` is a local case (its suite makes LocalWorkloads).
bool is_local_case(const RunState& run, std::size_t index);
// Runs it; false when the run must stop after it (a failure).
bool run_local_case(RunState& run, std::size_t index);

}  // namespace fabricbench::engine
