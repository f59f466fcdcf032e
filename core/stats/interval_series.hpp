#pragma once
// Per-interval time series of a duration run (default 100 ms bins): bytes, operations and a
// latency histogram per bin. Time is relative to the start of the measured phase.
//
// Each bin keeps its latencies in the Histogram's bucketing (so bins merge exactly across ranks
// and p50/p99 carry the same 1/256 relative-error bound), but stores only the window of buckets
// between its smallest and largest sample: a 100 ms bin costs a few hundred bytes, not the 58 KiB
// of a full Histogram, so hour-long runs stay small. Adding a sample may therefore allocate.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/stats/histogram.hpp"

namespace fabricbench::stats {

struct IntervalPoint {
  std::uint64_t start_ns = 0;   // bin start, relative to the measured phase
  std::uint64_t length_ns = 0;  // bin width (the last bin may be shorter: the phase's end)
  std::uint64_t bytes = 0;
  std::uint64_t ops = 0;
  std::uint64_t latency_count = 0;
  std::optional<std::uint64_t> lat_p50_ns;  // empty when no latency was recorded in the bin
  std::optional<std::uint64_t> lat_p99_ns;
};

class IntervalSeries {
 public:
  // Throws std::invalid_argument when bin_ns is 0.
  explicit IntervalSeries(std::uint64_t bin_ns);
  std::uint64_t bin_ns() const noexcept { return bin_ns_; }
  // t_rel_ns: time since the start of the measured phase. Bins are created on demand.
  // Throws std::invalid_argument when t_rel_ns lies more than kMaxBins bins after the start (a
  // sign that an absolute timestamp was passed).
  void add(std::uint64_t t_rel_ns, std::uint64_t bytes, std::uint64_t ops);
  void add_latency(std::uint64_t t_rel_ns, std::uint64_t latency_ns);
  // Element-wise merge (same bin width required; throws std::invalid_argument otherwise).
  void merge(const IntervalSeries& other);
  // Close the series at the phase's end: the last bin's length is cut to end_rel_ns.
  // Returns one point per bin covering [0, end_rel_ns), ceil(end_rel_ns / bin_ns) points, bins
  // without activity included (bytes = ops = 0, so an outage shows as zeros, not as a gap).
  // Samples recorded at or after end_rel_ns (completions that land after the phase's end) are
  // counted in the last point, so the points' bytes, ops and latency counts always add up to
  // everything that was added. No points (and nothing counted) when end_rel_ns is 0.
  // Throws std::invalid_argument when that would be more than kMaxBins points.
  std::vector<IntervalPoint> points(std::uint64_t end_rel_ns) const;

  static constexpr std::uint64_t kMaxBins = std::uint64_t{1} << 22;  // 4.8 days of 100 ms bins

 private:
  // Counts of the Histogram buckets first .. first + counts.size() - 1.
  struct LatencyWindow {
    std::uint64_t count = 0;
    std::uint64_t min = UINT64_MAX;
    std::uint64_t max = 0;
    std::size_t first = 0;
    std::vector<std::uint64_t> counts;
    void cover(std::size_t index);
    void add(std::uint64_t value);
    void merge(const LatencyWindow& other);
    std::uint64_t percentile(double p) const noexcept;
  };
  struct Bin {
    std::uint64_t bytes = 0;
    std::uint64_t ops = 0;
    LatencyWindow latency;
  };
  Bin& bin_at(std::uint64_t t_rel_ns);
  std::uint64_t bin_ns_;
  std::vector<Bin> bins_;
};

}  // namespace fabricbench::stats
