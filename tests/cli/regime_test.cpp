// End-to-end test of coordinated omission: the receiver (rank 1) is paused (SIGSTOP, then
// SIGCONT) for a known time in the middle of the measured phase. The open-loop regime
// (realistic) measures latency from each operation's intended issue time, so every operation
// intended during the pause shows it; the closed loop (floor, one operation in flight) issues
// nothing while it waits, so only the one operation in flight does.
//
// The assertions are on what the pause forces, not on machine speed: an operation intended at
// time t during the pause cannot be confirmed before the pause ends, so its latency is at least
// (end of pause - t).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/cli/process.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kBinary = FABRICBENCH_BINARY;

constexpr int kRate = 2000;     // realistic: offered ops/s (constant arrivals)
constexpr auto kPause = 300ms;  // how long rank 1 is stopped
// When rank 1 is stopped, from the start of the run: in the middle of the measured phase (3 s,
// after start-up and a 200 ms warm-up).
constexpr auto kStopAfter = 1500ms;
constexpr double kPauseNs = std::chrono::duration<double, std::nano>(kPause).count();
constexpr double kLongNs = kPauseNs / 2;  // a "long" sample: at least half the pause

fs::path scratch(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path p = fs::temp_directory_path() / "fabricbench-cli-tests" /
               (std::string(info->test_suite_name()) + "." + info->name() + "." + name + "." +
                std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// One stream case over TCP on loopback, 64 B messages, 3 s measured, in the given regime.
std::string experiment(const std::string& regime) {
  return "fabricbench: 1\n"
         "name: coordinated-omission\n"
         "ranks: 2\n"
         "timeouts: {peer: 20s}\n"
         "cases:\n"
         "  - name: co\n"
         "    suite: stream\n"
         "    transport: tcp\n"
         "    tcp: {address: 127.0.0.1}\n"
         "    completion: blocking\n"
         "    sizes: 64B\n"
         "    duration: 3s\n"
         "    warmup: 200ms\n"
         "    regime: " +
         regime + "\n";
}

// pid of the rank process named "fabricbench rN" under `parent` (local launcher).
pid_t find_rank(pid_t parent, int rank, std::chrono::seconds limit) {
  const std::string want = "fabricbench r" + std::to_string(rank);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    for (pid_t c : fbtest::children_of(parent)) {
      std::string comm = fbtest::slurp("/proc/" + std::to_string(c) + "/comm");
      while (!comm.empty() && comm.back() == '\n') comm.pop_back();
      if (comm == want) return c;
    }
    std::this_thread::sleep_for(10ms);
  }
  return -1;
}

struct Latency {
  std::uint64_t samples = 0;
  std::uint64_t long_at_least = 0;  // samples surely >= kLongNs (bins wholly at or above it)
  std::uint64_t long_at_most = 0;   // samples possibly >= kLongNs (bins reaching it)
  double p99_ns = 0;
  double max_ns = 0;
};

std::ostream& operator<<(std::ostream& os, const Latency& l) {
  return os << l.samples << " samples, " << l.long_at_least << ".." << l.long_at_most
            << " >= " << kLongNs / 1e6 << " ms, p99 " << l.p99_ns / 1e6 << " ms, max "
            << l.max_ns / 1e6 << " ms";
}

// Runs the experiment with rank 1 stopped for kPause, kStopAfter into the run; returns the
// latency of the case's (only) repetition.
Latency run_with_paused_receiver(const std::string& regime) {
  const auto dir = scratch("run");
  const auto cfg = dir / "co.yaml";
  std::ofstream(cfg) << experiment(regime);
  const auto out = dir / "run";
  pid_t victim = -1;
  std::chrono::duration<double, std::milli> paused{0};
  const auto r = fbtest::run_process({kBinary, "run", cfg.string(), "-o", out.string()}, dir, 60s,
                                     {}, [&](pid_t parent) {
                                       const auto started = std::chrono::steady_clock::now();
                                       victim = find_rank(parent, 1, 20s);
                                       if (victim <= 0) return;
                                       std::this_thread::sleep_until(started + kStopAfter);
                                       kill(victim, SIGSTOP);
                                       const auto stopped = std::chrono::steady_clock::now();
                                       std::this_thread::sleep_for(kPause);
                                       paused = std::chrono::steady_clock::now() - stopped;
                                       kill(victim, SIGCONT);
                                     });
  EXPECT_GT(victim, 0) << "rank 1 never appeared";
  EXPECT_FALSE(r.timed_out) << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::cout << "rank 1 stopped for " << paused.count() << " ms; run took " << r.seconds << " s\n";
  if (r.exit_code != 0) return {};
  std::ifstream in(out / "run.json");
  const json doc = json::parse(in);
  EXPECT_EQ(doc["run"]["status"], "complete");
  const auto& rep = doc["cases"].at(0)["repetitions"].at(0);
  Latency l;
  // Bins are [lowest, highest, count] in ns.
  for (const auto& bin : rep["latency"]["histogram"]["bins"]) {
    const auto n = bin[2].get<std::uint64_t>();
    l.samples += n;
    if (bin[0].get<double>() >= kLongNs) l.long_at_least += n;
    if (bin[1].get<double>() >= kLongNs) l.long_at_most += n;
  }
  const auto& phase = rep["regime"]["phase"]["latency"];
  EXPECT_EQ(phase["count"].get<std::uint64_t>(), l.samples);
  l.p99_ns = phase["p99_ns"].get<double>();
  l.max_ns = phase["max_ns"].get<double>();
  std::cout << regime << ": " << l << "\n";
  ::testing::Test::RecordProperty("samples", std::to_string(l.samples));
  ::testing::Test::RecordProperty("long_samples", std::to_string(l.long_at_least));
  ::testing::Test::RecordProperty("p99_ms", std::to_string(l.p99_ns / 1e6));
  ::testing::Test::RecordProperty("max_ms", std::to_string(l.max_ns / 1e6));
  return l;
}

}  // namespace

TEST(RegimeCli, OpenLoopLatencyShowsAPausedReceiver) {
  const Latency l = run_with_paused_receiver(
      "{kind: realistic, arrival: constant, rate: " + std::to_string(kRate) + "/s}");
  if (HasFailure()) return;
  // The first operation intended after the stop (at most one arrival gap after it) is confirmed
  // only after the pause: its latency is at least the pause less that gap.
  EXPECT_GE(l.max_ns, kPauseNs - 1e9 / kRate) << l;
  // Every operation intended in the first (pause - 150 ms) of the pause waits >= 150 ms: that
  // is rate x 0.15 s = 300 operations; ask for half.
  EXPECT_GE(static_cast<double>(l.long_at_least), kRate * (kPauseNs - kLongNs) / 1e9 * 0.5) << l;
  EXPECT_GE(l.p99_ns, kLongNs) << l;
}

TEST(RegimeCli, ClosedLoopFloorHidesAPausedReceiver) {
  const Latency l = run_with_paused_receiver("{kind: floor}");
  if (HasFailure()) return;
  // One operation in flight: only the one that was waiting when rank 1 stopped sees the pause
  // (at least one, or the pause missed the measured phase; at most two, for noise).
  EXPECT_GE(l.long_at_least, 1u) << "the pause did not reach the measured phase: " << l;
  EXPECT_LE(l.long_at_most, 2u) << l;
  EXPECT_LT(l.p99_ns, kLongNs) << l;
}
