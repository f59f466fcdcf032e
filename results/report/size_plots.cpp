// The "Bandwidth vs message size" and "Latency vs message size" sections: closed-loop cases
// without a fault, one line per case group, transport and varied parameter. A case that measured
// bandwidth is a point of the bandwidth plot, any other case with latencies one of the latency
// plot.
#include <algorithm>
#include <map>
#include <utility>

#include <fmt/core.h>

#include "core/units.hpp"
#include "results/json_read.hpp"
#include "results/report/case_facts.hpp"
#include "results/report/format.hpp"
#include "results/report/html.hpp"
#include "results/report/sections.hpp"

namespace fabricbench::results::report {

using detail::number_at;

namespace {

// One run's points, by line (size_series_key), lines in the order of their first case.
struct SizeLines {
  std::map<std::string, std::vector<svg::Point>> bw, p50, p99;
  std::vector<std::string> bw_order, lat_order;

  void add(const CaseResult& c);
};

void SizeLines::add(const CaseResult& c) {
  // Collective cases have their own plot (collective_plots.cpp).
  if (c.status != CaseStatus::ok || has_regime(c) || has_fault(c) || is_collective(c)) return;
  const auto size = message_size(c);
  if (!size || *size == 0) return;
  const std::string key = size_series_key(c);
  const auto x = static_cast<double>(*size);
  const std::string tip_head = c.id + "\n" + core::format_size(*size);
  if (measured_bandwidth(c)) {
    const auto med = number_at(c.summary, "bw_gbps_median");
    if (!med) return;
    if (!bw.contains(key)) bw_order.push_back(key);
    svg::Point p{x, *med, number_at(c.summary, "bw_gbps_min"), number_at(c.summary, "bw_gbps_max"),
                 tip_head + fmt::format(": {:.4g} Gb/s", *med)};
    bw[key].push_back(std::move(p));
    return;
  }
  const auto lat_p50 = number_at(c.summary, "lat_p50_ns");
  const auto lat_p99 = number_at(c.summary, "lat_p99_ns");
  if (!lat_p50 && !lat_p99) return;
  if (!p50.contains(key)) lat_order.push_back(key);
  p50[key].push_back({x,
                      lat_p50 ? *lat_p50 / 1000 : kNaN,
                      {},
                      {},
                      tip_head + ": p50 " + format_us(lat_p50) + " \xC2\xB5s"});
  p99[key].push_back({x,
                      lat_p99 ? *lat_p99 / 1000 : kNaN,
                      {},
                      {},
                      tip_head + ": p99 " + format_us(lat_p99) + " \xC2\xB5s"});
}

void sort_by_x(std::vector<svg::Point>& points) {
  std::stable_sort(points.begin(), points.end(),
                   [](const svg::Point& a, const svg::Point& b) { return a.x < b.x; });
}

// Run r's lines into the bandwidth plot and (p50 solid, p99 dashed) the latency plot.
void add_size_series(const Context& ctx, std::size_t r, SizeLines& lines, svg::Plot& bw,
                     svg::Plot& lat) {
  for (std::size_t k = 0; k < lines.bw_order.size(); ++k) {
    svg::Series s;
    s.label = ctx.label(r, lines.bw_order[k]);
    ctx.style(s, r, k);
    s.points = std::move(lines.bw[lines.bw_order[k]]);
    sort_by_x(s.points);
    bw.series.push_back(std::move(s));
  }
  for (std::size_t k = 0; k < lines.lat_order.size(); ++k) {
    svg::Series s50;
    s50.label = ctx.label(r, lines.lat_order[k] + " p50");
    ctx.style(s50, r, k);
    s50.points = std::move(lines.p50[lines.lat_order[k]]);
    sort_by_x(s50.points);
    svg::Series s99 = s50;
    s99.label = ctx.label(r, lines.lat_order[k] + " p99");
    s99.dash = "6 3";
    s99.filled = false;
    s99.points = std::move(lines.p99[lines.lat_order[k]]);
    sort_by_x(s99.points);
    lat.series.push_back(std::move(s50));
    lat.series.push_back(std::move(s99));
  }
}

// The section's heading and its plot, or a note when the plot has no series.
std::string size_section(const char* anchor, const char* heading, const svg::Plot& plot,
                         const char* empty_note, const char* caption) {
  std::string out = fmt::format("<h2 id=\"{}\">{}</h2>", anchor, heading);
  if (plot.series.empty()) return out + "<p class=\"note\">" + empty_note + "</p>";
  return out + figure(plot, "", caption);
}

}  // namespace

std::string size_plots(const Context& ctx) {
  svg::Plot bw;
  bw.id = "plot-bw-size";
  bw.title = "Bandwidth vs message size (stream, median over repetitions)";
  bw.x = {"message size", true, 2, svg::TickFormat::bytes, {}, {}, false};
  bw.y = {"bandwidth (Gb/s)", false, 10, svg::TickFormat::number, {}, {}, true};
  svg::Plot lat;
  lat.id = "plot-lat-size";
  lat.title = "Latency vs message size (pingpong, p50 solid, p99 dashed)";
  lat.x = {"message size", true, 2, svg::TickFormat::bytes, {}, {}, false};
  lat.y = {"one-way latency (\xC2\xB5s)", true, 10, svg::TickFormat::number, {}, {}, false};
  for (std::size_t r = 0; r < ctx.runs.size(); ++r) {
    SizeLines lines;
    for (const auto& c : ctx.runs[r].cases) lines.add(c);
    add_size_series(ctx, r, lines, bw, lat);
  }
  std::string out = size_section(
      "bandwidth", "Bandwidth vs message size", bw, "No closed-loop stream case with a bandwidth.",
      "Median <code>bw_gbps</code> over the repetitions (10<sup>9</sup> bit/s); the "
      "bars span the repetitions' minimum and maximum. One line per case group, "
      "transport and varied parameter.");
  out += size_section("latency", "Latency vs message size", lat,
                      "No closed-loop pingpong case with latencies.",
                      "p50 and p99 of the latency histogram merged over the repetitions; pingpong "
                      "latency is one-way (RTT/2) except for read and atomics.");
  return out;
}

}  // namespace fabricbench::results::report
