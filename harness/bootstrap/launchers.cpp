#include "harness/bootstrap/launchers.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "harness/bootstrap/net.hpp"
#include "harness/bootstrap/side_channel.hpp"
#include "harness/bootstrap/slurm.hpp"

namespace fabricbench::bootstrap {

namespace {

using core::Error;
using core::ErrorKind;

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

bool env_set(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && value[0] != '\0';
}

constexpr const char* kEnvHelp =
    " (the env launcher needs FABRICBENCH_RANK, FABRICBENCH_SIZE, FABRICBENCH_ROOT=host:port and "
    "FABRICBENCH_SECRET or FABRICBENCH_SECRET_FILE)";

std::string require_env(const char* name) {
  const auto value = env(name);
  if (!value) throw Error(ErrorKind::usage, std::string(name) + " is not set" + kEnvHelp);
  if (value->empty()) throw Error(ErrorKind::usage, std::string(name) + " is set but empty");
  return *value;
}

int parse_count(const char* name, const std::string& text, int minimum) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw Error(ErrorKind::usage, std::string(name) + "='" + text + "' is not a whole number");
  }
  if (value < minimum) {
    throw Error(ErrorKind::usage,
                std::string(name) + "=" + text + " must be at least " + std::to_string(minimum));
  }
  return value;
}

std::string read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw Error(ErrorKind::usage,
                "FABRICBENCH_SECRET_FILE=" + path + " cannot be read: " + net::errno_text(err));
  }
  std::ostringstream content;
  content << in.rdbuf();
  std::string secret = content.str();
  while (!secret.empty() && std::strchr(" \t\r\n", secret.back()) != nullptr) secret.pop_back();
  if (secret.empty()) {
    throw Error(ErrorKind::usage, "FABRICBENCH_SECRET_FILE=" + path + " holds an empty secret");
  }
  return secret;
}

constexpr std::size_t kMinSecretBytes = 16;

std::string long_enough(std::string secret, const char* from) {
  if (secret.size() < kMinSecretBytes) {
    throw Error(ErrorKind::usage,
                std::string(from) + " holds " + std::to_string(secret.size()) +
                    " bytes; a secret needs at least " + std::to_string(kMinSecretBytes) +
                    " (make one with `openssl rand -hex 16` or `head -c 16 /dev/urandom | od "
                    "-An -tx1 | tr -d ' \\n'`)");
  }
  return secret;
}

// Takes FABRICBENCH_SECRET out of this process's environment once read, so no child (fault
// watchdog, `command` injector, placement helpers) inherits it, and blanks the original text,
// so /proc/PID/environ no longer shows it either.
void forget_secret_variable() {
  if (char* value = std::getenv("FABRICBENCH_SECRET"); value != nullptr) {
    volatile char* p = value;
    while (*p != '\0') *p++ = 'x';
  }
  ::unsetenv("FABRICBENCH_SECRET");
}

// FABRICBENCH_SECRET or the content of FABRICBENCH_SECRET_FILE; nullopt when neither is set.
std::optional<std::string> secret_from_env() {
  const auto secret = env("FABRICBENCH_SECRET");
  const auto secret_file = env("FABRICBENCH_SECRET_FILE");
  if (secret && secret_file) {
    throw Error(ErrorKind::usage,
                "both FABRICBENCH_SECRET and FABRICBENCH_SECRET_FILE are set; set one");
  }
  if (secret) {
    if (secret->empty()) throw Error(ErrorKind::usage, "FABRICBENCH_SECRET is set but empty");
    forget_secret_variable();
    return long_enough(*secret, "FABRICBENCH_SECRET");
  }
  if (secret_file) {
    if (secret_file->empty()) {
      throw Error(ErrorKind::usage, "FABRICBENCH_SECRET_FILE is set but empty");
    }
    return long_enough(read_secret_file(*secret_file),
                       ("FABRICBENCH_SECRET_FILE=" + *secret_file).c_str());
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// run_local's signal forwarding. A signal handler can only talk through static storage; this is
// the one piece of mutable global state of the library, live only while run_local waits.
volatile std::sig_atomic_t g_signal = 0;   // last SIGINT/SIGTERM received
volatile std::sig_atomic_t g_forward = 0;  // it came from kill(), not from the terminal

extern "C" void record_signal(int sig, siginfo_t* info, void* /*context*/) {
  g_signal = sig;
  // The terminal sends SIGINT to the whole foreground process group, children included: forward
  // only signals sent to this process alone (kill, Slurm, a batch system), so no rank gets two.
  if (info == nullptr || info->si_code != SI_KERNEL) g_forward = 1;
}

class SignalScope {
 public:
  SignalScope() {
    g_signal = 0;
    g_forward = 0;
    struct sigaction action {};
    action.sa_sigaction = record_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &old_int_);
    ::sigaction(SIGTERM, &action, &old_term_);
  }
  ~SignalScope() { restore(); }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

  // Around fork(): a signal arriving between fork and the child's restore() must reach the
  // caller's own disposition, not the parent's recorder.
  void block() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &set, &saved_mask_);
  }
  void unblock() { ::pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr); }

  void restore() noexcept {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
  sigset_t saved_mask_{};
};

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? "SIG" + std::string(abbrev) : "signal " + std::to_string(sig);
}

[[noreturn]] void child_main(int rank, int nranks, int listen_fd, const std::string& address,
                             const std::string& secret, const Options& options,
                             const std::function<int(Bootstrap&)>& body) {
  int code = 1;
  try {
    SideChannelConfig config;
    config.rank = rank;
    config.size = nranks;
    config.launcher = "local";
    config.root_address = address;
    config.secret = secret;
    config.options = options;
    if (rank == 0) {
      config.listen_fd = listen_fd;
    } else {
      ::close(listen_fd);
    }
    auto bootstrap = connect_side_channel(config);
    code = body(*bootstrap);
  } catch (const std::exception& e) {
    if (options.on_rank_error) options.on_rank_error(rank, e.what());
    code = 1;
  } catch (...) {
    if (options.on_rank_error) options.on_rank_error(rank, "unknown exception");
    code = 1;
  }
  std::fflush(nullptr);
  ::_exit(code >= 0 && code <= 255 ? code : 1);
}

// Forks one process per rank, each running child_main; when a fork fails, kills and reaps the
// ranks already started and throws.
std::vector<pid_t> fork_ranks(int nranks, SignalScope& signals, int listen_fd,
                              const std::string& address, const std::string& secret,
                              const Options& options, const std::function<int(Bootstrap&)>& body) {
  const auto n = static_cast<std::size_t>(nranks);
  std::vector<pid_t> pids(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    signals.block();
    const pid_t pid = ::fork();
    if (pid == 0) {
      signals.restore();
      signals.unblock();
      child_main(static_cast<int>(i), nranks, listen_fd, address, secret, options, body);
    }
    const int fork_errno = errno;
    signals.unblock();
    if (pid < 0) {
      for (std::size_t j = 0; j < i; ++j) ::kill(pids[j], SIGKILL);
      for (std::size_t j = 0; j < i; ++j) ::waitpid(pids[j], nullptr, 0);
      throw Error(ErrorKind::runtime, "local launcher: fork of rank " + std::to_string(i) +
                                          " failed: " + net::errno_text(fork_errno));
    }
    pids[i] = pid;
  }
  return pids;
}

// run_local's ranks after the fork: waits until every one has ended, forwarding SIGINT/SIGTERM
// sent to the launcher, and kills those still running `grace` after the first failure or
// signal; then describes how each ended.
class LocalRanks {
 public:
  using Clock = std::chrono::steady_clock;

  LocalRanks(std::vector<pid_t> pids, Clock::duration grace)
      : pids_(std::move(pids)),
        status_(pids_.size()),
        killed_by_us_(pids_.size(), false),
        alive_(pids_.size()),
        grace_(grace) {}

  void wait() {
    while (alive_ > 0) {
      take_signal();
      reap_exited();
      if (alive_ == 0) break;
      if (kill_at_ && Clock::now() >= *kill_at_) {
        kill_the_rest();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // The report lines ("interrupted by", then a line per rank that failed); returns the worst
  // exit code (1 for a rank killed by a signal).
  int describe(std::string& lines) const {
    int worst = 0;
    if (interrupted_) {
      lines += "interrupted by " + signal_name(*interrupted_) + "\n";
    }
    for (std::size_t i = 0; i < pids_.size(); ++i) {
      const int st = *status_[i];
      if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
        worst = std::max(worst, WEXITSTATUS(st));
        lines += "rank " + std::to_string(i) + " exited with code " +
                 std::to_string(WEXITSTATUS(st)) + "\n";
      } else if (WIFSIGNALED(st)) {
        worst = std::max(worst, 1);
        const int sig = WTERMSIG(st);
        lines += "rank " + std::to_string(i) + " killed by signal " + std::to_string(sig) + " (" +
                 signal_name(sig) + ")";
        if (killed_by_us_[i]) {
          lines += ", by the launcher after the others had failed and " +
                   std::to_string(
                       std::chrono::duration_cast<std::chrono::milliseconds>(grace_).count()) +
                   " ms had passed";
        }
        lines += "\n";
      }
    }
    return worst;
  }

 private:
  static bool failed(int st) { return WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0); }

  // A SIGINT/SIGTERM received: forwarded to the ranks still running when it was sent to this
  // process alone; starts the grace period.
  void take_signal() {
    if (g_signal == 0) return;
    interrupted_ = static_cast<int>(g_signal);
    g_signal = 0;
    if (g_forward != 0) {
      g_forward = 0;
      for (std::size_t i = 0; i < pids_.size(); ++i) {
        if (!status_[i]) ::kill(pids_[i], *interrupted_);
      }
    }
    if (!kill_at_) kill_at_ = Clock::now() + grace_;
  }

  // Reaps the ranks that have ended; the first failure starts the grace period.
  void reap_exited() {
    for (std::size_t i = 0; i < pids_.size(); ++i) {
      if (status_[i]) continue;
      int st = 0;
      const pid_t r = ::waitpid(pids_[i], &st, WNOHANG);
      if (r == pids_[i]) {
        status_[i] = st;
        --alive_;
        if (failed(st) && !kill_at_) kill_at_ = Clock::now() + grace_;
      } else if (r < 0 && errno == ECHILD) {
        status_[i] = 1 << 8;  // reaped elsewhere (SIGCHLD ignored?): count it as failed
        --alive_;
      }
    }
  }

  // The grace period is over: SIGKILL to the ranks still running, and reap them.
  void kill_the_rest() {
    for (std::size_t i = 0; i < pids_.size(); ++i) {
      if (status_[i]) continue;
      ::kill(pids_[i], SIGKILL);
      killed_by_us_[i] = true;
    }
    for (std::size_t i = 0; i < pids_.size(); ++i) {
      if (status_[i]) continue;
      int st = 0;
      while (::waitpid(pids_[i], &st, 0) < 0 && errno == EINTR) {
      }
      status_[i] = st;
    }
  }

  std::vector<pid_t> pids_;
  std::vector<std::optional<int>> status_;  // wait status, once reaped
  std::vector<bool> killed_by_us_;
  std::size_t alive_;
  std::optional<Clock::time_point> kill_at_;
  std::optional<int> interrupted_;
  Clock::duration grace_;
};

}  // namespace

std::string detect_launcher() {
  if (env_set("OMPI_COMM_WORLD_SIZE") || env_set("PMI_SIZE") || env_set("PMI_RANK") ||
      env_set("PMIX_RANK")) {
    return "mpi";
  }
  if (env_set("SLURM_PROCID") && env_set("SLURM_NTASKS") && env_set("SLURM_STEP_ID") &&
      env_set("SLURM_STEP_NODELIST")) {
    return "slurm";
  }
  if (env_set("FABRICBENCH_RANK")) return "env";
  return "local";
}

std::unique_ptr<Bootstrap> make_env_bootstrap(const Options& options) {
  SideChannelConfig config;
  config.launcher = "env";
  config.options = options;
  config.rank = parse_count("FABRICBENCH_RANK", require_env("FABRICBENCH_RANK"), 0);
  config.size = parse_count("FABRICBENCH_SIZE", require_env("FABRICBENCH_SIZE"), 1);
  if (config.rank >= config.size) {
    throw Error(ErrorKind::usage,
                "FABRICBENCH_RANK=" + std::to_string(config.rank) +
                    " must be below FABRICBENCH_SIZE=" + std::to_string(config.size));
  }
  config.root_address = require_env("FABRICBENCH_ROOT");
  net::parse_host_port(config.root_address, "FABRICBENCH_ROOT", false);  // validates
  auto secret = secret_from_env();
  if (!secret) {
    throw Error(
        ErrorKind::usage,
        std::string("neither FABRICBENCH_SECRET nor FABRICBENCH_SECRET_FILE is set") + kEnvHelp);
  }
  config.secret = std::move(*secret);
  if (options.timeout <= std::chrono::milliseconds(0)) {
    throw Error(ErrorKind::usage, "bootstrap: timeout must be positive");
  }
  return connect_side_channel(config);
}

std::unique_ptr<Bootstrap> make_slurm_bootstrap(const Options& options) {
  if (options.timeout <= std::chrono::milliseconds(0)) {
    throw Error(ErrorKind::usage, "bootstrap: timeout must be positive");
  }
  const SlurmStep step = read_slurm_step(env);
  if (auto why = slurm_root_misplaced(step)) throw Error(ErrorKind::usage, *why);
  SideChannelConfig config;
  config.launcher = "slurm";
  config.options = options;
  config.rank = step.rank;
  config.size = step.size;
  config.root_address = net::format_host_port(step.root_host, step.port);
  auto secret = secret_from_env();
  config.secret = secret ? *secret : step.job_identity;
  if (step.rank == 0) {
    // Every address: the other nodes reach rank 0 by its node name, whatever it resolves to.
    net::Fd listener = net::listen_on(net::HostPort{"0.0.0.0", step.port});
    config.listen_fd = listener.release();
  }
  return connect_side_channel(config);
}

int run_local(int nranks, const Options& options, const std::function<int(Bootstrap&)>& body,
              std::string* report) {
  if (report != nullptr) report->clear();
  if (nranks < 1) {
    throw Error(ErrorKind::usage,
                "local launcher: need at least 1 rank, got " + std::to_string(nranks));
  }
  if (options.timeout <= std::chrono::milliseconds(0)) {
    throw Error(ErrorKind::usage, "local launcher: timeout must be positive");
  }
  net::Fd listener = net::listen_on(net::HostPort{"127.0.0.1", 0});
  const std::string address = net::local_address(listener.get());
  const std::string secret = generate_secret();

  SignalScope signals;
  std::fflush(nullptr);  // no buffered output may be written twice
  LocalRanks ranks(fork_ranks(nranks, signals, listener.get(), address, secret, options, body),
                   options.timeout + std::chrono::seconds(5));
  listener.reset();
  ranks.wait();
  signals.restore();

  std::string lines;
  const int worst = ranks.describe(lines);
  if (report != nullptr) *report = std::move(lines);
  return worst;
}

}  // namespace fabricbench::bootstrap
