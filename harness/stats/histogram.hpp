#pragma once
// Mergeable log-linear latency histogram (HdrHistogram-style bucketing, hand-written).
//
// Values are unsigned integers (nanoseconds in practice). Values below 2^kSubBucketBits are
// recorded exactly; above that every power-of-two range is split into 2^(kSubBucketBits-1)
// linear sub-buckets, so the width of the bucket holding v is at most v / 2^(kSubBucketBits-1).
// A percentile is reported as the midpoint of its bucket (clamped to the exact min and max), so
// its relative error is at most 1 / 2^kSubBucketBits (0.39% for 8 bits). The exact count, min, max,
// sum and sum of squares are kept beside the buckets, so mean, stdev, min and max are exact.
#include <array>
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
  };
  std::vector<Bin> bins() const;
  // Exact totals kept beside the buckets (needed to rebuild a histogram from a document).
  double sum() const noexcept { return sum_; }
  double sum_of_squares() const noexcept { return sum_sq_; }
  // Rebuild from serialized bins plus exact totals. Throws std::invalid_argument if a bin's
  // bounds do not match this histogram's bucketing.
  static Histogram from_bins(const std::vector<Bin>& bins, std::uint64_t min, std::uint64_t max,
                             double sum, double sum_of_squares);

 private:
  static constexpr int kBucketCount = 64 - kSubBucketBits + 1;
  static constexpr int kHalf = 1 << (kSubBucketBits - 1);
  static constexpr std::size_t kSlots = (kBucketCount + 1) * kHalf;
  static std::size_t index_of(std::uint64_t value) noexcept;
  static std::uint64_t lowest_of(std::size_t index) noexcept;
  static std::uint64_t highest_of(std::size_t index) noexcept;

  std::vector<std::uint64_t> counts_;  // kSlots entries
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  double sum_ = 0;
  double sum_sq_ = 0;
};

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
