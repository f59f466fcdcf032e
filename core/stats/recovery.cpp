#include "core/stats/recovery.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace fabricbench::stats {

namespace {

// Median of a non-empty sorted range: the middle value, the mean of the two middle values.
template <typename T>
double sorted_median(const std::vector<T>& sorted) {
  const std::size_t n = sorted.size();
  const double hi = static_cast<double>(sorted[n / 2]);
  if (n % 2 == 1) return hi;
  return (static_cast<double>(sorted[n / 2 - 1]) + hi) / 2.0;
}

// Time from `from` to `to`, 0 when `to` lies before `from`.
std::uint64_t clamped_since(std::uint64_t to, std::uint64_t from) {
  return to >= from ? to - from : 0;
}

// bin * 100 >= pct * B, exact for bins below 2^46 bytes (B is a whole or half byte count).
bool at_or_above(std::uint64_t bin, double pct, double baseline) {
  return static_cast<double>(bin) * 100.0 >= pct * baseline;
}

// First bin b >= first with bins b .. b+k-1 all at or above pct% of B; nullopt when none.
std::optional<std::size_t> first_sustained(const std::vector<std::uint64_t>& bins,
                                           std::size_t first, std::size_t k, double pct,
                                           double baseline) {
  std::size_t run = 0;
  for (std::size_t i = first; i < bins.size(); ++i) {
    run = at_or_above(bins[i], pct, baseline) ? run + 1 : 0;
    if (run == k) return i + 1 - k;
  }
  return std::nullopt;
}

}  // namespace

RecoveryMetrics compute_recovery(const RecoveryInput& input) {
  if (input.bin_ns == 0) throw std::invalid_argument("compute_recovery: bin_ns is 0");
  if (input.consecutive < 1) throw std::invalid_argument("compute_recovery: consecutive < 1");
  if (input.fault_clear_ns < input.fault_start_ns) {
    throw std::invalid_argument("compute_recovery: fault_clear_ns before fault_start_ns");
  }
  const std::vector<std::uint64_t>& bins = input.bin_bytes;
  const std::uint64_t bin_ns = input.bin_ns;
  const std::size_t n = bins.size();
  const auto k = static_cast<std::size_t>(input.consecutive);
  // The bin holding the fault start / the clear (the first bin that overlaps [T, inf)).
  const std::size_t start_bin =
      static_cast<std::size_t>(std::min<std::uint64_t>(input.fault_start_ns / bin_ns, n));
  const std::size_t clear_bin =
      static_cast<std::size_t>(std::min<std::uint64_t>(input.fault_clear_ns / bin_ns, n));

  RecoveryMetrics m;

  // Baseline: the bins that end at or before the fault start, i.e. indices < start_bin.
  m.baseline_bins = start_bin;
  if (start_bin > 0) {
    std::vector<std::uint64_t> before(bins.begin(), bins.begin() + start_bin);
    std::sort(before.begin(), before.end());
    m.baseline_bytes_per_bin = sorted_median(before);
  }
  const double b = m.baseline_bytes_per_bin;
  m.baseline_gbps = b * 8.0 / static_cast<double>(bin_ns);

  if (input.link_event_ns) {
    m.detect_link_ns = clamped_since(*input.link_event_ns, input.fault_start_ns);
  }
  if (input.first_error_ns) {
    m.detect_error_ns = clamped_since(*input.first_error_ns, input.fault_start_ns);
  }

  for (std::size_t i = clear_bin; i < n; ++i) {
    if (bins[i] > 0) {
      m.first_byte_after_clear_ns = clamped_since(i * bin_ns, input.fault_clear_ns);
      break;
    }
  }

  if (b <= 0) return m;  // no level to recover to (documented in the header)

  std::size_t run = 0;
  std::size_t longest = 0;
  for (std::size_t i = start_bin; i < n; ++i) {
    run = static_cast<double>(bins[i]) * 100.0 < 5.0 * b ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  m.stall_ns = static_cast<std::uint64_t>(longest) * bin_ns;

  const auto r90 = first_sustained(bins, start_bin, k, 90.0, b);
  const auto r99 = first_sustained(bins, start_bin, k, 99.0, b);
  if (r90) {
    m.ttr90_from_start_ns = clamped_since(*r90 * bin_ns, input.fault_start_ns);
    m.ttr90_from_clear_ns = clamped_since(*r90 * bin_ns, input.fault_clear_ns);
  }
  if (r99) {
    m.ttr99_from_start_ns = clamped_since(*r99 * bin_ns, input.fault_start_ns);
    m.ttr99_from_clear_ns = clamped_since(*r99 * bin_ns, input.fault_clear_ns);
  }

  const std::size_t deficit_end = r90 ? *r90 : n;
  for (std::size_t i = start_bin; i < deficit_end; ++i) {
    m.deficit_bytes += std::max(0.0, b - static_cast<double>(bins[i]));
  }
  return m;
}

std::optional<Spread> spread(std::vector<double> values) {
  if (values.empty()) return std::nullopt;
  for (const double v : values) {
    if (std::isnan(v)) throw std::invalid_argument("spread: NaN value");
  }
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  const std::size_t rank = (95 * n + 99) / 100;  // ceil(0.95 * n), 1-based, >= 1 for n >= 1
  Spread s;
  s.median = sorted_median(values);
  s.p95 = values[rank - 1];
  s.count = n;
  return s;
}

}  // namespace fabricbench::stats
