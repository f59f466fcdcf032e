// Change-point detection over a series of run medians (results/history.hpp): binary
// segmentation with a Mann-Whitney scan. Known shifts are found at the right run; flat noise
// gives a bounded number of false positives over many seeded trials.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "results/history.hpp"

namespace fabricbench::results::history {
namespace {

std::vector<double> steps(const std::vector<std::pair<std::size_t, double>>& levels,
                          double noise_sd, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, noise_sd);
  std::vector<double> out;
  for (const auto& [count, level] : levels) {
    for (std::size_t i = 0; i < count; ++i) out.push_back(level * (1.0 + noise(rng)));
  }
  return out;
}

TEST(ChangePoint, FindsAShiftAtTheRunWhereItBegan) {
  // 20 runs at 1000 ns, then 20 at 1100 ns (+10%), 1% noise: one change point, at run 20.
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    const auto x = steps({{20, 1000}, {20, 1100}}, 0.01, seed);
    const auto cps = detect_change_points(x);
    ASSERT_EQ(cps.size(), 1u) << "seed " << seed;
    EXPECT_EQ(cps[0].index, 20u) << "seed " << seed;
    EXPECT_NEAR(cps[0].change, 0.10, 0.02);
    EXPECT_LT(cps[0].p_value, 0.01);
    EXPECT_NEAR(cps[0].before_median, 1000, 15);
    EXPECT_NEAR(cps[0].after_median, 1100, 15);
  }
}

TEST(ChangePoint, ShortSeriesAndEdges) {
  // 12 runs, the shift after run 7 (index 7): found exactly.
  const std::vector<double> x = {100, 101, 99, 100, 102, 98, 100, 120, 121, 119, 120, 122};
  const auto cps = detect_change_points(x);
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].index, 7u);
  EXPECT_NEAR(cps[0].change, 0.20, 1e-9);
  EXPECT_EQ(cps[0].splits, 7u);  // splits 3 .. 9
  // A downward shift (a bandwidth drop).
  const auto down = detect_change_points(steps({{10, 10.0}, {10, 8.5}}, 0.01, 3));
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].index, 10u);
  EXPECT_LT(down[0].change, -0.1);
  // Fewer than 2 x min_segment points: nothing can be tested.
  EXPECT_TRUE(detect_change_points(std::vector<double>{1, 1, 1, 9, 9}).empty());
  EXPECT_TRUE(detect_change_points(std::vector<double>{}).empty());
}

TEST(ChangePoint, TwoShifts) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto x = steps({{15, 1000}, {15, 1100}, {15, 1250}}, 0.01, seed);
    const auto cps = detect_change_points(x);
    ASSERT_EQ(cps.size(), 2u) << "seed " << seed;
    EXPECT_EQ(cps[0].index, 15u);
    EXPECT_EQ(cps[1].index, 30u);
  }
}

TEST(ChangePoint, MinimumSegmentLength) {
  // A shift two runs before the end cannot be confirmed with min_segment 3 ...
  const std::vector<double> x = {100, 100.5, 99.5, 100, 101, 99, 100, 100.2, 99.8, 100, 130, 131};
  EXPECT_TRUE(detect_change_points(x).empty());
  // ... and never yields a segment shorter than min_segment.
  ChangePointOptions o;
  o.min_segment = 5;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto y = steps({{3, 100}, {12, 130}, {3, 90}, {12, 150}}, 0.01, seed);
    std::size_t last = 0;
    for (const auto& cp : detect_change_points(y, o)) {
      EXPECT_GE(cp.index - last, 5u);
      EXPECT_LE(cp.index + 5, y.size());
      last = cp.index;
    }
  }
}

TEST(ChangePoint, SmallShiftsBelowTheThresholdAreNotReported) {
  // A real but 2% shift: significant, smaller than the 5% default.
  const auto x = steps({{20, 1000}, {20, 1020}}, 0.002, 5);
  EXPECT_TRUE(detect_change_points(x).empty());
  ChangePointOptions o;
  o.min_shift_pct = 1.0;
  const auto cps = detect_change_points(x, o);
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].index, 20u);
}

// Flat noise: the statistical test alone (no shift threshold) over 200 seeded series of 40 runs.
// The Bonferroni-adjusted level bounds the rate of a first false split by alpha = 1%: about 2
// expected; allow 6.
TEST(ChangePoint, FlatNoiseFalsePositivesAreBounded) {
  ChangePointOptions test_only;
  test_only.min_shift_pct = 0;
  int false_positives = 0;
  int with_threshold = 0;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    const auto x = steps({{40, 1000}}, 0.03, 1000 + seed);
    if (!detect_change_points(x, test_only).empty()) ++false_positives;
    if (!detect_change_points(x).empty()) ++with_threshold;
  }
  EXPECT_LE(false_positives, 6);
  EXPECT_LE(with_threshold, 1);
  RecordProperty("false_positives_of_200", false_positives);
}

TEST(ChangePoint, HeavyTailedNoiseDoesNotFoolTheRankTest) {
  // Flat series with occasional 3x spikes (a slow run now and then): ranks ignore their size.
  int false_positives = 0;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0.0, 0.01);
    std::bernoulli_distribution spike(0.05);
    std::vector<double> x;
    for (int i = 0; i < 30; ++i) x.push_back(1000.0 * (1 + noise(rng)) * (spike(rng) ? 3.0 : 1.0));
    if (!detect_change_points(x).empty()) ++false_positives;
  }
  EXPECT_LE(false_positives, 4);
}

TEST(ChangePoint, TiesAndInvalidInput) {
  // Quantized medians with many ties still find the step.
  std::vector<double> x(10, 1000.0);
  x.insert(x.end(), 10, 1100.0);
  const auto cps = detect_change_points(x);
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].index, 10u);
  // All equal: no split.
  EXPECT_TRUE(detect_change_points(std::vector<double>(20, 5.0)).empty());
  EXPECT_THROW(detect_change_points(std::vector<double>{1, 2, std::nan(""), 4, 5, 6}),
               std::invalid_argument);
  ChangePointOptions zero;
  zero.min_segment = 0;
  EXPECT_THROW(detect_change_points(x, zero), std::invalid_argument);
}

}  // namespace
}  // namespace fabricbench::results::history
