// The local launcher: ranks forked on this host agree through the side channel.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "harness/bootstrap/launchers.hpp"
#include "tests/bootstrap/test_support.hpp"

namespace fabricbench::bootstrap {
namespace {

using namespace std::chrono_literals;
using testing::Clock;
using testing::elapsed_ms;
using testing::ReportPipe;

// Bytes 0..255 (NUL and high bytes included), varied by rank, `size` long.
std::string binary_payload(int rank, std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    out[i] = static_cast<char>((i * 131 + static_cast<std::size_t>(rank) * 7) & 0xff);
  }
  return out;
}

// Checks every collective; returns 0 or the number of the first check that failed (the child's
// exit code, also printed to stderr).
int exercise_collectives(Bootstrap& b) {
  const int n = b.size();
  const int me = b.rank();
  const auto fail = [me](int check, const std::string& what) {
    std::fprintf(stderr, "rank %d: check %d failed: %s\n", me, check, what.c_str());
    return check;
  };
  if (b.launcher() != "local") return fail(10, "launcher is " + b.launcher());
  if (me < 0 || me >= n) return fail(11, "rank out of range");
  b.barrier();

  const auto names = b.allgather("rank-" + std::to_string(me));
  if (names.size() != static_cast<std::size_t>(n)) return fail(12, "allgather size");
  for (int r = 0; r < n; ++r) {
    if (names[static_cast<std::size_t>(r)] != "rank-" + std::to_string(r)) {
      return fail(
          13, "allgather entry " + std::to_string(r) + " is " + names[static_cast<std::size_t>(r)]);
    }
  }

  const auto binary = b.allgather(binary_payload(me, 300 + static_cast<std::size_t>(me)));
  for (int r = 0; r < n; ++r) {
    if (binary[static_cast<std::size_t>(r)] !=
        binary_payload(r, 300 + static_cast<std::size_t>(r))) {
      return fail(14, "binary allgather entry " + std::to_string(r));
    }
  }

  // Empty contributions are kept, not dropped.
  const auto empties = b.allgather(me % 2 == 0 ? std::string() : std::string("x"));
  for (int r = 0; r < n; ++r) {
    if (empties[static_cast<std::size_t>(r)] != (r % 2 == 0 ? "" : "x")) return fail(15, "empty");
  }

  const std::string from_zero =
      b.broadcast(0, me == 0 ? std::string("plan\0with NUL", 13) : std::string("ignored"));
  if (from_zero != std::string("plan\0with NUL", 13)) return fail(16, "broadcast from 0");

  const int last = n - 1;
  const std::string mib = binary_payload(last, 1 << 20);
  const std::string from_last = b.broadcast(last, me == last ? mib : std::string());
  if (from_last != mib) return fail(17, "1 MiB broadcast from the last rank");

  const auto big = b.allgather(binary_payload(me, 1 << 20));
  for (int r = 0; r < n; ++r) {
    if (big[static_cast<std::size_t>(r)] != binary_payload(r, 1 << 20)) {
      return fail(18, "1 MiB allgather entry " + std::to_string(r));
    }
  }

  for (int i = 0; i < 20; ++i) b.barrier();
  return 0;
}

TEST(LocalLauncher, CollectivesWithTwoRanks) {
  std::string report;
  const int code = run_local(2, Options{10s}, exercise_collectives, &report);
  EXPECT_EQ(code, 0) << report;
  EXPECT_EQ(report, "");
}

TEST(LocalLauncher, CollectivesWithFourRanks) {
  std::string report;
  const int code = run_local(4, Options{10s}, exercise_collectives, &report);
  EXPECT_EQ(code, 0) << report;
}

// Every rank knows the address its side channel runs over (loopback here, one host), the default
// for data connections; a lone rank has no path and says "".
TEST(LocalLauncher, EachRankKnowsItsSideChannelAddress) {
  std::string report;
  const int code = run_local(
      3, Options{10s}, [](Bootstrap& b) { return b.local_address() == "127.0.0.1" ? 0 : 7; },
      &report);
  EXPECT_EQ(code, 0) << report;
  EXPECT_EQ(
      run_local(1, Options{2s}, [](Bootstrap& b) { return b.local_address().empty() ? 0 : 7; }), 0);
}

// A gather leaves the contributions on rank 0 alone; the others get nothing back, and the
// collectives after it stay in step.
TEST(LocalLauncher, GatherReachesRankZeroOnly) {
  std::string report;
  const int code = run_local(
      4, Options{10s},
      [](Bootstrap& b) {
        const auto got = b.gather("r" + std::to_string(b.rank()));
        if (b.rank() == 0 && got != std::vector<std::string>{"r0", "r1", "r2", "r3"}) return 3;
        if (b.rank() != 0 && !got.empty()) return 4;
        return b.allgather("x").size() == 4 ? 0 : 5;
      },
      &report);
  EXPECT_EQ(code, 0) << report;
}

TEST(LocalLauncher, SingleRankNeedsNoPeers) {
  const int code = run_local(1, Options{2s}, [](Bootstrap& b) {
    b.barrier();
    const auto all = b.allgather("alone");
    const auto data = b.broadcast(0, "me");
    return (b.size() == 1 && all == std::vector<std::string>{"alone"} && data == "me") ? 0 : 5;
  });
  EXPECT_EQ(code, 0);
}

TEST(LocalLauncher, ReportsNonZeroExitCodesAndReturnsTheWorst) {
  std::string report;
  const int code = run_local(
      3, Options{5s},
      [](Bootstrap& b) {
        b.barrier();
        return b.rank() == 1 ? 3 : (b.rank() == 2 ? 2 : 0);
      },
      &report);
  EXPECT_EQ(code, 3);
  EXPECT_NE(report.find("rank 1 exited with code 3"), std::string::npos) << report;
  EXPECT_NE(report.find("rank 2 exited with code 2"), std::string::npos) << report;
  EXPECT_EQ(report.find("rank 0"), std::string::npos) << report;
}

TEST(LocalLauncher, AnExceptionInARankExitsWithOne) {
  std::string report;
  const int code = run_local(
      2, Options{5s},
      [](Bootstrap& b) -> int {
        b.barrier();
        if (b.rank() == 1) throw core::Error(core::ErrorKind::runtime, "deliberate failure");
        return 0;
      },
      &report);
  EXPECT_EQ(code, 1);
  EXPECT_NE(report.find("rank 1 exited with code 1"), std::string::npos) << report;
}

TEST(LocalLauncher, RejectsBadArguments) {
  const auto body = [](Bootstrap&) { return 0; };
  EXPECT_THROW(run_local(0, Options{1s}, body), core::Error);
  EXPECT_THROW(run_local(2, Options{0ms}, body), core::Error);
}

// A rank that dies stops the others quickly with the grace period's kill as the backstop: a rank
// that hangs in its body (never calling a collective) is killed after timeout + 5 s.
TEST(LocalLauncher, KillsARankThatHangsAfterAnotherFailed) {
  std::string report;
  const auto start = Clock::now();
  const int code = run_local(
      2, Options{500ms},
      [](Bootstrap& b) -> int {
        b.barrier();
        if (b.rank() == 1) return 4;
        ::pause();  // never returns by itself
        return 0;
      },
      &report);
  const long ms = elapsed_ms(start);
  EXPECT_EQ(code, 4);
  EXPECT_NE(report.find("rank 1 exited with code 4"), std::string::npos) << report;
  EXPECT_NE(report.find("rank 0 killed by signal 9 (SIGKILL)"), std::string::npos) << report;
  EXPECT_GE(ms, 5'000) << "the grace period is timeout + 5 s";
  EXPECT_LT(ms, 5'500 + 5'000) << "killed within the grace period plus slack";
}

// SIGTERM to the launcher reaches every rank, which can still finish cleanly.
TEST(LocalLauncher, ForwardsSigtermToTheRanks) {
  ReportPipe pipe;
  std::string report;
  const pid_t launcher = ::getpid();
  const int code = run_local(
      2, Options{5s},
      [&](Bootstrap& b) -> int {
        static volatile std::sig_atomic_t got = 0;
        std::signal(SIGTERM, [](int) { got = 1; });
        b.barrier();
        if (b.rank() == 0) ::kill(launcher, SIGTERM);
        const auto start = Clock::now();
        while (got == 0 && elapsed_ms(start) < 5'000) ::usleep(1'000);
        pipe.send(b.rank(), got != 0 ? "got" : "missed", elapsed_ms(start), "");
        return got != 0 ? 0 : 6;
      },
      &report);
  pipe.close_write();
  EXPECT_EQ(code, 0) << report;
  EXPECT_NE(report.find("interrupted by SIGTERM"), std::string::npos) << report;
  const auto reports = pipe.collect(2, 5s);
  ASSERT_EQ(reports.size(), 2u);
  for (const auto& [rank, r] : reports) EXPECT_EQ(r.kind, "got") << "rank " << rank;
}

// abort() on one rank makes every other rank fail with its reason, before their timeout.
TEST(LocalLauncher, AbortReachesEveryRank) {
  ReportPipe pipe;
  std::string report;
  run_local(
      3, Options{4s},
      [&](Bootstrap& b) -> int {
        b.barrier();
        const auto start = Clock::now();
        if (b.rank() == 1) {
          b.abort("the disk is full");
          pipe.send(1, "aborted", elapsed_ms(start), "");
          return 1;
        }
        try {
          b.barrier();
          pipe.send(b.rank(), "none", elapsed_ms(start), "barrier succeeded");
        } catch (const core::Error& e) {
          pipe.send(b.rank(), testing::kind_name(e.kind()), elapsed_ms(start), e.what());
        }
        return 1;
      },
      &report);
  pipe.close_write();
  const auto reports = pipe.collect(3, 10s);
  for (int r : {0, 2}) {
    ASSERT_TRUE(reports.count(r)) << "rank " << r << " did not report; " << report;
    const auto& rep = reports.at(r);
    EXPECT_EQ(rep.kind, "runtime") << rep.message;
    EXPECT_NE(rep.message.find("rank 1 ("), std::string::npos) << rep.message;
    EXPECT_NE(rep.message.find("aborted: the disk is full"), std::string::npos) << rep.message;
    EXPECT_LT(rep.elapsed_ms, 4'000) << "before the timeout";
  }
}

}  // namespace
}  // namespace fabricbench::bootstrap
