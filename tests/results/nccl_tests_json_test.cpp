// `fabricbench export --format nccl-tests` (results/nccl_tests_json.hpp): the golden document of a
// synthetic run, every key nccl-tests 2.19 writes with -J (format version 3), the figures of a
// row, and the errors for runs that have nothing to export.
#include "results/nccl_tests_json.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "tests/results/collective_synthetic.hpp"
#include "tests/results/test_support.hpp"

namespace fabricbench::results::nccl_tests {
namespace {

namespace ct = collectivetest;
using nlohmann::json;

std::string source_dir() {
  const char* env = std::getenv("FABRICBENCH_SOURCE_DIR");
  return env != nullptr ? env : FABRICBENCH_TEST_SOURCE_DIR;
}

std::string config_error_of(const RunDocument& d, const Selection& s) {
  try {
    render(d, s);
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::config) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

// Regenerate after an intended change, and review the difference:
// FABRICBENCH_UPDATE_GOLDEN=1 build/<preset>/tests/results/fb_results_tests
// --gtest_filter='NcclTestsJson.Golden*'
TEST(NcclTestsJson, GoldenAllReduceOnNccl) {
  const std::string text =
      render(ct::collective_document("20261123T100000Z-coll"), Selection{"all_reduce", "nccl"});
  const std::string path = source_dir() + "/tests/results/golden/nccl_tests_all_reduce.json";
  const char* update = std::getenv("FABRICBENCH_UPDATE_GOLDEN");
  if (update != nullptr && *update != '\0') testing::write_file(path, text);
  EXPECT_EQ(text, testing::read_file(path)) << "actual:\n" << text;
}

// The keys nccl-tests' writer (src/util.cu, src/common.cu) emits, in its order.
TEST(NcclTestsJson, HasEveryKeyNcclTestsWritesInItsOrder) {
  const json j = json::parse(render(ct::collective_document("r"), Selection{"all_gather", ""}));
  std::vector<std::string> top;
  const auto oj = nlohmann::ordered_json::parse(
      render(ct::collective_document("r"), Selection{"all_gather", ""}));
  for (const auto& [k, v] : oj.items()) top.push_back(k);
  EXPECT_EQ(top, (std::vector<std::string>{"version", "start_time", "args", "env", "nccl_version",
                                           "config", "results", "out_of_bounds",
                                           "average_bus_bandwidth", "errors", "end_time"}));
  EXPECT_EQ(j["version"], 3);
  EXPECT_TRUE(j["args"].is_array());
  EXPECT_TRUE(j["env"].is_array());
  EXPECT_NE(std::find(j["env"].begin(), j["env"].end(), "NCCL_IB_HCA=mlx5_0"), j["env"].end());
  EXPECT_EQ(j["nccl_version"], 22703);  // backend.version "2.27.3"
  for (const char* key :
       {"nthreads", "ngpus", "minimum_bytes", "maximum_bytes", "warmup_iters", "iterations",
        "aggregated_iterations", "validation", "graph", "blocking_collectives", "per_iter_timing",
        "per_iter_skip", "parallel_init", "devices"}) {
    EXPECT_TRUE(j["config"].contains(key)) << key;
  }
  EXPECT_TRUE(j["config"].contains("step_factor") || j["config"].contains("step_bytes"));
  EXPECT_EQ(j["config"]["step_factor"], 4);  // 1 KiB, 4 KiB, ... 1 MiB
  EXPECT_EQ(j["config"]["minimum_bytes"], 1024);
  EXPECT_EQ(j["config"]["maximum_bytes"], 1048576);
  EXPECT_EQ(j["config"]["validation"], 1);
  ASSERT_EQ(j["config"]["devices"].size(), 4u);
  for (const char* key :
       {"rank", "group", "pid", "hostname", "device", "device_hex", "device_info"}) {
    EXPECT_TRUE(j["config"]["devices"][3].contains(key)) << key;
  }
  EXPECT_EQ(j["config"]["devices"][3]["hostname"], "node-b");
  ASSERT_EQ(j["results"].size(), 6u);
  for (const auto& row : j["results"]) {
    for (const char* key : {"size", "count", "type", "redop", "root", "out_of_place", "in_place",
                            "actual_iterations", "experiment_name"}) {
      EXPECT_TRUE(row.contains(key)) << key;
    }
    for (const char* placement : {"out_of_place", "in_place"}) {
      for (const char* key : {"time", "alg_bw", "bus_bw", "nwrong"}) {
        EXPECT_TRUE(row[placement].contains(key)) << placement << "." << key;
      }
    }
  }
  EXPECT_EQ(j["out_of_bounds"]["count"], 0);
  EXPECT_EQ(j["out_of_bounds"]["okay"], "true");  // nccl-tests writes booleans as strings
  EXPECT_TRUE(j["average_bus_bandwidth"]["bandwidth"].is_number());
  EXPECT_EQ(j["average_bus_bandwidth"]["okay"], "unchecked");
  EXPECT_TRUE(j["errors"].is_array());
  EXPECT_EQ(j["start_time"], "2026-11-18 11:06:40");  // "%Y-%m-%d %H:%M:%S", UTC
}

TEST(NcclTestsJson, RowFiguresAreTheMediansAndWrongIsSummed) {
  RunDocument d = ct::collective_document("r");
  d.cases = {ct::collective_case("ar.big", "all_reduce", "nccl", 1 << 20, {10, 12, 11, 40}, 2),
             ct::collective_case("ar.small", "all_reduce", "nccl", 4096, {5, 5, 5}, 0)};
  d.cases[1].repetitions[0].collective["in_place"] = nullptr;
  d.cases[1].repetitions[1].collective["in_place"] = nullptr;
  d.cases[1].repetitions[2].collective["in_place"] = nullptr;
  const json j = json::parse(render(d));
  ASSERT_EQ(j["results"].size(), 2u);
  const json& small = j["results"][0];  // rows by size
  EXPECT_EQ(small["size"], 4096);
  EXPECT_EQ(small["count"], 1024);
  EXPECT_EQ(small["type"], "float");
  EXPECT_EQ(small["redop"], "sum");
  EXPECT_EQ(small["root"], "    -1");  // "%6i", as nccl-tests writes it
  EXPECT_TRUE(small["in_place"].is_null());
  EXPECT_EQ(small["actual_iterations"], 20);
  EXPECT_EQ(small["experiment_name"], "ar.small");
  const json& big = j["results"][1];
  EXPECT_DOUBLE_EQ(big["out_of_place"]["time"].get<double>(), 11.5);
  EXPECT_NEAR(big["out_of_place"]["bus_bw"].get<double>(),
              (1048576.0 / 11 + 1048576.0 / 12) / 2 / 1e3 * 1.5, 1e-6);
  EXPECT_EQ(big["out_of_place"]["nwrong"], 8.0);  // 2 per repetition
  EXPECT_EQ(big["in_place"]["nwrong"], 8.0);
  // Placements with wrong elements, as nccl-tests counts them.
  EXPECT_EQ(j["out_of_bounds"]["count"], 2);
  EXPECT_EQ(j["out_of_bounds"]["okay"], "false");
  // The average over every placement that ran (3).
  const double avg =
      (small["out_of_place"]["bus_bw"].get<double>() + big["out_of_place"]["bus_bw"].get<double>() +
       big["in_place"]["bus_bw"].get<double>()) /
      3;
  EXPECT_NEAR(j["average_bus_bandwidth"]["bandwidth"].get<double>(), avg, 1e-6);
  // Not checked: nwrong null, validation 0.
  for (auto& c : d.cases) {
    for (auto& r : c.repetitions) {
      r.collective["out_of_place"]["wrong"] = nullptr;
      if (r.collective["in_place"].is_object()) r.collective["in_place"]["wrong"] = nullptr;
    }
  }
  const json unchecked = json::parse(render(d));
  EXPECT_TRUE(unchecked["results"][0]["out_of_place"]["nwrong"].is_null());
  EXPECT_EQ(unchecked["config"]["validation"], 0);
}

TEST(NcclTestsJson, NothingToExportIsAConfigError) {
  const RunDocument d = ct::collective_document("run-x");
  // Several groups: choose one.
  const std::string several = config_error_of(d, {});
  EXPECT_NE(several.find("3 collective/backend groups"), std::string::npos) << several;
  EXPECT_NE(several.find("all_reduce on nccl, all_reduce on mpi, all_gather on nccl"),
            std::string::npos)
      << several;
  EXPECT_NE(config_error_of(d, {"broadcast", ""}).find("has no collective case of the selection"),
            std::string::npos);
  // No collective case at all (failed ones do not count).
  RunDocument plain = d;
  plain.cases.resize(1);
  plain.cases[0].status = CaseStatus::failed;
  EXPECT_NE(config_error_of(plain, {}).find("has no collective case that completed"),
            std::string::npos);
  EXPECT_EQ(groups(d).size(), 3u);
  EXPECT_EQ(type_name("float16"), "half");
  EXPECT_EQ(type_name("int8"), "int8");
}

}  // namespace
}  // namespace fabricbench::results::nccl_tests
