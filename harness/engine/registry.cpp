#include "harness/engine/registry.hpp"

namespace fabricbench::engine {
namespace {

template <typename Entries>
auto find_named(const Entries& entries, const std::string& name) -> decltype(&entries.front()) {
  for (const auto& e : entries) {
    if (e.name() == name) return &e;
  }
  return nullptr;
}

}  // namespace

const TransportEntry* Registry::transport(const std::string& name) const {
  return find_named(transports, name);
}

const SuiteEntry* Registry::suite(const std::string& name) const {
  return find_named(suites, name);
}

const CollectiveEntry* Registry::collective(const std::string& name) const {
  return find_named(collectives, name);
}

const transport::MemoryDescriptor* Registry::memory_provider(const std::string& name) const {
  for (const auto& m : memory) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

spec::Catalog Registry::catalog() const {
  spec::Catalog c;
  for (const auto& t : transports) {
    const transport::Descriptor& d = t.descriptor;
    c.transports.push_back({d.name, d.keys, d.check, d.example, d.connections_key, d.fault_bin_ns,
                            d.traffic == transport::Traffic::rdma});
  }
  for (const auto& e : collectives) {
    const transport::CollectiveDescriptor& d = e.descriptor;
    spec::TransportKeys keys{d.name, d.keys, d.check, d.example, "", 100'000'000, false};
    keys.collective = true;
    c.transports.push_back(std::move(keys));
  }
  for (const auto& s : suites) {
    c.suites.push_back({s.descriptor.name, s.descriptor.keys, s.descriptor.check,
                        static_cast<bool>(s.descriptor.make_collective),
                        static_cast<bool>(s.descriptor.make_local),
                        s.descriptor.reports_bandwidth});
  }
  for (const auto& m : memory) c.memory.push_back({m.name, m.keys});
  return c;
}

}  // namespace fabricbench::engine
