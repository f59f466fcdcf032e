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

// Starts argv[0] (searched on PATH) in its own process group (killed as a whole at the
// deadline), with stdin /dev/null, stdout and stderr on out_fd, nothing else inherited, default
// signals and nothing blocked. Returns posix_spawnp's error (0: started, *pid set).
int spawn(const std::vector<std::string>& argv, int out_fd, pid_t* pid) {
  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&setup.actions, out_fd, 2);
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setflags(&setup.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  return ::posix_spawnp(pid, argv[0].c_str(), &setup.actions, &setup.attr, args.data(), environ);
}

// The spawned command: its process, a pidfd to wait on (-1 where the kernel has none), and
// its exit once seen.
struct Child {
  pid_t pid = -1;
  int pidfd = -1;
  bool exited = false;
  bool reaped_elsewhere = false;
  int status = 0;
  std::uint64_t exit_seen_ns = 0;

  // waitpid with `flags` (0 or WNOHANG).
  void try_reap(int flags) {
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
  }

  // SIGKILL to its process group and itself, and reap it.
  void kill_and_reap() {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    try_reap(0);
  }
};

// Reads the child's output from out_fd (non-blocking) into `output` until it has exited and the
// pipe is at end of file, or until a little while after its exit (something it started still
// holds the pipe), or until poll fails; kills it at the deadline. True when it timed out.
bool collect_output(Child& child, int out_fd, std::uint64_t deadline, std::string& output) {
  bool eof = false;
  while (!(child.exited && eof)) {
    const std::uint64_t now = core::now_ns();
    if (!child.exited && now >= deadline) {
      child.kill_and_reap();
      read_some(out_fd, output);  // whatever is left; a holder elsewhere is ignored
      return true;
    }
    // Exited, but something it started still holds the pipe: wait a little, then stop reading.
    if (child.exited && now >= child.exit_seen_ns + kDrainGraceNs) break;
    std::uint64_t wait_ns =
        child.exited ? child.exit_seen_ns + kDrainGraceNs - now : deadline - now;
    if (!child.exited && child.pidfd < 0) wait_ns = std::min(wait_ns, kPollSliceNs);
    wait_ns = std::min<std::uint64_t>(wait_ns, 1'000'000'000);
    pollfd fds[2];
    nfds_t n = 0;
    if (!eof) fds[n++] = pollfd{out_fd, POLLIN, 0};
    const bool watch_pidfd = !child.exited && child.pidfd >= 0;
    if (watch_pidfd) fds[n++] = pollfd{child.pidfd, POLLIN, 0};
    const int timeout_ms = static_cast<int>((wait_ns + 999'999) / 1'000'000);
    const int ready = n == 0 ? (::poll(nullptr, 0, timeout_ms)) : ::poll(fds, n, timeout_ms);
    if (ready < 0 && errno != EINTR) break;
    if (!eof && ready > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      if (!read_some(out_fd, output)) eof = true;
    }
    if (!child.exited) {
      if (watch_pidfd) {
        if (ready > 0 && (fds[n - 1].revents & POLLIN) != 0) child.try_reap(0);
      } else {
        child.try_reap(WNOHANG);
      }
    }
  }
  return false;
}

void set_exit_code(ActionRecord& record, const Child& child, bool timed_out) {
  if (timed_out) {
    record.exit_code = 124;
  } else if (child.reaped_elsewhere) {
    record.exit_code = -1;
    if (record.output.size() < kOutputCap) {
      record.output += "[exit status lost: the process was reaped elsewhere]";
      record.output.resize(std::min(record.output.size(), kOutputCap));
    }
  } else {
    record.exit_code = exit_code_of(child.status);
  }
}

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
  Child child;
  const int spawn_rc = spawn(argv, out_pipe[1], &child.pid);
  ::close(out_pipe[1]);
  if (spawn_rc != 0) {
    ::close(out_pipe[0]);
    return fail("cannot start " + argv[0] + ": " + std::strerror(spawn_rc));
  }
  ::fcntl(out_pipe[0], F_SETFL, ::fcntl(out_pipe[0], F_GETFL) | O_NONBLOCK);
  child.pidfd = pidfd_open(child.pid);

  const std::uint64_t deadline = timeout_ns == 0 ? UINT64_MAX : record.mono_start_ns + timeout_ns;
  const bool timed_out = collect_output(child, out_pipe[0], deadline, record.output);
  if (!child.exited) child.kill_and_reap();  // poll failed: do not leave it behind
  if (child.pidfd >= 0) ::close(child.pidfd);
  ::close(out_pipe[0]);
  set_exit_code(record, child, timed_out);
  return finish();
}

}  // namespace fabricbench::faults
