#include "suites/collective/timed_loop.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include "core/clock.hpp"

namespace fabricbench::suites::collective {

void Waiter::wait() {
  while (!comm_.test()) guard_.poll(completed_);
}

void Waiter::barrier() {
  comm_.start_barrier();
  wait();
}

std::vector<std::uint64_t> schedule(const CollectiveParams& p, std::uint64_t count) {
  std::vector<std::uint64_t> out;
  out.reserve(count);
  const double gap_ns = p.rate_per_s > 0 ? 1e9 / p.rate_per_s : 0;
  std::mt19937_64 rng(p.regime_seed);
  std::exponential_distribution<double> exp(1.0);
  double t = 0;
  for (std::uint64_t k = 0; k < count; ++k) {
    out.push_back(static_cast<std::uint64_t>(t));
    t += p.poisson ? gap_ns * exp(rng) : gap_ns;
  }
  return out;
}

namespace {

void issue(transport::Communicator& comm, const transport::CollectiveCall& call) {
  comm.start(call);
}

TimedResult closed_pipelined(const CollectiveParams& p, const transport::CollectiveCall& call,
                             transport::Communicator& comm, Waiter& waiter) {
  TimedResult r;
  waiter.barrier();
  const std::uint64_t t0 = core::now_ns();
  for (std::uint64_t i = 0; i < p.iterations; ++i) issue(comm, call);
  waiter.wait();
  r.elapsed_ns = core::now_ns() - t0;
  waiter.count(p.iterations);
  return r;
}

TimedResult one_at_a_time(const CollectiveParams& p, const transport::CollectiveCall& call,
                          transport::Communicator& comm, Waiter& waiter, bool barrier_each) {
  TimedResult r;
  r.op_ns.reserve(p.iterations);
  waiter.barrier();
  std::uint64_t total = 0;
  const std::uint64_t t0 = core::now_ns();
  for (std::uint64_t i = 0; i < p.iterations; ++i) {
    if (barrier_each) waiter.barrier();
    const std::uint64_t start = core::now_ns();
    issue(comm, call);
    waiter.wait();
    const std::uint64_t took = core::now_ns() - start;
    waiter.count(1);
    r.op_ns.push_back(took);
    total += took;
  }
  r.elapsed_ns = barrier_each ? total : core::now_ns() - t0;
  return r;
}

void sleep_until(std::uint64_t when_ns) {
  for (;;) {
    const std::uint64_t now = core::now_ns();
    if (now >= when_ns) return;
    if (when_ns - now > 200'000) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(when_ns - now - 100'000));
    }
  }
}

TimedResult scheduled(const CollectiveParams& p, const transport::CollectiveCall& call,
                      transport::Communicator& comm, Waiter& waiter) {
  TimedResult r;
  const auto offsets = schedule(p, p.iterations);
  r.op_ns.reserve(offsets.size());
  waiter.barrier();
  const std::uint64_t t0 = core::now_ns();
  waiter.measuring(t0);
  r.start_ns = t0;
  r.done_ns.reserve(offsets.size());
  std::uint64_t busy = 0;
  for (const std::uint64_t offset : offsets) {
    const std::uint64_t intended = t0 + offset;
    sleep_until(intended);
    const std::uint64_t start = core::now_ns();
    issue(comm, call);
    waiter.wait();
    const std::uint64_t done = core::now_ns();
    waiter.count(1);
    r.op_ns.push_back(done - start);
    r.late_ns.push_back(done - intended);
    r.queue_ns.push_back(start - intended);
    r.done_ns.push_back(done - t0);
    busy += done - start;
  }
  r.elapsed_ns = core::now_ns() - t0;
  r.ops = offsets.size();
  r.time_ns_per_op = offsets.empty() ? 0 : static_cast<double>(busy) / static_cast<double>(r.ops);
  return r;
}

}  // namespace

TimedResult timed_loop(const CollectiveParams& p, const transport::CollectiveCall& call,
                       transport::Communicator& comm, Waiter& waiter) {
  // Warm-up: the same calls, untimed, each one counted as progress as it completes (a long
  // warm-up is not a stall).
  for (std::uint64_t i = 0; i < p.warmup_iterations; ++i) {
    issue(comm, call);
    if (comm.pipelines()) continue;
    waiter.wait();
    waiter.count(1);
  }
  waiter.wait();
  if (comm.pipelines()) waiter.count(p.warmup_iterations);
  if (p.regime == "realistic") return scheduled(p, call, comm, waiter);
  TimedResult r = p.regime == "floor" ? one_at_a_time(p, call, comm, waiter, true)
                  : comm.pipelines()  ? closed_pipelined(p, call, comm, waiter)
                                      : one_at_a_time(p, call, comm, waiter, false);
  // One start() may be several collectives (an aggregated group, graph replays).
  const auto per_start = static_cast<std::uint64_t>(std::max(comm.ops_per_start(), 1));
  r.ops = p.iterations * per_start;
  r.time_ns_per_op =
      r.ops == 0 ? 0 : static_cast<double>(r.elapsed_ns) / static_cast<double>(r.ops);
  for (auto& t : r.op_ns) t /= per_start;
  return r;
}

}  // namespace fabricbench::suites::collective
