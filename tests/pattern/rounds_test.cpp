// circle_rounds for every n in 2..64 and at 1024 and 4096 ranks, check_rounds on broken plans,
// partner.
#include <gtest/gtest.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/pattern/pattern.hpp"

namespace {

using namespace fabricbench::pattern;

// Everything the circle method promises for n ranks.
void expect_circle(int n) {
  SCOPED_TRACE("n = " + std::to_string(n));
  const std::vector<Round> rounds = circle_rounds(n);
  EXPECT_EQ(check_rounds(n, rounds, true), "");
  const bool even = n % 2 == 0;
  ASSERT_EQ(rounds.size(), static_cast<std::size_t>(even ? n - 1 : n));
  std::size_t pairs = 0;
  std::vector<int> byes(static_cast<std::size_t>(n), 0);
  for (const Round& round : rounds) {
    ASSERT_EQ(round.size(), static_cast<std::size_t>(n / 2));
    pairs += round.size();
    std::vector<bool> in(static_cast<std::size_t>(n), false);
    for (const Pair& p : round) {
      ASSERT_LT(p.a, p.b);
      in[static_cast<std::size_t>(p.a)] = in[static_cast<std::size_t>(p.b)] = true;
    }
    for (std::size_t r = 0; r < in.size(); ++r) byes[r] += in[r] ? 0 : 1;
  }
  EXPECT_EQ(pairs, static_cast<std::size_t>(n) * static_cast<std::size_t>(n - 1) / 2);
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(byes[static_cast<std::size_t>(r)], even ? 0 : 1) << "rank " << r;
  }
}

TEST(CircleRounds, EveryNFrom2To64) {
  for (int n = 2; n <= 64; ++n) expect_circle(n);
}

// The planner at the scale of a large cluster: 523,776 and 8,386,560 pairs.
TEST(CircleRounds, At1024And4096Ranks) {
  expect_circle(1024);
  expect_circle(4096);
}

TEST(CircleRounds, OddScaleHasOneByeEach) {
  expect_circle(1023);
  expect_circle(4095);
}

TEST(CircleRounds, RoundsAreSortedAndSmallCasesAreExact) {
  const std::vector<Round> two = circle_rounds(2);
  ASSERT_EQ(two.size(), 1u);
  EXPECT_EQ(two[0], (Round{{0, 1}}));
  const std::vector<Round> three = circle_rounds(3);
  ASSERT_EQ(three.size(), 3u);
  for (const Round& round : three) ASSERT_EQ(round.size(), 1u);
  for (const Round& round : circle_rounds(10)) {
    for (std::size_t i = 1; i < round.size(); ++i) EXPECT_TRUE(round[i - 1] < round[i]);
  }
}

TEST(CircleRounds, FewerThanTwoRanksThrow) {
  EXPECT_THROW(circle_rounds(1), std::invalid_argument);
  EXPECT_THROW(circle_rounds(0), std::invalid_argument);
  EXPECT_THROW(circle_rounds(-4), std::invalid_argument);
}

TEST(CheckRounds, FindsADuplicatedPair) {
  std::vector<Round> rounds = circle_rounds(6);
  const Pair again = rounds[0][1];
  rounds.push_back({again});
  EXPECT_EQ(check_rounds(6, rounds, true), "round 5: pair (" + std::to_string(again.a) + ", " +
                                               std::to_string(again.b) +
                                               ") again (first in round 0)");
  // Without every_pair a pair may come back in another round.
  EXPECT_EQ(check_rounds(6, rounds, false), "");
}

TEST(CheckRounds, FindsARankTwiceInARound) {
  EXPECT_EQ(check_rounds(4, {{{0, 1}, {2, 3}}, {{0, 2}, {2, 3}}}, false), "round 1: rank 2 twice");
  EXPECT_EQ(check_rounds(4, {{{0, 1}, {1, 3}}}, false), "round 0: rank 1 twice");
  // A round of the circle with one pair moved onto a rank already in it.
  std::vector<Round> rounds = circle_rounds(8);
  rounds[3][2] = ordered_pair(rounds[3][0].a, rounds[3][2].b);
  EXPECT_EQ(check_rounds(8, rounds, true),
            "round 3: rank " + std::to_string(rounds[3][0].a) + " twice");
}

TEST(CheckRounds, FindsAMissingPair) {
  std::vector<Round> rounds = circle_rounds(7);
  const Pair gone = rounds[4].back();
  rounds[4].pop_back();
  EXPECT_EQ(check_rounds(7, rounds, true),
            "pair (" + std::to_string(gone.a) + ", " + std::to_string(gone.b) + ") in no round");
  EXPECT_EQ(check_rounds(7, rounds, false), "");
  rounds.pop_back();  // a whole round gone: the first missing pair is reported
  EXPECT_NE(check_rounds(7, rounds, true), "");
}

TEST(CheckRounds, FindsInvalidPairs) {
  EXPECT_EQ(check_rounds(8, {{{4, 4}}}, false), "round 0: pair (4, 4) is not 0 <= a < b < 8");
  EXPECT_EQ(check_rounds(8, {{{0, 1}}, {{5, 2}}}, false),
            "round 1: pair (5, 2) is not 0 <= a < b < 8");
  EXPECT_EQ(check_rounds(8, {{{-1, 2}}}, false), "round 0: pair (-1, 2) is not 0 <= a < b < 8");
  EXPECT_EQ(check_rounds(8, {{{3, 8}}}, true), "round 0: pair (3, 8) is not 0 <= a < b < 8");
}

TEST(CheckRounds, EmptyPlans) {
  EXPECT_EQ(check_rounds(5, {}, false), "");
  EXPECT_EQ(check_rounds(5, {}, true), "pair (0, 1) in no round");
  EXPECT_EQ(check_rounds(1, {}, true), "");  // one rank has no pair to meet
  EXPECT_EQ(check_rounds(0, {}, true), "");
  EXPECT_EQ(check_rounds(-1, {}, false), "n = -1 is negative");
}

TEST(Partner, EachRankFindsItsPartnerOrABye) {
  for (const int n : {6, 7}) {
    for (const Round& round : circle_rounds(n)) {
      std::vector<bool> seen(static_cast<std::size_t>(n), false);
      for (const Pair& p : round) {
        EXPECT_EQ(partner(round, p.a), p.b);
        EXPECT_EQ(partner(round, p.b), p.a);
        seen[static_cast<std::size_t>(p.a)] = seen[static_cast<std::size_t>(p.b)] = true;
      }
      for (int r = 0; r < n; ++r) {
        if (!seen[static_cast<std::size_t>(r)]) {
          EXPECT_EQ(partner(round, r), -1);
        }
      }
    }
  }
  EXPECT_EQ(partner({}, 0), -1);
  EXPECT_EQ(partner({{0, 1}}, 9), -1);
}

TEST(PairOrder, EqualityOrderAndOrdering) {
  EXPECT_EQ(ordered_pair(5, 2), (Pair{2, 5}));
  EXPECT_EQ(ordered_pair(2, 5), (Pair{2, 5}));
  EXPECT_TRUE((Pair{1, 9}) < (Pair{2, 3}));
  EXPECT_TRUE((Pair{2, 3}) < (Pair{2, 4}));
  EXPECT_FALSE((Pair{2, 4}) < (Pair{2, 4}));
  EXPECT_FALSE((Pair{2, 4}) == (Pair{2, 5}));
}

}  // namespace
