#pragma once
// Runs the repetitions of a case whose regime is floor, realistic, overload or search (the
// closed regime is the workload's own loop). Collective: every rank of the run calls the same
// functions in the same order; rank 0 receives the merged repetition. Rates are per pair of ranks.
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/bootstrap/bootstrap.hpp"
#include "harness/engine/fault_run.hpp"
#include "harness/engine/open_loop.hpp"
#include "harness/regime/analysis.hpp"
#include "harness/spec/experiment.hpp"
#include "results/run_document.hpp"

namespace fabricbench::engine {

// Sustainable-rate searches already done in this run, by search signature (the case's resolved
// parameters that the search depends on), so `kind: [realistic, overload]` with `rate: 70%`
// searches once. Held on every rank (rank 0's results are broadcast).
struct SearchCache {
  std::map<std::string, nlohmann::json> by_signature;  // value: the search object (RESULTS.md)
};

// Buffer slots per endpoint a regime case needs (overrides the workload's), or nullopt for the
// closed regime.
std::optional<std::pair<int, int>> regime_slots(const spec::Case& c);

class RegimeRunner {
 public:
  // `echo`: pingpong answers each request with a reply of its size; stream acknowledges.
  RegimeRunner(bootstrap::Bootstrap& bootstrap, const spec::Case& c, const suites::Context& ctx,
               bool echo, bool bandwidth, SearchCache& cache);
  // One repetition; rank 0 gets it, the other ranks nullopt.
  std::optional<results::Repetition> run_repetition(int index);
  // The case's fault, on the injecting rank (rank 0, the generator of pair 0, whose clock the
  // curve uses): the measured phase of floor and realistic (duration mode) runs its timeline.
  void set_faults(CaseFaults* faults) noexcept { faults_ = faults; }
  // After run_repetition on the injecting rank: the timeline's record (CaseFaults::end) and the
  // mono time of the measured phase's start (the curve's origin); null / 0 without a fault.
  const nlohmann::json& fault_record() const noexcept { return fault_record_; }
  std::uint64_t fault_measure_start_ns() const noexcept { return fault_measure_start_; }

 private:
  struct Probe;
  // One phase on every pair; rank 0 gets the pairs' results merged (and the generators' overload
  // reports, worst first), other ranks nullopt. fault_repetition >= 0: this is a repetition's
  // measured phase, during which the case's fault (if set on this rank) runs.
  std::optional<regime::PhaseResult> phase(const PhasePlan& plan,
                                           const regime::OverloadProfile* overload,
                                           nlohmann::json* overload_report,
                                           int fault_repetition = -1);
  // The search object (RESULTS.md), identical on every rank.
  nlohmann::json sustainable();
  // A repetition's measured phase (rank 0 gets it merged) of each kind: floor's after its
  // warm-up; realistic's at `offered` ops/s; overload's around `offered`, with the worst pair's
  // overload report.
  std::optional<regime::PhaseResult> floor_phases(int index);
  std::optional<regime::PhaseResult> realistic_phase(double offered, int index);
  std::optional<regime::PhaseResult> overload_phase(double offered,
                                                    nlohmann::json* overload_report);
  PhasePlan base_plan(std::uint64_t bin_ns) const;
  double ops_per_s(const spec::Rate& rate, const nlohmann::json* search) const;
  std::uint64_t next_seed();

  bootstrap::Bootstrap& bs_;
  const spec::Case& case_;
  const suites::Context& ctx_;
  bool bandwidth_;
  SearchCache& cache_;
  OpenLoopSession session_;
  double mean_size_ = 0;
  std::uint64_t phases_ = 0;
  CaseFaults* faults_ = nullptr;
  nlohmann::json fault_record_ = nullptr;
  std::uint64_t fault_measure_start_ = 0;
};

}  // namespace fabricbench::engine
