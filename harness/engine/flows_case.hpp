#pragma once
// A case with `pattern: incast` or `pattern: shift` (harness/pattern/flows.hpp): steps of directed
// flows that run at the same time, every ordered pair of ranks a flow once per repetition. In
// each step every rank connects to the peers of its flows (`connections` per peer; in a step with
// flows both ways between two ranks, 2 x connections per peer: flow s -> r takes the first half
// when s < r and the second half otherwise), gives each flow its own slice of the buffers and a
// fresh workload, and runs all its flows at once, one thread per flow; rank 0 merges each flow
// from its sender's and its receiver's results. Each flow's figure, each step's aggregate and the
// directed N x N matrix go to the case's summary (`summary.map`); nothing is judged and the exit
// code is not changed.
#include <cstddef>

#include "harness/engine/case_run.hpp"

namespace fabricbench::engine {

bool is_flows_case(const RunState& run, std::size_t index);
// Runs it on every rank; false when the run must stop (a failure).
bool run_flows_case(RunState& run, std::size_t index);

}  // namespace fabricbench::engine
