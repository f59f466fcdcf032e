#pragma once
// The local suites' contract with the engine: a case that each rank runs alone, on its own
// hardware (a GPU's copies, a host's memory), with no transport and no communicator. The rules:
//   - the engine makes one LocalWorkload per case and rank (Descriptor::make_local, from the
//     suite's own settings) and calls prepare() once; a core::Error of kind `unavailable` from it
//     skips the case on every rank with its message (a rank without a GPU), any other fails it;
//   - per repetition every rank passes a barrier and calls run(), which measures on this rank
//     only and returns its figures as JSON; the engine gathers them and rank 0 calls merge();
//   - run() and merge() never print and never touch the side channel; merge() is pure.
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace fabricbench::suites {

// What the case gives a local workload besides its suite's own settings.
struct LocalParams {
  std::uint64_t size = 0;               // the swept `sizes:` value, bytes
  std::uint64_t iterations = 0;         // operations timed per repetition
  std::uint64_t warmup_iterations = 0;  // operations before them, untimed
  int rank = 0;
  int ranks = 1;
};

// What rank 0 makes of every rank's result of one repetition.
struct LocalMerged {
  nlohmann::json figures;        // the suite's block of results::Repetition (e.g. `copy`)
  std::uint64_t bytes = 0;       // results::Repetition::bytes
  std::uint64_t elapsed_ns = 0;  // results::Repetition::elapsed_ns
  std::uint64_t ops = 0;         // results::Repetition::ops
};

class LocalWorkload {
 public:
  virtual ~LocalWorkload() = default;
  // Allocates and places what the repetitions use. Throws core::Error(unavailable) with the
  // reason when this rank cannot run the case, core::Error otherwise on a failure.
  virtual void prepare(const LocalParams& p) = 0;
  // One repetition on this rank: this rank's figures. Throws core::Error on a failure.
  virtual nlohmann::json run(const LocalParams& p) = 0;
  // Rank 0: one repetition's figures of every rank (index = rank) merged.
  virtual LocalMerged merge(const LocalParams& p,
                            const std::vector<nlohmann::json>& per_rank) const = 0;
};

}  // namespace fabricbench::suites
