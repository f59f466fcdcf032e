// Drawing the report's SVG charts: the frame, bands, grid and axes, data and legend.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "results/report/svg.hpp"

namespace fabricbench::results::report::svg {

namespace {

// Coordinates with one decimal: enough for a screen, keeps the file small.
std::string px(double v) {
  if (!std::isfinite(v)) return "0";
  std::string s = fmt::format("{:.1f}", v);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

std::string sanitize_id(std::string_view id) {
  std::string out;
  for (const char ch : id) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
    out += ok ? ch : '_';
  }
  if (out.empty()) out = "plot";
  return out;
}

// Approximate text width at the 12px sans-serif used for legends and ticks.
double text_width(std::string_view s) {
  return 6.6 * static_cast<double>(s.size());
}

struct Domain {
  double lo = 0;
  double hi = 1;
  std::vector<double> ticks;
};

// headroom: widen a linear axis by 4% above the data (y axes), so that a line at the maximum
// does not run along the frame.
Domain make_domain(const Axis& axis, std::vector<double> values, bool headroom) {
  Domain d;
  if (axis.log) {
    values.erase(std::remove_if(values.begin(), values.end(),
                                [](double v) { return !(v > 0) || !std::isfinite(v); }),
                 values.end());
  } else {
    values.erase(
        std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }),
        values.end());
    if (axis.zero) values.push_back(0);
  }
  if (axis.min) values.push_back(*axis.min);
  if (axis.max) values.push_back(*axis.max);
  double lo = axis.log ? 1 : 0;
  double hi = axis.log ? 10 : 1;
  if (!values.empty()) {
    lo = *std::min_element(values.begin(), values.end());
    hi = *std::max_element(values.begin(), values.end());
  }
  if (axis.min) lo = *axis.min;
  if (axis.max) hi = *axis.max;
  if (axis.log) {
    if (lo == hi) {
      lo /= axis.base;
      hi *= axis.base;
    }
    d.ticks = log_ticks(lo, hi, axis.base);
  } else {
    if (lo == 0 && hi == 0) hi = 1;  // all zeros: show [0, 1], not [-1, 1]
    if (headroom && !axis.max && hi > lo) hi += (hi - lo) * 0.04;
    d.ticks = linear_ticks(lo, hi);
  }
  d.lo = axis.min ? *axis.min : d.ticks.front();
  d.hi = axis.max ? *axis.max : d.ticks.back();
  if (axis.min || axis.max) {
    const double eps = (d.hi - d.lo) * 1e-9;
    std::vector<double> kept;
    for (const double t : d.ticks) {
      if (t >= d.lo - eps && t <= d.hi + eps) kept.push_back(t);
    }
    d.ticks = std::move(kept);
  }
  if (!(d.hi > d.lo)) d.hi = d.lo + 1;
  return d;
}

void marker_svg(std::string& out, Marker m, double x, double y, const std::string& color,
                bool filled, const std::string& tip) {
  if (m == Marker::none) return;
  const std::string fill = filled ? color : "#ffffff";
  const std::string title = tip.empty() ? "" : "<title>" + html_escape(tip) + "</title>";
  auto close = [&](const std::string& open_tag, const std::string& tag) {
    if (title.empty()) {
      out += open_tag + "/>";
    } else {
      out += open_tag + ">" + title + "</" + tag + ">";
    }
  };
  const std::string paint = " fill=\"" + fill + "\" stroke=\"" + color + "\" stroke-width=\"1.4\"";
  switch (m) {
    case Marker::circle:
      close("<circle cx=\"" + px(x) + "\" cy=\"" + px(y) + "\" r=\"3.5\"" + paint, "circle");
      break;
    case Marker::square:
      close("<rect x=\"" + px(x - 3.2) + "\" y=\"" + px(y - 3.2) +
                "\" width=\"6.4\" height=\"6.4\"" + paint,
            "rect");
      break;
    case Marker::triangle:
      close("<path d=\"M" + px(x) + " " + px(y - 4.2) + "L" + px(x + 4) + " " + px(y + 3) + "L" +
                px(x - 4) + " " + px(y + 3) + "Z\"" + paint,
            "path");
      break;
    case Marker::diamond:
      close("<path d=\"M" + px(x) + " " + px(y - 4.5) + "L" + px(x + 4.5) + " " + px(y) + "L" +
                px(x) + " " + px(y + 4.5) + "L" + px(x - 4.5) + " " + px(y) + "Z\"" + paint,
            "path");
      break;
    case Marker::cross:
      close("<path d=\"M" + px(x - 4) + " " + px(y - 4) + "L" + px(x + 4) + " " + px(y + 4) + "M" +
                px(x - 4) + " " + px(y + 4) + "L" + px(x + 4) + " " + px(y - 4) +
                "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\"",
            "path");
      break;
    case Marker::none:
      break;
  }
}

// Shortens text to about max_chars by cutting out its middle ("Latency: reg.str…rate=30000"),
// keeping the start (what) and the end (the case id's distinguishing part). UTF-8 safe.
std::string elide_middle(const std::string& text, double max_chars) {
  const auto limit = static_cast<std::size_t>(std::max(max_chars, 8.0));
  if (text.size() <= limit) return text;
  auto is_cont = [&](std::size_t i) {
    return i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;
  };
  std::size_t head = (limit - 1) / 2;
  std::size_t tail = text.size() - (limit - 1 - head);
  while (head > 0 && is_cont(head)) --head;
  while (is_cont(tail)) ++tail;
  return text.substr(0, head) + "\xE2\x80\xA6" + text.substr(tail);
}

std::string dash_attr(const std::string& dash) {
  return dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"";
}

// The pixel frame of a plot: the whole SVG and the plot area inside the axes.
struct Frame {
  double width = 0;
  double height = 0;
  double left = 74;
  double right = 22;
  double ax0 = 0;  // plot area: x from ax0 to ax1, y from ay0 (top) to ay1 (bottom)
  double ax1 = 0;
  double ay0 = 0;
  double ay1 = 0;
};

Frame frame_of(const Plot& plot) {
  Frame f;
  f.width = std::max(plot.width, 200);
  f.height = std::max(plot.height, 150);
  const double top = 34;
  const double bottom = 50;
  f.ax0 = f.left;
  f.ax1 = f.width - f.right;
  f.ay0 = top;
  f.ay1 = f.height - bottom;
  return f;
}

// The axes' domains (from everything drawn) and the scales that map them onto the frame.
struct Axes {
  Domain dx;
  Domain dy;
  Scale sx;
  Scale sy;
  bool any_point = false;  // a drawable data point (else "no data")
};

Axes axes_of(const Plot& plot, const Frame& f) {
  std::vector<double> xs;
  std::vector<double> ys;
  bool any_point = false;
  for (const auto& s : plot.series) {
    for (const auto& p : s.points) {
      if (!std::isfinite(p.y)) continue;
      if (plot.y.log && !(p.y > 0)) continue;
      if (plot.x.log && !(p.x > 0)) continue;
      any_point = true;
      xs.push_back(p.x);
      ys.push_back(p.y);
      if (p.y_lo && p.y_hi) {
        ys.push_back(*p.y_lo);
        ys.push_back(*p.y_hi);
      }
    }
  }
  for (const auto& b : plot.bands) {
    xs.push_back(b.x0);
    xs.push_back(b.x1);
  }
  for (const auto& h : plot.hlines) ys.push_back(h.y);
  Domain dx = make_domain(plot.x, xs, false);
  Domain dy = make_domain(plot.y, ys, true);
  const Scale sx = plot.x.log ? Scale::log(dx.lo, dx.hi, f.ax0, f.ax1)
                              : Scale::linear(dx.lo, dx.hi, f.ax0, f.ax1);
  const Scale sy = plot.y.log ? Scale::log(dy.lo, dy.hi, f.ay1, f.ay0)
                              : Scale::linear(dy.lo, dy.hi, f.ay1, f.ay0);
  return {std::move(dx), std::move(dy), sx, sy, any_point};
}

// Legend entries and their layout (rows below the x axis label).
struct LegendEntry {
  std::string label;
  std::string kind;  // line, band, hline
  std::string color;
  std::string dash;
  Marker marker = Marker::none;
  bool filled = true;
  bool line = true;
};

struct Placed {
  double x, y;
};

struct Legend {
  std::vector<LegendEntry> entries;
  std::vector<Placed> placed;  // of each entry
  double total_height = 0;     // of the SVG, legend rows included
};

Legend legend_of(const Plot& plot, const Frame& f) {
  Legend legend;
  auto& entries = legend.entries;
  for (const auto& s : plot.series) {
    if (!s.label.empty())
      entries.push_back({s.label, "line", s.color, s.dash, s.marker, s.filled, s.line});
  }
  for (const auto& b : plot.bands) {
    if (!b.label.empty())
      entries.push_back({b.label, "band", b.color, "", Marker::none, true, true});
  }
  for (const auto& h : plot.hlines) {
    if (!h.label.empty())
      entries.push_back({h.label, "line", h.color, h.dash, Marker::none, true, true});
  }
  double lx = f.left;
  double ly = f.height + 4;
  for (const auto& e : entries) {
    const double w = 34 + text_width(e.label) + 14;
    if (lx + w > f.width - f.right && lx > f.left) {
      lx = f.left;
      ly += 18;
    }
    legend.placed.push_back({lx, ly});
    lx += w;
  }
  legend.total_height = entries.empty() ? f.height : ly + 18;
  return legend;
}

// The <svg> start tag, title, clip path, plot area and plot title.
void draw_frame(std::string& out, const Plot& plot, const std::string& id, const Frame& f,
                double total_height) {
  out += "<svg id=\"" + id + "\" class=\"plot\" viewBox=\"0 0 " + px(f.width) + " " +
         px(total_height) + "\" width=\"" + px(f.width) + "\" height=\"" + px(total_height) +
         "\" role=\"img\" aria-labelledby=\"" + id + "-title\">";
  out += "<title id=\"" + id + "-title\">" + html_escape(plot.title) + "</title>";
  out += "<defs><clipPath id=\"" + id + "-clip\"><rect x=\"" + px(f.ax0) + "\" y=\"" + px(f.ay0) +
         "\" width=\"" + px(f.ax1 - f.ax0) + "\" height=\"" + px(f.ay1 - f.ay0) +
         "\"/></clipPath></defs>";
  out += "<rect class=\"plot-area\" x=\"" + px(f.ax0) + "\" y=\"" + px(f.ay0) + "\" width=\"" +
         px(f.ax1 - f.ax0) + "\" height=\"" + px(f.ay1 - f.ay0) +
         "\" fill=\"#ffffff\" stroke=\"none\"/>";
  out += "<text class=\"plot-title\" x=\"" + px(f.ax0 - 60) + "\" y=\"20\" font-size=\"13\" " +
         "font-weight=\"600\">" +
         html_escape(elide_middle(plot.title, (f.width - f.ax0 + 40) / 7.4)) + "</text>";
}

// Bands behind the grid and the data.
void draw_bands(std::string& out, const Plot& plot, const std::string& id, const Frame& f,
                const Scale& sx) {
  out += "<g clip-path=\"url(#" + id + "-clip)\">";
  for (const auto& b : plot.bands) {
    double x0 = sx.map(b.x0);
    double x1 = sx.map(b.x1);
    if (!std::isfinite(x0) || !std::isfinite(x1)) continue;
    if (x1 < x0) std::swap(x0, x1);
    out += "<rect class=\"" + html_escape(b.css_class) + "\" data-x0=\"" +
           fmt::format("{:g}", b.x0) + "\" data-x1=\"" + fmt::format("{:g}", b.x1) + "\" x=\"" +
           px(x0) + "\" y=\"" + px(f.ay0) + "\" width=\"" + px(std::max(x1 - x0, 1.0)) +
           "\" height=\"" + px(f.ay1 - f.ay0) + "\" fill=\"" + b.color + "\" fill-opacity=\"" +
           fmt::format("{:g}", b.opacity) + "\">";
    if (!b.label.empty()) out += "<title>" + html_escape(b.label) + "</title>";
    out += "</rect>";
  }
  out += "</g>";
}

// Grid lines, axis lines, tick labels and axis labels.
void draw_axes(std::string& out, const Plot& plot, const Frame& f, const Axes& a) {
  out += "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">";
  for (const double t : a.dx.ticks) {
    const double x = a.sx.map(t);
    if (std::isfinite(x)) {
      out += "<line x1=\"" + px(x) + "\" y1=\"" + px(f.ay0) + "\" x2=\"" + px(x) + "\" y2=\"" +
             px(f.ay1) + "\"/>";
    }
  }
  for (const double t : a.dy.ticks) {
    const double y = a.sy.map(t);
    if (std::isfinite(y)) {
      out += "<line x1=\"" + px(f.ax0) + "\" y1=\"" + px(y) + "\" x2=\"" + px(f.ax1) + "\" y2=\"" +
             px(y) + "\"/>";
    }
  }
  out += "</g>";
  out += "<g class=\"axes\" stroke=\"#333333\" stroke-width=\"1\"><line x1=\"" + px(f.ax0) +
         "\" y1=\"" + px(f.ay1) + "\" x2=\"" + px(f.ax1) + "\" y2=\"" + px(f.ay1) +
         "\"/><line x1=\"" + px(f.ax0) + "\" y1=\"" + px(f.ay0) + "\" x2=\"" + px(f.ax0) +
         "\" y2=\"" + px(f.ay1) + "\"/></g>";
  out += "<g class=\"ticks\" font-size=\"11\" fill=\"#333333\">";
  for (const double t : a.dx.ticks) {
    const double x = a.sx.map(t);
    if (!std::isfinite(x)) continue;
    out += "<text class=\"xtick\" x=\"" + px(x) + "\" y=\"" + px(f.ay1 + 15) +
           "\" text-anchor=\"middle\">" + html_escape(format_tick(t, plot.x.format)) + "</text>";
  }
  for (const double t : a.dy.ticks) {
    const double y = a.sy.map(t);
    if (!std::isfinite(y)) continue;
    out += "<text class=\"ytick\" x=\"" + px(f.ax0 - 6) + "\" y=\"" + px(y + 4) +
           "\" text-anchor=\"end\">" + html_escape(format_tick(t, plot.y.format)) + "</text>";
  }
  out += "</g>";
  out += "<text class=\"xlabel\" x=\"" + px((f.ax0 + f.ax1) / 2) + "\" y=\"" + px(f.ay1 + 36) +
         "\" text-anchor=\"middle\" font-size=\"12\">" + html_escape(plot.x.label) + "</text>";
  out += "<text class=\"ylabel\" transform=\"translate(16 " + px((f.ay0 + f.ay1) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" + html_escape(plot.y.label) +
         "</text>";
}

void draw_error_bars(std::string& out, const Series& s, const Scale& sx, const Scale& sy) {
  for (const auto& p : s.points) {
    if (!p.y_lo || !p.y_hi) continue;
    const double x = sx.map(p.x);
    const double y0 = sy.map(*p.y_lo);
    const double y1 = sy.map(*p.y_hi);
    if (!std::isfinite(x) || !std::isfinite(y0) || !std::isfinite(y1)) continue;
    out += "<path class=\"errorbar\" d=\"M" + px(x) + " " + px(y0) + "V" + px(y1) + "M" +
           px(x - 3) + " " + px(y0) + "H" + px(x + 3) + "M" + px(x - 3) + " " + px(y1) + "H" +
           px(x + 3) + "\" stroke=\"" + s.color + "\" fill=\"none\" stroke-width=\"1\"/>";
  }
}

// The series' line: one polyline per run of drawable points (a NaN point is a gap).
void draw_polylines(std::string& out, const Series& s, const Scale& sx, const Scale& sy) {
  std::string segment;
  int count = 0;
  auto flush = [&] {
    if (count >= 2) {
      out += "<polyline points=\"" + segment + "\" fill=\"none\" stroke=\"" + s.color +
             "\" stroke-width=\"1.8\" stroke-linejoin=\"round\"" + dash_attr(s.dash) + "/>";
    }
    segment.clear();
    count = 0;
  };
  for (const auto& p : s.points) {
    const double x = sx.map(p.x);
    const double y = sy.map(p.y);
    if (!std::isfinite(x) || !std::isfinite(y)) {
      flush();
      continue;
    }
    if (count > 0) segment += ' ';
    segment += px(x) + "," + px(y);
    ++count;
  }
  flush();
}

void draw_series(std::string& out, const Series& s, const Scale& sx, const Scale& sy) {
  out += "<g class=\"series";
  if (!s.css_class.empty()) out += " " + html_escape(s.css_class);
  out += "\">";
  draw_error_bars(out, s, sx, sy);
  if (s.line) draw_polylines(out, s, sx, sy);
  for (const auto& p : s.points) {
    const double x = sx.map(p.x);
    const double y = sy.map(p.y);
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    marker_svg(out, s.marker, x, y, s.color, s.filled, p.tip);
  }
  out += "</g>";
}

// Reference lines and data, clipped to the plot area.
void draw_data(std::string& out, const Plot& plot, const std::string& id, const Frame& f,
               const Axes& a) {
  out += "<g clip-path=\"url(#" + id + "-clip)\">";
  for (const auto& h : plot.hlines) {
    const double y = a.sy.map(h.y);
    if (!std::isfinite(y)) continue;
    out += "<line class=\"hline\" x1=\"" + px(f.ax0) + "\" y1=\"" + px(y) + "\" x2=\"" + px(f.ax1) +
           "\" y2=\"" + px(y) + "\" stroke=\"" + h.color + "\" stroke-width=\"1.4\"" +
           dash_attr(h.dash) + ">";
    if (!h.label.empty()) out += "<title>" + html_escape(h.label) + "</title>";
    out += "</line>";
  }
  for (const auto& s : plot.series) draw_series(out, s, a.sx, a.sy);
  out += "</g>";
  if (!a.any_point) {
    out += "<text class=\"no-data\" x=\"" + px((f.ax0 + f.ax1) / 2) + "\" y=\"" +
           px((f.ay0 + f.ay1) / 2) +
           "\" text-anchor=\"middle\" font-size=\"13\" fill=\"#777777\">no data</text>";
  }
}

void draw_legend(std::string& out, const Legend& legend) {
  if (legend.entries.empty()) return;
  out += "<g class=\"legend\" font-size=\"12\">";
  for (std::size_t i = 0; i < legend.entries.size(); ++i) {
    const auto& e = legend.entries[i];
    const double x = legend.placed[i].x;
    const double y = legend.placed[i].y;
    if (e.kind == "band") {
      out += "<rect x=\"" + px(x) + "\" y=\"" + px(y - 6) +
             "\" width=\"26\" height=\"12\" fill=\"" + e.color + "\" fill-opacity=\"0.3\"/>";
    } else {
      if (e.line) {
        out += "<line x1=\"" + px(x) + "\" y1=\"" + px(y) + "\" x2=\"" + px(x + 26) + "\" y2=\"" +
               px(y) + "\" stroke=\"" + e.color + "\" stroke-width=\"1.8\"" + dash_attr(e.dash) +
               "/>";
      }
      marker_svg(out, e.marker, x + 13, y, e.color, e.filled, "");
    }
    out += "<text x=\"" + px(x + 32) + "\" y=\"" + px(y + 4) + "\">" + html_escape(e.label) +
           "</text>";
  }
  out += "</g>";
}

}  // namespace

std::string render(const Plot& plot) {
  const std::string id = sanitize_id(plot.id);
  const Frame f = frame_of(plot);
  const Axes a = axes_of(plot, f);
  const Legend legend = legend_of(plot, f);
  std::string out;
  out.reserve(4096);
  draw_frame(out, plot, id, f, legend.total_height);
  draw_bands(out, plot, id, f, a.sx);
  draw_axes(out, plot, f, a);
  draw_data(out, plot, id, f, a);
  draw_legend(out, legend);
  out += "</svg>";
  return out;
}

}  // namespace fabricbench::results::report::svg
