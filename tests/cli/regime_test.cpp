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

namespace {

// Runs `yaml` to completion (exit 0) and returns its run document.
json run_to_document(const std::string& yaml) {
  const auto dir = scratch("run");
  const auto cfg = dir / "regimes.yaml";
  std::ofstream(cfg) << yaml;
  const auto out = dir / "run";
  const auto r = fbtest::run_process({kBinary, "run", cfg.string(), "-o", out.string()}, dir, 100s);
  EXPECT_FALSE(r.timed_out) << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  if (r.exit_code != 0) return json();
  std::ifstream in(out / "run.json");
  return json::parse(in);
}

// What every open-loop phase must account for, whatever the machine: every arrival is refused
// or confirmed (the phase drains), bytes match the sizes, series add up to the totals.
void expect_phase_accounts(const json& phase, const std::string& id) {
  SCOPED_TRACE(id);
  const auto u = [&](const char* k) { return phase.at(k).get<std::uint64_t>(); };
  EXPECT_EQ(u("offered_ops"), u("completed_ops") + u("refused_ops"));
  EXPECT_EQ(u("offered_bytes"), u("completed_bytes") + u("refused_bytes"));
  EXPECT_GT(u("completed_ops"), 0u);
  EXPECT_EQ(phase["latency"]["count"].get<std::uint64_t>(), u("completed_ops"));
  EXPECT_EQ(phase["queueing"]["count"].get<std::uint64_t>(), u("completed_ops"));
  EXPECT_EQ(phase["service"]["count"].get<std::uint64_t>(), u("completed_ops"));
  // latency = queueing + service for every operation, so the extremes are ordered.
  EXPECT_GE(phase["latency"]["max_ns"].get<double>(), phase["service"]["max_ns"].get<double>());
  EXPECT_GE(phase["latency"]["max_ns"].get<double>(), phase["queueing"]["max_ns"].get<double>());
  std::uint64_t offered = 0;
  std::uint64_t completed = 0;
  std::uint64_t refused = 0;
  for (const auto& bin : phase["intervals"]) {
    offered += bin["offered_ops"].get<std::uint64_t>();
    completed += bin["completed_ops"].get<std::uint64_t>();
    refused += bin["refused_ops"].get<std::uint64_t>();
  }
  EXPECT_EQ(offered, u("offered_ops"));
  EXPECT_EQ(completed, u("completed_ops"));
  EXPECT_EQ(refused, u("refused_ops"));
  EXPECT_GT(phase["queue_age"]["count"].get<std::uint64_t>(), 0u);
}

}  // namespace

// Every regime with both suites (pingpong confirms by echo, stream by cumulative
// acknowledgement), over several streams and connections, with a size mix.
TEST(RegimeCli, EveryRegimeRunsWithBothSuites) {
  const json doc = run_to_document(
      "fabricbench: 1\n"
      "name: every-regime\n"
      "ranks: 2\n"
      "timeouts: {peer: 20s}\n"
      "defaults:\n"
      "  transport: tcp\n"
      "  tcp: {address: 127.0.0.1, connections: 2}\n"
      "  completion: blocking\n"
      "  interval: 50ms\n"
      "  regime: {streams: 3, inflight: 4, arrival: poisson, seed: 7, mix: '64B:3,1KiB:1',\n"
      "           search_probe: 200ms, search_max_probes: 8, search_queue_age: 100ms,\n"
      "           search_precision: 20%}\n"
      "cases:\n"
      "  - name: r\n"
      "    suite: [pingpong, stream]\n"
      "    duration: 300ms\n"
      "    warmup: 50ms\n"
      "    regime:\n"
      "      kind: [floor, realistic, overload, search]\n"
      "      rate: 1000/s\n"
      "      overload_before: 200ms\n"
      "      overload_during: 100ms\n"
      "      overload_after: 300ms\n");
  if (HasFailure()) return;
  ASSERT_EQ(doc["run"]["status"], "complete");
  ASSERT_EQ(doc["cases"].size(), 8u);
  for (const auto& c : doc["cases"]) {
    const std::string id = c["id"];
    SCOPED_TRACE(id);
    ASSERT_EQ(c["status"], "ok");
    const auto& r = c["repetitions"].at(0)["regime"];
    const std::string kind = r["kind"];
    EXPECT_EQ(c["summary"]["regime"]["kind"], kind);
    if (kind == "search") {
      // A loose bound (100 ms) and room to halve: some rate passes unless the host is starved;
      // then every probe must say why it failed.
      const auto& probes = r["search"]["probes"];
      EXPECT_FALSE(probes.empty());
      const double found = r["search"]["sustainable_rate_ops_per_s"].get<double>();
      bool any_passed = false;
      for (const auto& p : probes) {
        any_passed = any_passed || p["sustainable"].get<bool>();
        if (!p["sustainable"].get<bool>()) {
          EXPECT_FALSE(p["reason"].get<std::string>().empty());
        }
      }
      EXPECT_EQ(found > 0, any_passed) << probes.dump();
      EXPECT_TRUE(r["phase"].is_null());
      continue;
    }
    const auto& phase = r["phase"];
    expect_phase_accounts(phase, id);
    const double mean = static_cast<double>(phase["completed_bytes"].get<std::uint64_t>()) /
                        static_cast<double>(phase["completed_ops"].get<std::uint64_t>());
    if (kind == "floor") {
      // One stream, one operation in flight, every message the mix's largest size.
      EXPECT_EQ(r["streams"], 1);
      EXPECT_EQ(r["inflight"], 1);
      EXPECT_EQ(phase["peak_depth_ops"], 1u);
      EXPECT_EQ(phase["queueing"]["max_ns"], 0u);
      continue;
    }
    // Open loop: sizes from the mix (64 B three times as often as 1 KiB: mean 304 B).
    EXPECT_GE(mean, 64.0);
    EXPECT_LE(mean, 1024.0);
    EXPECT_EQ(r["streams"], 3);
    EXPECT_NEAR(r["rate"]["ops_per_s"].get<double>(), 1000.0, 1e-9);
    EXPECT_EQ(phase["refused_ops"], 0u);
    if (kind == "overload") {
      const auto& o = r["overload"];
      ASSERT_TRUE(o.is_object());
      EXPECT_EQ(o["factor"], 2.0);
      // The step offered about twice the baseline (Poisson: allow wide noise over 100 ms).
      EXPECT_GT(o["offered_during_ops_per_s"].get<double>(), 1000.0);
      EXPECT_TRUE(o["drain_ns"].is_null() || o["drain_ns"].get<double>() >= 0);
    }
  }
}

// regime.generator: spin with blocking completions: the generator polls instead of sleeping, the
// responder still sleeps; every arrival is confirmed, and the run records how the generator
// waited (the default, sleep, in the other tests).
TEST(RegimeCli, SpinningGeneratorConfirmsEveryArrival) {
  const json doc = run_to_document(
      "fabricbench: 1\n"
      "name: spinning-generator\n"
      "ranks: 2\n"
      "timeouts: {peer: 20s}\n"
      "defaults:\n"
      "  transport: tcp\n"
      "  completion: blocking\n"
      "  sizes: 64\n"
      "cases:\n"
      "  - name: one\n"
      "    suite: [pingpong, stream]\n"
      "    tcp: {address: 127.0.0.1}\n"
      "    duration: 300ms\n"
      "    warmup: 50ms\n"
      "    regime: {kind: realistic, rate: 2000/s, arrival: constant, generator: spin}\n"
      "  - name: two\n"
      "    suite: pingpong\n"
      "    tcp: {address: 127.0.0.1, connections: 2}\n"
      "    duration: 300ms\n"
      "    warmup: 50ms\n"
      "    regime: {kind: realistic, rate: 2000/s, streams: 2, generator: spin}\n");
  if (HasFailure()) return;
  ASSERT_EQ(doc["run"]["status"], "complete");
  ASSERT_EQ(doc["cases"].size(), 3u);
  for (const auto& c : doc["cases"]) {
    const std::string id = c["id"];
    SCOPED_TRACE(id);
    ASSERT_EQ(c["status"], "ok");
    const auto& r = c["repetitions"].at(0)["regime"];
    EXPECT_EQ(r["generator"], "spin");
    const auto& phase = r["phase"];
    expect_phase_accounts(phase, id);
    EXPECT_EQ(phase["refused_ops"], 0u);
    EXPECT_EQ(phase["completed_ops"], phase["offered_ops"]);
    EXPECT_GT(phase["completed_ops"].get<std::uint64_t>(), 0u);
  }
}

// A backlog bound refuses arrivals beyond it and counts them: offered far above what the
// connection can carry (one operation in flight, a 3-operation backlog, 200k/s).
TEST(RegimeCli, ArrivalsBeyondTheBacklogAreRefusedAndCounted) {
  const json doc = run_to_document(
      "fabricbench: 1\n"
      "name: refusals\n"
      "ranks: 2\n"
      "timeouts: {peer: 20s}\n"
      "cases:\n"
      "  - name: r\n"
      "    suite: stream\n"
      "    transport: tcp\n"
      "    tcp: {address: 127.0.0.1}\n"
      "    completion: blocking\n"
      "    sizes: 64B\n"
      "    duration: 300ms\n"
      "    warmup: 0ms\n"
      "    regime: {kind: realistic, arrival: constant, rate: 200k/s, inflight: 1, backlog: 3,\n"
      "             deadline: 1us}\n");
  if (HasFailure()) return;
  const auto& phase = doc["cases"].at(0)["repetitions"].at(0)["regime"]["phase"];
  expect_phase_accounts(phase, "refusals");
  // 60000 arrivals; one connection with one operation in flight confirms far fewer.
  EXPECT_EQ(phase["offered_ops"], 60000u);
  EXPECT_GT(phase["refused_ops"].get<std::uint64_t>(), 0u);
  EXPECT_LE(phase["peak_backlog_ops"].get<std::uint64_t>(), 3u);
  // Nothing completes within 1 us of its intended time over TCP: every confirmation missed.
  EXPECT_EQ(phase["deadline_misses"], phase["completed_ops"]);
}

// A fault the injector cannot cause on the transport is refused before anything runs: exit 2,
// the file, line and field, and the reason; no run directory is created.
TEST(FaultCli, ImpossibleFaultIsRefusedBeforeTheRun) {
  const auto dir = scratch("refused");
  const auto cfg = dir / "refused.yaml";
  std::ofstream(cfg) << "fabricbench: 1\n"
                        "name: refused\n"
                        "ranks: 2\n"
                        "injector: {backend: netns}\n"
                        "cases:\n"
                        "  - name: delayed\n"
                        "    suite: stream\n"
                        "    transport: tcp\n"
                        "    tcp: {address: '', interface: fbd0}\n"
                        "    sizes: 64KiB\n"
                        "    duration: 3s\n"
                        "    fault: {kind: delay, delay: 10ms}\n";
  const auto out = dir / "run";
  const auto r = fbtest::run_process({kBinary, "run", cfg.string(), "-o", out.string()}, dir, 30s);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  // Where, which field, and why (no netem on this host's kernel for the netns backend).
  EXPECT_NE(r.err.find("refused.yaml:12:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("fault"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("netem"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out)) << "a run directory was created for a refused experiment";
}
