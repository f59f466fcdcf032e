// Lost and silent ranks: every other rank fails promptly with an error that names the culprit.
#include <gtest/gtest.h>

#include <csignal>
#include <string>
#include <thread>

#include "core/error.hpp"
#include "harness/bootstrap/launchers.hpp"
#include "harness/bootstrap/net.hpp"
#include "harness/bootstrap/side_channel.hpp"
#include "tests/bootstrap/test_support.hpp"

namespace fabricbench::bootstrap {
namespace {

using namespace std::chrono_literals;
using testing::Children;
using testing::Clock;
using testing::elapsed_ms;
using testing::kind_name;
using testing::ReportPipe;

constexpr auto kTimeout = 2s;
constexpr long kTimeoutMs = 2'000;
constexpr long kSlackMs = 3'000;

// Runs a barrier and sends what happened through the pipe.
void barrier_and_report(Bootstrap& b, const ReportPipe& pipe) {
  const auto start = Clock::now();
  try {
    b.barrier();
    pipe.send(b.rank(), "none", elapsed_ms(start), "barrier succeeded");
  } catch (const core::Error& e) {
    pipe.send(b.rank(), kind_name(e.kind()), elapsed_ms(start), e.what());
  }
}

TEST(RankFailure, KilledRankIsNamedAsLostByEveryOther) {
  ReportPipe pipe;
  std::string report;
  const auto start = Clock::now();
  const int code = run_local(
      3, Options{kTimeout},
      [&](Bootstrap& b) -> int {
        b.barrier();
        if (b.rank() == 2) std::raise(SIGKILL);
        barrier_and_report(b, pipe);
        return 1;
      },
      &report);
  const long total_ms = elapsed_ms(start);
  pipe.close_write();
  EXPECT_EQ(code, 1);
  EXPECT_NE(report.find("rank 2 killed by signal 9 (SIGKILL)"), std::string::npos) << report;
  EXPECT_LT(total_ms, kTimeoutMs + kSlackMs) << "the survivors did not wait for their timeout";
  const auto reports = pipe.collect(2, 5s);
  for (int r : {0, 1}) {
    ASSERT_TRUE(reports.count(r)) << "rank " << r << " did not report; " << report;
    const auto& rep = reports.at(r);
    EXPECT_EQ(rep.kind, "peer_lost") << rep.message;
    EXPECT_NE(rep.message.find("rank 2 ("), std::string::npos) << rep.message;
    EXPECT_NE(rep.message.find("lost"), std::string::npos) << rep.message;
    EXPECT_NE(rep.message.find("during barrier"), std::string::npos) << rep.message;
    EXPECT_LT(rep.elapsed_ms, kTimeoutMs + kSlackMs) << rep.message;
  }
}

TEST(RankFailure, LostRankZeroIsNamedByThePeer) {
  ReportPipe pipe;
  std::string report;
  run_local(
      2, Options{kTimeout},
      [&](Bootstrap& b) -> int {
        b.barrier();
        if (b.rank() == 0) std::raise(SIGKILL);
        barrier_and_report(b, pipe);
        return 1;
      },
      &report);
  pipe.close_write();
  const auto reports = pipe.collect(1, 5s);
  ASSERT_TRUE(reports.count(1)) << report;
  const auto& rep = reports.at(1);
  EXPECT_EQ(rep.kind, "peer_lost") << rep.message;
  EXPECT_NE(rep.message.find("rank 0 ("), std::string::npos) << rep.message;
  EXPECT_NE(rep.message.find("lost"), std::string::npos) << rep.message;
  EXPECT_LT(rep.elapsed_ms, kTimeoutMs + kSlackMs) << rep.message;
}

// Forks `n` ranks that each run connect_side_channel and then `body`.
std::vector<pid_t> spawn_ranks(Children& kids, int n, const std::function<void(Bootstrap&)>& body,
                               std::chrono::milliseconds timeout) {
  net::Fd listener = net::listen_on(net::HostPort{"127.0.0.1", 0});
  const std::string address = net::local_address(listener.get());
  const std::string secret = generate_secret();
  std::vector<pid_t> pids;
  for (int r = 0; r < n; ++r) {
    pids.push_back(kids.spawn([&, r]() -> int {
      SideChannelConfig config;
      config.rank = r;
      config.size = n;
      config.root_address = address;
      config.secret = secret;
      config.options.timeout = timeout;
      config.listen_fd = r == 0 ? listener.release() : -1;
      listener.reset();  // only rank 0 keeps the listening socket
      auto b = connect_side_channel(config);
      body(*b);
      return 0;
    }));
  }
  return pids;
}

TEST(RankFailure, SilentRankTimesOutAndIsNamed) {
  ReportPipe pipe;
  Children kids;
  const auto pids = spawn_ranks(
      kids, 3,
      [&](Bootstrap& b) {
        b.barrier();
        if (b.rank() == 2) std::raise(SIGSTOP);  // alive, connected, silent
        barrier_and_report(b, pipe);
      },
      kTimeout);
  pipe.close_write();
  const auto reports = pipe.collect(2, std::chrono::milliseconds(kTimeoutMs + kSlackMs + 2'000));
  ::kill(pids[2], SIGKILL);
  for (int r : {0, 1}) {
    ASSERT_TRUE(reports.count(r)) << "rank " << r << " did not report in time";
    const auto& rep = reports.at(r);
    EXPECT_EQ(rep.kind, "timeout") << rep.message;
    EXPECT_NE(rep.message.find("rank 2 ("), std::string::npos) << rep.message;
    EXPECT_NE(rep.message.find("did not answer"), std::string::npos) << rep.message;
    EXPECT_GE(rep.elapsed_ms, kTimeoutMs - 100) << "not before the timeout";
    EXPECT_LT(rep.elapsed_ms, kTimeoutMs + kSlackMs) << rep.message;
  }
  for (pid_t pid : pids) EXPECT_NE(kids.wait(pid, 10s), -1);
}

// A collective after a failure throws the same error at once.
TEST(RankFailure, FailureIsSticky) {
  ReportPipe pipe;
  Children kids;
  const auto pids = spawn_ranks(
      kids, 2,
      [&](Bootstrap& b) {
        b.barrier();
        if (b.rank() == 1) std::raise(SIGKILL);
        try {
          b.barrier();
        } catch (const core::Error&) {
        }
        const auto start = Clock::now();
        try {
          b.allgather("again");
          pipe.send(0, "none", elapsed_ms(start), "");
        } catch (const core::Error& e) {
          pipe.send(0, kind_name(e.kind()), elapsed_ms(start), e.what());
        }
      },
      kTimeout);
  pipe.close_write();
  const auto reports = pipe.collect(1, 8s);
  ASSERT_TRUE(reports.count(0));
  EXPECT_EQ(reports.at(0).kind, "peer_lost");
  EXPECT_NE(reports.at(0).message.find("during barrier"), std::string::npos)
      << "the first error is kept: " << reports.at(0).message;
  EXPECT_LT(reports.at(0).elapsed_ms, 500);
  for (pid_t pid : pids) EXPECT_NE(kids.wait(pid, 10s), -1);
}

struct Ranks {
  net::Fd listener = net::listen_on(net::HostPort{"127.0.0.1", 0});
  std::string address = net::local_address(listener.get());
  std::string secret = generate_secret();

  SideChannelConfig config(int rank, int size, std::chrono::milliseconds timeout) {
    SideChannelConfig c;
    c.rank = rank;
    c.size = size;
    c.root_address = address;
    c.secret = secret;
    c.options.timeout = timeout;
    if (rank == 0) c.listen_fd = listener.release();
    return c;
  }
};

TEST(RankFailure, RankThatNeverJoinsIsNamed) {
  Ranks ranks;
  std::string root_error;
  std::string peer_error;
  core::ErrorKind peer_kind = core::ErrorKind::runtime;
  const auto start = Clock::now();
  std::thread root([&] {
    try {
      open_side_channel(ranks.config(0, 3, 1s));
    } catch (const core::Error& e) {
      root_error = e.what();
    }
  });
  std::thread peer([&] {
    try {
      open_side_channel(ranks.config(1, 3, 1s));
    } catch (const core::Error& e) {
      peer_error = e.what();
      peer_kind = e.kind();
    }
  });
  root.join();
  peer.join();
  EXPECT_NE(root_error.find("rank 2 never joined"), std::string::npos) << root_error;
  EXPECT_EQ(peer_error, root_error) << "rank 0 passes its verdict on";
  EXPECT_EQ(peer_kind, core::ErrorKind::timeout);
  EXPECT_LT(elapsed_ms(start), 1'000 + kSlackMs);
}

TEST(RankFailure, PeerGivesUpWhenRankZeroNeverListens) {
  net::Fd reserved = net::listen_on(net::HostPort{"127.0.0.1", 0});
  const std::string address = net::local_address(reserved.get());
  reserved.reset();  // nobody listens there now
  SideChannelConfig config;
  config.rank = 1;
  config.size = 2;
  config.root_address = address;
  config.secret = "s";
  config.options.timeout = 500ms;
  const auto start = Clock::now();
  try {
    open_side_channel(config);
    FAIL() << "joined nobody";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::timeout);
    EXPECT_NE(std::string(e.what()).find("could not join rank 0 at " + address), std::string::npos)
        << e.what();
  }
  EXPECT_LT(elapsed_ms(start), 500 + kSlackMs);
}

TEST(RankFailure, CollectiveMismatchFailsBothRanks) {
  Ranks ranks;
  std::string errors[2];
  std::thread root([&] {
    try {
      auto b = open_side_channel(ranks.config(0, 2, 2s));
      b->barrier();
    } catch (const core::Error& e) {
      errors[0] = e.what();
    }
  });
  std::thread peer([&] {
    try {
      auto b = open_side_channel(ranks.config(1, 2, 2s));
      b->allgather("x");
    } catch (const core::Error& e) {
      errors[1] = e.what();
    }
  });
  root.join();
  peer.join();
  for (const auto& e : errors) {
    EXPECT_NE(e.find("collective mismatch"), std::string::npos) << e;
    EXPECT_NE(e.find("allgather"), std::string::npos) << e;
  }
}

// abort() from another thread wakes a collective blocked on this rank.
TEST(RankFailure, AbortFromAnotherThreadWakesABlockedCollective) {
  Ranks ranks;
  std::unique_ptr<SideChannel> root_channel;
  std::unique_ptr<SideChannel> peer_channel;
  std::thread root([&] { root_channel = open_side_channel(ranks.config(0, 2, 5s)); });
  std::thread peer([&] { peer_channel = open_side_channel(ranks.config(1, 2, 5s)); });
  root.join();
  peer.join();
  ASSERT_TRUE(root_channel && peer_channel);

  std::string root_error;
  const auto start = Clock::now();
  std::thread blocked([&] {
    try {
      root_channel->barrier();  // rank 1 never comes
    } catch (const core::Error& e) {
      root_error = e.what();
    }
  });
  std::this_thread::sleep_for(200ms);
  root_channel->abort("operator pressed stop");
  blocked.join();
  EXPECT_LT(elapsed_ms(start), 5'000) << "woken before the timeout";
  EXPECT_NE(root_error.find("aborted: operator pressed stop"), std::string::npos) << root_error;
  EXPECT_TRUE(root_channel->failed());
  try {
    peer_channel->barrier();
    FAIL() << "the peer did not hear the abort";
  } catch (const core::Error& e) {
    EXPECT_EQ(std::string(e.what()), root_error);
  }
}

// A rank that destroys its channel while another still waits is reported, not waited for.
TEST(RankFailure, RankThatFinishedEarlyIsReported) {
  Ranks ranks;
  std::unique_ptr<SideChannel> root_channel;
  std::unique_ptr<SideChannel> peer_channel;
  std::thread root([&] { root_channel = open_side_channel(ranks.config(0, 2, 5s)); });
  std::thread peer([&] { peer_channel = open_side_channel(ranks.config(1, 2, 5s)); });
  root.join();
  peer.join();
  peer_channel.reset();
  const auto start = Clock::now();
  try {
    root_channel->barrier();
    FAIL() << "barrier without rank 1 succeeded";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::peer_lost);
    EXPECT_NE(std::string(e.what()).find("rank 1 ("), std::string::npos) << e.what();
  }
  EXPECT_LT(elapsed_ms(start), 1'000);
}

}  // namespace
}  // namespace fabricbench::bootstrap
