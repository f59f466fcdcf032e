// `fabricbench report` on the synthetic document: the plots it must hold, escaping,
// self-containment, the markdown tables, reading errors and the command's exit codes.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "results/report.hpp"
#include "tests/report/synthetic.hpp"

namespace fabricbench::results::report {
namespace {

namespace fs = std::filesystem;
using reporttest::synthetic_run;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t pos = text.find(what); pos != std::string::npos;
       pos = text.find(what, pos + what.size())) {
    ++n;
  }
  return n;
}

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

const std::string& single_report() {
  static const std::string html = render_html({synthetic_run("run-a")});
  return html;
}

// Synthetic case indexes (tests/report/synthetic.cpp order): 0-2 pingpong sweep, 3-8 stream
// sweeps (4 and 7 with interval series), 9 duration pingpong, 10 fault, 11 floor, 12-13
// realistic, 14 overload, 15 search, 16 skipped, 17 failed.
TEST(ReportHtml, HasEveryExpectedPlot) {
  const std::string& html = single_report();
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* id :
       {"plot-bw-size", "plot-lat-size", "plot-cdf-0", "plot-cdf-1", "plot-cdf-2", "plot-cdf-9",
        "plot-cdf-11", "plot-cdf-14", "plot-intervals-tput-4", "plot-intervals-tput-7",
        "plot-intervals-tput-9", "plot-intervals-lat-9", "plot-recovery-10", "plot-load-0",
        "plot-regime-rate-11", "plot-regime-lat-11", "plot-regime-rate-14", "plot-regime-lat-14"}) {
    EXPECT_TRUE(contains(html, std::string("<svg id=\"") + id + "\" class=\"plot\"")) << id;
  }
  // 2 size plots, 8 CDFs (cases with latency samples), 3 + 1 interval plots, 1 recovery curve,
  // 1 load plot (one workload), 4 x 2 regime series (the search case has no measured phase).
  EXPECT_EQ(count(html, "<svg "), 24u);
  EXPECT_EQ(count(html, "<svg id=\"plot-cdf-"), 8u);
  EXPECT_EQ(count(html, "<svg id=\"plot-regime-rate-"), 4u);
  // No plot for what has no data of that kind.
  EXPECT_FALSE(contains(html, "id=\"plot-intervals-tput-10\""));  // the fault case: recovery
  EXPECT_FALSE(contains(html, "id=\"plot-cdf-3\""));              // stream: no latency
  EXPECT_FALSE(contains(html, "id=\"plot-cdf-15\""));             // search: no phase
  EXPECT_FALSE(contains(html, "id=\"plot-regime-rate-15\""));
}

TEST(ReportHtml, PlotTitlesNameTheirCases) {
  const std::string& html = single_report();
  EXPECT_TRUE(contains(html,
                       "<title id=\"plot-recovery-10-title\">Recovery: "
                       "flt.stream.tcp.64KiB.fault=link_down</title>"));
  EXPECT_TRUE(contains(html, "<title id=\"plot-cdf-0-title\">Latency CDF: lat.pingpong.tcp.8B"));
  EXPECT_TRUE(contains(html,
                       "<title id=\"plot-load-0-title\">Latency vs offered load: stream "
                       "over tcp, 1KiB</title>"));
  EXPECT_TRUE(contains(html,
                       "<figure id=\"fig-plot-recovery-10\" "
                       "data-case=\"flt.stream.tcp.64KiB.fault=link_down\">"));
}

TEST(ReportHtml, SizePlotsHaveOneLinePerGroupAndVariedParameter) {
  const std::string& html = single_report();
  EXPECT_TRUE(contains(html, ">bw/tcp direction=uni</text>"));
  EXPECT_TRUE(contains(html, ">bw/tcp direction=bidir</text>"));
  EXPECT_TRUE(contains(html, ">lat/tcp p50</text>"));
  EXPECT_TRUE(contains(html, ">lat/tcp p99</text>"));
  // Every stream point has its repetitions' min..max bar.
  EXPECT_EQ(count(html, "class=\"errorbar\""), 6u);
  // Byte-size ticks on the log2 axis.
  EXPECT_TRUE(contains(html, ">4KiB</text>"));
  EXPECT_TRUE(contains(html, ">1MiB</text>"));
}

TEST(ReportHtml, RecoveryCurveShadesTheFaultWindowAndShowsTheMetrics) {
  const std::string& html = single_report();
  // One window per repetition, at [start_ns, clear_ns] in seconds.
  EXPECT_EQ(count(html, "class=\"band fault-window\" data-x0=\"1.5\" data-x1=\"2.5\""), 2u);
  const auto fig = html.find("<figure id=\"fig-plot-recovery-10\"");
  ASSERT_NE(fig, std::string::npos);
  const std::string figure = html.substr(fig, html.find("</figure>", fig) - fig);
  EXPECT_TRUE(contains(figure, "class=\"hline\""));  // baseline
  EXPECT_TRUE(contains(figure, ">baseline</text>"));
  EXPECT_TRUE(contains(figure, "<table class=\"recovery\">"));
  EXPECT_TRUE(contains(figure, "absorbed"));
  EXPECT_TRUE(contains(figure, "reconnected"));
  EXPECT_TRUE(contains(figure, "<td>400ms / 400ms</td>"));  // ttr90 / ttr99 from clear
  EXPECT_TRUE(contains(figure, "<td>1s</td>"));             // stall
  EXPECT_TRUE(contains(figure, "netns:veth &lt;fbd0&gt;"));
}

TEST(ReportHtml, LoadPlotShowsFloorRealisticAndProbes) {
  const std::string& html = single_report();
  const auto fig = html.find("<figure id=\"fig-plot-load-0\"");
  ASSERT_NE(fig, std::string::npos);
  const std::string figure = html.substr(fig, html.find("</figure>", fig) - fig);
  EXPECT_TRUE(contains(figure, "(floor: zero load)"));
  EXPECT_TRUE(contains(figure, " at 30k/s: p50 "));
  EXPECT_TRUE(contains(figure, " at 60k/s: p99 "));
  EXPECT_TRUE(contains(figure, "class=\"series probe-pass\""));
  EXPECT_TRUE(contains(figure, "class=\"series probe-fail\""));
  // 3 passing probes (circles) and 2 failing ones (crosses); the search appears once although
  // four cases carry it.
  const auto pass = figure.find("class=\"series probe-pass\"");
  const auto fail = figure.find("class=\"series probe-fail\"");
  EXPECT_EQ(count(figure.substr(pass, fail - pass), "<circle"), 3u);
  EXPECT_EQ(count(figure.substr(fail, figure.find("</g>", fail) - fail), "<path"), 2u);
  EXPECT_EQ(count(figure, "search by reg.stream.tcp.1KiB.regime=search"), 1u);
  EXPECT_TRUE(contains(figure, "queue age p99 &gt; bound 5ms &amp; rising"));
  EXPECT_TRUE(contains(figure, "queue-age bound 5ms"));
}

TEST(ReportHtml, OverloadSeriesShadesTheOverloadWindow) {
  const std::string& html = single_report();
  EXPECT_EQ(count(html, "class=\"band overload-window\" data-x0=\"0.3\" data-x1=\"0.5\""), 2u);
  EXPECT_TRUE(contains(html, "drain 120ms, peak backlog 4200"));
}

TEST(ReportHtml, EnvelopeAndStatusAreEscaped) {
  const std::string& html = single_report();
  EXPECT_TRUE(contains(html, html_escape(reporttest::kHostileHostname)));
  EXPECT_TRUE(contains(html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;node"));
  EXPECT_FALSE(contains(lower(html), "<script"));
  EXPECT_TRUE(contains(html, "#1 SMP &lt;PREEMPT&gt;"));
  EXPECT_TRUE(contains(html, "<code>x&lt;y&gt;</code> a&amp;b"));
  EXPECT_TRUE(contains(html, "mlx5_0, fw 28.39.1002"));
  EXPECT_TRUE(contains(html, "eth0 (mlx5_core), MTU 9000, 100000 Mb/s, up, 192.0.2.2/24"));
  EXPECT_TRUE(contains(html, "<code>libfabric</code> (not found)"));
  EXPECT_TRUE(contains(html, "2 rank(s): &lt;script&gt;"));
  EXPECT_TRUE(contains(html, "stopped answering &lt;b&gt;after 10s&lt;/b&gt;"));
  EXPECT_TRUE(contains(html, "<span class=\"status status-complete\">complete</span>"));
  EXPECT_TRUE(contains(html, "<span class=\"status status-skipped\">skipped</span>"));
  EXPECT_TRUE(contains(html, "<span class=\"status status-failed\">failed</span>"));
  EXPECT_TRUE(contains(html, "<code>run-a</code>"));
}

TEST(ReportHtml, IsSelfContained) {
  const std::string& html = single_report();
  const std::string l = lower(html);
  EXPECT_FALSE(contains(l, "http://"));
  EXPECT_FALSE(contains(l, "https://"));
  EXPECT_FALSE(contains(l, "<link"));
  EXPECT_FALSE(contains(l, "<img"));
  EXPECT_FALSE(contains(l, "<iframe"));
  EXPECT_FALSE(contains(l, "src="));
  EXPECT_FALSE(contains(l, "@import"));
  EXPECT_FALSE(contains(l, "@font-face"));
  // url() only for the SVG clip paths inside the document.
  for (std::size_t pos = l.find("url("); pos != std::string::npos; pos = l.find("url(", pos + 4)) {
    EXPECT_EQ(l.compare(pos, 5, "url(#"), 0) << l.substr(pos, 40);
  }
  // href only to anchors of the document.
  for (std::size_t pos = l.find("href=\""); pos != std::string::npos;
       pos = l.find("href=\"", pos + 6)) {
    EXPECT_EQ(l.compare(pos, 7, "href=\"#"), 0) << l.substr(pos, 40);
  }
  EXPECT_TRUE(contains(html, "<style>"));
}

TEST(ReportHtml, ElementIdsAreUnique) {
  const std::string& html = single_report();
  std::vector<std::string> ids;
  for (std::size_t pos = html.find(" id=\""); pos != std::string::npos;
       pos = html.find(" id=\"", pos + 5)) {
    const auto end = html.find('"', pos + 5);
    ids.push_back(html.substr(pos + 5, end - pos - 5));
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
  EXPECT_GT(ids.size(), 50u);
}

TEST(ReportHtml, SeveralRunsAreOverlaidWithTheirIdsInTheLegend) {
  const std::string html = render_html({synthetic_run("run-a"), synthetic_run("run-b", 2.0)});
  EXPECT_TRUE(contains(html, ">run-a \xC2\xB7 bw/tcp direction=uni</text>"));
  EXPECT_TRUE(contains(html, ">run-b \xC2\xB7 bw/tcp direction=uni</text>"));
  EXPECT_TRUE(contains(html, ">run-a \xC2\xB7 rep 0</text>"));
  EXPECT_TRUE(contains(html, ">run-b \xC2\xB7 rep 0</text>"));
  // Same plots (cases match by id), each run its color.
  EXPECT_EQ(count(html, "<svg "), 24u);
  EXPECT_EQ(count(html, "class=\"band fault-window\""), 4u);
  EXPECT_TRUE(contains(html, "stroke=\"#1f77b4\""));
  EXPECT_TRUE(contains(html, "stroke=\"#d62728\""));
  EXPECT_EQ(count(html, "class=\"kv envelope\""), 2u);
  // The same run twice stays distinguishable.
  const std::string twice = render_html({synthetic_run("run-a"), synthetic_run("run-a")});
  EXPECT_TRUE(contains(twice, ">run-a (2) \xC2\xB7 bw/tcp direction=uni</text>"));
}

TEST(ReportHtml, EmptyRunStillRenders) {
  RunDocument d = synthetic_run("empty-run");
  d.cases.clear();
  d.envelope = nlohmann::json::object();
  d.status = RunStatus::interrupted;
  d.interrupted_case = "x.pingpong.tcp.8B";
  const std::string html = render_html({d});
  EXPECT_TRUE(contains(html, "status-interrupted"));
  EXPECT_TRUE(contains(html, "no envelope recorded"));
  EXPECT_TRUE(contains(html, "No closed-loop stream case"));
  EXPECT_EQ(count(html, "<svg "), 0u);
  EXPECT_TRUE(contains(html, "</html>"));
}

TEST(ReportMarkdown, OneTablePerRunWithHeadlineFigures) {
  const std::string md = render_markdown({synthetic_run("run-a"), synthetic_run("run-b", 2.0)});
  EXPECT_EQ(md.rfind("# fabricbench report\n", 0), 0u);
  EXPECT_TRUE(contains(md, "\n## Run run-a (complete)\n"));
  EXPECT_TRUE(contains(md, "\n## Run run-b (complete)\n"));
  EXPECT_EQ(count(md,
                  "| case | suite | transport | status | reps | p50 (µs) | p99 (µs) | Gb/s | "
                  "notes |\n|---|---|---|---|---:|---:|---:|---:|---|\n"),
            2u);
  EXPECT_TRUE(contains(md, "| lat.pingpong.tcp.8B | pingpong | tcp | ok | 3 | "));
  EXPECT_TRUE(
      contains(md, "| bw.stream.tcp.64KiB.direction=uni | stream | tcp | ok | 3 | - | - | "));
  EXPECT_TRUE(contains(md,
                       "| skip.stream.verbs.64KiB | stream | verbs | skipped | 0 | - | - | - | "
                       "skipped: no RDMA device: ibv_get_device_list returned &lt;none&gt; |"));
  EXPECT_TRUE(contains(md, "rank 1 \\| stopped answering &lt;b&gt;after 10s&lt;/b&gt;"));
  EXPECT_TRUE(contains(md, "regime realistic: offered 30k/s"));
  EXPECT_TRUE(contains(md, "regime search: sustainable 75k/s"));
  EXPECT_TRUE(contains(md,
                       "fault link_down: absorbed x1 reconnected x1; stall 1s, ttr90 from "
                       "clear 400ms"));
  EXPECT_TRUE(contains(md, "host &lt;script&gt;alert(\"x\")&lt;/script&gt;&node, kernel"));
  // Every table row has ten unescaped pipes (nine cells).
  std::istringstream lines(md);
  std::string line;
  int rows = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("| ", 0) != 0) continue;
    int pipes = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '|' && (i == 0 || line[i - 1] != '\\')) ++pipes;
    }
    EXPECT_EQ(pipes, 10) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 2 * (1 + 18));
}

// ---- reading ----

class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "fabricbench-report-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void expect_config_error_naming(const std::string& path) {
  try {
    read_for_report(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::config) << e.what();
    EXPECT_TRUE(contains(e.what(), path)) << e.what();
  }
}

TEST(ReportRead, DirectoryOrFileRoundTrip) {
  TempDir dir;
  reporttest::write_run(dir.file("run"), synthetic_run("run-a"));
  const RunDocument from_dir = read_for_report(dir.file("run"));
  const RunDocument from_file = read_for_report(dir.file("run/run.json"));
  EXPECT_EQ(from_dir.run_id, "run-a");
  EXPECT_EQ(from_file.cases.size(), 18u);
  // The report of the document as read is the report of the document as built.
  EXPECT_EQ(render_html({from_dir}), single_report());
}

TEST(ReportRead, UnreadableOrCorruptInputIsAConfigErrorNamingTheFile) {
  TempDir dir;
  expect_config_error_naming(dir.file("missing.json"));
  expect_config_error_naming(dir.path());  // a directory without run.json
  write_text(dir.file("corrupt.json"), "{\"schema\": \"fabricbench.run\", ");
  expect_config_error_naming(dir.file("corrupt.json"));
  write_text(dir.file("other.json"), "{\"schema\": \"something.else\", \"schema_version\": 1}");
  expect_config_error_naming(dir.file("other.json"));
  auto j = to_json(synthetic_run("run-a"));
  j["cases"][0]["repetitions"][0]["bytes"] = "lots";
  write_text(dir.file("badfield.json"), j.dump());
  expect_config_error_naming(dir.file("badfield.json"));
}

// ---- the command ----

struct Result {
  int code = -1;
  std::string err;
};

Result fabricbench(const std::string& args, const TempDir& dir) {
  const std::string err = dir.file("stderr.txt");
  const std::string cmd =
      std::string(FABRICBENCH_BINARY) + " " + args + " >" + dir.file("stdout.txt") + " 2>" + err;
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_text(err);
  return r;
}

TEST(ReportCli, WritesHtmlAndMarkdown) {
  TempDir dir;
  reporttest::write_run(dir.file("a"), synthetic_run("run-a"));
  reporttest::write_run(dir.file("b"), synthetic_run("run-b", 2.0));
  const Result r = fabricbench("report " + dir.file("a") + " " + dir.file("b/run.json") + " -o " +
                                   dir.file("r.html") + " --markdown " + dir.file("r.md"),
                               dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string html = read_text(dir.file("r.html"));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_TRUE(contains(html, ">run-b \xC2\xB7 rep 0</text>"));
  EXPECT_TRUE(contains(read_text(dir.file("r.md")), "## Run run-b (complete)"));
  EXPECT_TRUE(contains(read_text(dir.file("stdout.txt")), "written to " + dir.file("r.html")));
}

TEST(ReportCli, ExitTwoForBadInputOrOptions) {
  TempDir dir;
  reporttest::write_run(dir.file("a"), synthetic_run("run-a"));
  write_text(dir.file("corrupt.json"), "not json");
  Result r = fabricbench("report " + dir.file("missing") + " -o " + dir.file("r.html"), dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, dir.file("missing"))) << r.err;
  r = fabricbench(
      "report " + dir.file("a") + " " + dir.file("corrupt.json") + " -o " + dir.file("r.html"),
      dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, dir.file("corrupt.json"))) << r.err;
  EXPECT_FALSE(fs::exists(dir.file("r.html"))) << "nothing is written when an input is bad";
  r = fabricbench("report " + dir.file("a"), dir);  // no -o
  EXPECT_EQ(r.code, 2);
  r = fabricbench("report -o " + dir.file("r.html"), dir);  // no run
  EXPECT_EQ(r.code, 2);
  r = fabricbench("report " + dir.file("a") + " -o " + dir.file("no/such/dir/r.html"), dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "no/such/dir/r.html")) << r.err;
}

}  // namespace
}  // namespace fabricbench::results::report

namespace fabricbench::results::report {
namespace {

// An all-pairs case: its heat map (a cell per measured pair, the bad node's cells outlined) and
// its findings, host names escaped.
TEST(ReportHtml, AFabricMapIsAHeatMapWithItsFindings) {
  RunDocument doc = synthetic_run("run-map");
  CaseResult c;
  c.id = "map.stream.tcp.64KiB";
  c.suite = "stream";
  c.transport = "tcp";
  const nlohmann::json nodes = nlohmann::json::array({{{"rank", 0}, {"host", "n<1>"}},
                                                      {{"rank", 1}, {"host", "n2"}},
                                                      {{"rank", 2}, {"host", "n3"}}});
  c.summary = {{"repetitions", 0},
               {"lat_p50_ns_median_of_reps", nullptr},
               {"map",
                {{"pattern", "all_pairs"},
                 {"metric", "bandwidth"},
                 {"unit", "GB/s"},
                 {"nodes", nodes},
                 {"rounds", 3},
                 {"reference", 1.0},
                 {"limit", 0.93},
                 {"matrix", {{nullptr, 0.25, 1.0}, {0.25, nullptr, 0.26}, {1.0, 0.26, nullptr}}},
                 {"verdict",
                  {{"clean", false},
                   {"bad_nodes", {1}},
                   {"bad_links", nlohmann::json::array()},
                   {"noise", nlohmann::json::array()},
                   {"findings",
                    {{{"kind", "bad_node"},
                      {"nodes", {1}},
                      {"evidence", "n2 (1): 2 of 2 pairs slow"}}}}}}}}};
  doc.cases.push_back(c);
  const std::string html = render_html({doc});
  EXPECT_TRUE(contains(html, "<h2 id=\"maps\">Fabric maps</h2>"));
  EXPECT_EQ(count(html, "<title>0 - 1: "), 1U);   // a cell per ordered pair, diagonal left grey
  EXPECT_EQ(count(html, "stroke=\"#000\""), 4U);  // the bad node's cells: (0,1) (1,0) (1,2) (2,1)
  EXPECT_TRUE(contains(html, "n&lt;1&gt; (0)"));
  EXPECT_FALSE(contains(html, "n<1>"));
  EXPECT_TRUE(contains(html, "<strong>bad_node</strong>: n2 (1): 2 of 2 pairs slow"));
  EXPECT_TRUE(contains(html, "bad node or link found"));
  EXPECT_TRUE(contains(render_html({synthetic_run("run-a")}), "No fabric map"));
}

// A pattern incast case: the directed matrix as a heat map (row sends to column) and each step's
// aggregate; no verdict.
TEST(ReportHtml, AnIncastMapIsADirectedHeatMapWithItsAggregates) {
  RunDocument doc = synthetic_run("run-incast");
  CaseResult c;
  c.id = "incast.stream.tcp.64KiB";
  c.suite = "stream";
  c.transport = "tcp";
  const nlohmann::json nodes =
      nlohmann::json::array({{{"rank", 0}, {"host", "n1"}}, {{"rank", 1}, {"host", "n<2>"}}});
  const auto step = [](int target, int from, double v) {
    return nlohmann::json{{"target", target},
                          {"flows", {{from, target, v}}},
                          {"aggregate", v},
                          {"aggregate_per_repetition", {v}}};
  };
  c.summary = {{"repetitions", 0},
               {"map",
                {{"pattern", "incast"},
                 {"metric", "bandwidth"},
                 {"unit", "GB/s"},
                 {"directed", true},
                 {"nodes", nodes},
                 {"steps", {step(0, 1, 0.5), step(1, 0, 2.0)}},
                 {"repetitions", 1},
                 {"matrix", {{nullptr, 2.0}, {0.5, nullptr}}},
                 {"reference", 2.0},
                 {"incast_bandwidth", {0.5, 2.0}}}}};
  doc.cases.push_back(c);
  const std::string html = render_html({doc});
  EXPECT_EQ(count(html, "<title>0 &#8594; 1: 2"), 1U);
  EXPECT_EQ(count(html, "<title>1 &#8594; 0: 0.5"), 1U);
  EXPECT_TRUE(contains(html, "pattern incast"));
  EXPECT_TRUE(contains(html, "<li>incast into n1 (0): 0.5 GB/s</li>"));
  EXPECT_TRUE(contains(html, "<li>incast into n&lt;2&gt; (1): 2 GB/s</li>"));
  EXPECT_FALSE(contains(html, "bad node or link found"));
}

}  // namespace
}  // namespace fabricbench::results::report
