#pragma once
// Mergeable log-linear latency histogram (HdrHistogram-style bucketing, hand-written).
//
// Values are unsigned integers (nanoseconds in practice). Values below 2^kSubBucketBits are
// recorded exactly; above that every power-of-two range is split into 2^(kSubBucketBits-1)
// linear sub-buckets, so the width of the bucket holding v is at most v / 2^(kSubBucketBits-1).
// A percentile is reported as the midpoint of its bucket (clamped to the exact min and max), so
// its relative error is at most 1 / 2^kSubBucketBits (0.39% for 8 bits). The exact count, min, max,
// sum and sum of squares are kept beside the buckets, so mean, stdev, min and max are exact.
//
// Bucketing (8 sub-bucket bits, 7424 slots covering the whole uint64 range):
//   v < 256:             slot v, width 1 (exact).
//   2^k <= v < 2^(k+1):  k >= 8, shift = k - 7, slot = shift * 128 + (v >> shift), width 2^shift.
// The slot is computed branch-free from countl_zero(v | 255). Since v >= 2^k and the width is
// 2^(k-7), the midpoint m = lowest + (width - 1) / 2 (integer) is within width / 2 <= v / 256 of
// any v in the bucket; the nearest-rank sample and the reported midpoint share a bucket, and
// clamping to [min, max] only moves the report closer to the sample. Hence
// |reported - exact| <= exact / 256 for every percentile (and 0 for values below 256).
//
// Accumulators: count, min and max are exact integers. sum and sum of squares are doubles: exact
// while they stay below 2^53 (sum: 104 days of nanoseconds), otherwise correctly rounded at each
// step (relative error ~1e-16 per sample). stdev is sqrt(sum_sq/n - mean^2), clamped at 0.
//
// A moved-from Histogram holds no buckets: assign to it or call reset() before using it again.
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fabricbench::stats {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 8;  // relative error bound 1/256 = 0.39%
  static constexpr double kRelativeErrorBound = 1.0 / (1u << kSubBucketBits);

  Histogram();

  // Hot path: no allocation, no branches beyond the bucket index computation.
  void record(std::uint64_t value) noexcept;
  void record_n(std::uint64_t value, std::uint64_t count) noexcept;
  void merge(const Histogram& other) noexcept;
  void reset() noexcept;

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t min() const noexcept;  // 0 when empty
  std::uint64_t max() const noexcept { return max_; }
  double mean() const noexcept;
  double stdev() const noexcept;  // population standard deviation
  // p in [0, 100]. Nearest-rank definition: the smallest recorded value v such that at least
  // p% of samples are <= v (p = 0 gives min, p = 100 gives max). 0 when empty.
  std::uint64_t percentile(double p) const noexcept;

  // Serialization: the non-empty buckets, ascending, each [lowest, highest] value it holds.
  struct Bin {
    std::uint64_t lowest;
    std::uint64_t highest;
    std::uint64_t count;
    bool operator==(const Bin&) const = default;
  };
  std::vector<Bin> bins() const;
  // Exact totals kept beside the buckets (needed to rebuild a histogram from a document).
  double sum() const noexcept { return sum_; }
  double sum_of_squares() const noexcept { return sum_sq_; }
  // Rebuild from serialized bins plus exact totals. Throws std::invalid_argument if a bin's
  // bounds do not match this histogram's bucketing, or if min / max do not fall in the first /
  // last non-empty bin. Bins may come in any order; repeated bins add up. With no samples in the
  // bins, min, max, sum and sum_of_squares are ignored and the result is empty.
  static Histogram from_bins(const std::vector<Bin>& bins, std::uint64_t min, std::uint64_t max,
                             double sum, double sum_of_squares);

  // Same buckets and same exact totals.
  bool operator==(const Histogram&) const = default;

  // Bucketing helpers (public so that compact per-interval storage and readers of documents can
  // share the exact bucketing). Slots are numbered 0 .. kBucketSlots-1 in value order.
  static constexpr std::size_t kBucketSlots = static_cast<std::size_t>(64 - kSubBucketBits + 2)
                                              << (kSubBucketBits - 1);
  static constexpr std::size_t bucket_index(std::uint64_t value) noexcept;
  static constexpr std::uint64_t bucket_lowest(std::size_t index) noexcept;
  static constexpr std::uint64_t bucket_highest(std::size_t index) noexcept;
  // The value reported for a bucket: its midpoint, clamped to [min, max].
  static constexpr std::uint64_t bucket_report(std::size_t index, std::uint64_t min,
                                               std::uint64_t max) noexcept;
  // Nearest rank (1-based) of percentile p among count samples: ceil(p / 100 * count), clamped to
  // [1, count]; products within 1e-9 (relative) of an integer count as that integer, so that
  // 99.9% of 1000 is rank 999, not 1000. 0 when count is 0.
  static std::uint64_t nearest_rank(double p, std::uint64_t count) noexcept;

 private:
  static constexpr int kHalfBits = kSubBucketBits - 1;
  static constexpr std::uint64_t kExactMask = (std::uint64_t{1} << kSubBucketBits) - 1;

  std::vector<std::uint64_t> counts_;  // kBucketSlots entries
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  double sum_ = 0;
  double sum_sq_ = 0;
};

constexpr std::size_t Histogram::bucket_index(std::uint64_t value) noexcept {
  // shift = 0 for value < 256, else floor(log2(value)) - 7.
  const int shift = (64 - kSubBucketBits) - std::countl_zero(value | kExactMask);
  return (static_cast<std::size_t>(shift) << kHalfBits) + static_cast<std::size_t>(value >> shift);
}

constexpr std::uint64_t Histogram::bucket_lowest(std::size_t index) noexcept {
  if (index < (std::size_t{1} << kSubBucketBits)) return index;
  const std::size_t shift = (index >> kHalfBits) - 1;
  const std::uint64_t sub = index - (shift << kHalfBits);
  return sub << shift;
}

constexpr std::uint64_t Histogram::bucket_highest(std::size_t index) noexcept {
  if (index < (std::size_t{1} << kSubBucketBits)) return index;
  const std::size_t shift = (index >> kHalfBits) - 1;
  return bucket_lowest(index) + ((std::uint64_t{1} << shift) - 1);
}

constexpr std::uint64_t Histogram::bucket_report(std::size_t index, std::uint64_t min,
                                                 std::uint64_t max) noexcept {
  const std::uint64_t lo = bucket_lowest(index);
  const std::uint64_t mid = lo + (bucket_highest(index) - lo) / 2;
  return mid < min ? min : (mid > max ? max : mid);
}

inline void Histogram::record(std::uint64_t value) noexcept {
  ++counts_[bucket_index(value)];
  ++count_;
  min_ = value < min_ ? value : min_;
  max_ = value > max_ ? value : max_;
  const double v = static_cast<double>(value);
  sum_ += v;
  sum_sq_ += v * v;
}

// The latency summary every table and document shows.
struct Summary {
  std::uint64_t count = 0;
  std::uint64_t min = 0;
  double mean = 0;
  double stdev = 0;
  std::uint64_t p50 = 0;
  std::uint64_t p90 = 0;
  std::uint64_t p99 = 0;
  std::uint64_t p999 = 0;
  std::uint64_t max = 0;  // the true maximum, not a bucket bound
};
Summary summarize(const Histogram& h) noexcept;

}  // namespace fabricbench::stats
