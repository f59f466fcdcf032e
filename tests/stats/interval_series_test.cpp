// IntervalSeries: binning by relative time, empty bins, last bin length, latency percentiles per
// bin, merge.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>

#include "core/stats/histogram.hpp"
#include "core/stats/interval_series.hpp"

namespace {

using fabricbench::stats::Histogram;
using fabricbench::stats::IntervalSeries;

TEST(IntervalSeries, BinsByRelativeTime) {
  IntervalSeries s(100);
  EXPECT_EQ(s.bin_ns(), 100u);
  s.add(0, 10, 1);
  s.add(99, 20, 2);
  s.add(100, 40, 4);
  s.add(350, 80, 8);  // bin 3; bin 2 stays empty
  const auto pts = s.points(400);
  ASSERT_EQ(pts.size(), 4u);
  EXPECT_EQ(pts[0].start_ns, 0u);
  EXPECT_EQ(pts[0].bytes, 30u);
  EXPECT_EQ(pts[0].ops, 3u);
  EXPECT_EQ(pts[1].start_ns, 100u);
  EXPECT_EQ(pts[1].bytes, 40u);
  EXPECT_EQ(pts[2].start_ns, 200u);
  EXPECT_EQ(pts[2].bytes, 0u) << "an idle bin is reported as zero, not skipped";
  EXPECT_EQ(pts[2].ops, 0u);
  EXPECT_EQ(pts[3].bytes, 80u);
  for (const auto& p : pts) {
    EXPECT_EQ(p.length_ns, 100u);
    EXPECT_EQ(p.latency_count, 0u);
    EXPECT_FALSE(p.lat_p50_ns.has_value());
    EXPECT_FALSE(p.lat_p99_ns.has_value());
  }
}

TEST(IntervalSeries, LastBinLengthIsCutAtTheEnd) {
  IntervalSeries s(100);
  s.add(10, 1, 1);
  auto pts = s.points(250);
  ASSERT_EQ(pts.size(), 3u);
  EXPECT_EQ(pts[0].length_ns, 100u);
  EXPECT_EQ(pts[1].length_ns, 100u);
  EXPECT_EQ(pts[2].start_ns, 200u);
  EXPECT_EQ(pts[2].length_ns, 50u);
  EXPECT_EQ(pts[2].bytes, 0u);

  pts = s.points(300);  // end on a bin boundary: the last bin is whole
  ASSERT_EQ(pts.size(), 3u);
  EXPECT_EQ(pts[2].length_ns, 100u);

  pts = s.points(1);
  ASSERT_EQ(pts.size(), 1u);
  EXPECT_EQ(pts[0].length_ns, 1u);
  EXPECT_EQ(pts[0].bytes, 1u);

  EXPECT_TRUE(s.points(0).empty());
}

TEST(IntervalSeries, SamplesAfterTheEndFoldIntoTheLastPoint) {
  IntervalSeries s(100);
  s.add(50, 1, 1);
  s.add(180, 2, 1);
  s.add(420, 4, 1);  // after the end (150): counted in the last point
  s.add_latency(420, 5000);
  const auto pts = s.points(150);
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(pts[1].length_ns, 50u);
  EXPECT_EQ(pts[1].bytes, 6u);
  EXPECT_EQ(pts[1].ops, 2u);
  EXPECT_EQ(pts[1].latency_count, 1u);
  EXPECT_EQ(pts[1].lat_p50_ns, 5000u);
}

TEST(IntervalSeries, LatencyPercentilesPerBinMatchHistogram) {
  IntervalSeries s(1'000'000);
  Histogram expected;
  for (std::uint64_t i = 1; i <= 1000; ++i) {
    const std::uint64_t lat = i * 37 + (i % 7) * 100'000;
    s.add_latency(1'500'000, lat);  // bin 1
    expected.record(lat);
  }
  s.add_latency(10, 5);  // bin 0: one sample
  const auto pts = s.points(2'000'000);
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(pts[0].latency_count, 1u);
  EXPECT_EQ(pts[0].lat_p50_ns, 5u);
  EXPECT_EQ(pts[0].lat_p99_ns, 5u);
  EXPECT_EQ(pts[1].latency_count, 1000u);
  EXPECT_EQ(pts[1].lat_p50_ns, expected.percentile(50));
  EXPECT_EQ(pts[1].lat_p99_ns, expected.percentile(99));
}

TEST(IntervalSeries, MergeIsElementWise) {
  IntervalSeries a(100);
  IntervalSeries b(100);
  Histogram bin1;
  a.add(10, 100, 1);
  a.add_latency(150, 1000);
  a.add_latency(150, 300);
  b.add(20, 50, 2);
  b.add_latency(110, 200'000);
  b.add(520, 7, 1);  // b is longer than a
  for (std::uint64_t v : {1000, 300, 200'000}) bin1.record(v);

  a.merge(b);
  const auto pts = a.points(600);
  ASSERT_EQ(pts.size(), 6u);
  EXPECT_EQ(pts[0].bytes, 150u);
  EXPECT_EQ(pts[0].ops, 3u);
  EXPECT_EQ(pts[1].latency_count, 3u);
  EXPECT_EQ(pts[1].lat_p50_ns, bin1.percentile(50));
  EXPECT_EQ(pts[1].lat_p99_ns, bin1.percentile(99));
  EXPECT_EQ(pts[5].bytes, 7u);

  IntervalSeries other_width(200);
  EXPECT_THROW(a.merge(other_width), std::invalid_argument);
}

TEST(IntervalSeries, RejectsBadArguments) {
  EXPECT_THROW(IntervalSeries(0), std::invalid_argument);
  IntervalSeries s(100);
  EXPECT_THROW(s.add(IntervalSeries::kMaxBins * 100, 1, 1), std::invalid_argument);
  EXPECT_THROW(s.points(IntervalSeries::kMaxBins * 100 + 1), std::invalid_argument);
}

}  // namespace
