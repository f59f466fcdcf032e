#pragma once
// CPU lists as Linux writes them ("0-7,16-23", the cpulist of /sys and taskset -c) and the
// entries of `placement: {mode: explicit, local_ranks: [...]}` (docs/CONFIG.md "Placement"):
// a CPU list or "numa:N". Pure text; whether the machine has those CPUs is checked where the
// topology is known (harness/placement).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fabricbench::core {

// "0-7,16-23" -> {0, ..., 7, 16, ..., 23}, sorted, without duplicates. Spaces around items are
// allowed; an empty list, a reversed range ("7-0"), a number above 65535 or anything else is
// refused with `*error` saying why.
std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text, std::string* error);

// {0, 1, 2, 3, 8} -> "0-3,8" (sorted input).
std::string format_cpu_list(const std::vector<unsigned>& cpus);

// One entry of an explicit placement: CPUs, or a whole NUMA node ("numa:1").
struct CpuEntry {
  bool numa = false;
  unsigned numa_node = 0;      // when numa
  std::vector<unsigned> cpus;  // otherwise
};

// "numa:1" or a CPU list; nullopt and `*error` (what was expected) otherwise.
std::optional<CpuEntry> parse_cpu_entry(std::string_view text, std::string* error);

}  // namespace fabricbench::core
