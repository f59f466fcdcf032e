// The "Fabric maps" section: per all-pairs case and run, a heat map of the NxN pair figures
// (each cell's color is its distance from the best pair: its share of the best bandwidth, or the
// best latency's share of its latency), the cells of a bad link and the rows and columns of a bad
// node outlined, and the findings with their evidence. Patterns incast and shift: the same heat
// map of the directed matrix (row sends to column, colored by the share of the best flow) and
// each step's aggregate.
#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/core.h>

#include "results/json_read.hpp"
#include "results/report/format.hpp"
#include "results/report/sections.hpp"
#include "results/report/svg.hpp"

namespace fabricbench::results::report {

using detail::flag_at;
using detail::is_index;
using detail::member;
using detail::number_at;
using detail::text_at;
using nlohmann::json;

namespace {

constexpr int kCell = 34;
constexpr int kLabel = 120;

bool has_map(const CaseResult& c) {
  return c.summary.is_object() && c.summary.contains("map") && c.summary["map"].is_object();
}

// 1 at the best pair, falling towards 0: green (1) through yellow to red (<= 0.25).
std::string cell_color(double share) {
  const double t = std::clamp((share - 0.25) / 0.75, 0.0, 1.0);
  const int red = t > 0.5 ? static_cast<int>(std::lround(255 * (1 - t) * 2)) : 255;
  const int green = t < 0.5 ? static_cast<int>(std::lround(200 * t * 2)) : 200;
  return fmt::format("rgb({},{},60)", red, green);
}

bool contains_pair(const json& pairs, std::size_t a, std::size_t b) {
  for (const auto& p : pairs) {
    if (!p.is_array() || p.size() != 2 || !is_index(p[0]) || !is_index(p[1])) {
      continue;
    }
    const auto x = p[0].get<std::size_t>();
    const auto y = p[1].get<std::size_t>();
    if ((x == a && y == b) || (x == b && y == a)) return true;
  }
  return false;
}

bool contains_node(const json& nodes, std::size_t n) {
  return std::any_of(nodes.begin(), nodes.end(),
                     [&](const json& v) { return is_index(v) && v.get<std::size_t>() == n; });
}

std::string heat_map(const json& m) {
  const json& matrix = member(m, "matrix");
  const json& nodes = member(m, "nodes");
  const json& verdict = member(m, "verdict");
  const bool bandwidth = text_at(m, "metric") == "bandwidth";
  const double ref = number_at(m, "reference").value_or(std::nan(""));
  const std::size_t n = nodes.is_array() ? nodes.size() : 0;
  const int size = kLabel + static_cast<int>(n) * kCell + 10;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{0}\" role=\"img\">", size);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string host = html_escape(text_at(nodes[i], "host"));
    const int pos = kLabel + static_cast<int>(i) * kCell + kCell / 2;
    svg +=
        fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{} ({})</text>",
                    kLabel - 4, pos + 4, host, i);
    svg += fmt::format(
        "<text x=\"{0}\" y=\"{1}\" font-size=\"11\" text-anchor=\"start\" "
        "transform=\"rotate(-60 {0} {1})\">{2}</text>",
        pos, kLabel - 4, i);
  }
  for (std::size_t a = 0; a < n && matrix.is_array() && a < matrix.size(); ++a) {
    for (std::size_t b = 0; b < n && matrix[a].is_array() && b < matrix[a].size(); ++b) {
      const int x = kLabel + static_cast<int>(b) * kCell;
      const int y = kLabel + static_cast<int>(a) * kCell;
      const json& v = matrix[a][b];
      if (!v.is_number() || !std::isfinite(ref) || ref <= 0) {
        svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#eee\"/>", x,
                           y, kCell, kCell);
        continue;
      }
      const double value = v.get<double>();
      const double share = bandwidth ? value / ref : (value > 0 ? ref / value : 0);
      const bool bad = contains_pair(member(verdict, "bad_links"), a, b) ||
                       contains_node(member(verdict, "bad_nodes"), a) ||
                       contains_node(member(verdict, "bad_nodes"), b);
      svg += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"{}\" "
          "stroke-width=\"{}\"><title>{} {} {}: {} {}</title></rect>",
          x, y, kCell, kCell, cell_color(share), bad ? "#000" : "#fff", bad ? 2 : 1, a,
          flag_at(m, "directed") ? "&#8594;" : "-", b, format_number(value),
          html_escape(text_at(m, "unit")));
      svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
                         x + kCell / 2, y + kCell / 2 + 3, format_number(value));
    }
  }
  svg += "</svg>";
  return svg;
}

// incast, shift: what each step's flows added up to.
std::string steps_list(const json& m) {
  const json& steps = member(m, "steps");
  const json& nodes = member(m, "nodes");
  if (!steps.is_array() || steps.empty()) return "";
  std::string out = "<ul>";
  for (const auto& step : steps) {
    const auto aggregate = number_at(step, "aggregate");
    const std::string value =
        aggregate ? format_number(*aggregate) + " " + html_escape(text_at(m, "unit")) : "-";
    const json& target = member(step, "target");
    if (is_index(target) && nodes.is_array() && target.get<std::size_t>() < nodes.size()) {
      out += fmt::format("<li>incast into {} ({}): {}</li>",
                         html_escape(text_at(nodes[target.get<std::size_t>()], "host")),
                         target.get<std::size_t>(), value);
    } else {
      out += fmt::format("<li>shift {}: {}</li>", number_at(step, "shift").value_or(0), value);
    }
  }
  return out + "</ul>";
}

std::string flows_figure(const Context& ctx, std::size_t run, const CaseResult& c) {
  const json& m = c.summary["map"];
  return "<figure><figcaption><code>" + html_escape(ctx.label(run, c.id)) + "</code>: pattern " +
         html_escape(text_at(m, "pattern")) + ", " + html_escape(text_at(m, "metric")) + " (" +
         html_escape(text_at(m, "unit")) +
         ") of every directed flow, row sends to column; each step's aggregate below</figcaption>" +
         heat_map(m) + steps_list(m) + "</figure>";
}

std::string map_figure(const Context& ctx, std::size_t run, const CaseResult& c) {
  const json& m = c.summary["map"];
  if (flag_at(m, "directed")) return flows_figure(ctx, run, c);
  const json& verdict = member(m, "verdict");
  std::string out = "<figure><figcaption><code>" + html_escape(ctx.label(run, c.id)) +
                    "</code>: " + html_escape(text_at(m, "metric")) + " (" +
                    html_escape(text_at(m, "unit")) + ") of every pair; ";
  out += flag_at(verdict, "clean") ? "clean" : "<strong>bad node or link found</strong>";
  out += "</figcaption>" + heat_map(m);
  const json& findings = member(verdict, "findings");
  if (findings.is_array() && !findings.empty()) {
    out += "<ul>";
    for (const auto& f : findings) {
      out += "<li><strong>" + html_escape(text_at(f, "kind")) +
             "</strong>: " + html_escape(text_at(f, "evidence")) + "</li>";
    }
    out += "</ul>";
  }
  return out + "</figure>";
}

}  // namespace

std::string map_plots(const Context& ctx, const std::vector<CaseGroup>& groups) {
  std::string out = "<h2 id=\"maps\">Fabric maps</h2>";
  int shown = 0;
  for (const auto& g : groups) {
    for (const auto& ref : g.refs) {
      if (!has_map(*ref.c)) continue;
      out += map_figure(ctx, ref.run, *ref.c);
      ++shown;
    }
  }
  if (shown == 0)
    out += "<p class=\"note\">No fabric map (pattern all_pairs, incast or shift).</p>";
  return out;
}

}  // namespace fabricbench::results::report
