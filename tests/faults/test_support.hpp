#pragma once
// Helpers of the fault tests: forked children that are always killed and reaped, bounded waits,
// a guard that puts the calling thread back into its network namespace, temporary directories.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness/faults/injector.hpp"

namespace fabricbench::faults::testing {

constexpr std::uint64_t kSecond = 1'000'000'000ULL;

// Polls `pred` every 20 ms until it holds or `timeout` passes; returns its last value.
inline bool wait_for(const std::function<bool()>& pred,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

inline bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// True once `pid` has exited (gone, or a zombie nobody reaps: pid 1 here may not reap).
inline bool process_gone(int pid) {
  if (pid <= 0) return true;
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content;
  std::getline(stat, content);
  const auto paren = content.rfind(')');
  if (paren == std::string::npos || paren + 2 >= content.size()) return true;
  return content[paren + 2] == 'Z' || content[paren + 2] == 'X';
}

// Output of a shell command (run_command, 10 s bound).
inline ActionRecord sh(const std::string& command) {
  return run_command("test", {"/bin/sh", "-c", command}, 10 * kSecond);
}

inline bool netns_exists(const std::string& name) {
  return file_exists("/run/netns/" + name);
}

// A forked child running `body` (its return value is the exit status; it never returns into
// the test). The destructor kills and reaps it if it still runs.
class Child {
 public:
  explicit Child(const std::function<int()>& body) {
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      int rc = 99;
      try {
        rc = body();
      } catch (...) {
        rc = 98;
      }
      ::_exit(rc);
    }
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  void kill9() {
    if (pid_ > 0 && !reaped_) ::kill(pid_, SIGKILL);
  }
  // Exit status as waitpid gives it (blocking).
  int wait() {
    if (reaped_ || pid_ <= 0) return status_;
    while (::waitpid(pid_, &status_, 0) < 0) {
      if (errno != EINTR) break;
    }
    reaped_ = true;
    return status_;
  }
  // Waits up to `timeout` for the child to exit; nullopt if it still runs.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout) {
    const bool done = faults::testing::wait_for(
        [this] {
          if (reaped_) return true;
          if (::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
          return reaped_;
        },
        timeout);
    if (!done) return std::nullopt;
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
};

// A pipe through which a child sends one line to the test.
class LinePipe {
 public:
  LinePipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) fds_[0] = fds_[1] = -1;
  }
  ~LinePipe() {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  LinePipe(const LinePipe&) = delete;
  LinePipe& operator=(const LinePipe&) = delete;
  void send(const std::string& line) const {
    const std::string text = line + "\n";
    (void)!::write(fds_[1], text.data(), text.size());
  }
  // The line (without newline), or nullopt after `timeout` / end of file.
  std::optional<std::string> receive(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    if (fds_[1] >= 0) {  // the test's copy of the write end: EOF once the child is gone
      ::close(fds_[1]);
      fds_[1] = -1;
    }
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds_[0], POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char c = 0;
      const ssize_t n = ::read(fds_[0], &c, 1);
      if (n <= 0) return std::nullopt;
      if (c == '\n') return line;
      line += c;
    }
    return std::nullopt;
  }

 private:
  int fds_[2];
};

// Puts the calling thread back into the network namespace it was in at construction.
class NetnsGuard {
 public:
  NetnsGuard() : fd_(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {}
  ~NetnsGuard() {
    if (fd_ >= 0) {
      (void)::setns(fd_, CLONE_NEWNET);
      ::close(fd_);
    }
  }
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  int fd_;
};

// Deletes namespaces by name at scope exit (after killing what runs in them): the safety net
// when a test fails half-way or a child created them.
class NetnsReaper {
 public:
  void add(const std::string& name) { names_.push_back(name); }
  ~NetnsReaper() {
    for (const auto& n : names_) {
      if (!netns_exists(n)) continue;
      sh("for p in $(ip netns pids " + n + " 2>/dev/null); do kill -9 $p; done; ip netns del " + n);
    }
  }

 private:
  std::vector<std::string> names_;
};

// A fresh directory under /tmp, removed with its content.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/fb-faults-test-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (!path_.empty()) sh("rm -rf '" + path_ + "'");
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The NetnsFabric, or the reason it cannot be had here (the caller GTEST_SKIPs with it).
struct FabricOrReason {
  std::unique_ptr<NetnsFabric> fabric;
  std::string reason;
};
inline FabricOrReason try_fabric(Watchdog& watchdog, double link_rate_bits_per_s = 0) {
  FabricOrReason out;
  try {
    out.fabric = NetnsFabric::create(watchdog, 1500, link_rate_bits_per_s);
  } catch (const core::Error& e) {
    if (e.kind() != core::ErrorKind::unavailable) throw;
    out.reason = e.what();
  }
  return out;
}

}  // namespace fabricbench::faults::testing
