// judge_probe on hand-made phases, RateSearch against a simulated single-server queue (and
// against scripted verdicts), OverloadProfile::steps and analyze_overload on a simulated overload
// step. All simulated time: nothing here depends on the wall clock.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/regime/analysis.hpp"
#include "queue_sim.hpp"

namespace {

using namespace fabricbench::regime;
using fabricbench::regime::testing::QueueSim;

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSec = 1'000'000'000;
constexpr std::uint64_t kBound = 5 * kMs;

// A 1 s probe with bins of 100 ms and a queue sample every ms whose age is age(t).
PhaseResult probe_with_age(const std::function<std::uint64_t(std::uint64_t)>& age,
                           std::uint64_t bin_ns = 100 * kMs) {
  PhaseRecorder rec(bin_ns, 0);
  for (std::uint64_t t = 0; t < kSec; t += kMs) {
    rec.offered(t, 64);
    rec.completed(t, t, t + 10'000, 64);
    rec.sample_queue(t, 0, 1, age(t));
  }
  return rec.finish(kSec);
}

TEST(JudgeProbe, FlatLowAgePasses) {
  const PhaseResult p =
      probe_with_age([](std::uint64_t t) { return 100'000 + (t / kMs) % 7 * 1000; });
  const ProbeVerdict v = judge_probe(p, kBound);
  EXPECT_TRUE(v.sustainable) << v.reason;
  EXPECT_EQ(v.reason.rfind("queue age p99 106us <= bound 5ms, no upward trend", 0), 0u) << v.reason;
  EXPECT_EQ(v.refused_ops, 0u);
  EXPECT_NEAR(static_cast<double>(v.age_p99_ns), 106'000, 106'000 / 256.0);
  EXPECT_LT(std::fabs(v.age_trend_ns_per_s), 10'000);
  EXPECT_DOUBLE_EQ(v.offered_ops_per_s, 1000);
  EXPECT_DOUBLE_EQ(v.completed_ops_per_s, 1000);
}

TEST(JudgeProbe, AgeOverBoundFails) {
  const PhaseResult p = probe_with_age([](std::uint64_t) { return 7'100'000; });
  const ProbeVerdict v = judge_probe(p, kBound);
  EXPECT_FALSE(v.sustainable);
  EXPECT_EQ(v.reason, "queue age p99 7.1ms > bound 5ms");
  EXPECT_EQ(v.age_p99_ns, 7'100'000u);
}

TEST(JudgeProbe, GrowingAgeUnderBoundFailsOnTrend) {
  // 0 -> 4 ms over the probe: p99 below the 5 ms bound, but it rises by 4 ms >= 2.5 ms.
  const PhaseResult p = probe_with_age([](std::uint64_t t) { return t * 4 / 1000; });
  const ProbeVerdict v = judge_probe(p, kBound);
  EXPECT_FALSE(v.sustainable);
  EXPECT_LT(v.age_p99_ns, kBound);
  EXPECT_NEAR(v.age_trend_ns_per_s, 4e6, 4e6 * 0.01);
  // "queue age rising 3.99ms over the probe (3.99ms/s) >= half the bound 2.5ms" (the per-bin
  // p99s carry the histogram's bucketing error, so the digits may vary slightly).
  EXPECT_EQ(v.reason.find("queue age rising "), 0u) << v.reason;
  EXPECT_NE(v.reason.find("ms over the probe ("), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("ms/s) >= half the bound 2.5ms"), std::string::npos) << v.reason;
  EXPECT_EQ(v.reason.find("> bound"), std::string::npos) << v.reason;

  // A slower rise (2 ms over the probe) stays below half the bound and passes.
  const PhaseResult slow = probe_with_age([](std::uint64_t t) { return t * 2 / 1000; });
  EXPECT_TRUE(judge_probe(slow, kBound).sustainable) << judge_probe(slow, kBound).reason;
}

TEST(JudgeProbe, TrendNeedsThreeBins) {
  // Bins of 500 ms: only two, so the rise is not judged; the bound still is.
  const PhaseResult p = probe_with_age([](std::uint64_t t) { return t * 4 / 1000; }, 500 * kMs);
  const ProbeVerdict v = judge_probe(p, kBound);
  EXPECT_TRUE(v.sustainable) << v.reason;
  EXPECT_NE(v.reason.find("too few bins to judge a trend"), std::string::npos) << v.reason;
  EXPECT_EQ(v.age_trend_ns_per_s, 0);
}

TEST(JudgeProbe, RefusalsFail) {
  PhaseRecorder rec(100 * kMs, 0);
  for (std::uint64_t t = 0; t < kSec; t += kMs) {
    rec.offered(t, 64);
    rec.completed(t, t, t + 10'000, 64);
    rec.sample_queue(t, 0, 1, 10'000);
  }
  rec.offered(500 * kMs, 64);
  rec.refused(500 * kMs, 64);
  const ProbeVerdict v = judge_probe(rec.finish(kSec), kBound);
  EXPECT_FALSE(v.sustainable);
  EXPECT_EQ(v.refused_ops, 1u);
  EXPECT_EQ(v.reason, "1 of 1001 ops refused at the backlog bound");
}

TEST(JudgeProbe, SeveralReasonsAndNoSamples) {
  PhaseRecorder rec(100 * kMs, 0);
  for (std::uint64_t t = 0; t < kSec; t += kMs) rec.sample_queue(t, 0, 1, 8 * kMs + t * 5 / 1000);
  rec.offered(0, 1);
  rec.refused(0, 1);
  const ProbeVerdict v = judge_probe(rec.finish(kSec), kBound);
  EXPECT_FALSE(v.sustainable);
  // "1 of 1 ops refused at the backlog bound; queue age p99 12.9ms > bound 5ms; queue age rising
  // 5ms over the probe (5ms/s) >= half the bound 2.5ms"
  EXPECT_EQ(v.reason.find("1 of 1 ops refused at the backlog bound; queue age p99 1"), 0u)
      << v.reason;
  EXPECT_NE(v.reason.find("ms > bound 5ms; queue age rising "), std::string::npos) << v.reason;

  const ProbeVerdict none = judge_probe(PhaseRecorder(kMs, 0).finish(kSec), kBound);
  EXPECT_FALSE(none.sustainable);
  EXPECT_EQ(none.reason, "no queue samples to judge");
}

// Probes a rate on the simulated queue and judges it.
struct SimProbe {
  QueueSim sim;
  ProbeVerdict operator()(double rate) {
    sim.profile = {{0, rate}};
    ++sim.seed;  // every probe sees fresh randomness (as a real repeated probe would)
    return judge_probe(sim.run(), kBound);
  }
};

RateSearch run_search(SearchConfig config, const std::function<ProbeVerdict(double)>& probe) {
  RateSearch search(config);
  while (const std::optional<double> rate = search.next_rate()) search.record(*rate, probe(*rate));
  return search;
}

constexpr double kC = 10'000;  // simulated capacity, ops/s

TEST(RateSearch, FindsCapacityOfDeterministicQueue) {
  // Constant arrivals, deterministic service: below C the age stays under one service time; above
  // C it grows by (1 - C / r) per second, so a 0.5 s probe fails once that rise reaches half the
  // bound (r >= C / 0.995). The search must end bracketed within 3% around that threshold.
  SimProbe probe{QueueSim{}};
  SearchConfig config;
  config.start_ops_per_s = 0.6 * kC;
  const RateSearch s = run_search(config, probe);
  EXPECT_TRUE(s.converged());
  EXPECT_GE(s.sustainable_ops_per_s(), 0.9 * kC);
  EXPECT_LE(s.sustainable_ops_per_s(), kC / 0.995);
  ASSERT_TRUE(s.lowest_failed_ops_per_s().has_value());
  EXPECT_GT(*s.lowest_failed_ops_per_s(), kC);
  EXPECT_LE(*s.lowest_failed_ops_per_s() / s.sustainable_ops_per_s() - 1, 0.03);
  EXPECT_LE(s.probes().size(), 12u);
  for (const ProbeRecord& p : s.probes()) {
    EXPECT_EQ(p.verdict.sustainable, p.rate_ops_per_s < kC)
        << p.rate_ops_per_s << ": " << p.verdict.reason;
  }
}

TEST(RateSearch, FindsCapacityOfMM1Queue) {
  // Poisson arrivals, exponential service (M/M/1): the 5 ms p99 bound is 50 mean service
  // times, which the waiting time's p99 (about 4.6 / (C - r)) reaches near 0.99 C. Just above C
  // a 0.5 s probe is a noisy random walk (at 1.02 C the expected backlog growth, 100 ops, is
  // about one standard deviation), so a probe up to a few percent above C can pass: across
  // seeds this search ends between 0.92 C and 1.02 C.
  QueueSim sim;
  sim.arrival = Arrival::poisson;
  sim.exponential_service = true;
  SimProbe probe{sim};
  SearchConfig config;
  config.start_ops_per_s = 0.5 * kC;
  config.max_probes = 16;
  const RateSearch s = run_search(config, probe);
  EXPECT_TRUE(s.converged());
  EXPECT_GE(s.sustainable_ops_per_s(), 0.8 * kC);
  EXPECT_LE(s.sustainable_ops_per_s(), 1.05 * kC);
}

TEST(RateSearch, ConvergesFromFarAboveAndFarBelow) {
  for (const double start : {32 * kC, kC / 32}) {
    SCOPED_TRACE(start);
    SimProbe probe{QueueSim{}};
    SearchConfig config;
    config.start_ops_per_s = start;
    config.max_probes = 40;
    const RateSearch s = run_search(config, probe);
    EXPECT_TRUE(s.converged());
    EXPECT_GE(s.sustainable_ops_per_s(), 0.9 * kC);
    EXPECT_LE(s.sustainable_ops_per_s(), kC / 0.995);
  }
}

TEST(RateSearch, RespectsMaxProbes) {
  SimProbe probe{QueueSim{}};
  SearchConfig config;
  config.start_ops_per_s = kC / 32;
  config.max_probes = 3;
  const RateSearch s = run_search(config, probe);
  EXPECT_EQ(s.probes().size(), 3u);
  EXPECT_FALSE(s.next_rate().has_value());
  EXPECT_FALSE(s.converged());
  EXPECT_DOUBLE_EQ(s.sustainable_ops_per_s(), kC / 32 * 1.5 * 1.5);
  EXPECT_THROW(RateSearch(s).record(kC, ProbeVerdict{}), std::logic_error);
}

TEST(RateSearch, ConfirmsAFailureOnce) {
  SimProbe probe{QueueSim{}};
  SearchConfig config;
  config.start_ops_per_s = 2 * kC;
  config.max_probes = 4;
  const RateSearch s = run_search(config, probe);
  ASSERT_EQ(s.probes().size(), 4u);
  EXPECT_EQ(s.probes()[0].rate_ops_per_s, 2 * kC);
  EXPECT_EQ(s.probes()[1].rate_ops_per_s, 2 * kC);  // the repeat
  EXPECT_FALSE(s.probes()[1].verdict.sustainable);
  EXPECT_EQ(s.probes()[2].rate_ops_per_s, kC);     // halved only after two failures
  EXPECT_TRUE(s.probes()[2].verdict.sustainable);  // exactly C: arrivals pace the server
  EXPECT_DOUBLE_EQ(s.probes()[3].rate_ops_per_s, std::sqrt(kC * 2 * kC));
  EXPECT_FALSE(s.probes()[3].verdict.sustainable);  // its retry did not fit in max_probes
  EXPECT_EQ(s.lowest_failed_ops_per_s(), 2 * kC);   // so only 2C counts as failed
  EXPECT_EQ(s.sustainable_ops_per_s(), kC);

  config.confirm_failures = false;
  const RateSearch once = run_search(config, probe);
  EXPECT_EQ(once.probes()[1].rate_ops_per_s, kC);
  EXPECT_DOUBLE_EQ(once.probes()[2].rate_ops_per_s, std::sqrt(kC * 2 * kC));
  EXPECT_FALSE(once.probes()[2].verdict.sustainable);  // counts at once: bisect again
  EXPECT_DOUBLE_EQ(once.probes()[3].rate_ops_per_s, std::sqrt(kC * std::sqrt(kC * 2 * kC)));
}

ProbeVerdict verdict(bool pass) {
  ProbeVerdict v;
  v.sustainable = pass;
  v.reason = pass ? "ok" : "scripted failure";
  return v;
}

TEST(RateSearch, PassOnRetryCountsAsPass) {
  SearchConfig config;
  config.start_ops_per_s = 1000;
  RateSearch s(config);
  s.record(1000, verdict(false));
  ASSERT_EQ(s.next_rate(), 1000.0);  // retry
  s.record(1000, verdict(true));     // noise: the retry passes
  EXPECT_EQ(s.sustainable_ops_per_s(), 1000.0);
  EXPECT_FALSE(s.lowest_failed_ops_per_s().has_value());
  EXPECT_EQ(s.next_rate(), 1500.0);
  EXPECT_EQ(s.probes().size(), 2u);
  EXPECT_THROW(s.record(1234, verdict(true)), std::invalid_argument);  // not the rate to probe
}

TEST(RateSearch, BisectsGeometrically) {
  SearchConfig config;
  config.start_ops_per_s = 1000;
  config.confirm_failures = false;
  config.precision = 0.01;
  RateSearch s(config);
  s.record(1000, verdict(true));
  s.record(1500, verdict(false));
  EXPECT_DOUBLE_EQ(*s.next_rate(), std::sqrt(1000.0 * 1500.0));
  EXPECT_FALSE(s.converged());
}

TEST(RateSearch, NothingPassesReportsZero) {
  SearchConfig config;
  config.start_ops_per_s = 1e6;
  config.max_probes = 10;
  const RateSearch s = run_search(config, [](double) { return verdict(false); });
  EXPECT_EQ(s.sustainable_ops_per_s(), 0.0);
  EXPECT_EQ(s.probes().size(), 10u);
  EXPECT_FALSE(s.converged());
  ASSERT_TRUE(s.lowest_failed_ops_per_s().has_value());
  EXPECT_DOUBLE_EQ(*s.lowest_failed_ops_per_s(), 1e6 / 16);  // 5 confirmed failures
}

TEST(RateSearch, InvalidConfigThrows) {
  const double nan = std::nan("");
  for (const SearchConfig& bad :
       {SearchConfig{0, 0.03, 12, kBound, true}, SearchConfig{-5, 0.03, 12, kBound, true},
        SearchConfig{nan, 0.03, 12, kBound, true}, SearchConfig{100, 0, 12, kBound, true},
        SearchConfig{100, -1, 12, kBound, true}, SearchConfig{100, 0.03, 0, kBound, true},
        SearchConfig{100, 0.03, 12, 0, true}}) {
    EXPECT_THROW(RateSearch{bad}, std::invalid_argument);
  }
}

TEST(OverloadProfile, Steps) {
  OverloadProfile p{1000, 3, kSec, kSec / 2, 3 * kSec};
  const std::vector<RateStep> s = p.steps();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].start_ns, 0u);
  EXPECT_EQ(s[0].ops_per_s, 1000);
  EXPECT_EQ(s[1].start_ns, kSec);
  EXPECT_EQ(s[1].ops_per_s, 3000);
  EXPECT_EQ(s[2].start_ns, kSec + kSec / 2);
  EXPECT_EQ(s[2].ops_per_s, 1000);
  EXPECT_EQ(p.length_ns(), 4 * kSec + kSec / 2);

  p.before_ns = 0;  // no zero-length step
  const std::vector<RateStep> t = p.steps();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].start_ns, 0u);
  EXPECT_EQ(t[0].ops_per_s, 3000);
  EXPECT_EQ(t[1].start_ns, kSec / 2);
  EXPECT_NO_THROW(ArrivalSchedule(Arrival::poisson, t, 1));
}

constexpr double kOverloadC = 20'000;

struct Overload {
  OverloadProfile profile;
  PhaseResult phase;
};

Overload simulate_overload(Arrival arrival, bool exponential, double baseline,
                           std::uint64_t after_ns) {
  Overload o;
  o.profile = OverloadProfile{baseline, 3, kSec, kSec / 2, after_ns};
  QueueSim sim;
  sim.capacity_ops_per_s = kOverloadC;
  sim.exponential_service = exponential;
  sim.arrival = arrival;
  sim.profile = o.profile.steps();
  sim.length_ns = o.profile.length_ns();
  sim.bin_ns = 10 * kMs;
  sim.deadline_ns = kMs;
  sim.seed = 11;
  o.phase = sim.run();
  return o;
}

void check_overload_step(Arrival arrival, bool exponential, double tolerance) {
  const double c = kOverloadC;
  const Overload o = simulate_overload(arrival, exponential, 0.5 * c, 3 * kSec);
  const OverloadReport r = analyze_overload(o.phase, o.profile);
  const PhaseResult& p = o.phase;

  // The backlog grows through the overload window [1 s, 1.5 s).
  const auto backlog_at = [&](std::uint64_t t) { return p.bins[t / (10 * kMs)].backlog_max; };
  EXPECT_LT(backlog_at(1100 * kMs), backlog_at(1250 * kMs));
  EXPECT_LT(backlog_at(1250 * kMs), backlog_at(1490 * kMs));
  EXPECT_LT(backlog_at(900 * kMs), 10u);

  const double peak_backlog = (3 * 0.5 * c - c) * 0.5;  // 5000 ops
  const double drain_s = peak_backlog / (c - 0.5 * c);  // 0.5 s
  EXPECT_NEAR(static_cast<double>(r.peak_backlog), peak_backlog, tolerance * peak_backlog);
  EXPECT_GE(r.peak_depth, r.peak_backlog);
  ASSERT_TRUE(r.drain_ns.has_value());
  EXPECT_NEAR(static_cast<double>(*r.drain_ns) / 1e9, drain_s, tolerance * drain_s);
  EXPECT_NEAR(r.offered_during_ops_per_s, 1.5 * c, tolerance * 1.5 * c);
  EXPECT_NEAR(r.goodput_during_ops_per_s, c, tolerance * c);
  EXPECT_NEAR(r.goodput_during_bytes_per_s, 64 * r.goodput_during_ops_per_s, 1e-6 * c);
  EXPECT_NEAR(r.recovery_ops_per_s, c, tolerance * c);
  EXPECT_NEAR(r.recovery_excess_ops_per_s, 0.5 * c, 2 * tolerance * c);
  EXPECT_NEAR(r.recovery_bytes_per_s, 64 * r.recovery_ops_per_s, 1e-6 * c);
  // Peak age: the last overload arrival waits for the whole backlog, about 0.25 s.
  EXPECT_NEAR(static_cast<double>(r.peak_age_ns) / 1e9, peak_backlog / c, tolerance * 0.25);
  EXPECT_LT(r.pre_age_p99_ns, kMs);
  EXPECT_GT(r.deadline_misses_during, 0u);
  EXPECT_GT(r.deadline_misses_after, 0u);
  EXPECT_EQ(r.refused_ops, 0u);
}

TEST(AnalyzeOverload, ConstantArrivalsDeterministicService) {
  check_overload_step(Arrival::constant, false, 0.02);
  const Overload o = simulate_overload(Arrival::constant, false, 0.5 * kOverloadC, 3 * kSec);
  const OverloadReport r = analyze_overload(o.phase, o.profile);
  EXPECT_EQ(r.deadline_misses_before, 0u);
  EXPECT_LE(r.pre_age_p99_ns, 50'000u);  // at most one service time
}

TEST(AnalyzeOverload, PoissonArrivalsExponentialService) {
  // Random: the drain time's standard deviation is about 4% (backlog noise at the overload's end
  // plus the random walk of the drain); across seeds every quantity lands within 7%.
  check_overload_step(Arrival::poisson, true, 0.1);
}

TEST(AnalyzeOverload, QueueThatNeverDrainsReportsNullopt) {
  // 0.2 s after the overload is too short to work off a 0.5 s backlog.
  const Overload short_after =
      simulate_overload(Arrival::constant, false, 0.5 * kOverloadC, 200 * kMs);
  const OverloadReport r = analyze_overload(short_after.phase, short_after.profile);
  EXPECT_FALSE(r.drain_ns.has_value());
  // Recovery then covers the rest of the phase: the server was saturated all along.
  EXPECT_NEAR(r.recovery_ops_per_s, kOverloadC, 0.02 * kOverloadC);

  // A baseline above capacity never drains either.
  const Overload over = simulate_overload(Arrival::constant, false, 1.1 * kOverloadC, kSec);
  EXPECT_FALSE(analyze_overload(over.phase, over.profile).drain_ns.has_value());
}

TEST(AnalyzeOverload, InvalidArguments) {
  const Overload o = simulate_overload(Arrival::constant, false, 0.5 * kOverloadC, kSec);
  EXPECT_THROW(analyze_overload(o.phase, o.profile, 0), std::invalid_argument);
  OverloadProfile no_overload = o.profile;
  no_overload.during_ns = 0;
  EXPECT_THROW(analyze_overload(o.phase, no_overload), std::invalid_argument);
}

}  // namespace
