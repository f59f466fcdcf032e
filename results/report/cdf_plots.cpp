// The "Latency distributions" section: the CDF of each case's latency histogram (merged over the
// repetitions), one line per run.
#include <algorithm>
#include <map>
#include <utility>

#include <fmt/core.h>

#include "results/report/case_facts.hpp"
#include "results/report/format.hpp"
#include "results/report/html.hpp"
#include "results/report/sections.hpp"

namespace fabricbench::results::report {

namespace {

// A step per bucket: flat between buckets, rising across each bucket's value range (clamped to
// the exact min and max). 0 ns has no place on the log axis: drawn at 1 ns.
std::vector<svg::Point> cdf_points(const stats::Histogram& h) {
  std::vector<svg::Point> points;
  const double total = static_cast<double>(h.count());
  std::uint64_t cum = 0;
  auto at = [&](std::uint64_t v) {
    const std::uint64_t clamped = std::min(std::max(v, h.min()), h.max());
    return static_cast<double>(std::max<std::uint64_t>(clamped, 1)) / 1000;
  };
  for (const auto& b : h.bins()) {
    points.push_back({at(b.lowest), static_cast<double>(cum) / total, {}, {}, ""});
    cum += b.count;
    points.push_back({at(b.highest), static_cast<double>(cum) / total, {}, {}, ""});
  }
  return points;
}

// "<run>: p50 ..., p99 ..., p99.9 ..., max ..., N samples" as a caption line.
std::string cdf_caption_line(const Context& ctx, std::size_t run, const stats::Histogram& h) {
  const auto sm = stats::summarize(h);
  return "<div>" + html_escape(ctx.label(run, "")) + (ctx.multi() ? ": " : "") +
         html_escape(fmt::format("p50 {} \xC2\xB5s, p99 {} \xC2\xB5s, p99.9 {} \xC2\xB5s, "
                                 "max {} \xC2\xB5s, {} samples",
                                 format_us(static_cast<double>(sm.p50)),
                                 format_us(static_cast<double>(sm.p99)),
                                 format_us(static_cast<double>(sm.p999)),
                                 format_us(static_cast<double>(sm.max)), sm.count)) +
         "</div>";
}

}  // namespace

std::string cdf_plots(const Context& ctx, const std::vector<CaseGroup>& groups) {
  std::string out = "<h2 id=\"cdf\">Latency distributions</h2><div class=\"figs\">";
  int shown = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    svg::Plot plot;
    plot.id = "plot-cdf-" + std::to_string(g);
    plot.title = "Latency CDF: " + groups[g].id;
    plot.x = {"latency (\xC2\xB5s)", true, 10, svg::TickFormat::number, {}, {}, false};
    plot.y = {
        "fraction of samples \xE2\x89\xA4 x", false, 10, svg::TickFormat::number, 0.0, 1.0, false};
    plot.height = 300;
    plot.width = 570;
    std::string caption;
    std::map<std::size_t, std::size_t> per_run;
    for (const auto& ref : groups[g].refs) {
      const stats::Histogram h = merged_latency(*ref.c);
      if (h.count() == 0) continue;
      svg::Series s;
      s.label = ctx.label(ref.run, fmt::format("{} samples", h.count()));
      ctx.style_line(s, ref.run, per_run[ref.run]++);
      s.points = cdf_points(h);
      caption += cdf_caption_line(ctx, ref.run, h);
      plot.series.push_back(std::move(s));
    }
    if (plot.series.empty()) continue;
    plot.hlines.push_back({0.5, "", "#999999", "2 3"});
    plot.hlines.push_back({0.99, "", "#999999", "2 3"});
    const bool regime = has_regime(*groups[g].refs.front().c);
    caption += regime ? "<div>Regime latency: from the intended issue time to the confirmation "
                        "(whole round trips, not halved).</div>"
                      : "";
    caption +=
        "<div>Histogram merged over the repetitions; each step is a histogram bucket "
        "(values within 0.39%). Dotted lines: p50 and p99.</div>";
    out += figure(plot, groups[g].id, caption);
    ++shown;
  }
  out += "</div>";
  if (shown == 0) out += "<p class=\"note\">No case recorded latency samples.</p>";
  return out;
}

}  // namespace fabricbench::results::report
