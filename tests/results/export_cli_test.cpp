// End to end: `fabricbench export --format nccl-tests` exit codes and outputs.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "results/run_document.hpp"
#include "tests/cli/process.hpp"
#include "tests/results/collective_synthetic.hpp"
#include "tests/results/test_support.hpp"

namespace fabricbench::results {
namespace {

using nlohmann::json;

class ExportCli : public ::testing::Test {
 protected:
  testing::TempDir dir;
  std::string run;

  void SetUp() override {
    run = dir.file("run.json");
    testing::write_file(run, to_json(collectivetest::collective_document("run-e")).dump() + "\n");
  }

  fbtest::Result exp(std::vector<std::string> args) {
    args.insert(args.begin(), {FABRICBENCH_BINARY, "export"});
    return fbtest::run_process(args, std::filesystem::path(dir.path()) / "proc",
                               std::chrono::seconds(30));
  }
};

TEST_F(ExportCli, WritesTheSelectedGroupToStdoutOrAtomicallyToAFile) {
  const auto r =
      exp({"--format", "nccl-tests", run, "--collective", "all_reduce", "--backend", "mpi"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["results"].size(), 6u);
  EXPECT_EQ(j["results"][0]["experiment_name"], "allreduce.mpi.1024");

  const std::string out = dir.file("out.json");
  const auto w =
      exp({"--format", "nccl-tests", dir.path(), "--collective", "all_gather", "-o", out});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  EXPECT_NE(w.out.find("written to " + out), std::string::npos) << w.out;
  EXPECT_EQ(json::parse(testing::read_file(out))["results"][5]["size"], 1048576);
}

TEST_F(ExportCli, BadInputExitsTwoAndWritesNothing) {
  const std::string out = dir.file("never.json");
  // Several groups and no selection.
  auto r = exp({"--format", "nccl-tests", run, "-o", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("choose with --collective and --backend"), std::string::npos) << r.err;
  // Not a run document.
  const std::string junk = dir.file("junk.json");
  testing::write_file(junk, "{\"schema\": \"something.else\"}\n");
  r = exp({"--format", "nccl-tests", junk, "-o", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("fabricbench export: "), std::string::npos) << r.err;
  // A run without collective cases.
  RunDocument plain = collectivetest::collective_document("run-p");
  plain.cases.erase(plain.cases.begin(), plain.cases.end() - 1);
  const std::string plain_path = dir.file("plain.json");
  testing::write_file(plain_path, to_json(plain).dump() + "\n");
  r = exp({"--format", "nccl-tests", plain_path, "-o", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no collective case that completed"), std::string::npos) << r.err;
  // An unknown format is a usage error.
  r = exp({"--format", "osu", run, "-o", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace fabricbench::results
