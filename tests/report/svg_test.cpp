// The report's SVG helper: nice ticks, scales, tick labels, escaping and the rendered elements.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "results/report.hpp"

namespace fabricbench::results::report::svg {
namespace {

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t pos = text.find(what); pos != std::string::npos;
       pos = text.find(what, pos + what.size())) {
    ++n;
  }
  return n;
}

TEST(SvgNiceNumber, RoundsToOneTwoFiveTimesAPowerOfTen) {
  EXPECT_DOUBLE_EQ(nice_number(12, false), 20);
  EXPECT_DOUBLE_EQ(nice_number(12, true), 10);
  EXPECT_DOUBLE_EQ(nice_number(3.2, true), 5);
  EXPECT_DOUBLE_EQ(nice_number(2.5, true), 2);
  EXPECT_DOUBLE_EQ(nice_number(0.023, false), 0.05);
  EXPECT_DOUBLE_EQ(nice_number(700, false), 1000);
  EXPECT_DOUBLE_EQ(nice_number(0, true), 1);  // degenerate input: a usable step
}

TEST(SvgLinearTicks, CoverTheRangeWithNiceSteps) {
  EXPECT_EQ(linear_ticks(0, 9.3), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(linear_ticks(0, 100), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  const auto t = linear_ticks(-3, 7);
  EXPECT_LE(t.front(), -3);
  EXPECT_GE(t.back(), 7);
  EXPECT_NE(std::find(t.begin(), t.end(), 0.0), t.end());
}

TEST(SvgLinearTicks, DecimalStepsPrintCleanly) {
  const auto t = linear_ticks(0.1, 0.3);
  ASSERT_GE(t.size(), 3u);
  EXPECT_LE(t.front(), 0.1);
  EXPECT_GE(t.back(), 0.3);
  std::vector<std::string> labels;
  for (const double v : t) labels.push_back(format_tick(v, TickFormat::number));
  EXPECT_EQ(labels, (std::vector<std::string>{"0.1", "0.15", "0.2", "0.25", "0.3"}));
  for (const double v : t) EXPECT_NEAR(v * 20, std::round(v * 20), 1e-9);
}

TEST(SvgLinearTicks, DegenerateRangesAreWidened) {
  const auto same = linear_ticks(5, 5);
  ASSERT_GE(same.size(), 2u);
  EXPECT_LT(same.front(), 5);
  EXPECT_GT(same.back(), 5);
  const auto zero = linear_ticks(0, 0);
  ASSERT_GE(zero.size(), 2u);
  EXPECT_LE(zero.front(), 0);
  EXPECT_GT(zero.back(), 0);
  const auto reversed = linear_ticks(10, 0);
  EXPECT_EQ(reversed.front(), 0);
  EXPECT_EQ(reversed.back(), 10);
}

TEST(SvgLogTicks, PowersOfTenFromBelowToAbove) {
  EXPECT_EQ(log_ticks(3, 4000), (std::vector<double>{1, 10, 100, 1000, 10000}));
  // Fewer than three decades: 1, 2, 5 x 10^k.
  EXPECT_EQ(log_ticks(20, 300), (std::vector<double>{10, 20, 50, 100, 200, 500, 1000}));
  // An exact power is its own end.
  EXPECT_EQ(log_ticks(1, 1000).front(), 1);
  EXPECT_EQ(log_ticks(1, 1000).back(), 1000);
}

TEST(SvgLogTicks, PowersOfTwoAreThinnedKeepingTheEnds) {
  const auto t = log_ticks(8, 1048576, 2);  // 2^3 .. 2^20: 18 powers
  EXPECT_LE(t.size(), 12u);
  EXPECT_EQ(t.front(), 8);
  EXPECT_EQ(t.back(), 1048576);
  for (const double v : t) EXPECT_EQ(std::exp2(std::round(std::log2(v))), v);
  EXPECT_EQ(log_ticks(64, 4096, 2), (std::vector<double>{64, 128, 256, 512, 1024, 2048, 4096}));
}

TEST(SvgScale, LinearAndLogMapping) {
  const Scale lin = Scale::linear(0, 10, 100, 200);
  EXPECT_DOUBLE_EQ(lin.map(0), 100);
  EXPECT_DOUBLE_EQ(lin.map(5), 150);
  EXPECT_DOUBLE_EQ(lin.map(10), 200);
  const Scale inverted = Scale::linear(0, 1, 300, 20);  // y axes grow upwards
  EXPECT_DOUBLE_EQ(inverted.map(1), 20);
  const Scale log = Scale::log(1, 100, 0, 200);
  EXPECT_TRUE(log.is_log());
  EXPECT_NEAR(log.map(10), 100, 1e-9);  // a decade is half of two decades
  EXPECT_NEAR(log.map(1), 0, 1e-9);
  EXPECT_NEAR(log.map(100), 200, 1e-9);
  EXPECT_NEAR(log.map(std::sqrt(10.0)), 50, 1e-9);
  EXPECT_TRUE(std::isnan(log.map(0)));
  EXPECT_TRUE(std::isnan(log.map(-1)));
  EXPECT_TRUE(std::isnan(lin.map(std::numeric_limits<double>::quiet_NaN())));
  const Scale log2 = Scale::log(64, 4096, 0, 600);  // six doublings
  EXPECT_NEAR(log2.map(512), 300, 1e-9);
}

TEST(SvgFormatTick, NumbersAndBytes) {
  EXPECT_EQ(format_tick(0, TickFormat::number), "0");
  EXPECT_EQ(format_tick(0.05, TickFormat::number), "0.05");
  EXPECT_EQ(format_tick(250, TickFormat::number), "250");
  EXPECT_EQ(format_tick(5000, TickFormat::number), "5000");
  EXPECT_EQ(format_tick(25000, TickFormat::number), "25k");
  EXPECT_EQ(format_tick(1'500'000, TickFormat::number), "1.5M");
  EXPECT_EQ(format_tick(2e9, TickFormat::number), "2G");
  EXPECT_EQ(format_tick(-20, TickFormat::number), "-20");
  EXPECT_EQ(format_tick(64, TickFormat::bytes), "64B");
  EXPECT_EQ(format_tick(4096, TickFormat::bytes), "4KiB");
  EXPECT_EQ(format_tick(1048576, TickFormat::bytes), "1MiB");
}

TEST(SvgEscape, EscapesEveryHtmlSpecialCharacter) {
  EXPECT_EQ(html_escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
  EXPECT_EQ(html_escape("plain \xC2\xB5s"), "plain \xC2\xB5s");  // UTF-8 passes through
  EXPECT_EQ(html_escape(""), "");
}

Plot sample_plot() {
  Plot p;
  p.id = "plot-<1>";
  p.title = "Throughput & <latency>";
  p.x = {"time (s)", false, 10, TickFormat::number, {}, {}, true};
  p.y = {"Gb/s", false, 10, TickFormat::number, {}, {}, true};
  Series s;
  s.label = "run <a>";
  s.points = {{0, 1, {}, {}, ""},
              {1, 2, {}, {}, ""},
              {2, std::numeric_limits<double>::quiet_NaN(), {}, {}, ""},
              {3, 2, {}, {}, "tip <b>"},
              {4, 3, {}, {}, ""}};
  s.marker = Marker::circle;
  p.series.push_back(s);
  p.bands.push_back({1.5, 2.5, "fault window", "#d62728", 0.15, "band fault-window"});
  p.hlines.push_back({2.5, "baseline", "#555555", "6 3"});
  return p;
}

TEST(SvgRender, ElementsTitleAndEscaping) {
  const std::string svg = render(sample_plot());
  EXPECT_EQ(svg.rfind("<svg id=\"plot-_1_\" class=\"plot\"", 0), 0u) << svg.substr(0, 120);
  EXPECT_NE(svg.find("<title id=\"plot-_1_-title\">Throughput &amp; &lt;latency&gt;</title>"),
            std::string::npos);
  EXPECT_EQ(svg.find("<latency>"), std::string::npos);
  EXPECT_NE(svg.find("run &lt;a&gt;"), std::string::npos);
  EXPECT_NE(svg.find("<title>tip &lt;b&gt;</title>"), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 6), "</svg>");
  // The NaN point splits the line in two polylines of two points each.
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_EQ(count(svg, "<circle"), 4u + 1u);  // four points and the legend's marker
  // The band: a rect with its data range, clipped to the plot area.
  EXPECT_NE(svg.find("class=\"band fault-window\" data-x0=\"1.5\" data-x1=\"2.5\""),
            std::string::npos);
  EXPECT_NE(svg.find("clip-path=\"url(#plot-_1_-clip)\""), std::string::npos);
  EXPECT_NE(svg.find("class=\"hline\""), std::string::npos);
  EXPECT_EQ(svg.find("http"), std::string::npos);  // inline SVG: no xmlns, nothing external
  EXPECT_EQ(svg.find("no data"), std::string::npos);
}

TEST(SvgRender, TicksOfTheDataDomain) {
  const std::string svg = render(sample_plot());
  // x from 0 to 4 in steps of 1, y from 0 to 3.
  for (const char* label : {">0<", ">1<", ">2<", ">3<", ">4<"}) {
    EXPECT_NE(svg.find(std::string("class=\"xtick\"")), std::string::npos);
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  }
  EXPECT_EQ(count(svg, "class=\"xtick\""), 5u);
}

TEST(SvgRender, LogAxisDropsNonPositivePoints) {
  Plot p;
  p.id = "log";
  p.title = "log";
  p.x = {"size", true, 2, TickFormat::bytes, {}, {}, false};
  p.y = {"us", true, 10, TickFormat::number, {}, {}, false};
  Series s;
  s.points = {
      {0, 5, {}, {}, ""}, {64, 5, {}, {}, ""}, {4096, 50, {}, {}, ""}, {8192, 0, {}, {}, ""}};
  s.marker = Marker::square;
  p.series.push_back(s);
  const std::string svg = render(p);
  // Two drawable markers (x = 0 and y = 0 have no place on log axes; no label, no legend).
  EXPECT_EQ(count(svg, "width=\"6.4\""), 2u);
  EXPECT_NE(svg.find(">64B<"), std::string::npos);
  EXPECT_NE(svg.find(">4KiB<"), std::string::npos);
  EXPECT_EQ(svg.find(">8KiB<"), std::string::npos);
  EXPECT_EQ(svg.find(">32B<"), std::string::npos);
  // y: 5 .. 50 spans less than three decades: 1, 2, 5 x 10^k from 1 to 100.
  EXPECT_NE(svg.find(">100<"), std::string::npos);
  EXPECT_NE(svg.find(">20<"), std::string::npos);
}

TEST(SvgRender, EmptyPlotSaysNoData) {
  Plot p;
  p.id = "empty";
  p.title = "nothing";
  const std::string svg = render(p);
  EXPECT_NE(svg.find("no data"), std::string::npos);
  EXPECT_EQ(svg.find("<polyline"), std::string::npos);
}

TEST(SvgRender, ForcedDomainAndErrorBars) {
  Plot p;
  p.id = "cdf";
  p.title = "cdf";
  p.y = {"fraction", false, 10, TickFormat::number, 0.0, 1.0, false};
  Series s;
  s.points = {{1, 0.2, 0.1, 0.3, ""}, {2, 0.9, {}, {}, ""}};
  p.series.push_back(s);
  const std::string svg = render(p);
  EXPECT_EQ(count(svg, "class=\"errorbar\""), 1u);
  EXPECT_EQ(count(svg, "class=\"ytick\""), 6u);  // 0, 0.2, ..., 1
  EXPECT_NE(svg.find(">0.8<"), std::string::npos);
}

}  // namespace
}  // namespace fabricbench::results::report::svg
