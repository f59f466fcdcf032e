#pragma once
// Where rank 0's side channel can be reached from every other host, found from the hosts' own
// interface addresses (no name service needed), and Slurm's host lists. Pure functions, except
// local_interface_addresses.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fabricbench::bootstrap {

// An interface address with its prefix length: "198.18.0.1/24", "fd00::2/64".
struct InterfaceAddress {
  std::string address;  // numeric, without brackets
  int prefix = 0;       // 0..32 (IPv4) or 0..128 (IPv6)
  bool operator==(const InterfaceAddress&) const = default;
};

// This host's addresses that other hosts could reach: interfaces up, not loopback, IPv4 and
// global IPv6 (link-local and loopback left out), in getifaddrs order.
std::vector<InterfaceAddress> local_interface_addresses();

// "198.18.0.1/24,fd00::2/64" and back. parse_interface_addresses skips entries it cannot read
// (the list crossed MPI as text; a bad entry is not worth failing the launch).
std::string format_interface_addresses(const std::vector<InterfaceAddress>& addresses);
std::vector<InterfaceAddress> parse_interface_addresses(std::string_view text);

// True when `address` lies in the subnet `network` belongs to (network.address / prefix); false
// when either is not numeric or the families differ.
bool in_subnet(const InterfaceAddress& network, std::string_view address);

// Rank 0's choice: the first of its own addresses whose subnet holds an address of every other
// host (`others`: each other host's addresses, one entry per host). nullopt when none does (or
// when `others` is empty: then there is nobody to reach).
std::optional<std::string> choose_root_address(
    const std::vector<InterfaceAddress>& root,
    const std::vector<std::vector<InterfaceAddress>>& others);

// Slurm's host list syntax, expanded in order: "node[1-3,07],gpu-a[01-02]" -> node1, node2,
// node3, node07, gpu-a01, gpu-a02. A range keeps the width of its lower bound ("[08-10]" -> 08,
// 09, 10); several bracket groups in one name multiply ("r[1-2]n[1-2]" -> r1n1, r1n2, r2n1,
// r2n2). Throws core::Error(usage) naming the list for unbalanced brackets, a range whose upper
// bound is below its lower one, something not a number inside brackets, or more than 65536
// names.
std::vector<std::string> expand_hostlist(std::string_view list);

}  // namespace fabricbench::bootstrap
