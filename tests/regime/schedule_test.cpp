// ArrivalSchedule (Poisson goodness of fit, constant-rate pacing without drift, rate profiles),
// SizeMix and derive_seed. Everything runs at fixed seeds, so every statistic below is a fixed
// number: the thresholds are chosen so that a correct generator passes with a wide margin and a
// broken one fails (the biased-generator tests show the checks can fail).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/regime/schedule.hpp"

namespace {

using namespace fabricbench::regime;

__extension__ typedef unsigned __int128 u128;

// Chi-square critical values at p = 0.001 (the 0.999 quantile of the chi-square distribution),
// from standard tables (checked by integrating the chi-square CDF numerically).
constexpr double kChi2Crit999Df19 = 43.820;  // 20 bins, no estimated parameter
constexpr double kChi2Crit999Df2 = 13.816;   // 3 bins

// Pearson's chi-square of gaps against the exponential distribution of the given mean, over 20
// equiprobable bins: gap g falls in bin floor(20 * F(g)), F(g) = 1 - exp(-g / mean).
double chi_square_exponential(const std::vector<double>& gaps, double mean) {
  constexpr int kBins = 20;
  std::vector<double> observed(kBins, 0);
  for (const double g : gaps) {
    const double f = -std::expm1(-g / mean);
    const int b = std::min(kBins - 1, static_cast<int>(f * kBins));
    observed[static_cast<std::size_t>(b)] += 1;
  }
  const double expected = static_cast<double>(gaps.size()) / kBins;
  double chi2 = 0;
  for (const double o : observed) chi2 += (o - expected) * (o - expected) / expected;
  return chi2;
}

std::vector<double> gaps_of(ArrivalSchedule& s, std::size_t n) {
  std::vector<double> gaps;
  gaps.reserve(n);
  std::uint64_t prev = 0;  // the process starts at 0: the first arrival is one gap after it
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t t = s.next();
    gaps.push_back(static_cast<double>(t - prev));
    prev = t;
  }
  return gaps;
}

// Slow enough (mean gap 1 ms) that truncating the times to whole ns does not bias the bins.
constexpr double kRate = 1000.0;
constexpr double kMeanGapNs = 1e9 / kRate;
constexpr std::size_t kGaps = 100'000;

TEST(PoissonArrivals, ExponentialGapsPassChiSquare) {
  ArrivalSchedule s(Arrival::poisson, {{0, kRate}}, 20240611);
  const std::vector<double> gaps = gaps_of(s, kGaps);
  const double chi2 = chi_square_exponential(gaps, kMeanGapNs);
  EXPECT_LT(chi2, kChi2Crit999Df19) << "chi-square " << chi2;

  double sum = 0;
  for (const double g : gaps) sum += g;
  const double mean = sum / static_cast<double>(gaps.size());
  const double standard_error = kMeanGapNs / std::sqrt(static_cast<double>(gaps.size()));
  EXPECT_LT(std::fabs(mean - kMeanGapNs), 4 * standard_error) << "mean gap " << mean;
}

TEST(PoissonArrivals, CountsPerWindowHaveUnitDispersion) {
  ArrivalSchedule s(Arrival::poisson, {{0, kRate}}, 7);
  constexpr std::uint64_t kWindowNs = 10'000'000;  // 10 arrivals per window on average
  constexpr std::size_t kWindows = 10'000;
  std::vector<double> counts(kWindows, 0);
  for (;;) {
    const std::uint64_t t = s.next();
    const std::uint64_t w = t / kWindowNs;
    if (w >= kWindows) break;
    counts[static_cast<std::size_t>(w)] += 1;
  }
  double sum = 0, sum_sq = 0;
  for (const double c : counts) {
    sum += c;
    sum_sq += c * c;
  }
  const double mean = sum / kWindows;
  const double variance = (sum_sq - sum * sum / kWindows) / (kWindows - 1);
  EXPECT_NEAR(mean, 10.0, 0.2);
  // Index of dispersion of Poisson counts: 1, standard error sqrt(2 / (k - 1)) = 0.014.
  EXPECT_NEAR(variance / mean, 1.0, 0.07) << "dispersion " << variance / mean;
}

TEST(PoissonArrivals, BiasedGeneratorsFailTheSameCheck) {
  // A constant-rate stream of the same mean: every gap lands in one bin.
  ArrivalSchedule constant(Arrival::constant, {{0, kRate}}, 1);
  constant.next();  // the first constant arrival is at 0
  EXPECT_GT(chi_square_exponential(gaps_of(constant, kGaps), kMeanGapNs), kChi2Crit999Df19);

  // Uniform gaps of the right mean: a plausible-looking but wrong generator.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> uniform(0, 2 * kMeanGapNs);
  std::vector<double> gaps(kGaps);
  for (double& g : gaps) g = uniform(rng);
  EXPECT_GT(chi_square_exponential(gaps, kMeanGapNs), kChi2Crit999Df19);

  // Exponential gaps with a mean 3% off.
  std::exponential_distribution<double> slow(1.0 / (1.03 * kMeanGapNs));
  for (double& g : gaps) g = slow(rng);
  EXPECT_GT(chi_square_exponential(gaps, kMeanGapNs), kChi2Crit999Df19);
}

TEST(PoissonArrivals, SameSeedSameSequenceOtherSeedOther) {
  ArrivalSchedule a(Arrival::poisson, {{0, 5e5}}, 99);
  ArrivalSchedule b(Arrival::poisson, {{0, 5e5}}, 99);
  ArrivalSchedule c(Arrival::poisson, {{0, 5e5}}, 100);
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t ta = a.next();
    ASSERT_EQ(ta, b.next());
    differ += ta != c.next() ? 1 : 0;
  }
  EXPECT_GT(differ, 990);
}

// floor(n * 1e9 / r) for the binary value of r, in exact integer arithmetic, straight from the
// formula (r = m * 2^e).
std::uint64_t exact_offset(std::uint64_t n, double r) {
  int exp = 0;
  const double frac = std::frexp(r, &exp);
  const auto m = static_cast<std::uint64_t>(std::ldexp(frac, 53));
  const int e = exp - 53;
  const u128 num = static_cast<u128>(n) * 1'000'000'000u;
  if (e >= 0) return static_cast<std::uint64_t>(num / (static_cast<u128>(m) << e));
  EXPECT_LT(-e + 64, 128);  // n * 1e9 < 2^64 here: the shift cannot overflow
  return static_cast<std::uint64_t>((num << (-e)) / m);
}

TEST(ConstantArrivals, NthArrivalIsExactWithoutDrift) {
  constexpr std::uint64_t kStart = 12'345;
  constexpr std::uint64_t kN = 10'000'000;
  for (const double r : {3.0, 7777.7, 1e6 / 3}) {
    SCOPED_TRACE(r);
    // A rate-0 first step makes the paced step start at kStart.
    ArrivalSchedule s(Arrival::constant, {{0, 0.0}, {kStart, r}}, 1);
    const long double period = 1e9L / static_cast<long double>(r);
    std::uint64_t prev = 0;
    std::uint64_t min_gap = std::numeric_limits<std::uint64_t>::max(), max_gap = 0;
    for (std::uint64_t n = 0; n < kN; ++n) {
      const std::uint64_t t = s.next();
      const std::uint64_t want = kStart + exact_offset(n, r);
      if (t != want) {
        ADD_FAILURE() << "arrival " << n << " at " << t << ", want " << want;
        break;
      }
      if (n > 0) {
        min_gap = std::min(min_gap, t - prev);
        max_gap = std::max(max_gap, t - prev);
      }
      prev = t;
    }
    EXPECT_LE(max_gap - min_gap, 1u);
    EXPECT_EQ(min_gap, static_cast<std::uint64_t>(std::floor(period)));
    // The last arrival agrees with plain extended-precision arithmetic (no accumulated drift).
    const long double last = static_cast<long double>(kN - 1) * period;
    EXPECT_LE(std::fabs(static_cast<long double>(prev - kStart) - last), 1.0L);
  }
}

TEST(ConstantArrivals, ExactRateMatchesIntegerFormula) {
  ArrivalSchedule s(Arrival::constant, {{0, 3.0}}, 1);
  for (std::uint64_t n = 0; n < 1000; ++n) ASSERT_EQ(s.next(), n * 1'000'000'000 / 3);
  ArrivalSchedule fast(Arrival::constant, {{0, 4e9}}, 1);  // several arrivals per ns
  for (std::uint64_t n = 0; n < 1000; ++n) ASSERT_EQ(fast.next(), n / 4);
}

struct StepCounts {
  std::vector<std::uint64_t> counts;
  std::vector<std::uint64_t> first;  // first arrival of each step (UINT64_MAX: none)
};

// Arrivals per step of `profile` until `end`, checking that times never decrease.
StepCounts count_steps(ArrivalSchedule& s, const std::vector<RateStep>& profile,
                       std::uint64_t end) {
  StepCounts out{std::vector<std::uint64_t>(profile.size(), 0),
                 std::vector<std::uint64_t>(profile.size(), UINT64_MAX)};
  std::uint64_t prev = 0;
  for (;;) {
    const std::uint64_t t = s.next();
    EXPECT_GE(t, prev);
    prev = t;
    if (t >= end) break;
    std::size_t k = profile.size() - 1;
    while (profile[k].start_ns > t) --k;
    ++out.counts[k];
    out.first[k] = std::min(out.first[k], t);
  }
  return out;
}

TEST(RateProfile, ConstantCountsMatchRateTimesLength) {
  const std::vector<RateStep> profile{
      {0, 1000}, {1'000'000'000, 0}, {2'000'000'000, 5000}, {3'000'000'000, 333.3}};
  constexpr std::uint64_t kEnd = 4'000'000'000;
  ArrivalSchedule s(Arrival::constant, profile, 1);
  const StepCounts c = count_steps(s, profile, kEnd);
  for (std::size_t k = 0; k < profile.size(); ++k) {
    SCOPED_TRACE(k);
    const std::uint64_t step_end = k + 1 < profile.size() ? profile[k + 1].start_ns : kEnd;
    const double want =
        profile[k].ops_per_s * static_cast<double>(step_end - profile[k].start_ns) / 1e9;
    EXPECT_LE(std::fabs(static_cast<double>(c.counts[k]) - want), 1.0);
    if (profile[k].ops_per_s > 0) {
      EXPECT_EQ(c.first[k], profile[k].start_ns);  // n = 0 at the step's start
    }
  }
  EXPECT_EQ(c.counts[1], 0u);  // the rate-0 step
}

TEST(RateProfile, PoissonCountsWithinFiveSigma) {
  const std::vector<RateStep> profile{
      {0, 20000}, {1'000'000'000, 0}, {2'000'000'000, 50000}, {2'500'000'000, 1000}};
  constexpr std::uint64_t kEnd = 4'000'000'000;
  ArrivalSchedule s(Arrival::poisson, profile, 77);
  const StepCounts c = count_steps(s, profile, kEnd);
  for (std::size_t k = 0; k < profile.size(); ++k) {
    SCOPED_TRACE(k);
    const std::uint64_t step_end = k + 1 < profile.size() ? profile[k + 1].start_ns : kEnd;
    const double want =
        profile[k].ops_per_s * static_cast<double>(step_end - profile[k].start_ns) / 1e9;
    EXPECT_LE(std::fabs(static_cast<double>(c.counts[k]) - want), 5 * std::sqrt(want) + 1e-9);
    if (profile[k].ops_per_s > 0) {
      EXPECT_GT(c.first[k], profile[k].start_ns);  // one gap after the step's start
    }
  }
  EXPECT_EQ(c.counts[1], 0u);
}

TEST(RateProfile, InvalidProfilesThrow) {
  using V = std::vector<RateStep>;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (const V& bad :
       {V{}, V{{5, 100}}, V{{0, 100}, {0, 200}}, V{{0, 100}, {10, 5}, {5, 7}}, V{{0, -1}},
        V{{0, nan}}, V{{0, inf}}, V{{0, 100}, {10, 0}}, V{{0, 0}}, V{{0, 1e16}}}) {
    EXPECT_THROW(ArrivalSchedule(Arrival::constant, bad, 1), std::invalid_argument);
    EXPECT_THROW(ArrivalSchedule(Arrival::poisson, bad, 1), std::invalid_argument);
  }
  EXPECT_NO_THROW(ArrivalSchedule(Arrival::poisson, V{{0, 0}, {10, 5}}, 1));
}

TEST(Arrival, ParseAndPrint) {
  EXPECT_EQ(parse_arrival("constant"), Arrival::constant);
  EXPECT_EQ(parse_arrival("poisson"), Arrival::poisson);
  EXPECT_STREQ(to_string(Arrival::constant), "constant");
  EXPECT_STREQ(to_string(Arrival::poisson), "poisson");
  EXPECT_THROW(parse_arrival("uniform"), std::invalid_argument);
  EXPECT_THROW(parse_arrival(""), std::invalid_argument);
  EXPECT_EQ(ArrivalSchedule(Arrival::poisson, {{0, 1}}, 1).kind(), Arrival::poisson);
}

TEST(SizeMix, FrequenciesMatchWeights) {
  SizeMix mix({{64, 1}, {4096, 2}, {65536, 7}}, 5);
  EXPECT_DOUBLE_EQ(mix.mean_size(), (64.0 * 1 + 4096.0 * 2 + 65536.0 * 7) / 10);
  EXPECT_EQ(mix.max_size(), 65536u);
  EXPECT_EQ(mix.entries().size(), 3u);
  constexpr int kDraws = 100'000;
  double observed[3] = {0, 0, 0};
  for (int i = 0; i < kDraws; ++i) {
    const std::uint64_t s = mix.next();
    observed[s == 64 ? 0 : (s == 4096 ? 1 : 2)] += 1;
    ASSERT_TRUE(s == 64 || s == 4096 || s == 65536) << s;
  }
  const double expected[3] = {0.1 * kDraws, 0.2 * kDraws, 0.7 * kDraws};
  double chi2 = 0;
  for (int k = 0; k < 3; ++k) chi2 += std::pow(observed[k] - expected[k], 2) / expected[k];
  EXPECT_LT(chi2, kChi2Crit999Df2) << "chi-square " << chi2;

  // The same check rejects the wrong weights (1:1:8 instead of 1:2:7).
  const double wrong[3] = {0.1 * kDraws, 0.1 * kDraws, 0.8 * kDraws};
  double chi2_wrong = 0;
  for (int k = 0; k < 3; ++k) chi2_wrong += std::pow(observed[k] - wrong[k], 2) / wrong[k];
  EXPECT_GT(chi2_wrong, kChi2Crit999Df2);
}

TEST(SizeMix, SingleEntryAndInvalid) {
  SizeMix one({{4096, 0.5}}, 1);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(one.next(), 4096u);
  EXPECT_DOUBLE_EQ(one.mean_size(), 4096.0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_THROW(SizeMix({}, 1), std::invalid_argument);
  EXPECT_THROW(SizeMix({{64, 0}}, 1), std::invalid_argument);
  EXPECT_THROW(SizeMix({{64, 1}, {128, -1}}, 1), std::invalid_argument);
  EXPECT_THROW(SizeMix({{64, nan}}, 1), std::invalid_argument);
  EXPECT_THROW(SizeMix({{64, inf}}, 1), std::invalid_argument);
}

TEST(SizeMix, SameSeedSameSequence) {
  const std::vector<MixEntry> entries{{8, 1}, {16, 1}, {32, 1}, {64, 1}};
  SizeMix a(entries, 42), b(entries, 42), c(entries, 43);
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t x = a.next();
    ASSERT_EQ(x, b.next());
    differ += x != c.next() ? 1 : 0;
  }
  EXPECT_GT(differ, 600);  // independent streams agree 1 time in 4
}

TEST(DeriveSeed, DistinctStreamsAndReproducible) {
  EXPECT_EQ(derive_seed(1, 2, 3), derive_seed(1, 2, 3));
  std::vector<std::uint64_t> seeds;
  for (std::uint64_t seed : {0u, 1u, 2u}) {
    for (std::uint64_t pair = 0; pair < 8; ++pair) {
      for (std::uint64_t stream = 0; stream < 8; ++stream) {
        seeds.push_back(derive_seed(seed, pair, stream));
      }
    }
  }
  std::sort(seeds.begin(), seeds.end());
  EXPECT_EQ(std::adjacent_find(seeds.begin(), seeds.end()), seeds.end());
  EXPECT_NE(derive_seed(0, 0, 1), derive_seed(0, 1, 0));  // pair and stream are not symmetric

  // Streams from derived seeds are different sequences.
  ArrivalSchedule a(Arrival::poisson, {{0, 1e5}}, derive_seed(9, 0, 0));
  ArrivalSchedule b(Arrival::poisson, {{0, 1e5}}, derive_seed(9, 0, 1));
  int differ = 0;
  for (int i = 0; i < 100; ++i) differ += a.next() != b.next() ? 1 : 0;
  EXPECT_GT(differ, 95);
}

}  // namespace
