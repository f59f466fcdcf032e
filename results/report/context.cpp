// The runs being reported: labels, series styles, the union of their cases.
#include "results/report/context.hpp"

#include <map>
#include <utility>

namespace fabricbench::results::report {

std::string Context::label(std::size_t run, const std::string& what) const {
  if (!multi()) return what;
  if (what.empty()) return names[run];
  std::string out = names[run];
  out += " \xC2\xB7 ";  // middle dot
  out += what;
  return out;
}

// Several runs: the run's color and the k-th variant (marker or dash pattern); one run: the k-th
// color and, past the palette, the next variant.
std::pair<const char*, std::size_t> Context::color_and_variant(std::size_t run,
                                                               std::size_t k) const {
  if (multi()) return {kPalette[run % kPaletteSize], k % 4};
  return {kPalette[k % kPaletteSize], (k / kPaletteSize) % 4};
}

void Context::style(svg::Series& s, std::size_t run, std::size_t k) const {
  const auto [color, variant] = color_and_variant(run, k);
  s.color = color;
  s.marker = kMarkers[variant];
}

void Context::style_line(svg::Series& s, std::size_t run, std::size_t k) const {
  const auto [color, variant] = color_and_variant(run, k);
  s.marker = svg::Marker::none;
  s.color = color;
  s.dash = kDashes[variant];
}

svg::Plot time_series_plot(std::string id, std::string title, svg::Axis y) {
  svg::Plot plot;
  plot.id = std::move(id);
  plot.title = std::move(title);
  plot.x = phase_time_axis();
  plot.y = std::move(y);
  plot.height = 300;
  plot.width = 570;
  return plot;
}

svg::Axis phase_time_axis() {
  return {"time since the start of the measured phase (s)",
          false,
          10,
          svg::TickFormat::number,
          {},
          {},
          true};
}

std::vector<std::string> run_names(const std::vector<RunDocument>& runs) {
  std::vector<std::string> names;
  std::map<std::string, int> seen;
  for (const auto& r : runs) {
    const int n = ++seen[r.run_id];
    names.push_back(n == 1 ? r.run_id : r.run_id + " (" + std::to_string(n) + ")");
  }
  return names;
}

std::vector<CaseGroup> union_cases(const std::vector<RunDocument>& runs) {
  std::vector<CaseGroup> groups;
  std::map<std::string, std::size_t> index;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    for (const auto& c : runs[r].cases) {
      auto [it, inserted] = index.emplace(c.id, groups.size());
      if (inserted) groups.push_back({c.id, {}});
      groups[it->second].refs.push_back({r, &c});
    }
  }
  return groups;
}

}  // namespace fabricbench::results::report
