#pragma once
// Internal to the report: the runs being reported (their labels and the styles of their series)
// and the union of their cases.
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "results/report/svg.hpp"
#include "results/run_document.hpp"

namespace fabricbench::results::report {

inline constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                           "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
inline constexpr std::size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);
inline constexpr svg::Marker kMarkers[] = {svg::Marker::circle, svg::Marker::square,
                                           svg::Marker::triangle, svg::Marker::diamond};
inline constexpr const char* kDashes[] = {"", "6 3", "2 2", "8 3 2 3"};
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Context {
  const std::vector<RunDocument>& runs;
  std::vector<std::string> names;  // unique run labels (run ids)
  bool multi() const { return runs.size() > 1; }
  // Several runs: "<run> · <what>" (the run's name alone for an empty what); one run: what.
  std::string label(std::size_t run, const std::string& what) const;
  // Several runs: the run's color, the k-th series of the run gets the k-th marker.
  // One run: the k-th color.
  void style(svg::Series& s, std::size_t run, std::size_t k) const;
  // Lines without markers (time series, CDFs): several runs: the run's color, the k-th line of
  // the run the k-th dash pattern. One run: the k-th color, solid.
  void style_line(svg::Series& s, std::size_t run, std::size_t k) const;

 private:
  std::pair<const char*, std::size_t> color_and_variant(std::size_t run, std::size_t k) const;
};

// The x axis of the time series: seconds since the start of the measured phase, from 0.
svg::Axis phase_time_axis();
// A half-width plot (570 x 300) of a time series over phase_time_axis().
svg::Plot time_series_plot(std::string id, std::string title, svg::Axis y);

// The run ids, "<id> (2)", "<id> (3)" for repeats.
std::vector<std::string> run_names(const std::vector<RunDocument>& runs);

// One run's case.
struct CaseRef {
  std::size_t run;
  const CaseResult* c;
};
// The cases of one id over the runs.
struct CaseGroup {
  std::string id;
  std::vector<CaseRef> refs;
};

// Every case id of the runs, in the order of first appearance.
std::vector<CaseGroup> union_cases(const std::vector<RunDocument>& runs);

}  // namespace fabricbench::results::report
