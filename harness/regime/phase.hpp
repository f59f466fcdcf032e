#pragma once
// What one open-loop phase records: per operation its intended issue time, the time it was posted
// and the time its completion was confirmed (latency = confirmed - intended, split into queueing
// = posted - intended and service = confirmed - posted), arrivals refused at the backlog bound,
// deadline misses, and periodic samples of the queue (ops waiting to be posted + ops in flight)
// and of its age (sample time minus the intended time of the oldest operation not yet confirmed,
// 0 when none is outstanding; the caller computes it). All times are ns relative to the phase
// start.
#include <cstdint>
#include <optional>
#include <vector>

#include "core/stats/histogram.hpp"
#include "core/stats/interval_series.hpp"

namespace fabricbench::regime {

// One interval (bin) of a phase.
struct Bin {
  std::uint64_t start_ns = 0;
  std::uint64_t length_ns = 0;
  std::uint64_t offered_ops = 0;  // arrivals whose intended time falls in the bin (incl. refused)
  std::uint64_t offered_bytes = 0;
  std::uint64_t refused_ops = 0;    // arrivals refused at the backlog bound
  std::uint64_t completed_ops = 0;  // confirmations in the bin
  std::uint64_t completed_bytes = 0;
  std::uint64_t deadline_misses = 0;  // confirmations in the bin whose latency exceeded it
  // Percentiles carry the Histogram's 1/256 relative-error bound (IntervalSeries bucketing).
  std::optional<std::uint64_t> lat_p50_ns;  // of the bin's confirmations
  std::optional<std::uint64_t> lat_p99_ns;
  std::uint64_t queue_samples = 0;
  std::uint64_t depth_max = 0;  // backlog + in flight
  double depth_mean = 0;
  std::uint64_t backlog_max = 0;            // waiting to be posted
  std::optional<std::uint64_t> age_p99_ns;  // of the bin's queue-age samples
  std::optional<std::uint64_t> age_max_ns;  // exact
};

// A queue sample kept in full (drain detection needs sample resolution).
struct QueueSample {
  std::uint64_t t_ns = 0;
  std::uint64_t backlog = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t age_ns = 0;  // oldest unconfirmed operation's age (0: none)
};

struct PhaseResult {
  std::uint64_t length_ns = 0;  // the phase's planned length (arrivals stop here)
  std::uint64_t end_ns = 0;     // when the last operation was confirmed (>= length_ns)
  std::uint64_t offered_ops = 0;
  std::uint64_t offered_bytes = 0;
  std::uint64_t refused_ops = 0;
  std::uint64_t refused_bytes = 0;
  std::uint64_t completed_ops = 0;
  std::uint64_t completed_bytes = 0;
  std::uint64_t deadline_misses = 0;
  std::uint64_t peak_depth = 0;
  std::uint64_t peak_backlog = 0;
  stats::Histogram latency;      // confirmed - intended
  stats::Histogram queueing;     // posted - intended
  stats::Histogram service;      // confirmed - posted
  stats::Histogram queue_age;    // samples
  stats::Histogram queue_depth;  // samples (ops)
  std::vector<Bin> bins;
  std::vector<QueueSample> samples;  // every queue sample, in time order (capped, see below)
};

// Accumulates one phase (of one stream or of all streams of a rank; record from one thread).
// Calls may come in any time order (bins are found by time), except that sample_queue() keeps
// its samples in call order, so call it in time order.
// Binning: offered/refused by intended time; completions (counts, latency percentiles, deadline
// misses) by confirmed time; queue samples by their time. latency = confirmed - intended,
// queueing = posted - intended, service = confirmed - posted (each clamped at 0 should the
// times be out of order). A deadline miss is latency > deadline_ns.
// Cost: completed() and sample_queue() do not allocate, except when a new bin is first touched
// (the bins grow on demand), when the per-bin latency window widens, and for the amortized growth
// of the kept samples.
class PhaseRecorder {
 public:
  // bin_ns > 0 (std::invalid_argument otherwise); deadline_ns 0 = no deadline.
  PhaseRecorder(std::uint64_t bin_ns, std::uint64_t deadline_ns);
  // Each throws std::invalid_argument for a time more than IntervalSeries::kMaxBins bins after
  // the phase start (an absolute timestamp passed by mistake).
  void offered(std::uint64_t intended_ns, std::uint64_t bytes);
  void refused(std::uint64_t intended_ns, std::uint64_t bytes);  // call offered() too
  void completed(std::uint64_t intended_ns, std::uint64_t posted_ns, std::uint64_t confirmed_ns,
                 std::uint64_t bytes);
  void sample_queue(std::uint64_t t_ns, std::uint64_t backlog, std::uint64_t in_flight,
                    std::uint64_t oldest_age_ns);
  // Bins cover [0, max(length_ns, end_ns)); end_ns = the last confirmation's time. Anything
  // recorded at or after that end (a confirmation exactly at end_ns, queue samples taken after
  // the last confirmation) is counted in the last bin, so the bins always add up to the totals.
  // With nothing confirmed and length_ns 0 there are no bins. Can be called more than once.
  PhaseResult finish(std::uint64_t length_ns) const;
  std::uint64_t bin_ns() const noexcept { return bin_ns_; }

  static constexpr std::size_t kMaxSamples = 1u << 20;  // later samples go to bins/histograms only

 private:
  struct BinCounts {
    std::uint64_t offered_ops = 0, offered_bytes = 0, refused_ops = 0, completed_ops = 0,
                  completed_bytes = 0, deadline_misses = 0, queue_samples = 0, depth_max = 0,
                  depth_sum = 0, backlog_max = 0, age_max = 0;
  };
  BinCounts& bin(std::uint64_t t_ns);
  std::uint64_t bin_ns_;
  std::uint64_t deadline_ns_;
  std::vector<BinCounts> counts_;
  stats::IntervalSeries latency_bins_;  // latency per bin (ops/bytes unused)
  stats::IntervalSeries age_bins_;      // queue-age samples per bin
  PhaseResult totals_;                  // totals, histograms and samples; bins filled by finish
  std::uint64_t last_confirmed_ns_ = 0;
};

// Adds `other` (another pair of ranks, same bin width) into `into`: counts and histograms add,
// bins add element-wise (percentiles and maxima keep the worse, means weight by samples, a bin
// only `other` has is copied), length_ns and end_ns take the later, peaks the larger; samples are
// not merged (kept from `into`). Throws std::invalid_argument when both have two or more bins and
// their first bins differ in width.
void merge(PhaseResult& into, const PhaseResult& other);

}  // namespace fabricbench::regime
