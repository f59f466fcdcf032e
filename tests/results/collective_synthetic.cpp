#include "tests/results/collective_synthetic.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

namespace fabricbench::results::collectivetest {

using nlohmann::json;

namespace {

constexpr int kRanks = 4;
constexpr std::uint64_t kStarted = 1'795'000'000'000'000'000ULL;

bool reduces(const std::string& collective) {
  return collective == "all_reduce" || collective == "reduce" || collective == "reduce_scatter";
}

bool rooted(const std::string& collective) {
  return collective == "broadcast" || collective == "reduce";
}

json figures(std::uint64_t size_bytes, double factor, double time_us, std::uint64_t wrong) {
  const double algbw = static_cast<double>(size_bytes) / time_us / 1e3;
  json ranks = json::array();
  for (int r = 0; r < kRanks; ++r) ranks.push_back(time_us - 0.1 * (kRanks - 1 - r));
  return {{"time_us", time_us},
          {"algbw_gbytes_per_s", algbw},
          {"busbw_gbytes_per_s", algbw * factor},
          {"wrong", wrong},
          {"rank_time_us", std::move(ranks)}};
}

}  // namespace

double bus_factor(const std::string& collective, int ranks) {
  const double n = ranks;
  if (collective == "all_reduce") return 2.0 * (n - 1) / n;
  if (collective == "broadcast" || collective == "reduce") return 1.0;
  return (n - 1) / n;
}

Repetition collective_rep(int index, const std::string& collective, std::uint64_t size_bytes,
                          double time_us, std::optional<double> in_place_us, std::uint64_t wrong) {
  Repetition r;
  r.index = index;
  r.ops = 20;
  r.elapsed_ns = static_cast<std::uint64_t>(time_us * 1e3) * r.ops;
  r.bytes = size_bytes * r.ops;
  const auto ns = static_cast<std::uint64_t>(std::llround(time_us * 1e3));
  r.latency.record_n(ns, 18);
  r.latency.record_n(ns * 2, 2);
  const double factor = bus_factor(collective, kRanks);
  const bool gathers = collective == "all_gather" || collective == "reduce_scatter";
  r.collective = {
      {"collective", collective},
      {"type", "float32"},
      {"redop", reduces(collective) ? json("sum") : json(nullptr)},
      {"root", rooted(collective) ? 0 : -1},
      {"ranks", kRanks},
      {"size_bytes", size_bytes},
      {"count", size_bytes / 4 / (gathers ? kRanks : 1)},
      {"bus_factor", factor},
      {"combine", "avg"},
      {"regime", "closed"},
      {"out_of_place", figures(size_bytes, factor, time_us, wrong)},
      {"in_place", in_place_us ? figures(size_bytes, factor, *in_place_us, wrong) : json(nullptr)},
      {"backend", {{"version", "2.27.3"}, {"env", {{"NCCL_ALGO", "Ring"}}}}}};
  return r;
}

CaseResult collective_case(const std::string& id, const std::string& collective,
                           const std::string& backend, std::uint64_t size_bytes,
                           const std::vector<double>& times_us, std::uint64_t wrong) {
  CaseResult c;
  c.id = id;
  c.suite = "collective";
  c.transport = backend;
  c.status = CaseStatus::ok;
  c.started_ns = kStarted;
  c.finished_ns = kStarted + 2'000'000'000ULL;
  c.params = {{"id", id},
              {"group", id.substr(0, id.find('.'))},
              {"suite", "collective"},
              {"transport", backend},
              {"collective", collective},
              {"type", "float32"},
              {"message_size_bytes", size_bytes},
              {"iterations", 20},
              {"warmup_iterations", 5},
              {"repetitions", static_cast<int>(times_us.size())},
              {"regime", {{"kind", "closed"}}}};
  for (std::size_t i = 0; i < times_us.size(); ++i) {
    c.repetitions.push_back(collective_rep(static_cast<int>(i), collective, size_bytes, times_us[i],
                                           times_us[i] * 1.1, wrong));
  }
  summarize_case(c);
  return c;
}

RunDocument collective_document(const std::string& run_id) {
  RunDocument d;
  d.run_id = run_id;
  d.tool_version = "0.1.0";
  d.tool_revision = "abc1234";
  d.started_ns = kStarted;
  d.finished_ns = kStarted + 60'000'000'000ULL;
  d.status = RunStatus::complete;
  d.launcher = "mpi";
  d.ranks = kRanks;
  d.config = {{"path", "configs/collectives.yaml"},
              {"overrides", json::array({"defaults.repetitions=4"})},
              {"digest", std::string(64, '0')}};
  json ranks = json::array();
  for (int r = 0; r < kRanks; ++r) {
    ranks.push_back({{"rank", r},
                     {"pid", 4000 + r},
                     {"hostname", r < 2 ? "node-a" : "node-b"},
                     {"environment", {{"NCCL_DEBUG", "WARN"}, {"NCCL_IB_HCA", "mlx5_0"}}}});
  }
  d.envelope = {{"ranks", std::move(ranks)}};
  d.events = json::array();
  for (const std::uint64_t size : {1024ULL, 4096ULL, 16384ULL, 65536ULL, 262144ULL, 1048576ULL}) {
    const double t = 5.0 + static_cast<double>(size) / 20000.0;  // ~ 20 GB/s algbw at 1 MiB
    for (const char* backend : {"nccl", "mpi"}) {
      const double slow = backend == std::string("mpi") ? 1.5 : 1.0;
      d.cases.push_back(collective_case(
          "allreduce." + std::string(backend) + "." + std::to_string(size), "all_reduce", backend,
          size, {t * slow, t * slow * 1.02, t * slow * 0.99, t * slow * 1.01}));
    }
    d.cases.push_back(collective_case("allgather.nccl." + std::to_string(size), "all_gather",
                                      "nccl", size, {t * 0.8, t * 0.81, t * 0.79, t * 0.8}));
  }
  CaseResult pp;
  pp.id = "lat.pingpong.tcp.64B";
  pp.suite = "pingpong";
  pp.transport = "tcp";
  pp.status = CaseStatus::ok;
  pp.started_ns = kStarted;
  pp.finished_ns = kStarted + 1'000'000'000ULL;
  pp.params = {{"id", pp.id}, {"suite", "pingpong"}, {"message_size_bytes", 64}};
  Repetition rep;
  rep.ops = 100;
  rep.elapsed_ns = 1'000'000;
  rep.latency.record_n(3000, 100);
  pp.repetitions.push_back(rep);
  summarize_case(pp);
  d.cases.push_back(std::move(pp));
  return d;
}

}  // namespace fabricbench::results::collectivetest
