#pragma once
// The timed part of one placement (out of place or in place) on one rank: warm-up, then the
// regime's loop, each collective waited for with the progress guard watching the other ranks.
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "suites/api/collective.hpp"

namespace fabricbench::suites::collective {

struct Placed {
  transport::CollectiveCall call;  // send/recv pointers set for the placement
};

struct TimedResult {
  std::uint64_t elapsed_ns = 0;  // from the first issue to the last completion
  std::uint64_t ops = 0;
  double time_ns_per_op = 0;            // this rank's time per collective
  std::vector<std::uint64_t> op_ns;     // per collective (empty when the backend pipelines)
  std::vector<std::uint64_t> late_ns;   // realistic: completion minus intended issue time
  std::vector<std::uint64_t> queue_ns;  // realistic: issue minus intended issue time
  std::vector<std::uint64_t> done_ns;   // realistic: completion time from the timed start
  std::uint64_t start_ns = 0;           // the timed start (core::now_ns())
};

class Waiter {
 public:
  Waiter(transport::Communicator& comm, ProgressGuard& guard) : comm_(comm), guard_(guard) {}
  // Polls comm.test() until true; the guard sees every poll.
  void wait();
  void barrier();
  // The timed phase starts now (the guard hears it).
  void measuring(std::uint64_t t0_ns) { guard_.measuring(t0_ns); }
  std::uint64_t completed() const noexcept { return completed_; }
  // n more collectives completed: published to the guard at once (a blocking backend never
  // polls, so this is where its progress shows).
  void count(std::uint64_t n) {
    completed_ += n;
    guard_.poll(completed_);
  }

 private:
  transport::Communicator& comm_;
  ProgressGuard& guard_;
  std::uint64_t completed_ = 0;
};

TimedResult timed_loop(const CollectiveParams& p, const transport::CollectiveCall& call,
                       transport::Communicator& comm, Waiter& waiter);

// The realistic regime's intended issue offsets from the start, ns (the same on every rank).
std::vector<std::uint64_t> schedule(const CollectiveParams& p, std::uint64_t count);

}  // namespace fabricbench::suites::collective
