// The "Interval series" section: per-bin throughput (cases that measured bandwidth; operations
// per second otherwise) and latency p99 of the duration-mode cases without a fault.
#include <algorithm>
#include <map>
#include <utility>

#include "results/report/case_facts.hpp"
#include "results/report/html.hpp"
#include "results/report/sections.hpp"

namespace fabricbench::results::report {

namespace {

// The two plots of one case, filled from its repetitions' bins.
struct IntervalPlots {
  svg::Plot tput;
  svg::Plot lat;
  bool any_latency = false;
};

IntervalPlots interval_frames(const CaseGroup& group, std::size_t g, bool bandwidth) {
  const std::string n = std::to_string(g);
  svg::Axis tput_y{"operations/s", false, 10, svg::TickFormat::number, {}, {}, true};
  if (bandwidth) tput_y.label = "throughput (Gb/s)";
  const svg::Axis lat_y{
      "latency p99 (\xC2\xB5s)", true, 10, svg::TickFormat::number, {}, {}, false};
  const std::string what = bandwidth ? "Throughput per bin: " : "Operations per bin: ";
  return {time_series_plot("plot-intervals-tput-" + n, what + group.id, tput_y),
          time_series_plot("plot-intervals-lat-" + n, "Latency p99 per bin: " + group.id, lat_y),
          false};
}

// A series per repetition with bins, of every case of the group without a fault.
void add_interval_series(const Context& ctx, const CaseGroup& group, bool bandwidth,
                         IntervalPlots& plots) {
  std::map<std::size_t, std::size_t> per_run;
  for (const auto& ref : group.refs) {
    if (has_fault(*ref.c)) continue;
    for (const auto& rep : ref.c->repetitions) {
      if (rep.intervals.empty()) continue;
      svg::Series s;
      s.label = ctx.label(ref.run, "rep " + std::to_string(rep.index));
      ctx.style_line(s, ref.run, per_run[ref.run]++);
      svg::Series l = s;
      for (const auto& p : rep.intervals) {
        if (p.length_ns == 0) continue;
        const double x = bin_mid_s(p.start_ns, p.length_ns);
        const double len = static_cast<double>(p.length_ns);
        const double y = bandwidth ? static_cast<double>(p.bytes) * 8 / len
                                   : static_cast<double>(p.ops) * 1e9 / len;
        s.points.push_back({x, y, {}, {}, ""});
        if (p.lat_p99_ns) plots.any_latency = true;
        l.points.push_back(
            {x, p.lat_p99_ns ? static_cast<double>(*p.lat_p99_ns) / 1000 : kNaN, {}, {}, ""});
      }
      if (s.points.size() == 1) s.marker = svg::Marker::circle;
      if (l.points.size() == 1) l.marker = svg::Marker::circle;
      plots.tput.series.push_back(std::move(s));
      plots.lat.series.push_back(std::move(l));
    }
  }
}

}  // namespace

std::string interval_plots(const Context& ctx, const std::vector<CaseGroup>& groups) {
  std::string out = "<h2 id=\"intervals\">Interval series (duration mode)</h2>";
  int shown = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const CaseGroup& group = groups[g];
    const auto& refs = group.refs;
    if (std::none_of(refs.begin(), refs.end(), [](const CaseRef& ref) {
          return has_intervals(*ref.c) && !has_fault(*ref.c);
        })) {
      continue;
    }
    const bool bandwidth = std::any_of(
        refs.begin(), refs.end(), [](const CaseRef& ref) { return measured_bandwidth(*ref.c); });
    IntervalPlots plots = interval_frames(group, g, bandwidth);
    add_interval_series(ctx, group, bandwidth, plots);
    out += "<div class=\"figs\">";
    out += figure(plots.tput, group.id,
                  bandwidth ? "Payload bytes per bin &times; 8 / bin length, plotted at the bin's "
                              "middle; idle bins are zeros, not gaps."
                            : "Operations per bin / bin length, plotted at the bin's middle.");
    if (plots.any_latency) {
      out += figure(plots.lat, group.id,
                    "p99 of the latency samples in each bin (gaps: bins without samples).");
    }
    out += "</div>";
    ++shown;
  }
  if (shown == 0) out += "<p class=\"note\">No duration-mode case with an interval series.</p>";
  return out;
}

}  // namespace fabricbench::results::report
