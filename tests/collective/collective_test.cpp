// The collective suite's pure parts: nccl-tests' byte counts and bus factors (a table computed
// by hand), the check's exact inputs and its detection of a wrong element, the realistic
// schedule, and the progress watch's verdict.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "harness/engine/progress_watch.hpp"
#include "suites/collective/layout.hpp"
#include "suites/collective/timed_loop.hpp"
#include "suites/collective/values.hpp"

namespace fabricbench {
namespace {

using suites::collective::bus_factor;
using suites::collective::layout_of;
using transport::Collective;
using transport::DataType;
using transport::RedOp;

struct FactorRow {
  Collective c;
  double n2, n3, n4, n8;
};

// Computed by hand: 2(n-1)/n, (n-1)/n, 1.
TEST(BusFactor, MatchesTheTableComputedByHand) {
  const FactorRow rows[] = {
      {Collective::all_reduce, 1.0, 4.0 / 3.0, 1.5, 1.75},
      {Collective::all_gather, 0.5, 2.0 / 3.0, 0.75, 0.875},
      {Collective::reduce_scatter, 0.5, 2.0 / 3.0, 0.75, 0.875},
      {Collective::alltoall, 0.5, 2.0 / 3.0, 0.75, 0.875},
      {Collective::gather, 0.5, 2.0 / 3.0, 0.75, 0.875},
      {Collective::scatter, 0.5, 2.0 / 3.0, 0.75, 0.875},
      {Collective::broadcast, 1, 1, 1, 1},
      {Collective::reduce, 1, 1, 1, 1},
      {Collective::sendrecv, 1, 1, 1, 1},
  };
  for (const auto& r : rows) {
    EXPECT_DOUBLE_EQ(bus_factor(r.c, 2), r.n2) << to_string(r.c);
    EXPECT_DOUBLE_EQ(bus_factor(r.c, 3), r.n3) << to_string(r.c);
    EXPECT_DOUBLE_EQ(bus_factor(r.c, 4), r.n4) << to_string(r.c);
    EXPECT_DOUBLE_EQ(bus_factor(r.c, 8), r.n8) << to_string(r.c);
  }
}

TEST(Layout, AllReduceTakesTheWholeCount) {
  const auto l = layout_of(Collective::all_reduce, DataType::float32, 1 << 20, 4);
  EXPECT_EQ(l.param_count, 262144U);
  EXPECT_EQ(l.send_count, 262144U);
  EXPECT_EQ(l.recv_count, 262144U);
  EXPECT_EQ(l.size_bytes, 1U << 20);
  EXPECT_EQ(l.algbw_bytes, 1U << 20);
}

TEST(Layout, AllGatherSharesTheCountAndCountsNTimesItsPart) {
  const auto l = layout_of(Collective::all_gather, DataType::float32, 1 << 20, 4);
  EXPECT_EQ(l.param_count, 65536U);
  EXPECT_EQ(l.send_count, 65536U);
  EXPECT_EQ(l.recv_count, 262144U);
  EXPECT_EQ(l.send_inplace_offset, 65536U);
  EXPECT_EQ(l.size_bytes, 1U << 20);
  EXPECT_EQ(l.algbw_bytes, 65536U * 4 * 4);
}

TEST(Layout, SharesRoundDownToSixteenBytes) {
  // 1000 B of float32 over 3 ranks: 250 elements, 83 each, rounded down to 80 (16 B multiples).
  const auto g = layout_of(Collective::all_gather, DataType::float32, 1000, 3);
  EXPECT_EQ(g.param_count, 80U);
  EXPECT_EQ(g.recv_count, 240U);
  EXPECT_EQ(g.size_bytes, 960U);
  // 100 B of int8 over 3 ranks: 33 each, rounded down to 32.
  const auto rs = layout_of(Collective::reduce_scatter, DataType::int8, 100, 3);
  EXPECT_EQ(rs.param_count, 32U);
  EXPECT_EQ(rs.send_count, 96U);
  EXPECT_EQ(rs.recv_inplace_offset, 32U);
  // 8 B of float32 over 4 ranks: nothing left to share (nccl-tests prints size 0 too).
  EXPECT_EQ(layout_of(Collective::alltoall, DataType::float32, 8, 4).size_bytes, 0U);
}

TEST(Layout, ScatterAndAlltoall) {
  const auto s = layout_of(Collective::scatter, DataType::float64, 4096, 2);
  EXPECT_EQ(s.param_count, 256U);
  EXPECT_EQ(s.send_count, 512U);
  EXPECT_EQ(s.recv_count, 256U);
  const auto a = layout_of(Collective::alltoall, DataType::int32, 4096, 8);
  EXPECT_EQ(a.param_count, 128U);
  EXPECT_EQ(a.send_count, 1024U);
  EXPECT_EQ(a.recv_count, 1024U);
  EXPECT_EQ(a.algbw_bytes, 128U * 4 * 8);
}

TEST(Values, EveryTypeEncodesSmallIntegersExactly) {
  for (const DataType t : transport::all_data_types()) {
    std::byte buf[8];
    for (const double v : {0.0, 1.0, 2.0, 7.0, 12.0, 16.0}) {
      suites::collective::encode(t, v, buf);
      EXPECT_EQ(suites::collective::decode(t, buf), v) << to_string(t) << " " << v;
    }
  }
  // Known bit patterns: 1.0 in float16 is 0x3c00, in bfloat16 0x3f80, in e4m3 0x38, e5m2 0x3c.
  std::byte buf[2];
  suites::collective::encode(DataType::float16, 1.0, buf);
  std::uint16_t h = 0;
  std::memcpy(&h, buf, 2);
  EXPECT_EQ(h, 0x3c00);
  suites::collective::encode(DataType::bfloat16, 1.0, buf);
  std::memcpy(&h, buf, 2);
  EXPECT_EQ(h, 0x3f80);
  suites::collective::encode(DataType::fp8_e4m3, 1.0, buf);
  EXPECT_EQ(static_cast<unsigned>(buf[0]), 0x38U);
  suites::collective::encode(DataType::fp8_e5m2, 1.0, buf);
  EXPECT_EQ(static_cast<unsigned>(buf[0]), 0x3cU);
}

// Sums and products of the inputs stay within what the type holds exactly, at 8 ranks.
TEST(Values, ReductionsOfTheInputsStayExact) {
  const double exact[] = {127,  255, 1 << 20, 1 << 20, 1 << 20, 1 << 20,
                          2048, 256, 1 << 20, 1 << 20, 16,      8};
  const int n = 8;
  for (std::size_t ti = 0; ti < transport::all_data_types().size(); ++ti) {
    const DataType t = transport::all_data_types()[ti];
    for (std::uint64_t i = 0; i < 1000; ++i) {
      double sum = 0;
      double prod = 1;
      for (int r = 0; r < n; ++r) {
        sum += suites::collective::input_value(3, r, i, t, RedOp::sum, n);
        prod *= suites::collective::input_value(3, r, i, t, RedOp::prod, n);
      }
      ASSERT_LE(sum, exact[ti]) << to_string(t);
      ASSERT_LE(prod, exact[ti]) << to_string(t);
    }
  }
}

TEST(Check, AllReduceOutputOfTheRightSumsPasses) {
  const int n = 4;
  const auto l = layout_of(Collective::all_reduce, DataType::int32, 4096, n);
  const suites::collective::Call call{Collective::all_reduce, DataType::int32, RedOp::sum, 0, n, 9};
  std::vector<std::byte> out(l.recv_count * 4);
  for (std::uint64_t i = 0; i < l.recv_count; ++i) {
    double s = 0;
    for (int r = 0; r < n; ++r)
      s += suites::collective::input_value(9, r, i, call.type, call.op, n);
    suites::collective::encode(DataType::int32, s, out.data() + i * 4);
  }
  EXPECT_EQ(suites::collective::check_output(call, l, 2, out).wrong, 0U);
  // One element off: found, named by index, with the value expected and the one got.
  std::int32_t v = 0;
  std::memcpy(&v, out.data() + 100 * 4, 4);
  const std::int32_t bad = v + 1;
  std::memcpy(out.data() + 100 * 4, &bad, 4);
  const auto check = suites::collective::check_output(call, l, 2, out);
  EXPECT_EQ(check.wrong, 1U);
  ASSERT_TRUE(check.first);
  EXPECT_EQ(check.first->index, 100U);
  EXPECT_EQ(check.first->expected, v);
  EXPECT_EQ(check.first->got, bad);
}

TEST(Check, AllGatherExpectsEachRanksPartInRankOrder) {
  const int n = 3;
  const auto l = layout_of(Collective::all_gather, DataType::float32, 3 * 64, n);
  const suites::collective::Call call{
      Collective::all_gather, DataType::float32, RedOp::sum, 0, n, 5};
  std::vector<std::byte> out;
  for (int r = 0; r < n; ++r) {
    const auto in = suites::collective::make_input(call, l, r);
    out.insert(out.end(), in.begin(), in.end());
  }
  EXPECT_EQ(suites::collective::check_output(call, l, 1, out).wrong, 0U);
  // Ranks 0 and 1 swapped: every element of those parts that differs is wrong.
  std::vector<std::byte> swapped(out);
  std::memcpy(swapped.data(), out.data() + l.param_count * 4, l.param_count * 4);
  std::memcpy(swapped.data() + l.param_count * 4, out.data(), l.param_count * 4);
  EXPECT_GT(suites::collective::check_output(call, l, 1, swapped).wrong, 0U);
}

TEST(Check, ReduceChecksOnlyTheRoot) {
  const auto l = layout_of(Collective::reduce, DataType::float32, 256, 4);
  const suites::collective::Call call{Collective::reduce, DataType::float32, RedOp::max, 2, 4, 1};
  std::vector<std::byte> garbage(l.recv_count * 4, std::byte{0x7f});
  EXPECT_EQ(suites::collective::check_output(call, l, 0, garbage).wrong, 0U);
  EXPECT_EQ(suites::collective::check_output(call, l, 2, garbage).wrong, l.recv_count);
}

TEST(Schedule, ConstantGapsAndSeededPoisson) {
  suites::CollectiveParams p;
  p.rate_per_s = 1000;
  const auto constant = suites::collective::schedule(p, 5);
  EXPECT_EQ(constant, (std::vector<std::uint64_t>{0, 1'000'000, 2'000'000, 3'000'000, 4'000'000}));
  p.poisson = true;
  p.regime_seed = 42;
  const auto a = suites::collective::schedule(p, 2000);
  const auto b = suites::collective::schedule(p, 2000);
  EXPECT_EQ(a, b);  // every rank computes the same schedule
  const double mean_gap = static_cast<double>(a.back()) / 1999.0;
  EXPECT_NEAR(mean_gap, 1e6, 1e5);
}

TEST(ProgressWatch, NamesTheRanksThatFellBehind) {
  engine::ProgressRound round;
  round.done = {false, false, true, false};
  round.completed = {42, 41, 50, 41};
  EXPECT_EQ(engine::ranks_behind(round), (std::vector<int>{1, 3}));
  EXPECT_EQ(engine::name_ranks({1, 3}, {"a", "b", "c", "d"}), "ranks 1 (b), 3 (d)");
  EXPECT_EQ(engine::name_ranks({2}, {}), "rank 2");
  const std::string behind = engine::stall_message(round, {}, 4'000'000'000, "all_reduce, 1MiB");
  EXPECT_NE(behind.find("ranks 1, 3 fell behind"), std::string::npos) << behind;
  EXPECT_NE(behind.find("had completed 41 collective(s) of all_reduce, 1MiB"), std::string::npos)
      << behind;
  // Everyone inside the same collective: no rank can be singled out, and the message says so.
  engine::ProgressRound same;
  same.done = {false, false, false};
  same.completed = {7, 7, 7};
  const std::string all = engine::stall_message(same, {}, 4'000'000'000, "all_reduce, 1MiB");
  EXPECT_NE(all.find("every waiting rank (ranks 0, 1, 2) had completed 7"), std::string::npos)
      << all;
}

}  // namespace
}  // namespace fabricbench
