#pragma once
// Topology-aware placement of a rank (docs/METHODOLOGY.md "Placement", docs/CONFIG.md
// "Placement"): which CPUs and NUMA nodes a rank is bound to, near which device, and how far it
// runs from that device. `decide` is the pure decision over a topology (this machine's, or an
// hwloc XML file's for tests); `apply` binds the calling process (hwloc_set_cpubind for every
// thread, hwloc_set_membind STRICT, i.e. MPOL_BIND, for the calling thread, which threads started
// later inherit), and must run before the rank allocates its buffers.
//
// The rules:
//   none:     nothing is bound; the binding reports the CPUs the rank runs on now
//             (Request::running_on), their NUMA nodes and the distance to its device if it has one.
//   auto:     the rank's CPUs and memory go to the NUMA node of its device: the GPU's when it has
//             one (when the NIC and the GPU are on different nodes the GPU's node wins and the
//             reason says so: every byte crosses the GPU's PCIe link, and the host-side copies
//             and launches run on its socket), the NIC's otherwise. Local ranks placed on the
//             same node split its cores evenly in local-rank order (contiguous, every hardware
//             thread of a core together; the first ranks get one core more when they do not
//             divide), so busy-polling ranks never time-share a core; more local ranks than cores
//             share cores round-robin (and the reason says so). No device, or a device without
//             NUMA locality: the rank stays unbound and the reason says why.
//   explicit: local rank i gets entry i of Request::explicit_entries: CPUs ("0-7,16-23"; memory
//             on the NUMA nodes those CPUs belong to) or a node ("numa:1": its CPUs and memory).
// Devices: a NIC by its RDMA device name (hwloc's OpenFabrics OS device, "mlx5_0") or its
// network interface ("eth0", "ib0"); a GPU by PCI bus id ("0000:07:00.0", any case, NVML's
// 8-digit domain too) or hwloc's OS device name ("cuda0", "nvml0"). An unknown one is an error
// naming it and listing what the topology has.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace fabricbench::placement {

// True when this build has hwloc; without it every function below but the text helpers throws
// core::Error(unavailable, "built without hwloc ...").
bool built_with_hwloc() noexcept;

enum class Mode { none, automatic, explicit_cpus };
std::string_view to_string(Mode mode) noexcept;         // "none" | "auto" | "explicit"
std::optional<Mode> parse_mode(std::string_view text);  // the inverse

// How far the rank's CPUs are from its device.
enum class Distance {
  same_numa_node,  // all of them on the device's NUMA node
  same_socket,     // all on the device's socket (package), not all on its node
  other_socket,    // none on the device's socket
  spans_sockets,   // some on the device's socket, some on another
  unknown,         // no device, or the device has no NUMA locality
};
std::string_view to_string(Distance d) noexcept;  // "same_numa_node", ...
std::string_view words(Distance d) noexcept;      // "same NUMA node", "other socket", ...

// A hardware topology with its I/O objects (PCI devices, bridges, OS devices) kept.
class Topology {
 public:
  static Topology load_system();                      // this machine
  static Topology load_xml(const std::string& path);  // an hwloc v2 (or v1) XML export
  Topology(Topology&&) noexcept;
  Topology& operator=(Topology&&) noexcept;
  ~Topology();

  bool is_this_system() const noexcept;
  std::string cpus() const;                    // every CPU, as a list ("0-63")
  std::vector<int> numa_nodes() const;         // os indexes
  std::string numa_node_cpus(int node) const;  // "" when there is no such node
  // The NICs hwloc sees (RDMA devices, then network interfaces) with their NUMA node (nullopt:
  // no single node), in topology order.
  std::vector<std::pair<std::string, std::optional<int>>> nics() const;

  struct Impl;
  const Impl& impl() const noexcept { return *impl_; }

 private:
  explicit Topology(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct Request {
  Mode mode = Mode::none;
  // The NIC (RDMA device or network interface) and the GPU of each local rank: local rank i
  // uses nics[i % size] and gpus[i % size]; empty: none.
  std::vector<std::string> nics;
  std::vector<std::string> gpus;
  int local_rank = 0;   // this rank's index among the ranks of its host
  int local_count = 1;  // ranks on this host
  // explicit: one entry per local rank, and how messages name each ("placement.local_ranks[1]
  // (run.yaml:7:5)"); a missing label is "placement.local_ranks[i]".
  std::vector<std::string> explicit_entries;
  std::vector<std::string> explicit_labels;
  // none: the CPUs the rank runs on now (a list); empty: every CPU of the topology.
  std::string running_on;
};

struct Binding {
  Mode mode = Mode::none;
  bool bind = false;            // apply() binds (auto or explicit with a result)
  std::string cpus;             // the rank's CPUs as a list ("0-3,32-35")
  std::vector<int> numa_nodes;  // NUMA nodes of those CPUs (memory is bound to them)
  std::string device;           // "mlx5_0", "0000:07:00.0"; "" when none
  std::optional<int> device_numa_node;
  Distance distance = Distance::unknown;
  std::string reason;  // in words: what was decided and why
  // True when the rank's CPUs are known to be off its device's NUMA node.
  bool remote() const noexcept {
    return distance != Distance::same_numa_node && distance != Distance::unknown;
  }
  // {mode, cpus, numa_nodes, device, device_numa_node, distance, reason} (docs/RESULTS.md):
  // device and device_numa_node null when unknown.
  nlohmann::json to_json() const;
};

// The decision. Throws core::Error(config) for an unknown device (naming it and what exists),
// an explicit list shorter than local_count, or an entry naming a CPU or node the topology lacks
// (naming the entry); core::Error(unavailable) without hwloc.
Binding decide(const Topology& topology, const Request& request);

// Binds the calling process as `binding` says (nothing when !binding.bind). The topology must be
// this system's. The CPUs failing to bind is an error (core::Error runtime, with errno's words);
// memory that cannot be bound (a kernel without NUMA support) is said in binding.reason.
void apply(const Topology& topology, Binding& binding);

// The CPUs the calling process may run on now, as a list (sched_getaffinity); "" on failure.
std::string current_cpus();

}  // namespace fabricbench::placement
