#pragma once
// The case lifecycle: agree on the plan, capture envelopes, and for each case set up the
// transport and memory, run the workload's repetitions on every rank, gather and merge what
// each rank measured, and write the run document (rank 0). The library never prints: progress
// and results reach the CLI through Observer (called on rank 0 only).
#include <atomic>
#include <cstddef>
#include <functional>
#include <string>

#include "core/error.hpp"
#include "harness/bootstrap/bootstrap.hpp"
#include "harness/engine/registry.hpp"
#include "harness/spec/experiment.hpp"
#include "results/run_document.hpp"

namespace fabricbench::engine {

class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on_run_start(const results::RunDocument& /*doc*/, const std::string& /*dir*/) {}
  virtual void on_case_start(std::size_t /*index*/, std::size_t /*total*/,
                             const spec::Case& /*c*/) {}
  virtual void on_repetition(const spec::Case& /*c*/, int /*done*/) {}
  virtual void on_case_done(const spec::Case& /*c*/, const results::CaseResult& /*result*/) {}
  virtual void on_run_done(const results::RunDocument& /*doc*/, const std::string& /*dir*/) {}
};

struct RunOptions {
  // Directory for the run (created by rank 0). Empty: <output_root>/<run id>.
  std::string output_dir;
  std::string output_root = "fabricbench-runs";
  const std::atomic<bool>* stop_requested = nullptr;  // SIGINT/SIGTERM
  // A rank whose thread is stuck inside a collective that cannot be aborted (a blocking MPI call
  // waiting for a lost rank): once the failure is recorded (rank 0: the run document finished),
  // the engine calls this from another thread, then ends the process with exit code 1 (run
  // failed). The CLI says the error here; it must not throw. Unset: the process just ends.
  std::function<void(int rank, const std::string& error)> on_stuck;
};

struct RunOutcome {
  core::ExitCode exit_code = core::ExitCode::ok;
  std::string run_dir;  // rank 0: where run.json is
  std::string error;    // first error, with the case id
  // A rank other than 0 whose case failed while a fault was injected: the fault's record (its
  // evidence; only rank 0 writes the document), as JSON text; "" otherwise.
  std::string fault_evidence;
};

// Collective: every rank calls it with the same experiment. Throws core::Error on failures
// before the run document exists (plan mismatch); afterwards failures are recorded in the
// document and returned in RunOutcome.
RunOutcome run_experiment(bootstrap::Bootstrap& bootstrap, const spec::Experiment& experiment,
                          const Registry& registry, const RunOptions& options, Observer* observer);

}  // namespace fabricbench::engine
