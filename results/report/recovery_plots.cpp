// The "Recovery curves" section: per fault case, the throughput per bin of each repetition with
// the fault window and the baseline, and the recovery metrics per repetition.
#include <algorithm>
#include <map>
#include <utility>

#include <fmt/core.h>

#include "results/json_read.hpp"
#include "results/report/case_facts.hpp"
#include "results/report/format.hpp"
#include "results/report/html.hpp"
#include "results/report/sections.hpp"

namespace fabricbench::results::report {

using detail::member;
using detail::number_at;
using detail::text_at;
using nlohmann::json;

namespace {

// The repetition's curve: Gb/s per bin of its interval series or, for a regime, of its measured
// phase's bins (bytes confirmed per bin).
std::vector<svg::Point> recovery_points(const Repetition& rep) {
  std::vector<svg::Point> points;
  for (const auto& p : rep.intervals) {
    if (p.length_ns == 0) continue;
    points.push_back({bin_mid_s(p.start_ns, p.length_ns),
                      static_cast<double>(p.bytes) * 8 / static_cast<double>(p.length_ns),
                      {},
                      {},
                      ""});
  }
  const json& bins = member(member(rep.regime, "phase"), "intervals");
  for (std::size_t i = 0; rep.intervals.empty() && bins.is_array() && i < bins.size(); ++i) {
    const auto b0 = number_at(bins[i], "start_ns");
    const auto len = number_at(bins[i], "length_ns");
    const auto bytes = number_at(bins[i], "completed_bytes");
    if (!b0 || !len || !bytes || *len <= 0) continue;
    points.push_back({bin_mid_s(static_cast<std::uint64_t>(*b0), static_cast<std::uint64_t>(*len)),
                      *bytes * 8 / *len,
                      {},
                      {},
                      ""});
  }
  return points;
}

// The row of the metrics table of one repetition with a fault.
std::string recovery_row(const Context& ctx, std::size_t run, const Repetition& rep) {
  const json& f = rep.fault;
  const json& rec = member(f, "recovery");
  const auto start = number_at(f, "start_ns");
  const auto clear = number_at(f, "clear_ns");
  const std::string window =
      start && clear ? format_duration(start) + " \xE2\x80\x93 " + format_duration(clear)
                     : "not injected";
  const auto base = number_at(rec, "baseline_gbps");
  return "<tr><td>" + html_escape(ctx.names[run]) + "</td><td class=\"num\">" +
         std::to_string(rep.index) + "</td><td>" +
         html_escape(text_at(f, "kind") + " (" + text_at(f, "backend") + ")") + "</td><td>" +
         html_escape(text_at(f, "outcome")) +
         (text_at(f, "error").empty() ? "" : "<br>" + html_escape(text_at(f, "error"))) +
         "</td><td>" + html_escape(window) + "</td><td>" +
         html_escape(base ? fmt::format("{:.4g} Gb/s", *base) : "-") + "</td><td>" +
         html_escape(format_duration(number_at(rec, "stall_ns"))) + "</td><td>" +
         html_escape(format_duration(number_at(rec, "first_byte_after_clear_ns"))) + "</td><td>" +
         html_escape(format_duration(number_at(rec, "ttr90_from_clear_ns")) + " / " +
                     format_duration(number_at(rec, "ttr99_from_clear_ns"))) +
         "</td><td>" +
         html_escape(format_duration(number_at(rec, "ttr90_from_start_ns")) + " / " +
                     format_duration(number_at(rec, "ttr99_from_start_ns"))) +
         "</td><td>" + html_escape(format_bytes_approx(number_at(rec, "deficit_bytes"))) +
         "</td><td>" +
         html_escape(format_duration(number_at(rec, "detect_link_ns")) + " / " +
                     format_duration(number_at(rec, "detect_error_ns"))) +
         "</td></tr>";
}

// The fault window (a band) and the baseline (a reference line in the curve's color) of one
// repetition; only the run's first of each is labelled.
struct FaultMarks {
  bool first_band = true;
  bool first_base = true;

  void add(svg::Plot& plot, const Context& ctx, std::size_t run, const Repetition& rep,
           const std::string& color);
};

void FaultMarks::add(svg::Plot& plot, const Context& ctx, std::size_t run, const Repetition& rep,
                     const std::string& color) {
  const json& f = rep.fault;
  const auto start = number_at(f, "start_ns");
  const auto clear = number_at(f, "clear_ns");
  if (start && clear) {
    svg::Band b;
    b.x0 = *start / 1e9;
    b.x1 = std::max(*clear, *start) / 1e9;
    b.label = first_band ? ctx.label(run, "fault window " + text_at(f, "kind")) : "";
    b.css_class = "band fault-window";
    b.color = ctx.multi() ? kPalette[run % kPaletteSize] : "#d62728";
    plot.bands.push_back(std::move(b));
    first_band = false;
  }
  if (const auto base = number_at(member(f, "recovery"), "baseline_gbps")) {
    plot.hlines.push_back({*base, first_base ? ctx.label(run, "baseline") : "", color, "6 3"});
    first_base = false;
  }
}

// The figure of one fault case: the curves and, in its caption, the metrics table.
std::string recovery_figure(const Context& ctx, const CaseGroup& group, std::size_t g) {
  svg::Plot plot;
  plot.id = "plot-recovery-" + std::to_string(g);
  plot.title = "Recovery: " + group.id;
  plot.x = phase_time_axis();
  plot.y = {"throughput per bin (Gb/s)", false, 10, svg::TickFormat::number, {}, {}, true};
  std::string table =
      "<table "
      "class=\"recovery\"><thead><tr><th>run</th><th>rep</th><th>fault</th><th>outcome</th>"
      "<th>window</th><th>baseline</th><th>stall</th><th>first byte after clear</th>"
      "<th>ttr90 / ttr99 from clear</th><th>ttr90 / ttr99 from start</th><th>deficit</th>"
      "<th>detect (link / error)</th></tr></thead><tbody>";
  std::map<std::size_t, std::size_t> per_run;
  for (const auto& ref : group.refs) {
    FaultMarks marks;
    for (const auto& rep : ref.c->repetitions) {
      if (!rep.fault.is_object()) continue;
      svg::Series s;
      s.label = ctx.label(ref.run, "rep " + std::to_string(rep.index));
      ctx.style_line(s, ref.run, per_run[ref.run]++);
      s.points = recovery_points(rep);
      marks.add(plot, ctx, ref.run, rep, s.color);
      table += recovery_row(ctx, ref.run, rep);
      plot.series.push_back(std::move(s));
    }
  }
  table += "</tbody></table>";
  return figure(plot, group.id,
                "Payload bytes per bin &times; 8 / bin length. Shaded: the fault window from the "
                "first inject to the last clear; dashed: the baseline (median bytes per bin "
                "before the fault). Metrics per repetition (METHODOLOGY.md \"Faults and "
                "recovery\"; '-': never within the run):" +
                    table);
}

}  // namespace

std::string recovery_plots(const Context& ctx, const std::vector<CaseGroup>& groups) {
  std::string out = "<h2 id=\"recovery\">Recovery curves</h2>";
  int shown = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& refs = groups[g].refs;
    if (std::none_of(refs.begin(), refs.end(),
                     [](const CaseRef& ref) { return has_fault(*ref.c); })) {
      continue;
    }
    out += recovery_figure(ctx, groups[g], g);
    ++shown;
  }
  if (shown == 0) out += "<p class=\"note\">No case with a fault.</p>";
  return out;
}

}  // namespace fabricbench::results::report
