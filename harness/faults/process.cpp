// run_command: posix_spawn with stdout+stderr captured, a deadline, and the whole process group
// killed at the deadline.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/clock.hpp"
#include "harness/faults/injector.hpp"

extern char** environ;

namespace fabricbench::faults {

namespace {

constexpr std::size_t kOutputCap = 4096;
constexpr std::uint64_t kDrainGraceNs = 200'000'000;  // output still arriving after exit
constexpr std::uint64_t kPollSliceNs = 50'000'000;    // without a pidfd: waitpid every 50 ms

int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// Reads what is there; false at end of file (or error).
bool read_some(int fd, std::string& out) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      const std::size_t room = kOutputCap - std::min(kOutputCap, out.size());
      out.append(buf, std::min(room, static_cast<std::size_t>(n)));  // the rest is dropped
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

struct SpawnSetup {
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attr{};
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

}  // namespace

ActionRecord run_command(std::string what, const std::vector<std::string>& argv,
                         std::uint64_t timeout_ns) {
  ActionRecord record;
  record.what = std::move(what);
  record.argv = argv;
  record.wall_start_ns = core::wall_clock_ns();
  record.mono_start_ns = core::now_ns();
  auto finish = [&record]() -> ActionRecord {
    record.wall_end_ns = core::wall_clock_ns();
    record.mono_end_ns = core::now_ns();
    return std::move(record);
  };
  auto fail = [&](const std::string& why) {
    record.exit_code = -1;
    record.output = why.substr(0, kOutputCap);
    return finish();
  };
  if (argv.empty() || argv[0].empty()) return fail("empty command");

  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return fail(std::string("cannot start: pipe: ") + std::strerror(errno));
  }
  pid_t pid = -1;
  int spawn_rc = 0;
  {
    SpawnSetup setup;
    // stdin /dev/null; stdout and stderr the pipe; nothing else inherited.
    posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&setup.actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&setup.actions, out_pipe[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
    // Own process group (killed as a whole at the deadline), default signals, nothing blocked.
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setflags(
        &setup.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&setup.attr, 0);
    posix_spawnattr_setsigmask(&setup.attr, &none);
    posix_spawnattr_setsigdefault(&setup.attr, &all);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    spawn_rc =
        ::posix_spawnp(&pid, argv[0].c_str(), &setup.actions, &setup.attr, args.data(), environ);
  }
  ::close(out_pipe[1]);
  if (spawn_rc != 0) {
    ::close(out_pipe[0]);
    return fail("cannot start " + argv[0] + ": " + std::strerror(spawn_rc));
  }
  ::fcntl(out_pipe[0], F_SETFL, ::fcntl(out_pipe[0], F_GETFL) | O_NONBLOCK);
  const int pidfd = pidfd_open(pid);

  const std::uint64_t deadline = timeout_ns == 0 ? UINT64_MAX : record.mono_start_ns + timeout_ns;
  bool eof = false;
  bool exited = false;
  bool timed_out = false;
  bool reaped_elsewhere = false;
  int status = 0;
  std::uint64_t exit_seen_ns = 0;
  auto try_reap = [&](int flags) {
    for (;;) {
      const pid_t r = ::waitpid(pid, &status, flags);
      if (r == pid) {
        exited = true;
        exit_seen_ns = core::now_ns();
        return;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {  // ECHILD: someone else reaped it (SIGCHLD ignored or a reaper elsewhere)
        exited = true;
        reaped_elsewhere = true;
        exit_seen_ns = core::now_ns();
      }
      return;
    }
  };

  while (!(exited && eof)) {
    const std::uint64_t now = core::now_ns();
    if (!exited && now >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      try_reap(0);
      read_some(out_pipe[0], record.output);  // whatever is left; a holder elsewhere is ignored
      break;
    }
    // Exited, but something it started still holds the pipe: wait a little, then stop reading.
    if (exited && now >= exit_seen_ns + kDrainGraceNs) break;
    std::uint64_t wait_ns = exited ? exit_seen_ns + kDrainGraceNs - now : deadline - now;
    if (!exited && pidfd < 0) wait_ns = std::min(wait_ns, kPollSliceNs);
    wait_ns = std::min<std::uint64_t>(wait_ns, 1'000'000'000);
    pollfd fds[2];
    nfds_t n = 0;
    if (!eof) fds[n++] = pollfd{out_pipe[0], POLLIN, 0};
    const bool watch_pidfd = !exited && pidfd >= 0;
    if (watch_pidfd) fds[n++] = pollfd{pidfd, POLLIN, 0};
    const int timeout_ms = static_cast<int>((wait_ns + 999'999) / 1'000'000);
    const int ready = n == 0 ? (::poll(nullptr, 0, timeout_ms)) : ::poll(fds, n, timeout_ms);
    if (ready < 0 && errno != EINTR) break;
    if (!eof && ready > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      if (!read_some(out_pipe[0], record.output)) eof = true;
    }
    if (!exited) {
      if (watch_pidfd) {
        if (ready > 0 && (fds[n - 1].revents & POLLIN) != 0) try_reap(0);
      } else {
        try_reap(WNOHANG);
      }
    }
  }
  if (!exited) {  // poll failed: do not leave it behind
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    try_reap(0);
  }
  if (pidfd >= 0) ::close(pidfd);
  ::close(out_pipe[0]);

  if (timed_out) {
    record.exit_code = 124;
  } else if (reaped_elsewhere) {
    record.exit_code = -1;
    if (record.output.size() < kOutputCap) {
      record.output += "[exit status lost: the process was reaped elsewhere]";
      record.output.resize(std::min(record.output.size(), kOutputCap));
    }
  } else {
    record.exit_code = exit_code_of(status);
  }
  return finish();
}

}  // namespace fabricbench::faults
