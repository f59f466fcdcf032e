#include "core/cpu_list.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>

namespace fabricbench::core {
namespace {

constexpr unsigned kMaxCpu = 65535;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<unsigned> number(std::string_view s) {
  unsigned v = 0;
  const auto* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, v);
  if (s.empty() || r.ec != std::errc() || r.ptr != end) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text, std::string* error) {
  std::set<unsigned> cpus;
  const auto fail = [&](const std::string& why) -> std::optional<std::vector<unsigned>> {
    if (error != nullptr) *error = why;
    return std::nullopt;
  };
  if (trim(text).empty()) return fail("an empty CPU list");
  std::string_view rest = text;
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    const std::size_t dash = item.find('-');
    const auto lo = number(trim(item.substr(0, dash)));
    const auto hi = dash == std::string_view::npos ? lo : number(trim(item.substr(dash + 1)));
    if (!lo || !hi) {
      return fail(fmt::format("'{}' is not a CPU number or a range such as 0-7", item));
    }
    if (*hi < *lo) return fail(fmt::format("the range '{}' runs backwards", item));
    if (*hi > kMaxCpu) return fail(fmt::format("CPU {} is above {}", *hi, kMaxCpu));
    for (unsigned c = *lo; c <= *hi; ++c) cpus.insert(c);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return std::vector<unsigned>(cpus.begin(), cpus.end());
}

std::string format_cpu_list(const std::vector<unsigned>& cpus) {
  std::string out;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? fmt::format("{}", cpus[i]) : fmt::format("{}-{}", cpus[i], cpus[j]);
    i = j + 1;
  }
  return out;
}

std::optional<CpuEntry> parse_cpu_entry(std::string_view text, std::string* error) {
  const std::string_view t = trim(text);
  CpuEntry e;
  if (t.rfind("numa:", 0) == 0) {
    const auto node = number(trim(t.substr(5)));
    if (!node || *node > kMaxCpu) {
      if (error != nullptr) {
        *error = fmt::format("'{}' is not a NUMA node such as numa:1", std::string(t));
      }
      return std::nullopt;
    }
    e.numa = true;
    e.numa_node = *node;
    return e;
  }
  std::string why;
  auto cpus = parse_cpu_list(t, &why);
  if (!cpus) {
    if (error != nullptr) {
      *error =
          fmt::format("expected CPUs such as 0-7,16-23 or a NUMA node such as numa:1 ({})", why);
    }
    return std::nullopt;
  }
  e.cpus = std::move(*cpus);
  return e;
}

}  // namespace fabricbench::core
