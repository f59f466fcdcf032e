// Matrix, judge and plan_retests on synthetic maps (seeded jitter, no clock).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <vector>

#include "harness/pattern/pattern.hpp"
#include "synthetic.hpp"

namespace {

using namespace fabricbench::pattern;
using namespace fabricbench::pattern::synth;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(Matrix, SymmetricWithANaNDiagonal) {
  Matrix m(4);
  EXPECT_EQ(m.size(), 4);
  for (int a = 0; a < 4; ++a) {
    for (int b = 0; b < 4; ++b) {
      EXPECT_TRUE(std::isnan(m.at(a, b)));
      EXPECT_FALSE(m.measured(a, b));
    }
  }
  m.set(3, 1, 2.5);
  EXPECT_EQ(m.at(1, 3), 2.5);
  EXPECT_EQ(m.at(3, 1), 2.5);
  EXPECT_TRUE(m.measured(1, 3));
  EXPECT_FALSE(m.measured(1, 2));
  m.set(1, 3, kNaN);  // unset
  EXPECT_FALSE(m.measured(3, 1));
  EXPECT_TRUE(std::isnan(m.at(2, 2)));
  EXPECT_THROW(m.set(2, 2, 1.0), std::invalid_argument);
  EXPECT_THROW(m.set(0, 4, 1.0), std::out_of_range);
  EXPECT_THROW((void)m.at(-1, 0), std::out_of_range);
  EXPECT_THROW(Matrix(-1), std::invalid_argument);
  EXPECT_EQ(Matrix(0).size(), 0);
}

TEST(Judge, ReferenceAndLimitFromTheBestPair) {
  Matrix m(3);
  m.set(0, 1, 1.0);
  m.set(0, 2, 2.0);
  m.set(1, 2, 1.5);
  const Thresholds t;
  const Judgement bw = judge(m, Metric::bandwidth, t);
  EXPECT_EQ(bw.metric, Metric::bandwidth);
  EXPECT_EQ(bw.reference, 2.0);
  EXPECT_DOUBLE_EQ(bw.limit, 2.0 * 0.93);
  // Pairs (0,1) and (1,2) are below 1.86: node 1 has 2 of 2 suspect, nodes 0 and 2 one of two.
  EXPECT_EQ(bw.suspect_pairs, (std::vector<Pair>{{0, 1}, {1, 2}}));
  EXPECT_EQ(bw.suspect_nodes, (std::vector<int>{1}));
  EXPECT_EQ(bw.good_nodes, (std::vector<int>{0, 2}));  // their suspect pairs are node 1's

  const Judgement lat = judge(m, Metric::latency, t);
  EXPECT_EQ(lat.reference, 1.0);
  EXPECT_DOUBLE_EQ(lat.limit, 2.1);
  EXPECT_TRUE(lat.suspect_pairs.empty());
  EXPECT_TRUE(lat.suspect_nodes.empty());
  EXPECT_EQ(lat.good_nodes, (std::vector<int>{0, 1, 2}));
}

TEST(Judge, BeyondLimitIsStrictAndSided) {
  Judgement j;
  j.metric = Metric::bandwidth;
  j.limit = 1.0;
  EXPECT_TRUE(beyond_limit(0.99, j));
  EXPECT_FALSE(beyond_limit(1.0, j));
  EXPECT_FALSE(beyond_limit(5.0, j));
  EXPECT_FALSE(beyond_limit(kNaN, j));
  EXPECT_TRUE(beyond_limit(0.0, j));  // a pair that moved nothing
  j.metric = Metric::latency;
  EXPECT_TRUE(beyond_limit(1.01, j));
  EXPECT_FALSE(beyond_limit(1.0, j));
  EXPECT_FALSE(beyond_limit(0.5, j));
  EXPECT_TRUE(beyond_limit(kInf, j));
  EXPECT_TRUE(beyond_limit(-1.0, j));
  j.limit = kNaN;
  EXPECT_FALSE(beyond_limit(100.0, j));
}

// n = 2: one pair is its own reference: nothing to compare, nothing flagged however slow it is.
TEST(Judge, TwoRanksFlagNothing) {
  for (const Metric metric : {Metric::bandwidth, Metric::latency}) {
    Matrix m(2);
    m.set(0, 1, 0.001);
    const Judgement j = judge(m, metric, Thresholds{});
    EXPECT_EQ(j.reference, 0.001);
    EXPECT_TRUE(j.suspect_pairs.empty());
    EXPECT_TRUE(j.suspect_nodes.empty());
    EXPECT_EQ(j.good_nodes, (std::vector<int>{0, 1}));
    EXPECT_TRUE(plan_retests(2, j, Thresholds{}).rounds.empty());
  }
}

TEST(Judge, AllNaNHasNoReferenceAndNoGoodNodes) {
  const Judgement j = judge(Matrix(8), Metric::bandwidth, Thresholds{});
  EXPECT_TRUE(std::isnan(j.reference));
  EXPECT_TRUE(std::isnan(j.limit));
  EXPECT_TRUE(j.suspect_pairs.empty());
  EXPECT_TRUE(j.suspect_nodes.empty());
  EXPECT_TRUE(j.good_nodes.empty());  // nothing measured: nobody is known to be good
  const RetestPlan plan = plan_retests(8, j, Thresholds{});
  EXPECT_TRUE(plan.rounds.empty());
  EXPECT_TRUE(plan.same_pairs.empty());
  EXPECT_TRUE(plan.vs_good.empty());
}

// Relative: a fabric slow everywhere alike has no odd one out.
TEST(Judge, EquallySlowEverywhereIsClean) {
  for (std::uint32_t seed = 1; seed <= 10; ++seed) {
    const Judgement bw = judge(full_map(16, 0.25, healthy(), seed), Metric::bandwidth, {});
    EXPECT_TRUE(bw.suspect_pairs.empty());
    EXPECT_EQ(bw.good_nodes.size(), 16u);
    const Judgement lat = judge(full_map(16, 40.0, healthy(), seed), Metric::latency, {});
    EXPECT_TRUE(lat.suspect_pairs.empty());
  }
}

// An unmeasured pair is no evidence; a failed one (0 GB/s, infinite latency) is suspect.
TEST(Judge, FailedPairsAreSuspectAndNeverTheReference) {
  Matrix bw = full_map(6, 1.0, healthy(), 3);
  bw.set(1, 4, 0.0);
  bw.set(2, 5, kNaN);
  const Judgement jb = judge(bw, Metric::bandwidth, {});
  EXPECT_GT(jb.reference, 0.9);
  EXPECT_EQ(jb.suspect_pairs, (std::vector<Pair>{{1, 4}}));
  Matrix lat = full_map(6, 2.0, healthy(), 3);
  lat.set(0, 3, kInf);
  lat.set(1, 2, 0.0);  // no reference: would make every pair suspect
  const Judgement jl = judge(lat, Metric::latency, {});
  EXPECT_GT(jl.reference, 1.9);
  EXPECT_EQ(jl.suspect_pairs, (std::vector<Pair>{{0, 3}, {1, 2}}));
}

TEST(Judge, ThresholdsAreValidated) {
  const Matrix m(3);
  const auto with = [](auto change) {
    Thresholds t;
    change(t);
    return t;
  };
  EXPECT_THROW(judge(m, Metric::latency, with([](Thresholds& t) { t.latency_factor = 0.5; })),
               std::invalid_argument);
  EXPECT_THROW(judge(m, Metric::latency, with([](Thresholds& t) { t.bandwidth_fraction = 0; })),
               std::invalid_argument);
  EXPECT_THROW(judge(m, Metric::latency, with([](Thresholds& t) { t.bandwidth_fraction = 1.5; })),
               std::invalid_argument);
  EXPECT_THROW(judge(m, Metric::latency, with([](Thresholds& t) { t.node_fraction = 1; })),
               std::invalid_argument);
  EXPECT_THROW(plan_retests(3, Judgement{}, with([](Thresholds& t) { t.partners_per_node = -1; })),
               std::invalid_argument);
  EXPECT_NO_THROW(judge(m, Metric::latency, Thresholds{}));
}

// The plan's promises: disjoint rounds, every pair at most once, the unexplained suspect pairs in
// it, each target against up to k good partners, good nodes spread evenly.
void expect_plan(int n, const Judgement& j, const RetestPlan& plan, const Thresholds& t) {
  EXPECT_EQ(check_rounds(n, plan.rounds, false), "");
  std::set<Pair> in_rounds;
  for (const Round& round : plan.rounds) {
    EXPECT_FALSE(round.empty());
    for (const Pair& p : round) {
      EXPECT_NE(p.a, p.b);
      EXPECT_TRUE(in_rounds.insert(p).second) << "pair (" << p.a << ", " << p.b << ") twice";
    }
  }
  const std::set<int> suspect_nodes(j.suspect_nodes.begin(), j.suspect_nodes.end());
  const std::set<int> good(j.good_nodes.begin(), j.good_nodes.end());
  for (const Pair& p : j.suspect_pairs) {
    const bool explained = suspect_nodes.count(p.a) + suspect_nodes.count(p.b) > 0;
    if (!explained) {
      EXPECT_EQ(in_rounds.count(p), 1u) << "(" << p.a << ", " << p.b << ")";
    }
  }
  for (const Pair& p : plan.same_pairs) {
    EXPECT_EQ(in_rounds.count(p), 1u);
    EXPECT_TRUE(std::binary_search(j.suspect_pairs.begin(), j.suspect_pairs.end(), p));
  }
  EXPECT_TRUE(std::is_sorted(plan.same_pairs.begin(), plan.same_pairs.end()));
  std::map<int, int> uses;
  for (const auto& [node, partners] : plan.vs_good) {
    EXPECT_EQ(good.count(node), 0u) << node;
    EXPECT_EQ(partners.size(),
              std::min(good.size(), static_cast<std::size_t>(t.partners_per_node)));
    for (const int g : partners) {
      EXPECT_EQ(good.count(g), 1u) << g;
      EXPECT_EQ(in_rounds.count(ordered_pair(node, g)), 1u);
      ++uses[g];
    }
  }
  if (!uses.empty() && uses.size() == good.size()) {
    const auto [lo, hi] = std::minmax_element(
        uses.begin(), uses.end(), [](const auto& x, const auto& y) { return x.second < y.second; });
    EXPECT_LE(hi->second - lo->second, 1) << "good nodes not spread";
  }
}

TEST(PlanRetests, NodeAndLinkAtSmallScale) {
  const Thresholds t;
  for (const int n : {6, 8, 16}) {
    for (std::uint32_t seed = 1; seed <= 20; ++seed) {
      SCOPED_TRACE(::testing::Message() << "n = " << n << ", seed " << seed);
      const int bad = n / 2;
      const Pair link{1, n - 1};
      const Matrix m = full_map(n, 1.0, node_and_link(bad, 0.25, link, 0.3), seed);
      const Judgement j = judge(m, Metric::bandwidth, t);
      EXPECT_EQ(j.suspect_nodes, (std::vector<int>{bad}));
      std::vector<Pair> expected{link};
      for (int x = 0; x < n; ++x) {
        if (x != bad) expected.push_back(ordered_pair(x, bad));
      }
      std::sort(expected.begin(), expected.end());
      EXPECT_EQ(j.suspect_pairs, expected);
      std::vector<int> good;
      for (int x = 0; x < n; ++x) {
        if (x != bad && x != link.a && x != link.b) good.push_back(x);
      }
      EXPECT_EQ(j.good_nodes, good);
      const RetestPlan plan = plan_retests(n, j, t);
      expect_plan(n, j, plan, t);
      std::vector<int> targets;
      for (const auto& entry : plan.vs_good) targets.push_back(entry.first);
      EXPECT_EQ(targets, (std::vector<int>{1, bad, n - 1}));
      EXPECT_TRUE(std::binary_search(plan.same_pairs.begin(), plan.same_pairs.end(), link));
      // Degree 3 at most (link endpoints: the link and two good partners): first fit needs at
      // most 2 * 3 - 1 rounds.
      EXPECT_LE(plan.rounds.size(), 5u);
    }
  }
}

TEST(PlanRetests, NoSuspectsNoPlan) {
  for (std::uint32_t seed = 1; seed <= 30; ++seed) {
    const Matrix m = full_map(16, 1.0, healthy(), seed);
    for (const Metric metric : {Metric::bandwidth, Metric::latency}) {
      const Judgement j = judge(m, metric, Thresholds{});
      EXPECT_TRUE(j.suspect_pairs.empty());
      const RetestPlan plan = plan_retests(16, j, Thresholds{});
      EXPECT_TRUE(plan.rounds.empty());
      EXPECT_TRUE(plan.vs_good.empty());
    }
  }
}

// Many suspects and few good nodes: each good node is used about equally.
TEST(PlanRetests, GoodPartnersAreSpread) {
  const int n = 16;
  Matrix m = full_map(n, 1.0, healthy(), 7);
  // Six disjoint slow links among nodes 0..11: twelve targets, four good nodes (12..15).
  for (int i = 0; i < 6; ++i) m.set(2 * i, 2 * i + 1, 0.3);
  const Thresholds t;
  const Judgement j = judge(m, Metric::bandwidth, t);
  ASSERT_EQ(j.suspect_pairs.size(), 6u);
  EXPECT_TRUE(j.suspect_nodes.empty());
  EXPECT_EQ(j.good_nodes, (std::vector<int>{12, 13, 14, 15}));
  const RetestPlan plan = plan_retests(n, j, t);
  expect_plan(n, j, plan, t);
  EXPECT_EQ(plan.vs_good.size(), 12u);
  EXPECT_EQ(plan.same_pairs, j.suspect_pairs);
  // Each good node meets 6 targets: 6 rounds at least, and first fit should not need many more.
  EXPECT_GE(plan.rounds.size(), 6u);
  EXPECT_LE(plan.rounds.size(), 8u);
}

TEST(PlanRetests, ZeroPartnersRetestsOnlyThePairs) {
  Thresholds t;
  t.partners_per_node = 0;
  const Matrix m = full_map(8, 1.0, node_and_link(5, 0.25, {0, 2}, 0.3), 4);
  const Judgement j = judge(m, Metric::bandwidth, t);
  const RetestPlan plan = plan_retests(8, j, t);
  expect_plan(8, j, plan, t);
  ASSERT_EQ(plan.rounds.size(), 1u);
  EXPECT_EQ(plan.rounds[0].front(), (Pair{0, 2}));
}

TEST(PlanRetests, RejectsNodesOutsideTheMap) {
  Judgement j;
  j.suspect_pairs = {{1, 9}};
  EXPECT_THROW(plan_retests(8, j, Thresholds{}), std::invalid_argument);
}

// A few suspects among 4096 ranks: the plan stays small and disjoint.
TEST(PlanRetests, FewSuspectsAt4096) {
  const int n = 4096;
  const Pair links[] = {{10, 2000}, {11, 4095}, {3000, 3001}};
  Matrix m = full_map(n, 1.0, node_and_link(77, 0.25, links[0], 0.3), 11);
  m.set(links[1].a, links[1].b, 0.4);
  m.set(links[2].a, links[2].b, 0.5);
  const Thresholds t;
  const Judgement j = judge(m, Metric::bandwidth, t);
  EXPECT_EQ(j.suspect_nodes, (std::vector<int>{77}));
  EXPECT_EQ(j.suspect_pairs.size(), static_cast<std::size_t>(n - 1 + 3));
  EXPECT_EQ(j.good_nodes.size(), static_cast<std::size_t>(n - 1 - 6));
  const RetestPlan plan = plan_retests(n, j, t);
  expect_plan(n, j, plan, t);
  EXPECT_EQ(plan.vs_good.size(), 7u);  // node 77 and the six link endpoints
  EXPECT_LE(plan.rounds.size(), 5u);   // not 4095: node 77's own pairs only where they fit
}

}  // namespace
