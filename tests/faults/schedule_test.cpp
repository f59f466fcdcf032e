// schedule(): occurrence times, determinism and jitter bounds; parse_kind / to_string.
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "harness/faults/injector.hpp"

namespace fabricbench::faults {
namespace {

constexpr std::uint64_t kMs = 1'000'000;

TEST(Schedule, PlacesOccurrencesAtStartPlusPeriodWithoutJitter) {
  const auto occ = schedule(100 * kMs, 20 * kMs, 3, 50 * kMs, 0, 42, 0);
  ASSERT_EQ(occ.size(), 3u);
  for (std::size_t i = 0; i < occ.size(); ++i) {
    EXPECT_EQ(occ[i].start_ns, 100 * kMs + i * 50 * kMs);
    EXPECT_EQ(occ[i].end_ns, occ[i].start_ns + 20 * kMs);
  }
}

TEST(Schedule, PeriodZeroMeansTwiceTheHold) {
  const auto occ = schedule(0, 30 * kMs, 4, 0, 0, 1, 0);
  ASSERT_EQ(occ.size(), 4u);
  EXPECT_EQ(occ[1].start_ns - occ[0].start_ns, 60 * kMs);
  EXPECT_EQ(occ[3].start_ns, 180 * kMs);
  EXPECT_EQ(occ[3].end_ns, 210 * kMs);
}

TEST(Schedule, NoOccurrenceForACountBelowOne) {
  EXPECT_TRUE(schedule(0, kMs, 0, 0, 0, 1, 0).empty());
  EXPECT_TRUE(schedule(0, kMs, -3, 0, 0, 1, 0).empty());
}

TEST(Schedule, RefusesOverlappingOccurrences) {
  EXPECT_THROW(schedule(0, 100 * kMs, 2, 50 * kMs, 0, 1, 0), std::invalid_argument);
  EXPECT_NO_THROW(schedule(0, 100 * kMs, 1, 50 * kMs, 0, 1, 0));  // one: nothing to overlap
  EXPECT_NO_THROW(schedule(0, 100 * kMs, 2, 100 * kMs, 0, 1, 0));
}

TEST(Schedule, IsDeterministicPerSeedAndRepetition) {
  const std::uint64_t jitter = 1'000 * kMs;
  const auto a = schedule(10 * kMs, 5 * kMs, 3, 20 * kMs, jitter, 1234, 7);
  const auto b = schedule(10 * kMs, 5 * kMs, 3, 20 * kMs, jitter, 1234, 7);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].start_ns, b[i].start_ns);
    EXPECT_EQ(a[i].end_ns, b[i].end_ns);
  }
  // The same phase shifts every occurrence of a repetition.
  EXPECT_EQ(a[1].start_ns - a[0].start_ns, 20 * kMs);
  EXPECT_EQ(a[2].start_ns - a[1].start_ns, 20 * kMs);
  // Other repetitions and other seeds give other phases (1 s of jitter in ns: a collision
  // between these few draws would be a broken derivation).
  int same_rep = 0;
  int same_seed = 0;
  for (int rep = 0; rep < 20; ++rep) {
    if (rep != 7 &&
        schedule(10 * kMs, 5 * kMs, 1, 0, jitter, 1234, rep)[0].start_ns == a[0].start_ns) {
      ++same_rep;
    }
    if (schedule(10 * kMs, 5 * kMs, 1, 0, jitter, 1000 + static_cast<std::uint64_t>(rep), 7)[0]
            .start_ns == a[0].start_ns) {
      ++same_seed;
    }
  }
  EXPECT_EQ(same_rep, 0);
  EXPECT_EQ(same_seed, 0);
}

TEST(Schedule, PhaseStaysWithinJitterAndSpreadsOverIt) {
  const std::uint64_t start = 500 * kMs;
  const std::uint64_t jitter = 200 * kMs;
  std::uint64_t lo = UINT64_MAX;
  std::uint64_t hi = 0;
  for (int rep = 0; rep < 2000; ++rep) {
    const auto occ = schedule(start, 10 * kMs, 2, 0, jitter, 99, rep);
    ASSERT_EQ(occ.size(), 2u);
    const std::uint64_t phase = occ[0].start_ns - start;
    ASSERT_GE(occ[0].start_ns, start);
    ASSERT_LE(phase, jitter);
    EXPECT_EQ(occ[1].start_ns, occ[0].start_ns + 20 * kMs);
    lo = std::min(lo, phase);
    hi = std::max(hi, phase);
  }
  EXPECT_LT(lo, jitter / 20);
  EXPECT_GT(hi, jitter - jitter / 20);
  // A jitter of 1 ns gives 0 or 1, both seen.
  bool saw[2] = {false, false};
  for (int rep = 0; rep < 64; ++rep) {
    const std::uint64_t phase = schedule(0, 1, 1, 0, 1, 5, rep)[0].start_ns;
    ASSERT_LE(phase, 1u);
    saw[phase] = true;
  }
  EXPECT_TRUE(saw[0] && saw[1]);
  // The largest jitter does not overflow the mapping.
  EXPECT_NO_THROW(schedule(0, 1, 1, 0, UINT64_MAX, 5, 0));
}

TEST(Kind, ParsesEveryNameAndBack) {
  for (const char* name : {"link_down", "flap", "blackhole", "loss", "delay", "rate_limit"}) {
    EXPECT_STREQ(to_string(parse_kind(name)), name);
  }
  EXPECT_EQ(parse_kind("flap"), Kind::flap);
  EXPECT_EQ(parse_kind("rate_limit"), Kind::rate_limit);
}

TEST(Kind, RefusesUnknownNames) {
  EXPECT_THROW(parse_kind(""), std::invalid_argument);
  EXPECT_THROW(parse_kind("LINK_DOWN"), std::invalid_argument);
  EXPECT_THROW(parse_kind("link-down"), std::invalid_argument);
  EXPECT_THROW(parse_kind("netem"), std::invalid_argument);
  try {
    parse_kind("jitter");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("jitter"), std::string::npos);
  }
}

}  // namespace
}  // namespace fabricbench::faults
