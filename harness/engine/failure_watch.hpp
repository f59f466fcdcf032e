#pragma once
// A lost rank ends every rank's repetition within the peer timeout, not only its partner's.
// While a point-to-point repetition runs, ranks are away from the side channel: a rank whose
// partner is alive would run the repetition to its end (a 60 s stream) before its next
// collective told it another rank was lost. FailureWatch polls the side channel's sockets on a
// thread of its own without reading them (Bootstrap::liveness_fds): a hang-up on rank 0 (a rank
// died), anything readable on the others (rank 0's abort), or SIGINT/SIGTERM (`user_stop`) sets
// the repetition's stop flag, which the workload's completion loop checks; the engine then goes to
// the side channel, whose next collective throws the verdict naming the lost rank.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "harness/bootstrap/bootstrap.hpp"

namespace fabricbench::engine {

class FailureWatch {
 public:
  // `stop`: the flag the workload sees (Context::stop_requested), set when the watch fires or
  // `user_stop` is set; cleared here at the start.
  FailureWatch(const bootstrap::Bootstrap& bs, const std::atomic<bool>* user_stop,
               std::atomic<bool>& stop);
  ~FailureWatch();
  FailureWatch(const FailureWatch&) = delete;
  FailureWatch& operator=(const FailureWatch&) = delete;

  // The side channel had news (not SIGINT/SIGTERM): its next collective tells what.
  bool fired() const noexcept { return fired_.load(); }
  // fired(), waiting for it up to `bound`: a repetition that failed on its own data connection
  // may have lost a partner that stopped because of an abort this rank's watch is about to see.
  bool wait_fired(std::chrono::milliseconds bound) const;

 private:
  void loop(std::vector<int> fds, bool hub);

  const std::atomic<bool>* user_stop_;
  std::atomic<bool>& stop_;
  std::atomic<bool> fired_{false};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace fabricbench::engine
