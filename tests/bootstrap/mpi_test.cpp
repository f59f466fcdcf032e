// The mpi launcher under a real mpirun (skipped when built without MPI or without mpirun).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "harness/bootstrap/launchers.hpp"

namespace fabricbench::bootstrap {
namespace {

using Clock = std::chrono::steady_clock;

std::string find_in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

#ifdef FABRICBENCH_TEST_MPI_HELPER

TEST(MpiLauncher, TwoRanksUnderMpirun) {
  const std::string mpirun = find_in_path("mpirun");
  if (mpirun.empty()) GTEST_SKIP() << "mpirun is not on PATH";
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setpgid(0, 0);  // one group: a timeout kills mpirun and its ranks together
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    // Open MPI's own allocations are not ours to report.
    ::setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    ::execl(mpirun.c_str(), "mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2",
            FABRICBENCH_TEST_MPI_HELPER, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  ::close(out[1]);
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  std::string output;
  bool timed_out = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{out[0], POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  while (!timed_out && ::waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() >= deadline) {
      timed_out = true;
      break;
    }
    ::usleep(10'000);
  }
  if (timed_out) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    FAIL() << "mpirun did not finish within 60 s; output:\n" << output;
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n"
                                                             << output;
  EXPECT_NE(output.find("ok rank 0 of 2"), std::string::npos) << output;
  EXPECT_NE(output.find("ok rank 1 of 2"), std::string::npos) << output;
}

TEST(MpiLauncher, IsAvailable) {
  EXPECT_TRUE(mpi_available());
}

#else

TEST(MpiLauncher, UnavailableWithoutMpi) {
  EXPECT_FALSE(mpi_available());
  try {
    make_mpi_bootstrap(Options{});
    FAIL() << "made an mpi bootstrap without MPI";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::unavailable);
    EXPECT_NE(std::string(e.what()).find("built without MPI"), std::string::npos);
  }
}

#endif

}  // namespace
}  // namespace fabricbench::bootstrap
