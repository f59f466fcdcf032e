#pragma once
// Turning phases into verdicts: is a probed rate sustainable, the search for the highest such
// rate, and what an overload step did (peak backlog, goodput, drain time, recovery capacity).
// Pure functions and a state machine over PhaseResults: no clock, no I/O (unit-testable with a
// simulated queue).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/regime/phase.hpp"
#include "harness/regime/schedule.hpp"

namespace fabricbench::regime {

struct ProbeVerdict {
  bool sustainable = false;
  std::string reason;            // why not (or "queue age p99 1.2ms <= bound 5ms, no upward trend")
  std::uint64_t age_p99_ns = 0;  // over the whole probe
  double age_trend_ns_per_s = 0;  // least-squares slope of the bins' queue-age p99
  std::uint64_t refused_ops = 0;
  double offered_ops_per_s = 0;    // offered_ops / length
  double completed_ops_per_s = 0;  // completed_ops / length
};

// A probe is sustainable when it has queue samples, nothing was refused, its queue-age p99 (the
// queue_age histogram: every sample of the probe, including those taken while the last operations
// drained after length_ns) is at most age_bound_ns, and the queue age shows no upward trend.
// Trend: the least-squares slope of the bins' age_p99_ns against the bins' start times, over the
// bins that have queue samples and start before length_ns (while arrivals were offered); an
// upward trend is slope * length >= age_bound_ns / 2. With fewer than 3 such bins the trend is
// not judged (age_trend_ns_per_s = 0). The reason names every failed condition, separated by
// "; " (e.g. "queue age p99 7.1ms > bound 5ms; queue age rising 3ms over the probe (3ms/s) >=
// half the bound 2.5ms"); durations are printed with 3 significant digits.
ProbeVerdict judge_probe(const PhaseResult& probe, std::uint64_t age_bound_ns);

struct SearchConfig {
  double start_ops_per_s = 0;  // first rate to probe (> 0): e.g. a closed-loop estimate
  double precision = 0.03;     // stop when hi / lo - 1 <= precision
  int max_probes = 12;         // hard bound on probes (confirmations included)
  // The bound the caller passes to judge_probe (RateSearch only checks that it is > 0).
  std::uint64_t age_bound_ns = 5'000'000;
  bool confirm_failures = true;  // a failed probe is repeated once before it counts (noise)
};

struct ProbeRecord {
  double rate_ops_per_s = 0;
  ProbeVerdict verdict;
};

// Finds the highest sustainable rate: from start, grow x1.5 while probes pass or halve while
// they fail until the rate is bracketed, then bisect (geometric mean) until hi / lo - 1 <=
// precision or max_probes is reached. Throws std::invalid_argument for a bad config (start or
// precision not positive and finite, max_probes < 1, age_bound_ns 0).
// With confirm_failures, the first failure at a rate is probed again at the same rate: a second
// failure makes the rate failed, a pass on the retry counts as a pass. A failure whose retry did
// not fit in max_probes is not counted as failed. Every probe, retries included, is in probes().
// Growth only happens while no rate has failed and halving only while none has passed, so once
// bracketed the search stays bracketed (lo < hi): a rate above a failed one is never probed.
class RateSearch {
 public:
  explicit RateSearch(SearchConfig config);
  // The next rate to probe, or nullopt when the search is over.
  std::optional<double> next_rate() const;
  // Record the outcome of probing `rate` (must be the rate next_rate() returned: throws
  // std::invalid_argument for another rate, std::logic_error when the search is over).
  void record(double rate, const ProbeVerdict& verdict);
  // The highest rate that passed (0 when none did).
  double sustainable_ops_per_s() const noexcept;
  // The lowest rate that failed (nullopt when none did).
  std::optional<double> lowest_failed_ops_per_s() const noexcept;
  bool converged() const noexcept;  // bracketed within precision (not just out of probes)
  const std::vector<ProbeRecord>& probes() const noexcept { return probes_; }
  const SearchConfig& config() const noexcept { return config_; }

 private:
  SearchConfig config_;
  std::vector<ProbeRecord> probes_;
  std::optional<double> lo_;  // highest passing
  std::optional<double> hi_;  // lowest (confirmed) failing
  std::optional<double> next_;
  std::optional<double> pending_confirmation_;
};

// baseline for before_ns, factor x baseline for during_ns, baseline for after_ns.
struct OverloadProfile {
  double baseline_ops_per_s = 0;
  double factor = 2;
  std::uint64_t before_ns = 0;
  std::uint64_t during_ns = 0;
  std::uint64_t after_ns = 0;
  // {0, baseline}, {before, factor*baseline}, {before+during, baseline}; a step of zero length
  // (before_ns or during_ns 0) is left out so that the starts stay strictly increasing.
  std::vector<RateStep> steps() const;
  std::uint64_t length_ns() const noexcept { return before_ns + during_ns + after_ns; }
};

struct OverloadReport {
  std::uint64_t pre_age_p99_ns = 0;  // queue-age p99 of the samples before the overload
  std::uint64_t peak_depth = 0;      // most ops queued (backlog + in flight), any time
  std::uint64_t peak_backlog = 0;    // most ops waiting to be posted
  std::uint64_t peak_age_ns = 0;
  double offered_during_ops_per_s = 0;
  double goodput_during_ops_per_s = 0;  // confirmations during the overload / its length
  double goodput_during_bytes_per_s = 0;
  std::uint64_t deadline_misses_before = 0;
  std::uint64_t deadline_misses_during = 0;
  std::uint64_t deadline_misses_after = 0;
  std::uint64_t refused_ops = 0;
  // From the end of the overload until the queue age is back at or below pre_age_p99_ns (and
  // stays there for the next `hold` samples); nullopt when it never returned before the end.
  std::optional<std::uint64_t> drain_ns;
  // Confirmations per second from the end of the overload until drained (how fast the backlog
  // was worked off), and that rate minus the baseline (the spare capacity that drained it).
  double recovery_ops_per_s = 0;
  double recovery_bytes_per_s = 0;
  double recovery_excess_ops_per_s = 0;
};

// Needs phase.samples (sample resolution). hold = consecutive samples that must stay at or below
// the pre-overload p99 for the queue to count as drained. Throws std::invalid_argument for
// during_ns 0 or hold 0. Let B = before_ns, D = during_ns, E = profile.length_ns().
//  pre_age_p99_ns: exact nearest-rank p99 of the samples with B/10 <= t < B (the first 10% of
//    `before` is start-up); 0 when there are none.
//  drain_ns: the first sample with B + D <= t < E from which `hold` consecutive samples (all
//    before E) have age <= max(pre_age_p99_ns, 1) gives drain_ns = t - (B + D). Samples at or
//    after E do not count: once arrivals stop, an empty queue says nothing about recovery under
//    the baseline load. nullopt when there is no such run.
//  Rates over a window [a, b) use the bins' counts weighted by the fraction of each bin that
//    overlaps the window (exact when a and b fall on bin edges), divided by b - a:
//    offered_during / goodput_during over [B, B + D); recovery over [B + D, B + D + drain_ns),
//    or over [B + D, E) when the queue never drained (the throughput while still working off
//    the backlog); recovery_excess = recovery - baseline. The recovery fields stay 0 when the
//    window is empty (drain_ns 0: nothing was left to drain).
//  deadline_misses_before / during / after: the bins' misses, each bin counted in the window that
//    holds its start (after includes the drain past E).
//  peak_depth, peak_backlog, refused_ops: the phase's totals; peak_age_ns: queue_age.max().
OverloadReport analyze_overload(const PhaseResult& phase, const OverloadProfile& profile,
                                std::size_t hold = 10);

}  // namespace fabricbench::regime
