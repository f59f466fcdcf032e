#pragma once
// No hangs in a collective: while the ranks run one repetition, a thread on every rank swaps its
// progress (collectives completed, done or not) with every other rank over the side channel,
// every heartbeat. A rank that dies closes its connection and one that stops answering (SIGSTOP,
// a wedged host) misses a round: the side channel names it within the peer timeout on every rank.
// A rank that answers but makes no progress while others wait for it is named when nobody has
// completed a collective for the peer timeout. Every rank decides from the same gathered data, so
// all reach the same verdict in the same round; the waiting loops see it through poll() and the
// engine aborts the communicator (docs/METHODOLOGY.md, "Collectives: no hangs").
#include <atomic>
#include <cstdint>
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

class ProgressWatch final : public suites::ProgressGuard {
 public:
  // `what`: the case's collective and size, for the message ("all_reduce float32 sum, 1MiB").
  ProgressWatch(bootstrap::Bootstrap& bs, std::uint64_t peer_timeout_ns, std::string what,
                std::vector<std::string> hosts, const std::atomic<bool>* stop_requested);
  ~ProgressWatch() override;
  ProgressWatch(const ProgressWatch&) = delete;
  ProgressWatch& operator=(const ProgressWatch&) = delete;

  void poll(std::uint64_t completed) override;
  // This rank is done: returns once every rank is (a barrier), or throws the verdict.
  void finish();

 private:
  void loop();
  void fail(const core::Error& e);
  std::optional<core::Error> failure() const;

  bootstrap::Bootstrap& bs_;
  std::uint64_t peer_timeout_ns_;
  std::string what_;
  std::vector<std::string> hosts_;
  const std::atomic<bool>* stop_requested_;
  std::atomic<std::uint64_t> completed_{0};
  std::atomic<bool> done_{false};
  std::atomic<bool> failed_{false};
  mutable std::mutex mu_;
  std::optional<core::Error> error_;
  std::thread thread_;
};

}  // namespace fabricbench::engine
