// The Mann-Whitney U test of results/diff.cpp against reference values.
//
// Reference values were computed once with SciPy 1.10.1 (Debian python3-scipy):
//   scipy.stats.mannwhitneyu(x, y, alternative="two-sided", method="exact")       -> "exact"
//   scipy.stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")  -> "normal"
//     (normal approximation, tie correction, continuity correction 0.5: as implemented here)
// SciPy's exact method ignores ties, so the exact p-values of samples with ties come from a
// brute-force enumeration in Python of every split of the pooled midranks (itertools.combinations
// over all C(n1+n2, n1) subsets, p = 2 * min(P(R <= r), P(R >= r)) capped at 1), which for
// samples without ties reproduces SciPy's exact values above.
#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <vector>

#include "results/diff.hpp"

namespace fabricbench::results::diff {
namespace {

struct Reference {
  const char* name;
  std::vector<double> x;
  std::vector<double> y;
  double u;
  double p;
};

TEST(MannWhitney, ExactSmallSamplesMatchScipy) {
  const std::vector<Reference> refs = {
      // The example of SciPy's documentation (Conover): males vs females.
      {"scipy_doc", {19, 22, 16, 29, 24}, {20, 11, 17, 12}, 17.0, 0.1111111111111111},
      {"separated_4_4", {1, 2, 3, 4}, {5, 6, 7, 8}, 0.0, 0.02857142857142857},
      {"three_three", {1, 2, 3}, {4, 5, 6}, 0.0, 0.1},
      {"interleaved_6_7",
       {1.1, 2.5, 3.3, 4.8, 6.0, 7.2},
       {1.9, 2.2, 3.9, 5.1, 5.5, 6.6, 8.4},
       18.0,
       0.7307692307692307},
      {"nine_nine",
       {101, 99, 104, 98, 102, 97, 103, 100, 105},
       {108, 111, 107, 113, 109, 106, 112, 110, 96},
       9.0,
       0.0039901275195392836},
  };
  for (const auto& r : refs) {
    const auto got = mann_whitney_u(r.x, r.y);
    EXPECT_TRUE(got.exact) << r.name;
    EXPECT_DOUBLE_EQ(got.u, r.u) << r.name;
    EXPECT_NEAR(got.p_value, r.p, 1e-12) << r.name;
    // Swapping the samples gives U2 = n1 n2 - U1 and the same two-sided p.
    const auto swapped = mann_whitney_u(r.y, r.x);
    EXPECT_DOUBLE_EQ(swapped.u, static_cast<double>(r.x.size() * r.y.size()) - r.u) << r.name;
    EXPECT_NEAR(swapped.p_value, r.p, 1e-12) << r.name;
  }
}

TEST(MannWhitney, ExactWithTiesMatchesEnumeration) {
  const std::vector<Reference> refs = {
      // Hollander & Wolfe (1973) p. 29 (the data of R's wilcox.test example), here unpaired;
      // ties in y (1.06, 1.29).
      {"hollander_wolfe_9_9",
       {1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30},
       {0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29},
       58.0,
       0.12990538872891813},
      {"ties_5_5", {1, 2, 2, 3, 5}, {2, 3, 3, 4, 6}, 7.0, 0.30952380952380953},
      {"ties_heavy_6_6",
       {10, 10, 10, 11, 11, 12},
       {11, 12, 12, 12, 13, 13},
       3.5,
       0.02813852813852814},
      {"all_equal_3_3", {7, 7, 7}, {7, 7, 7}, 4.5, 1.0},
  };
  for (const auto& r : refs) {
    const auto got = mann_whitney_u(r.x, r.y);
    EXPECT_TRUE(got.exact) << r.name;
    EXPECT_DOUBLE_EQ(got.u, r.u) << r.name;
    EXPECT_NEAR(got.p_value, r.p, 1e-12) << r.name;
  }
}

TEST(MannWhitney, NormalApproximationWithTiesMatchesScipy) {
  // 25 vs 30 integers (many ties), drawn with Python's random.seed(42).
  const std::vector<double> x = {40, 7, 1,  17, 15, 14, 8, 6,  34, 5,  37, 27, 2,
                                 1,  5, 13, 14, 32, 38, 1, 35, 12, 34, 26, 14};
  const std::vector<double> y = {33, 42, 22, 5,  15, 32, 26, 22, 14, 18, 26, 11, 10, 29, 11,
                                 27, 27, 43, 21, 7,  34, 39, 12, 29, 10, 40, 23, 45, 44, 28};
  const auto got = mann_whitney_u(x, y);
  EXPECT_FALSE(got.exact);
  EXPECT_DOUBLE_EQ(got.u, 257.0);
  EXPECT_NEAR(got.p_value, 0.04686578356635455, 1e-12);

  // 22 vs 21 continuous values: normal approximation without ties.
  const std::vector<double> a = {86.192,  92.706,  106.896, 102.042, 99.001, 103.954,
                                 100.498, 104.588, 97.515,  113.992, 93.649, 107.22,
                                 101.984, 107.628, 113.322, 94.399,  95.258, 96.12,
                                 99.219,  94.078,  78.06,   120.745};
  const std::vector<double> b = {99.867,  98.168,  100.317, 90.363,  109.173, 100.883, 116.53,
                                 109.744, 107.234, 114.842, 127.146, 100.822, 102.23,  121.409,
                                 90.42,   121.525, 100.416, 110.006, 108.272, 120.835, 106.94};
  const auto big = mann_whitney_u(a, b);
  EXPECT_FALSE(big.exact);
  EXPECT_DOUBLE_EQ(big.u, 137.0);
  EXPECT_NEAR(big.p_value, 0.023103393801764124, 1e-12);

  // The first 20 of each: still exact (kExactMaxSampleSize), SciPy exact 0.022718727985449463.
  const std::vector<double> a20(a.begin(), a.begin() + 20);
  const std::vector<double> b20(b.begin(), b.begin() + 20);
  const auto exact20 = mann_whitney_u(a20, b20);
  EXPECT_TRUE(exact20.exact);
  EXPECT_DOUBLE_EQ(exact20.u, 116.0);
  EXPECT_NEAR(exact20.p_value, 0.022718727985449463, 1e-12);
}

TEST(MannWhitney, AllEqualLargeSamplesGiveOne) {
  const std::vector<double> x(30, 5.0);
  const std::vector<double> y(25, 5.0);
  const auto got = mann_whitney_u(x, y);
  EXPECT_FALSE(got.exact);
  EXPECT_DOUBLE_EQ(got.p_value, 1.0);
}

TEST(MannWhitney, RejectsEmptyAndNonFiniteSamples) {
  const std::vector<double> empty;
  const std::vector<double> one = {1.0};
  const std::vector<double> nan = {1.0, std::numeric_limits<double>::quiet_NaN()};
  EXPECT_THROW(mann_whitney_u(empty, one), std::invalid_argument);
  EXPECT_THROW(mann_whitney_u(one, empty), std::invalid_argument);
  EXPECT_THROW(mann_whitney_u(nan, one), std::invalid_argument);
}

TEST(MannWhitney, SmallestPValue) {
  EXPECT_DOUBLE_EQ(smallest_p_value(3, 3), 0.1);         // 2 / C(6, 3)
  EXPECT_NEAR(smallest_p_value(4, 4), 2.0 / 70, 1e-15);  // below 0.05
  EXPECT_NEAR(smallest_p_value(9, 9), 2.0 / 48620, 1e-18);
  EXPECT_DOUBLE_EQ(smallest_p_value(1, 1), 1.0);
  EXPECT_DOUBLE_EQ(smallest_p_value(2, 2), 1.0 / 3);
  EXPECT_DOUBLE_EQ(smallest_p_value(0, 5), 1.0);
}

TEST(MannWhitney, Median) {
  EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2.0);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_THROW(median({}), std::invalid_argument);
}

}  // namespace
}  // namespace fabricbench::results::diff
