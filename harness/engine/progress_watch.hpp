#pragma once
// No hangs in a collective: while the ranks run one repetition, a thread on every rank swaps its
// progress (collectives completed, done or not) with every other rank over the side channel,
// every heartbeat. A rank that dies closes its connection and one that stops answering (SIGSTOP,
// a wedged host) misses a round: the side channel names it within the peer timeout on every rank.
// A rank that answers but makes no progress while others wait for it is named when nobody has
// completed a collective for the peer timeout. Every rank decides from the same gathered data, so
// all reach the same verdict in the same round; the waiting loops see it through poll() and the
// engine aborts the communicator (docs/METHODOLOGY.md, "Collectives: no hangs").
//
// A backend whose collectives block (MPI's blocking calls, which IMB and OSU time) cannot see the
// verdict while it waits inside a collective that will never complete. When the waiting thread
// has not taken the verdict (poll, finish) within 100 ms (a polling thread takes it within
// microseconds), the watch claims it and hands it to `on_stuck` on its own thread; the engine
// records the failure and ends the process. Exactly one of the two handles a verdict: a waiting
// thread that comes back after the watch claimed it parks until the process ends. The grace is
// short because a launcher (mpirun) kills the whole job soon after a rank dies.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "harness/bootstrap/bootstrap.hpp"
#include "suites/api/collective.hpp"

namespace fabricbench::engine {

// The verdict of one round, from every rank's "done completed" (pure: tested alone).
struct ProgressRound {
  std::vector<bool> done;
  std::vector<std::uint64_t> completed;
};
// Which ranks are behind (the fewest completed among those not done), for the error message.
std::vector<int> ranks_behind(const ProgressRound& round);
// "rank 2 (host-b)" / "ranks 1, 3"
std::string name_ranks(const std::vector<int>& ranks, const std::vector<std::string>& hosts);
// The verdict when nobody completed a collective for the timeout: the ranks behind, or, when
// every waiting rank is at the same count, that they all wait inside the same collective.
std::string stall_message(const ProgressRound& round, const std::vector<std::string>& hosts,
                          std::uint64_t timeout_ns, const std::string& what);

class ProgressWatch final : public suites::ProgressGuard {
 public:
  // `what`: the case's collective and size, for the message ("all_reduce float32 sum, 1MiB").
  ProgressWatch(bootstrap::Bootstrap& bs, std::uint64_t peer_timeout_ns, std::string what,
                std::vector<std::string> hosts, const std::atomic<bool>* stop_requested,
                std::function<void(const core::Error&)> on_stuck = {});
  ~ProgressWatch() override;
  ProgressWatch(const ProgressWatch&) = delete;
  ProgressWatch& operator=(const ProgressWatch&) = delete;

  void poll(std::uint64_t completed) override;
  void measuring(std::uint64_t t0_ns) override {
    if (on_measuring_) on_measuring_(t0_ns);
  }
  // Called (on the measuring thread) when the timed phase starts: a fault's timeline begins.
  void on_measuring(std::function<void(std::uint64_t)> f) { on_measuring_ = std::move(f); }
  // This rank is done: returns once every rank is (a barrier), or throws the verdict.
  void finish();

 private:
  void loop();
  void rounds();
  void fail(const core::Error& e);
  void taken() noexcept;
  void await_taken();
  std::optional<core::Error> failure() const;

  bootstrap::Bootstrap& bs_;
  std::uint64_t peer_timeout_ns_;
  std::string what_;
  std::vector<std::string> hosts_;
  std::function<void(std::uint64_t)> on_measuring_;
  const std::atomic<bool>* stop_requested_;
  std::atomic<std::uint64_t> completed_{0};
  std::atomic<bool> done_{false};
  std::atomic<bool> failed_{false};
  mutable std::mutex mu_;
  std::optional<core::Error> error_;
  std::function<void(const core::Error&)> on_stuck_;
  enum class Claim { none, waiting_thread, watch };
  Claim claim_ = Claim::none;  // who handles the verdict
  std::condition_variable taken_cv_;
  std::thread thread_;
};

}  // namespace fabricbench::engine
