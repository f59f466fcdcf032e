// `fabricbench diff`: decisions on synthetic runs, false-positive rate, matching, metrics,
// envelope differences, thresholds files and unreadable inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "core/error.hpp"
#include "results/diff.hpp"
#include "tests/diff/synthetic.hpp"

namespace fabricbench::results::diff {
namespace {

using difftest::make_case;
using difftest::make_document;
using nlohmann::json;

const MetricDiff* find(const CaseDiff& c, const std::string& metric) {
  for (const auto& m : c.metrics) {
    if (m.name == metric) return &m;
  }
  return nullptr;
}

const CaseDiff* find_case(const DiffResult& d, const std::string& id) {
  for (const auto& c : d.cases) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

// One case "x.pingpong.tcp.64B" with 9 noisy repetitions per run around the given centers.
RunDocument shifted_run(const std::string& run_id, double latency_ns, double gbps,
                        std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  RunDocument d = make_document(run_id, difftest::envelope("6.1.0", 1500, 100));
  CaseResult c = make_case("x.pingpong.tcp.64B", "pingpong", 64);
  for (int i = 0; i < 9; ++i)
    c.repetitions.push_back(difftest::noisy_rep(i, latency_ns, gbps, 0.02, rng));
  summarize_case(c);
  d.cases.push_back(std::move(c));
  return d;
}

TEST(Diff, TenPercentShiftWithNineRepetitionsIsFlagged) {
  // NEW: latency 10% higher and bandwidth 10% lower (2% noise between repetitions).
  const RunDocument base = shifted_run("base", 1000, 10.0, 1);
  const RunDocument worse = shifted_run("worse", 1100, 9.0, 2);
  const DiffResult d = diff_runs(base, worse, Options{});
  ASSERT_EQ(d.cases.size(), 1u);
  const CaseDiff& c = d.cases[0];
  EXPECT_EQ(c.verdict, Verdict::regressed);
  for (const char* metric : {"lat_p50_ns", "lat_p99_ns", "bw_gbps", "msg_rate_mops"}) {
    const MetricDiff* m = find(c, metric);
    ASSERT_NE(m, nullptr) << metric;
    EXPECT_EQ(m->verdict, Verdict::regressed) << metric;
    EXPECT_EQ(m->base_values.size(), 9u);
    ASSERT_TRUE(m->test.has_value());
    EXPECT_TRUE(m->test->exact);
    EXPECT_LT(m->test->p_value, 0.001) << metric;
    EXPECT_TRUE(m->warning.empty()) << m->warning;
  }
  EXPECT_NEAR(*find(c, "lat_p50_ns")->change, 0.10, 0.04);
  EXPECT_NEAR(*find(c, "bw_gbps")->change, -0.10, 0.04);
  EXPECT_TRUE(d.has_regression());

  // The other way round: improved everywhere, no regression.
  const DiffResult back = diff_runs(worse, base, Options{});
  EXPECT_EQ(back.cases[0].verdict, Verdict::improved);
  for (const auto& m : back.cases[0].metrics) EXPECT_EQ(m.verdict, Verdict::improved) << m.name;
  EXPECT_FALSE(back.has_regression());

  // Same distribution, another draw: nothing to report.
  const DiffResult same = diff_runs(base, shifted_run("same", 1000, 10.0, 3), Options{});
  EXPECT_FALSE(same.has_regression());
}

// Runs drawn from one distribution are flagged (improved or regressed) at most at about the
// test's false-positive rate: 2000 trials with a fixed seed, 9 repetitions a side. (The exact
// test's true size at 9 vs 9 is 0.040, below alpha because the distribution is discrete.)
TEST(Diff, FalsePositiveRateOfTheTestIsAtMostAlpha) {
  std::mt19937_64 rng(20261123);
  std::normal_distribution<double> noise(100.0, 5.0);
  constexpr int kTrials = 2000;
  Options test_only;
  test_only.threshold_pct = 0;  // the U test alone decides
  const Options defaults;
  int flagged_test_only = 0;
  int flagged_defaults = 0;
  for (int t = 0; t < kTrials; ++t) {
    std::vector<double> a(9);
    std::vector<double> b(9);
    for (auto& v : a) v = noise(rng);
    for (auto& v : b) v = noise(rng);
    if (compare_metric("bw_gbps", Direction::higher_is_better, a, b, test_only).verdict !=
        Verdict::unchanged) {
      ++flagged_test_only;
    }
    if (compare_metric("bw_gbps", Direction::higher_is_better, a, b, defaults).verdict !=
        Verdict::unchanged) {
      ++flagged_defaults;
    }
  }
  const double alpha = 0.05;
  const double se = std::sqrt(alpha * (1 - alpha) / kTrials);
  const double rate = static_cast<double>(flagged_test_only) / kTrials;
  std::printf("false-positive rate: U test alone %.4f, with the 5%% threshold %.4f (%d trials)\n",
              rate, static_cast<double>(flagged_defaults) / kTrials, kTrials);
  EXPECT_LE(rate, alpha + 3 * se) << flagged_test_only << " of " << kTrials;
  EXPECT_GT(rate, 0.01) << "the test should still reject sometimes";  // not degenerate
  // The effect-size threshold only removes verdicts.
  EXPECT_LE(flagged_defaults, flagged_test_only);
}

TEST(Diff, FalsePositiveRateOfTheNormalApproximationIsAtMostAlpha) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(7.0, 0.1);
  constexpr int kTrials = 500;
  Options test_only;
  test_only.threshold_pct = 0;
  int flagged = 0;
  for (int t = 0; t < kTrials; ++t) {
    std::vector<double> a(25);
    std::vector<double> b(25);
    for (auto& v : a) v = std::round(latency(rng));  // integers: ties, as histograms give
    for (auto& v : b) v = std::round(latency(rng));
    const MetricDiff m = compare_metric("lat_p50_ns", Direction::lower_is_better, a, b, test_only);
    ASSERT_FALSE(m.test->exact);
    if (m.verdict != Verdict::unchanged) ++flagged;
  }
  const double se = std::sqrt(0.05 * 0.95 / kTrials);
  std::printf("false-positive rate of the normal approximation: %.4f (%d trials)\n",
              static_cast<double>(flagged) / kTrials, kTrials);
  EXPECT_LE(static_cast<double>(flagged) / kTrials, 0.05 + 3 * se) << flagged;
}

TEST(Diff, EffectSizeThresholdHoldsBackSmallSignificantChanges) {
  // A clear but small shift: +2%, every NEW value above every BASE value.
  const std::vector<double> base = {100, 100.1, 100.2, 100.3, 100.4, 100.5};
  const std::vector<double> next = {102, 102.1, 102.2, 102.3, 102.4, 102.5};
  const MetricDiff small = compare_metric("lat_p50_ns", Direction::lower_is_better, base, next, {});
  EXPECT_LT(small.test->p_value, 0.01);
  EXPECT_EQ(small.verdict, Verdict::unchanged);  // 2% < 5%
  Options one_pct;
  one_pct.thresholds_pct["lat_p50_ns"] = 1;
  EXPECT_EQ(compare_metric("lat_p50_ns", Direction::lower_is_better, base, next, one_pct).verdict,
            Verdict::regressed);
  EXPECT_EQ(compare_metric("bw_gbps", Direction::higher_is_better, base, next, one_pct).verdict,
            Verdict::unchanged);  // the override is per metric
  EXPECT_EQ(
      compare_metric("bw_gbps", Direction::higher_is_better, base, next, Options{}).threshold_pct,
      5.0);
}

TEST(Diff, TooFewRepetitionsWarnAndDecideOnlyWithAllowFew) {
  const std::vector<double> base = {100, 101};
  const std::vector<double> next = {150, 151};
  const MetricDiff m = compare_metric("lat_p99_ns", Direction::lower_is_better, base, next, {});
  EXPECT_EQ(m.verdict, Verdict::unchanged);
  EXPECT_NE(m.warning.find("too few repetitions to decide"), std::string::npos) << m.warning;
  Options allow;
  allow.allow_few = true;
  const MetricDiff decided =
      compare_metric("lat_p99_ns", Direction::lower_is_better, base, next, allow);
  EXPECT_EQ(decided.verdict, Verdict::regressed);
  EXPECT_NE(decided.warning.find("effect size alone"), std::string::npos) << decided.warning;
  EXPECT_EQ(compare_metric("lat_p99_ns", Direction::lower_is_better, {100, 101}, {102, 101}, allow)
                .verdict,
            Verdict::unchanged);

  // 3 a side passes --min-repetitions but cannot reach p < 0.05 (smallest p 0.1): still a warning.
  const MetricDiff three =
      compare_metric("lat_p99_ns", Direction::lower_is_better, {1, 2, 3}, {10, 11, 12}, {});
  EXPECT_EQ(three.verdict, Verdict::unchanged);
  EXPECT_NE(three.warning.find("smallest possible p is 0.1"), std::string::npos) << three.warning;
  // 4 a side can.
  EXPECT_EQ(
      compare_metric("lat_p99_ns", Direction::lower_is_better, {1, 2, 3, 4}, {10, 11, 12, 13}, {})
          .verdict,
      Verdict::regressed);
}

TEST(Diff, ChangeFromZero) {
  const MetricDiff m = compare_metric("fault.stall_ns", Direction::lower_is_better, {0, 0, 0, 0, 0},
                                      {5, 6, 7, 8, 9}, {});
  ASSERT_TRUE(m.change.has_value());
  EXPECT_TRUE(std::isinf(*m.change));
  EXPECT_EQ(m.verdict, Verdict::regressed);
  const MetricDiff zero =
      compare_metric("fault.stall_ns", Direction::lower_is_better, {0, 0, 0, 0}, {0, 0, 0, 0}, {});
  EXPECT_EQ(*zero.change, 0.0);
  EXPECT_EQ(zero.verdict, Verdict::unchanged);
}

TEST(Diff, GoldenPairHasEveryVerdict) {
  const DiffResult d = diff_runs(difftest::golden_base(), difftest::golden_new(), Options{});
  auto verdict = [&](const std::string& id) {
    const CaseDiff* c = find_case(d, id);
    EXPECT_NE(c, nullptr) << id;
    return c == nullptr ? Verdict::not_comparable : c->verdict;
  };
  EXPECT_EQ(verdict("lat.pingpong.tcp.64B"), Verdict::regressed);
  EXPECT_EQ(verdict("bw.stream.tcp.1MiB"), Verdict::improved);
  EXPECT_EQ(verdict("few.pingpong.tcp.8B"), Verdict::unchanged);
  EXPECT_EQ(verdict("new.pingpong.tcp.128B"), Verdict::unchanged);
  EXPECT_EQ(verdict("gone.stream.tcp.4KiB"), Verdict::missing);
  EXPECT_EQ(verdict("added.stream.tcp.8KiB"), Verdict::added);
  EXPECT_EQ(verdict("flaky.pingpong.tcp.16B"), Verdict::not_comparable);
  EXPECT_EQ(verdict("reg.stream.tcp.64KiB.regime=realistic"), Verdict::regressed);
  EXPECT_EQ(verdict("flt.stream.tcp.64KiB.fault=down"), Verdict::improved);

  const CaseDiff* renamed = find_case(d, "new.pingpong.tcp.128B");
  EXPECT_EQ(renamed->base_id, "old.pingpong.tcp.128B");
  EXPECT_NE(renamed->note.find("matched by parameters"), std::string::npos);
  EXPECT_NE(find_case(d, "flaky.pingpong.tcp.16B")->note.find("failed in NEW"), std::string::npos);
  EXPECT_NE(find_case(d, "flaky.pingpong.tcp.16B")->note.find("peer_lost"), std::string::npos);

  // Same id, another tcp.nodelay: two cases, each saying why.
  int nd = 0;
  for (const auto& c : d.cases) {
    if (c.id != "nd.pingpong.tcp.256B") continue;
    ++nd;
    EXPECT_TRUE(c.verdict == Verdict::added || c.verdict == Verdict::missing);
    EXPECT_NE(c.note.find("tcp.nodelay"), std::string::npos) << c.note;
  }
  EXPECT_EQ(nd, 2);

  const CaseDiff* regime = find_case(d, "reg.stream.tcp.64KiB.regime=realistic");
  EXPECT_EQ(find(*regime, "regime.queue_age_p99_ns")->verdict, Verdict::regressed);
  EXPECT_EQ(find(*regime, "regime.goodput_ops_per_s")->verdict, Verdict::unchanged);
  EXPECT_EQ(find(*regime, "regime.goodput_ops_per_s")->direction, Direction::higher_is_better);
  EXPECT_NE(find(*regime, "regime.sustainable_rate_ops_per_s"), nullptr);
  EXPECT_NE(find(*regime, "regime.lat_p99_ns"), nullptr);
  EXPECT_EQ(find(*regime, "lat_p99_ns"), nullptr);  // the same figure as regime.lat_p99_ns
  EXPECT_NE(find(*regime, "lat_p50_ns"), nullptr);

  const CaseDiff* fault = find_case(d, "flt.stream.tcp.64KiB.fault=down");
  EXPECT_EQ(find(*fault, "fault.stall_ns")->verdict, Verdict::improved);
  const MetricDiff* ttr = find(*fault, "fault.ttr90_from_clear_ns");
  EXPECT_EQ(ttr->new_values.size(), 4u);
  EXPECT_NE(ttr->warning.find("NEW: 1 of 5 repetitions without a value"), std::string::npos)
      << ttr->warning;

  const Counts c = d.counts();
  EXPECT_EQ(c.added, 2u);  // added + nd (NEW)
  EXPECT_EQ(c.missing, 2u);
  EXPECT_EQ(c.not_comparable, 1u);
  EXPECT_TRUE(d.has_regression());
}

TEST(Diff, MatchingIgnoresRepetitionsAndHonoursIgnoreParam) {
  RunDocument base = make_document("b", json::object());
  RunDocument next = make_document("n", json::object());
  CaseResult a = make_case("lat.pingpong.tcp.64B", "pingpong", 64);
  CaseResult b = a;
  b.params["repetitions"] = 20;
  b.params["tcp"]["address"] = "10.0.0.2";
  base.cases.push_back(a);
  next.cases.push_back(b);
  EXPECT_NE(case_identity(a), case_identity(b));
  EXPECT_EQ(case_identity(a, {"tcp.address"}), case_identity(b, {"tcp.address"}));

  const DiffResult strict = diff_runs(base, next, Options{});
  ASSERT_EQ(strict.cases.size(), 2u);
  EXPECT_EQ(strict.cases[0].verdict, Verdict::added);
  EXPECT_NE(strict.cases[0].note.find("tcp.address"), std::string::npos) << strict.cases[0].note;
  EXPECT_EQ(strict.cases[1].verdict, Verdict::missing);

  Options loose;
  loose.ignore_params = {"tcp.address"};
  const DiffResult matched = diff_runs(base, next, loose);
  ASSERT_EQ(matched.cases.size(), 1u);
  EXPECT_EQ(matched.cases[0].verdict, Verdict::not_comparable);  // no repetitions: no metrics
  EXPECT_EQ(matched.cases[0].note, "no metrics measured");

  // Two cases with one identity in both runs pair up in order.
  next.cases.push_back(a);
  base.cases.push_back(a);
  const DiffResult twice = diff_runs(base, next, Options{});
  int compared = 0;
  for (const auto& c : twice.cases) compared += c.base_id.empty() || c.new_id.empty() ? 0 : 1;
  EXPECT_EQ(compared, 1);  // a matches a; b (other address) stays new, the second a missing
}

TEST(Diff, SkippedOrFailedCasesAreNotComparable) {
  RunDocument base = make_document("b", json::object());
  RunDocument next = make_document("n", json::object());
  CaseResult ok = make_case("v.pingpong.verbs.64B", "pingpong", 64);
  for (int i = 0; i < 5; ++i) ok.repetitions.push_back(difftest::latency_rep(i, 1000));
  CaseResult skipped = make_case("v.pingpong.verbs.64B", "pingpong", 64);
  skipped.status = CaseStatus::skipped;
  skipped.skip_reason = "no RDMA device";
  base.cases.push_back(ok);
  next.cases.push_back(skipped);
  const DiffResult d = diff_runs(base, next, Options{});
  ASSERT_EQ(d.cases.size(), 1u);
  EXPECT_EQ(d.cases[0].verdict, Verdict::not_comparable);
  EXPECT_EQ(d.cases[0].note, "skipped in NEW: no RDMA device");
  EXPECT_FALSE(d.has_regression());
  EXPECT_EQ(d.counts().not_comparable, 1u);
}

TEST(Diff, InterruptedRunsAreNoted) {
  RunDocument base = make_document("b", json::object());
  RunDocument next = make_document("n", json::object());
  next.status = RunStatus::interrupted;
  const DiffResult d = diff_runs(base, next, Options{});
  ASSERT_EQ(d.notes.size(), 1u);
  EXPECT_EQ(d.notes[0], "NEW run is interrupted: it may lack cases");
}

TEST(DiffEnvelope, ListsChangedKernelAndMtu) {
  const json base = difftest::envelope("6.1.0-18-amd64", 1500, 1000);
  const json next = difftest::envelope("6.1.0-21-amd64", 9000, 2000);
  const auto diffs = diff_envelopes(base, next);
  // pid, placement.cpu, cpu.frequency_cpu, unavailable.* and FABRICBENCH_ROOT differ too, but
  // are ignored (volatile).
  ASSERT_EQ(diffs.size(), 2u);
  EXPECT_EQ(diffs[0].path, "kernel.release");
  EXPECT_EQ(*diffs[0].base, "6.1.0-18-amd64");
  EXPECT_EQ(*diffs[0].next, "6.1.0-21-amd64");
  EXPECT_TRUE(diffs[0].all_ranks);
  EXPECT_EQ(diffs[0].ranks, (std::vector<int>{0, 1}));
  EXPECT_EQ(diffs[1].path, "nics[eth0].mtu");
  EXPECT_EQ(*diffs[1].base, 1500);
  EXPECT_EQ(*diffs[1].next, 9000);
  EXPECT_FALSE(diffs[1].all_ranks);
  EXPECT_EQ(diffs[1].ranks, (std::vector<int>{0}));

  // The same envelope: nothing. An extra ignore pattern hides the MTU.
  EXPECT_TRUE(diff_envelopes(base, base).empty());
  EXPECT_EQ(diff_envelopes(base, next, {"nics[*].mtu"}).size(), 1u);
}

TEST(DiffEnvelope, AbsentFactsAndRankCounts) {
  json base = difftest::envelope("6.1.0", 1500, 1);
  json next = base;
  next["ranks"][1]["environment"]["NCCL_IB_HCA"] = "mlx5_0";
  next["ranks"][0]["libraries"].erase("fmt");
  auto diffs = diff_envelopes(base, next);
  ASSERT_EQ(diffs.size(), 2u);
  EXPECT_EQ(diffs[0].path, "environment.NCCL_IB_HCA");
  EXPECT_FALSE(diffs[0].base.has_value());
  EXPECT_EQ(*diffs[0].next, "mlx5_0");
  EXPECT_EQ(diffs[0].ranks, (std::vector<int>{1}));
  EXPECT_EQ(diffs[1].path, "libraries.fmt");
  EXPECT_FALSE(diffs[1].next.has_value());

  next = base;
  next["ranks"].erase(1);
  diffs = diff_envelopes(base, next);
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_EQ(diffs[0].path, "ranks");
  EXPECT_EQ(*diffs[0].base, 2);
  EXPECT_EQ(*diffs[0].next, 1);
}

TEST(DiffEnvelope, FlattenNamesArrayElements) {
  const json rank = {
      {"nics", json::array({{{"name", "eth0"}, {"mtu", 1500}}, {{"name", "ib0"}, {"mtu", 4092}}})},
      {"numa", {{"nodes", json::array({{{"id", 0}, {"cpus", "0-7"}}})}}},
      {"odd", json::array({{{"x", 1}}, {{"x", 2}}})},
      {"list", json::array({"a", "b"})}};
  const auto flat = flatten_envelope(rank);
  EXPECT_EQ(flat.at("nics[eth0].mtu"), 1500);
  EXPECT_EQ(flat.at("nics[ib0].mtu"), 4092);
  EXPECT_EQ(flat.at("numa.nodes[0].cpus"), "0-7");
  EXPECT_EQ(flat.at("odd[1].x"), 2);
  EXPECT_EQ(flat.at("list"), json::array({"a", "b"}));
}

TEST(DiffEnvelope, GlobMatch) {
  EXPECT_TRUE(glob_match("unavailable.*", "unavailable.cpu.governor"));
  EXPECT_TRUE(glob_match("nics[*].mtu", "nics[eth0].mtu"));
  EXPECT_FALSE(glob_match("nics[*].mtu", "nics[eth0].driver"));
  EXPECT_TRUE(glob_match("pid", "pid"));
  EXPECT_FALSE(glob_match("pid", "pids"));
  EXPECT_TRUE(glob_match("a?c*", "abcdef"));
  EXPECT_TRUE(glob_match("*", ""));
}

class DiffFiles : public ::testing::Test {
 protected:
  difftest::TempDir dir;

  // Expects read_for_diff to fail with core::Error(config) naming the file; returns the message.
  std::string read_error(const std::string& path) {
    try {
      read_for_diff(path, "NEW");
    } catch (const core::Error& e) {
      EXPECT_EQ(e.kind(), core::ErrorKind::config) << e.what();
      const std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      EXPECT_EQ(what.rfind("NEW run document", 0), 0u) << what;
      return what;
    }
    ADD_FAILURE() << "read_for_diff accepted " << path;
    return {};
  }
};

TEST_F(DiffFiles, ReadsValidDocumentsAndDirectories) {
  const std::string text = to_json(difftest::golden_base()).dump() + "\n";
  difftest::write_text(dir.file("run.json"), text);
  EXPECT_EQ(read_for_diff(dir.file("run.json"), "BASE").cases.size(), 9u);
  EXPECT_EQ(read_for_diff(dir.path(), "BASE").run_id, "20261123T100000Z-golden-base");
}

TEST_F(DiffFiles, CorruptTruncatedAndWrongVersionAreConfigErrors) {
  const std::string text = to_json(difftest::golden_base()).dump() + "\n";
  difftest::write_text(dir.file("corrupt.json"), "{\"schema\": fabricbench");
  EXPECT_NE(read_error(dir.file("corrupt.json")).find("not valid JSON"), std::string::npos);

  difftest::write_text(dir.file("truncated.json"), text.substr(0, text.size() / 2));
  EXPECT_NE(read_error(dir.file("truncated.json")).find("not valid JSON"), std::string::npos);

  difftest::write_text(dir.file("empty.json"), "");
  read_error(dir.file("empty.json"));

  json j = json::parse(text);
  j["schema_version"] = 2;
  difftest::write_text(dir.file("v2.json"), j.dump());
  EXPECT_NE(read_error(dir.file("v2.json")).find("newer fabricbench"), std::string::npos);

  j = json::parse(text);
  j["schema"] = "fabricbench.diff";
  difftest::write_text(dir.file("other.json"), j.dump());
  EXPECT_NE(read_error(dir.file("other.json")).find("not a \"fabricbench.run\""),
            std::string::npos);

  j = json::parse(text);
  j["cases"][0]["repetitions"][0]["latency"]["histogram"]["count"] = 7;
  difftest::write_text(dir.file("badhist.json"), j.dump());
  read_error(dir.file("badhist.json"));

  read_error(dir.file("does-not-exist.json"));
}

TEST_F(DiffFiles, ThresholdsFile) {
  difftest::write_text(dir.file("t.yaml"),
                       "# per-metric thresholds, percent\n"
                       "default: 7\n"
                       "lat_p99_ns: 10\n"
                       "bw_gbps: \"2.5%\"\n"
                       "fault.stall_ns: 0\n");
  Options o;
  load_thresholds_file(dir.file("t.yaml"), o);
  EXPECT_DOUBLE_EQ(o.threshold_pct, 7);
  EXPECT_DOUBLE_EQ(o.threshold_for("lat_p99_ns"), 10);
  EXPECT_DOUBLE_EQ(o.threshold_for("bw_gbps"), 2.5);
  EXPECT_DOUBLE_EQ(o.threshold_for("fault.stall_ns"), 0);
  EXPECT_DOUBLE_EQ(o.threshold_for("lat_p50_ns"), 7);

  auto error = [&](const std::string& content) {
    difftest::write_text(dir.file("bad.yaml"), content);
    Options x;
    try {
      load_thresholds_file(dir.file("bad.yaml"), x);
    } catch (const core::Error& e) {
      EXPECT_EQ(e.kind(), core::ErrorKind::config);
      EXPECT_NE(std::string(e.what()).find(dir.file("bad.yaml")), std::string::npos);
      return std::string(e.what());
    }
    ADD_FAILURE() << "accepted: " << content;
    return std::string();
  };
  EXPECT_NE(error("lat_p99: 10\n").find("unknown metric \"lat_p99\""), std::string::npos);
  EXPECT_NE(error("bw_gbps: 10\nlat_p50_ns: lots\n").find(":2:1: lat_p50_ns"), std::string::npos);
  EXPECT_NE(error("bw_gbps: -1\n").find("between 0 and 1000"), std::string::npos);
  EXPECT_NE(error("- 1\n- 2\n").find("expected a mapping"), std::string::npos);
  EXPECT_NE(error("a: [1\n").find("not valid YAML"), std::string::npos);
  Options untouched;
  EXPECT_THROW(load_thresholds_file(dir.file("missing.yaml"), untouched), core::Error);
}

TEST(DiffMetrics, TableDirections) {
  EXPECT_EQ(find_metric("lat_p50_ns")->direction, Direction::lower_is_better);
  EXPECT_EQ(find_metric("lat_p99_ns")->direction, Direction::lower_is_better);
  EXPECT_EQ(find_metric("bw_gbps")->direction, Direction::higher_is_better);
  EXPECT_EQ(find_metric("msg_rate_mops")->direction, Direction::higher_is_better);
  EXPECT_EQ(find_metric("regime.lat_p99_ns")->direction, Direction::lower_is_better);
  EXPECT_EQ(find_metric("regime.queue_age_p99_ns")->direction, Direction::lower_is_better);
  EXPECT_EQ(find_metric("regime.goodput_ops_per_s")->direction, Direction::higher_is_better);
  EXPECT_EQ(find_metric("regime.sustainable_rate_ops_per_s")->direction,
            Direction::higher_is_better);
  EXPECT_EQ(find_metric("fault.ttr90_from_clear_ns")->direction, Direction::lower_is_better);
  EXPECT_EQ(find_metric("fault.stall_ns")->direction, Direction::lower_is_better);
  EXPECT_EQ(find_metric("nope"), nullptr);
}

TEST(DiffMetrics, ValuesPerRepetition) {
  CaseResult c = make_case("x.pingpong.tcp.8B", "pingpong", 8);
  c.repetitions.push_back(difftest::latency_rep(0, 1000));
  c.repetitions.push_back(difftest::latency_rep(1, 2000));
  c.repetitions.push_back(difftest::bandwidth_rep(2, 5.0, 1.0));  // no latency samples
  const auto values = metric_values(c);
  EXPECT_EQ(values.at("lat_p50_ns").size(), 2u);
  EXPECT_NEAR(values.at("lat_p50_ns")[0], 1000, 1000 * stats::Histogram::kRelativeErrorBound);
  EXPECT_NEAR(values.at("lat_p99_ns")[1], 4000, 4000 * stats::Histogram::kRelativeErrorBound);
  EXPECT_EQ(values.at("bw_gbps"), std::vector<double>{5.0});
  EXPECT_FALSE(values.contains("regime.lat_p99_ns"));
}

}  // namespace
}  // namespace fabricbench::results::diff
