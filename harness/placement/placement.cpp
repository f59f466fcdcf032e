// Placement with hwloc (placement.hpp). Built without hwloc, only the text helpers work and
// everything else says "built without hwloc".
#include "harness/placement/placement.hpp"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/cpu_list.hpp"
#include "core/error.hpp"
#include "core/pci_topology.hpp"

#if FABRICBENCH_PLACEMENT_WITH_HWLOC
#include <hwloc.h>
#endif

namespace fabricbench::placement {

std::string_view to_string(Mode mode) noexcept {
  switch (mode) {
    case Mode::automatic:
      return "auto";
    case Mode::explicit_cpus:
      return "explicit";
    case Mode::none:
      break;
  }
  return "none";
}

std::optional<Mode> parse_mode(std::string_view text) {
  if (text == "none") return Mode::none;
  if (text == "auto") return Mode::automatic;
  if (text == "explicit") return Mode::explicit_cpus;
  return std::nullopt;
}

std::string_view to_string(Distance d) noexcept {
  switch (d) {
    case Distance::same_numa_node:
      return "same_numa_node";
    case Distance::same_socket:
      return "same_socket";
    case Distance::other_socket:
      return "other_socket";
    case Distance::spans_sockets:
      return "spans_sockets";
    case Distance::unknown:
      break;
  }
  return "unknown";
}

std::string_view words(Distance d) noexcept {
  switch (d) {
    case Distance::same_numa_node:
      return "same NUMA node";
    case Distance::same_socket:
      return "same socket, another NUMA node";
    case Distance::other_socket:
      return "other socket";
    case Distance::spans_sockets:
      return "spans sockets";
    case Distance::unknown:
      break;
  }
  return "unknown";
}

nlohmann::json Binding::to_json() const {
  return {
      {"mode", to_string(mode)},
      {"cpus", cpus},
      {"numa_nodes", numa_nodes},
      {"device", device.empty() ? nlohmann::json() : nlohmann::json(device)},
      {"device_numa_node", device_numa_node ? nlohmann::json(*device_numa_node) : nlohmann::json()},
      {"distance", to_string(distance)},
      {"reason", reason}};
}

std::string current_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return "";
  std::vector<unsigned> cpus;
  for (unsigned c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return core::format_cpu_list(cpus);
}

#if FABRICBENCH_PLACEMENT_WITH_HWLOC

bool built_with_hwloc() noexcept {
  return true;
}

namespace {

// An owned hwloc bitmap.
struct Bitmap {
  hwloc_bitmap_t b;
  Bitmap() : b(hwloc_bitmap_alloc()) {
    if (b == nullptr) throw core::Error(core::ErrorKind::runtime, "hwloc_bitmap_alloc failed");
  }
  explicit Bitmap(hwloc_const_bitmap_t from) : b(hwloc_bitmap_dup(from)) {
    if (b == nullptr) throw core::Error(core::ErrorKind::runtime, "hwloc_bitmap_dup failed");
  }
  Bitmap(const Bitmap&) = delete;
  Bitmap& operator=(const Bitmap&) = delete;
  ~Bitmap() { hwloc_bitmap_free(b); }
};

std::string list_of(hwloc_const_bitmap_t set) {
  char* text = nullptr;
  if (hwloc_bitmap_list_asprintf(&text, set) < 0 || text == nullptr) return "";
  std::string out(text);
  std::free(text);  // NOLINT(cppcoreguidelines-no-malloc): hwloc allocates with malloc
  return out;
}

std::string join_ints(const std::vector<int>& v) {
  std::vector<unsigned> u(v.begin(), v.end());
  return core::format_cpu_list(u);
}

std::string errno_text(int err) {
  return std::strerror(err);  // NOLINT(concurrency-mt-unsafe): called before ranks start threads
}

}  // namespace

struct Topology::Impl {
  hwloc_topology_t topo = nullptr;
  ~Impl() {
    if (topo != nullptr) hwloc_topology_destroy(topo);
  }
};

namespace {

std::unique_ptr<Topology::Impl> load(const std::string* xml_path) {
  auto impl = std::make_unique<Topology::Impl>();
  if (hwloc_topology_init(&impl->topo) != 0) {
    impl->topo = nullptr;
    throw core::Error(core::ErrorKind::runtime, "hwloc_topology_init: " + errno_text(errno));
  }
  // Keep the I/O objects (PCI devices, the bridges above them, OS devices: mlx5_0, eth0, cuda0),
  // which hwloc drops by default.
  hwloc_topology_set_io_types_filter(impl->topo, HWLOC_TYPE_FILTER_KEEP_ALL);
  // Not the OpenCL and OpenGL components: placement needs neither (GPUs come from PCI, CUDA or
  // NVML), and the OpenCL ICD loader they pull in keeps its allocations until exit, which
  // LeakSanitizer reports in every process that loads the topology.
  hwloc_topology_set_components(impl->topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "opencl");
  hwloc_topology_set_components(impl->topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "gl");
  hwloc_topology_set_components(impl->topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "pci");
  if (xml_path != nullptr && hwloc_topology_set_xml(impl->topo, xml_path->c_str()) != 0) {
    throw core::Error(core::ErrorKind::config, fmt::format("hwloc cannot read the topology {}: {}",
                                                           *xml_path, errno_text(errno)));
  }
  if (hwloc_topology_load(impl->topo) != 0) {
    throw core::Error(
        core::ErrorKind::runtime,
        fmt::format("hwloc_topology_load{}: {}",
                    xml_path != nullptr ? " " + *xml_path : std::string(), errno_text(errno)));
  }
  return impl;
}

hwloc_obj_t numa_node_obj(hwloc_topology_t t, int os_index) {
  for (hwloc_obj_t n = nullptr; (n = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_NUMANODE, n));) {
    if (static_cast<int>(n->os_index) == os_index) return n;
  }
  return nullptr;
}

// A device of the rank, found in the topology.
struct Device {
  std::string name;                // as the binding reports it
  std::string kind;                // "NIC" | "GPU"
  hwloc_obj_t locality = nullptr;  // its first non-I/O ancestor
  std::optional<int> numa_node;    // when its locality has exactly one NUMA node
};

std::string available_devices(hwloc_topology_t t) {
  std::vector<std::string> rdma;
  std::vector<std::string> net;
  std::vector<std::string> gpus;
  for (hwloc_obj_t o = nullptr; (o = hwloc_get_next_osdev(t, o)) != nullptr;) {
    if (o->name == nullptr) continue;
    if (o->attr->osdev.type == HWLOC_OBJ_OSDEV_OPENFABRICS) rdma.emplace_back(o->name);
    if (o->attr->osdev.type == HWLOC_OBJ_OSDEV_NETWORK) net.emplace_back(o->name);
  }
  for (hwloc_obj_t p = nullptr; (p = hwloc_get_next_pcidev(t, p)) != nullptr;) {
    // Display controllers: VGA (0x0300) and 3D (0x0302).
    if ((p->attr->pcidev.class_id >> 8) == 0x03) {
      gpus.push_back(fmt::format("{:04x}:{:02x}:{:02x}.{:x}", p->attr->pcidev.domain,
                                 p->attr->pcidev.bus, p->attr->pcidev.dev, p->attr->pcidev.func));
    }
  }
  const auto list = [](const std::vector<std::string>& v) {
    return v.empty() ? std::string("none") : fmt::format("{}", fmt::join(v, ", "));
  };
  return fmt::format("RDMA devices: {}; network interfaces: {}; GPUs: {}", list(rdma), list(net),
                     list(gpus));
}

void locate(hwloc_topology_t t, hwloc_obj_t io, Device& d) {
  d.locality = hwloc_get_non_io_ancestor_obj(t, io);
  if (d.locality != nullptr && d.locality->nodeset != nullptr &&
      hwloc_bitmap_weight(d.locality->nodeset) == 1) {
    d.numa_node = hwloc_bitmap_first(d.locality->nodeset);
  }
}

Device find_nic(hwloc_topology_t t, const std::string& name) {
  for (hwloc_obj_t o = nullptr; (o = hwloc_get_next_osdev(t, o)) != nullptr;) {
    const auto type = o->attr->osdev.type;
    if (o->name == nullptr || name != o->name) continue;
    if (type != HWLOC_OBJ_OSDEV_OPENFABRICS && type != HWLOC_OBJ_OSDEV_NETWORK) continue;
    Device d;
    d.name = name;
    d.kind = "NIC";
    locate(t, o, d);
    return d;
  }
  throw core::Error(core::ErrorKind::config,
                    fmt::format("placement: no NIC '{}' on this host (an RDMA device or network "
                                "interface that hwloc sees); it has {}",
                                name, available_devices(t)));
}

Device find_gpu(hwloc_topology_t t, const std::string& name) {
  if (const auto bus = core::pcie::normalize_bus_id(name)) {
    if (hwloc_obj_t p = hwloc_get_pcidev_by_busidstring(t, bus->c_str())) {
      Device d;
      d.name = *bus;
      d.kind = "GPU";
      locate(t, p, d);
      return d;
    }
  } else {
    for (hwloc_obj_t o = nullptr; (o = hwloc_get_next_osdev(t, o)) != nullptr;) {
      const auto type = o->attr->osdev.type;
      if (o->name == nullptr || name != o->name) continue;
      if (type != HWLOC_OBJ_OSDEV_GPU && type != HWLOC_OBJ_OSDEV_COPROC) continue;
      Device d;
      d.name = name;
      d.kind = "GPU";
      locate(t, o, d);
      return d;
    }
  }
  throw core::Error(core::ErrorKind::config,
                    fmt::format("placement: no GPU '{}' on this host (a PCI bus id such as "
                                "0000:07:00.0, or cuda0/nvml0); it has {}",
                                name, available_devices(t)));
}

// The device a local rank is placed near (auto) or measured against: its GPU if it has one whose
// NUMA node is known, else its NIC. `note` says why when both are given on different nodes.
struct Target {
  std::optional<Device> nic;
  std::optional<Device> gpu;
  const Device* chosen = nullptr;
  std::string note;
};

Target target_of(hwloc_topology_t t, const Request& r, int local_rank) {
  Target out;
  const auto pick = [&](const std::vector<std::string>& v) -> const std::string* {
    if (v.empty()) return nullptr;
    return &v[static_cast<std::size_t>(local_rank) % v.size()];
  };
  if (const std::string* n = pick(r.nics)) out.nic = find_nic(t, *n);
  if (const std::string* g = pick(r.gpus)) out.gpu = find_gpu(t, *g);
  if (out.gpu && (out.gpu->numa_node || !out.nic)) {
    out.chosen = &*out.gpu;
  } else if (out.nic) {
    out.chosen = &*out.nic;
  }
  if (out.nic && out.gpu && out.nic->numa_node && out.gpu->numa_node &&
      *out.nic->numa_node != *out.gpu->numa_node) {
    out.note = fmt::format(
        "the NIC {} is on NUMA node {} and the GPU {} on NUMA node {}: placed on the GPU's node "
        "(every byte crosses the GPU's PCIe link and the CPU's copies and kernel launches go to "
        "it; the NIC's traffic crosses the inter-socket link instead)",
        out.nic->name, *out.nic->numa_node, out.gpu->name, *out.gpu->numa_node);
  }
  return out;
}

// The package holding a device's locality; nullptr when the locality is above the packages
// (the machine: a host without package information, or a device hwloc could not place).
hwloc_obj_t package_of(hwloc_topology_t t, hwloc_obj_t obj) {
  if (obj == nullptr || obj->type == HWLOC_OBJ_PACKAGE) return obj;
  return hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_PACKAGE, obj);
}

Distance distance_of(hwloc_topology_t t, hwloc_const_cpuset_t cpus, const Device& d) {
  if (d.locality == nullptr || hwloc_bitmap_iszero(cpus)) return Distance::unknown;
  if (d.numa_node) {
    hwloc_obj_t node = numa_node_obj(t, *d.numa_node);
    if (node != nullptr && hwloc_bitmap_isincluded(cpus, node->cpuset)) {
      return Distance::same_numa_node;
    }
  }
  hwloc_obj_t pkg = package_of(t, d.locality);
  if (pkg == nullptr) {
    // One socket, or a device whose socket is unknown: the node decides alone.
    return d.numa_node && hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE) <= 1
               ? Distance::same_socket
               : Distance::unknown;
  }
  if (hwloc_bitmap_isincluded(cpus, pkg->cpuset)) return Distance::same_socket;
  if (!hwloc_bitmap_intersects(cpus, pkg->cpuset)) return Distance::other_socket;
  return Distance::spans_sockets;
}

std::vector<int> nodes_of(hwloc_topology_t t, hwloc_const_cpuset_t cpus) {
  std::vector<int> out;
  for (hwloc_obj_t n = nullptr; (n = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_NUMANODE, n));) {
    if (hwloc_bitmap_intersects(n->cpuset, cpus)) out.push_back(static_cast<int>(n->os_index));
  }
  std::sort(out.begin(), out.end());
  return out;
}

void describe_device(hwloc_topology_t t, hwloc_const_cpuset_t cpus, const Target& target,
                     Binding& b) {
  if (target.chosen == nullptr) return;
  b.device = target.chosen->name;
  b.device_numa_node = target.chosen->numa_node;
  b.distance = distance_of(t, cpus, *target.chosen);
}

std::string device_words(const Device& d) {
  return d.numa_node ? fmt::format("{} {} (NUMA node {})", d.kind, d.name, *d.numa_node)
                     : fmt::format("{} {} (no NUMA locality known)", d.kind, d.name);
}

// auto: the node of each local rank's target, this rank's share of the cores of its node.
Binding decide_auto(hwloc_topology_t t, const Request& r) {
  Binding b;
  b.mode = Mode::automatic;
  const Target mine = target_of(t, r, r.local_rank);
  if (mine.chosen == nullptr) {
    b.reason =
        "auto: no device to place near (set placement.device or placement.gpu, or give the first "
        "case a verbs device or a tcp interface); the rank is left where the launcher put it";
    return b;
  }
  const Device& dev = *mine.chosen;
  if (!dev.numa_node) {
    b.device = dev.name;
    b.reason = fmt::format(
        "auto: the {} {} has no single NUMA node in the topology (its locality spans {}); the "
        "rank is left where the launcher put it",
        dev.kind, dev.name, dev.locality != nullptr ? list_of(dev.locality->nodeset) : "nothing");
    return b;
  }
  const int node_index = *dev.numa_node;
  hwloc_obj_t node = numa_node_obj(t, node_index);
  if (node == nullptr) {
    throw core::Error(
        core::ErrorKind::runtime,
        fmt::format("placement: NUMA node {} of {} is not in the topology", node_index, dev.name));
  }
  // The local ranks placed on the same node, in local-rank order.
  int share_index = 0;
  int sharing = 0;
  for (int i = 0; i < std::max(r.local_count, 1); ++i) {
    const Target other = i == r.local_rank ? mine : target_of(t, r, i);
    if (other.chosen != nullptr && other.chosen->numa_node == node_index) {
      if (i == r.local_rank) share_index = sharing;
      ++sharing;
    }
  }
  const int cores = hwloc_get_nbobjs_inside_cpuset_by_type(t, node->cpuset, HWLOC_OBJ_CORE);
  const hwloc_obj_type_t unit = cores > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
  const int units =
      cores > 0 ? cores : hwloc_get_nbobjs_inside_cpuset_by_type(t, node->cpuset, HWLOC_OBJ_PU);
  if (units <= 0) {
    throw core::Error(core::ErrorKind::runtime,
                      fmt::format("placement: NUMA node {} has no CPUs", node_index));
  }
  const char* unit_name = unit == HWLOC_OBJ_CORE ? "core" : "CPU";
  int first = 0;
  int count = 0;
  std::string split;
  if (sharing <= units) {
    const int base = units / sharing;
    const int extra = units % sharing;
    first = share_index * base + std::min(share_index, extra);
    count = base + (share_index < extra ? 1 : 0);
    split = sharing == 1 ? fmt::format("all {} {}s of the node", units, unit_name)
                         : fmt::format(
                               "{} of the node's {} {}s, split evenly among the {} local ranks on "
                               "it in local-rank order",
                               count, units, unit_name, sharing);
  } else {
    first = share_index % units;
    count = 1;
    split = fmt::format(
        "{} local ranks share the node's {} {}s: one each, round-robin, so some "
        "ranks share a core",
        sharing, units, unit == HWLOC_OBJ_CORE ? "core" : "CPU");
  }
  Bitmap cpus;
  for (int i = first; i < first + count; ++i) {
    hwloc_obj_t o =
        hwloc_get_obj_inside_cpuset_by_type(t, node->cpuset, unit, static_cast<unsigned>(i));
    if (o != nullptr) hwloc_bitmap_or(cpus.b, cpus.b, o->cpuset);
  }
  b.bind = true;
  b.cpus = list_of(cpus.b);
  b.numa_nodes = {node_index};
  describe_device(t, cpus.b, mine, b);
  b.reason = fmt::format("auto: near the {}: CPUs {} ({}), memory on NUMA node {}",
                         device_words(dev), b.cpus, split, node_index);
  if (!mine.note.empty()) b.reason += "; " + mine.note;
  return b;
}

std::string label_of(const Request& r, std::size_t i) {
  if (i < r.explicit_labels.size() && !r.explicit_labels[i].empty()) return r.explicit_labels[i];
  return fmt::format("placement.local_ranks[{}]", i);
}

// The CPUs of one explicit entry, checked against the topology.
void entry_cpus(hwloc_topology_t t, const Request& r, std::size_t i, Bitmap& cpus, bool& is_node) {
  const std::string& text = r.explicit_entries[i];
  std::string why;
  const auto entry = core::parse_cpu_entry(text, &why);
  if (!entry) {
    throw core::Error(core::ErrorKind::config,
                      fmt::format("{}: '{}': {}", label_of(r, i), text, why));
  }
  is_node = entry->numa;
  if (entry->numa) {
    hwloc_obj_t node = numa_node_obj(t, static_cast<int>(entry->numa_node));
    if (node == nullptr) {
      const std::vector<int> all = nodes_of(t, hwloc_topology_get_topology_cpuset(t));
      throw core::Error(core::ErrorKind::config,
                        fmt::format("{}: '{}': this machine has no NUMA node {} (it has {})",
                                    label_of(r, i), text, entry->numa_node, join_ints(all)));
    }
    hwloc_bitmap_copy(cpus.b, node->cpuset);
    return;
  }
  hwloc_bitmap_zero(cpus.b);
  for (unsigned c : entry->cpus) hwloc_bitmap_set(cpus.b, c);
  hwloc_const_cpuset_t machine = hwloc_topology_get_topology_cpuset(t);
  if (!hwloc_bitmap_isincluded(cpus.b, machine)) {
    Bitmap missing;
    hwloc_bitmap_andnot(missing.b, cpus.b, machine);
    throw core::Error(core::ErrorKind::config,
                      fmt::format("{}: '{}': this machine has no CPU {} (it has {})",
                                  label_of(r, i), text, list_of(missing.b), list_of(machine)));
  }
}

Binding decide_explicit(hwloc_topology_t t, const Request& r) {
  const auto need = static_cast<std::size_t>(std::max(r.local_count, 1));
  if (r.explicit_entries.size() < need) {
    throw core::Error(core::ErrorKind::config,
                      fmt::format("placement.local_ranks has {} entr{} but {} ranks run on this "
                                  "host: give one entry per local rank (local ranks 0-{})",
                                  r.explicit_entries.size(),
                                  r.explicit_entries.size() == 1 ? "y" : "ies", need, need - 1));
  }
  // Every entry is checked, so that every rank reports the same first error.
  Bitmap cpus;
  Bitmap mine;
  bool mine_is_node = false;
  for (std::size_t i = 0; i < r.explicit_entries.size(); ++i) {
    bool is_node = false;
    entry_cpus(t, r, i, cpus, is_node);
    if (static_cast<int>(i) == r.local_rank) {
      hwloc_bitmap_copy(mine.b, cpus.b);
      mine_is_node = is_node;
    }
  }
  Binding b;
  b.mode = Mode::explicit_cpus;
  b.bind = true;
  b.cpus = list_of(mine.b);
  b.numa_nodes = nodes_of(t, mine.b);
  const Target target = target_of(t, r, r.local_rank);
  describe_device(t, mine.b, target, b);
  const std::size_t i = static_cast<std::size_t>(r.local_rank);
  b.reason = fmt::format("explicit: {} '{}': CPUs {}, memory on NUMA node{} {}", label_of(r, i),
                         r.explicit_entries[i], b.cpus, b.numa_nodes.size() == 1 ? "" : "s",
                         join_ints(b.numa_nodes));
  if (mine_is_node) b.reason += " (the whole node)";
  if (target.chosen != nullptr) {
    b.reason += fmt::format("; {}: {}", device_words(*target.chosen), words(b.distance));
  }
  return b;
}

Binding decide_none(hwloc_topology_t t, const Request& r) {
  Binding b;
  b.mode = Mode::none;
  Bitmap cpus(hwloc_topology_get_topology_cpuset(t));
  if (!r.running_on.empty() && hwloc_bitmap_list_sscanf(cpus.b, r.running_on.c_str()) != 0) {
    throw core::Error(core::ErrorKind::runtime,
                      fmt::format("placement: cannot read the CPU list '{}'", r.running_on));
  }
  b.cpus = list_of(cpus.b);
  b.numa_nodes = nodes_of(t, cpus.b);
  const Target target = target_of(t, r, r.local_rank);
  describe_device(t, cpus.b, target, b);
  b.reason = fmt::format("none: left to the launcher; runs on CPUs {} (NUMA node{} {})", b.cpus,
                         b.numa_nodes.size() == 1 ? "" : "s", join_ints(b.numa_nodes));
  if (target.chosen != nullptr) {
    b.reason += fmt::format("; {}: {}", device_words(*target.chosen), words(b.distance));
  } else {
    b.reason += "; no device given, so no distance";
  }
  return b;
}

}  // namespace

Topology::Topology(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Topology::Topology(Topology&&) noexcept = default;
Topology& Topology::operator=(Topology&&) noexcept = default;
Topology::~Topology() = default;

Topology Topology::load_system() {
  return Topology(load(nullptr));
}

Topology Topology::load_xml(const std::string& path) {
  return Topology(load(&path));
}

bool Topology::is_this_system() const noexcept {
  return hwloc_topology_is_thissystem(impl_->topo) != 0;
}

std::string Topology::cpus() const {
  return list_of(hwloc_topology_get_topology_cpuset(impl_->topo));
}

std::vector<int> Topology::numa_nodes() const {
  return nodes_of(impl_->topo, hwloc_topology_get_topology_cpuset(impl_->topo));
}

std::string Topology::numa_node_cpus(int node) const {
  hwloc_obj_t n = numa_node_obj(impl_->topo, node);
  return n != nullptr ? list_of(n->cpuset) : std::string();
}

std::vector<std::pair<std::string, std::optional<int>>> Topology::nics() const {
  std::vector<std::pair<std::string, std::optional<int>>> out;
  for (const auto type : {HWLOC_OBJ_OSDEV_OPENFABRICS, HWLOC_OBJ_OSDEV_NETWORK}) {
    for (hwloc_obj_t o = nullptr; (o = hwloc_get_next_osdev(impl_->topo, o)) != nullptr;) {
      if (o->name == nullptr || o->attr->osdev.type != type) continue;
      Device d;
      locate(impl_->topo, o, d);
      out.emplace_back(o->name, d.numa_node);
    }
  }
  return out;
}

Binding decide(const Topology& topology, const Request& request) {
  if (request.local_rank < 0 || request.local_rank >= std::max(request.local_count, 1)) {
    throw core::Error(core::ErrorKind::runtime,
                      fmt::format("placement: local rank {} is not one of the {} on this host",
                                  request.local_rank, request.local_count));
  }
  hwloc_topology_t t = topology.impl().topo;
  switch (request.mode) {
    case Mode::automatic:
      return decide_auto(t, request);
    case Mode::explicit_cpus:
      return decide_explicit(t, request);
    case Mode::none:
      break;
  }
  return decide_none(t, request);
}

void apply(const Topology& topology, Binding& binding) {
  if (!binding.bind) return;
  hwloc_topology_t t = topology.impl().topo;
  if (hwloc_topology_is_thissystem(t) == 0) {
    throw core::Error(core::ErrorKind::runtime,
                      "placement: the topology is not this machine's (an XML file); not binding");
  }
  Bitmap cpus;
  if (hwloc_bitmap_list_sscanf(cpus.b, binding.cpus.c_str()) != 0 || hwloc_bitmap_iszero(cpus.b)) {
    throw core::Error(core::ErrorKind::runtime,
                      fmt::format("placement: no CPUs to bind to ('{}')", binding.cpus));
  }
  if (hwloc_set_cpubind(t, cpus.b, HWLOC_CPUBIND_PROCESS) != 0) {
    throw core::Error(
        core::ErrorKind::runtime,
        fmt::format("placement: binding to CPUs {} failed: {}", binding.cpus, errno_text(errno)));
  }
  Bitmap nodes;
  for (int n : binding.numa_nodes) hwloc_bitmap_set(nodes.b, static_cast<unsigned>(n));
  // No PROCESS flag: Linux sets the calling thread's policy (set_mempolicy), which the threads it
  // starts later inherit. STRICT: MPOL_BIND (without it hwloc asks Linux >= 5.15 for
  // MPOL_PREFERRED_MANY, which spills to other nodes when these are full).
  if (hwloc_set_membind(t, nodes.b, HWLOC_MEMBIND_BIND,
                        HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_STRICT) != 0) {
    binding.reason += fmt::format("; memory not bound to NUMA node{} {}: {}",
                                  binding.numa_nodes.size() == 1 ? "" : "s",
                                  join_ints(binding.numa_nodes), errno_text(errno));
  }
}

#else  // built without hwloc

bool built_with_hwloc() noexcept {
  return false;
}

namespace {
[[noreturn]] void without_hwloc() {
  throw core::Error(core::ErrorKind::unavailable,
                    "placement: built without hwloc (install libhwloc-dev and rebuild)");
}
}  // namespace

struct Topology::Impl {};
Topology::Topology(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Topology::Topology(Topology&&) noexcept = default;
Topology& Topology::operator=(Topology&&) noexcept = default;
Topology::~Topology() = default;
Topology Topology::load_system() {
  without_hwloc();
}
Topology Topology::load_xml(const std::string& /*path*/) {
  without_hwloc();
}
bool Topology::is_this_system() const noexcept {
  return false;
}
std::string Topology::cpus() const {
  without_hwloc();
}
std::vector<int> Topology::numa_nodes() const {
  without_hwloc();
}
std::string Topology::numa_node_cpus(int /*node*/) const {
  without_hwloc();
}
std::vector<std::pair<std::string, std::optional<int>>> Topology::nics() const {
  without_hwloc();
}
Binding decide(const Topology& /*topology*/, const Request& /*request*/) {
  without_hwloc();
}
void apply(const Topology& /*topology*/, Binding& /*binding*/) {
  without_hwloc();
}

#endif

}  // namespace fabricbench::placement
