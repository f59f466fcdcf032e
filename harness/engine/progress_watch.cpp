#include "harness/engine/progress_watch.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

#include <fmt/format.h>

#include "core/clock.hpp"

namespace fabricbench::engine {

using core::Error;
using core::ErrorKind;

std::vector<int> ranks_behind(const ProgressRound& round) {
  std::uint64_t least = std::numeric_limits<std::uint64_t>::max();
  for (std::size_t r = 0; r < round.done.size(); ++r) {
    if (!round.done[r]) least = std::min(least, round.completed[r]);
  }
  std::vector<int> out;
  for (std::size_t r = 0; r < round.done.size(); ++r) {
    if (!round.done[r] && round.completed[r] == least) out.push_back(static_cast<int>(r));
  }
  return out;
}

std::string stall_message(const ProgressRound& round, const std::vector<std::string>& hosts,
                          std::uint64_t timeout_ns, const std::string& what) {
  const auto behind = ranks_behind(round);
  const std::uint64_t at =
      behind.empty() ? 0 : round.completed[static_cast<std::size_t>(behind.front())];
  const double seconds = static_cast<double>(timeout_ns) / 1e9;
  const auto waiting =
      static_cast<std::size_t>(std::count(round.done.begin(), round.done.end(), false));
  if (behind.size() == waiting && waiting > 1) {
    return fmt::format(
        "no rank completed a collective for {:.1f} s: every waiting rank ({}) had completed {} "
        "collective(s) of {} and was inside the next; the fabric stalled or one rank is stuck "
        "inside the collective (the ranks cannot tell which)",
        seconds, name_ranks(behind, hosts), at, what);
  }
  return fmt::format(
      "{} fell behind: no rank completed a collective for {:.1f} s; {} had completed {} "
      "collective(s) of {} while the others had completed more",
      name_ranks(behind, hosts), seconds, behind.size() == 1 ? "it" : "they", at, what);
}

std::string name_ranks(const std::vector<int>& ranks, const std::vector<std::string>& hosts) {
  std::string out = ranks.size() == 1 ? "rank " : "ranks ";
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    const auto r = static_cast<std::size_t>(ranks[i]);
    out += (i == 0 ? "" : ", ") + std::to_string(ranks[i]);
    if (r < hosts.size() && !hosts[r].empty()) out += " (" + hosts[r] + ")";
  }
  return out;
}

ProgressWatch::ProgressWatch(bootstrap::Bootstrap& bs, std::uint64_t peer_timeout_ns,
                             std::string what, std::vector<std::string> hosts,
                             const std::atomic<bool>* stop_requested,
                             std::function<void(const core::Error&)> on_stuck)
    : bs_(bs),
      peer_timeout_ns_(peer_timeout_ns),
      what_(std::move(what)),
      hosts_(std::move(hosts)),
      stop_requested_(stop_requested),
      on_stuck_(std::move(on_stuck)),
      thread_([this] { loop(); }) {}

ProgressWatch::~ProgressWatch() {
  taken();
  if (!thread_.joinable()) return;
  if (!failed_.load()) {
    // Leaving early (an error on this rank): tell every rank, which ends every watcher's round.
    bs_.abort("rank " + std::to_string(bs_.rank()) + " stopped during " + what_);
  }
  thread_.join();
}

void ProgressWatch::poll(std::uint64_t completed) {
  completed_.store(completed, std::memory_order_relaxed);
  if (failed_.load(std::memory_order_acquire)) {
    taken();
    throw *failure();
  }
  if (stop_requested_ != nullptr && stop_requested_->load()) {
    throw Error(ErrorKind::runtime, "interrupted during " + what_);
  }
}

void ProgressWatch::finish() {
  done_.store(true);
  taken();
  if (thread_.joinable()) thread_.join();
  if (auto e = failure()) throw *e;
}

void ProgressWatch::fail(const Error& e) {
  {
    std::lock_guard lock(mu_);
    if (!error_) error_ = e;
  }
  failed_.store(true, std::memory_order_release);
}

void ProgressWatch::taken() noexcept {
  bool park = false;
  {
    std::lock_guard lock(mu_);
    if (claim_ == Claim::none) claim_ = Claim::waiting_thread;
    park = claim_ == Claim::watch;
  }
  taken_cv_.notify_all();
  // on_stuck is recording the failure and will end the process; nothing more to do here.
  if (!park) return;
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

// After a verdict: the waiting thread takes it within the grace, or it is stuck in a blocking
// collective and on_stuck acts for it.
void ProgressWatch::await_taken() {
  if (!on_stuck_) return;
  std::unique_lock lock(mu_);
  if (taken_cv_.wait_for(lock, std::chrono::milliseconds(100),
                         [this] { return claim_ != Claim::none; })) {
    return;
  }
  claim_ = Claim::watch;
  const Error e = *error_;
  lock.unlock();
  on_stuck_(e);
}

std::optional<Error> ProgressWatch::failure() const {
  std::lock_guard lock(mu_);
  return error_;
}

void ProgressWatch::loop() {
  rounds();
  if (failed_.load()) await_taken();
}

void ProgressWatch::rounds() {
  const auto heartbeat = std::chrono::nanoseconds(
      std::clamp<std::uint64_t>(peer_timeout_ns_ / 10, 10'000'000, 100'000'000));
  std::uint64_t last_total = 0;
  std::uint64_t last_change = core::now_ns();
  for (;;) {
    const bool done = done_.load();
    const std::string mine =
        fmt::format("{} {}", done ? 1 : 0, completed_.load(std::memory_order_relaxed));
    ProgressRound round;
    try {
      for (const auto& entry : bs_.allgather(mine)) {
        round.done.push_back(entry.front() == '1');
        round.completed.push_back(std::stoull(entry.substr(2)));
      }
    } catch (const Error& e) {
      fail(Error(e.kind(), std::string(e.what()) + " (the progress exchange while the ranks ran " +
                               what_ + ")"));
      return;
    } catch (const std::exception& e) {
      fail(Error(ErrorKind::runtime, std::string("progress exchange: ") + e.what()));
      return;
    }
    if (std::all_of(round.done.begin(), round.done.end(), [](bool d) { return d; })) return;
    std::uint64_t total = 0;
    for (const auto c : round.completed) total += c;
    const std::uint64_t now = core::now_ns();
    if (total != last_total) {
      last_total = total;
      last_change = now;
    } else if (now - last_change > peer_timeout_ns_) {
      fail(Error(ErrorKind::timeout, stall_message(round, hosts_, peer_timeout_ns_, what_)));
      return;
    }
    std::this_thread::sleep_for(heartbeat);
  }
}

}  // namespace fabricbench::engine
