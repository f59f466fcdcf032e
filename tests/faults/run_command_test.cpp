// run_command: exit codes, output capture, the 4 KiB cap, the timeout, timestamps, descriptors.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "harness/faults/injector.hpp"
#include "test_support.hpp"

namespace fabricbench::faults {
namespace {

using testing::kSecond;

TEST(RunCommand, ReportsExitCodes) {
  EXPECT_EQ(run_command("true", {"true"}, 10 * kSecond).exit_code, 0);
  EXPECT_TRUE(run_command("true", {"true"}, 10 * kSecond).ok());
  EXPECT_EQ(run_command("false", {"false"}, 10 * kSecond).exit_code, 1);
  EXPECT_EQ(run_command("exit 7", {"/bin/sh", "-c", "exit 7"}, 10 * kSecond).exit_code, 7);
  // Killed by a signal: 128 + signal number, like a shell.
  EXPECT_EQ(run_command("kill", {"/bin/sh", "-c", "kill -TERM $$"}, 10 * kSecond).exit_code,
            128 + 15);
}

TEST(RunCommand, CapturesStdoutAndStderr) {
  const auto r =
      run_command("echo", {"/bin/sh", "-c", "echo to-out; echo to-err >&2"}, 10 * kSecond);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("to-out"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("to-err"), std::string::npos) << r.output;
  EXPECT_EQ(r.what, "echo");
  ASSERT_EQ(r.argv.size(), 3u);
  EXPECT_EQ(r.argv[0], "/bin/sh");
}

TEST(RunCommand, KeepsAtMost4KiBOfOutputAndReadsTheRest) {
  // 1 MB of output: the command must not block on a full pipe; 4096 bytes are kept.
  const auto r = run_command("lots", {"/bin/sh", "-c", "head -c 1000000 /dev/zero | tr '\\000' x"},
                             10 * kSecond);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output.size(), 4096u);
  EXPECT_EQ(r.output.find_first_not_of('x'), std::string::npos);
}

TEST(RunCommand, MissingProgramDoesNotThrow) {
  ActionRecord r;
  EXPECT_NO_THROW(r = run_command("missing", {"/nonexistent/fabricbench-no-such-tool"}, kSecond));
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.output.empty());
  EXPECT_EQ(run_command("empty", {}, kSecond).exit_code, -1);
  EXPECT_EQ(run_command("not in PATH", {"fabricbench-no-such-tool-xyz"}, kSecond).exit_code, -1);
}

TEST(RunCommand, TimeoutKillsTheWholeProcessGroup) {
  testing::TempDir dir;
  const std::string pidfile = dir.file("bg.pid");
  // A background sleep in the command's process group, and the command itself sleeping.
  const auto r = run_command(
      "sleeper", {"/bin/sh", "-c", "sleep 30 & echo $! > " + pidfile + "; sleep 30"}, 300'000'000);
  EXPECT_EQ(r.exit_code, 124);
  EXPECT_FALSE(r.ok());
  EXPECT_LT(r.mono_end_ns - r.mono_start_ns, 10 * kSecond);  // killed, not waited for
  std::ifstream in(pidfile);
  int bg = 0;
  ASSERT_TRUE(in >> bg) << "no pid file";
  EXPECT_TRUE(
      testing::wait_for([bg] { return testing::process_gone(bg); }, std::chrono::seconds(5)))
      << "background process " << bg << " survived the timeout";
  if (!testing::process_gone(bg)) ::kill(bg, SIGKILL);
}

TEST(RunCommand, DoesNotWaitForABackgroundProcessHoldingTheOutput) {
  // The command exits at once; a background sleep keeps the pipe open for 3 s.
  const auto r = run_command("bg", {"/bin/sh", "-c", "sleep 3 & echo $!; echo done"}, 20 * kSecond);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("done"), std::string::npos);
  EXPECT_LT(r.mono_end_ns - r.mono_start_ns, 2 * kSecond);
  const int bg = std::atoi(r.output.c_str());
  if (bg > 1) ::kill(bg, SIGKILL);
}

TEST(RunCommand, RecordsWallAndMonotonicTimes) {
  const std::uint64_t mono_before = core::now_ns();
  const std::uint64_t wall_before = core::wall_clock_ns();
  const auto r = run_command("sleep", {"/bin/sh", "-c", "sleep 0.05"}, 10 * kSecond);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_GE(r.mono_start_ns, mono_before);
  EXPECT_GE(r.mono_end_ns, r.mono_start_ns + 40'000'000);
  EXPECT_LE(r.mono_end_ns, core::now_ns());
  EXPECT_GE(r.wall_start_ns, wall_before - kSecond);
  EXPECT_GE(r.wall_end_ns, r.wall_start_ns);
}

TEST(RunCommand, PassesNoOtherDescriptor) {
  const int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaked, 0);
  const auto r = run_command("fds", {"/bin/sh", "-c", "ls /proc/$$/fd"}, 10 * kSecond);
  ::close(leaked);
  EXPECT_EQ(r.exit_code, 0);
  std::istringstream in(r.output);
  int fd = 0;
  while (in >> fd) EXPECT_LE(fd, 3) << r.output;  // 0-2, and ls's own directory fd
}

}  // namespace
}  // namespace fabricbench::faults
