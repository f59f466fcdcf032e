#pragma once
// What the loader knows of the backends: the keys each transport and suite declares, their
// checks, and the traits that decide defaults and refusals. harness/spec names no backend; the
// engine's registry (filled by harness/cli's table) makes the catalog.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/settings.hpp"

namespace fabricbench::spec {

struct TransportKeys {
  std::string name;  // the `transport:` value and the name of its section (`tcp: {...}`)
  std::vector<core::KeyDecl> keys;
  core::KeyCheck check;  // optional
  std::string example;   // a mapping of its settings for messages, e.g. "{nodelay: true}"
  // The key giving connections (or queue pairs) per pair of ranks; "": one.
  std::string connections_key;
  std::uint64_t fault_bin_ns = 100'000'000;  // default recovery-curve bin of a fault
  // Its traffic crosses an RDMA device rather than the kernel's IP stack (which injectors reach
  // it: docs/CONFIG.md, "Faults").
  bool rdma = false;
  // A collective backend (a communicator over every rank) rather than a point-to-point transport:
  // only collective suites run on it, and they run on nothing else.
  bool collective = false;
};

struct SuiteKeys {
  std::string name;  // the `suite:` value
  std::vector<core::KeyDecl> keys;
  core::KeyCheck check;     // optional
  bool collective = false;  // runs over a collective backend (every rank at once)
  bool local = false;       // runs on each rank alone: no transport (its cases' transport: none)
  bool bandwidth = false;   // its figures are bandwidth (patterns incast and shift need it)
};

// A memory provider: the `memory:` value and the keys it reads, written directly in a case group
// (`gpu: 1`). Providers that read the same key declare it identically.
struct MemoryKeys {
  std::string name;
  std::vector<core::KeyDecl> keys;
};

struct Catalog {
  std::vector<TransportKeys> transports;  // the first is the default of `transport:`
  std::vector<SuiteKeys> suites;
  std::vector<MemoryKeys> memory;  // the `memory:` values; the first is the default

  const TransportKeys* transport(std::string_view name) const;
  const SuiteKeys* suite(std::string_view name) const;
};

}  // namespace fabricbench::spec
