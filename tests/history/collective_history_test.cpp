// Collective cases in the baseline, the history store and the OpenMetrics exposition
// (docs/HISTORY.md): the collective metrics are pooled, stored and exposed like the others.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>

#include "results/baseline.hpp"
#include "results/history.hpp"
#include "results/openmetrics.hpp"
#include "tests/diff/synthetic.hpp"
#include "tests/results/collective_synthetic.hpp"

namespace fabricbench::results {
namespace {

namespace ct = collectivetest;
namespace dt = difftest;
using nlohmann::json;

const CaseResult& case_of(const RunDocument& d, const std::string& id) {
  for (const auto& c : d.cases) {
    if (c.id == id) return c;
  }
  throw std::runtime_error("no case " + id);
}

// Regenerate after an intended change, and review the difference:
// FABRICBENCH_UPDATE_GOLDEN=1 build/<preset>/tests/history/history_tests
// --gtest_filter='CollectiveOpenMetrics.Golden*'
TEST(CollectiveOpenMetrics, GoldenFile) {
  const std::string text = openmetrics::render(ct::collective_document("20261123T100000Z-coll"));
  const std::string path = dt::source_dir() + "/tests/history/golden/collective.om";
  const char* update = std::getenv("FABRICBENCH_UPDATE_GOLDEN");
  if (update != nullptr && *update != '\0') dt::write_text(path, text);
  EXPECT_EQ(text, dt::read_text(path)) << "actual:\n" << text;
}

TEST(CollectiveOpenMetrics, LabelsAndBaseUnits) {
  RunDocument d = ct::collective_document("r1");
  d.cases = {ct::collective_case("ar", "all_reduce", "nccl", 1 << 20, {10, 12, 11, 40}, 1),
             ct::collective_case("ag", "all_gather", "mpi", 4096, {5.0}, 0)};
  d.cases[1].repetitions[0].collective["in_place"] = nullptr;
  const std::string text = openmetrics::render(d);
  // busbw: median of 1 MiB / t * 1.5 over t = 10, 11, 12, 40 (GB/s), in bytes per second.
  const double busbw = (1048576.0 / 11 + 1048576.0 / 12) / 2 / 1e3 * 1.5 * 1e9;
  const std::string labels =
      "{case=\"ar\",suite=\"collective\",transport=\"nccl\",run_id=\"r1\",collective=\"all_"
      "reduce\","
      "type=\"float32\",redop=\"sum\",ranks=\"4\",size_bytes=\"1048576\",placement=\"out_of_"
      "place\","
      "backend=\"nccl\"} ";
  const auto at = text.find("fabricbench_collective_busbw_bytes_per_second" + labels);
  ASSERT_NE(at, std::string::npos) << text;
  const double value = std::stod(text.substr(at + text.substr(at).find("} ") + 2));
  EXPECT_NEAR(value, busbw, busbw * 1e-9);
  EXPECT_NE(text.find("fabricbench_collective_time_seconds{case=\"ar\""), std::string::npos);
  // In-place: median 11.5 us * 1.1, in seconds.
  const std::string in_place = "size_bytes=\"1048576\",placement=\"in_place\",backend=\"nccl\"} ";
  const auto ip = text.find(in_place);
  ASSERT_NE(ip, std::string::npos) << text;
  EXPECT_NEAR(std::stod(text.substr(ip + in_place.size())), 11.5 * 1.1e-6, 1e-15);
  // Wrong elements summed over the four repetitions, per placement.
  EXPECT_NE(text.find("fabricbench_collective_wrong_elements{case=\"ar\""), std::string::npos);
  EXPECT_NE(text.find("placement=\"out_of_place\",backend=\"nccl\"} 4\n"), std::string::npos);
  // all_gather does not reduce: redop "none", as nccl-tests prints it; no in-place sample.
  EXPECT_NE(text.find("collective=\"all_gather\",type=\"float32\",redop=\"none\""),
            std::string::npos);
  EXPECT_EQ(text.find("case=\"ag\",suite=\"collective\",transport=\"mpi\",run_id=\"r1\","
                      "collective=\"all_gather\",type=\"float32\",redop=\"none\",ranks=\"4\","
                      "size_bytes=\"4096\",placement=\"in_place\""),
            std::string::npos);
  // Not as generic families: the collective metrics have their own.
  EXPECT_EQ(text.find("collective.time_us"), std::string::npos);
  EXPECT_EQ(text.find("NaN"), std::string::npos);
  // A run without collective cases has no collective family.
  EXPECT_EQ(openmetrics::render(dt::golden_new()).find("fabricbench_collective_"),
            std::string::npos);
}

TEST(CollectiveBaseline, PoolsTheCollectiveMetricsAndDiffsAgainstThem) {
  std::vector<RunDocument> runs;
  for (int i = 0; i < 3; ++i) {
    RunDocument d = ct::collective_document("2026112" + std::to_string(i) + "T100000Z-coll");
    runs.push_back(std::move(d));
  }
  const baseline::Baseline b = baseline::build_baseline(runs, {"a", "b", "c"});
  const baseline::BaselineCase* ar = nullptr;
  for (const auto& c : b.cases) {
    if (c.id == "allreduce.nccl.1048576") ar = &c;
  }
  ASSERT_NE(ar, nullptr);
  std::set<std::string> names;
  for (const auto& m : ar->metrics) {
    names.insert(m.name);
    if (m.name == "collective.busbw_gbytes_per_s") {
      EXPECT_EQ(m.values.size(), 12u);
    }
  }
  for (const char* name : {"collective.time_us", "collective.algbw_gbytes_per_s",
                           "collective.busbw_gbytes_per_s", "collective.in_place.time_us",
                           "collective.in_place.busbw_gbytes_per_s", "collective.wrong"}) {
    EXPECT_TRUE(names.contains(name)) << name;
  }
  // The baseline's JSON keeps them.
  const baseline::Baseline back = baseline::baseline_from_json(baseline::to_json(b));
  EXPECT_EQ(baseline::to_json(back), baseline::to_json(b));

  // NEW with wrong results against the baseline: regressed.
  RunDocument next = ct::collective_document("20261130T100000Z-coll");
  next.cases[0].repetitions[0].collective["out_of_place"]["wrong"] = 5;
  const auto d = baseline::diff_against_baseline(b, next, diff::Options{}, false);
  EXPECT_TRUE(d.has_regression());
  EXPECT_EQ(d.counts().regressed, 1u);
}

TEST(CollectiveHistory, StoresAndShowsBusbw) {
  dt::TempDir dir;
  history::Database db(dir.file("h.sqlite"), true);
  std::vector<history::StoredInput> inputs;
  for (int i = 0; i < 4; ++i) {
    RunDocument d = ct::collective_document("2026112" + std::to_string(i) + "T100000Z-coll");
    d.started_ns += static_cast<std::uint64_t>(i) * 86'400'000'000'000ULL;
    const std::string run_dir = dir.file("r" + std::to_string(i));
    std::filesystem::create_directories(run_dir);
    dt::write_text(run_dir + "/run.json", to_json(d).dump() + "\n");
    inputs.push_back(history::read_input(run_dir));
  }
  db.add(inputs);
  history::ShowQuery q;
  q.metric = "collective.busbw_gbytes_per_s";
  q.case_filter = "allreduce.mpi.1048576";
  const auto series = db.show(q);
  ASSERT_EQ(series.size(), 1u);
  ASSERT_EQ(series[0].points.size(), 4u);
  const RunDocument first = ct::collective_document("x");
  const json& s = case_of(first, "allreduce.mpi.1048576").summary["collective"];
  EXPECT_DOUBLE_EQ(series[0].points[0].median,
                   s["out_of_place"]["busbw_gbytes_per_s"]["median"].get<double>());
  EXPECT_EQ(series[0].points[0].n, 4);
  const json j = json::parse(history::render_show(q, series, history::Format::json));
  EXPECT_EQ(j["better"], "higher");
}

}  // namespace
}  // namespace fabricbench::results
