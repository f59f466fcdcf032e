// End to end: `fabricbench diff` exit codes and outputs on documents written by the tests.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "results/run_document.hpp"
#include "tests/cli/process.hpp"
#include "tests/diff/synthetic.hpp"

namespace fabricbench::results {
namespace {

using nlohmann::json;

class DiffCli : public ::testing::Test {
 protected:
  difftest::TempDir dir;
  std::string base;
  std::string next;

  void SetUp() override {
    base = dir.file("base.json");
    next = dir.file("new.json");
    difftest::write_text(base, to_json(difftest::golden_base()).dump() + "\n");
    difftest::write_text(next, to_json(difftest::golden_new()).dump() + "\n");
  }

  fbtest::Result diff(std::vector<std::string> args) {
    args.insert(args.begin(), {FABRICBENCH_BINARY, "diff"});
    return fbtest::run_process(args, std::filesystem::path(dir.path()) / "proc",
                               std::chrono::seconds(30));
  }
};

TEST_F(DiffCli, RegressionExitsThree) {
  const auto r = diff({base, next});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.out.find("=> REGRESSION"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kernel.release"), std::string::npos) << r.out;
}

TEST_F(DiffCli, NoRegressionExitsZero) {
  const auto same = diff({base, base});
  EXPECT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.out.find("=> no regression"), std::string::npos) << same.out;
  // A threshold no change of the golden pair reaches: nothing regressed.
  const auto lenient = diff({base, next, "--threshold", "500"});
  EXPECT_EQ(lenient.exit_code, 0) << lenient.out << lenient.err;
}

TEST_F(DiffCli, WritesFormatsToFile) {
  const std::string out = dir.file("report.xml");
  const auto r = diff({base, next, "--format", "junit", "-o", out});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.out.find("junit written to " + out), std::string::npos) << r.out;
  EXPECT_EQ(difftest::read_text(out).rfind("<?xml", 0), 0u);

  const auto j = diff({base, next, "--format", "json"});
  EXPECT_EQ(j.exit_code, 3);
  EXPECT_EQ(json::parse(j.out)["regression"], true);
}

TEST_F(DiffCli, ThresholdsFileApplies) {
  // Every metric that regressed in the golden pair gets a threshold it does not reach.
  const std::string t = dir.file("t.yaml");
  difftest::write_text(t, "lat_p50_ns: 50\nlat_p99_ns: 50\nregime.queue_age_p99_ns: 50\n");
  const auto r = diff({base, next, "--thresholds", t});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  difftest::write_text(t, "lat_p5: 50\n");
  const auto bad = diff({base, next, "--thresholds", t});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown metric"), std::string::npos) << bad.err;
}

TEST_F(DiffCli, IgnoreOptionsTakeOneValueEach) {
  const auto r = diff({"--ignore-param", "tcp.nodelay", "--ignore-envelope", "kernel.*", base, next,
                       "--format", "json"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["counts"]["cases_missing"], 1);  // nd.* now matches; gone.* is still missing
  ASSERT_EQ(j["envelope"].size(), 1u);
  EXPECT_EQ(j["envelope"][0]["path"], "nics[eth0].mtu");
}

TEST_F(DiffCli, BadInputExitsTwoNamingTheFile) {
  const std::string corrupt = dir.file("corrupt.json");
  const std::string text = difftest::read_text(next);
  difftest::write_text(corrupt, text.substr(0, text.size() - 100));  // truncated
  auto r = diff({base, corrupt});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("NEW run document"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(corrupt), std::string::npos) << r.err;

  json j = json::parse(text);
  j["schema_version"] = 99;
  const std::string v99 = dir.file("v99.json");
  difftest::write_text(v99, j.dump());
  r = diff({v99, next});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("BASE run document"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(v99), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("newer fabricbench"), std::string::npos) << r.err;

  r = diff({dir.file("missing"), next});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(dir.file("missing")), std::string::npos) << r.err;

  r = diff({base});  // NEW is required
  EXPECT_EQ(r.exit_code, 2);
  r = diff({base, next, "--format", "html"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace fabricbench::results
