#pragma once
// What a suite tells the rest of fabricbench about itself: its name, the case keys it declares
// (written directly in a case group, e.g. `window: 64`), their cross-field checks, how its
// settings become workload parameters, and the traits the engine and the console read. Each
// suite folder exports one function returning its Descriptor; harness/cli's registry table
// lists them (docs/ARCHITECTURE.md, "How to add a suite").
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/settings.hpp"
#include "suites/api/collective.hpp"
#include "suites/api/local.hpp"
#include "suites/api/workload.hpp"

namespace fabricbench::suites {

struct Descriptor {
  std::string name;         // the `suite:` value
  std::string description;  // one line for `fabricbench list`
  std::vector<core::KeyDecl> keys;
  core::KeyCheck check;  // optional
  // A pair-wise suite makes a Workload (over a Transport) ...
  std::function<std::unique_ptr<Workload>()> make;
  // ... a collective suite a CollectiveWorkload (over a Communicator: every rank at once), and
  // sets the collective parameters its keys give. A suite has one of the three.
  std::function<std::unique_ptr<CollectiveWorkload>()> make_collective;
  std::function<void(const core::Settings& own, CollectiveParams& params)> configure_collective;
  // ... or a local suite a LocalWorkload (each rank alone, no transport: suites/api/local.hpp),
  // from its own settings.
  std::function<std::unique_ptr<LocalWorkload>(const core::Settings& own)> make_local;
  // Sets the parameters its own keys give (window, bidirectional, ...); optional.
  std::function<void(const core::Settings& own, Params& params)> configure;
  // The console's words for a closed-loop case's own keys ("unidirectional (...), window 64");
  // optional.
  std::function<std::string(const core::Settings& own)> describe;
  // Its figures: bandwidth and message rate (true) or latency (false).
  bool reports_bandwidth = false;
  // Open-loop regimes: a two-sided request is confirmed by a reply of its own size
  // (request/response) rather than by the receiver's cumulative zero-byte acknowledgement.
  bool echoes_requests = false;
  // With a two-sided op in one direction the receiving rank counts the figures (perftest's
  // *_bw, iperf3), so a fault's recovery curve is read on the receiver.
  bool counted_by_receiver = false;
};

}  // namespace fabricbench::suites
