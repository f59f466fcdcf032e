#pragma once
// The tables of what this binary can run: point-to-point transports, suites, memory providers
// and collective backends. Filled explicitly by harness/cli's registry table (the only place that
// names concrete backends); no static-initializer registration. Each entry is what the backend's
// own folder declares (its Descriptor: keys, checks, traits, factory), so the loader and the
// engine learn everything about a backend from here (docs/ARCHITECTURE.md).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/settings.hpp"
#include "harness/spec/catalog.hpp"
#include "suites/api/descriptor.hpp"
#include "transports/api/communicator.hpp"
#include "transports/api/descriptor.hpp"
#include "transports/api/memory.hpp"

namespace fabricbench::engine {

struct TransportEntry {
  transport::Descriptor descriptor;
  // Optional: events the transport saw (link down/up, QP errors, connection life) since the last
  // call, as a JSON array of run-document events without the rank: {"t_ns" (wall clock), "kind",
  // "detail" (an object)}. Collected after every repetition; the engine adds "rank" and
  // detail.case.
  std::function<nlohmann::json(transport::Transport&)> drain_events{};

  const std::string& name() const noexcept { return descriptor.name; }
  bool built() const noexcept { return static_cast<bool>(descriptor.make); }
};

struct SuiteEntry {
  suites::Descriptor descriptor;
  const std::string& name() const noexcept { return descriptor.name; }
};

// A collective backend spans all ranks (a Communicator: NCCL, MPI), where a transport pairs
// them (transports/api/communicator.hpp).
struct CollectiveEntry {
  transport::CollectiveDescriptor descriptor;
  const std::string& name() const noexcept { return descriptor.name; }
  bool built() const noexcept { return static_cast<bool>(descriptor.make); }
};

struct Registry {
  std::vector<TransportEntry> transports;
  std::vector<SuiteEntry> suites;
  std::vector<transport::MemoryDescriptor> memory;
  std::vector<CollectiveEntry> collectives;

  const TransportEntry* transport(const std::string& name) const;
  const SuiteEntry* suite(const std::string& name) const;
  const CollectiveEntry* collective(const std::string& name) const;
  const transport::MemoryDescriptor* memory_provider(const std::string& name) const;
  // What the loader needs to know of every backend: their keys, checks and traits.
  spec::Catalog catalog() const;
};

}  // namespace fabricbench::engine
