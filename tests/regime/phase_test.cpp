// PhaseRecorder: latency split, deadline misses, refusals, binning by intended / confirmed /
// sample time, per-bin queue statistics, finish() coverage, kept samples; merge().
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "harness/regime/phase.hpp"

namespace {

using namespace fabricbench::regime;

// Within the Histogram's relative error bound (1/256).
void expect_bucketed(std::optional<std::uint64_t> got, std::uint64_t want) {
  ASSERT_TRUE(got.has_value());
  EXPECT_LE(std::fabs(static_cast<double>(*got) - static_cast<double>(want)),
            static_cast<double>(want) / 256 + 0.5)
      << *got << " vs " << want;
}

// A small phase, bins of 1000 ns, deadline 500 ns.
PhaseRecorder small_phase() {
  PhaseRecorder rec(1000, 500);
  rec.offered(100, 10);
  rec.offered(200, 20);
  rec.offered(1500, 30);
  rec.offered(1500, 30);
  rec.refused(1500, 30);
  rec.offered(2100, 8);
  // intended, posted, confirmed, bytes
  rec.completed(100, 150, 700, 10);     // latency 600 (miss), queueing 50, service 550: bin 0
  rec.completed(200, 1200, 1300, 20);   // latency 1100 (miss), 1000, 100: bin 1
  rec.completed(1500, 1500, 1900, 30);  // latency 400, 0, 400: bin 1
  rec.completed(2100, 2200, 3500, 8);   // latency 1400 (miss), 100, 1300: bin 3 (confirmed)
  // t, backlog, in flight, oldest age
  rec.sample_queue(0, 0, 0, 0);
  rec.sample_queue(500, 2, 1, 300);
  rec.sample_queue(1000, 1, 1, 800);
  rec.sample_queue(1500, 0, 1, 200);
  rec.sample_queue(2500, 5, 2, 1000);
  rec.sample_queue(2600, 3, 1, 100);
  rec.sample_queue(4000, 0, 0, 0);  // after the end: counted in the last bin
  return rec;
}

TEST(PhaseRecorder, TotalsAndLatencySplit) {
  const PhaseResult r = small_phase().finish(3000);
  EXPECT_EQ(r.length_ns, 3000u);
  EXPECT_EQ(r.end_ns, 3500u);  // the last confirmation
  EXPECT_EQ(r.offered_ops, 5u);
  EXPECT_EQ(r.offered_bytes, 98u);
  EXPECT_EQ(r.refused_ops, 1u);
  EXPECT_EQ(r.refused_bytes, 30u);
  EXPECT_EQ(r.completed_ops, 4u);
  EXPECT_EQ(r.completed_bytes, 68u);
  EXPECT_EQ(r.deadline_misses, 3u);
  EXPECT_EQ(r.latency.count(), 4u);
  EXPECT_EQ(r.latency.min(), 400u);
  EXPECT_EQ(r.latency.max(), 1400u);
  EXPECT_DOUBLE_EQ(r.latency.mean(), (600.0 + 1100 + 400 + 1400) / 4);
  EXPECT_EQ(r.queueing.min(), 0u);
  EXPECT_EQ(r.queueing.max(), 1000u);
  EXPECT_DOUBLE_EQ(r.queueing.mean(), (50.0 + 1000 + 0 + 100) / 4);
  EXPECT_EQ(r.service.min(), 100u);
  EXPECT_EQ(r.service.max(), 1300u);
  EXPECT_DOUBLE_EQ(r.service.mean(), (550.0 + 100 + 400 + 1300) / 4);
  EXPECT_EQ(r.queue_age.count(), 7u);
  EXPECT_EQ(r.queue_age.max(), 1000u);
  EXPECT_EQ(r.queue_depth.max(), 7u);
  EXPECT_EQ(r.peak_depth, 7u);
  EXPECT_EQ(r.peak_backlog, 5u);
  ASSERT_EQ(r.samples.size(), 7u);
  EXPECT_EQ(r.samples[1].t_ns, 500u);
  EXPECT_EQ(r.samples[1].backlog, 2u);
  EXPECT_EQ(r.samples[1].in_flight, 1u);
  EXPECT_EQ(r.samples[1].age_ns, 300u);
  EXPECT_EQ(r.samples[6].t_ns, 4000u);
}

TEST(PhaseRecorder, BinsPlacedAndCoverThePhase) {
  const PhaseResult r = small_phase().finish(3000);
  ASSERT_EQ(r.bins.size(), 4u);  // [0, 3500) in bins of 1000
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(r.bins[i].start_ns, i * 1000);
  EXPECT_EQ(r.bins[0].length_ns, 1000u);
  EXPECT_EQ(r.bins[3].length_ns, 500u);

  const Bin& b0 = r.bins[0];
  EXPECT_EQ(b0.offered_ops, 2u);
  EXPECT_EQ(b0.offered_bytes, 30u);
  EXPECT_EQ(b0.refused_ops, 0u);
  EXPECT_EQ(b0.completed_ops, 1u);
  EXPECT_EQ(b0.completed_bytes, 10u);
  EXPECT_EQ(b0.deadline_misses, 1u);
  EXPECT_EQ(b0.lat_p50_ns, 600u);  // one value: clamped to the exact min/max
  EXPECT_EQ(b0.lat_p99_ns, 600u);
  EXPECT_EQ(b0.queue_samples, 2u);
  EXPECT_EQ(b0.depth_max, 3u);
  EXPECT_DOUBLE_EQ(b0.depth_mean, 1.5);
  EXPECT_EQ(b0.backlog_max, 2u);
  EXPECT_EQ(b0.age_p99_ns, 300u);
  EXPECT_EQ(b0.age_max_ns, 300u);

  const Bin& b1 = r.bins[1];
  EXPECT_EQ(b1.offered_ops, 2u);  // by intended time, refused included
  EXPECT_EQ(b1.refused_ops, 1u);
  EXPECT_EQ(b1.completed_ops, 2u);  // by confirmed time
  EXPECT_EQ(b1.completed_bytes, 50u);
  EXPECT_EQ(b1.deadline_misses, 1u);
  expect_bucketed(b1.lat_p99_ns, 1100);
  expect_bucketed(b1.lat_p50_ns, 400);
  EXPECT_EQ(b1.age_max_ns, 800u);
  EXPECT_DOUBLE_EQ(b1.depth_mean, 1.5);

  const Bin& b2 = r.bins[2];
  EXPECT_EQ(b2.offered_ops, 1u);
  EXPECT_EQ(b2.completed_ops, 0u);
  EXPECT_FALSE(b2.lat_p50_ns.has_value());
  EXPECT_FALSE(b2.lat_p99_ns.has_value());
  EXPECT_EQ(b2.queue_samples, 2u);
  EXPECT_EQ(b2.depth_max, 7u);
  EXPECT_DOUBLE_EQ(b2.depth_mean, 5.5);
  EXPECT_EQ(b2.backlog_max, 5u);
  expect_bucketed(b2.age_p99_ns, 1000);
  EXPECT_EQ(b2.age_max_ns, 1000u);

  const Bin& b3 = r.bins[3];
  EXPECT_EQ(b3.completed_ops, 1u);
  EXPECT_EQ(b3.deadline_misses, 1u);
  EXPECT_EQ(b3.queue_samples, 1u);  // the sample at 4000, folded into the last bin
  EXPECT_EQ(b3.age_max_ns, 0u);

  std::uint64_t offered = 0, completed = 0, samples = 0, misses = 0;
  for (const Bin& b : r.bins) {
    offered += b.offered_ops;
    completed += b.completed_ops;
    samples += b.queue_samples;
    misses += b.deadline_misses;
  }
  EXPECT_EQ(offered, r.offered_ops);
  EXPECT_EQ(completed, r.completed_ops);
  EXPECT_EQ(samples, r.queue_age.count());
  EXPECT_EQ(misses, r.deadline_misses);
}

TEST(PhaseRecorder, LengthBeyondLastConfirmationAndEmptyBins) {
  PhaseRecorder rec(100, 0);  // no deadline
  rec.offered(10, 1);
  rec.completed(10, 10, 1'000'000, 1);  // latency 1 ms, no deadline: no miss
  const PhaseResult r = rec.finish(2'000'000);
  EXPECT_EQ(r.end_ns, 2'000'000u);  // the planned length is later than the last confirmation
  EXPECT_EQ(r.bins.size(), 20'000u);
  EXPECT_EQ(r.deadline_misses, 0u);
  EXPECT_EQ(r.bins[10'000].completed_ops, 1u);
  EXPECT_EQ(r.bins[5].completed_ops, 0u);
  EXPECT_FALSE(r.bins[5].age_p99_ns.has_value());
  EXPECT_FALSE(r.bins[5].age_max_ns.has_value());
  EXPECT_EQ(PhaseRecorder(100, 0).finish(0).bins.size(), 0u);
}

TEST(PhaseRecorder, QueueAgePercentilesPerBin) {
  PhaseRecorder rec(1'000'000, 0);
  // Bin 0: ages 1..100 us; bin 1: 5 ms constant.
  for (std::uint64_t i = 1; i <= 100; ++i) rec.sample_queue(i * 5000, 1, 1, i * 1000);
  for (std::uint64_t i = 0; i < 100; ++i) rec.sample_queue(1'000'000 + i * 5000, 3, 1, 5'000'000);
  const PhaseResult r = rec.finish(2'000'000);
  ASSERT_EQ(r.bins.size(), 2u);
  expect_bucketed(r.bins[0].age_p99_ns, 99'000);
  EXPECT_EQ(r.bins[0].age_max_ns, 100'000u);
  EXPECT_EQ(r.bins[1].age_p99_ns, 5'000'000u);
  EXPECT_EQ(r.bins[1].age_max_ns, 5'000'000u);
  EXPECT_EQ(r.bins[1].backlog_max, 3u);
  EXPECT_DOUBLE_EQ(r.bins[1].depth_mean, 4.0);
}

TEST(PhaseRecorder, SamplesAreCappedButStillCounted) {
  PhaseRecorder rec(1'000'000'000, 0);
  const std::size_t n = PhaseRecorder::kMaxSamples + 10;
  for (std::size_t i = 0; i < n; ++i) rec.sample_queue(i * 100, i % 4, 1, i % 1000);
  const PhaseResult r = rec.finish(n * 100);
  EXPECT_EQ(r.samples.size(), PhaseRecorder::kMaxSamples);
  EXPECT_EQ(r.queue_age.count(), n);
  std::uint64_t samples = 0;
  for (const Bin& b : r.bins) samples += b.queue_samples;
  EXPECT_EQ(samples, n);
}

TEST(PhaseRecorder, InvalidArguments) {
  EXPECT_THROW(PhaseRecorder(0, 0), std::invalid_argument);
  PhaseRecorder rec(1000, 0);
  // An absolute timestamp (~1.7e18 ns) instead of a relative one.
  EXPECT_THROW(rec.offered(1'700'000'000'000'000'000ULL, 1), std::invalid_argument);
  EXPECT_THROW(rec.sample_queue(1'700'000'000'000'000'000ULL, 0, 0, 0), std::invalid_argument);
}

TEST(PhaseMerge, CountsAddAndWorstPercentilesKept) {
  PhaseRecorder a(1000, 500);
  a.offered(100, 10);
  a.completed(100, 100, 700, 10);  // bin 0 latency 600 (miss)
  a.sample_queue(200, 1, 1, 300);
  a.sample_queue(300, 1, 1, 300);
  a.sample_queue(1200, 0, 1, 50);

  PhaseRecorder b(1000, 500);
  b.offered(100, 20);
  b.offered(150, 20);
  b.completed(100, 100, 400, 20);   // bin 0 latency 300
  b.completed(150, 900, 2150, 20);  // bin 2 latency 2000 (miss)
  b.refused(2500, 5);
  b.offered(2500, 5);
  b.sample_queue(500, 4, 2, 900);
  b.sample_queue(2500, 9, 1, 2000);

  PhaseResult m = a.finish(2000);
  const PhaseResult rb = b.finish(2000);
  ASSERT_EQ(m.bins.size(), 2u);
  ASSERT_EQ(rb.bins.size(), 3u);  // ends at 2150
  merge(m, rb);
  EXPECT_EQ(m.offered_ops, 4u);
  EXPECT_EQ(m.offered_bytes, 55u);
  EXPECT_EQ(m.refused_ops, 1u);
  EXPECT_EQ(m.refused_bytes, 5u);
  EXPECT_EQ(m.completed_ops, 3u);
  EXPECT_EQ(m.completed_bytes, 50u);
  EXPECT_EQ(m.deadline_misses, 2u);
  EXPECT_EQ(m.end_ns, 2150u);
  EXPECT_EQ(m.peak_depth, 10u);
  EXPECT_EQ(m.peak_backlog, 9u);
  EXPECT_EQ(m.latency.count(), 3u);
  EXPECT_EQ(m.latency.max(), 2000u);
  EXPECT_EQ(m.queue_age.count(), 5u);
  EXPECT_EQ(m.samples.size(), 3u);  // kept from `into`

  ASSERT_EQ(m.bins.size(), 3u);
  const Bin& b0 = m.bins[0];
  EXPECT_EQ(b0.offered_ops, 3u);
  EXPECT_EQ(b0.completed_ops, 2u);
  EXPECT_EQ(b0.deadline_misses, 1u);
  EXPECT_EQ(b0.lat_p99_ns, 600u);  // the worse of 600 and 300
  EXPECT_EQ(b0.lat_p50_ns, 600u);
  EXPECT_EQ(b0.queue_samples, 3u);
  EXPECT_DOUBLE_EQ(b0.depth_mean, (2.0 + 2.0 + 6.0) / 3);  // weighted by samples
  EXPECT_EQ(b0.depth_max, 6u);
  EXPECT_EQ(b0.age_p99_ns, 900u);
  EXPECT_EQ(b0.age_max_ns, 900u);
  EXPECT_EQ(m.bins[1].age_max_ns, 50u);    // only `a` sampled bin 1
  EXPECT_EQ(m.bins[2].completed_ops, 1u);  // only `b` had bin 2: copied
  EXPECT_EQ(m.bins[2].refused_ops, 1u);
  EXPECT_EQ(m.bins[2].lat_p99_ns, 2000u);
  EXPECT_EQ(m.bins[2].age_max_ns, 2000u);

  PhaseRecorder c(500, 0);
  c.sample_queue(0, 0, 0, 0);
  PhaseResult rc = c.finish(2000);
  EXPECT_THROW(merge(rc, rb), std::invalid_argument);  // bins of 1000 into bins of 500
}

}  // namespace
