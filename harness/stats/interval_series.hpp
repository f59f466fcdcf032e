#pragma once
// Per-interval time series of a duration run (default 100 ms bins): bytes, operations and a
// latency histogram per bin. Time is relative to the start of the measured phase.
#include <cstdint>
#include <optional>
#include <vector>

#include "harness/stats/histogram.hpp"

namespace fabricbench::stats {

struct IntervalPoint {
  std::uint64_t start_ns = 0;  // bin start, relative to the measured phase
  std::uint64_t length_ns = 0;  // bin width (the last bin may be shorter: the phase's end)
  std::uint64_t bytes = 0;
  std::uint64_t ops = 0;
  std::uint64_t latency_count = 0;
  std::optional<std::uint64_t> lat_p50_ns;  // empty when no latency was recorded in the bin
  std::optional<std::uint64_t> lat_p99_ns;
};

class IntervalSeries {
 public:
  explicit IntervalSeries(std::uint64_t bin_ns);
  std::uint64_t bin_ns() const noexcept { return bin_ns_; }
  // t_rel_ns: time since the start of the measured phase. Bins are created on demand.
  void add(std::uint64_t t_rel_ns, std::uint64_t bytes, std::uint64_t ops);
  void add_latency(std::uint64_t t_rel_ns, std::uint64_t latency_ns);
  // Element-wise merge (same bin width required; throws std::invalid_argument otherwise).
  void merge(const IntervalSeries& other);
  // Close the series at the phase's end: the last bin's length is cut to end_rel_ns.
  std::vector<IntervalPoint> points(std::uint64_t end_rel_ns) const;

 private:
  struct Bin {
    std::uint64_t bytes = 0;
    std::uint64_t ops = 0;
    Histogram latency;
  };
  Bin& bin_at(std::uint64_t t_rel_ns);
  std::uint64_t bin_ns_;
  std::vector<Bin> bins_;
};

}  // namespace fabricbench::stats
