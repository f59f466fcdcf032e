// Watchdog: restores and cleanups after kill -9 of the starter (and of its process group), the
// normal end through the destructor, descriptors and session of the watchdog, forked children.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "harness/faults/injector.hpp"
#include "test_support.hpp"

namespace fabricbench::faults {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Child;
using testing::file_exists;
using testing::LinePipe;
using testing::process_gone;
using testing::TempDir;
using testing::wait_for;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all;
}

std::vector<std::string> append(const std::string& file, const std::string& word) {
  return {"/bin/sh", "-c", "echo " + word + " >> " + file};
}

// Kills a watchdog left behind by a failed test.
struct WatchdogReaper {
  int pid = -1;
  ~WatchdogReaper() {
    if (pid > 1 && !process_gone(pid)) ::kill(pid, SIGKILL);
  }
};

// The child starts a watchdog, registers restores and cleanups, reports the watchdog's pid and
// waits to be killed. `own_group`: the child leads its own process group and the test kills the
// whole group.
void kill_starter_and_check(bool own_group) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string log = dir.file("log");
  LinePipe pipe;
  Child child([&] {
    if (own_group) ::setpgid(0, 0);
    auto wd = Watchdog::start();
    wd->add_restore("gone", append(log, "removed-restore"));
    wd->add_restore("r1", append(log, "restore1"));
    wd->add_restore("r2", append(log, "restore2"));
    wd->remove_restore("gone");
    wd->add_cleanup(append(log, "cleanup1"));
    wd->add_cleanup(append(log, "cleanup2"));
    pipe.send(std::to_string(wd->pid()));
    for (;;) ::pause();
    return 0;
  });
  ASSERT_TRUE(child.started());
  const auto line = pipe.receive();
  ASSERT_TRUE(line.has_value()) << "the child did not report";
  WatchdogReaper reaper{std::atoi(line->c_str())};
  ASSERT_GT(reaper.pid, 1);
  EXPECT_FALSE(process_gone(reaper.pid));
  EXPECT_FALSE(file_exists(log));  // nothing runs while the starter lives

  if (own_group) {
    ASSERT_EQ(::kill(-child.pid(), SIGKILL), 0);
  } else {
    child.kill9();
  }
  child.wait();
  EXPECT_TRUE(wait_for([&] { return process_gone(reaper.pid); }, seconds(10)))
      << "the watchdog did not exit";
  // Restores first, newest first; then cleanups, newest first; the removed restore never.
  EXPECT_EQ(read_file(log), "restore2\nrestore1\ncleanup2\ncleanup1\n");
}

TEST(Watchdog, RunsRestoresThenCleanupsWhenTheStarterIsKilled) {
  kill_starter_and_check(false);
}

TEST(Watchdog, SurvivesAKillOfTheStartersProcessGroup) {
  kill_starter_and_check(true);
}

TEST(Watchdog, RestoreSentJustBeforeDeathStillRuns) {
  TempDir dir;
  const std::string marker = dir.file("marker");
  LinePipe pipe;
  Child child([&] {
    auto wd = Watchdog::start();
    pipe.send(std::to_string(wd->pid()));
    wd->add_restore("last", {"/bin/sh", "-c", "touch " + marker});
    ::kill(::getpid(), SIGKILL);  // dies right after queuing it
    return 0;
  });
  const auto line = pipe.receive();
  ASSERT_TRUE(line.has_value());
  WatchdogReaper reaper{std::atoi(line->c_str())};
  child.wait();
  EXPECT_TRUE(wait_for([&] { return file_exists(marker); }, seconds(10)));
  EXPECT_TRUE(wait_for([&] { return process_gone(reaper.pid); }, seconds(10)));
}

// A shutdown or an operator's `kill` (SIGTERM) reaches the watchdog too: it restores first.
TEST(Watchdog, RestoresOnSigterm) {
  TempDir dir;
  const std::string log = dir.file("log");
  auto wd = Watchdog::start();
  WatchdogReaper reaper{wd->pid()};
  wd->add_restore("link", append(log, "restored"));
  wd->add_cleanup(append(log, "cleaned"));
  ASSERT_EQ(::kill(wd->pid(), SIGTERM), 0);
  EXPECT_TRUE(wait_for([&] { return process_gone(reaper.pid); }, seconds(20)));
  EXPECT_EQ(read_file(log), "restored\ncleaned\n");
}

// A restore gets the timeout the file configures (injector.command_timeout), not a fixed 10 s: a
// restore that takes 11 s still completes under a 30 s timeout.
TEST(Watchdog, RestoreRunsWithItsOwnTimeout) {
  TempDir dir;
  const std::string marker = dir.file("marker");
  auto wd = Watchdog::start();
  WatchdogReaper reaper{wd->pid()};
  wd->add_restore("slow", {"/bin/sh", "-c", "sleep 11 && touch " + marker}, 30'000'000'000ULL);
  wd.reset();  // waits for the restore, bounded by its own timeout
  EXPECT_TRUE(file_exists(marker));
}

TEST(Watchdog, DestructorRunsCleanupsAndWaitsForThem) {
  TempDir dir;
  const std::string log = dir.file("log");
  auto wd = Watchdog::start();
  WatchdogReaper reaper{wd->pid()};
  wd->add_restore("k1", append(log, "removed"));
  wd->add_restore("k2", append(log, "restore"));
  wd->add_restore("k2", append(log, "replaced-restore"));  // same key: replaces
  wd->remove_restore("k1");
  wd->add_cleanup(append(log, "cleanup"));
  EXPECT_FALSE(file_exists(log));
  wd.reset();
  // Done when the destructor returns, not some time later.
  EXPECT_EQ(read_file(log), "replaced-restore\ncleanup\n");
  EXPECT_TRUE(wait_for([&] { return process_gone(reaper.pid); }, seconds(2)));
}

TEST(Watchdog, HoldsNoInheritedDescriptorAndRunsInItsOwnSession) {
  const int leaked_file = ::open("/dev/null", O_RDONLY);  // without O_CLOEXEC on purpose
  const int leaked_socket = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(leaked_file, 0);
  ASSERT_GE(leaked_socket, 0);
  auto wd = Watchdog::start();
  ::close(leaked_file);
  ::close(leaked_socket);
  WatchdogReaper reaper{wd->pid()};
  const std::string fd_dir = "/proc/" + std::to_string(wd->pid()) + "/fd";
  std::set<int> fds;
  std::map<int, std::string> targets;
  const auto listing = testing::sh("ls " + fd_dir);
  ASSERT_TRUE(listing.ok()) << listing.output;
  std::istringstream in(listing.output);
  int fd = 0;
  while (in >> fd) {
    fds.insert(fd);
    char buf[PATH_MAX] = {};
    const std::string link = fd_dir + "/" + std::to_string(fd);
    const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    targets[fd] = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
  }
  // stdin/stdout/stderr on /dev/null, the command socket, the starter's pidfd, its SIGTERM
  // signalfd: nothing else.
  EXPECT_EQ(fds, (std::set<int>{0, 1, 2, 3, 4, 6})) << listing.output;
  EXPECT_NE(targets[6].find("signalfd"), std::string::npos) << targets[6];
  for (int i = 0; i < 3; ++i) EXPECT_EQ(targets[i], "/dev/null") << i;
  EXPECT_NE(targets[3].find("socket:"), std::string::npos) << targets[3];
  EXPECT_NE(targets[4].find("pidfd"), std::string::npos) << targets[4];
  // Own session and process group, not ours; named for ps.
  EXPECT_NE(::getsid(wd->pid()), ::getsid(0));
  EXPECT_NE(::getpgid(wd->pid()), ::getpgrp());
  std::ifstream comm("/proc/" + std::to_string(wd->pid()) + "/comm");
  std::string name;
  std::getline(comm, name);
  EXPECT_EQ(name, "fb-watchdog");
  // Its working directory is /, so it keeps no directory busy.
  char cwd[PATH_MAX] = {};
  const std::string cwd_link = "/proc/" + std::to_string(wd->pid()) + "/cwd";
  ASSERT_GT(::readlink(cwd_link.c_str(), cwd, sizeof cwd - 1), 0);
  EXPECT_STREQ(cwd, "/");
}

TEST(Watchdog, AForkedChildCannotTalkToItNorEndIt) {
  TempDir dir;
  const std::string log = dir.file("log");
  auto wd = Watchdog::start();
  WatchdogReaper reaper{wd->pid()};
  Child child([&] {
    int rc = 0;
    try {
      wd->add_cleanup(append(log, "from-child"));
      rc = 1;  // must have thrown
    } catch (const core::Error& e) {
      if (e.kind() != core::ErrorKind::runtime) rc = 2;
    }
    wd.reset();  // the child's copy: must not finish the watchdog
    return rc;
  });
  const auto status = child.wait_for_exit(seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_FALSE(process_gone(wd->pid())) << "a child's destructor ended the watchdog";
  EXPECT_FALSE(file_exists(log));
  wd->add_cleanup(append(log, "from-starter"));
  wd.reset();
  EXPECT_EQ(read_file(log), "from-starter\n");
}

TEST(Watchdog, RefusesEmptyCommands) {
  auto wd = Watchdog::start();
  WatchdogReaper reaper{wd->pid()};
  EXPECT_THROW(wd->add_restore("", {"true"}), std::invalid_argument);
  EXPECT_THROW(wd->add_restore("k", {}), std::invalid_argument);
  EXPECT_THROW(wd->add_cleanup({}), std::invalid_argument);
}

TEST(Watchdog, ReportsAWatchdogThatIsGone) {
  auto wd = Watchdog::start();
  const int pid = wd->pid();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(wait_for([&] { return process_gone(pid); }, seconds(5)));
  try {
    wd->add_cleanup({"true"});
    FAIL() << "no exception";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::runtime);
  }
  wd.reset();  // must not hang or throw
}

}  // namespace
}  // namespace fabricbench::faults
