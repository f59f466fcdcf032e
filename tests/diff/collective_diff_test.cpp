// `fabricbench diff` on collective cases (docs/DIFF.md "Collective metrics"): the nccl-tests
// figures as metrics, and wrong results as a regression whatever the statistics say.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "results/diff.hpp"
#include "tests/diff/synthetic.hpp"
#include "tests/results/collective_synthetic.hpp"

namespace fabricbench::results::diff {
namespace {

namespace ct = collectivetest;
using nlohmann::json;

const MetricDiff* find(const CaseDiff& c, const std::string& metric) {
  for (const auto& m : c.metrics) {
    if (m.name == metric) return &m;
  }
  return nullptr;
}

RunDocument run_with(const std::string& run_id, std::vector<CaseResult> cases) {
  RunDocument d = difftest::make_document(run_id, difftest::envelope("6.1.0", 1500, 100));
  d.cases = std::move(cases);
  return d;
}

// Eight repetitions around `time_us` (+-1%).
std::vector<double> times_around(double time_us) {
  std::vector<double> out;
  for (const double f : {1.0, 1.01, 0.99, 1.005, 0.995, 1.008, 0.992, 1.002}) {
    out.push_back(time_us * f);
  }
  return out;
}

CaseResult all_reduce(const std::vector<double>& times, std::uint64_t wrong = 0) {
  return ct::collective_case("ar.nccl.1MiB", "all_reduce", "nccl", 1 << 20, times, wrong);
}

TEST(CollectiveDiffMetrics, TableAndValues) {
  EXPECT_EQ(find_metric("collective.time_us")->direction, Direction::lower_is_better);
  EXPECT_EQ(find_metric("collective.algbw_gbytes_per_s")->direction, Direction::higher_is_better);
  EXPECT_EQ(find_metric("collective.busbw_gbytes_per_s")->direction, Direction::higher_is_better);
  EXPECT_EQ(find_metric("collective.in_place.time_us")->direction, Direction::lower_is_better);
  EXPECT_EQ(find_metric("collective.in_place.busbw_gbytes_per_s")->direction,
            Direction::higher_is_better);
  EXPECT_EQ(find_metric("collective.wrong")->direction, Direction::lower_is_better);

  CaseResult c = all_reduce({10.0, 20.0}, 2);
  c.repetitions[1].collective["in_place"] = nullptr;  // not run in the second repetition
  const auto v = metric_values(c);
  EXPECT_EQ(v.at("collective.time_us"), (std::vector<double>{10.0, 20.0}));
  ASSERT_EQ(v.at("collective.busbw_gbytes_per_s").size(), 2u);
  EXPECT_NEAR(v.at("collective.busbw_gbytes_per_s")[0], 1048576.0 / 10 / 1e3 * 1.5, 1e-9);
  EXPECT_NEAR(v.at("collective.algbw_gbytes_per_s")[1], 1048576.0 / 20 / 1e3, 1e-9);
  EXPECT_EQ(v.at("collective.in_place.time_us").size(), 1u);
  EXPECT_NEAR(v.at("collective.in_place.time_us")[0], 11.0, 1e-9);
  // Both placements checked in the first repetition (2 + 2), only out-of-place in the second.
  EXPECT_EQ(v.at("collective.wrong"), (std::vector<double>{4.0, 2.0}));
  // The per-operation histogram gives the latency metrics too; no bandwidth of a stream.
  EXPECT_TRUE(v.contains("lat_p50_ns"));
  EXPECT_FALSE(v.contains("bw_gbps"));

  // Wrong elements not checked anywhere: no collective.wrong at all.
  CaseResult unchecked = all_reduce({10.0});
  unchecked.repetitions[0].collective["out_of_place"]["wrong"] = nullptr;
  unchecked.repetitions[0].collective["in_place"]["wrong"] = nullptr;
  EXPECT_FALSE(metric_values(unchecked).contains("collective.wrong"));
}

TEST(CollectiveDiff, SlowerCollectiveRegressesTimeAndBandwidths) {
  const RunDocument base = run_with("b", {all_reduce(times_around(100.0))});
  const RunDocument next = run_with("n", {all_reduce(times_around(115.0))});
  const DiffResult d = diff_runs(base, next, Options{});
  ASSERT_EQ(d.cases.size(), 1u);
  const CaseDiff& c = d.cases[0];
  EXPECT_EQ(c.verdict, Verdict::regressed);
  for (const char* name :
       {"collective.time_us", "collective.algbw_gbytes_per_s", "collective.busbw_gbytes_per_s",
        "collective.in_place.time_us", "collective.in_place.busbw_gbytes_per_s"}) {
    const MetricDiff* m = find(c, name);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_EQ(m->verdict, Verdict::regressed) << name;
  }
  // busbw falls by 1 - 100/115.
  EXPECT_NEAR(*find(c, "collective.busbw_gbytes_per_s")->change, 100.0 / 115.0 - 1.0, 0.005);
  const MetricDiff* wrong = find(c, "collective.wrong");
  ASSERT_NE(wrong, nullptr);
  EXPECT_EQ(wrong->verdict, Verdict::unchanged);
  EXPECT_TRUE(wrong->warning.empty()) << wrong->warning;
  EXPECT_TRUE(d.has_regression());

  // The same run on both sides: nothing regressed.
  EXPECT_FALSE(diff_runs(base, base, Options{}).has_regression());
}

TEST(CollectiveDiff, WrongResultsRegressWhateverTheStatisticsSay) {
  // Identical timings, two repetitions (too few to decide anything), a huge threshold: only
  // the wrong elements differ.
  Options o;
  o.threshold_pct = 1000;
  o.thresholds_pct["collective.wrong"] = 1000;
  const RunDocument base = run_with("b", {all_reduce({10.0, 10.0})});
  RunDocument next = run_with("n", {all_reduce({10.0, 10.0})});
  next.cases[0].repetitions[1].collective["in_place"]["wrong"] = 1;
  const DiffResult d = diff_runs(base, next, o);
  const MetricDiff* wrong = find(d.cases[0], "collective.wrong");
  ASSERT_NE(wrong, nullptr);
  EXPECT_EQ(wrong->verdict, Verdict::regressed);
  EXPECT_NE(wrong->warning.find("1 wrong element(s) in 1 of 2 repetition(s)"), std::string::npos)
      << wrong->warning;
  EXPECT_NE(wrong->warning.find("whatever the statistics and thresholds say"), std::string::npos);
  EXPECT_EQ(d.cases[0].verdict, Verdict::regressed);
  EXPECT_TRUE(d.has_regression());
  EXPECT_EQ(find(d.cases[0], "collective.time_us")->verdict, Verdict::unchanged);

  // The other way round: NEW is clean where BASE was not.
  const DiffResult back = diff_runs(next, base, o);
  const MetricDiff* fixed = find(back.cases[0], "collective.wrong");
  ASSERT_NE(fixed, nullptr);
  EXPECT_EQ(fixed->verdict, Verdict::improved);
  EXPECT_FALSE(back.has_regression());
}

TEST(CollectiveDiff, NewCaseWithWrongResultsIsARegression) {
  const RunDocument base = run_with("b", {});
  RunDocument next = run_with("n", {all_reduce({10.0, 10.0, 10.0}, 0)});
  next.cases.push_back(
      ct::collective_case("ag.nccl.4KiB", "all_gather", "nccl", 4096, {5.0, 5.0, 5.0}, 0));
  EXPECT_FALSE(diff_runs(base, next, Options{}).has_regression());  // new, clean: no verdict

  next.cases[1].repetitions[2].collective["out_of_place"]["wrong"] = 7;
  const DiffResult d = diff_runs(base, next, Options{});
  ASSERT_EQ(d.cases.size(), 2u);
  EXPECT_EQ(d.cases[0].verdict, Verdict::added);
  EXPECT_TRUE(d.cases[0].metrics.empty());
  const CaseDiff& bad = d.cases[1];
  EXPECT_EQ(bad.verdict, Verdict::added);
  ASSERT_EQ(bad.metrics.size(), 1u);
  EXPECT_EQ(bad.metrics[0].name, "collective.wrong");
  EXPECT_EQ(bad.metrics[0].verdict, Verdict::regressed);
  EXPECT_NE(bad.metrics[0].warning.find("7 wrong element(s) in 1 of 3"), std::string::npos)
      << bad.metrics[0].warning;
  EXPECT_TRUE(d.has_regression());
  EXPECT_EQ(d.counts().regressed, 1u);
  EXPECT_EQ(d.counts().added, 2u);
}

// Regenerate after an intended change, and review the difference:
// FABRICBENCH_UPDATE_GOLDEN=1 build/<preset>/tests/diff/diff_tests
// --gtest_filter='CollectiveDiff.Golden*'
TEST(CollectiveDiff, GoldenTable) {
  const RunDocument base = run_with("20261123T100000Z-coll-base", {all_reduce(times_around(100))});
  RunDocument next = run_with("20261124T100000Z-coll-new", {all_reduce(times_around(90))});
  next.cases.push_back(
      ct::collective_case("ag.nccl.4KiB", "all_gather", "nccl", 4096, {5.0, 5.1, 4.9}, 2));
  const std::string text =
      render(diff_runs(base, next, Options{}, "runs/base", "runs/new"), Format::table);
  const std::string path = difftest::source_dir() + "/tests/diff/golden/collective_diff.txt";
  const char* update = std::getenv("FABRICBENCH_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") difftest::write_text(path, text);
  EXPECT_EQ(text, difftest::read_text(path)) << "actual:\n" << text;
}

}  // namespace
}  // namespace fabricbench::results::diff
