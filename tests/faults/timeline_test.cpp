// Timeline with a fake Injector: inject/clear order and times, stop() mid-hold, failures.
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "harness/faults/injector.hpp"
#include "test_support.hpp"

namespace fabricbench::faults {
namespace {

using std::chrono::milliseconds;
constexpr std::uint64_t kMs = 1'000'000;

// Records every call; can be told to fail.
class FakeInjector final : public Injector {
 public:
  struct Event {
    std::string op;  // "inject" / "clear"
    std::uint64_t mono_ns;
  };

  std::string describe() const override { return "fake"; }

  std::vector<ActionRecord> inject(const Fault& fault) override {
    return act("inject", fault, fail_injects_ > 0 ? fail_injects_-- : 0);
  }
  std::vector<ActionRecord> clear(const Fault& fault) override {
    return act("clear", fault, fail_clears_ > 0 ? fail_clears_-- : 0);
  }

  std::vector<Event> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  bool injected() const { return injected_; }
  void fail_next_injects(int n) { fail_injects_ = n; }
  void fail_next_clears(int n) { fail_clears_ = n; }

 private:
  std::vector<ActionRecord> act(const std::string& op, const Fault& fault, int fail) {
    ActionRecord r;
    r.what = op + " " + to_string(fault.kind) + " on fake";
    r.argv = {"fake", op};
    r.mono_start_ns = core::now_ns();
    r.mono_end_ns = r.mono_start_ns;
    r.exit_code = fail != 0 ? 1 : 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back({op, r.mono_start_ns});
    }
    if (fail != 0) throw CommandFailed(op + " failed on purpose", {r});
    injected_ = op == "inject";
    return {r};
  }

  mutable std::mutex mu_;
  std::vector<Event> events_;
  std::atomic<bool> injected_{false};
  std::atomic<int> fail_injects_{0};
  std::atomic<int> fail_clears_{0};
};

Fault link_down() {
  return Fault{Kind::link_down, 0, 0, 0};
}

TEST(Timeline, InjectsAndClearsEveryOccurrenceInOrderAndOnTime) {
  FakeInjector fake;
  const std::uint64_t t0 = core::now_ns();
  const auto occ = schedule(20 * kMs, 30 * kMs, 3, 60 * kMs, 0, 1, 0);
  Timeline timeline(fake, link_down(), occ, t0);
  ASSERT_TRUE(testing::wait_for([&] { return fake.events().size() == 6; }, milliseconds(5000)));
  timeline.stop();
  const auto ev = fake.events();
  ASSERT_EQ(ev.size(), 6u);
  for (std::size_t i = 0; i < ev.size(); ++i) {
    EXPECT_EQ(ev[i].op, i % 2 == 0 ? "inject" : "clear") << i;
    const auto& o = occ[i / 2];
    EXPECT_GE(ev[i].mono_ns, t0 + (i % 2 == 0 ? o.start_ns : o.end_ns)) << i;  // never early
  }
  EXPECT_FALSE(fake.injected());
  EXPECT_FALSE(timeline.error().has_value());
  ASSERT_EQ(timeline.records().size(), 6u);
  EXPECT_EQ(timeline.records()[0].what, "inject link_down on fake");
  EXPECT_EQ(timeline.records()[1].what, "clear link_down on fake");
  ASSERT_TRUE(timeline.first_inject_mono_ns().has_value());
  ASSERT_TRUE(timeline.last_clear_mono_ns().has_value());
  EXPECT_EQ(*timeline.first_inject_mono_ns(), ev[0].mono_ns);
  EXPECT_EQ(*timeline.last_clear_mono_ns(), ev[5].mono_ns);
}

TEST(Timeline, StopMidHoldClearsAtOnce) {
  FakeInjector fake;
  const std::uint64_t t0 = core::now_ns();
  // Held for a minute, then a second occurrence that must never run.
  Timeline timeline(fake, link_down(), schedule(0, 60'000 * kMs, 2, 0, 0, 1, 0), t0);
  ASSERT_TRUE(testing::wait_for([&] { return fake.injected(); }, milliseconds(5000)));
  const std::uint64_t stop_at = core::now_ns();
  timeline.stop();
  EXPECT_LT(core::now_ns() - stop_at, 5'000 * kMs);  // woke up, did not sit out the hold
  EXPECT_FALSE(fake.injected());
  const auto ev = fake.events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].op, "inject");
  EXPECT_EQ(ev[1].op, "clear");
  EXPECT_FALSE(timeline.error().has_value());
  EXPECT_TRUE(timeline.last_clear_mono_ns().has_value());
}

TEST(Timeline, StopBeforeTheFirstOccurrenceInjectsNothing) {
  FakeInjector fake;
  Timeline timeline(fake, link_down(), schedule(60'000 * kMs, kMs, 1, 0, 0, 1, 0), core::now_ns());
  timeline.stop();
  EXPECT_TRUE(fake.events().empty());
  EXPECT_TRUE(timeline.records().empty());
  EXPECT_FALSE(timeline.first_inject_mono_ns().has_value());
  EXPECT_FALSE(timeline.last_clear_mono_ns().has_value());
  EXPECT_FALSE(timeline.error().has_value());
}

TEST(Timeline, StopIsIdempotentAndSafeFromSeveralThreads) {
  FakeInjector fake;
  {
    Timeline timeline(fake, link_down(), schedule(0, 60'000 * kMs, 1, 0, 0, 1, 0), core::now_ns());
    ASSERT_TRUE(testing::wait_for([&] { return fake.injected(); }, milliseconds(5000)));
    std::thread other([&] { timeline.stop(); });
    timeline.stop();
    other.join();
    timeline.stop();
    EXPECT_FALSE(fake.injected());
  }  // and the destructor stops once more
  EXPECT_EQ(fake.events().size(), 2u);
}

TEST(Timeline, DestructorStopsAndClears) {
  FakeInjector fake;
  {
    Timeline timeline(fake, link_down(), schedule(0, 60'000 * kMs, 1, 0, 0, 1, 0), core::now_ns());
    ASSERT_TRUE(testing::wait_for([&] { return fake.injected(); }, milliseconds(5000)));
  }
  EXPECT_FALSE(fake.injected());
}

TEST(Timeline, AFailingInjectEndsTheTimelineWithItsRecord) {
  FakeInjector fake;
  fake.fail_next_injects(1);
  Timeline timeline(fake, link_down(), schedule(0, kMs, 3, 0, 0, 1, 0), core::now_ns());
  ASSERT_TRUE(testing::wait_for([&] { return !fake.events().empty(); }, milliseconds(5000)));
  std::this_thread::sleep_for(milliseconds(50));  // later occurrences would have run by now
  timeline.stop();
  EXPECT_EQ(fake.events().size(), 1u);
  ASSERT_TRUE(timeline.error().has_value());
  EXPECT_NE(timeline.error()->find("on purpose"), std::string::npos);
  ASSERT_EQ(timeline.records().size(), 1u);
  EXPECT_EQ(timeline.records()[0].exit_code, 1);
  EXPECT_FALSE(timeline.first_inject_mono_ns().has_value());
}

TEST(Timeline, AFailedClearIsRetriedOnce) {
  FakeInjector fake;
  fake.fail_next_clears(1);
  Timeline timeline(fake, link_down(), schedule(0, kMs, 2, 0, 0, 1, 0), core::now_ns());
  ASSERT_TRUE(testing::wait_for([&] { return fake.events().size() == 5; }, milliseconds(5000)));
  timeline.stop();
  const auto ev = fake.events();
  ASSERT_EQ(ev.size(), 5u);  // inject, clear (fails), clear, inject, clear
  EXPECT_EQ(ev[1].op, "clear");
  EXPECT_EQ(ev[2].op, "clear");
  EXPECT_FALSE(fake.injected());
  EXPECT_FALSE(timeline.error().has_value());
  EXPECT_EQ(timeline.records().size(), 5u);
}

TEST(Timeline, AClearFailingTwiceEndsTheTimeline) {
  FakeInjector fake;
  fake.fail_next_clears(2);
  Timeline timeline(fake, link_down(), schedule(0, kMs, 2, 0, 0, 1, 0), core::now_ns());
  ASSERT_TRUE(testing::wait_for([&] { return fake.events().size() >= 3; }, milliseconds(5000)));
  std::this_thread::sleep_for(milliseconds(50));
  timeline.stop();
  EXPECT_EQ(fake.events().size(), 3u);
  ASSERT_TRUE(timeline.error().has_value());
  EXPECT_FALSE(timeline.last_clear_mono_ns().has_value());
}

TEST(Timeline, EmptyScheduleDoesNothing) {
  FakeInjector fake;
  Timeline timeline(fake, link_down(), {}, core::now_ns());
  timeline.stop();
  EXPECT_TRUE(fake.events().empty());
}

}  // namespace
}  // namespace fabricbench::faults
