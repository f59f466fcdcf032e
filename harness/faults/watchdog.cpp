// The watchdog process (see injector.hpp, class Watchdog, for the protocol and its guarantees).
//
// start() forks; the child calls setsid() and forks again; the grandchild moves its three
// descriptors to fixed numbers (3 the command socket, 4 a pidfd of the starter, 5 the start-up
// pipe), points 0-2 at /dev/null, closes everything else, chdir("/") and re-executes the running
// binary (/proc/self/exe) as "fb-watchdog" with FABRICBENCH_INTERNAL_WATCHDOG_FDS=3,4,5 in its
// environment. A constructor function of this file sees that variable before main() and runs
// watchdog_main() instead of the program. Re-executing gives a fresh, single-threaded process
// that holds none of the starter's memory (no copy-on-write cost for the benchmark, no mapping
// of its buffers); should the exec fail, the grandchild runs watchdog_main() as it is.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "harness/faults/detail.hpp"
#include "harness/faults/injector.hpp"

extern char** environ;

namespace fabricbench::faults {

namespace {

constexpr const char* kFdsVar = "FABRICBENCH_INTERNAL_WATCHDOG_FDS";
constexpr const char* kFdsValue = "3,4,5";
constexpr int kChanFd = 3;
constexpr int kStarterPidfd = 4;
constexpr int kStatusFd = 5;
constexpr std::size_t kMaxMessage = 60 * 1024;
constexpr std::uint64_t kStartTimeoutNs = 10'000'000'000ULL;

// Message opcodes: each message is one SOCK_SEQPACKET datagram "OP\0FIELD\0FIELD\0...".
constexpr const char* kOpRestore = "restore";      // key, timeout_ns, argv...
constexpr const char* kOpUnrestore = "unrestore";  // key
constexpr const char* kOpCleanup = "cleanup";      // argv...
constexpr const char* kOpFinish = "finish";        // (none)

int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

std::string encode(const std::vector<std::string>& fields) {
  std::string out;
  for (const auto& f : fields) {
    out += f;
    out += '\0';
  }
  return out;
}

std::vector<std::string> decode(const char* data, std::size_t size) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == '\0') {
      fields.emplace_back(data + start, i - start);
      start = i + 1;
    }
  }
  return fields;  // an unterminated tail is dropped
}

// ---- the watchdog process ---------------------------------------------------------------------

struct Restore {
  std::string key;
  std::uint64_t timeout_ns = 0;
  std::vector<std::string> argv;
};

struct WatchdogState {
  std::vector<Restore> restores;  // registration order
  std::vector<std::vector<std::string>> cleanups;
  bool finish = false;

  void apply(const std::vector<std::string>& msg) {
    if (msg.empty()) return;
    const std::string& op = msg[0];
    if (op == kOpRestore && msg.size() >= 4) {
      Restore r{msg[1], std::strtoull(msg[2].c_str(), nullptr, 10),
                std::vector<std::string>(msg.begin() + 3, msg.end())};
      if (r.timeout_ns == 0) r.timeout_ns = detail::kDefaultCommandTimeoutNs;
      for (auto& old : restores) {
        if (old.key == r.key) {
          old = std::move(r);
          return;
        }
      }
      restores.push_back(std::move(r));
    } else if (op == kOpUnrestore && msg.size() == 2) {
      for (auto it = restores.begin(); it != restores.end(); ++it) {
        if (it->key == msg[1]) {
          restores.erase(it);
          return;
        }
      }
    } else if (op == kOpCleanup && msg.size() >= 2) {
      cleanups.emplace_back(msg.begin() + 1, msg.end());
    } else if (op == kOpFinish) {
      finish = true;
    }
  }
};

// Receives one message; false at end of file, or when nothing is there (non-blocking).
bool receive(int fd, WatchdogState& state, int flags) {
  static char buf[kMaxMessage + 1];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, flags);
    if (n > 0) {
      state.apply(decode(buf, static_cast<std::size_t>(n)));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

// SIGTERM (a shutdown, an operator's kill) as a readable descriptor: the watchdog restores
// before it goes, as when its starter dies. -1 when it cannot be had (SIGTERM then kills).
int sigterm_fd() {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  if (::sigprocmask(SIG_SETMASK, &term, nullptr) != 0) return -1;
  const int fd = ::signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
  }
  return fd;
}

[[noreturn]] void watchdog_main(int chan, int starter_pidfd, int status_fd) {
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGQUIT, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  const int term_fd = sigterm_fd();

  const std::int32_t me = static_cast<std::int32_t>(::getpid());
  (void)!::write(status_fd, &me, sizeof me);
  ::close(status_fd);

  WatchdogState state;
  bool chan_open = true;
  while (!state.finish) {
    pollfd fds[3] = {
        {starter_pidfd, POLLIN, 0}, {chan_open ? chan : -1, POLLIN, 0}, {term_fd, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;  // cannot watch any more: restore now rather than never
    }
    if ((fds[2].revents & POLLIN) != 0) {
      // Told to go: take what the starter sent, then restore.
      while (chan_open && receive(chan, state, MSG_DONTWAIT)) {
      }
      break;
    }
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      // EOF: every copy of the starter's end is closed; keep watching the starter.
      if (!receive(chan, state, 0)) chan_open = false;
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      // The starter is gone. What it sent before dying is still queued: take it all.
      while (chan_open && receive(chan, state, MSG_DONTWAIT)) {
      }
      break;
    }
  }
  for (auto it = state.restores.rbegin(); it != state.restores.rend(); ++it) {
    (void)run_command("watchdog restore " + it->key, it->argv, it->timeout_ns);
  }
  for (auto it = state.cleanups.rbegin(); it != state.cleanups.rend(); ++it) {
    (void)run_command("watchdog cleanup", *it, detail::kDefaultCommandTimeoutNs);
  }
  ::_exit(0);
}

// Runs before main() in a process that start() executed as the watchdog.
[[gnu::constructor]] void watchdog_entry() {
  const char* value = std::getenv(kFdsVar);
  if (value == nullptr) return;
  const bool ours = std::strcmp(value, kFdsValue) == 0;
  ::unsetenv(kFdsVar);  // not passed on to the commands it runs
  struct stat st {};
  if (!ours || ::fstat(kChanFd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
      ::fcntl(kStarterPidfd, F_GETFD) < 0 || ::fcntl(kStatusFd, F_GETFD) < 0) {
    return;  // not started by Watchdog::start(): run the program as usual
  }
  ::prctl(PR_SET_NAME, "fb-watchdog", 0, 0, 0);
  watchdog_main(kChanFd, kStarterPidfd, kStatusFd);
}

// In the grandchild, after fork: async-signal-safe calls only until exec.
[[noreturn]] void become_watchdog(int chan, int starter_pidfd, int status_fd, char* const* argv,
                                  char* const* envp) {
  // Out of the way of 3..5 first, then into place (dup2 clears close-on-exec).
  const int a = ::fcntl(chan, F_DUPFD, 10);
  const int b = ::fcntl(starter_pidfd, F_DUPFD, 10);
  const int c = ::fcntl(status_fd, F_DUPFD, 10);
  if (a < 0 || b < 0 || c < 0) ::_exit(127);
  if (::dup2(a, kChanFd) < 0 || ::dup2(b, kStarterPidfd) < 0 || ::dup2(c, kStatusFd) < 0) {
    ::_exit(127);
  }
  const int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
  }
  if (::syscall(SYS_close_range, 6U, ~0U, 0U) != 0) {
    rlimit lim{};
    const int top = ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < 65536
                        ? static_cast<int>(lim.rlim_cur)
                        : 65536;
    for (int fd = 6; fd < top; ++fd) ::close(fd);
  }
  if (::chdir("/") != 0) {
    // stays where it was; nothing it runs depends on the directory
  }
  // Ignored signals stay ignored across exec (SIGCHLD ignored would lose exit codes): defaults.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) (void)::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve("/proc/self/exe", argv, envp);
  watchdog_main(kChanFd, kStarterPidfd, kStatusFd);  // exec failed: carry on as this process
}

// ---- the starter's handle ---------------------------------------------------------------------

class ProcessWatchdog final : public Watchdog {
 public:
  ProcessWatchdog(int chan, pid_t pid, int pidfd)
      : chan_(chan), pid_(pid), pidfd_(pidfd), owner_(::getpid()) {}

  ~ProcessWatchdog() override {
    if (::getpid() == owner_) {
      // Normal end: run what is registered now and wait for it (bounded), so that the
      // namespaces are gone when this returns.
      bool sent = false;
      try {
        send({kOpFinish});
        sent = true;
      } catch (...) {
      }
      ::close(chan_);
      if (sent && pidfd_ >= 0) {
        std::uint64_t bound = (cleanups_ + 1) * detail::kDefaultCommandTimeoutNs;
        for (const auto& [key, timeout] : restore_timeouts_) bound += timeout;
        const std::uint64_t deadline = core::now_ns() + bound;
        for (;;) {
          const std::uint64_t now = core::now_ns();
          if (now >= deadline) break;
          pollfd p{pidfd_, POLLIN, 0};
          const int r = ::poll(&p, 1, static_cast<int>((deadline - now) / 1'000'000 + 1));
          if (r > 0 || (r < 0 && errno != EINTR)) break;
        }
      }
      (void)::waitpid(pid_, nullptr, WNOHANG);  // only succeeds where we are its subreaper
    } else {
      ::close(chan_);  // a forked child's copy: the watchdog belongs to the starter
    }
    if (pidfd_ >= 0) ::close(pidfd_);
  }

  using Watchdog::add_restore;
  void add_restore(const std::string& key, const std::vector<std::string>& argv,
                   std::uint64_t timeout_ns) override {
    if (key.empty() || argv.empty()) {
      throw std::invalid_argument("watchdog restore needs a key and a command");
    }
    if (timeout_ns == 0) timeout_ns = detail::kDefaultCommandTimeoutNs;
    std::vector<std::string> msg{kOpRestore, key, std::to_string(timeout_ns)};
    msg.insert(msg.end(), argv.begin(), argv.end());
    send(msg);
    std::lock_guard<std::mutex> lock(mu_);
    restore_timeouts_[key] = timeout_ns;
  }

  void remove_restore(const std::string& key) override {
    send({kOpUnrestore, key});
    std::lock_guard<std::mutex> lock(mu_);
    restore_timeouts_.erase(key);
  }

  void add_cleanup(const std::vector<std::string>& argv) override {
    if (argv.empty()) throw std::invalid_argument("watchdog cleanup needs a command");
    std::vector<std::string> msg{kOpCleanup};
    msg.insert(msg.end(), argv.begin(), argv.end());
    send(msg);
    std::lock_guard<std::mutex> lock(mu_);
    ++cleanups_;
  }

  int pid() const noexcept override { return static_cast<int>(pid_); }

 private:
  void send(const std::vector<std::string>& fields) {
    if (::getpid() != owner_) {
      throw core::Error(core::ErrorKind::runtime,
                        "only the process that started the watchdog may send it commands");
    }
    for (const auto& f : fields) {
      if (f.find('\0') != std::string::npos) {
        throw std::invalid_argument("watchdog command holds a NUL byte");
      }
    }
    const std::string msg = encode(fields);
    if (msg.size() > kMaxMessage) {
      throw core::Error(core::ErrorKind::runtime,
                        "watchdog command too long (" + std::to_string(msg.size()) + " bytes)");
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (;;) {
      const ssize_t n = ::send(chan_, msg.data(), msg.size(), MSG_NOSIGNAL);
      if (n == static_cast<ssize_t>(msg.size())) return;
      if (n < 0 && errno == EINTR) continue;
      const int err = n < 0 ? errno : EIO;
      throw core::Error(
          core::ErrorKind::runtime,
          "the fault watchdog (pid " + std::to_string(pid_) + ") is gone: " + std::strerror(err));
    }
  }

  int chan_;
  pid_t pid_;
  int pidfd_;
  pid_t owner_;
  std::mutex mu_;
  std::map<std::string, std::uint64_t> restore_timeouts_;  // key -> timeout
  std::size_t cleanups_ = 0;
};

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  void reset(int f = -1) {
    if (fd >= 0) ::close(fd);
    fd = f;
  }
  int release() { return std::exchange(fd, -1); }
};

[[noreturn]] void start_failed(const std::string& what, int err) {
  throw core::Error(core::ErrorKind::runtime,
                    "cannot start the fault watchdog: " + what + ": " + std::strerror(err));
}

}  // namespace

std::unique_ptr<Watchdog> Watchdog::start() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    start_failed("socketpair", errno);
  }
  Fd mine(sv[0]);
  Fd theirs(sv[1]);
  int st[2];
  if (::pipe2(st, O_CLOEXEC) != 0) start_failed("pipe", errno);
  Fd status_read(st[0]);
  Fd status_write(st[1]);
  Fd self_pidfd(pidfd_open(::getpid()));
  if (self_pidfd.fd < 0) start_failed("pidfd_open (Linux 5.3 or later needed)", errno);

  // Everything exec needs, prepared before fork (the child only makes system calls).
  static char name[] = "fb-watchdog";
  char* const child_argv[] = {name, nullptr};
  const std::string marker = std::string(kFdsVar) + "=" + kFdsValue;
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, kFdsVar, std::strlen(kFdsVar)) == 0 && (*e)[std::strlen(kFdsVar)] == '=') {
      continue;
    }
    envp.push_back(*e);
  }
  envp.push_back(const_cast<char*>(marker.c_str()));
  envp.push_back(nullptr);

  const pid_t child = ::fork();
  if (child < 0) start_failed("fork", errno);
  if (child == 0) {
    ::setsid();  // own session: signals to the starter's process group do not reach it
    const pid_t grandchild = ::fork();
    if (grandchild != 0) ::_exit(grandchild < 0 ? 1 : 0);
    become_watchdog(theirs.fd, self_pidfd.fd, status_write.fd, child_argv, envp.data());
  }
  theirs.reset();
  status_write.reset();
  self_pidfd.reset();
  int child_status = 0;
  while (::waitpid(child, &child_status, 0) < 0 && errno == EINTR) {
  }

  // The watchdog writes its pid once it runs, then closes the pipe: start() returns after that
  // end of file, when the watchdog holds nothing but its own descriptors.
  std::int32_t wd_pid = 0;
  std::size_t got = 0;
  const std::uint64_t deadline = core::now_ns() + kStartTimeoutNs;
  for (;;) {
    const std::uint64_t now = core::now_ns();
    if (now >= deadline) {
      throw core::Error(core::ErrorKind::runtime,
                        "cannot start the fault watchdog: it did not report within 10 s");
    }
    pollfd p{status_read.fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>((deadline - now) / 1'000'000 + 1));
    if (r <= 0) continue;  // EINTR or not yet
    char buf[sizeof wd_pid];
    const ssize_t n = ::read(status_read.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) start_failed("reading its pid", errno);
    if (n == 0) break;
    for (ssize_t i = 0; i < n && got < sizeof wd_pid; ++i) {
      reinterpret_cast<char*>(&wd_pid)[got++] = buf[i];
    }
  }
  if (got < sizeof wd_pid || wd_pid <= 0) {
    throw core::Error(core::ErrorKind::runtime,
                      "cannot start the fault watchdog: it exited before reporting");
  }
  const int wd_pidfd = pidfd_open(static_cast<pid_t>(wd_pid));  // alive: it waits for us
  return std::make_unique<ProcessWatchdog>(mine.release(), static_cast<pid_t>(wd_pid), wd_pidfd);
}

}  // namespace fabricbench::faults
