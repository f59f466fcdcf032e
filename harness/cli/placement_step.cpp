#include "harness/cli/placement_step.hpp"

#include <limits.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "harness/envelope/envelope.hpp"
#include "harness/placement/placement.hpp"

namespace fabricbench::cli {
namespace {

using nlohmann::json;

std::string hostname() {
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "";
  return host;
}

// The NIC to place near when the file names none: the first case's transport device (verbs
// `device`) or interface (tcp `interface`), when written.
std::vector<std::string> default_nics(const spec::Experiment& exp) {
  if (exp.cases.empty()) return {};
  const core::Settings& s = exp.cases.front().transport_settings;
  for (const char* key : {"device", "interface"}) {
    if (s.has(key) && s.at(key).kind == core::SettingValue::Kind::text && !s.text(key).empty()) {
      return {s.text(key)};
    }
  }
  return {};
}

placement::Request request_for(const spec::Experiment& exp, int local_rank, int local_count) {
  const spec::PlacementSettings& p = exp.placement;
  placement::Request r;
  r.mode = placement::parse_mode(p.mode).value_or(placement::Mode::none);
  r.nics = p.devices;
  r.gpus = p.gpus;
  if (r.nics.empty() && r.gpus.empty()) r.nics = default_nics(exp);
  r.local_rank = local_rank;
  r.local_count = local_count;
  r.explicit_entries = p.local_ranks;
  r.explicit_labels = p.local_rank_origins;
  r.running_on = placement::current_cpus();
  return r;
}

json decide_and_apply(const placement::Request& r) {
  if (!placement::built_with_hwloc()) {
    if (r.mode != placement::Mode::none) {
      throw core::Error(core::ErrorKind::config,
                        fmt::format("placement: {} needs hwloc, and this fabricbench was built "
                                    "without hwloc (install libhwloc-dev and rebuild), or write "
                                    "placement: none",
                                    placement::to_string(r.mode)));
    }
    placement::Binding b;
    b.cpus = r.running_on;
    b.reason = "none: left to the launcher; runs on CPUs " + r.running_on +
               "; built without hwloc, so no NUMA nodes or distance";
    return b.to_json();
  }
  const placement::Topology topology = placement::Topology::load_system();
  placement::Binding b;
  try {
    b = placement::decide(topology, r);
  } catch (const core::Error& e) {
    // none binds nothing: a device it cannot find (one the run creates later, such as the netns
    // injector's veth, or one named only by the first case) leaves just the distance unknown.
    if (r.mode != placement::Mode::none) throw;
    b = placement::Binding{};
    b.cpus = r.running_on;
    b.reason = "none: left to the launcher; runs on CPUs " + r.running_on +
               "; distance to the device unknown (" + e.what() + ")";
    return b.to_json();
  }
  placement::apply(topology, b);
  return b.to_json();
}

std::string nodes_text(const json& nodes) {
  std::vector<std::string> out;
  for (const auto& n : nodes) out.push_back(n.dump());
  return fmt::format("{}", fmt::join(out, ","));
}

}  // namespace

void place_rank(bootstrap::Bootstrap& bs, const spec::Experiment& exp, std::FILE* warnings) {
  const std::string host = hostname();
  const std::vector<std::string> hosts = bs.allgather(host);
  int local_rank = 0;
  int local_count = 0;
  for (int i = 0; i < static_cast<int>(hosts.size()); ++i) {
    if (hosts[static_cast<std::size_t>(i)] != host) continue;
    if (i < bs.rank()) ++local_rank;
    ++local_count;
  }

  json binding;
  json failure;  // {error, kind} when this rank cannot be placed
  try {
    binding = decide_and_apply(request_for(exp, local_rank, local_count));
  } catch (const core::Error& e) {
    failure = {{"error", e.what()}, {"kind", static_cast<int>(e.kind())}};
  }
  // Every rank learns every failure, so that all fail together with the same words; a rank that
  // was placed contributes nothing (this stays small at a thousand ranks).
  const std::vector<std::string> failures = bs.allgather(failure.is_null() ? "" : failure.dump());
  for (std::size_t i = 0; i < failures.size(); ++i) {
    if (failures[i].empty()) continue;
    const json f = json::parse(failures[i]);
    throw core::Error(static_cast<core::ErrorKind>(f.at("kind").get<int>()),
                      fmt::format("placement on rank {} ({}): {}", i, hosts[i],
                                  f.at("error").get<std::string>()));
  }
  envelope::record_placement_binding(binding);

  // Only rank 0 warns, so only rank 0 gets the bindings.
  const std::vector<std::string> bindings = bs.gather(binding.dump());
  if (bs.rank() != 0 || warnings == nullptr) return;
  for (std::size_t i = 0; i < bindings.size(); ++i) {
    const json b = json::parse(bindings[i]);
    const std::string distance = b.value("distance", "unknown");
    if (distance == "unknown" || distance == "same_numa_node") continue;
    fmt::print(warnings,
               "fabricbench: warning: rank {} ({}) runs on CPUs {} (NUMA node {}), {} from its "
               "device {} (NUMA node {}): expect less bandwidth and more latency; `placement: "
               "auto` binds it near the device\n",
               i, hosts[i], b.value("cpus", ""), nodes_text(b.at("numa_nodes")),
               distance == "same_socket"    ? "another NUMA node of the same socket"
               : distance == "other_socket" ? "on the other socket"
                                            : "spanning sockets",
               b.at("device").is_string() ? b.at("device").get<std::string>() : "?",
               b.at("device_numa_node").dump());
  }
  std::fflush(warnings);
}

}  // namespace fabricbench::cli
