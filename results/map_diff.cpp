#include "results/map_diff.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>

#include <fmt/core.h>

namespace fabricbench::results::diff {

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
  if (i < nodes.size() && nodes[i].is_object()) {
    return nodes[i].value("host", "rank " + std::to_string(i));
  }
  return "rank " + std::to_string(i);
}

MapView view(const json& m) {
  MapView v;
  const json& nodes = m.contains("nodes") ? m["nodes"] : json::array();
  const json& matrix = m.contains("matrix") ? m["matrix"] : json::array();
  for (std::size_t a = 0; a < matrix.size(); ++a) {
    for (std::size_t b = a + 1; matrix[a].is_array() && b < matrix[a].size(); ++b) {
      if (!matrix[a][b].is_number()) continue;
      v.values[key_of(host_of(nodes, a), host_of(nodes, b))] = matrix[a][b].get<double>();
    }
  }
  const json verdict = m.value("verdict", json::object());
  for (const auto& p : verdict.value("bad_links", json::array())) {
    if (!p.is_array() || p.size() != 2) continue;
    v.bad.insert(
        key_of(host_of(nodes, p[0].get<std::size_t>()), host_of(nodes, p[1].get<std::size_t>())));
  }
  for (const auto& n : verdict.value("bad_nodes", json::array())) {
    if (!n.is_number_integer()) continue;
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
  const std::string metric = new_map.value("metric", "");
  if (metric.empty() || metric != base_map.value("metric", "")) return out;
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
