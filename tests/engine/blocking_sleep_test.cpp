// blocking_sleep_ns: how long the open loop's generator sleeps in blocking mode before its next
// deadline (arrivals are approached by polling; samples are slept up to).
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>

#include "harness/engine/open_loop.hpp"

namespace fabricbench::engine {
namespace {

constexpr std::uint64_t kSpin = 50'000;
constexpr std::uint64_t kCap = 1'000'000;

TEST(BlockingSleep, EndsTheSpinWindowBeforeAnArrival) {
  EXPECT_EQ(blocking_sleep_ns(100'000, 900'000, kSpin, kCap), 50'000u);
}

TEST(BlockingSleep, PollsInsideTheSpinWindow) {
  EXPECT_EQ(blocking_sleep_ns(50'000, 900'000, kSpin, kCap), 0u);
  EXPECT_EQ(blocking_sleep_ns(10'000, 900'000, kSpin, kCap), 0u);
  EXPECT_EQ(blocking_sleep_ns(0, 900'000, kSpin, kCap), 0u);
}

TEST(BlockingSleep, SleepsUpToASampleWithoutSpinning) {
  // A closed loop (no arrivals): the sample 30 us away is slept up to, not polled for.
  EXPECT_EQ(blocking_sleep_ns(std::nullopt, 30'000, kSpin, kCap), 30'000u);
  // An arrival after the sample: the sample ends the sleep.
  EXPECT_EQ(blocking_sleep_ns(500'000, 200'000, kSpin, kCap), 200'000u);
  EXPECT_EQ(blocking_sleep_ns(std::nullopt, 0, kSpin, kCap), 0u);
}

TEST(BlockingSleep, NeverLongerThanTheCap) {
  EXPECT_EQ(blocking_sleep_ns(std::nullopt, 5'000'000, kSpin, kCap), kCap);
  EXPECT_EQ(blocking_sleep_ns(9'000'000, 5'000'000, kSpin, kCap), kCap);
}

}  // namespace
}  // namespace fabricbench::engine
