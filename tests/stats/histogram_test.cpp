// Histogram accuracy against exact percentiles computed by sorting, exact totals, merge,
// serialization round trip and the empty histogram.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/stats/histogram.hpp"

namespace {

using fabricbench::stats::Histogram;
using fabricbench::stats::summarize;

// Nearest rank in integer arithmetic: ceil(per_mille / 1000 * n), at least 1.
std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, std::uint64_t per_mille) {
  const std::uint64_t n = sorted.size();
  std::uint64_t rank = (per_mille * n + 999) / 1000;
  rank = std::clamp<std::uint64_t>(rank, 1, n);
  return sorted[rank - 1];
}

double relative_error(std::uint64_t got, std::uint64_t want) {
  if (want == 0) return got == 0 ? 0.0 : INFINITY;
  const long double diff =
      got > want ? static_cast<long double>(got - want) : static_cast<long double>(want - got);
  return static_cast<double>(diff / static_cast<long double>(want));
}

// Records the values, then checks every percentile that matters and the exact totals.
void check_accuracy(const std::string& name, std::vector<std::uint64_t> values) {
  SCOPED_TRACE(name);
  Histogram h;
  for (std::uint64_t v : values) h.record(v);
  std::sort(values.begin(), values.end());
  ASSERT_EQ(h.count(), values.size());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.percentile(0), values.front());
  EXPECT_EQ(h.percentile(100), values.back());

  // Percentiles named in the brief plus a sweep; 999 is p99.9.
  std::vector<std::uint64_t> per_mille = {500, 900, 990, 999};
  for (std::uint64_t q = 1; q < 1000; q += 7) per_mille.push_back(q);
  for (std::uint64_t q : per_mille) {
    const std::uint64_t want = exact_percentile(values, q);
    const std::uint64_t got = h.percentile(static_cast<double>(q) / 10.0);
    EXPECT_LE(relative_error(got, want), Histogram::kRelativeErrorBound)
        << "p" << static_cast<double>(q) / 10.0 << " got " << got << " want " << want;
    if (want < 256) {
      EXPECT_EQ(got, want) << "values below 256 are exact";
    }
  }

  const auto s = summarize(h);
  EXPECT_EQ(s.count, values.size());
  EXPECT_EQ(s.min, values.front());
  EXPECT_EQ(s.max, values.back());
  EXPECT_EQ(s.p50, h.percentile(50));
  EXPECT_EQ(s.p90, h.percentile(90));
  EXPECT_EQ(s.p99, h.percentile(99));
  EXPECT_EQ(s.p999, h.percentile(99.9));

  // Mean and stdev against a long-double two-pass computation.
  long double sum = 0;
  for (std::uint64_t v : values) sum += static_cast<long double>(v);
  const long double mean = sum / static_cast<long double>(values.size());
  long double m2 = 0;
  for (std::uint64_t v : values) {
    const long double d = static_cast<long double>(v) - mean;
    m2 += d * d;
  }
  const double stdev = static_cast<double>(std::sqrt(m2 / static_cast<long double>(values.size())));
  EXPECT_NEAR(h.mean(), static_cast<double>(mean), 1e-12 * static_cast<double>(mean));
  EXPECT_NEAR(s.mean, h.mean(), 0.0);
  // sum of squares is a double accumulator: the one-pass formula cancels to ~1e-8 of the mean.
  EXPECT_NEAR(h.stdev(), stdev, 1e-6 * std::max(1.0, static_cast<double>(mean)));
  EXPECT_NEAR(s.stdev, h.stdev(), 0.0);
}

std::vector<std::uint64_t> generate(std::size_t n, const std::function<double(std::mt19937_64&)>& f,
                                    std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> v(n);
  for (auto& x : v) x = static_cast<std::uint64_t>(std::max(0.0, f(rng)));
  return v;
}

constexpr std::size_t kN = 100'000;

TEST(Histogram, AccuracyUniform) {
  std::uniform_int_distribution<std::uint64_t> d(0, 10'000'000);
  check_accuracy("uniform", generate(
                                kN, [&](auto& r) { return static_cast<double>(d(r)); }, 1));
}

TEST(Histogram, AccuracyUniformSmallValuesExact) {
  std::uniform_int_distribution<std::uint64_t> d(0, 300);
  check_accuracy("uniform 0..300", generate(
                                       kN, [&](auto& r) { return static_cast<double>(d(r)); }, 2));
}

TEST(Histogram, AccuracyExponential) {
  std::exponential_distribution<double> d(1.0 / 50'000.0);
  check_accuracy("exponential", generate(
                                    kN, [&](auto& r) { return d(r); }, 3));
}

TEST(Histogram, AccuracyLogNormal) {
  std::lognormal_distribution<double> d(10.0, 1.5);
  check_accuracy("log-normal", generate(
                                   kN, [&](auto& r) { return d(r); }, 4));
}

TEST(Histogram, AccuracyBimodal) {
  std::normal_distribution<double> fast(2'000.0, 50.0);
  std::normal_distribution<double> slow(200'000.0, 5'000.0);
  std::bernoulli_distribution pick(0.3);
  check_accuracy("bimodal", generate(
                                kN, [&](auto& r) { return pick(r) ? slow(r) : fast(r); }, 5));
}

TEST(Histogram, AccuracyConstant) {
  check_accuracy("constant", std::vector<std::uint64_t>(kN, 123'457));
  check_accuracy("constant small", std::vector<std::uint64_t>(1000, 17));
  Histogram h;
  for (int i = 0; i < 1000; ++i) h.record(123'457);
  EXPECT_EQ(h.percentile(50), 123'457u) << "clamping to [min, max] makes a constant exact";
  EXPECT_EQ(h.stdev(), 0.0);
}

TEST(Histogram, AccuracyAroundPowersOfTwo) {
  std::vector<std::uint64_t> values;
  for (int k = 0; k < 64; ++k) {
    const std::uint64_t p = std::uint64_t{1} << k;
    for (std::uint64_t d = 0; d < 3; ++d) {
      values.push_back(p + d);
      if (p > d) values.push_back(p - 1 - d);
    }
  }
  values.push_back(UINT64_MAX);
  check_accuracy("powers of two", values);
}

TEST(Histogram, AccuracyHugeValuesNear2To63) {
  std::uniform_int_distribution<std::uint64_t> d(0, std::uint64_t{1} << 50);
  std::mt19937_64 rng(6);
  std::vector<std::uint64_t> values(10'000);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::uint64_t top = std::uint64_t{1} << 63;
    values[i] = i % 2 == 0 ? top - 1 - d(rng) : top + d(rng);
  }
  check_accuracy("near 2^63", values);
}

// The bound holds for each single bucket: any value v is within v/256 of its bucket's midpoint.
TEST(Histogram, BucketGeometry) {
  std::vector<std::uint64_t> probes = {0, 1, 127, 128, 255, 256, 257, 511, 512, 1000, UINT64_MAX};
  for (int k = 1; k < 64; ++k) {
    const std::uint64_t p = std::uint64_t{1} << k;
    probes.insert(probes.end(), {p - 1, p, p + 1});
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100'000; ++i) probes.push_back(rng() >> (rng() % 64));
  std::size_t previous_index = 0;
  for (std::uint64_t v : probes) {
    const std::size_t i = Histogram::bucket_index(v);
    ASSERT_LT(i, Histogram::kBucketSlots);
    const std::uint64_t lo = Histogram::bucket_lowest(i);
    const std::uint64_t hi = Histogram::bucket_highest(i);
    ASSERT_LE(lo, v);
    ASSERT_GE(hi, v);
    if (v < 256) {
      EXPECT_EQ(lo, hi);
    } else {
      EXPECT_LE(hi - lo + 1, v / 128) << v;
    }
    EXPECT_LE(relative_error(Histogram::bucket_report(i, 0, UINT64_MAX), v),
              Histogram::kRelativeErrorBound)
        << v;
    (void)previous_index;
  }
  // Slots tile the value range without gaps or overlaps.
  for (std::size_t i = 1; i < Histogram::kBucketSlots; ++i) {
    ASSERT_EQ(Histogram::bucket_lowest(i), Histogram::bucket_highest(i - 1) + 1) << i;
    ASSERT_EQ(Histogram::bucket_index(Histogram::bucket_lowest(i)), i);
    ASSERT_EQ(Histogram::bucket_index(Histogram::bucket_highest(i)), i);
  }
  EXPECT_EQ(Histogram::bucket_lowest(0), 0u);
  EXPECT_EQ(Histogram::bucket_highest(Histogram::kBucketSlots - 1), UINT64_MAX);
}

TEST(Histogram, NearestRank) {
  EXPECT_EQ(Histogram::nearest_rank(50, 0), 0u);
  EXPECT_EQ(Histogram::nearest_rank(0, 10), 1u);
  EXPECT_EQ(Histogram::nearest_rank(100, 10), 10u);
  EXPECT_EQ(Histogram::nearest_rank(50, 10), 5u);
  EXPECT_EQ(Histogram::nearest_rank(50, 11), 6u);
  EXPECT_EQ(Histogram::nearest_rank(99.9, 1000), 999u);
  EXPECT_EQ(Histogram::nearest_rank(99.9, 1001), 1000u);
  EXPECT_EQ(Histogram::nearest_rank(90, 10), 9u);
  EXPECT_EQ(Histogram::nearest_rank(0.01, 10), 1u);
}

TEST(Histogram, SmallExactPercentiles) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.percentile(50), 50u);
  EXPECT_EQ(h.percentile(90), 90u);
  EXPECT_EQ(h.percentile(99), 99u);
  EXPECT_EQ(h.percentile(99.9), 100u);
  EXPECT_EQ(h.percentile(1), 1u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
  EXPECT_NEAR(h.stdev(), std::sqrt((100.0 * 100.0 - 1.0) / 12.0), 1e-9);
}

TEST(Histogram, RecordNEqualsRepeatedRecord) {
  Histogram a;
  Histogram b;
  a.record_n(1'000'003, 5);
  a.record_n(7, 0);  // no-op: must not move min
  for (int i = 0; i < 5; ++i) b.record(1'000'003);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.min(), 1'000'003u);
}

TEST(Histogram, MergeEqualsHistogramOfUnion) {
  std::mt19937_64 rng(8);
  std::lognormal_distribution<double> d1(8.0, 1.0);
  std::exponential_distribution<double> d2(1e-6);
  Histogram a;
  Histogram b;
  Histogram all;
  for (int i = 0; i < 50'000; ++i) {
    const auto x = static_cast<std::uint64_t>(d1(rng));
    const auto y = static_cast<std::uint64_t>(d2(rng));
    a.record(x);
    b.record(y);
    all.record(x);
    all.record(y);
  }
  Histogram merged = a;
  merged.merge(b);
  EXPECT_EQ(merged.bins(), all.bins());
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_EQ(merged.sum(), all.sum()) << "integer sums below 2^53 are exact in any order";
  // The sum of squares passes 2^53 here, so the order of additions may change the last bits.
  EXPECT_NEAR(merged.sum_of_squares(), all.sum_of_squares(), 1e-12 * all.sum_of_squares());
  EXPECT_NEAR(merged.stdev(), all.stdev(), 1e-9 * all.stdev());
  EXPECT_EQ(summarize(merged).p99, summarize(all).p99);

  // With the sum of squares below 2^53 every total is exact: the merge is identical.
  Histogram c;
  Histogram d;
  Histogram cd;
  for (std::uint64_t i = 0; i < 10'000; ++i) {
    const std::uint64_t x = (i * 7919) % 100'000;
    const std::uint64_t y = (i * 104'729) % 600'000;
    c.record(x);
    d.record(y);
    cd.record(x);
    cd.record(y);
  }
  c.merge(d);
  EXPECT_EQ(c, cd);

  Histogram empty;
  Histogram copy = a;
  copy.merge(empty);
  EXPECT_EQ(copy, a);
  empty.merge(a);
  EXPECT_EQ(empty, a);
}

TEST(Histogram, BinsRoundTrip) {
  std::mt19937_64 rng(9);
  std::lognormal_distribution<double> d(12.0, 2.0);
  Histogram h;
  for (int i = 0; i < 20'000; ++i) h.record(static_cast<std::uint64_t>(d(rng)));
  h.record(0);
  h.record(UINT64_MAX);
  const auto bins = h.bins();
  ASSERT_FALSE(bins.empty());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < bins.size(); ++i) {
    EXPECT_GT(bins[i].count, 0u);
    EXPECT_LE(bins[i].lowest, bins[i].highest);
    if (i > 0) {
      EXPECT_GT(bins[i].lowest, bins[i - 1].highest);
    }
    total += bins[i].count;
  }
  EXPECT_EQ(total, h.count());
  const Histogram back = Histogram::from_bins(bins, h.min(), h.max(), h.sum(), h.sum_of_squares());
  EXPECT_EQ(back, h);
  EXPECT_EQ(back.bins(), bins);
  EXPECT_EQ(back.percentile(99.9), h.percentile(99.9));
  EXPECT_EQ(back.stdev(), h.stdev());
}

TEST(Histogram, FromBinsRejectsMismatchedBounds) {
  using Bin = Histogram::Bin;
  // [300, 301] is a real bucket (width 2 between 256 and 511).
  EXPECT_NO_THROW(Histogram::from_bins({Bin{300, 301, 1}}, 300, 300, 300, 90000));
  EXPECT_THROW(Histogram::from_bins({Bin{300, 302, 1}}, 300, 300, 300, 90000),
               std::invalid_argument);
  EXPECT_THROW(Histogram::from_bins({Bin{301, 302, 1}}, 301, 301, 301, 90601),
               std::invalid_argument);
  EXPECT_THROW(Histogram::from_bins({Bin{10, 9, 1}}, 10, 10, 10, 100), std::invalid_argument);
  EXPECT_THROW(Histogram::from_bins({Bin{0, 255, 1}}, 0, 0, 0, 0), std::invalid_argument);
  // min / max outside the first / last bin.
  EXPECT_THROW(Histogram::from_bins({Bin{300, 301, 1}}, 299, 300, 300, 90000),
               std::invalid_argument);
  EXPECT_THROW(Histogram::from_bins({Bin{10, 10, 1}, Bin{300, 301, 1}}, 10, 400, 310, 90100),
               std::invalid_argument);
  EXPECT_THROW(Histogram::from_bins({Bin{300, 301, 2}}, 301, 300, 601, 180601),
               std::invalid_argument);
}

TEST(Histogram, Empty) {
  const Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.stdev(), 0.0);
  EXPECT_EQ(h.percentile(0), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.percentile(100), 0u);
  EXPECT_TRUE(h.bins().empty());
  const auto s = summarize(h);
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.p50, 0u);
  EXPECT_EQ(s.p999, 0u);
  EXPECT_EQ(s.max, 0u);
  EXPECT_EQ(Histogram::from_bins({}, 0, 0, 0, 0), h);
}

TEST(Histogram, ResetAndMovedFrom) {
  Histogram h;
  h.record(42);
  h.record(1'000'000);
  h.reset();
  EXPECT_EQ(h, Histogram());
  h.record(7);
  Histogram moved = std::move(h);
  EXPECT_EQ(moved.count(), 1u);
  h.reset();  // a moved-from histogram is usable again after reset()
  h.record(9);
  EXPECT_EQ(h.percentile(50), 9u);
}

}  // namespace
