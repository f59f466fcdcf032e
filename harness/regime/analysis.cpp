#include "harness/regime/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace fabricbench::regime {

namespace {

// 3 significant digits in the largest unit that keeps the value >= 1: "7.1ms", "850ns", "2.5s".
std::string format_ns(double ns) {
  const char* sign = ns < 0 ? "-" : "";
  double v = std::fabs(ns);
  const char* unit = "ns";
  if (v >= 1e9) {
    v /= 1e9;
    unit = "s";
  } else if (v >= 1e6) {
    v /= 1e6;
    unit = "ms";
  } else if (v >= 1e3) {
    v /= 1e3;
    unit = "us";
  }
  std::string digits = v >= 100 ? fmt::format("{:.0f}", v)
                                : (v >= 10 ? fmt::format("{:.1f}", v) : fmt::format("{:.2f}", v));
  if (digits.find('.') != std::string::npos) {
    while (digits.back() == '0') digits.pop_back();
    if (digits.back() == '.') digits.pop_back();
  }
  return fmt::format("{}{}{}", sign, digits, unit);
}

std::string format_ns(std::uint64_t ns) {
  return format_ns(static_cast<double>(ns));
}

struct WindowSums {
  double offered_ops = 0;
  double completed_ops = 0;
  double completed_bytes = 0;
};

// The bins' counts over [lo, hi), each bin weighted by the fraction of it inside the window.
WindowSums window_sums(const std::vector<Bin>& bins, std::uint64_t lo, std::uint64_t hi) {
  WindowSums s;
  for (const Bin& b : bins) {
    if (b.length_ns == 0) continue;
    const std::uint64_t a = std::max(lo, b.start_ns);
    const std::uint64_t e = std::min(hi, b.start_ns + b.length_ns);
    if (e <= a) continue;
    const double f = static_cast<double>(e - a) / static_cast<double>(b.length_ns);
    s.offered_ops += f * static_cast<double>(b.offered_ops);
    s.completed_ops += f * static_cast<double>(b.completed_ops);
    s.completed_bytes += f * static_cast<double>(b.completed_bytes);
  }
  return s;
}

}  // namespace

ProbeVerdict judge_probe(const PhaseResult& probe, std::uint64_t age_bound_ns) {
  ProbeVerdict v;
  v.refused_ops = probe.refused_ops;
  v.age_p99_ns = probe.queue_age.count() != 0 ? probe.queue_age.percentile(99) : 0;
  const double length_s = static_cast<double>(probe.length_ns) / 1e9;
  if (probe.length_ns != 0) {
    v.offered_ops_per_s = static_cast<double>(probe.offered_ops) / length_s;
    v.completed_ops_per_s = static_cast<double>(probe.completed_ops) / length_s;
  }

  // Least squares of age_p99 (ns) against bin start (s), over the bins with samples that start
  // while arrivals were offered.
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const Bin& b : probe.bins) {
    if (!b.age_p99_ns || (probe.length_ns != 0 && b.start_ns >= probe.length_ns)) continue;
    const double x = static_cast<double>(b.start_ns) / 1e9;
    const double y = static_cast<double>(*b.age_p99_ns);
    n += 1;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const bool judge_trend = n >= 3;
  if (judge_trend) {
    const double den = n * sxx - sx * sx;
    v.age_trend_ns_per_s = den > 0 ? (n * sxy - sx * sy) / den : 0;
  }
  const double rise_ns = v.age_trend_ns_per_s * length_s;
  const double half_bound = static_cast<double>(age_bound_ns) / 2;

  std::vector<std::string> failures;
  if (probe.queue_age.count() == 0) failures.push_back("no queue samples to judge");
  if (v.refused_ops != 0) {
    failures.push_back(
        fmt::format("{} of {} ops refused at the backlog bound", v.refused_ops, probe.offered_ops));
  }
  if (v.age_p99_ns > age_bound_ns) {
    failures.push_back(fmt::format("queue age p99 {} > bound {}", format_ns(v.age_p99_ns),
                                   format_ns(age_bound_ns)));
  }
  const bool rising = judge_trend && rise_ns >= half_bound;
  if (rising) {
    failures.push_back(fmt::format("queue age rising {} over the probe ({}/s) >= half the bound {}",
                                   format_ns(rise_ns), format_ns(v.age_trend_ns_per_s),
                                   format_ns(half_bound)));
  }
  v.sustainable = failures.empty();
  if (v.sustainable) {
    v.reason = fmt::format(
        "queue age p99 {} <= bound {}, {}", format_ns(v.age_p99_ns), format_ns(age_bound_ns),
        judge_trend ? fmt::format("no upward trend ({} over the probe)", format_ns(rise_ns))
                    : std::string("too few bins to judge a trend"));
  } else {
    for (std::size_t i = 0; i < failures.size(); ++i) {
      if (i != 0) v.reason += "; ";
      v.reason += failures[i];
    }
  }
  return v;
}

RateSearch::RateSearch(SearchConfig config) : config_(config) {
  if (!std::isfinite(config_.start_ops_per_s) || config_.start_ops_per_s <= 0) {
    throw std::invalid_argument(fmt::format(
        "rate search: start rate {} must be positive and finite", config_.start_ops_per_s));
  }
  if (!std::isfinite(config_.precision) || config_.precision <= 0) {
    throw std::invalid_argument(
        fmt::format("rate search: precision {} must be positive and finite", config_.precision));
  }
  if (config_.max_probes < 1) {
    throw std::invalid_argument(
        fmt::format("rate search: max_probes {} must be at least 1", config_.max_probes));
  }
  if (config_.age_bound_ns == 0) {
    throw std::invalid_argument("rate search: the queue-age bound must be > 0 ns");
  }
  next_ = config_.start_ops_per_s;
}

std::optional<double> RateSearch::next_rate() const {
  if (probes_.size() >= static_cast<std::size_t>(config_.max_probes)) return std::nullopt;
  return next_;
}

void RateSearch::record(double rate, const ProbeVerdict& verdict) {
  const std::optional<double> expected = next_rate();
  if (!expected) throw std::logic_error("rate search: record() after the search is over");
  if (rate != *expected) {
    throw std::invalid_argument(
        fmt::format("rate search: recorded rate {} is not the rate to probe {}", rate, *expected));
  }
  probes_.push_back(ProbeRecord{rate, verdict});
  if (verdict.sustainable) {
    pending_confirmation_.reset();
    lo_ = lo_ ? std::max(*lo_, rate) : rate;
  } else if (config_.confirm_failures && pending_confirmation_ != rate) {
    pending_confirmation_ = rate;  // probe the same rate once more
    next_ = rate;
    return;
  } else {
    pending_confirmation_.reset();
    hi_ = hi_ ? std::min(*hi_, rate) : rate;
  }
  if (!hi_) {
    next_ = *lo_ * 1.5;
  } else if (!lo_) {
    next_ = *hi_ * 0.5;
  } else if (converged()) {
    next_.reset();
  } else {
    next_ = std::sqrt(*lo_ * *hi_);
  }
}

double RateSearch::sustainable_ops_per_s() const noexcept {
  return lo_.value_or(0.0);
}

std::optional<double> RateSearch::lowest_failed_ops_per_s() const noexcept {
  return hi_;
}

bool RateSearch::converged() const noexcept {
  return lo_ && hi_ && *hi_ / *lo_ - 1 <= config_.precision;
}

std::vector<RateStep> OverloadProfile::steps() const {
  std::vector<RateStep> s;
  if (before_ns != 0) s.push_back({0, baseline_ops_per_s});
  if (during_ns != 0) s.push_back({before_ns, factor * baseline_ops_per_s});
  s.push_back({before_ns + during_ns, baseline_ops_per_s});
  return s;
}

OverloadReport analyze_overload(const PhaseResult& phase, const OverloadProfile& profile,
                                std::size_t hold) {
  if (profile.during_ns == 0) throw std::invalid_argument("overload analysis: during_ns is 0");
  if (hold == 0) throw std::invalid_argument("overload analysis: hold must be at least 1 sample");
  const std::uint64_t overload_start = profile.before_ns;
  const std::uint64_t overload_end = profile.before_ns + profile.during_ns;
  const std::uint64_t end = profile.length_ns();

  OverloadReport r;
  r.peak_depth = phase.peak_depth;
  r.peak_backlog = phase.peak_backlog;
  r.peak_age_ns = phase.queue_age.max();
  r.refused_ops = phase.refused_ops;

  std::vector<std::uint64_t> pre;
  for (const QueueSample& s : phase.samples) {
    if (s.t_ns >= profile.before_ns / 10 && s.t_ns < profile.before_ns) pre.push_back(s.age_ns);
  }
  if (!pre.empty()) {
    std::sort(pre.begin(), pre.end());
    r.pre_age_p99_ns = pre[stats::Histogram::nearest_rank(99, pre.size()) - 1];
  }

  const double during_s = static_cast<double>(profile.during_ns) / 1e9;
  const WindowSums during = window_sums(phase.bins, overload_start, overload_end);
  r.offered_during_ops_per_s = during.offered_ops / during_s;
  r.goodput_during_ops_per_s = during.completed_ops / during_s;
  r.goodput_during_bytes_per_s = during.completed_bytes / during_s;

  for (const Bin& b : phase.bins) {
    if (b.start_ns < overload_start) {
      r.deadline_misses_before += b.deadline_misses;
    } else if (b.start_ns < overload_end) {
      r.deadline_misses_during += b.deadline_misses;
    } else {
      r.deadline_misses_after += b.deadline_misses;
    }
  }

  const std::uint64_t threshold = std::max<std::uint64_t>(r.pre_age_p99_ns, 1);
  std::size_t run = 0;
  std::uint64_t run_start = 0;
  for (const QueueSample& s : phase.samples) {
    if (s.t_ns < overload_end) continue;
    if (s.t_ns >= end) break;
    if (s.age_ns <= threshold) {
      if (run == 0) run_start = s.t_ns;
      if (++run >= hold) {
        r.drain_ns = run_start - overload_end;
        break;
      }
    } else {
      run = 0;
    }
  }

  const std::uint64_t recovery_end =
      r.drain_ns ? overload_end + *r.drain_ns : std::max(end, overload_end);
  if (recovery_end > overload_end) {
    const double s = static_cast<double>(recovery_end - overload_end) / 1e9;
    const WindowSums w = window_sums(phase.bins, overload_end, recovery_end);
    r.recovery_ops_per_s = w.completed_ops / s;
    r.recovery_bytes_per_s = w.completed_bytes / s;
    r.recovery_excess_ops_per_s = r.recovery_ops_per_s - profile.baseline_ops_per_s;
  }
  return r;
}

}  // namespace fabricbench::regime
