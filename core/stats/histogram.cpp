#include "core/stats/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace fabricbench::stats {

static_assert(Histogram::bucket_index(0) == 0);
static_assert(Histogram::bucket_index(255) == 255);
static_assert(Histogram::bucket_index(256) == 256);
static_assert(Histogram::bucket_index(UINT64_MAX) == Histogram::kBucketSlots - 1);
static_assert(Histogram::bucket_lowest(Histogram::bucket_index(UINT64_MAX)) == 255ULL << 56);
static_assert(Histogram::bucket_highest(Histogram::kBucketSlots - 1) == UINT64_MAX);
static_assert(Histogram::bucket_highest(256) == 257);

Histogram::Histogram() : counts_(kBucketSlots, 0) {}

void Histogram::record_n(std::uint64_t value, std::uint64_t count) noexcept {
  if (count == 0) return;
  counts_[bucket_index(value)] += count;
  count_ += count;
  min_ = value < min_ ? value : min_;
  max_ = value > max_ ? value : max_;
  const double v = static_cast<double>(value);
  const double n = static_cast<double>(count);
  sum_ += v * n;
  sum_sq_ += v * v * n;
}

void Histogram::merge(const Histogram& other) noexcept {
  if (other.count_ == 0) return;
  const std::uint64_t* src = other.counts_.data();
  std::uint64_t* dst = counts_.data();
  for (std::size_t i = 0; i < kBucketSlots; ++i) dst[i] += src[i];
  count_ += other.count_;
  min_ = other.min_ < min_ ? other.min_ : min_;
  max_ = other.max_ > max_ ? other.max_ : max_;
  sum_ += other.sum_;
  sum_sq_ += other.sum_sq_;
}

void Histogram::reset() noexcept {
  // assign() keeps the capacity, so this does not allocate except on a moved-from object.
  counts_.assign(kBucketSlots, 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
  sum_sq_ = 0;
}

std::uint64_t Histogram::min() const noexcept {
  return count_ == 0 ? 0 : min_;
}

double Histogram::mean() const noexcept {
  return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_);
}

double Histogram::stdev() const noexcept {
  if (count_ == 0) return 0.0;
  const double n = static_cast<double>(count_);
  const double m = sum_ / n;
  const double var = sum_sq_ / n - m * m;
  return var > 0 ? std::sqrt(var) : 0.0;
}

std::uint64_t Histogram::nearest_rank(double p, std::uint64_t count) noexcept {
  if (count == 0) return 0;
  if (!(p > 0)) return 1;  // also NaN
  if (p >= 100) return count;
  double x = p / 100.0 * static_cast<double>(count);
  const double r = std::round(x);
  if (std::abs(x - r) <= 1e-9 * std::max(1.0, x)) x = r;
  const double c = std::ceil(x);
  if (c < 1) return 1;
  if (c >= static_cast<double>(count)) return count;
  return static_cast<std::uint64_t>(c);
}

std::uint64_t Histogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  if (!(p > 0)) return min_;
  if (p >= 100) return max_;
  const std::uint64_t rank = nearest_rank(p, count_);
  const std::size_t last = bucket_index(max_);
  std::uint64_t seen = 0;
  for (std::size_t i = bucket_index(min_); i <= last; ++i) {
    seen += counts_[i];
    if (seen >= rank) return bucket_report(i, min_, max_);
  }
  return max_;  // unreachable while the counts agree with count_
}

std::vector<Histogram::Bin> Histogram::bins() const {
  std::vector<Bin> out;
  if (count_ == 0) return out;
  const std::size_t last = bucket_index(max_);
  for (std::size_t i = bucket_index(min_); i <= last; ++i) {
    if (counts_[i] != 0) out.push_back(Bin{bucket_lowest(i), bucket_highest(i), counts_[i]});
  }
  return out;
}

Histogram Histogram::from_bins(const std::vector<Bin>& bins, std::uint64_t min, std::uint64_t max,
                               double sum, double sum_of_squares) {
  Histogram h;
  std::size_t first = kBucketSlots;
  std::size_t last = 0;
  for (const Bin& b : bins) {
    const std::size_t i = bucket_index(b.lowest);
    if (bucket_lowest(i) != b.lowest || bucket_highest(i) != b.highest) {
      throw std::invalid_argument(fmt::format(
          "histogram bin [{}, {}] does not match the bucketing ({} sub-bucket bits): the bucket "
          "holding {} is [{}, {}]",
          b.lowest, b.highest, kSubBucketBits, b.lowest, bucket_lowest(i), bucket_highest(i)));
    }
    if (b.count == 0) continue;
    h.counts_[i] += b.count;
    h.count_ += b.count;
    first = i < first ? i : first;
    last = i > last ? i : last;
  }
  if (h.count_ == 0) return h;
  if (min > max || bucket_index(min) != first || bucket_index(max) != last) {
    throw std::invalid_argument(
        fmt::format("histogram min {} / max {} do not fall in the first bin [{}, {}] / last bin "
                    "[{}, {}]",
                    min, max, bucket_lowest(first), bucket_highest(first), bucket_lowest(last),
                    bucket_highest(last)));
  }
  h.min_ = min;
  h.max_ = max;
  h.sum_ = sum;
  h.sum_sq_ = sum_of_squares;
  return h;
}

Summary summarize(const Histogram& h) noexcept {
  Summary s;
  s.count = h.count();
  s.min = h.min();
  s.mean = h.mean();
  s.stdev = h.stdev();
  s.p50 = h.percentile(50);
  s.p90 = h.percentile(90);
  s.p99 = h.percentile(99);
  s.p999 = h.percentile(99.9);
  s.max = h.max();
  return s;
}

}  // namespace fabricbench::stats
