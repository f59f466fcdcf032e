// The "Collectives" section: per collective, bus bandwidth (GB/s, 1e9 bytes/s, as nccl-tests
// prints it) against size (nccl-tests' size column, log2 axis), one line per backend and data
// type (and run), from summary.collective: the median over the repetitions, bars from the
// minimum to the maximum. Out-of-place figures, like nccl-tests' first busbw column.
#include <algorithm>
#include <map>
#include <utility>

#include <fmt/core.h>

#include "core/units.hpp"
#include "results/json_read.hpp"
#include "results/report/format.hpp"
#include "results/report/html.hpp"
#include "results/report/sections.hpp"

namespace fabricbench::results::report {

using detail::member;
using detail::number_at;
using detail::text_at;

namespace {

// One run's points: collective -> line ("<backend> <type>") -> points; both in first-seen order.
struct CollectiveLines {
  std::map<std::string, std::map<std::string, std::vector<svg::Point>>> points;
  std::map<std::string, std::vector<std::string>> line_order;

  void add(const CaseResult& c, std::vector<std::string>& collectives);
};

void CollectiveLines::add(const CaseResult& c, std::vector<std::string>& collectives) {
  if (c.status != CaseStatus::ok) return;
  const nlohmann::json& s = member(c.summary, "collective");
  const std::string name = text_at(s, "collective");
  const auto size = number_at(s, "size_bytes");
  const nlohmann::json& busbw = member(member(s, "out_of_place"), "busbw_gbytes_per_s");
  const auto med = number_at(busbw, "median");
  if (name.empty() || !size || *size <= 0 || !med) return;
  if (std::find(collectives.begin(), collectives.end(), name) == collectives.end()) {
    collectives.push_back(name);
  }
  const std::string line = c.transport + " " + text_at(s, "type");
  auto& lines = points[name];
  if (!lines.contains(line)) line_order[name].push_back(line);
  const auto bytes = static_cast<std::uint64_t>(*size);
  lines[line].push_back(
      {*size, *med, number_at(busbw, "min"), number_at(busbw, "max"),
       fmt::format("{}\n{} {}: busbw {:.4g} GB/s", c.id, core::format_size(bytes), line, *med)});
}

// [A-Za-z0-9_-] of a collective's name, for an element id.
std::string id_part(const std::string& name) {
  std::string out;
  for (const char ch : name) {
    const bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
    out += keep ? ch : '_';
  }
  return out;
}

svg::Plot busbw_plot(const std::string& collective) {
  svg::Plot p;
  p.id = "plot-collective-" + id_part(collective);
  p.title = "Bus bandwidth vs size: " + collective + " (out of place, median over repetitions)";
  p.x = {"size (nccl-tests size column)", true, 2, svg::TickFormat::bytes, {}, {}, false};
  p.y = {"bus bandwidth (GB/s)", false, 10, svg::TickFormat::number, {}, {}, true};
  return p;
}

}  // namespace

std::string collective_plots(const Context& ctx) {
  std::vector<std::string> collectives;
  std::vector<CollectiveLines> runs(ctx.runs.size());
  for (std::size_t r = 0; r < ctx.runs.size(); ++r) {
    for (const auto& c : ctx.runs[r].cases) runs[r].add(c, collectives);
  }
  std::string out = "<h2 id=\"collectives\">Collectives</h2>";
  if (collectives.empty()) {
    return out + "<p class=\"note\">No collective case with a bus bandwidth.</p>";
  }
  for (const auto& name : collectives) {
    svg::Plot plot = busbw_plot(name);
    for (std::size_t r = 0; r < runs.size(); ++r) {
      const auto& order = runs[r].line_order[name];
      for (std::size_t k = 0; k < order.size(); ++k) {
        svg::Series s;
        s.label = ctx.label(r, order[k]);
        ctx.style(s, r, k);
        s.points = std::move(runs[r].points[name][order[k]]);
        std::stable_sort(s.points.begin(), s.points.end(),
                         [](const svg::Point& a, const svg::Point& b) { return a.x < b.x; });
        plot.series.push_back(std::move(s));
      }
    }
    out += figure(plot, "",
                  "Median <code>busbw</code> over the repetitions in GB/s (10<sup>9</sup> bytes/s, "
                  "as nccl-tests prints it); the bars span the repetitions' minimum and maximum. "
                  "One line per backend and data type.");
  }
  return out;
}

}  // namespace fabricbench::results::report
