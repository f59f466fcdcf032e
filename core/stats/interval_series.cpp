#include "core/stats/interval_series.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace fabricbench::stats {

void IntervalSeries::LatencyWindow::cover(std::size_t index) {
  if (counts.empty()) {
    first = index;
    counts.assign(1, 0);
  } else if (index < first) {
    counts.insert(counts.begin(), first - index, 0);
    first = index;
  } else if (index - first >= counts.size()) {
    counts.resize(index - first + 1, 0);
  }
}

void IntervalSeries::LatencyWindow::add(std::uint64_t value) {
  const std::size_t index = Histogram::bucket_index(value);
  cover(index);
  ++counts[index - first];
  ++count;
  min = value < min ? value : min;
  max = value > max ? value : max;
}

void IntervalSeries::LatencyWindow::merge(const LatencyWindow& other) {
  if (other.count == 0) return;
  cover(other.first);
  cover(other.first + other.counts.size() - 1);
  for (std::size_t i = 0; i < other.counts.size(); ++i) {
    counts[other.first + i - first] += other.counts[i];
  }
  count += other.count;
  min = other.min < min ? other.min : min;
  max = other.max > max ? other.max : max;
}

std::uint64_t IntervalSeries::LatencyWindow::percentile(double p) const noexcept {
  const std::uint64_t rank = Histogram::nearest_rank(p, count);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (seen >= rank) return Histogram::bucket_report(first + i, min, max);
  }
  return max;
}

IntervalSeries::IntervalSeries(std::uint64_t bin_ns) : bin_ns_(bin_ns) {
  if (bin_ns == 0) throw std::invalid_argument("interval series: bin width must be > 0 ns");
}

IntervalSeries::Bin& IntervalSeries::bin_at(std::uint64_t t_rel_ns) {
  const std::uint64_t index = t_rel_ns / bin_ns_;
  if (index >= bins_.size()) {
    if (index >= kMaxBins) {
      throw std::invalid_argument(fmt::format(
          "interval series: t_rel_ns {} is bin {} of {} ns, beyond the limit of {} bins (an "
          "absolute timestamp instead of one relative to the measured phase?)",
          t_rel_ns, index, bin_ns_, kMaxBins));
    }
    bins_.resize(static_cast<std::size_t>(index) + 1);
  }
  return bins_[static_cast<std::size_t>(index)];
}

void IntervalSeries::add(std::uint64_t t_rel_ns, std::uint64_t bytes, std::uint64_t ops) {
  Bin& b = bin_at(t_rel_ns);
  b.bytes += bytes;
  b.ops += ops;
}

void IntervalSeries::add_latency(std::uint64_t t_rel_ns, std::uint64_t latency_ns) {
  bin_at(t_rel_ns).latency.add(latency_ns);
}

void IntervalSeries::merge(const IntervalSeries& other) {
  if (other.bin_ns_ != bin_ns_) {
    throw std::invalid_argument(fmt::format(
        "interval series: cannot merge bins of {} ns into bins of {} ns", other.bin_ns_, bin_ns_));
  }
  if (other.bins_.size() > bins_.size()) bins_.resize(other.bins_.size());
  for (std::size_t i = 0; i < other.bins_.size(); ++i) {
    const Bin& src = other.bins_[i];
    Bin& dst = bins_[i];
    dst.bytes += src.bytes;
    dst.ops += src.ops;
    dst.latency.merge(src.latency);
  }
}

std::vector<IntervalPoint> IntervalSeries::points(std::uint64_t end_rel_ns) const {
  const std::uint64_t n = end_rel_ns / bin_ns_ + (end_rel_ns % bin_ns_ != 0 ? 1 : 0);
  if (n > kMaxBins) {
    throw std::invalid_argument(
        fmt::format("interval series: end {} ns is {} bins of {} ns, beyond the limit of {} bins",
                    end_rel_ns, n, bin_ns_, kMaxBins));
  }
  std::vector<IntervalPoint> out(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < out.size(); ++i) {
    IntervalPoint& p = out[i];
    p.start_ns = i * bin_ns_;
    p.length_ns = end_rel_ns - p.start_ns < bin_ns_ ? end_rel_ns - p.start_ns : bin_ns_;
    if (i >= bins_.size()) continue;
    const bool last = i + 1 == out.size();
    const Bin* b = &bins_[i];
    Bin folded;
    if (last && bins_.size() > out.size()) {
      // Fold the bins past the phase's end into the last point.
      folded = *b;
      for (std::size_t j = i + 1; j < bins_.size(); ++j) {
        folded.bytes += bins_[j].bytes;
        folded.ops += bins_[j].ops;
        folded.latency.merge(bins_[j].latency);
      }
      b = &folded;
    }
    p.bytes = b->bytes;
    p.ops = b->ops;
    p.latency_count = b->latency.count;
    if (b->latency.count != 0) {
      p.lat_p50_ns = b->latency.percentile(50);
      p.lat_p99_ns = b->latency.percentile(99);
    }
  }
  return out;
}

}  // namespace fabricbench::stats
