// `fabricbench diff` on two all-pairs maps: pairs matched by host names, decided by the maps'
// verdicts (results/map_diff.hpp).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "results/map_diff.hpp"

namespace fabricbench::results::diff {
namespace {

using nlohmann::json;

// A bandwidth map of hosts (in rank order), every pair at `value` GB/s except `slow` pairs.
json bandwidth_map(const std::vector<std::string>& hosts, double value,
                   const std::vector<std::pair<std::pair<int, int>, double>>& slow,
                   const json& verdict) {
  json nodes = json::array();
  json matrix = json::array();
  for (std::size_t a = 0; a < hosts.size(); ++a) {
    nodes.push_back({{"rank", a}, {"host", hosts[a]}});
    json row = json::array();
    for (std::size_t b = 0; b < hosts.size(); ++b)
      row.push_back(a == b ? json(nullptr) : json(value));
    matrix.push_back(row);
  }
  for (const auto& [pair, v] : slow) {
    matrix[static_cast<std::size_t>(pair.first)][static_cast<std::size_t>(pair.second)] = v;
    matrix[static_cast<std::size_t>(pair.second)][static_cast<std::size_t>(pair.first)] = v;
  }
  return {{"metric", "bandwidth"},
          {"unit", "GB/s"},
          {"nodes", nodes},
          {"matrix", matrix},
          {"verdict", verdict}};
}

json clean() {
  return {{"clean", true},
          {"bad_nodes", json::array()},
          {"bad_links", json::array()},
          {"noise", json::array()},
          {"findings", json::array()}};
}

const MetricDiff& find(const std::vector<MetricDiff>& ms, const std::string& name) {
  for (const auto& m : ms) {
    if (m.name == name) return m;
  }
  throw std::runtime_error("no metric " + name);
}

TEST(MapDiff, ANewlyBadLinkRegressesAndIsMatchedByHostNotRank) {
  const json base = bandwidth_map({"a", "b", "c", "d"}, 1.0, {}, clean());
  json verdict = clean();
  verdict["clean"] = false;
  verdict["bad_links"] = json::array({json::array({0, 2})});  // ranks 0, 2 = hosts d, b
  // NEW placed the hosts in another rank order.
  const json next = bandwidth_map({"d", "a", "b", "c"}, 1.0, {{{0, 2}, 0.3}}, verdict);
  const auto ms = compare_maps(base, next, Options{});
  ASSERT_EQ(ms.size(), 6U);
  const auto& bd = find(ms, "map[b,d]");
  EXPECT_EQ(bd.verdict, Verdict::regressed);
  EXPECT_DOUBLE_EQ(*bd.base_median, 1.0);
  EXPECT_DOUBLE_EQ(*bd.new_median, 0.3);
  EXPECT_NEAR(*bd.change, -0.7, 1e-12);
  EXPECT_EQ(bd.direction, Direction::higher_is_better);
  for (const auto& m : ms) {
    if (m.name != "map[b,d]") {
      EXPECT_EQ(m.verdict, Verdict::unchanged) << m.name;
    }
  }
}

TEST(MapDiff, ABadNodeRegressesEachOfItsPairsAndRecoveryImproves) {
  json bad = clean();
  bad["clean"] = false;
  bad["bad_nodes"] = json::array({1});
  const json base = bandwidth_map({"a", "b", "c"}, 1.0, {}, clean());
  const json next = bandwidth_map({"a", "b", "c"}, 1.0, {{{0, 1}, 0.25}, {{1, 2}, 0.25}}, bad);
  auto ms = compare_maps(base, next, Options{});
  EXPECT_EQ(find(ms, "map[a,b]").verdict, Verdict::regressed);
  EXPECT_EQ(find(ms, "map[b,c]").verdict, Verdict::regressed);
  EXPECT_EQ(find(ms, "map[a,c]").verdict, Verdict::unchanged);
  ms = compare_maps(next, base, Options{});
  EXPECT_EQ(find(ms, "map[a,b]").verdict, Verdict::improved);
}

TEST(MapDiff, AMoveTheRetestsDidNotConfirmIsUnchangedWithAWarning) {
  const json base = bandwidth_map({"a", "b"}, 1.0, {}, clean());
  const json next = bandwidth_map({"a", "b"}, 0.8, {}, clean());
  const auto ms = compare_maps(base, next, Options{});
  ASSERT_EQ(ms.size(), 1U);
  EXPECT_EQ(ms[0].verdict, Verdict::unchanged);
  EXPECT_NE(ms[0].warning.find("20% worse but not judged bad"), std::string::npos) << ms[0].warning;
  // Maps of different metrics do not compare.
  json latency = next;
  latency["metric"] = "latency";
  EXPECT_TRUE(compare_maps(base, latency, Options{}).empty());
}

// incast and shift matrices are directed: not compared pair by pair (an all_pairs map, or one
// without a pattern as written before incast and shift, is).
TEST(MapDiff, DirectedFlowMapsAreNotComparedPairByPair) {
  json base = bandwidth_map({"a", "b"}, 1.0, {}, clean());
  json next = bandwidth_map({"a", "b"}, 0.5, {}, clean());
  next["pattern"] = "all_pairs";
  EXPECT_EQ(compare_maps(base, next, Options{}).size(), 1U);
  for (const char* pattern : {"incast", "shift"}) {
    json flows = next;
    flows["pattern"] = pattern;
    EXPECT_TRUE(compare_maps(base, flows, Options{}).empty()) << pattern;
    EXPECT_TRUE(compare_maps(flows, flows, Options{}).empty()) << pattern;
  }
}

}  // namespace
}  // namespace fabricbench::results::diff
