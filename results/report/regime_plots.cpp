// The "Regimes" section: latency vs offered load, one plot per workload (floor and realistic
// latencies, search probes), and the per-bin series of each regime case with a measured phase.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include <fmt/core.h>

#include "core/units.hpp"
#include "results/json_read.hpp"
#include "results/report/case_facts.hpp"
#include "results/report/format.hpp"
#include "results/report/html.hpp"
#include "results/report/sections.hpp"

namespace fabricbench::results::report {

using detail::flag_at;
using detail::member;
using detail::number_at;
using detail::text_at;
using nlohmann::json;

namespace {

// ---- latency vs offered load ----

// The workload of a regime case: its suite, transport and message size (one load plot).
std::string load_key(const CaseResult& c) {
  const auto size = message_size(c);
  std::string key = c.suite;
  key += " over ";
  key += c.transport;
  key += ", ";
  key += size ? core::format_size(*size) : std::string("?");
  return key;
}

// The regime cases by workload, workloads in the order of their first case.
struct Workloads {
  std::vector<std::string> order;
  std::map<std::string, std::vector<CaseRef>> cases;
};

Workloads regime_workloads(const std::vector<CaseGroup>& groups) {
  Workloads w;
  for (const auto& group : groups) {
    for (const auto& ref : group.refs) {
      if (!has_regime(*ref.c)) continue;
      const std::string key = load_key(*ref.c);
      if (!w.cases.contains(key)) w.order.push_back(key);
      w.cases[key].push_back(ref);
    }
  }
  return w;
}

// One run's points of a load plot and its caption lines.
struct LoadPoints {
  std::vector<svg::Point> p50, p99, pass, fail;
  std::set<std::string> searches;  // found_by of the searches already shown
  std::set<double> bounds;         // queue-age bounds of the searches
  std::string caption;

  bool add_latency(const CaseResult& c, const Repetition& rep);
  void add_search(const Context& ctx, std::size_t run, const json& search);
};

// Floor (at offered rate 0) and realistic (at their rate) latencies. False when a realistic
// repetition has no rate: nothing else of the repetition is shown.
bool LoadPoints::add_latency(const CaseResult& c, const Repetition& rep) {
  const json& rg = rep.regime;
  const std::string kind = text_at(rg, "kind");
  if (kind != "floor" && kind != "realistic") return true;
  const json& h = member(rg, "headline");
  const std::string what = c.id + " rep " + std::to_string(rep.index);
  const double x =
      kind == "floor" ? 0.0 : number_at(member(rg, "rate"), "ops_per_s").value_or(kNaN);
  if (!std::isfinite(x)) return false;
  const auto a = number_at(h, "lat_p50_ns");
  const auto b = number_at(h, "lat_p99_ns");
  const std::string at = kind == "floor" ? " (floor: zero load)" : " at " + format_rate(x);
  p50.push_back(
      {x, a ? *a / 1000 : kNaN, {}, {}, what + at + ": p50 " + format_us(a) + " \xC2\xB5s"});
  p99.push_back(
      {x, b ? *b / 1000 : kNaN, {}, {}, what + at + ": p99 " + format_us(b) + " \xC2\xB5s"});
  return true;
}

// A rate search (each once per run): a caption line, its bound, its probes' queue-age p99.
void LoadPoints::add_search(const Context& ctx, std::size_t run, const json& search) {
  const std::string found_by = text_at(search, "found_by");
  if (!searches.insert(found_by).second) return;
  if (const auto bound = number_at(search, "queue_age_bound_ns")) bounds.insert(*bound);
  const auto rate = number_at(search, "sustainable_rate_ops_per_s");
  const json& probes = member(search, "probes");
  caption += "<div>" + html_escape(ctx.label(run, "search by " + found_by)) + ": " +
             html_escape(fmt::format(
                 "sustainable {} ({}), {} probe(s), {}", format_rate(rate),
                 flag_at(search, "converged") ? "converged" : "not converged",
                 probes.is_array() ? probes.size() : 0,
                 "queue-age bound " + format_duration(number_at(search, "queue_age_bound_ns")))) +
             "</div>";
  for (const auto& probe : probes) {
    const auto x = number_at(probe, "rate_ops_per_s");
    const auto y = number_at(probe, "age_p99_ns");
    if (!x || !y) continue;
    (flag_at(probe, "sustainable") ? pass : fail)
        .push_back({*x,
                    std::max(*y, 1.0) / 1000,
                    {},
                    {},
                    fmt::format("probe at {}: {}", format_rate(x), text_at(probe, "reason"))});
  }
}

// Run r's series (p50, p99, sustainable and unsustainable probes) and bounds in the load plot.
void add_load_series(svg::Plot& plot, const Context& ctx, std::size_t r, LoadPoints& pts) {
  auto by_x = [](const svg::Point& a, const svg::Point& b) { return a.x < b.x; };
  std::stable_sort(pts.p50.begin(), pts.p50.end(), by_x);
  std::stable_sort(pts.p99.begin(), pts.p99.end(), by_x);
  if (!pts.p50.empty()) {
    svg::Series s;
    s.label = ctx.label(r, "latency p50");
    ctx.style(s, r, 0);
    s.points = std::move(pts.p50);
    plot.series.push_back(std::move(s));
    svg::Series s99;
    s99.label = ctx.label(r, "latency p99");
    ctx.style(s99, r, 1);
    s99.dash = "6 3";
    s99.points = std::move(pts.p99);
    plot.series.push_back(std::move(s99));
  }
  auto probes = [&](std::vector<svg::Point>& points, const char* what, std::size_t k,
                    svg::Marker marker, const char* css_class) {
    if (points.empty()) return;
    svg::Series s;
    s.label = ctx.label(r, what);
    ctx.style(s, r, k);
    s.line = false;
    s.marker = marker;
    s.css_class = css_class;
    s.points = std::move(points);
    plot.series.push_back(std::move(s));
  };
  probes(pts.pass, "probe queue-age p99: sustainable", 2, svg::Marker::circle, "probe-pass");
  probes(pts.fail, "probe queue-age p99: not sustainable", 3, svg::Marker::cross, "probe-fail");
  for (const double b : pts.bounds) {
    plot.hlines.push_back({b / 1000, ctx.label(r, "queue-age bound " + format_duration(b)),
                           ctx.multi() ? kPalette[r % kPaletteSize] : "#999999", "2 3"});
  }
}

std::string load_figure(const Context& ctx, const std::string& workload,
                        const std::vector<CaseRef>& cases, std::size_t w) {
  svg::Plot plot;
  plot.id = "plot-load-" + std::to_string(w);
  plot.title = "Latency vs offered load: " + workload;
  plot.x = {
      "offered rate per pair (operations/s)", false, 10, svg::TickFormat::number, {}, {}, true};
  plot.y = {"latency / queue age (\xC2\xB5s)", true, 10, svg::TickFormat::number, {}, {}, false};
  plot.height = 360;
  std::string caption;
  for (std::size_t r = 0; r < ctx.runs.size(); ++r) {
    LoadPoints pts;
    for (const auto& ref : cases) {
      if (ref.run != r) continue;
      for (const auto& rep : ref.c->repetitions) {
        if (!rep.regime.is_object()) continue;
        if (!pts.add_latency(*ref.c, rep)) continue;
        const json& search = member(rep.regime, "search");
        if (search.is_object()) pts.add_search(ctx, r, search);
      }
    }
    caption += pts.caption;
    add_load_series(plot, ctx, r, pts);
  }
  caption +=
      "<div>Latency from the intended issue time to the confirmation (not halved). Floor at "
      "offered rate 0 (one operation in flight), realistic cases at their offered rate. "
      "Search probes: queue-age p99 at the probed rate, filled circles sustainable, crosses "
      "not (hover for the reason).</div>";
  return figure(plot, "", caption);
}

// ---- regime interval series ----

// The two plots of one case: operations per bin, latency and queue age per bin.
struct PhasePlots {
  svg::Plot rate;
  svg::Plot lat;
  std::string caption;  // of the rate plot
  std::size_t k = 0;    // styles used so far
};

PhasePlots phase_frames(const CaseGroup& group, std::size_t g) {
  const std::string n = std::to_string(g);
  const svg::Axis rate_y{"operations/s", false, 10, svg::TickFormat::number, {}, {}, true};
  const svg::Axis lat_y{"\xC2\xB5s", true, 10, svg::TickFormat::number, {}, {}, false};
  return {
      time_series_plot("plot-regime-rate-" + n, "Operations per bin: " + group.id, rate_y),
      time_series_plot("plot-regime-lat-" + n, "Latency and queue age per bin: " + group.id, lat_y),
      "", 0};
}

// The measured phase's bins of one repetition: offered, completed and (when any) refused
// operations per second; latency and queue-age p99.
void add_phase_series(PhasePlots& plots, const Context& ctx, const CaseRef& ref,
                      const Repetition& rep, const json& bins) {
  const std::string tag = ctx.runs.size() > 1 || ref.c->repetitions.size() > 1
                              ? ctx.label(ref.run, "rep " + std::to_string(rep.index)) + " "
                              : "";
  svg::Series offered, completed, refused, p99, age;
  offered.label = tag + "offered";
  completed.label = tag + "completed";
  refused.label = tag + "refused";
  p99.label = tag + "latency p99";
  age.label = tag + "queue-age p99";
  const std::size_t k = plots.k;
  ctx.style(offered, ref.run, k);
  ctx.style(completed, ref.run, k + 1);
  ctx.style(refused, ref.run, k + 2);
  ctx.style(p99, ref.run, k);
  ctx.style(age, ref.run, k + 1);
  plots.k += 3;
  for (svg::Series* s : {&offered, &completed, &refused, &p99, &age}) s->marker = svg::Marker::none;
  completed.dash = "6 3";
  refused.dash = "2 2";
  age.dash = "6 3";
  bool any_refused = false;
  for (const auto& b : bins) {
    const auto start = number_at(b, "start_ns");
    const auto len = number_at(b, "length_ns");
    if (!start || !len || *len <= 0) continue;
    const double x = (*start + *len / 2) / 1e9;
    auto per_s = [&](const char* key) { return number_at(b, key).value_or(0) * 1e9 / *len; };
    offered.points.push_back({x, per_s("offered_ops"), {}, {}, ""});
    completed.points.push_back({x, per_s("completed_ops"), {}, {}, ""});
    const double ref_ops = per_s("refused_ops");
    any_refused = any_refused || ref_ops > 0;
    refused.points.push_back({x, ref_ops, {}, {}, ""});
    const auto lp = number_at(b, "lat_p99_ns");
    const auto ap = number_at(b, "age_p99_ns");
    p99.points.push_back({x, lp ? *lp / 1000 : kNaN, {}, {}, ""});
    age.points.push_back({x, ap ? std::max(*ap, 1.0) / 1000 : kNaN, {}, {}, ""});
  }
  plots.rate.series.push_back(std::move(offered));
  plots.rate.series.push_back(std::move(completed));
  if (any_refused) plots.rate.series.push_back(std::move(refused));
  plots.lat.series.push_back(std::move(p99));
  plots.lat.series.push_back(std::move(age));
}

// An overload repetition: its window (a band in both plots) and its figures (a caption line).
void add_overload(PhasePlots& plots, const Context& ctx, std::size_t run, const Repetition& rep,
                  const json& ov) {
  const auto before = number_at(ov, "before_ns");
  const auto during = number_at(ov, "during_ns");
  if (before && during) {
    svg::Band b;
    b.x0 = *before / 1e9;
    b.x1 = (*before + *during) / 1e9;
    b.label = ctx.label(run, fmt::format("overload x{:g}", number_at(ov, "factor").value_or(0)));
    b.css_class = "band overload-window";
    b.color = "#ff7f0e";
    plots.rate.bands.push_back(b);
    plots.lat.bands.push_back(b);
  }
  plots.caption +=
      "<div>" + html_escape(ctx.label(run, "rep " + std::to_string(rep.index))) + ": " +
      html_escape(fmt::format(
          "drain {}, peak backlog {}, peak queue age {}, goodput during {}, "
          "recovery {} (excess {})",
          member(ov, "drain_ns").is_number() ? format_duration(number_at(ov, "drain_ns")) : "never",
          format_number(number_at(ov, "peak_backlog_ops").value_or(kNaN)),
          format_duration(number_at(ov, "peak_age_ns")),
          format_rate(number_at(ov, "goodput_during_ops_per_s")),
          format_rate(number_at(ov, "recovery_ops_per_s")),
          format_rate(number_at(ov, "recovery_excess_ops_per_s")))) +
      "</div>";
}

// One repetition with a measured phase: its series, overload window, deadline and caption.
void add_phase(PhasePlots& plots, const Context& ctx, const CaseRef& ref, const Repetition& rep) {
  const json& phase = member(rep.regime, "phase");
  const json& bins = member(phase, "intervals");
  if (!bins.is_array()) return;
  add_phase_series(plots, ctx, ref, rep, bins);
  const json& ov = member(rep.regime, "overload");
  if (ov.is_object()) add_overload(plots, ctx, ref.run, rep, ov);
  if (const auto deadline = number_at(rep.regime, "deadline_ns")) {
    plots.lat.hlines.push_back(
        {*deadline / 1000, ctx.label(ref.run, "deadline"), "#d62728", "2 3"});
  }
  if (const auto length = number_at(phase, "length_ns")) {
    plots.caption +=
        "<div>" + html_escape(ctx.label(ref.run, "rep " + std::to_string(rep.index))) + ": " +
        html_escape(fmt::format("{} regime, arrivals stop at {}; bins after that hold the drain.",
                                text_at(rep.regime, "kind"), format_duration(length))) +
        "</div>";
  }
}

bool has_phase_bins(const CaseGroup& group) {
  for (const auto& ref : group.refs) {
    for (const auto& rep : ref.c->repetitions) {
      if (member(member(rep.regime, "phase"), "intervals").is_array()) return true;
    }
  }
  return false;
}

std::string phase_figures(const Context& ctx, const CaseGroup& group, std::size_t g) {
  PhasePlots plots = phase_frames(group, g);
  for (const auto& ref : group.refs) {
    for (const auto& rep : ref.c->repetitions) add_phase(plots, ctx, ref, rep);
  }
  std::string out = "<div class=\"figs\">";
  out += figure(plots.rate, group.id, plots.caption);
  out += figure(plots.lat, group.id,
                "Latency p99 of the confirmations in each bin; queue-age p99: the age of the "
                "oldest unconfirmed operation, sampled every sample_interval.");
  out += "</div>";
  return out;
}

}  // namespace

std::string regime_plots(const Context& ctx, const std::vector<CaseGroup>& groups) {
  std::string out = "<h2 id=\"regimes\">Regimes</h2>";
  const Workloads workloads = regime_workloads(groups);
  if (workloads.order.empty()) {
    out += "<p class=\"note\">No case ran a floor, realistic, overload or search regime.</p>";
    return out;
  }
  out += "<h3>Latency vs offered load</h3>";
  for (std::size_t w = 0; w < workloads.order.size(); ++w) {
    const std::string& key = workloads.order[w];
    out += load_figure(ctx, key, workloads.cases.at(key), w);
  }
  out += "<h3>Regime interval series</h3>";
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (has_phase_bins(groups[g])) out += phase_figures(ctx, groups[g], g);
  }
  return out;
}

}  // namespace fabricbench::results::report
