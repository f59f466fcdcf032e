// Recovery metrics on synthetic curves: baseline (median, straddling bin left out), detect times,
// stall, first byte after clear, ttr90/ttr99 with K consecutive bins, deficit, zero baseline,
// invalid input; spread (median, nearest-rank p95).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "core/stats/recovery.hpp"

namespace {

using fabricbench::stats::compute_recovery;
using fabricbench::stats::RecoveryInput;
using fabricbench::stats::spread;

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kBin = 100 * kMs;  // 100 ms bins

// Appends `count` bins of `bytes` each.
void append(std::vector<std::uint64_t>& bins, std::size_t count, std::uint64_t bytes) {
  bins.insert(bins.end(), count, bytes);
}

// 2 s at 1000 bytes/bin, the outage bins `outage`, then `after` bins of 1000.
RecoveryInput flat_with_outage(std::size_t outage, std::size_t after) {
  RecoveryInput in;
  in.bin_ns = kBin;
  append(in.bin_bytes, 20, 1000);
  append(in.bin_bytes, outage, 0);
  append(in.bin_bytes, after, 1000);
  in.fault_start_ns = 20 * kBin;
  in.fault_clear_ns = (20 + outage) * kBin;
  return in;
}

TEST(Recovery, FlatCurveWithOutage) {
  const auto m = compute_recovery(flat_with_outage(10, 20));  // zeros over [2 s, 3 s)
  EXPECT_EQ(m.baseline_bins, 20u);
  EXPECT_DOUBLE_EQ(m.baseline_bytes_per_bin, 1000.0);
  EXPECT_DOUBLE_EQ(m.baseline_gbps, 1000.0 * 8 / static_cast<double>(kBin));
  EXPECT_EQ(m.stall_ns, 1000 * kMs);
  EXPECT_EQ(m.first_byte_after_clear_ns, 0u);
  EXPECT_EQ(m.ttr90_from_start_ns, 1000 * kMs);
  EXPECT_EQ(m.ttr90_from_clear_ns, 0u);
  EXPECT_EQ(m.ttr99_from_start_ns, 1000 * kMs);
  EXPECT_EQ(m.ttr99_from_clear_ns, 0u);
  EXPECT_DOUBLE_EQ(m.deficit_bytes, 10 * 1000.0);  // the outage's bytes
  EXPECT_FALSE(m.detect_link_ns.has_value());
  EXPECT_FALSE(m.detect_error_ns.has_value());
}

TEST(Recovery, ClearInsideTheLastZeroBinCostsOneBin) {
  auto in = flat_with_outage(10, 20);
  in.fault_clear_ns = 29 * kBin + 50 * kMs;  // 2.95 s: bin 29 [2.9, 3.0) is still empty
  const auto m = compute_recovery(in);
  EXPECT_EQ(m.first_byte_after_clear_ns, 50 * kMs);
  EXPECT_EQ(m.ttr90_from_clear_ns, 50 * kMs);
  EXPECT_EQ(m.ttr90_from_start_ns, 1000 * kMs);

  in.fault_clear_ns = 30 * kBin + 50 * kMs;  // 3.05 s: the bin holding the clear has bytes
  const auto late = compute_recovery(in);
  EXPECT_EQ(late.first_byte_after_clear_ns, 0u);
  EXPECT_EQ(late.ttr90_from_clear_ns, 0u);  // bin 30 starts before the clear: clamped
}

TEST(Recovery, SlowRampOrdersTtr90BeforeTtr99) {
  RecoveryInput in;
  in.bin_ns = kBin;
  append(in.bin_bytes, 20, 1000);
  append(in.bin_bytes, 5, 0);  // outage [2.0 s, 2.5 s)
  for (std::uint64_t v = 100; v <= 1000; v += 100) in.bin_bytes.push_back(v);  // 1 s linear ramp
  append(in.bin_bytes, 20, 1000);
  in.fault_start_ns = 20 * kBin;
  in.fault_clear_ns = 25 * kBin;
  const auto m = compute_recovery(in);
  EXPECT_DOUBLE_EQ(m.baseline_bytes_per_bin, 1000.0);
  EXPECT_EQ(m.stall_ns, 500 * kMs);  // the ramp's first bin (10%) is above 5%
  // 90%: bin 33 (900 bytes, 3.3 s) starts the first run of 5; 99%: bin 34 (1000, 3.4 s).
  EXPECT_EQ(m.ttr90_from_start_ns, 1300 * kMs);
  EXPECT_EQ(m.ttr90_from_clear_ns, 800 * kMs);
  EXPECT_EQ(m.ttr99_from_start_ns, 1400 * kMs);
  EXPECT_EQ(m.ttr99_from_clear_ns, 900 * kMs);
  EXPECT_LT(*m.ttr90_from_start_ns, *m.ttr99_from_start_ns);
  EXPECT_EQ(m.first_byte_after_clear_ns, 0u);
  // Bins 20 .. 32: 5 empty bins, then 100 .. 800 short by 900 .. 200.
  EXPECT_DOUBLE_EQ(m.deficit_bytes, 5 * 1000.0 + (900 + 800 + 700 + 600 + 500 + 400 + 300 + 200));
}

TEST(Recovery, NeverRecovers) {
  const auto m = compute_recovery(flat_with_outage(15, 0));  // zeros to the end of the series
  EXPECT_FALSE(m.ttr90_from_start_ns.has_value());
  EXPECT_FALSE(m.ttr90_from_clear_ns.has_value());
  EXPECT_FALSE(m.ttr99_from_start_ns.has_value());
  EXPECT_FALSE(m.ttr99_from_clear_ns.has_value());
  EXPECT_FALSE(m.first_byte_after_clear_ns.has_value());
  EXPECT_EQ(m.stall_ns, 1500 * kMs);
  EXPECT_DOUBLE_EQ(m.deficit_bytes, 15 * 1000.0);  // to the end of the series

  // Back at 80% only: bytes flow, but neither level is ever reached.
  RecoveryInput in = flat_with_outage(5, 0);
  append(in.bin_bytes, 20, 800);
  const auto partial = compute_recovery(in);
  EXPECT_EQ(partial.first_byte_after_clear_ns, 0u);
  EXPECT_FALSE(partial.ttr90_from_start_ns.has_value());
  EXPECT_FALSE(partial.ttr99_from_start_ns.has_value());
  EXPECT_EQ(partial.stall_ns, 500 * kMs);
  EXPECT_DOUBLE_EQ(partial.deficit_bytes, 5 * 1000.0 + 20 * 200.0);
}

TEST(Recovery, RequiresKConsecutiveBins) {
  RecoveryInput in = flat_with_outage(5, 0);  // outage bins 20 .. 24, clear at 2.5 s
  in.bin_bytes.push_back(1000);               // bin 25: a single good bin
  in.bin_bytes.push_back(0);                  // bin 26: a dip
  append(in.bin_bytes, 5, 1000);              // bins 27 .. 31
  const auto m = compute_recovery(in);
  EXPECT_EQ(m.ttr90_from_start_ns, 700 * kMs);  // bin 27, not bin 25
  EXPECT_EQ(m.ttr90_from_clear_ns, 200 * kMs);
  EXPECT_EQ(m.first_byte_after_clear_ns, 0u);
  EXPECT_EQ(m.stall_ns, 500 * kMs);
  EXPECT_DOUBLE_EQ(m.deficit_bytes, 6 * 1000.0);  // bins 20 .. 26

  in.consecutive = 1;  // with K = 1 the single good bin is enough
  const auto k1 = compute_recovery(in);
  EXPECT_EQ(k1.ttr90_from_start_ns, 500 * kMs);
  EXPECT_EQ(k1.ttr90_from_clear_ns, 0u);
}

TEST(Recovery, RunShorterThanKAtTheSeriesEndDoesNotCount) {
  RecoveryInput in = flat_with_outage(5, 4);  // only 4 good bins left, K = 5
  const auto m = compute_recovery(in);
  EXPECT_FALSE(m.ttr90_from_start_ns.has_value());
  EXPECT_FALSE(m.ttr99_from_start_ns.has_value());
  EXPECT_EQ(m.first_byte_after_clear_ns, 0u);
  EXPECT_DOUBLE_EQ(m.deficit_bytes, 5 * 1000.0);  // good bins have no deficit

  in.bin_bytes.push_back(1000);  // the fifth bin makes the run
  const auto five = compute_recovery(in);
  EXPECT_EQ(five.ttr90_from_start_ns, 500 * kMs);
}

TEST(Recovery, NoiseAtNinetyFivePercentPassesTtr90NotTtr99) {
  RecoveryInput in = flat_with_outage(10, 0);
  for (int i = 0; i < 20; ++i) in.bin_bytes.push_back(i % 2 == 0 ? 950 : 960);
  const auto m = compute_recovery(in);
  EXPECT_EQ(m.ttr90_from_start_ns, 1000 * kMs);
  EXPECT_EQ(m.ttr90_from_clear_ns, 0u);
  EXPECT_FALSE(m.ttr99_from_start_ns.has_value());
  EXPECT_FALSE(m.ttr99_from_clear_ns.has_value());
}

TEST(Recovery, LevelsAreInclusiveAndExact) {
  RecoveryInput in = flat_with_outage(0, 0);
  in.consecutive = 1;
  in.bin_bytes.push_back(899);
  in.bin_bytes.push_back(900);  // exactly 90%: passes
  in.bin_bytes.push_back(989);
  in.bin_bytes.push_back(990);  // exactly 99%: passes
  in.bin_bytes.push_back(49);   // under 5%
  in.bin_bytes.push_back(50);   // exactly 5%: not a stall
  const auto m = compute_recovery(in);
  EXPECT_EQ(m.ttr90_from_start_ns, 1 * kBin);
  EXPECT_EQ(m.ttr99_from_start_ns, 3 * kBin);
  EXPECT_EQ(m.stall_ns, 1 * kBin);
}

TEST(Recovery, NeverDroppedReportsZero) {
  const auto m = compute_recovery(flat_with_outage(0, 20));
  EXPECT_EQ(m.stall_ns, 0u);
  EXPECT_EQ(m.ttr90_from_start_ns, 0u);
  EXPECT_EQ(m.ttr90_from_clear_ns, 0u);
  EXPECT_EQ(m.ttr99_from_start_ns, 0u);
  EXPECT_EQ(m.ttr99_from_clear_ns, 0u);
  EXPECT_EQ(m.first_byte_after_clear_ns, 0u);
  EXPECT_DOUBLE_EQ(m.deficit_bytes, 0.0);

  // A clear after the recovery run starts is clamped to 0 as well.
  auto in = flat_with_outage(0, 20);
  in.fault_clear_ns = in.fault_start_ns + 700 * kMs;
  const auto late_clear = compute_recovery(in);
  EXPECT_EQ(late_clear.ttr90_from_start_ns, 0u);
  EXPECT_EQ(late_clear.ttr90_from_clear_ns, 0u);
}

TEST(Recovery, BaselineMedianIgnoresStraddlingBin) {
  RecoveryInput in;
  in.bin_ns = 100;
  in.bin_bytes = {800, 1200, 100, 0, 0, 1000, 1000, 1000, 1000, 1000};
  in.fault_start_ns = 250;  // bin 2 [200, 300) straddles the fault start
  in.fault_clear_ns = 500;
  const auto m = compute_recovery(in);
  EXPECT_EQ(m.baseline_bins, 2u);
  EXPECT_DOUBLE_EQ(m.baseline_bytes_per_bin, 1000.0);  // mean of 800 and 1200, not 800
  EXPECT_DOUBLE_EQ(m.baseline_gbps, 1000.0 * 8 / 100);
  EXPECT_EQ(m.stall_ns, 200u);             // bins 3, 4
  EXPECT_EQ(m.ttr90_from_start_ns, 250u);  // bin 5 at 500
  EXPECT_EQ(m.ttr90_from_clear_ns, 0u);
  EXPECT_DOUBLE_EQ(m.deficit_bytes, 2900.0);  // the straddling bin's 900 counts

  in.fault_start_ns = 200;  // aligned: bin 1 ends at the start and belongs to the baseline
  EXPECT_EQ(compute_recovery(in).baseline_bins, 2u);
  in.fault_start_ns = 299;
  EXPECT_EQ(compute_recovery(in).baseline_bins, 2u);
  in.fault_start_ns = 300;
  const auto three = compute_recovery(in);
  EXPECT_EQ(three.baseline_bins, 3u);
  EXPECT_DOUBLE_EQ(three.baseline_bytes_per_bin, 800.0);

  // A fault start past the series: every bin is baseline, nothing on the fault side.
  in.fault_start_ns = 5000;
  in.fault_clear_ns = 6000;
  const auto past = compute_recovery(in);
  EXPECT_EQ(past.baseline_bins, 10u);
  EXPECT_EQ(past.stall_ns, 0u);
  EXPECT_FALSE(past.ttr90_from_start_ns.has_value());
  EXPECT_FALSE(past.first_byte_after_clear_ns.has_value());
  EXPECT_DOUBLE_EQ(past.deficit_bytes, 0.0);
}

TEST(Recovery, DetectTimes) {
  auto in = flat_with_outage(10, 20);
  in.link_event_ns = in.fault_start_ns + 37 * kMs;
  in.first_error_ns = in.fault_start_ns + 1200 * kMs;  // after the clear: still from the start
  auto m = compute_recovery(in);
  EXPECT_EQ(m.detect_link_ns, 37 * kMs);
  EXPECT_EQ(m.detect_error_ns, 1200 * kMs);

  in.link_event_ns = in.fault_start_ns - 5 * kMs;  // before the fault start: 0
  in.first_error_ns = in.fault_start_ns;
  m = compute_recovery(in);
  EXPECT_EQ(m.detect_link_ns, 0u);
  EXPECT_EQ(m.detect_error_ns, 0u);

  in.link_event_ns.reset();
  m = compute_recovery(in);
  EXPECT_FALSE(m.detect_link_ns.has_value());
  EXPECT_EQ(m.detect_error_ns, 0u);
}

TEST(Recovery, ZeroBaselineGivesNoRecoveryLevels) {
  RecoveryInput in;
  in.bin_ns = kBin;
  append(in.bin_bytes, 3, 0);
  append(in.bin_bytes, 10, 1000);
  in.fault_start_ns = 0;  // no bin ends at or before the start
  in.fault_clear_ns = 2 * kBin + 10 * kMs;
  in.link_event_ns = 15 * kMs;
  const auto m = compute_recovery(in);
  EXPECT_EQ(m.baseline_bins, 0u);
  EXPECT_DOUBLE_EQ(m.baseline_bytes_per_bin, 0.0);
  EXPECT_DOUBLE_EQ(m.baseline_gbps, 0.0);
  EXPECT_EQ(m.stall_ns, 0u);
  EXPECT_FALSE(m.ttr90_from_start_ns.has_value());
  EXPECT_FALSE(m.ttr90_from_clear_ns.has_value());
  EXPECT_FALSE(m.ttr99_from_start_ns.has_value());
  EXPECT_FALSE(m.ttr99_from_clear_ns.has_value());
  EXPECT_DOUBLE_EQ(m.deficit_bytes, 0.0);
  EXPECT_EQ(m.detect_link_ns, 15 * kMs);
  EXPECT_EQ(m.first_byte_after_clear_ns, 90 * kMs);  // bin 3 at 300 ms, clear at 210 ms

  // Empty baseline bins give B = 0 as well.
  in.fault_start_ns = 2 * kBin;
  const auto idle = compute_recovery(in);
  EXPECT_EQ(idle.baseline_bins, 2u);
  EXPECT_DOUBLE_EQ(idle.baseline_bytes_per_bin, 0.0);
  EXPECT_FALSE(idle.ttr90_from_start_ns.has_value());

  // An empty series is valid input.
  RecoveryInput empty;
  empty.bin_ns = kBin;
  const auto none = compute_recovery(empty);
  EXPECT_EQ(none.baseline_bins, 0u);
  EXPECT_FALSE(none.first_byte_after_clear_ns.has_value());
}

TEST(Recovery, InvalidInputThrows) {
  auto in = flat_with_outage(10, 20);
  in.bin_ns = 0;
  EXPECT_THROW(compute_recovery(in), std::invalid_argument);
  in = flat_with_outage(10, 20);
  in.consecutive = 0;
  EXPECT_THROW(compute_recovery(in), std::invalid_argument);
  in.consecutive = -3;
  EXPECT_THROW(compute_recovery(in), std::invalid_argument);
  in = flat_with_outage(10, 20);
  in.fault_clear_ns = in.fault_start_ns - 1;
  EXPECT_THROW(compute_recovery(in), std::invalid_argument);
  in.fault_clear_ns = in.fault_start_ns;  // clear == start is valid
  EXPECT_NO_THROW(compute_recovery(in));
}

TEST(Spread, EmptyIsNullopt) {
  EXPECT_FALSE(spread({}).has_value());
}

TEST(Spread, MedianAndNearestRankP95) {
  const auto one = spread({7.5});
  ASSERT_TRUE(one.has_value());
  EXPECT_DOUBLE_EQ(one->median, 7.5);
  EXPECT_DOUBLE_EQ(one->p95, 7.5);
  EXPECT_EQ(one->count, 1u);

  const auto odd = spread({3, 1, 2});
  ASSERT_TRUE(odd.has_value());
  EXPECT_DOUBLE_EQ(odd->median, 2);
  EXPECT_DOUBLE_EQ(odd->p95, 3);  // rank ceil(2.85) = 3
  EXPECT_EQ(odd->count, 3u);

  const auto even = spread({4, 1, 3, 2});
  ASSERT_TRUE(even.has_value());
  EXPECT_DOUBLE_EQ(even->median, 2.5);
  EXPECT_DOUBLE_EQ(even->p95, 4);

  std::vector<double> twenty;
  for (int i = 20; i >= 1; --i) twenty.push_back(i);
  const auto s20 = spread(twenty);
  ASSERT_TRUE(s20.has_value());
  EXPECT_DOUBLE_EQ(s20->median, 10.5);
  EXPECT_DOUBLE_EQ(s20->p95, 19);  // rank 19 exactly
  EXPECT_EQ(s20->count, 20u);

  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  const auto s100 = spread(hundred);
  EXPECT_DOUBLE_EQ(s100->median, 50.5);
  EXPECT_DOUBLE_EQ(s100->p95, 95);

  std::vector<double> ten;
  for (int i = 1; i <= 10; ++i) ten.push_back(i);
  EXPECT_DOUBLE_EQ(spread(ten)->p95, 10);  // rank ceil(9.5) = 10
}

TEST(Spread, NanThrows) {
  EXPECT_THROW(spread({1.0, std::numeric_limits<double>::quiet_NaN()}), std::invalid_argument);
}

}  // namespace
