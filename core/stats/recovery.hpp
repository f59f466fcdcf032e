#pragma once
// Recovery metrics of a throughput curve around a fault (docs/METHODOLOGY.md "Faults and
// recovery"): the baseline before the fault, how long the fault took to be noticed, the stall,
// and the time until throughput is back at 90% / 99% of the baseline. Pure functions over the
// interval series: no clock, no I/O.
//
// Bins and times. Bin i covers [i*bin_ns, (i+1)*bin_ns); the resolution of every time below is
// one bin, and a time is reported as the start of the bin it lands in (the earliest time the
// bin allows). A bin "at or after" a time T is a bin that overlaps [T, inf): index >=
// floor(T / bin_ns), so a bin that straddles T is included and its start, which lies before T,
// gives a time clamped to 0. The bin that straddles the fault start is therefore not part of the
// baseline (it holds pre-fault bytes mixed with faulted ones) but is the first bin of the fault
// side (its lost bytes count in the deficit; a fault that never hurt gives ttr 0, not a partial
// bin).
//
// Level comparisons are exact for bins under 2^46 bytes (bin * 100 against pct * B, with B a
// whole or half byte count): "under 5% of B" is bin * 100 < 5 * B, "at or above X% of B" is
// bin * 100 >= X * B.
//
// A zero baseline (no bin ends at or before the fault start, or those bins are all empty) gives
// no level to recover to: stall_ns 0, deficit_bytes 0 and every ttr nullopt. The detect times and
// first_byte_after_clear_ns do not depend on B and are still computed.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace fabricbench::stats {

struct RecoveryInput {
  std::vector<std::uint64_t> bin_bytes;  // bytes per bin, bin i covers [i*bin_ns, (i+1)*bin_ns)
  std::uint64_t bin_ns = 0;
  std::uint64_t fault_start_ns = 0;  // first occurrence injected (relative to the series start)
  std::uint64_t fault_clear_ns = 0;  // last occurrence cleared
  int consecutive = 5;               // K bins that must stay at or above the level
  std::optional<std::uint64_t> link_event_ns;   // first link event (e.g. PORT_ERR) seen
  std::optional<std::uint64_t> first_error_ns;  // first error the application saw
};

struct RecoveryMetrics {
  // B: median bytes per bin of the bins that end at or before fault_start_ns (0 when none);
  // bins 0 .. floor(fault_start_ns / bin_ns) - 1 that exist in the series. Median of an even
  // count: the mean of the two middle values.
  double baseline_bytes_per_bin = 0;
  double baseline_gbps = 0;  // B * 8 / bin_ns
  std::size_t baseline_bins = 0;
  // Time from fault start to the link event / the first application error (nullopt: none). An
  // event before the fault start gives 0.
  std::optional<std::uint64_t> detect_link_ns;
  std::optional<std::uint64_t> detect_error_ns;
  // Longest run of consecutive bins under 5% of B, at or after the fault start (the straddling
  // bin included), times bin_ns. Any run counts, including one that reaches the series end.
  std::uint64_t stall_ns = 0;
  // From fault clear to the start of the first bin at or after the clear with any bytes (0 when
  // the bin holding the clear has bytes); nullopt: no bytes after the clear within the series.
  std::optional<std::uint64_t> first_byte_after_clear_ns;
  // ttrX: the start of the first bin b (at or after the fault start) such that bins b .. b+K-1
  // all hold >= X% of B, measured from the fault start and from the clear (negative values, a
  // curve that never dropped, are reported as 0). nullopt: never within the series. All K bins
  // must exist: a run of good bins that reaches the end of the series with fewer than K bins
  // does not count.
  std::optional<std::uint64_t> ttr90_from_start_ns;
  std::optional<std::uint64_t> ttr90_from_clear_ns;
  std::optional<std::uint64_t> ttr99_from_start_ns;
  std::optional<std::uint64_t> ttr99_from_clear_ns;
  // Sum over bins from the fault start (the straddling bin included) until ttr90's bin b
  // (exclusive; the end of the series when ttr90 is nullopt) of max(0, B - bin): the bytes the
  // fault cost.
  double deficit_bytes = 0;
};

// Throws std::invalid_argument when bin_ns is 0, consecutive < 1, or clear < start.
RecoveryMetrics compute_recovery(const RecoveryInput& input);

// Median and 95th percentile (nearest rank) of a set of values; nullopt for an empty set.
// median: the middle value, the mean of the two middle values for an even count. p95: the
// value of rank ceil(0.95 * n) (1-based) in ascending order. Throws std::invalid_argument when a
// value is NaN.
struct Spread {
  double median = 0;
  double p95 = 0;
  std::size_t count = 0;
};
std::optional<Spread> spread(std::vector<double> values);

}  // namespace fabricbench::stats
