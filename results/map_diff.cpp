#include "results/map_diff.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>

#include <fmt/core.h>

#include "results/json_read.hpp"

namespace fabricbench::results::diff {

using detail::is_index;
using detail::member;
using detail::text_at;
using nlohmann::json;

namespace {

using PairKey = std::pair<std::string, std::string>;

PairKey key_of(std::string a, std::string b) {
  if (b < a) std::swap(a, b);
  return {std::move(a), std::move(b)};
}

struct MapView {
  std::map<PairKey, double> values;
  std::set<PairKey> bad;  // bad links and every pair of a bad node
};

std::string host_of(const json& nodes, std::size_t i) {
  if (nodes.is_array() && i < nodes.size() && nodes[i].is_object() && nodes[i].contains("host") &&
      nodes[i]["host"].is_string()) {
    return nodes[i]["host"].get<std::string>();
  }
  return "rank " + std::to_string(i);
}

MapView view(const json& m) {
  MapView v;
  const json& nodes = member(m, "nodes");
  const json& matrix = member(m, "matrix");
  for (std::size_t a = 0; matrix.is_array() && a < matrix.size(); ++a) {
    for (std::size_t b = a + 1; matrix[a].is_array() && b < matrix[a].size(); ++b) {
      if (!matrix[a][b].is_number()) continue;
      v.values[key_of(host_of(nodes, a), host_of(nodes, b))] = matrix[a][b].get<double>();
    }
  }
  const json& verdict = member(m, "verdict");
  for (const auto& p : member(verdict, "bad_links")) {
    if (!p.is_array() || p.size() != 2 || !is_index(p[0]) || !is_index(p[1])) continue;
    v.bad.insert(
        key_of(host_of(nodes, p[0].get<std::size_t>()), host_of(nodes, p[1].get<std::size_t>())));
  }
  for (const auto& n : member(verdict, "bad_nodes")) {
    if (!is_index(n)) continue;
    const std::string host = host_of(nodes, n.get<std::size_t>());
    for (const auto& [pair, value] : v.values) {
      if (pair.first == host || pair.second == host) v.bad.insert(pair);
    }
  }
  return v;
}

}  // namespace

std::vector<MetricDiff> compare_maps(const json& base_map, const json& new_map,
                                     const Options& options) {
  std::vector<MetricDiff> out;
  const std::string metric = text_at(new_map, "metric");
  if (metric.empty() || metric != text_at(base_map, "metric")) return out;
  // Pair by pair for the all-pairs maps only: an incast or shift matrix is directed, and its flows
  // ran alongside others (the case's own figures are compared as usual).
  const auto all_pairs = [](const json& m) {
    const std::string p = text_at(m, "pattern");
    return p.empty() || p == "all_pairs";
  };
  if (!all_pairs(base_map) || !all_pairs(new_map)) return out;
  const Direction direction =
      metric == "bandwidth" ? Direction::higher_is_better : Direction::lower_is_better;
  const MapView base = view(base_map);
  const MapView next = view(new_map);
  const double threshold = options.threshold_for("map");
  for (const auto& [pair, new_value] : next.values) {
    const auto it = base.values.find(pair);
    if (it == base.values.end()) continue;
    MetricDiff m;
    m.name = fmt::format("map[{},{}]", pair.first, pair.second);
    m.direction = direction;
    m.base_values = {it->second};
    m.new_values = {new_value};
    m.base_median = it->second;
    m.new_median = new_value;
    if (it->second != 0) m.change = (new_value - it->second) / std::fabs(it->second);
    m.threshold_pct = threshold;
    const bool was_bad = base.bad.count(pair) > 0;
    const bool is_bad = next.bad.count(pair) > 0;
    const double worse =
        m.change ? (direction == Direction::higher_is_better ? -*m.change : *m.change) : 0.0;
    if (is_bad && !was_bad) {
      m.verdict = Verdict::regressed;
      m.warning = "NEW's map names this pair bad (confirmed by its retests); BASE's did not";
    } else if (was_bad && !is_bad) {
      m.verdict = Verdict::improved;
      m.warning = "BASE's map named this pair bad; NEW's does not";
    } else {
      m.verdict = Verdict::unchanged;
      if (std::fabs(worse) * 100 > threshold) {
        m.warning = fmt::format("{:.0f}% {} but {} by the maps' retests", std::fabs(worse) * 100,
                                worse > 0 ? "worse" : "better",
                                is_bad ? "bad on both sides" : "not judged bad");
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace fabricbench::results::diff
