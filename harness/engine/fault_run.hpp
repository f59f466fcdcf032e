#pragma once
// A case's fault on the engine side (docs/METHODOLOGY.md "Faults and recovery"): which rank
// causes it, the timeline of each repetition on that rank, the evidence it leaves in the run
// document, and the recovery metrics rank 0 computes from the repetition's curve.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/faults/injector.hpp"
#include "harness/spec/experiment.hpp"
#include "results/run_document.hpp"
#include "suites/api/workload.hpp"

namespace fabricbench::engine {

// The rank whose measurements make the recovery curve, which also causes the fault (so both use
// one clock): in the closed regime, pair 0's receiver when the suite's figures are counted by
// the receiver (a one-way two-sided stream), otherwise rank 0.
int injecting_rank(const spec::Case& c, const suites::Params& p, bool counted_by_receiver,
                   int size);

faults::BackendConfig backend_config(const spec::InjectorSettings& injector);
faults::Fault fault_of(const spec::FaultSettings& fault);

// On the injecting rank, for one case.
class CaseFaults {
 public:
  // Makes the injector (throws core::Error: config for a fault the backend cannot cause,
  // unavailable when a tool or the target is missing). `watchdog` may be null for netns.
  CaseFaults(const spec::Experiment& experiment, const spec::Case& c, faults::Watchdog* watchdog);
  ~CaseFaults();
  CaseFaults(const CaseFaults&) = delete;
  CaseFaults& operator=(const CaseFaults&) = delete;
  // Starts repetition `repetition`'s timeline; times count from t0_mono_ns (core::now_ns()).
  void begin(int repetition, std::uint64_t t0_mono_ns);
  // Stops the timeline (clearing anything still injected) and returns its record:
  // {backend, target, kind, repetition, planned: [{start_ns, end_ns}] (from t0), t0_mono_ns,
  //  first_inject_mono_ns, last_clear_mono_ns, first_inject_wall_ns, actions: [...], error}.
  nlohmann::json end();
  bool running() const noexcept { return timeline_ != nullptr; }

 private:
  const spec::Case& case_;
  std::unique_ptr<faults::Injector> injector_;
  std::unique_ptr<faults::Timeline> timeline_;
  std::vector<faults::Occurrence> planned_;
  int repetition_ = 0;
  std::uint64_t t0_ = 0;
};

// The run-document events of a fault record's actions ({t_ns, kind "fault.inject" /
// "fault.clear", detail}); the caller adds rank and case.
nlohmann::json fault_events(const nlohmann::json& record);

// Rank 0: the repetition's `fault` object (RESULTS.md "Faults"): the record's timing placed on
// the repetition's curve (relative to its measured phase start, measure_start_mono_ns on the
// injecting rank), and the recovery metrics of the curve. `events` are the repetition's
// transport events of every rank, each with its "rank" (drained after the repetition):
//  - link events (PORT_ERR, QP_FATAL, port_down) at or after the inject give the detection
//    time (wall clock: meant for the injecting rank's own events);
//  - connection events (transport.hpp ConnectionEvent) give the outcome `reconnected`,
//    `reconnects` (connections re-established: the connectors' "connection.reconnected"
//    events, so each counts once) and `failed_operations` (the sum of their lost_messages over
//    both sides) without any clock; and the first error the application saw: the first
//    "connection.broken" after the inject among the ranks whose wall clock is the injecting
//    rank's (`same_clock`, indexed by rank: same host), or, when none of them saw one, among
//    the others (their wall clocks may be skewed).
// The outcome is `injection_failed` when the record has an error, else `reconnected` or
// `absorbed`.
nlohmann::json fault_summary(const spec::Case& c, const results::Repetition& rep,
                             const nlohmann::json& record, std::uint64_t measure_start_mono_ns,
                             const nlohmann::json& events, const std::vector<bool>& same_clock);

// Case summary `recovery`: median and p95 over repetitions of each metric.
nlohmann::json recovery_spread(const std::vector<results::Repetition>& reps);

}  // namespace fabricbench::engine
