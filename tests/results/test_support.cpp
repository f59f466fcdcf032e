#include "tests/results/test_support.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/stats/interval_series.hpp"

namespace fabricbench::results::testing {

namespace fs = std::filesystem;
using nlohmann::json;

std::string reader_error(const json& j) {
  try {
    run_document_from_json(j);
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::config) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "run_document_from_json accepted an invalid document";
  return {};
}

stats::Histogram spread_histogram(std::uint64_t seed, int n) {
  stats::Histogram h;
  std::uint64_t x = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (int i = 0; i < n; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const int decade = static_cast<int>((x >> 33) % 6);  // 10 ns .. 10 ms
    std::uint64_t scale = 10;
    for (int d = 0; d < decade; ++d) scale *= 10;
    h.record(scale + (x >> 40) % (scale * 9));
  }
  return h;
}

namespace {

std::vector<stats::IntervalPoint> intervals(std::uint64_t seed, bool with_latency) {
  stats::IntervalSeries series(100'000'000);
  for (std::uint64_t t = 0; t < 450'000'000; t += 7'000'000) {
    series.add(t, 65536 + seed, 1);
    if (with_latency && (t / 100'000'000) != 2) series.add_latency(t, 1000 + t / 1000 + seed);
  }
  return series.points(450'000'000);
}

}  // namespace

CaseResult pingpong_case() {
  CaseResult c;
  c.id = "pingpong.tcp.64B";
  c.suite = "pingpong";
  c.transport = "tcp";
  c.params = {{"message_size", 64}, {"iterations", 10000}, {"completion", "busy_poll"}};
  c.status = CaseStatus::ok;
  c.started_ns = 1'790'000'000'123'456'789ULL;
  c.finished_ns = c.started_ns + 2'500'000'000ULL;
  for (int i = 0; i < 2; ++i) {
    Repetition r;
    r.index = i;
    r.elapsed_ns = 1'000'000'000ULL + static_cast<std::uint64_t>(i) * 1000;
    r.ops = 5000;
    r.bytes = 5000 * 64;
    r.latency = spread_histogram(static_cast<std::uint64_t>(i) + 1, 5000);
    r.intervals = intervals(static_cast<std::uint64_t>(i), true);
    c.repetitions.push_back(std::move(r));
  }
  c.endpoints = json::array(
      {"tcp 127.0.0.1:40001 -> 127.0.0.1:40002", "tcp 127.0.0.1:40002 -> 127.0.0.1:40001"});
  summarize_case(c);
  return c;
}

CaseResult stream_case() {
  CaseResult c;
  c.id = "stream.tcp.1MiB";
  c.suite = "stream";
  c.transport = "tcp";
  c.params = {{"message_size", 1048576}, {"window", 64}, {"tcp", {{"nodelay", true}}}};
  c.status = CaseStatus::failed;
  c.started_ns = 1'790'000'003'000'000'000ULL;
  c.finished_ns = c.started_ns + 4'000'000'000ULL;
  const double gbps[] = {9.41, 9.38, 9.44};
  for (int i = 0; i < 3; ++i) {
    Repetition r;
    r.index = i;
    r.elapsed_ns = 1'000'000'000ULL;
    r.bytes = 1'176'250'000ULL + static_cast<std::uint64_t>(i);
    r.ops = r.bytes / 1048576;
    r.bw_gbps = gbps[i];
    r.bw_gibps = static_cast<double>(r.bytes) / 1073741824.0;
    r.msg_rate_mops = static_cast<double>(r.ops) / 1e6;
    r.intervals = intervals(static_cast<std::uint64_t>(i) + 10, false);
    c.repetitions.push_back(std::move(r));
  }
  c.errors.push_back({1, "peer_lost", "rank 1: peer rank 0 closed the connection (ECONNRESET)"});
  c.endpoints = json::array({"tcp 10.0.0.1:5000", "tcp 10.0.0.2:5000"});
  summarize_case(c);
  return c;
}

RunDocument sample_header() {
  RunDocument d;
  d.run_id = "20261123T101500Z-quickstart-3f2a";
  d.tool_version = "0.1.0";
  d.tool_revision = "71fed04abcde";
  d.started_ns = 1'790'000'000'000'000'000ULL;
  d.launcher = "local";
  d.ranks = 2;
  d.config = {{"path", "configs/quickstart.yaml"},
              {"text", "name: quickstart\ncases: []\n"},
              {"overrides", json::array({"cases[0].repetitions=2"})},
              {"resolved", {{"name", "quickstart"}, {"cases", json::array()}}},
              {"digest", std::string(64, 'a')}};
  d.envelope = {{"ranks", json::array({{{"rank", 0}, {"hostname", "node-a"}, {"pid", 4242}},
                                       {{"rank", 1}, {"hostname", "node-a"}, {"pid", 4243}}})}};
  d.events = json::array({{{"t_ns", d.started_ns + 10},
                           {"rank", 0},
                           {"kind", "case_start"},
                           {"detail", "pingpong.tcp.64B"}},
                          {{"t_ns", d.started_ns + 20},
                           {"rank", 1},
                           {"kind", "fault_inject"},
                           {"detail", {{"fault", "link_down"}, {"evidence", "ip link"}}}}});
  return d;
}

RunDocument sample_document() {
  RunDocument d = sample_header();
  d.cases.push_back(pingpong_case());
  d.cases.push_back(stream_case());
  d.status = RunStatus::complete;
  d.finished_ns = d.started_ns + 8'000'000'000ULL;
  return d;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/fb-results-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace fabricbench::results::testing
