#pragma once
// The tables of transports and suites the engine can run. Filled explicitly by harness/cli (the
// only place that names concrete transports and suites); no static-initializer registration.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/spec/experiment.hpp"
#include "suites/api/workload.hpp"
#include "transports/api/transport.hpp"

namespace fabricbench::engine {

struct TransportEntry {
  std::string name;
  std::string description;
  bool built = true;
  // Why it cannot run on this host (no device, built without the library), or nullopt.
  std::function<std::optional<std::string>()> unavailable_reason;
  // timeout_ns bounds connection set-up (the experiment's peer timeout).
  std::function<std::unique_ptr<transport::Transport>(const spec::Case&, std::uint64_t timeout_ns)>
      make;
  // Optional: events the transport saw (link down/up, QP errors) since the last call, as a JSON
  // array of run-document events without the rank: {"t_ns" (wall clock), "kind", "detail"
  // (an object)}. Collected after every case; the engine adds "rank" and detail.case.
  std::function<nlohmann::json(transport::Transport&)> drain_events{};
};

struct SuiteEntry {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<suites::Workload>()> make;
};

struct Registry {
  std::vector<TransportEntry> transports;
  std::vector<SuiteEntry> suites;
  const TransportEntry* transport(const std::string& name) const;
  const SuiteEntry* suite(const std::string& name) const;
};

}  // namespace fabricbench::engine
