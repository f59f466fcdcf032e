#include "harness/engine/rank_results.hpp"

#include <algorithm>
#include <map>
#include <optional>

namespace fabricbench::engine {

using nlohmann::json;

namespace {

json intervals_to_json(const std::vector<stats::IntervalPoint>& points) {
  json out = json::array();
  for (const auto& pt : points) {
    out.push_back({{"start_ns", pt.start_ns},
                   {"length_ns", pt.length_ns},
                   {"bytes", pt.bytes},
                   {"ops", pt.ops},
                   {"latency_count", pt.latency_count},
                   {"lat_p50_ns", pt.lat_p50_ns ? json(*pt.lat_p50_ns) : json(nullptr)},
                   {"lat_p99_ns", pt.lat_p99_ns ? json(*pt.lat_p99_ns) : json(nullptr)}});
  }
  return out;
}

std::vector<stats::IntervalPoint> intervals_from_json(const json& j) {
  std::vector<stats::IntervalPoint> out;
  for (const auto& e : j) {
    stats::IntervalPoint pt;
    pt.start_ns = e.at("start_ns").get<std::uint64_t>();
    pt.length_ns = e.at("length_ns").get<std::uint64_t>();
    pt.bytes = e.at("bytes").get<std::uint64_t>();
    pt.ops = e.at("ops").get<std::uint64_t>();
    pt.latency_count = e.at("latency_count").get<std::uint64_t>();
    if (!e.at("lat_p50_ns").is_null()) pt.lat_p50_ns = e.at("lat_p50_ns").get<std::uint64_t>();
    if (!e.at("lat_p99_ns").is_null()) pt.lat_p99_ns = e.at("lat_p99_ns").get<std::uint64_t>();
    out.push_back(pt);
  }
  return out;
}

json rails_to_json(const std::vector<transport::RailTraffic>& rails) {
  json out = json::array();
  for (const auto& r : rails)
    out.push_back({{"rail", r.rail}, {"bytes", r.bytes}, {"requests", r.requests}});
  return out;
}

// Every rank's rails added up rail by rail (rails in the order first seen); each rail's share of
// the bytes and that share of the repetition's bandwidth. Null without rails.
json merge_rails(const std::vector<json>& per_rank, const std::optional<double>& bw_gbps) {
  std::vector<std::string> order;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> sums;
  std::uint64_t total = 0;
  for (const auto& r : per_rank) {
    for (const auto& rail : r.value("rails", json::array())) {
      const auto name = rail.at("rail").get<std::string>();
      if (!sums.contains(name)) order.push_back(name);
      auto& [bytes, requests] = sums[name];
      bytes += rail.at("bytes").get<std::uint64_t>();
      requests += rail.at("requests").get<std::uint64_t>();
      total += rail.at("bytes").get<std::uint64_t>();
    }
  }
  if (order.empty()) return nullptr;
  json out = json::array();
  for (const auto& name : order) {
    const auto [bytes, requests] = sums[name];
    const double share = total > 0 ? static_cast<double>(bytes) / static_cast<double>(total) : 0.0;
    out.push_back({{"rail", name},
                   {"bytes", bytes},
                   {"requests", requests},
                   {"share", share},
                   {"bw_gbps", bw_gbps ? json(*bw_gbps * share) : json(nullptr)}});
  }
  return out;
}

}  // namespace

std::string serialize(const suites::RankResult& r, const json& fault_record) {
  return json{{"measured", r.measured},
              {"elapsed_ns", r.elapsed_ns},
              {"bytes", r.bytes},
              {"ops", r.ops},
              {"latency", results::histogram_to_json(r.latency)},
              {"intervals", intervals_to_json(r.intervals)},
              {"measure_start_ns", r.measure_start_ns},
              {"fault", fault_record},
              {"rails", rails_to_json(r.rails)}}
      .dump();
}

// Merges what every rank measured into one repetition (rank 0).
results::Repetition merge(int index, const std::vector<std::string>& per_rank, bool bandwidth) {
  results::Repetition rep;
  rep.index = index;
  std::vector<json> all;
  for (const auto& text : per_rank) all.push_back(json::parse(text));
  for (const auto& r : all) {
    if (!r.at("measured").get<bool>()) continue;
    rep.elapsed_ns = std::max(rep.elapsed_ns, r.at("elapsed_ns").get<std::uint64_t>());
    rep.bytes += r.at("bytes").get<std::uint64_t>();
    rep.ops += r.at("ops").get<std::uint64_t>();
    rep.latency.merge(results::histogram_from_json(r.at("latency")));
    // Intervals: bytes and ops add up bin by bin; latency percentiles keep the worst pair.
    const auto points = intervals_from_json(r.at("intervals"));
    if (rep.intervals.size() < points.size()) rep.intervals.resize(points.size());
    for (std::size_t i = 0; i < points.size(); ++i) {
      auto& dst = rep.intervals[i];
      const auto& src = points[i];
      dst.start_ns = src.start_ns;
      dst.length_ns = std::max(dst.length_ns, src.length_ns);
      dst.bytes += src.bytes;
      dst.ops += src.ops;
      dst.latency_count += src.latency_count;
      if (src.lat_p50_ns) dst.lat_p50_ns = std::max(dst.lat_p50_ns.value_or(0), *src.lat_p50_ns);
      if (src.lat_p99_ns) dst.lat_p99_ns = std::max(dst.lat_p99_ns.value_or(0), *src.lat_p99_ns);
    }
  }
  if (bandwidth && rep.elapsed_ns > 0) {
    const double seconds = static_cast<double>(rep.elapsed_ns) / 1e9;
    const double bytes = static_cast<double>(rep.bytes);
    rep.bw_gbps = bytes * 8.0 / seconds / 1e9;
    rep.bw_gibps = bytes / seconds / static_cast<double>(1ULL << 30);
    rep.msg_rate_mops = static_cast<double>(rep.ops) / seconds / 1e6;
  }
  rep.rails = merge_rails(all, rep.bw_gbps);
  return rep;
}

}  // namespace fabricbench::engine
