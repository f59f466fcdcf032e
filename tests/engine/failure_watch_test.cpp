// FailureWatch: what on the side channel's sockets ends a repetition, and what does not.
#include "harness/engine/failure_watch.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace fabricbench::engine {
namespace {

using namespace std::chrono_literals;

// A bootstrap that only says its rank and which sockets to watch.
class Watched final : public bootstrap::Bootstrap {
 public:
  Watched(int rank, std::vector<int> fds) : rank_(rank), fds_(std::move(fds)) {}
  int rank() const override { return rank_; }
  int size() const override { return 2; }
  std::string launcher() const override { return "test"; }
  void barrier() override {}
  std::vector<std::string> allgather(const std::string& mine) override { return {mine, mine}; }
  std::string broadcast(int /*root*/, const std::string& data) override { return data; }
  void abort(const std::string& /*reason*/) noexcept override {}
  std::vector<int> liveness_fds() const override { return fds_; }

 private:
  int rank_;
  std::vector<int> fds_;
};

struct Pair {
  Pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fd.data()), 0); }
  ~Pair() {
    for (int f : fd) {
      if (f >= 0) ::close(f);
    }
  }
  void close_far() {
    ::close(fd[1]);
    fd[1] = -1;
  }
  void send_far() const { ASSERT_EQ(::write(fd[1], "x", 1), 1); }
  std::array<int, 2> fd{-1, -1};
};

// Waits (at most 5 s) for the flag.
bool becomes_set(const std::atomic<bool>& flag) {
  for (int i = 0; i < 500 && !flag.load(); ++i) std::this_thread::sleep_for(10ms);
  return flag.load();
}

TEST(FailureWatch, RankZeroSeesAPeerHangUpButNotItsData) {
  Pair link;
  const Watched bs(0, {link.fd[0]});
  std::atomic<bool> stop{true};  // cleared by the watch
  FailureWatch watch(bs, nullptr, stop);
  EXPECT_FALSE(stop.load());
  link.send_far();  // a peer that finished early sent its next contribution: not news
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(stop.load());
  EXPECT_FALSE(watch.fired());
  EXPECT_FALSE(watch.wait_fired(20ms)) << "data is not news, also when waited for";
  link.close_far();  // the peer died
  EXPECT_TRUE(watch.wait_fired(5s));
  EXPECT_TRUE(stop.load());
  EXPECT_TRUE(watch.fired());
}

TEST(FailureWatch, APeerSeesRankZerosAbortOrHangUp) {
  Pair abort_link;
  const Watched a(1, {abort_link.fd[0]});
  std::atomic<bool> stop_a{false};
  FailureWatch watch_a(a, nullptr, stop_a);
  abort_link.send_far();  // rank 0 sends nothing between collectives but an abort
  EXPECT_TRUE(becomes_set(stop_a));
  EXPECT_TRUE(watch_a.fired());

  Pair lost_link;
  const Watched b(1, {lost_link.fd[0]});
  std::atomic<bool> stop_b{false};
  FailureWatch watch_b(b, nullptr, stop_b);
  lost_link.close_far();
  EXPECT_TRUE(becomes_set(stop_b));
  EXPECT_TRUE(watch_b.fired());
}

TEST(FailureWatch, SigintStopsTheRepetitionButIsNotNews) {
  Pair link;
  const Watched bs(1, {link.fd[0]});
  std::atomic<bool> user{false};
  std::atomic<bool> stop{false};
  {
    FailureWatch watch(bs, &user, stop);
    user.store(true);
    EXPECT_TRUE(becomes_set(stop));
    EXPECT_FALSE(watch.fired());
  }
  std::atomic<bool> again{false};
  FailureWatch already(bs, &user, again);  // set before the repetition: stopped at once
  EXPECT_TRUE(again.load());
}

TEST(FailureWatch, NothingToWatchNeverFires) {
  const Watched bs(0, {});
  std::atomic<bool> stop{false};
  {
    FailureWatch watch(bs, nullptr, stop);
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(watch.fired());
  }
  EXPECT_FALSE(stop.load());
}

}  // namespace
}  // namespace fabricbench::engine
