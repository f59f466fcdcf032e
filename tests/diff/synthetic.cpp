#include "tests/diff/synthetic.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fabricbench::results::difftest {

namespace fs = std::filesystem;
using nlohmann::json;

CaseResult make_case(const std::string& id, const std::string& suite, std::uint64_t size) {
  CaseResult c;
  c.id = id;
  c.suite = suite;
  c.transport = "tcp";
  c.status = CaseStatus::ok;
  c.started_ns = 1'795'000'000'000'000'000ULL;
  c.finished_ns = c.started_ns + 1'000'000'000ULL;
  c.params = {
      {"id", id},
      {"group", id.substr(0, id.find('.'))},
      {"suite", suite},
      {"transport", "tcp"},
      {"message_size_bytes", size},
      {"mode", "iterations"},
      {"iterations", 1000},
      {"warmup_iterations", 100},
      {"repetitions", 5},
      {"completion", "busy_poll"},
      {"window", suite == "stream" ? 16 : 64},
      {"regime", {{"kind", "closed"}}},
      {"fault", {{"kind", "none"}}},
      {"tcp", {{"address", "127.0.0.1"}, {"nodelay", true}}},
      {"varied", json::array({{{"key", "message_size"}, {"value", std::to_string(size)}}})}};
  return c;
}

Repetition latency_rep(int index, std::uint64_t p50_ns) {
  Repetition r;
  r.index = index;
  r.elapsed_ns = 1'000'000'000ULL;
  r.ops = 100;
  r.latency.record_n(p50_ns, 90);
  r.latency.record_n(2 * p50_ns, 10);
  return r;
}

Repetition bandwidth_rep(int index, double gbps, double mops) {
  Repetition r;
  r.index = index;
  r.elapsed_ns = 1'000'000'000ULL;
  r.bytes = static_cast<std::uint64_t>(gbps * 1e9 / 8);
  r.ops = static_cast<std::uint64_t>(mops * 1e6);
  r.bw_gbps = gbps;
  r.bw_gibps = gbps * 1e9 / 8 / (1024.0 * 1024 * 1024);
  r.msg_rate_mops = mops;
  return r;
}

Repetition noisy_rep(int index, double center_ns, double gbps, double noise, std::mt19937_64& rng) {
  std::normal_distribution<double> between(0.0, noise);
  std::normal_distribution<double> within(0.0, 0.05);
  Repetition r;
  r.index = index;
  r.elapsed_ns = 1'000'000'000ULL;
  const double center = center_ns * (1.0 + between(rng));
  for (int i = 0; i < 200; ++i) {
    r.latency.record(static_cast<std::uint64_t>(center * (1.0 + std::abs(within(rng)))));
  }
  r.bw_gbps = gbps * (1.0 + between(rng));
  r.msg_rate_mops = *r.bw_gbps * 2.0;
  r.ops = 200;
  return r;
}

json envelope(const std::string& kernel_release, int mtu, int pid_base) {
  json ranks = json::array();
  for (int rank = 0; rank < 2; ++rank) {
    ranks.push_back(
        {{"rank", rank},
         {"size", 2},
         {"launcher", "local"},
         {"hostname", "node1"},
         {"pid", pid_base + rank},
         {"kernel", {{"release", kernel_release}, {"machine", "x86_64"}}},
         {"cpu", {{"model", "AMD EPYC 7763"}, {"cores_online", 64}, {"frequency_cpu", rank}}},
         {"placement", {{"cpu", pid_base % 7 + rank}, {"numa_node", 0}, {"affinity", "0-63"}}},
         {"nics", json::array({{{"name", "eth0"},
                                {"driver", "mlx5_core"},
                                {"mtu", rank == 0 ? mtu : 1500},
                                {"addresses", json::array({"192.0.2.2/24"})}},
                               {{"name", "lo"}, {"driver", nullptr}, {"mtu", 65536}}})},
         {"libraries", {{"libibverbs", "1.14.44.0"}, {"fmt", "9.1.0"}}},
         {"environment",
          {{"NCCL_DEBUG", "WARN"}, {"FABRICBENCH_ROOT", "127.0.0.1:4" + std::to_string(pid_base)}}},
         {"unavailable",
          {{"cpu.governor", "cpu" + std::to_string(pid_base % 3) + ": no cpufreq"}}}});
  }
  return {{"ranks", ranks}};
}

RunDocument make_document(const std::string& run_id, const json& envelope_json) {
  RunDocument d;
  d.run_id = run_id;
  d.tool_version = "0.1.0";
  d.tool_revision = "abc123def456";
  d.started_ns = 1'795'000'000'000'000'000ULL;
  d.finished_ns = d.started_ns + 60'000'000'000ULL;
  d.status = RunStatus::complete;
  d.launcher = "local";
  d.ranks = 2;
  d.config = {{"path", "configs/golden.yaml"}, {"digest", "0123"}};
  d.envelope = envelope_json;
  d.events = json::array();
  return d;
}

namespace {

CaseResult latency_case(const std::string& id, std::uint64_t size,
                        const std::vector<std::uint64_t>& p50s) {
  CaseResult c = make_case(id, "pingpong", size);
  for (std::size_t i = 0; i < p50s.size(); ++i) {
    c.repetitions.push_back(latency_rep(static_cast<int>(i), p50s[i]));
  }
  summarize_case(c);
  return c;
}

CaseResult bandwidth_case(const std::string& id, std::uint64_t size,
                          const std::vector<double>& gbps, const std::vector<double>& mops) {
  CaseResult c = make_case(id, "stream", size);
  for (std::size_t i = 0; i < gbps.size(); ++i) {
    c.repetitions.push_back(bandwidth_rep(static_cast<int>(i), gbps[i], mops[i]));
  }
  summarize_case(c);
  return c;
}

// Regime "realistic": latency histogram, bandwidth and the headline figures.
CaseResult regime_case(double queue_age_scale) {
  CaseResult c = make_case("reg.stream.tcp.64KiB.regime=realistic", "stream", 65536);
  c.params["regime"] = {{"kind", "realistic"}, {"arrival", "poisson"}, {"seed", 1}};
  for (int i = 0; i < 5; ++i) {
    Repetition r = latency_rep(i, 20000 + 100 * static_cast<std::uint64_t>(i));
    r.bw_gbps = 4.0 + 0.01 * i;
    r.msg_rate_mops = 0.0076 + 0.0001 * i;
    r.regime = {{"kind", "realistic"},
                {"headline",
                 {{"lat_p99_ns", 40000 + 200 * i},
                  {"queue_age_p99_ns", (30000 + 500 * i) * queue_age_scale},
                  {"goodput_ops_per_s", 7600 + 10 * i},
                  {"sustainable_rate_ops_per_s", 10000 + 20 * i},
                  {"offered_ops_per_s", 7600}}}};
    c.repetitions.push_back(std::move(r));
  }
  summarize_case(c);
  return c;
}

// A link-down fault: bandwidth and recovery figures; `null_ttr` repetitions never recovered.
CaseResult fault_case(double stall_scale, int null_ttr) {
  CaseResult c = make_case("flt.stream.tcp.64KiB.fault=down", "stream", 65536);
  c.params["fault"] = {{"kind", "down"}, {"start_ns", 500'000'000}, {"hold_ns", 200'000'000}};
  for (int i = 0; i < 5; ++i) {
    Repetition r = bandwidth_rep(i, 3.0 + 0.02 * i, 0.0057 + 0.0001 * i);
    const json ttr = i < null_ttr ? json(nullptr) : json(150'000'000 + 1'000'000 * i);
    r.fault = {
        {"kind", "down"},
        {"outcome", "reconnected"},
        {"recovery",
         {{"ttr90_from_clear_ns", ttr},
          {"stall_ns", static_cast<std::uint64_t>((200'000'000 + 2'000'000 * i) * stall_scale)}}}};
    c.repetitions.push_back(std::move(r));
  }
  summarize_case(c);
  return c;
}

}  // namespace

RunDocument golden_base() {
  RunDocument d =
      make_document("20261123T100000Z-golden-base", envelope("6.1.0-18-amd64", 1500, 1000));
  d.cases.push_back(latency_case("lat.pingpong.tcp.64B", 64, {1000, 1010, 1020, 1030, 1040}));
  d.cases.push_back(bandwidth_case("bw.stream.tcp.1MiB", 1048576, {9.0, 9.1, 9.2, 9.3, 9.4},
                                   {1.10, 1.11, 1.12, 1.13, 1.14}));
  d.cases.push_back(latency_case("few.pingpong.tcp.8B", 8, {500, 510}));
  d.cases.push_back(latency_case("old.pingpong.tcp.128B", 128, {2000, 2010, 2020, 2030, 2040}));
  d.cases.push_back(bandwidth_case("gone.stream.tcp.4KiB", 4096, {1, 1, 1}, {30, 30, 30}));
  d.cases.push_back(latency_case("flaky.pingpong.tcp.16B", 16, {700, 705, 710}));
  d.cases.push_back(latency_case("nd.pingpong.tcp.256B", 256, {3000, 3000, 3000}));
  d.cases.push_back(regime_case(1.0));
  d.cases.push_back(fault_case(1.0, 0));
  return d;
}

RunDocument golden_new() {
  RunDocument d =
      make_document("20261124T100000Z-golden-new", envelope("6.1.0-21-amd64", 9000, 2000));
  d.tool_revision = "fedcba654321";
  d.cases.push_back(latency_case("lat.pingpong.tcp.64B", 64, {1100, 1110, 1120, 1130, 1140}));
  d.cases.push_back(bandwidth_case("bw.stream.tcp.1MiB", 1048576, {9.9, 10.0, 10.1, 10.2, 10.3},
                                   {1.11, 1.12, 1.13, 1.14, 1.15}));
  d.cases.push_back(latency_case("few.pingpong.tcp.8B", 8, {700, 720}));
  // Renamed group: matched by its parameters.
  d.cases.push_back(latency_case("new.pingpong.tcp.128B", 128, {2030, 2000, 2040, 2010, 2020}));
  d.cases.push_back(bandwidth_case("added.stream.tcp.8KiB", 8192, {2, 2, 2}, {30, 30, 30}));
  CaseResult flaky = latency_case("flaky.pingpong.tcp.16B", 16, {700});
  flaky.status = CaseStatus::failed;
  flaky.errors.push_back({1, "peer_lost", "rank 1 stopped answering"});
  d.cases.push_back(std::move(flaky));
  CaseResult nd = latency_case("nd.pingpong.tcp.256B", 256, {3000, 3000, 3000});
  nd.params["tcp"]["nodelay"] = false;  // another setting: not the same case
  d.cases.push_back(std::move(nd));
  d.cases.push_back(regime_case(1.3));
  d.cases.push_back(fault_case(0.5, 1));
  return d;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = (base != nullptr && *base != '\0') ? base : "/tmp";
  pattern += "/fabricbench-diff-test.XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path);
  out << content;
}

std::string source_dir() {
  const char* env = std::getenv("FABRICBENCH_SOURCE_DIR");
  return env != nullptr && *env != '\0' ? env : FABRICBENCH_TEST_SOURCE_DIR;
}

}  // namespace fabricbench::results::difftest
