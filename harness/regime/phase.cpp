#include "harness/regime/phase.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace fabricbench::regime {

namespace {

std::uint64_t minus_or_zero(std::uint64_t a, std::uint64_t b) noexcept {
  return a > b ? a - b : 0;
}

template <typename T>
std::optional<T> worse(const std::optional<T>& a, const std::optional<T>& b) {
  if (!a) return b;
  if (!b) return a;
  return std::max(*a, *b);
}

}  // namespace

PhaseRecorder::PhaseRecorder(std::uint64_t bin_ns, std::uint64_t deadline_ns)
    : bin_ns_(bin_ns),
      deadline_ns_(deadline_ns),
      latency_bins_(bin_ns == 0 ? 1 : bin_ns),
      age_bins_(bin_ns == 0 ? 1 : bin_ns) {
  if (bin_ns == 0) throw std::invalid_argument("phase recorder: bin width must be > 0 ns");
}

PhaseRecorder::BinCounts& PhaseRecorder::bin(std::uint64_t t_ns) {
  const std::uint64_t index = t_ns / bin_ns_;
  if (index >= counts_.size()) [[unlikely]] {
    if (index >= stats::IntervalSeries::kMaxBins) {
      throw std::invalid_argument(fmt::format(
          "phase recorder: time {} ns is bin {} of {} ns, beyond the limit of {} bins (an "
          "absolute timestamp instead of one relative to the phase start?)",
          t_ns, index, bin_ns_, stats::IntervalSeries::kMaxBins));
    }
    counts_.resize(static_cast<std::size_t>(index) + 1);
  }
  return counts_[static_cast<std::size_t>(index)];
}

void PhaseRecorder::offered(std::uint64_t intended_ns, std::uint64_t bytes) {
  BinCounts& b = bin(intended_ns);
  ++b.offered_ops;
  b.offered_bytes += bytes;
  ++totals_.offered_ops;
  totals_.offered_bytes += bytes;
}

void PhaseRecorder::refused(std::uint64_t intended_ns, std::uint64_t bytes) {
  BinCounts& b = bin(intended_ns);
  ++b.refused_ops;
  ++totals_.refused_ops;
  totals_.refused_bytes += bytes;
}

void PhaseRecorder::completed(std::uint64_t intended_ns, std::uint64_t posted_ns,
                              std::uint64_t confirmed_ns, std::uint64_t bytes) {
  BinCounts& b = bin(confirmed_ns);
  const std::uint64_t latency = minus_or_zero(confirmed_ns, intended_ns);
  ++b.completed_ops;
  b.completed_bytes += bytes;
  ++totals_.completed_ops;
  totals_.completed_bytes += bytes;
  if (deadline_ns_ != 0 && latency > deadline_ns_) {
    ++b.deadline_misses;
    ++totals_.deadline_misses;
  }
  latency_bins_.add_latency(confirmed_ns, latency);
  totals_.latency.record(latency);
  totals_.queueing.record(minus_or_zero(posted_ns, intended_ns));
  totals_.service.record(minus_or_zero(confirmed_ns, posted_ns));
  last_confirmed_ns_ = std::max(last_confirmed_ns_, confirmed_ns);
}

void PhaseRecorder::sample_queue(std::uint64_t t_ns, std::uint64_t backlog, std::uint64_t in_flight,
                                 std::uint64_t oldest_age_ns) {
  BinCounts& b = bin(t_ns);
  const std::uint64_t depth = backlog + in_flight;
  ++b.queue_samples;
  b.depth_sum += depth;
  b.depth_max = std::max(b.depth_max, depth);
  b.backlog_max = std::max(b.backlog_max, backlog);
  b.age_max = std::max(b.age_max, oldest_age_ns);
  age_bins_.add_latency(t_ns, oldest_age_ns);
  totals_.queue_age.record(oldest_age_ns);
  totals_.queue_depth.record(depth);
  totals_.peak_depth = std::max(totals_.peak_depth, depth);
  totals_.peak_backlog = std::max(totals_.peak_backlog, backlog);
  if (totals_.samples.size() < kMaxSamples) {
    totals_.samples.push_back(QueueSample{t_ns, backlog, in_flight, oldest_age_ns});
  }
}

PhaseResult PhaseRecorder::finish(std::uint64_t length_ns) const {
  PhaseResult r = totals_;
  r.length_ns = length_ns;
  r.end_ns = std::max(length_ns, last_confirmed_ns_);
  const std::vector<stats::IntervalPoint> lat = latency_bins_.points(r.end_ns);
  const std::vector<stats::IntervalPoint> age = age_bins_.points(r.end_ns);
  r.bins.resize(lat.size());
  for (std::size_t i = 0; i < r.bins.size(); ++i) {
    Bin& out = r.bins[i];
    out.start_ns = lat[i].start_ns;
    out.length_ns = lat[i].length_ns;
    out.lat_p50_ns = lat[i].lat_p50_ns;
    out.lat_p99_ns = lat[i].lat_p99_ns;
    out.age_p99_ns = age[i].lat_p99_ns;
    // The last bin also takes whatever was recorded at or after the end.
    const std::size_t last = i + 1 == r.bins.size() ? counts_.size() : i + 1;
    BinCounts c;
    for (std::size_t j = i; j < last && j < counts_.size(); ++j) {
      const BinCounts& s = counts_[j];
      c.offered_ops += s.offered_ops;
      c.offered_bytes += s.offered_bytes;
      c.refused_ops += s.refused_ops;
      c.completed_ops += s.completed_ops;
      c.completed_bytes += s.completed_bytes;
      c.deadline_misses += s.deadline_misses;
      c.queue_samples += s.queue_samples;
      c.depth_sum += s.depth_sum;
      c.depth_max = std::max(c.depth_max, s.depth_max);
      c.backlog_max = std::max(c.backlog_max, s.backlog_max);
      c.age_max = std::max(c.age_max, s.age_max);
    }
    out.offered_ops = c.offered_ops;
    out.offered_bytes = c.offered_bytes;
    out.refused_ops = c.refused_ops;
    out.completed_ops = c.completed_ops;
    out.completed_bytes = c.completed_bytes;
    out.deadline_misses = c.deadline_misses;
    out.queue_samples = c.queue_samples;
    out.depth_max = c.depth_max;
    out.backlog_max = c.backlog_max;
    if (c.queue_samples != 0) {
      out.depth_mean = static_cast<double>(c.depth_sum) / static_cast<double>(c.queue_samples);
      out.age_max_ns = c.age_max;
    }
  }
  return r;
}

void merge(PhaseResult& into, const PhaseResult& other) {
  if (into.bins.size() >= 2 && other.bins.size() >= 2 &&
      into.bins[0].length_ns != other.bins[0].length_ns) {
    throw std::invalid_argument(
        fmt::format("phase merge: bins of {} ns cannot merge into bins of {} ns",
                    other.bins[0].length_ns, into.bins[0].length_ns));
  }
  into.length_ns = std::max(into.length_ns, other.length_ns);
  into.end_ns = std::max(into.end_ns, other.end_ns);
  into.offered_ops += other.offered_ops;
  into.offered_bytes += other.offered_bytes;
  into.refused_ops += other.refused_ops;
  into.refused_bytes += other.refused_bytes;
  into.completed_ops += other.completed_ops;
  into.completed_bytes += other.completed_bytes;
  into.deadline_misses += other.deadline_misses;
  into.peak_depth = std::max(into.peak_depth, other.peak_depth);
  into.peak_backlog = std::max(into.peak_backlog, other.peak_backlog);
  into.latency.merge(other.latency);
  into.queueing.merge(other.queueing);
  into.service.merge(other.service);
  into.queue_age.merge(other.queue_age);
  into.queue_depth.merge(other.queue_depth);
  const std::size_t common = std::min(into.bins.size(), other.bins.size());
  for (std::size_t i = 0; i < common; ++i) {
    Bin& a = into.bins[i];
    const Bin& b = other.bins[i];
    a.length_ns = std::max(a.length_ns, b.length_ns);
    a.offered_ops += b.offered_ops;
    a.offered_bytes += b.offered_bytes;
    a.refused_ops += b.refused_ops;
    a.completed_ops += b.completed_ops;
    a.completed_bytes += b.completed_bytes;
    a.deadline_misses += b.deadline_misses;
    a.lat_p50_ns = worse(a.lat_p50_ns, b.lat_p50_ns);
    a.lat_p99_ns = worse(a.lat_p99_ns, b.lat_p99_ns);
    const std::uint64_t samples = a.queue_samples + b.queue_samples;
    if (samples != 0) {
      a.depth_mean = (a.depth_mean * static_cast<double>(a.queue_samples) +
                      b.depth_mean * static_cast<double>(b.queue_samples)) /
                     static_cast<double>(samples);
    }
    a.queue_samples = samples;
    a.depth_max = std::max(a.depth_max, b.depth_max);
    a.backlog_max = std::max(a.backlog_max, b.backlog_max);
    a.age_p99_ns = worse(a.age_p99_ns, b.age_p99_ns);
    a.age_max_ns = worse(a.age_max_ns, b.age_max_ns);
  }
  for (std::size_t i = common; i < other.bins.size(); ++i) into.bins.push_back(other.bins[i]);
}

}  // namespace fabricbench::regime
