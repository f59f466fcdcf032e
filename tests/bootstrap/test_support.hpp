#pragma once
// Helpers of the bootstrap tests: forked children that are always reaped, and a pipe through
// which children report what they saw.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace fabricbench::bootstrap::testing {

using Clock = std::chrono::steady_clock;

inline long elapsed_ms(Clock::time_point since) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count());
}

inline const char* kind_name(core::ErrorKind kind) {
  switch (kind) {
    case core::ErrorKind::config:
      return "config";
    case core::ErrorKind::usage:
      return "usage";
    case core::ErrorKind::unavailable:
      return "unavailable";
    case core::ErrorKind::runtime:
      return "runtime";
    case core::ErrorKind::peer_lost:
      return "peer_lost";
    case core::ErrorKind::timeout:
      return "timeout";
  }
  return "?";
}

// What one child saw, sent to the test process as one line "rank|kind|elapsed_ms|message".
struct Report {
  int rank = -1;
  std::string kind;
  long elapsed_ms = -1;
  std::string message;
};

class ReportPipe {
 public:
  ReportPipe() {
    if (::pipe(fds_) != 0) fds_[0] = fds_[1] = -1;
  }
  ~ReportPipe() {
    close_write();
    if (fds_[0] >= 0) ::close(fds_[0]);
  }
  ReportPipe(const ReportPipe&) = delete;
  ReportPipe& operator=(const ReportPipe&) = delete;

  // In a child. One write below PIPE_BUF is atomic.
  void send(int rank, const std::string& kind, long ms, std::string message) const {
    for (char& ch : message) {
      if (ch == '\n' || ch == '|') ch = ' ';
    }
    std::string line = std::to_string(rank) + "|" + kind + "|" + std::to_string(ms) + "|" +
                       message.substr(0, 3000) + "\n";
    if (::write(fds_[1], line.data(), line.size()) < 0) {
      // the test will report the missing line
    }
  }

  // In the test process, after forking.
  void close_write() {
    if (fds_[1] >= 0) ::close(fds_[1]);
    fds_[1] = -1;
  }

  // Reads until `count` reports arrived, every writer closed, or `limit` passed.
  std::map<int, Report> collect(std::size_t count, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    std::map<int, Report> out;
    while (out.size() < count) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;
      pollfd pfd{fds_[0], POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(fds_[0], buf, sizeof buf);
      if (n <= 0) break;
      pending_.append(buf, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = pending_.find('\n')) != std::string::npos) {
        const std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        Report r;
        const auto a = line.find('|');
        const auto b = line.find('|', a + 1);
        const auto c = line.find('|', b + 1);
        if (a == std::string::npos || b == std::string::npos || c == std::string::npos) continue;
        r.rank = std::stoi(line.substr(0, a));
        r.kind = line.substr(a + 1, b - a - 1);
        r.elapsed_ms = std::stol(line.substr(b + 1, c - b - 1));
        r.message = line.substr(c + 1);
        out[r.rank] = r;
      }
    }
    return out;
  }

 private:
  int fds_[2] = {-1, -1};
  std::string pending_;
};

// Forked children, killed and reaped when the test ends however it ends.
class Children {
 public:
  Children() = default;
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children() {
    for (pid_t pid : pids_) {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  }

  // Runs fn in a child, which exits with fn's value (99 on an exception).
  pid_t spawn(const std::function<int()>& fn) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      int code = 99;
      try {
        code = fn();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child: uncaught exception: %s\n", e.what());
      } catch (...) {
      }
      std::fflush(nullptr);
      ::_exit(code);
    }
    pids_.push_back(pid);
    return pid;
  }

  // The wait status of pid, or -1 if it did not end within `limit`.
  int wait(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      int status = 0;
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        for (pid_t& p : pids_) {
          if (p == pid) p = -1;
        }
        return status;
      }
      if (r < 0 || Clock::now() >= deadline) return -1;
      ::usleep(10'000);
    }
  }

 private:
  std::vector<pid_t> pids_;
};

}  // namespace fabricbench::bootstrap::testing
