#pragma once
// A small deterministic discrete-event simulation of a single-server FIFO queue in simulated
// nanoseconds, recorded into a PhaseRecorder the way the engine records a real phase: each
// operation's intended time (its arrival), posted time (when the server starts it) and confirmed
// time (when the server finishes it), plus a queue sample every sample_ns (backlog = arrived but
// not started, in flight = being served, age = age of the oldest operation not yet confirmed).
// Arrivals stop at length_ns; the simulation then runs until the queue is empty.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include "harness/regime/phase.hpp"
#include "harness/regime/schedule.hpp"

namespace fabricbench::regime::testing {

struct QueueSim {
  double capacity_ops_per_s = 10'000;  // service rate C
  bool exponential_service = false;    // else every op takes exactly 1e9 / C ns
  Arrival arrival = Arrival::constant;
  std::vector<RateStep> profile;
  std::uint64_t length_ns = 500'000'000;
  std::uint64_t sample_ns = 1'000'000;
  std::uint64_t bin_ns = 50'000'000;
  std::uint64_t deadline_ns = 0;
  std::uint64_t bytes = 64;
  std::uint64_t seed = 1;

  PhaseResult run() const {
    PhaseRecorder rec(bin_ns, deadline_ns);
    ArrivalSchedule arrivals(arrival, profile, derive_seed(seed, 0, 0));
    std::mt19937_64 service_rng(derive_seed(seed, 0, 1));
    const double mean_service_ns = 1e9 / capacity_ops_per_s;
    auto service_ns = [&]() -> std::uint64_t {
      if (!exponential_service) return static_cast<std::uint64_t>(std::llround(mean_service_ns));
      const double u = static_cast<double>(service_rng() >> 11) * 0x1p-53;
      const double s = -std::log1p(-u) * mean_service_ns;
      return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::llround(s)));
    };

    struct Op {
      std::uint64_t intended, posted, confirmed;
    };
    std::deque<Op> queue;  // arrived and not yet confirmed, FIFO
    std::uint64_t server_free = 0;
    std::uint64_t next_sample = 0;
    auto sample_at = [&](std::uint64_t t) {
      while (!queue.empty() && queue.front().confirmed <= t) {
        const Op& o = queue.front();
        rec.completed(o.intended, o.posted, o.confirmed, bytes);
        queue.pop_front();
      }
      std::uint64_t in_flight = 0, backlog = 0, age = 0;
      if (!queue.empty()) {
        in_flight = queue.front().posted <= t ? 1 : 0;
        backlog = queue.size() - in_flight;
        age = t - queue.front().intended;
      }
      rec.sample_queue(t, backlog, in_flight, age);
    };
    // Samples before time t see only the operations that arrived before t.
    auto samples_before = [&](std::uint64_t t) {
      for (; next_sample < t; next_sample += sample_ns) sample_at(next_sample);
    };

    for (;;) {
      const std::uint64_t a = arrivals.next();
      if (a >= length_ns) break;
      samples_before(a);
      rec.offered(a, bytes);
      const std::uint64_t start = std::max(a, server_free);
      server_free = start + service_ns();
      queue.push_back(Op{a, start, server_free});
    }
    samples_before(std::max(server_free, length_ns) + 1);
    for (const Op& o : queue) rec.completed(o.intended, o.posted, o.confirmed, bytes);
    return rec.finish(length_ns);
  }
};

}  // namespace fabricbench::regime::testing
