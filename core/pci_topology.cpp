// Pure rules of the envelope's GPU section (gpu_topology.hpp).
#include "core/pci_topology.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include <fmt/format.h>

namespace fabricbench::core::pcie {

namespace {

constexpr std::string_view kDevicesPrefix = "/sys/devices/";
constexpr std::size_t kMaxPathLength = 4096;
constexpr std::size_t kMaxComponents = 64;

// "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0" -> {"pci0000:00", "0000:00:01.0",
// "0000:01:00.0"}; nullopt when not a PCI device path.
std::optional<std::vector<std::string_view>> pci_components(std::string_view path) {
  if (path.size() > kMaxPathLength || path.substr(0, kDevicesPrefix.size()) != kDevicesPrefix) {
    return std::nullopt;
  }
  std::vector<std::string_view> parts;
  std::string_view rest = path.substr(kDevicesPrefix.size());
  while (!rest.empty() && parts.size() <= kMaxComponents) {
    const auto slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    if (!part.empty()) parts.push_back(part);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  }
  if (parts.size() < 2 || parts.size() > kMaxComponents || parts.front().substr(0, 3) != "pci") {
    return std::nullopt;
  }
  return parts;
}

Relation across_host_bridges(const PcieEndpoint& a, const PcieEndpoint& b) {
  if (a.numa_node == b.numa_node) return {PcieRelation::node, {}};
  if (a.numa_node && b.numa_node) return {PcieRelation::sys, {}};
  return {std::nullopt, fmt::format("different host bridges and the NUMA node of {} is unknown",
                                    a.numa_node ? b.path : a.path)};
}

}  // namespace

std::string_view to_string(PcieRelation r) {
  switch (r) {
    case PcieRelation::pix:
      return "PIX";
    case PcieRelation::pxb:
      return "PXB";
    case PcieRelation::phb:
      return "PHB";
    case PcieRelation::node:
      return "NODE";
    case PcieRelation::sys:
      return "SYS";
  }
  return "?";
}

Relation classify(const PcieEndpoint& a, const PcieEndpoint& b) {
  const auto pa = pci_components(a.path);
  const auto pb = pci_components(b.path);
  if (!pa || !pb) {
    return {std::nullopt,
            fmt::format("not a PCI device path under /sys/devices/pci*: {}", pa ? b.path : a.path)};
  }
  if (pa->front() != pb->front()) return across_host_bridges(a, b);
  // Bridges above each device: the components between the host bridge and the device.
  const std::size_t bridges_a = pa->size() - 2;
  const std::size_t bridges_b = pb->size() - 2;
  std::size_t common = 0;
  while (common < bridges_a && common < bridges_b && (*pa)[common + 1] == (*pb)[common + 1]) {
    ++common;
  }
  if (common == 0) return {PcieRelation::phb, {}};
  if (bridges_a - common <= 1 && bridges_b - common <= 1) return {PcieRelation::pix, {}};
  return {PcieRelation::pxb, {}};
}

std::optional<std::size_t> nearest(const std::vector<std::optional<PcieRelation>>& row) {
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (row[i] && (!best || *row[i] < *row[*best])) best = i;
  }
  return best;
}

std::optional<double> pcie_link_gbytes_per_s(std::string_view speed, unsigned width) {
  if (width == 0) return std::nullopt;
  while (!speed.empty() && speed.front() == ' ') speed.remove_prefix(1);
  double gts = 0;
  const auto [end, ec] = std::from_chars(speed.data(), speed.data() + speed.size(), gts);
  if (ec != std::errc() || gts <= 0) return std::nullopt;
  const std::string_view rest(end, static_cast<std::size_t>(speed.data() + speed.size() - end));
  if (!rest.starts_with(" GT/s")) return std::nullopt;
  const double encoding = gts <= 5.0 ? 8.0 / 10.0 : gts < 64.0 ? 128.0 / 130.0 : 242.0 / 256.0;
  return gts * width * encoding / 8.0;
}

std::optional<std::size_t> nearest_shared(const std::vector<std::optional<PcieRelation>>& row,
                                          std::size_t local_rank) {
  const auto best = nearest(row);
  if (!best) return std::nullopt;
  std::vector<std::size_t> ties;
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (row[i] == row[*best]) ties.push_back(i);
  }
  return ties[local_rank % ties.size()];
}

std::optional<std::size_t> nearest(const RelationMatrix& relations, std::size_t nic) {
  if (nic >= relations.size()) return std::nullopt;
  return nearest(relations[nic]);
}

std::optional<bool> LinkVerdict::degraded() const {
  if (state == LinkState::unknown) return std::nullopt;
  return state != LinkState::full;
}

LinkVerdict pcie_link_verdict(const PcieLink& link) {
  const auto known = [](const std::optional<unsigned>& v) { return v && *v > 0; };
  if (!known(link.generation) || !known(link.width) || !known(link.max_generation) ||
      !known(link.max_width)) {
    return {LinkState::unknown, "the current or maximum PCIe generation or width is unknown"};
  }
  const std::string figures = fmt::format("link at gen{} x{} of gen{} x{}", *link.generation,
                                          *link.width, *link.max_generation, *link.max_width);
  if (*link.width < *link.max_width) {
    return {LinkState::width_below,
            figures + "; the width is below its maximum (it does not drop when idle)"};
  }
  if (*link.generation < *link.max_generation) {
    return {LinkState::generation_below,
            figures + "; GPUs lower the generation when idle, so check under load"};
  }
  return {LinkState::full, {}};
}

std::optional<std::string> normalize_bus_id(std::string_view bus_id) {
  // domain:bus:device.function
  const auto c1 = bus_id.find(':');
  const auto c2 = c1 == std::string_view::npos ? c1 : bus_id.find(':', c1 + 1);
  const auto dot = c2 == std::string_view::npos ? c2 : bus_id.find('.', c2 + 1);
  if (dot == std::string_view::npos) return std::nullopt;
  std::uint32_t domain = 0;
  std::uint32_t bus = 0;
  std::uint32_t device = 0;
  std::uint32_t function = 0;
  const auto hex = [](std::string_view s, std::uint32_t& out, std::uint32_t max) {
    if (s.empty() || s.size() > 8) return false;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
    return ec == std::errc() && ptr == s.data() + s.size() && out <= max;
  };
  if (!hex(bus_id.substr(0, c1), domain, 0xffffffffU) ||
      !hex(bus_id.substr(c1 + 1, c2 - c1 - 1), bus, 0xff) ||
      !hex(bus_id.substr(c2 + 1, dot - c2 - 1), device, 0x1f) ||
      !hex(bus_id.substr(dot + 1), function, 0x7)) {
    return std::nullopt;
  }
  return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", domain, bus, device, function);
}

}  // namespace fabricbench::core::pcie
