// Bounded experiment files (docs/CONFIG.md "Limits"): YAML aliases that never end or multiply,
// and plans past the case limit, are errors with line:column, found quickly.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "harness/spec/expansion.hpp"
#include "harness/spec/loader.hpp"
#include "harness/spec/source_tree.hpp"
#include "tests/spec/spec_test_util.hpp"

namespace fabricbench::spec {
namespace {

using testing::diagnostics_of;
using testing::dump;
using testing::has_diagnostic;

// An alias inside what it refers to: a list that holds itself.
TEST(SpecLimits, AliasCycleIsAnError) {
  const auto ds = diagnostics_of(
      "fabricbench: 1\nname: t\nloop: &l [1, *l]\ncases:\n"
      "  - {suite: pingpong, sizes: 8, iterations: 10}\n");
  bool found = false;
  for (const auto& d : ds)
    found = found || d.message.find("nested deeper than") != std::string::npos;
  EXPECT_TRUE(found) << dump(ds);
}

// Ten references per level, seven levels: 10^7 values once expanded.
TEST(SpecLimits, AliasBombIsAnError) {
  std::string text = "fabricbench: 1\nname: t\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int level = 1; level <= 7; ++level) {
    const std::string prev = "*a" + std::to_string(level - 1);
    text += "a" + std::to_string(level) + ": &a" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) text += (i ? ", " : "") + prev;
    text += "]\n";
  }
  text += "cases:\n  - {suite: pingpong, sizes: 8, iterations: 10}\n";
  const auto start = std::chrono::steady_clock::now();
  const auto ds = diagnostics_of(text);
  bool found = false;
  for (const auto& d : ds) {
    found = found || d.message.find("expands to more than 200000 values") != std::string::npos;
  }
  EXPECT_TRUE(found) << dump(ds);
  // Not a timing threshold on the machine: 10^7 values would take minutes and gigabytes; the
  // bound stops at 2 x 10^5. Generous, so only an unbounded expansion fails it.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

// Many groups that each stay under the limit: the plan as a whole does not.
TEST(SpecLimits, CaseLimitIsPlanWide) {
  std::string text =
      "fabricbench: 1\nname: t\ncases:\n"
      "  - &g {name: g0, suite: stream, sizes: 1..1MiB x2, iterations: 10, window: [1, 2, 4, 8, "
      "16, 32, 64, 128]}\n";
  for (int i = 1; i < 100; ++i) {
    text += "  - {<<: *g, name: g" + std::to_string(i) + "}\n";
  }
  const auto ds = diagnostics_of(text);
  bool found = false;
  for (const auto& d : ds) {
    found = found || d.message.find("passes the limit of 10000 cases") != std::string::npos;
  }
  EXPECT_TRUE(found) << dump(ds);
  EXPECT_LE(ds.size(), 3U) << "one error for the limit, not one per group: " << dump(ds);
}

// An hour (and its default warm-up of 6 minutes) in 1 ms bins: almost 4 million bins a
// repetition, each sent to rank 0.
TEST(SpecLimits, IntervalBinsPerRepetitionAreBounded) {
  const auto ds = diagnostics_of(
      "fabricbench: 1\nname: t\ncases:\n"
      "  - {name: long, suite: stream, sizes: 64KiB, duration: 1h, interval: 1ms}\n");
  bool found = false;
  for (const auto& d : ds) {
    found = found || d.message.find(
                         "3960000 interval bins per repetition, more than the limit "
                         "of 1000000") != std::string::npos;
  }
  EXPECT_TRUE(found) << dump(ds);
  EXPECT_NO_THROW((void)load_experiment_text(
      "fabricbench: 1\nname: t\ncases:\n"
      "  - {name: long, suite: stream, sizes: 64KiB, duration: 1h, interval: 10ms}\n",
      "t.yaml", testing::catalog()));
}

TEST(SpecLimits, PlannedTimeIsBounded) {
  const auto ds = diagnostics_of(
      "fabricbench: 1\nname: t\ncases:\n"
      "  - {name: soak, suite: stream, sizes: [64KiB, 1MiB], duration: 1h, interval: 1s, "
      "repetitions: 13}\n");
  bool found = false;
  for (const auto& d : ds) {
    found = found || d.message.find("planned time passes the limit of 24h") != std::string::npos;
  }
  EXPECT_TRUE(found) << dump(ds);
}

}  // namespace
}  // namespace fabricbench::spec
