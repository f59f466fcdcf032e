#pragma once
// Pure PCIe placement rules, for the envelope's GPU section (docs/RESULTS.md, "GPUs") and the GPU
// memory providers' `gpu: auto`: the PCIe relation between two devices from their sysfs paths
// (the legend of `nvidia-smi topo -m`), the GPU nearest to a NIC, whether a PCIe link runs below
// its maximum, and PCI bus id normalization. No I/O.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fabricbench::core::pcie {

// Closest first; the order is what nearest() compares.
enum class PcieRelation {
  pix,   // at most one PCIe switch between them (or the same root port)
  pxb,   // several switches, below the same root port (no host bridge crossed)
  phb,   // the same host bridge (root complex), different root ports
  node,  // different host bridges of one NUMA node
  sys,   // different NUMA nodes (the inter-socket link)
};

std::string_view to_string(PcieRelation r);

// A PCI function as sysfs places it: the realpath of /sys/bus/pci/devices/<bdf>
// ("/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0") and its NUMA node (nullopt when the
// kernel reports none, numa_node -1).
struct PcieEndpoint {
  std::string path;
  std::optional<int> numa_node;
};

struct Relation {
  std::optional<PcieRelation> relation;
  std::string reason;  // why relation is nullopt
};

// The relation of two endpoints:
//   different host bridges (the first path component, pciDDDD:BB): NODE when both NUMA nodes are
//     equal or both unknown (one node), SYS when they differ, unknown when only one is known;
//   the same host bridge: the bridges above each device (the path components between the host
//     bridge and the device) are compared; no common bridge: PHB; at most one bridge below the
//     deepest common one on each side (both hang off one switch): PIX; otherwise PXB.
// A path that is not under /sys/devices/pci* gives no relation and a reason.
Relation classify(const PcieEndpoint& a, const PcieEndpoint& b);

// relations[nic][gpu]: the relation of each RDMA NIC to each GPU (nullopt: unknown).
using RelationMatrix = std::vector<std::vector<std::optional<PcieRelation>>>;

// The GPU closest to a NIC given its row of the matrix: the closest relation, the lowest GPU
// index among equals; nullopt when no relation of the row is known.
std::optional<std::size_t> nearest(const std::vector<std::optional<PcieRelation>>& row);
std::optional<std::size_t> nearest(const RelationMatrix& relations, std::size_t nic);
// The same for ranks sharing a NIC: among the equally nearest GPUs, the one at local rank
// modulo their count (two ranks, two GPUs on the NIC's switch: one each).
std::optional<std::size_t> nearest_shared(const std::vector<std::optional<PcieRelation>>& row,
                                          std::size_t local_rank);

// A PCIe link now and at most (NVML: current and maximum generation and width; 0 = unknown).
struct PcieLink {
  std::optional<unsigned> generation;
  std::optional<unsigned> width;
  std::optional<unsigned> max_generation;
  std::optional<unsigned> max_width;
};

enum class LinkState {
  unknown,           // a figure is missing
  full,              // generation and width at their maximum
  generation_below,  // only the generation is lower: GPUs lower it when idle
  width_below,       // the width is lower (it does not drop when idle): degraded
};

struct LinkVerdict {
  LinkState state = LinkState::unknown;
  std::string reason;  // "" when full
  // true for generation_below and width_below, false for full, nullopt for unknown.
  std::optional<bool> degraded() const;
};

LinkVerdict pcie_link_verdict(const PcieLink& link);

// A PCIe link's rated data rate per direction, GB/s (1e9 bytes/s), from sysfs's link speed text
// ("32.0 GT/s PCIe", "8.0 GT/s", "2.5 GT/s") and width: GT/s x lanes x encoding / 8, the encoding
// 8b/10b up to 5 GT/s (gen1, gen2), 128b/130b for 8-32 GT/s (gen3-gen5), 242/256 from 64 GT/s
// (gen6 FLIT mode). nullopt for text it cannot read or a zero width. Protocol overhead (TLP
// headers, flow control) is not taken off: copies reach roughly 80-90% of it.
std::optional<double> pcie_link_gbytes_per_s(std::string_view speed, unsigned width);

// "00000000:3B:00.0" (NVML) or "0000:3b:00.0" (sysfs) -> "0000:3b:00.0": the domain in at least
// four lower-case hex digits, bus, device and function lower case. nullopt when malformed.
std::optional<std::string> normalize_bus_id(std::string_view bus_id);

}  // namespace fabricbench::core::pcie
