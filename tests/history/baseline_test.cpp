// Baselines: outlier rejection, pooling across runs, hardware identity, the baseline document,
// and `diff` against a baseline (results/baseline.hpp).
#include "results/baseline.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "tests/diff/synthetic.hpp"

namespace fabricbench::results::baseline {
namespace {

using nlohmann::json;
namespace dt = difftest;

// ---- Outlier rejection ------------------------------------------------------------------------

TEST(OutlierRejection, DropsValuesOutsideThreeMadSigmas) {
  const std::vector<double> v = {100, 101, 99, 100, 102, 98, 100, 250, 97};
  const Pooled p = reject_outliers(v);
  EXPECT_DOUBLE_EQ(p.median, 100);
  // |v - 100| = 0 1 1 0 2 2 0 150 3 -> MAD 1 -> sigma 1.4826; band max(4.4478, 1.0) = 4.4478.
  EXPECT_NEAR(p.sigma, 1.4826, 1e-12);
  EXPECT_NEAR(p.high - p.median, 3 * 1.4826, 1e-9);
  ASSERT_EQ(p.rejected, std::vector<std::size_t>{7});
  EXPECT_EQ(p.kept.size(), 8u);
  // A low outlier too, and a value just inside the band.
  const Pooled q = reject_outliers({100, 101, 99, 100, 102, 98, 104, 10});
  ASSERT_EQ(q.rejected, std::vector<std::size_t>{7});
}

TEST(OutlierRejection, ZeroMadFallsBackToMeanAbsoluteDeviation) {
  // Five equal values: the MAD is 0. sigma = 1.2533 * mean |v - median| = 1.2533 * 100 / 6.
  const Pooled p = reject_outliers({3000, 3000, 3000, 3000, 3000, 3100});
  EXPECT_NEAR(p.sigma, 1.2533 * 100.0 / 6.0, 1e-9);
  EXPECT_EQ(p.rejected, std::vector<std::size_t>{5});
  // All equal: nothing to reject, and the band is the 1% floor.
  const Pooled same = reject_outliers({5, 5, 5, 5});
  EXPECT_TRUE(same.rejected.empty());
  EXPECT_DOUBLE_EQ(same.sigma, 0);
  EXPECT_DOUBLE_EQ(same.high, 5.05);
}

TEST(OutlierRejection, KeepsValuesWithinOnePercentAndSmallSamples) {
  // Tight values (histogram-quantized latencies): the 1% floor keeps every one of them.
  const Pooled tight = reject_outliers({1000, 1000, 1000, 1000, 1001, 1008});
  EXPECT_TRUE(tight.rejected.empty()) << tight.high;
  // Fewer than 3 values: kept whole.
  const Pooled two = reject_outliers({1, 1000});
  EXPECT_TRUE(two.rejected.empty());
  EXPECT_THROW(reject_outliers({}), std::invalid_argument);
}

TEST(OutlierRejection, KParameterWidensTheBand) {
  const std::vector<double> v = {100, 101, 99, 100, 102, 98, 100, 106};
  EXPECT_EQ(reject_outliers(v, {3.0, 0.01, 3}).rejected.size(), 1u);
  EXPECT_TRUE(reject_outliers(v, {5.0, 0.01, 3}).rejected.empty());
}

// ---- Synthetic runs ---------------------------------------------------------------------------

CaseResult latency_case(const std::string& id, const std::vector<std::uint64_t>& p50s) {
  CaseResult c = dt::make_case(id, "pingpong", 64);
  for (std::size_t i = 0; i < p50s.size(); ++i) {
    c.repetitions.push_back(dt::latency_rep(static_cast<int>(i), p50s[i]));
  }
  summarize_case(c);
  return c;
}

CaseResult bandwidth_case(const std::string& id, const std::vector<double>& gbps) {
  CaseResult c = dt::make_case(id, "stream", 1048576);
  for (std::size_t i = 0; i < gbps.size(); ++i) {
    c.repetitions.push_back(dt::bandwidth_rep(static_cast<int>(i), gbps[i], gbps[i] / 8));
  }
  summarize_case(c);
  return c;
}

RunDocument run(const std::string& id, int pid_base) {
  return dt::make_document(id, dt::envelope("6.1.0-18-amd64", 1500, pid_base));
}

std::vector<RunDocument> three_runs() {
  std::vector<RunDocument> runs = {run("r1", 1000), run("r2", 2000), run("r3", 3000)};
  runs[0].cases = {latency_case("lat.pingpong.tcp.64B", {1000, 1010, 1020, 1030, 1040}),
                   bandwidth_case("bw.stream.tcp.1MiB", {9.0, 9.1, 9.2})};
  // A slow repetition (an outlier) and a renamed case: same identity, pooled together.
  runs[1].cases = {latency_case("lat2.pingpong.tcp.64B", {1000, 1020, 5000, 1010, 1030}),
                   bandwidth_case("bw.stream.tcp.1MiB", {9.1, 9.2, 9.3})};
  runs[2].cases = {latency_case("lat.pingpong.tcp.64B", {1040, 1000, 1020, 1010, 1030}),
                   bandwidth_case("bw.stream.tcp.1MiB", {9.0, 9.2, 9.4})};
  // A failed case is left out (with a note).
  CaseResult failed = bandwidth_case("bw.stream.tcp.4KiB", {1.0});
  failed.params["message_size_bytes"] = 4096;
  failed.status = CaseStatus::failed;
  runs[2].cases.push_back(failed);
  return runs;
}

const PooledMetric* metric(const BaselineCase& c, const std::string& name) {
  for (const auto& m : c.metrics) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

TEST(Baseline, PoolsRepetitionsOfEveryRunPerCaseIdentity) {
  const auto runs = three_runs();
  const Baseline b = build_baseline(runs, {"a/run.json", "b", "c"});
  ASSERT_EQ(b.runs.size(), 3u);
  EXPECT_EQ(b.runs[0].source, "a/run.json");
  ASSERT_EQ(b.cases.size(), 2u);
  const BaselineCase& lat = b.cases[0];
  EXPECT_EQ(lat.id, "lat.pingpong.tcp.64B");
  EXPECT_EQ(lat.runs, (std::vector<std::string>{"r1", "r2", "r3"}));
  ASSERT_EQ(lat.metrics.size(), 2u);  // lat_p50_ns, lat_p99_ns (metric table order)
  EXPECT_EQ(lat.metrics[0].name, "lat_p50_ns");
  const PooledMetric* p50 = metric(lat, "lat_p50_ns");
  ASSERT_NE(p50, nullptr);
  EXPECT_EQ(p50->values.size(), 14u);  // 15 repetitions less the 5000 ns one
  ASSERT_EQ(p50->rejected.size(), 1u);
  EXPECT_EQ(p50->rejected[0].run_id, "r2");
  EXPECT_NEAR(p50->rejected[0].value, 5000, 5000 * 0.004);
  EXPECT_EQ(b.rejected_count(), 2u);  // p50 and p99 of that repetition

  const PooledMetric* bw = metric(b.cases[1], "bw_gbps");
  ASSERT_NE(bw, nullptr);
  EXPECT_EQ(bw->values, (std::vector<double>{9.0, 9.1, 9.2, 9.1, 9.2, 9.3, 9.0, 9.2, 9.4}));
  EXPECT_DOUBLE_EQ(bw->median, 9.2);
  ASSERT_EQ(b.notes.size(), 1u);
  EXPECT_NE(b.notes[0].find("bw.stream.tcp.4KiB is failed in run r3"), std::string::npos);
  EXPECT_NE(describe(b).find("rejected: lat.pingpong.tcp.64B lat_p50_ns"), std::string::npos)
      << describe(b);
}

TEST(Baseline, RefusesARunGivenTwiceAndNoRuns) {
  auto runs = three_runs();
  runs[2].run_id = "r1";
  EXPECT_THROW(build_baseline(runs, {}), core::Error);
  EXPECT_THROW(build_baseline({}, {}), core::Error);
}

TEST(Baseline, JsonRoundTrip) {
  const Baseline b = build_baseline(three_runs(), {"a", "b", "c"});
  const json j = to_json(b);
  EXPECT_EQ(j["schema"], "fabricbench.baseline");
  EXPECT_EQ(j["outlier_rule"]["method"], "median_mad");
  EXPECT_TRUE(is_baseline_json(j));
  const Baseline r = baseline_from_json(json::parse(j.dump()));
  ASSERT_EQ(r.cases.size(), b.cases.size());
  EXPECT_EQ(r.cases[0].identity, b.cases[0].identity);
  EXPECT_EQ(r.cases[0].metrics[0].values, b.cases[0].metrics[0].values);
  EXPECT_EQ(r.cases[0].metrics[0].rejected.size(), 1u);
  EXPECT_EQ(r.hardware, b.hardware);
  EXPECT_EQ(to_json(r), j);
}

TEST(Baseline, CorruptBaselineNamesThePath) {
  json j = to_json(build_baseline(three_runs(), {}));
  j["cases"][1]["metrics"]["bw_gbps"]["values"][2] = "fast";
  try {
    baseline_from_json(j);
    FAIL() << "accepted";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find("cases[1].metrics.bw_gbps.values[2]: expected a number"),
              std::string::npos)
        << e.what();
  }
  json newer = to_json(build_baseline(three_runs(), {}));
  newer["schema_version"] = 2;
  EXPECT_THROW(baseline_from_json(newer), core::Error);
  json unknown = to_json(build_baseline(three_runs(), {}));
  unknown["cases"][0]["metrics"]["lat_p5_ns"] = unknown["cases"][0]["metrics"]["lat_p50_ns"];
  EXPECT_THROW(baseline_from_json(unknown), core::Error);
  EXPECT_THROW(baseline_from_json(json{{"schema", "fabricbench.run"}}), core::Error);
}

TEST(Baseline, ReadIfBaselineTellsDocumentsApart) {
  dt::TempDir dir;
  const std::string bl = dir.file("baseline.json");
  const std::string rn = dir.file("run.json");
  dt::write_text(bl, to_json(build_baseline(three_runs(), {})).dump());
  dt::write_text(rn, to_json(three_runs()[0]).dump());
  EXPECT_TRUE(read_if_baseline(bl, "BASE").has_value());
  EXPECT_FALSE(read_if_baseline(rn, "BASE").has_value());
  EXPECT_FALSE(read_if_baseline(dir.path(), "BASE").has_value());        // a directory
  EXPECT_FALSE(read_if_baseline(dir.file("nope"), "BASE").has_value());  // missing
  dt::write_text(bl, R"({"schema": "fabricbench.baseline", "schema_version": 1})");
  EXPECT_THROW(read_if_baseline(bl, "BASE"), core::Error);
}

// ---- Hardware identity ------------------------------------------------------------------------

TEST(HardwareIdentity, StableSubsetOfTheEnvelope) {
  const json env = dt::envelope("6.1.0-18-amd64", 1500, 1000);
  const json hw = host_hardware(env["ranks"][0]);
  EXPECT_EQ(hw["cpu"]["model"], "AMD EPYC 7763");
  EXPECT_EQ(hw["machine"], "x86_64");
  ASSERT_EQ(hw["nics"].size(), 1u);  // lo has no device driver
  EXPECT_EQ(hw["nics"][0], (json{{"name", "eth0"}, {"driver", "mlx5_core"}}));
  EXPECT_EQ(hw["rdma"], json::array());
  EXPECT_EQ(hw["gpus"], json::array());
  // Both ranks are on one host: one entry.
  EXPECT_EQ(hardware_identity(env)["hosts"].size(), 1u);
  // Kernel, MTU, pids and placement are not hardware.
  EXPECT_EQ(hardware_identity(env), hardware_identity(dt::envelope("6.1.0-21-amd64", 9000, 2000)));
}

TEST(HardwareIdentity, RdmaAndGpuFacts) {
  json rank = dt::envelope("k", 1500, 1)["ranks"][0];
  rank["rdma_devices"] = {
      {"available", true},
      {"devices",
       {{{"name", "mlx5_0"},
         {"node_guid", "0c42:a103:0065:1234"},
         {"fw_ver", "28.39.1002"},
         {"vendor_id", 713},
         {"vendor_part_id", 4129},
         {"ports", {{{"port", 1}, {"link_layer", "InfiniBand"}, {"lid", 7}}}}}}}};
  rank["gpus"] = {{"available", true},
                  {"driver_version", "550.54"},
                  {"devices",
                   {{{"bus_id", "0000:1b:00.0"}, {"model", "NVIDIA H100 80GB HBM3"}},
                    {{"bus_id", "0000:2b:00.0"}, {"model", "NVIDIA H100 80GB HBM3"}}}}};
  const json hw = host_hardware(rank);
  EXPECT_EQ(hw["rdma"][0], (json{{"name", "mlx5_0"},
                                 {"vendor_id", 713},
                                 {"vendor_part_id", 4129},
                                 {"fw_ver", "28.39.1002"},
                                 {"link_layers", {"InfiniBand"}}}));
  EXPECT_EQ(hw["gpus"], (json{"NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"}));
  // Another card of the same model (other GUID, LID): the same hardware. New firmware: not.
  json other = rank;
  other["rdma_devices"]["devices"][0]["node_guid"] = "0c42:a103:0065:9999";
  other["rdma_devices"]["devices"][0]["ports"][0]["lid"] = 9;
  EXPECT_EQ(host_hardware(other), hw);
  other["rdma_devices"]["devices"][0]["fw_ver"] = "28.40.1000";
  const auto diffs =
      hardware_differences({{"hosts", {hw}}}, {{"hosts", {host_hardware(other)}}}, "A", "B");
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_EQ(diffs[0], R"(hosts[0].rdma[mlx5_0].fw_ver: "28.39.1002" (A) vs "28.40.1000" (B))");
}

TEST(HardwareIdentity, BaselineOfMixedHardwareIsRefused) {
  auto runs = three_runs();
  for (auto& r : runs[1].envelope["ranks"]) r["cpu"]["model"] = "Intel Xeon Platinum 8480+";
  try {
    build_baseline(runs, {"a", "b", "c"});
    FAIL() << "accepted";
  } catch (const core::Error& e) {
    EXPECT_EQ(core::exit_code_for(e.kind()), core::ExitCode::usage);
    const std::string what = e.what();
    EXPECT_NE(what.find("r2 (b) was measured on other hardware than r1 (a)"), std::string::npos)
        << what;
    EXPECT_NE(what.find(R"(hosts[0].cpu.model: "AMD EPYC 7763" (r1) vs "Intel Xeon Platinum)"),
              std::string::npos)
        << what;
  }
}

// ---- diff against a baseline ------------------------------------------------------------------

RunDocument noisy_run(const std::string& id, int pid, double center_ns, double gbps,
                      std::mt19937_64& rng) {
  RunDocument d = run(id, pid);
  CaseResult lat = dt::make_case("lat.pingpong.tcp.64B", "pingpong", 64);
  CaseResult bw = dt::make_case("bw.stream.tcp.1MiB", "stream", 1048576);
  for (int i = 0; i < 5; ++i) {
    lat.repetitions.push_back(dt::noisy_rep(i, center_ns, 0, 0.01, rng));
    lat.repetitions.back().bw_gbps.reset();
    lat.repetitions.back().msg_rate_mops.reset();
    Repetition r =
        dt::bandwidth_rep(i, gbps * (1.0 + 0.01 * std::normal_distribution<>()(rng)), 1.0);
    bw.repetitions.push_back(r);
  }
  summarize_case(lat);
  summarize_case(bw);
  d.cases = {lat, bw};
  return d;
}

const diff::MetricDiff* find(const diff::DiffResult& r, const std::string& case_id,
                             const std::string& metric) {
  for (const auto& c : r.cases) {
    if (c.id != case_id) continue;
    for (const auto& m : c.metrics) {
      if (m.name == metric) return &m;
    }
  }
  return nullptr;
}

TEST(DiffAgainstBaseline, FlagsATenPercentShift) {
  std::mt19937_64 rng(42);
  std::vector<RunDocument> runs;
  for (int i = 0; i < 3; ++i) {
    runs.push_back(noisy_run("base" + std::to_string(i), 1000 * (i + 1), 10000, 10.0, rng));
  }
  const Baseline b = build_baseline(runs, {});

  // Same distribution: nothing regressed.
  const RunDocument same = noisy_run("same", 7000, 10000, 10.0, rng);
  const auto r0 = diff_against_baseline(b, same, {}, false, "baseline.json", "same");
  EXPECT_FALSE(r0.has_regression()) << diff::render(r0, diff::Format::table);

  // Latency 10% higher, bandwidth 10% lower: both regressed, against 15 pooled BASE values.
  const RunDocument slower = noisy_run("slower", 8000, 11000, 9.0, rng);
  const auto r = diff_against_baseline(b, slower, {}, false, "baseline.json", "slower");
  EXPECT_TRUE(r.has_regression());
  const auto* p50 = find(r, "lat.pingpong.tcp.64B", "lat_p50_ns");
  ASSERT_NE(p50, nullptr);
  EXPECT_EQ(p50->verdict, diff::Verdict::regressed);
  EXPECT_EQ(p50->base_values.size(), 15u);
  EXPECT_EQ(p50->new_values.size(), 5u);
  EXPECT_NEAR(*p50->change, 0.10, 0.03);
  const auto* bw = find(r, "bw.stream.tcp.1MiB", "bw_gbps");
  ASSERT_NE(bw, nullptr);
  EXPECT_EQ(bw->verdict, diff::Verdict::regressed);
  EXPECT_EQ(bw->base_values.size(), 15u);
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes[0].find("BASE is a baseline of 3 run(s)"), std::string::npos) << r.notes[0];
  EXPECT_EQ(r.base.run_id, "baseline of 3 runs (base0 .. base2)");
  // The same runs compared one against one cannot see it as clearly: 5 v 5 values.
  EXPECT_NE(diff::render(r, diff::Format::table).find("15/5"), std::string::npos);
}

TEST(DiffAgainstBaseline, RefusesOtherHardwareUnlessForced) {
  std::mt19937_64 rng(7);
  const Baseline b = build_baseline({noisy_run("b1", 1000, 10000, 10, rng)}, {});
  RunDocument other = noisy_run("other", 2000, 10000, 10, rng);
  for (auto& r : other.envelope["ranks"]) r["nics"][0]["driver"] = "ice";
  try {
    diff_against_baseline(b, other, {}, false, "bl.json", "other");
    FAIL() << "accepted";
  } catch (const core::Error& e) {
    EXPECT_EQ(core::exit_code_for(e.kind()), core::ExitCode::usage);
    EXPECT_NE(std::string(e.what()).find(
                  R"(hosts[0].nics[eth0].driver: "mlx5_core" (baseline) vs "ice" (NEW))"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("--force"), std::string::npos);
  }
  const auto forced = diff_against_baseline(b, other, {}, true, "bl.json", "other");
  ASSERT_GE(forced.notes.size(), 2u);
  EXPECT_NE(forced.notes[1].find("hardware differs from the baseline's"), std::string::npos);
}

TEST(DiffAgainstBaseline, MatchesRenamedCasesAndListsMissingOnes) {
  const Baseline b = build_baseline(three_runs(), {});
  RunDocument next = run("next", 9000);
  next.cases = {latency_case("renamed.pingpong.tcp.64B", {1000, 1010, 1020, 1030, 1040})};
  const auto r = diff_against_baseline(b, next, {}, false);
  ASSERT_EQ(r.cases.size(), 2u);
  EXPECT_EQ(r.cases[0].verdict, diff::Verdict::unchanged);
  EXPECT_EQ(r.cases[0].base_id, "lat.pingpong.tcp.64B");
  EXPECT_EQ(r.cases[1].verdict, diff::Verdict::missing);
}

}  // namespace
}  // namespace fabricbench::results::baseline
