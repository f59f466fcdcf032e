#pragma once
// The SVG charts of `fabricbench report` (part of results/report.hpp's API): linear or log axes
// with "nice" ticks, polylines with gaps, markers, error bars, shaded bands, reference lines and
// a legend. Every text that reaches the SVG goes through html_escape.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fabricbench::results::report {

// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(std::string_view text);

namespace svg {

// Heckbert's nice number: the 1, 2, 5 x 10^k closest to x (round) or at least x (!round).
double nice_number(double x, bool round);

// Ticks of a linear axis covering [lo, hi] with about `target` steps of a nice size (1, 2, 5 x
// 10^k). The first tick is at or below lo, the last at or above hi (the axis domain).
// lo == hi is widened (by 1, or 10% of |lo|). Values are rounded to the step (no 0.30000000004).
std::vector<double> linear_ticks(double lo, double hi, int target = 5);

// Ticks of a log axis covering [lo, hi] (both > 0): the powers of `base` from the one at or below
// lo to the one at or above hi. Base 10 with fewer than 3 decades adds 2 and 5 x 10^k; when
// there are more than `max_ticks` powers, every k-th is kept (the ends stay).
std::vector<double> log_ticks(double lo, double hi, double base = 10, int max_ticks = 12);

// Maps a data value to a pixel coordinate. Log scales map log(v); v <= 0 maps to NaN.
class Scale {
 public:
  static Scale linear(double d0, double d1, double r0, double r1);
  static Scale log(double d0, double d1, double r0, double r1);
  double map(double v) const;
  bool is_log() const noexcept { return log_; }
  double d0() const noexcept { return d0_; }
  double d1() const noexcept { return d1_; }

 private:
  Scale(bool log, double d0, double d1, double r0, double r1)
      : log_(log), d0_(d0), d1_(d1), r0_(r0), r1_(r1) {}
  bool log_;
  double d0_, d1_, r0_, r1_;
};

// Tick label text: plain numbers ("0.05", "250", "12k", "3.5M"), byte sizes ("64B", "4KiB",
// "1MiB"), or fractions shown as given ("0.9").
enum class TickFormat { number, bytes };
std::string format_tick(double v, TickFormat format);

enum class Marker { none, circle, square, triangle, diamond, cross };

struct Point {
  double x = 0;
  double y = 0;                // NaN: a gap in the line (the point is not drawn)
  std::optional<double> y_lo;  // error bar (drawn when both are set)
  std::optional<double> y_hi;
  std::string tip;  // tooltip (<title>), empty for none
};

struct Series {
  std::string label;  // legend text; empty: not in the legend
  std::string color = "#1f77b4";
  std::string dash;  // stroke-dasharray, empty for solid
  bool line = true;
  Marker marker = Marker::none;
  bool filled = true;
  std::string css_class;  // extra class on the series group
  std::vector<Point> points;
};

// A shaded x range (the fault window), drawn behind the data.
struct Band {
  double x0 = 0;
  double x1 = 0;
  std::string label;  // legend text
  std::string color = "#d62728";
  double opacity = 0.15;
  std::string css_class = "band";
};

// A horizontal reference line (baseline, a bound).
struct HLine {
  double y = 0;
  std::string label;
  std::string color = "#555555";
  std::string dash = "6 3";
};

struct Axis {
  std::string label;
  bool log = false;
  double base = 10;  // log axes: 10 or 2
  TickFormat format = TickFormat::number;
  std::optional<double> min;  // forced domain ends (else from the data, widened to ticks)
  std::optional<double> max;
  bool zero = false;  // linear: include 0 in the domain
};

struct Plot {
  std::string id;  // the <svg> element's id (unique in the document; [A-Za-z0-9_-] kept)
  std::string title;
  Axis x;
  Axis y;
  std::vector<Series> series;
  std::vector<Band> bands;
  std::vector<HLine> hlines;
  int width = 760;
  int height = 340;  // plot area and axes; the legend adds rows below
};

// The <svg> element of a plot (inline in HTML: no xmlns needed). A plot without any drawable
// point still renders axes and a "no data" note.
std::string render(const Plot& plot);

}  // namespace svg

}  // namespace fabricbench::results::report
