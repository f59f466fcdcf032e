#pragma once
// One case on every rank: set up, agree whether it can run, connect, run its repetitions
// (closed: the workload's own loop; other regimes: the regime runner), gather, merge and record
// (rank 0), with its fault's timeline and evidence and the transports' events.
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/bootstrap/bootstrap.hpp"
#include "harness/engine/engine.hpp"
#include "harness/engine/regime_run.hpp"
#include "results/run_document.hpp"

namespace fabricbench::engine {

// What spans the cases of one run.
struct RunState {
  RunState(bootstrap::Bootstrap& b, const spec::Experiment& e, const Registry& r,
           const RunOptions& o, Observer* obs)
      : bs(b), exp(e), registry(r), options(o), observer(obs) {}

  bootstrap::Bootstrap& bs;
  const spec::Experiment& exp;
  const Registry& registry;
  const RunOptions& options;
  Observer* observer = nullptr;
  results::RunWriter* writer = nullptr;  // rank 0 only
  std::vector<std::string> hostnames;    // rank 0: each rank's host ("" when unknown)
  SearchCache searches;  // sustainable rates found so far, shared by the cases that need them
  // Restores injected faults if this process dies (started on first need; netns needs none: the
  // launcher's watchdog removes the namespaces as a whole).
  std::unique_ptr<faults::Watchdog> watchdog;
  RunOutcome outcome;
  results::RunStatus final_status = results::RunStatus::complete;

  int rank() const { return bs.rank(); }
  int size() const { return bs.size(); }
  bool stop_requested() const {
    return options.stop_requested != nullptr && options.stop_requested->load();
  }
};

// Runs case `index` of the plan; false when the run must stop after it (a failure).
bool run_case(RunState& run, std::size_t index);

// What every kind of case does as it starts: tells the observer and (rank 0) the writer which
// case runs, and returns its record with id, suite, backend, resolved plan and start time.
results::CaseResult open_case(RunState& run, std::size_t index);
// A run-document event tagged with the rank that saw it and its case (and repetition).
nlohmann::json tagged_event(nlohmann::json e, int rank, const std::string& case_id,
                            std::optional<int> repetition);
// Rank 0: hands the finished record to the observer and the writer; nothing elsewhere.
void record_case(RunState& run, const spec::Case& c, results::CaseResult& result);

// What a case does after one local step that every rank then agrees on (agree_on_case).
enum class StepOutcome {
  go_on,    // every rank succeeded
  skipped,  // unavailable somewhere: recorded as skipped, the run goes on
  failed,   // failed somewhere: recorded as failed everywhere alike, the run stops
};
StepOutcome agreed_step(RunState& run, const spec::Case& c, results::CaseResult& result,
                        const std::function<void()>& local_step);

// A case that failed: the run's outcome and status, and (rank 0) the record.
void record_failed_case(RunState& run, const spec::Case& c, results::CaseResult& result,
                        const std::string& error);
// A case this rank failed on its own (after set-up): the side channel aborted so every rank
// learns it, the error (or the interrupt) recorded.
void record_rank_failure(RunState& run, const spec::Case& c, results::CaseResult& result,
                         const core::Error& e);

}  // namespace fabricbench::engine
