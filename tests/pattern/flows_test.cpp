// shift_steps and incast_steps for n = 2..33 (odd and even), the flows each rank takes part in and
// their slots, and check_steps on broken plans.
#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "harness/pattern/flows.hpp"

namespace {

using namespace fabricbench::pattern;

// Counts every ordered pair over all steps (independently of check_steps): each (a, b), a != b,
// exactly once, and no flow from a rank to itself.
void expect_every_ordered_pair_once(int n, const std::vector<Step>& steps) {
  std::map<std::pair<int, int>, int> count;
  for (const Step& step : steps) {
    for (const Flow& f : step) {
      ASSERT_NE(f.from, f.to);
      ASSERT_GE(f.from, 0);
      ASSERT_LT(f.to, n);
      ++count[{f.from, f.to}];
    }
  }
  EXPECT_EQ(count.size(), static_cast<std::size_t>(n) * static_cast<std::size_t>(n - 1));
  for (const auto& [pair, times] : count) {
    EXPECT_EQ(times, 1) << pair.first << " -> " << pair.second;
  }
  EXPECT_EQ(check_steps(n, steps), "");
}

// Both ends of every flow agree on it: it is in each end's flow list, at the slot slot_of gives.
void expect_slots_agree(const std::vector<Step>& steps, int n) {
  for (const Step& step : steps) {
    for (const Flow& f : step) {
      for (const int rank : {f.from, f.to}) {
        const auto mine = flows_of(step, rank);
        const int slot = slot_of(step, rank, f);
        ASSERT_GE(slot, 0);
        ASSERT_LT(static_cast<std::size_t>(slot), mine.size());
        EXPECT_EQ(mine[static_cast<std::size_t>(slot)], f);
      }
    }
    for (int r = 0; r < n; ++r) {
      for (const Flow& f : flows_of(step, r)) EXPECT_TRUE(f.from == r || f.to == r);
    }
    const auto slots = flow_slots(step, n);
    ASSERT_EQ(slots.size(), step.size());
    for (std::size_t i = 0; i < step.size(); ++i) {
      EXPECT_EQ(slots[i].at_sender, slot_of(step, step[i].from, step[i]));
      EXPECT_EQ(slots[i].at_receiver, slot_of(step, step[i].to, step[i]));
    }
  }
}

TEST(ShiftSteps, EveryOrderedPairOnceForNFrom2To33) {
  for (int n = 2; n <= 33; ++n) {
    SCOPED_TRACE("n = " + std::to_string(n));
    const auto steps = shift_steps(n);
    ASSERT_EQ(steps.size(), static_cast<std::size_t>(n - 1));
    expect_every_ordered_pair_once(n, steps);
    expect_slots_agree(steps, n);
    // Each rank sends once and receives once in every step.
    EXPECT_EQ(max_flows_per_rank(steps, n), 2);
    for (std::size_t s = 0; s < steps.size(); ++s) {
      const int k = static_cast<int>(s) + 1;
      ASSERT_EQ(steps[s].size(), static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) {
        EXPECT_EQ(steps[s][static_cast<std::size_t>(i)], (Flow{i, (i + k) % n}));
      }
    }
  }
}

TEST(IncastSteps, EveryOrderedPairOnceForNFrom2To33) {
  for (int n = 2; n <= 33; ++n) {
    SCOPED_TRACE("n = " + std::to_string(n));
    const auto steps = incast_steps(n);
    ASSERT_EQ(steps.size(), static_cast<std::size_t>(n));
    expect_every_ordered_pair_once(n, steps);
    expect_slots_agree(steps, n);
    EXPECT_EQ(max_flows_per_rank(steps, n), n - 1);  // the target
    for (int t = 0; t < n; ++t) {
      const Step& step = steps[static_cast<std::size_t>(t)];
      ASSERT_EQ(step.size(), static_cast<std::size_t>(n - 1));
      for (const Flow& f : step) EXPECT_EQ(f.to, t);
      EXPECT_EQ(flows_of(step, t).size(), static_cast<std::size_t>(n - 1));
    }
  }
}

TEST(ShiftSteps, SmallCasesAreExact) {
  EXPECT_EQ(shift_steps(2), (std::vector<Step>{{{0, 1}, {1, 0}}}));
  EXPECT_EQ(shift_steps(3),
            (std::vector<Step>{{{0, 1}, {1, 2}, {2, 0}}, {{0, 2}, {1, 0}, {2, 1}}}));
  // n = 4, k = 2: ranks 0 and 2 send to each other in the same step; each has both flows, the
  // one it sends first (step order).
  const auto four = shift_steps(4);
  EXPECT_EQ(flows_of(four[1], 0), (std::vector<Flow>{{0, 2}, {2, 0}}));
  EXPECT_EQ(flows_of(four[1], 2), (std::vector<Flow>{{0, 2}, {2, 0}}));
  EXPECT_EQ(slot_of(four[1], 2, {2, 0}), 1);
  EXPECT_EQ(slot_of(four[1], 1, {2, 0}), -1);
}

TEST(FlowSteps, BothWaysOnlyInTheHalfShift) {
  for (int n = 2; n <= 12; ++n) {
    const auto shift = shift_steps(n);
    for (std::size_t s = 0; s < shift.size(); ++s) {
      EXPECT_EQ(both_ways(shift[s]), 2 * (static_cast<int>(s) + 1) == n) << n << " " << s;
    }
    for (const Step& step : incast_steps(n)) EXPECT_FALSE(both_ways(step)) << n;
  }
  EXPECT_TRUE(both_ways({{3, 1}, {0, 2}, {1, 3}}));
  EXPECT_FALSE(both_ways({}));
}

TEST(IncastSteps, SmallCasesAreExact) {
  EXPECT_EQ(incast_steps(2), (std::vector<Step>{{{1, 0}}, {{0, 1}}}));
  EXPECT_EQ(incast_steps(3),
            (std::vector<Step>{{{1, 0}, {2, 0}}, {{0, 1}, {2, 1}}, {{0, 2}, {1, 2}}}));
  const auto four = incast_steps(4);
  EXPECT_EQ(flows_of(four[2], 3), (std::vector<Flow>{{3, 2}}));
  EXPECT_EQ(slot_of(four[2], 2, {3, 2}), 2);
}

TEST(FlowSteps, TooFewRanksThrow) {
  EXPECT_THROW(shift_steps(1), std::invalid_argument);
  EXPECT_THROW(incast_steps(0), std::invalid_argument);
  EXPECT_EQ(max_flows_per_rank({}, 4), 0);
  EXPECT_THROW(flow_slots({{0, 4}}, 4), std::out_of_range);
  EXPECT_THROW(shift_step(4, 0), std::invalid_argument);
  EXPECT_THROW(shift_step(4, 4), std::invalid_argument);
  EXPECT_THROW(incast_step(4, -1), std::invalid_argument);
  EXPECT_THROW(incast_step(4, 4), std::invalid_argument);
  EXPECT_EQ(shift_step(5, 3), shift_steps(5)[2]);
  EXPECT_EQ(incast_step(5, 3), incast_steps(5)[3]);
}

TEST(CheckSteps, NamesTheFirstProblem) {
  EXPECT_EQ(check_steps(3, {{{0, 1}, {1, 1}}}), "step 0: flow 1 -> 1 is not 0 <= from != to < 3");
  EXPECT_EQ(check_steps(3, {{{0, 3}}}), "step 0: flow 0 -> 3 is not 0 <= from != to < 3");
  EXPECT_EQ(check_steps(2, {{{0, 1}}, {{1, 0}, {0, 1}}}),
            "step 1: flow 0 -> 1 again (first in step 0)");
  EXPECT_EQ(check_steps(2, {{{0, 1}, {0, 1}}}), "step 0: flow 0 -> 1 again (first in step 0)");
  EXPECT_EQ(check_steps(3, {{{0, 1}, {1, 0}, {0, 2}, {2, 0}, {1, 2}}}), "flow 2 -> 1 in no step");
  // A plan with one flow missing from a real one.
  auto steps = incast_steps(5);
  steps[3].pop_back();
  EXPECT_EQ(check_steps(5, steps), "flow 4 -> 3 in no step");
  EXPECT_EQ(check_steps(-1, {}), "n = -1 is negative");
  EXPECT_EQ(check_steps(1, {}), "");
}

}  // namespace
