// Readers that never crash (docs/RELIABILITY.md): run documents nested past any sane depth, with
// numbers no double holds, NaN, wrong types or missing fields, given to every command that reads
// them (diff, report, openmetrics, baseline, history add, export). Each must exit 2 with a
// message naming the file, never die of a signal or hang; experiment files likewise at validate.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/cli/process.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::string kBinary = FABRICBENCH_BINARY;

fs::path root() {
  static const fs::path p =
      fs::temp_directory_path() / "fabricbench-hostile-tests" / std::to_string(getpid());
  return p;
}

fs::path write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
  return path;
}

// One small real run, made once: the valid document the hostile ones are cut from.
class HostileInputs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fs::remove_all(root());
    const auto cfg = write(root() / "small.yaml",
                           "fabricbench: 1\nname: hostile\nranks: 2\ntimeouts: {peer: 4s}\n"
                           "cases:\n  - {suite: pingpong, transport: tcp, sizes: 8, "
                           "iterations: 50}\n");
    const auto r = fbtest::run_process(
        {kBinary, "run", cfg.string(), "-o", (root() / "good").string()}, root() / "setup", 120s);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    good_ = fbtest::slurp(root() / "good" / "run.json");
    ASSERT_FALSE(good_.empty());
  }
  static void TearDownTestSuite() { fs::remove_all(root()); }

  // The good document with `insert` placed as the first member of its "config" object.
  static std::string with_config_member(const std::string& insert) {
    std::string text = good_;
    const auto at = text.find('{', text.find("\"config\""));
    text.insert(at + 1, insert + ",");
    return text;
  }

  // Replaces the first `from` (it must be there) by `to`.
  static std::string replaced(const std::string& from, const std::string& to) {
    std::string text = good_;
    const auto at = text.find(from);
    if (at == std::string::npos) return {};
    return text.replace(at, from.size(), to);
  }

  // Every reader given run directory `name` holding `text`: exit 2 and the file named.
  static void expect_every_reader_refuses(const std::string& name, const std::string& text) {
    ASSERT_FALSE(text.empty()) << name;
    const auto dir = root() / name;
    write(dir / "run.json", text);
    const std::string good = (root() / "good").string();
    const std::vector<std::vector<std::string>> commands = {
        {kBinary, "diff", good, dir.string()},
        {kBinary, "diff", dir.string(), good},
        {kBinary, "report", dir.string(), "-o", (dir / "r.html").string()},
        {kBinary, "openmetrics", dir.string()},
        {kBinary, "baseline", dir.string(), good, "-o", (dir / "b.json").string()},
        {kBinary, "history", "add", "--db", (dir / "h.db").string(), dir.string()},
        {kBinary, "export", "--format", "nccl-tests", dir.string()},
    };
    for (const auto& argv : commands) {
      const auto r = fbtest::run_process(argv, dir / "out", 60s);
      std::string cmd;
      for (const auto& a : argv) cmd += a + " ";
      EXPECT_EQ(r.signal, 0) << name << ": " << cmd << "died of signal " << r.signal;
      EXPECT_EQ(r.exit_code, 2) << name << ": " << cmd << "\n" << r.out << r.err;
      EXPECT_NE(r.err.find(name), std::string::npos) << name << ": " << cmd << r.err;
    }
  }

  static std::string good_;
};

std::string HostileInputs::good_;

TEST_F(HostileInputs, DeeplyNestedObjects) {
  constexpr int kDepth = 1'000'000;
  std::string deep;
  for (int i = 0; i < kDepth; ++i) deep += "{\"a\":";
  deep += "1";
  deep.append(kDepth, '}');
  expect_every_reader_refuses("deep_objects", with_config_member("\"deep\":" + deep));
}

TEST_F(HostileInputs, DeeplyNestedArrays) {
  constexpr int kDepth = 1'000'000;
  const std::string deep = std::string(kDepth, '[') + std::string(kDepth, ']');
  expect_every_reader_refuses("deep_arrays", with_config_member("\"deep\":" + deep));
}

TEST_F(HostileInputs, NumbersNoDoubleHolds) {
  expect_every_reader_refuses("huge_number",
                              replaced("\"elapsed_ns\":", "\"elapsed_ns\":1e999,\"x\":"));
  expect_every_reader_refuses("nan", replaced("\"elapsed_ns\":", "\"elapsed_ns\":NaN,\"x\":"));
  expect_every_reader_refuses("inf",
                              replaced("\"elapsed_ns\":", "\"elapsed_ns\":-Infinity,\"x\":"));
}

TEST_F(HostileInputs, WrongTypesAndMissingFields) {
  expect_every_reader_refuses("wrong_type",
                              replaced("\"elapsed_ns\":", "\"elapsed_ns\":\"soon\",\"x\":"));
  expect_every_reader_refuses("no_cases", replaced("\"cases\":", "\"kases\":"));
  expect_every_reader_refuses("not_an_object", "[1,2,3]\n");
  expect_every_reader_refuses("truncated", good_.substr(0, good_.size() / 2));
}

}  // namespace
