// `fabricbench report` on collective cases (docs/REPORT.md "Collectives"): a bus-bandwidth plot
// per collective with a line per backend and type, and the collective cases kept out of the
// latency-vs-size plot.
#include <gtest/gtest.h>

#include <string>

#include <fmt/core.h>

#include "results/report.hpp"
#include "tests/report/synthetic.hpp"
#include "tests/results/collective_synthetic.hpp"

namespace fabricbench::results::report {
namespace {

namespace ct = collectivetest;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// The <figure> of a plot, or "" when there is none.
std::string figure_of(const std::string& html, const std::string& plot_id) {
  const auto start = html.find("<figure id=\"fig-" + plot_id + "\"");
  if (start == std::string::npos) return {};
  return html.substr(start, html.find("</figure>", start) - start);
}

TEST(ReportCollectives, OnePlotPerCollectiveWithALinePerBackendAndType) {
  const RunDocument doc = ct::collective_document("run-c");
  const std::string html = render_html({doc});
  const std::string ar = figure_of(html, "plot-collective-all_reduce");
  const std::string ag = figure_of(html, "plot-collective-all_gather");
  ASSERT_FALSE(ar.empty()) << html;
  ASSERT_FALSE(ag.empty());
  EXPECT_NE(ar.find(">nccl float32</text>"), std::string::npos);
  EXPECT_NE(ar.find(">mpi float32</text>"), std::string::npos);
  EXPECT_NE(ag.find(">nccl float32</text>"), std::string::npos);
  EXPECT_EQ(ag.find(">mpi float32</text>"), std::string::npos);
  // A point per size and backend, each with its repetitions' min..max bar.
  EXPECT_EQ(count(ar, "class=\"errorbar\""), 12u);
  EXPECT_EQ(count(ag, "class=\"errorbar\""), 6u);
  // log2 size axis in bytes, bus bandwidth in GB/s.
  EXPECT_NE(ar.find(">1KiB</text>"), std::string::npos);
  EXPECT_NE(ar.find(">1MiB</text>"), std::string::npos);
  EXPECT_NE(ar.find("bus bandwidth (GB/s)"), std::string::npos);
  // The point's value is the summary's median busbw.
  double med = 0;
  for (const auto& c : doc.cases) {
    if (c.id == "allreduce.mpi.1048576") {
      med = c.summary["collective"]["out_of_place"]["busbw_gbytes_per_s"]["median"].get<double>();
    }
  }
  ASSERT_GT(med, 0);
  EXPECT_NE(ar.find(fmt::format("1MiB mpi float32: busbw {:.4g} GB/s", med)), std::string::npos)
      << ar;
  // Collective cases are not points of the latency-vs-size plot; the pingpong case is.
  const std::string lat = figure_of(html, "plot-lat-size");
  ASSERT_FALSE(lat.empty());
  EXPECT_EQ(lat.find("allreduce"), std::string::npos);
  EXPECT_NE(lat.find("lat.pingpong.tcp.64B"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"#collectives\">Collectives</a>"), std::string::npos);
}

TEST(ReportCollectives, SeveralRunsAndNoCollectives) {
  const std::string two =
      render_html({ct::collective_document("run-a"), ct::collective_document("run-b")});
  const std::string ar = figure_of(two, "plot-collective-all_reduce");
  EXPECT_NE(ar.find(">run-a \xC2\xB7 nccl float32</text>"), std::string::npos);
  EXPECT_NE(ar.find(">run-b \xC2\xB7 mpi float32</text>"), std::string::npos);
  EXPECT_EQ(count(two, "<svg id=\"plot-collective-"), 2u);

  const std::string none = render_html({reporttest::synthetic_run("run-x")});
  EXPECT_EQ(none.find("plot-collective-"), std::string::npos);
  EXPECT_NE(none.find("No collective case with a bus bandwidth."), std::string::npos);
}

}  // namespace
}  // namespace fabricbench::results::report
