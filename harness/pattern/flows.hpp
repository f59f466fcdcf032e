#pragma once
// Patterns of directed flows for the bandwidth a fabric gives many transfers at once (`pattern:
// incast` and `pattern: shift`). A flow is one sender streaming to one receiver; a step is a set of
// flows that run at the same time. Pure functions: no clock, no I/O (the engine measures, this
// folder plans).
//
//  - shift_steps(n): for k = 1..n-1 one step in which every rank i sends to (i + k) mod n: each
//    rank sends once and receives once, so a step loads every node's link in both directions, and
//    the steps over all k cross every cut of the fabric (bisection bandwidth, as the shift
//    patterns of MPI's and NCCL's fabric tests).
//  - incast_steps(n): for each target t = 0..n-1 one step in which every other rank sends to t
//    (many to one): the target's receive side, and the switch port before it, carry n-1 flows.
//
// Across all steps of either pattern every ordered pair (a, b), a != b, is a flow exactly once,
// so the flow figures fill the directed n x n matrix.
#include <string>
#include <vector>

namespace fabricbench::pattern {

struct Flow {
  int from = 0;  // the sender
  int to = 0;    // the receiver
};
bool operator==(const Flow& x, const Flow& y);

// The flows that run at the same time.
using Step = std::vector<Flow>;

// n - 1 steps; step k - 1 holds i -> (i + k) mod n for i = 0..n-1 in order. Throws
// std::invalid_argument for n < 2.
std::vector<Step> shift_steps(int n);
// n steps; step t holds i -> t for every i != t in increasing i. Throws std::invalid_argument for
// n < 2.
std::vector<Step> incast_steps(int n);
// One step of each, without the others (at n = 4096 all steps are 16.8 million flows): shift by k
// (1 <= k < n), incast into t (0 <= t < n). Throw std::invalid_argument for n < 2 or k, t out of
// range.
Step shift_step(int n, int k);
Step incast_step(int n, int t);

// The flows of `step` that `rank` sends or receives, in the step's order. A flow's position in
// this list is its slot on that rank (both ends of a flow compute the other's slot from the step).
std::vector<Flow> flows_of(const Step& step, int rank);
// The position of `flow` in flows_of(step, rank); -1 when rank is not in it.
int slot_of(const Step& step, int rank, const Flow& flow);
// Each flow's slot at its sender and at its receiver, in the step's order (slot_of for every flow
// at once, in one pass). Throws std::out_of_range for a rank outside [0, n).
struct FlowSlots {
  int at_sender = 0;
  int at_receiver = 0;
};
std::vector<FlowSlots> flow_slots(const Step& step, int n);
// True when some pair of ranks has flows both ways in `step` (shift by n/2 for even n).
bool both_ways(const Step& step);
// The most flows any rank takes part in within one step (0 for no steps).
int max_flows_per_rank(const std::vector<Step>& steps, int n);

// "" when every flow is valid (0 <= from, to < n, from != to), no flow occurs twice in a step and
// every ordered pair is a flow exactly once across the steps; otherwise the first problem in
// words, steps counted from 0: "step 2: flow 3 -> 3 is not 0 <= from != to < 4", "step 4: flow
// 1 -> 2 again (first in step 0)", "flow 2 -> 0 in no step".
std::string check_steps(int n, const std::vector<Step>& steps);

}  // namespace fabricbench::pattern
