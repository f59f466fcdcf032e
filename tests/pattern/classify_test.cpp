// classify: the whole path (judge, plan_retests, a simulated retest, classify) on synthetic maps.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "harness/pattern/pattern.hpp"
#include "synthetic.hpp"

namespace {

using namespace fabricbench::pattern;
using namespace fabricbench::pattern::synth;

struct Pipeline {
  Judgement j;
  RetestPlan plan;
  Matrix retest{0};
  Verdict v;
};

// The first map from `first`, the retest of the plan's pairs from `again`.
Pipeline run(int n, Metric metric, double base, const Model& first, const Model& again,
             std::uint32_t seed, const Thresholds& t = {}, double jitter = 0.03) {
  Pipeline r;
  const Matrix m = full_map(n, base, first, seed, jitter);
  r.j = judge(m, metric, t);
  r.plan = plan_retests(n, r.j, t);
  EXPECT_EQ(check_rounds(n, r.plan.rounds, false), "");
  r.retest = measure_rounds(n, r.plan.rounds, base, again, seed + 1000, jitter);
  r.v = classify(m, r.j, r.retest, t, host_names(n));
  return r;
}

std::vector<std::string> kinds(const Verdict& v) {
  std::vector<std::string> k;
  for (const Finding& f : v.findings) k.push_back(f.kind);
  return k;
}

TEST(Classify, BadNodeAndBadLinkBandwidth) {
  for (const int n : {6, 8, 16}) {
    for (std::uint32_t seed = 1; seed <= 20; ++seed) {
      SCOPED_TRACE(::testing::Message() << "n = " << n << ", seed " << seed);
      const int bad = 2;
      const Pair link{0, n - 1};
      const Model model = node_and_link(bad, 0.25, link, 0.3);
      const Pipeline r = run(n, Metric::bandwidth, 1.0, model, model, seed);
      EXPECT_EQ(r.v.bad_nodes, (std::vector<int>{bad}));
      EXPECT_EQ(r.v.bad_links, (std::vector<Pair>{link}));
      EXPECT_TRUE(r.v.noise.empty());
      EXPECT_TRUE(r.v.unconfirmed_nodes.empty());
      EXPECT_TRUE(r.v.unconfirmed_pairs.empty());
      EXPECT_FALSE(r.v.clean());
      EXPECT_EQ(kinds(r.v), (std::vector<std::string>{"bad_node", "bad_link"}));
      ASSERT_EQ(r.v.findings.size(), 2u);
      EXPECT_EQ(r.v.findings[0].nodes, (std::vector<int>{bad}));
      EXPECT_EQ(r.v.findings[1].nodes, (std::vector<int>{link.a, link.b}));
      EXPECT_NE(r.v.findings[0].evidence.find("node2 (2): " + std::to_string(n - 1) + " of " +
                                              std::to_string(n - 1) + " pairs below 93%"),
                std::string::npos)
          << r.v.findings[0].evidence;
      EXPECT_NE(r.v.findings[1].evidence.find("GB/s"), std::string::npos);
    }
  }
}

TEST(Classify, BadNodeAndBadLinkLatency) {
  for (const int n : {6, 8, 16}) {
    for (std::uint32_t seed = 1; seed <= 20; ++seed) {
      SCOPED_TRACE(::testing::Message() << "n = " << n << ", seed " << seed);
      const int bad = n - 1;
      const Pair link{1, 3};
      const Model model = node_and_link(bad, 3.0, link, 4.0);
      const Pipeline r = run(n, Metric::latency, 1.0, model, model, seed);
      EXPECT_EQ(r.v.bad_nodes, (std::vector<int>{bad}));
      EXPECT_EQ(r.v.bad_links, (std::vector<Pair>{link}));
      EXPECT_TRUE(r.v.noise.empty());
      EXPECT_TRUE(r.v.unconfirmed_nodes.empty());
      EXPECT_TRUE(r.v.unconfirmed_pairs.empty());
      EXPECT_EQ(kinds(r.v), (std::vector<std::string>{"bad_node", "bad_link"}));
      EXPECT_NE(r.v.findings[0].evidence.find("above 2.1x the best"), std::string::npos)
          << r.v.findings[0].evidence;
      EXPECT_NE(r.v.findings[0].evidence.find(" us"), std::string::npos);
    }
  }
}

TEST(Classify, CleanMapsNameNothing) {
  for (const int n : {2, 3, 6, 8, 16}) {
    for (std::uint32_t seed = 1; seed <= 100; ++seed) {
      for (const Metric metric : {Metric::bandwidth, Metric::latency}) {
        const Pipeline r =
            run(n, metric, metric == Metric::latency ? 2.5 : 12.0, healthy(), healthy(), seed);
        EXPECT_TRUE(r.j.suspect_pairs.empty()) << "n = " << n << ", seed " << seed;
        EXPECT_TRUE(r.plan.rounds.empty());
        EXPECT_TRUE(r.v.clean());
        EXPECT_TRUE(r.v.findings.empty());
      }
    }
  }
}

TEST(Classify, EquallySlowEverywhereIsClean) {
  const Model slow = [](int, int) { return 0.25; };
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    const Pipeline r = run(8, Metric::bandwidth, 1.0, slow, slow, seed);
    EXPECT_TRUE(r.v.clean());
    EXPECT_TRUE(r.v.findings.empty());
  }
}

TEST(Classify, TwoRanksAndAllNaNAreClean) {
  const Pipeline two = run(
      2, Metric::bandwidth, 1.0, [](int, int) { return 0.01; }, healthy(), 1);
  EXPECT_TRUE(two.v.clean());
  EXPECT_TRUE(two.v.findings.empty());
  const Matrix none(6);
  const Judgement j = judge(none, Metric::latency, Thresholds{});
  const Verdict v = classify(none, j, none, Thresholds{}, {});
  EXPECT_TRUE(v.clean());
  EXPECT_TRUE(v.findings.empty());
}

// Slow in the first map only: noise, not a link.
TEST(Classify, ASuspectPairFineInTheRetestIsNoise) {
  for (const int n : {6, 8, 16}) {
    for (std::uint32_t seed = 1; seed <= 10; ++seed) {
      const Pair flaky{2, 4};
      const Pipeline r =
          run(n, Metric::bandwidth, 1.0, node_and_link(-1, 1.0, flaky, 0.5), healthy(), seed);
      EXPECT_EQ(r.j.suspect_pairs, (std::vector<Pair>{flaky}));
      EXPECT_EQ(r.plan.same_pairs, (std::vector<Pair>{flaky}));
      EXPECT_EQ(r.v.noise, (std::vector<Pair>{flaky}));
      EXPECT_TRUE(r.v.clean());
      ASSERT_EQ(kinds(r.v), (std::vector<std::string>{"noise"}));
      EXPECT_NE(r.v.findings[0].evidence.find("within the limit"), std::string::npos);
    }
  }
}

// A node slow in the first map and fine against known-good partners: it recovered; its suspect
// pairs are noise, whether measured again or not.
TEST(Classify, ARecoveredSuspectNodeIsNoise) {
  for (const int n : {6, 8, 16}) {
    const Pipeline r =
        run(n, Metric::bandwidth, 1.0, node_and_link(1, 0.25, {-1, -1}, 1.0), healthy(), 5);
    EXPECT_EQ(r.j.suspect_nodes, (std::vector<int>{1}));
    EXPECT_TRUE(r.v.clean());
    EXPECT_TRUE(r.v.bad_nodes.empty());
    EXPECT_EQ(r.v.noise, r.j.suspect_pairs);
    for (const Finding& f : r.v.findings) EXPECT_EQ(f.kind, "noise");
  }
}

// Two bad nodes: their pair is explained by them, each is confirmed against good partners.
TEST(Classify, TwoBadNodes) {
  for (const int n : {6, 8, 16}) {
    const Model model = [](int a, int b) {
      return a == 0 || b == 0 || a == 4 || b == 4 ? 0.25 : 1.0;
    };
    const Pipeline r = run(n, Metric::bandwidth, 1.0, model, model, 8);
    EXPECT_EQ(r.j.suspect_nodes, (std::vector<int>{0, 4}));
    EXPECT_EQ(r.v.bad_nodes, (std::vector<int>{0, 4}));
    EXPECT_TRUE(r.v.bad_links.empty());
    EXPECT_TRUE(r.v.noise.empty());
    EXPECT_EQ(kinds(r.v), (std::vector<std::string>{"bad_node", "bad_node"}));
  }
}

// Exact words, without jitter.
TEST(Classify, EvidenceInWords) {
  const Model model = node_and_link(3, 0.25, {0, 5}, 0.3);
  const Pipeline r = run(6, Metric::bandwidth, 1.2, model, model, 1, Thresholds{}, 0.0);
  ASSERT_EQ(r.v.findings.size(), 2u);
  EXPECT_EQ(r.v.findings[0].evidence,
            "node3 (3): 5 of 5 pairs below 93% of the best 1.20 GB/s (0.30-0.30 GB/s); retest "
            "against node1 (1), node4 (4): 0.30, 0.30 GB/s");
  EXPECT_EQ(r.v.findings[1].evidence,
            "node0 (0) - node5 (5): 0.36 GB/s below 93% of the best 1.20 GB/s; retest 0.36 GB/s, "
            "beyond the limit 1.12 GB/s again; node0 (0) against node1 (1), node2 (2): 1.20, "
            "1.20 GB/s; node5 (5) against node2 (2), node4 (4): 1.20, 1.20 GB/s");
  // A missing name is the rank.
  const Verdict unnamed =
      classify(full_map(6, 1.2, model, 1, 0.0), r.j, r.retest, Thresholds{}, {"a"});
  EXPECT_EQ(unnamed.findings[0].evidence.rfind("rank 3: 5 of 5", 0), 0u)
      << unnamed.findings[0].evidence;
}

// Nothing measured again: the node and the pair stay unconfirmed, nothing is called bad.
TEST(Classify, NoRetestLeavesSuspectsUnconfirmed) {
  const Model model = node_and_link(4, 0.25, {1, 2}, 0.3);
  const Matrix m = full_map(8, 1.0, model, 9);
  const Judgement j = judge(m, Metric::bandwidth, Thresholds{});
  const Verdict v = classify(m, j, Matrix(8), Thresholds{}, host_names(8));
  EXPECT_EQ(v.unconfirmed_nodes, (std::vector<int>{4}));
  EXPECT_EQ(v.unconfirmed_pairs, (std::vector<Pair>{{1, 2}}));
  EXPECT_TRUE(v.bad_nodes.empty());
  EXPECT_TRUE(v.bad_links.empty());
  EXPECT_TRUE(v.clean());
  EXPECT_EQ(kinds(v), (std::vector<std::string>{"unconfirmed", "unconfirmed"}));
}

// The pair is slow again, but so is one of its ends with good partners: not a link.
TEST(Classify, SlowAgainWithASlowEndIsNoLink) {
  const Pair link{1, 2};
  const Model first = node_and_link(-1, 1.0, link, 0.3);
  const Model again = [](int a, int b) { return a == 1 || b == 1 ? 0.3 : 1.0; };
  const Pipeline r = run(8, Metric::bandwidth, 1.0, first, again, 3);
  EXPECT_TRUE(r.v.bad_links.empty());
  EXPECT_TRUE(r.v.bad_nodes.empty());  // node 1 was no suspect node in the first map
  EXPECT_EQ(r.v.unconfirmed_pairs, (std::vector<Pair>{link}));
  ASSERT_EQ(r.v.findings.size(), 1u);
  EXPECT_NE(r.v.findings[0].evidence.find("node1 (1) beyond the limit with its known-good"),
            std::string::npos)
      << r.v.findings[0].evidence;
}

// No good partners asked for: the link cannot be told from its ends; node 5 is still judged by
// the one of its pairs with a good node that fit in the round of the link (first fit: (1, 5)).
TEST(Classify, PartnersPerNodeZeroCannotConfirmALink) {
  Thresholds t;
  t.partners_per_node = 0;
  const Model model = node_and_link(5, 0.25, {0, 2}, 0.3);
  const Pipeline r = run(8, Metric::bandwidth, 1.0, model, model, 2, t);
  ASSERT_EQ(r.plan.rounds.size(), 1u);
  EXPECT_EQ(r.plan.rounds[0], (Round{{0, 2}, {1, 5}}));
  EXPECT_EQ(r.v.bad_nodes, (std::vector<int>{5}));
  EXPECT_TRUE(r.v.unconfirmed_nodes.empty());
  EXPECT_TRUE(r.v.bad_links.empty());
  EXPECT_EQ(r.v.unconfirmed_pairs, (std::vector<Pair>{{0, 2}}));
  ASSERT_EQ(kinds(r.v), (std::vector<std::string>{"bad_node", "unconfirmed"}));
  EXPECT_NE(r.v.findings[1].evidence.find("node0 (0) has no known-good partner in the retest"),
            std::string::npos)
      << r.v.findings[1].evidence;
}

TEST(Classify, SizesMustAgree) {
  const Matrix m(6);
  const Judgement j = judge(m, Metric::bandwidth, Thresholds{});
  EXPECT_THROW(classify(m, j, Matrix(5), Thresholds{}, {}), std::invalid_argument);
}

// The whole path at 4096 ranks: one bad node, three bad links, one flaky pair.
TEST(Classify, FewSuspectsAt4096) {
  const int n = 4096;
  const int bad = 1234;
  const std::vector<Pair> links{{5, 4000}, {6, 7}, {2047, 2048}};
  const Pair flaky{100, 200};
  const auto slow_link = [&links](int a, int b) {
    const Pair p = ordered_pair(a, b);
    for (const Pair& l : links) {
      if (l == p) return true;
    }
    return false;
  };
  const Model first = [&](int a, int b) {
    if (a == bad || b == bad) return 0.25;
    if (slow_link(a, b)) return 0.3;
    return ordered_pair(a, b) == flaky ? 0.5 : 1.0;
  };
  const Model again = [&](int a, int b) {
    if (a == bad || b == bad) return 0.25;
    return slow_link(a, b) ? 0.3 : 1.0;
  };
  const Pipeline r = run(n, Metric::bandwidth, 1.0, first, again, 21);
  EXPECT_LE(r.plan.rounds.size(), 5u);
  EXPECT_EQ(r.v.bad_nodes, (std::vector<int>{bad}));
  EXPECT_EQ(r.v.bad_links, links.size() == 3 ? (std::vector<Pair>{{5, 4000}, {6, 7}, {2047, 2048}})
                                             : std::vector<Pair>{});
  EXPECT_EQ(r.v.noise, (std::vector<Pair>{flaky}));
  EXPECT_TRUE(r.v.unconfirmed_nodes.empty());
  EXPECT_TRUE(r.v.unconfirmed_pairs.empty());
  EXPECT_EQ(r.v.findings.size(), 5u);
}

}  // namespace
