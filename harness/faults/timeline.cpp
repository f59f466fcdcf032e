// schedule() and Timeline.
#include <chrono>
#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "core/clock.hpp"
#include "harness/faults/injector.hpp"

namespace fabricbench::faults {

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::vector<Occurrence> schedule(std::uint64_t start_ns, std::uint64_t hold_ns, int count,
                                 std::uint64_t period_ns, std::uint64_t jitter_ns,
                                 std::uint64_t seed, int repetition) {
  if (count <= 0) return {};
  const std::uint64_t period = period_ns == 0 ? 2 * hold_ns : period_ns;
  if (count > 1 && period < hold_ns) {
    throw std::invalid_argument("fault period shorter than its hold: occurrences would overlap");
  }
  std::uint64_t phase = 0;
  if (jitter_ns > 0) {
    // Same (seed, repetition), same phase, on every platform: mt19937_64 is fully specified, and
    // the mapping onto [0, jitter] is done here (uniform_int_distribution is not portable).
    std::mt19937_64 gen(splitmix64(seed ^ splitmix64(static_cast<std::uint64_t>(repetition))));
    const std::uint64_t r = gen();
    // r mod (jitter + 1): the bias is below jitter / 2^64.
    phase = jitter_ns == std::numeric_limits<std::uint64_t>::max() ? r : r % (jitter_ns + 1);
  }
  std::vector<Occurrence> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    Occurrence o;
    o.start_ns = start_ns + phase + static_cast<std::uint64_t>(i) * period;
    o.end_ns = o.start_ns + hold_ns;
    out.push_back(o);
  }
  return out;
}

struct Timeline::State {
  Injector& injector;
  Fault fault;
  std::vector<Occurrence> occurrences;
  std::uint64_t t0;

  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;  // guarded by mu

  // Written by the thread only; read after join.
  std::vector<ActionRecord> records;
  std::optional<std::string> error;
  std::optional<std::uint64_t> first_inject;
  std::optional<std::uint64_t> last_clear;

  std::mutex join_mu;
  std::thread thread;

  State(Injector& i, Fault f, std::vector<Occurrence> o, std::uint64_t t)
      : injector(i), fault(f), occurrences(std::move(o)), t0(t) {}

  // Sleeps until the monotonic time `target`; false when stop() came first.
  bool wait_until(std::uint64_t target) {
    std::unique_lock<std::mutex> lock(mu);
    while (!stop_requested) {
      const std::uint64_t now = core::now_ns();
      if (now >= target) return true;
      cv.wait_for(lock, std::chrono::nanoseconds(target - now));
    }
    return false;
  }

  // Runs inject or clear and appends its records (also those of a failure); the reason on
  // failure.
  template <typename F>
  std::optional<std::string> attempt(F&& action, const char* verb) {
    try {
      auto r = action();
      records.insert(records.end(), std::make_move_iterator(r.begin()),
                     std::make_move_iterator(r.end()));
      return std::nullopt;
    } catch (const CommandFailed& e) {
      records.insert(records.end(), e.records().begin(), e.records().end());
      return std::string(e.what());
    } catch (const std::exception& e) {
      return std::string(verb) + " failed: " + e.what();
    } catch (...) {
      return std::string(verb) + " failed";
    }
  }

  std::uint64_t last_end() const {
    return records.empty() ? core::now_ns() : records.back().mono_end_ns;
  }

  void run() {
    for (const auto& occ : occurrences) {
      if (!wait_until(t0 + occ.start_ns)) return;
      const std::size_t before = records.size();
      if (auto why = attempt([&] { return injector.inject(fault); }, "inject")) {
        error = std::move(why);  // the injector undid what it could
        return;
      }
      if (!first_inject) first_inject = records.size() > before ? last_end() : core::now_ns();
      (void)wait_until(t0 + occ.end_ns);  // stop() or the end of the hold: clear either way
      // A failed clear is tried once more; the timeline ends when that fails too.
      for (int tries = 0;; ++tries) {
        const std::size_t n = records.size();
        auto why = attempt([&] { return injector.clear(fault); }, "clear");
        if (!why) {
          last_clear = records.size() > n ? last_end() : core::now_ns();
          break;
        }
        if (tries == 1) {
          error = std::move(why);  // the injector's destructor and the watchdog remain
          return;
        }
      }
    }
  }
};

Timeline::Timeline(Injector& injector, Fault fault, std::vector<Occurrence> occurrences,
                   std::uint64_t t0_mono_ns)
    : state_(std::make_unique<State>(injector, fault, std::move(occurrences), t0_mono_ns)) {
  state_->thread = std::thread([s = state_.get()] { s->run(); });
}

Timeline::~Timeline() {
  stop();
}

void Timeline::stop() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop_requested = true;
  }
  state_->cv.notify_all();
  std::lock_guard<std::mutex> lock(state_->join_mu);
  if (state_->thread.joinable()) state_->thread.join();
}

const std::vector<ActionRecord>& Timeline::records() const noexcept {
  return state_->records;
}

std::optional<std::string> Timeline::error() const {
  return state_->error;
}

std::optional<std::uint64_t> Timeline::first_inject_mono_ns() const {
  return state_->first_inject;
}

std::optional<std::uint64_t> Timeline::last_clear_mono_ns() const {
  return state_->last_clear;
}

}  // namespace fabricbench::faults
