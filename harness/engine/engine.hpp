#pragma once
// The case lifecycle: agree on the plan, capture envelopes, and for each case set up the
// transport and memory, run the workload's repetitions on every rank, gather and merge what
// each rank measured, and write the run document (rank 0). The library never prints: progress
// and results reach the CLI through Observer (called on rank 0 only).
#include <atomic>
#include <cstddef>
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
