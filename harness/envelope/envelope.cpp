// The experiment envelope: host facts read from /proc and /sys (plus library version calls).
// Every fact that cannot be read becomes null, with the fact's dotted path and the reason in
// "unavailable". Nothing here throws for a missing fact.
#include "harness/envelope/envelope.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <openssl/opensslv.h>

#include "harness/envelope/gpus.hpp"
#include "harness/envelope/text.hpp"

#if FABRICBENCH_ENVELOPE_WITH_VERBS
#include <endian.h>
#include <infiniband/verbs.h>
#endif
#if FABRICBENCH_ENVELOPE_WITH_MPI
// The C API only: Open MPI and MPICH would otherwise pull in their C++ bindings.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace fabricbench::envelope {
namespace {

using detail::errno_message;
using detail::exists;
using detail::list_dir;
using detail::parse_colon_lines;
using detail::parse_int;
using detail::Read;
using detail::read_file;
using detail::squeeze;
using detail::trim;
using detail::utf8;
using nlohmann::json;

std::optional<std::string> link_basename(const std::string& path, std::string* error) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n < 0) {
    *error = fmt::format("readlink {}: {}", path, errno_message(errno));
    return std::nullopt;
  }
  const std::string target(buf, static_cast<std::size_t>(n));
  const auto slash = target.rfind('/');
  return slash == std::string::npos ? target : target.substr(slash + 1);
}

// "0-3,8,10-11" <-> {0,1,2,3,8,10,11}
std::optional<std::set<int>> parse_cpu_list(std::string_view s) {
  std::set<int> cpus;
  const std::string t = trim(s);
  std::string_view rest = t;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (item.empty()) continue;
    const auto dash = item.find('-');
    const auto lo = parse_int<int>(item.substr(0, dash));
    const auto hi = dash == std::string_view::npos ? lo : parse_int<int>(item.substr(dash + 1));
    if (!lo || !hi || *lo < 0 || *hi < *lo) return std::nullopt;
    for (int c = *lo; c <= *hi; ++c) cpus.insert(c);
  }
  return cpus;
}

std::string format_cpu_list(const std::set<int>& cpus) {
  std::string out;
  auto it = cpus.begin();
  while (it != cpus.end()) {
    const int lo = *it;
    int hi = lo;
    while (++it != cpus.end() && *it == hi + 1) ++hi;
    if (!out.empty()) out.push_back(',');
    out += hi == lo ? std::to_string(lo) : fmt::format("{}-{}", lo, hi);
  }
  return out;
}

// "123 kB" -> 125952
std::optional<std::uint64_t> parse_kb(const std::string& value) {
  std::string v = trim(value);
  std::uint64_t scale = 1;
  if (v.size() > 3 && v.compare(v.size() - 3, 3, " kB") == 0) {
    v.resize(v.size() - 3);
    scale = 1024;
  }
  const auto n = parse_int<std::uint64_t>(v);
  if (!n) return std::nullopt;
  return *n * scale;
}

// "always [madvise] never" -> "madvise"
std::optional<std::string> bracketed(const std::string& text) {
  const auto open = text.find('[');
  const auto close = text.find(']', open);
  if (open == std::string::npos || close == std::string::npos) return std::nullopt;
  return text.substr(open + 1, close - open - 1);
}

// Collects facts and the reasons for the ones that are missing.
class Facts {
 public:
  json unavailable = json::object();

  void missing(const std::string& fact, const std::string& reason) {
    unavailable[utf8(fact)] = utf8(reason);
  }

  // Trimmed content of a small file, or null with a reason.
  json text(const std::string& fact, const std::string& path) {
    Read r = read_file(path);
    if (!r.text) {
      missing(fact, r.error);
      return nullptr;
    }
    return utf8(trim(*r.text));
  }

  // An integer file; null when unreadable or not an integer.
  json integer(const std::string& fact, const std::string& path) {
    Read r = read_file(path);
    if (!r.text) {
      missing(fact, r.error);
      return nullptr;
    }
    const auto v = parse_int<std::int64_t>(*r.text);
    if (!v) {
      missing(fact, fmt::format("{}: not an integer: '{}'", path, utf8(trim(*r.text))));
      return nullptr;
    }
    return *v;
  }

  // Runs one section; an unexpected exception turns into null + reason, never escapes.
  template <typename F>
  json section(const std::string& fact, F&& f) {
    try {
      return f();
    } catch (const std::exception& e) {
      missing(fact, std::string("internal error while reading: ") + e.what());
      return nullptr;
    }
  }
};

json capture_kernel(Facts& facts) {
  json k = json::object();
  utsname u{};
  if (::uname(&u) == 0) {
    k["release"] = utf8(u.release);
    k["version"] = utf8(u.version);
    k["machine"] = utf8(u.machine);
  } else {
    const std::string why = "uname: " + errno_message(errno);
    for (const char* key : {"release", "version", "machine"}) {
      k[key] = nullptr;
      facts.missing(std::string("kernel.") + key, why);
    }
  }
  k["cmdline"] = facts.text("kernel.cmdline", "/proc/cmdline");
  return k;
}

json capture_os_release(Facts& facts) {
  const char* path = "/etc/os-release";
  Read r = read_file(path);
  if (!r.text) {
    r = read_file("/usr/lib/os-release");
    path = "/usr/lib/os-release";
  }
  if (!r.text) {
    facts.missing("os_release", r.error);
    return nullptr;
  }
  std::size_t pos = 0;
  const std::string& t = *r.text;
  while (pos < t.size()) {
    auto nl = t.find('\n', pos);
    if (nl == std::string::npos) nl = t.size();
    const std::string line = trim(std::string_view(t).substr(pos, nl - pos));
    pos = nl + 1;
    if (line.rfind("PRETTY_NAME=", 0) != 0) continue;
    std::string v = line.substr(12);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
      v = v.substr(1, v.size() - 2);
    }
    return utf8(v);
  }
  facts.missing("os_release", fmt::format("no PRETTY_NAME in {}", path));
  return nullptr;
}

// Online CPUs from /sys (nullopt when unreadable).
std::optional<std::set<int>> online_cpus(std::string* error) {
  Read r = read_file("/sys/devices/system/cpu/online");
  if (!r.text) {
    *error = r.error;
    return std::nullopt;
  }
  auto cpus = parse_cpu_list(*r.text);
  if (!cpus) *error = "cannot parse /sys/devices/system/cpu/online: " + utf8(trim(*r.text));
  return cpus;
}

json capture_cpu(Facts& facts, int current_cpu) {
  json c = json::object();
  Read info = read_file("/proc/cpuinfo", std::size_t{16} << 20);
  std::map<std::string, std::string> first_cpu;
  if (info.text) {
    // Only the first processor block matters for the model.
    const auto block_end = info.text->find("\n\n");
    first_cpu = parse_colon_lines(info.text->substr(0, block_end));
  }
  c["model"] = nullptr;
  for (const char* key : {"model name", "Model", "cpu model", "Hardware"}) {
    if (auto it = first_cpu.find(key); it != first_cpu.end() && !it->second.empty()) {
      c["model"] = utf8(it->second);
      break;
    }
  }
  if (c["model"].is_null()) {
    facts.missing("cpu.model", info.text ? "no 'model name' line in /proc/cpuinfo" : info.error);
  }

  std::string why;
  const auto online = online_cpus(&why);
  if (online) {
    c["cores_online"] = online->size();
  } else {
    const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0) {
      c["cores_online"] = n;
    } else {
      c["cores_online"] = nullptr;
      facts.missing("cpu.cores_online", why);
    }
  }

  // Sockets: distinct physical_package_id over online CPUs, else distinct "physical id".
  std::set<std::int64_t> packages;
  if (online) {
    for (int cpu : *online) {
      Read r =
          read_file(fmt::format("/sys/devices/system/cpu/cpu{}/topology/physical_package_id", cpu));
      if (!r.text) continue;
      if (auto id = parse_int<std::int64_t>(*r.text)) packages.insert(*id);
    }
  }
  if (packages.empty() && info.text) {
    std::size_t pos = 0;
    const std::string& t = *info.text;
    while ((pos = t.find("physical id", pos)) != std::string::npos) {
      const auto colon = t.find(':', pos);
      const auto nl = t.find('\n', pos);
      if (colon != std::string::npos && colon < nl) {
        if (auto id =
                parse_int<std::int64_t>(std::string_view(t).substr(colon + 1, nl - colon - 1)))
          packages.insert(*id);
      }
      pos = nl == std::string::npos ? t.size() : nl;
    }
  }
  if (!packages.empty()) {
    c["sockets"] = packages.size();
  } else {
    c["sockets"] = nullptr;
    facts.missing("cpu.sockets",
                  "no topology/physical_package_id in /sys and no 'physical id' in /proc/cpuinfo");
  }

  // Frequency scaling of the CPU this thread runs on (cpu0 when unknown).
  const int cpu = current_cpu >= 0 ? current_cpu : 0;
  const std::string dir = fmt::format("/sys/devices/system/cpu/cpu{}/cpufreq", cpu);
  c["frequency_cpu"] = cpu;
  json freq = json::object();
  if (!exists(dir)) {
    const std::string reason =
        fmt::format("{} does not exist (no cpufreq driver; usual in virtual machines)", dir);
    c["governor"] = nullptr;
    facts.missing("cpu.governor", reason);
    for (const char* k : {"min", "max", "cur"}) {
      freq[k] = nullptr;
      facts.missing(std::string("cpu.frequency_khz.") + k, reason);
    }
  } else {
    c["governor"] = facts.text("cpu.governor", dir + "/scaling_governor");
    freq["min"] = facts.integer("cpu.frequency_khz.min", dir + "/cpuinfo_min_freq");
    freq["max"] = facts.integer("cpu.frequency_khz.max", dir + "/cpuinfo_max_freq");
    freq["cur"] = facts.integer("cpu.frequency_khz.cur", dir + "/scaling_cur_freq");
  }
  c["frequency_khz"] = freq;
  return c;
}

struct NumaNode {
  int id;
  std::set<int> cpus;
};

json capture_numa(Facts& facts, std::vector<NumaNode>& nodes_out) {
  const std::string base = "/sys/devices/system/node";
  std::string why;
  const auto entries = list_dir(base, &why);
  if (!entries) {
    facts.missing("numa.nodes", why);
    return json{{"nodes", nullptr}};
  }
  std::vector<std::pair<int, std::string>> ids;
  for (const std::string& name : *entries) {
    if (name.rfind("node", 0) != 0) continue;
    if (auto id = parse_int<int>(std::string_view(name).substr(4))) ids.emplace_back(*id, name);
  }
  std::sort(ids.begin(), ids.end());
  json nodes = json::array();
  for (const auto& [id, name] : ids) {
    const std::string dir = base + "/" + name;
    const std::string prefix = fmt::format("numa.nodes.{}.", id);
    json n = {{"id", id}};
    Read cpulist = read_file(dir + "/cpulist");
    if (cpulist.text) {
      const std::string list = trim(*cpulist.text);
      n["cpus"] = utf8(list);
      if (auto set = parse_cpu_list(list)) nodes_out.push_back({id, *set});
    } else {
      n["cpus"] = nullptr;
      facts.missing(prefix + "cpus", cpulist.error);
    }
    n["mem_total_bytes"] = nullptr;
    Read meminfo = read_file(dir + "/meminfo");
    if (!meminfo.text) {
      facts.missing(prefix + "mem_total_bytes", meminfo.error);
    } else {
      // "Node 0 MemTotal:       16384 kB"
      const std::string& t = *meminfo.text;
      const auto at = t.find("MemTotal:");
      std::optional<std::uint64_t> bytes;
      if (at != std::string::npos) {
        const auto nl = t.find('\n', at);
        bytes = parse_kb(t.substr(at + 9, nl == std::string::npos ? nl : nl - at - 9));
      }
      if (bytes) {
        n["mem_total_bytes"] = *bytes;
      } else {
        facts.missing(prefix + "mem_total_bytes", "no MemTotal line in " + dir + "/meminfo");
      }
    }
    nodes.push_back(std::move(n));
  }
  return json{{"nodes", std::move(nodes)}};
}

std::optional<std::set<int>> affinity(std::string* error) {
  // Grow the mask until the kernel accepts its size (machines with more than 1024 CPUs).
  for (std::size_t words = 16; words <= (std::size_t{1} << 16); words *= 2) {
    std::vector<unsigned long> mask(words, 0);
    const std::size_t bytes = words * sizeof(unsigned long);
    if (::sched_getaffinity(0, bytes, reinterpret_cast<cpu_set_t*>(mask.data())) == 0) {
      std::set<int> cpus;
      constexpr std::size_t bits = 8 * sizeof(unsigned long);
      for (std::size_t w = 0; w < words; ++w) {
        for (std::size_t b = 0; b < bits; ++b) {
          if ((mask[w] >> b) & 1UL) cpus.insert(static_cast<int>(w * bits + b));
        }
      }
      return cpus;
    }
    if (errno != EINVAL) break;
  }
  *error = "sched_getaffinity: " + errno_message(errno);
  return std::nullopt;
}

// What record_placement_binding was given (null: nothing).
json& placement_binding() {
  static json binding;
  return binding;
}

json capture_placement(Facts& facts, int cpu, int cpu_errno, const std::vector<NumaNode>& nodes) {
  json p = json::object();
  if (cpu >= 0) {
    p["cpu"] = cpu;
  } else {
    p["cpu"] = nullptr;
    facts.missing("placement.cpu", "sched_getcpu: " + errno_message(cpu_errno));
  }
  p["numa_node"] = nullptr;
  if (cpu >= 0) {
    const auto it = std::find_if(nodes.begin(), nodes.end(),
                                 [&](const NumaNode& n) { return n.cpus.count(cpu) != 0; });
    if (it != nodes.end()) {
      p["numa_node"] = it->id;
    } else {
      facts.missing("placement.numa_node",
                    fmt::format("cpu {} is in no /sys/devices/system/node/node*/cpulist", cpu));
    }
  } else {
    facts.missing("placement.numa_node", "current cpu unknown");
  }
  std::string why;
  if (const auto cpus = affinity(&why)) {
    p["affinity"] = format_cpu_list(*cpus);
  } else {
    p["affinity"] = nullptr;
    facts.missing("placement.affinity", why);
  }
  if (!placement_binding().is_null()) p["binding"] = placement_binding();
  return p;
}

json capture_memory(Facts& facts) {
  json m = json::object();
  Read r = read_file("/proc/meminfo");
  std::map<std::string, std::string> info;
  if (r.text) info = parse_colon_lines(*r.text);
  const auto field = [&](const char* fact, const char* key) -> json {
    const auto it = info.find(key);
    if (it != info.end()) {
      if (auto v = parse_kb(it->second)) return *v;
    }
    facts.missing(fact, r.text ? fmt::format("no numeric {} in /proc/meminfo", key) : r.error);
    return nullptr;
  };
  m["total_bytes"] = field("memory.total_bytes", "MemTotal");
  m["hugepages_total"] = field("memory.hugepages_total", "HugePages_Total");
  m["hugepage_size_bytes"] = field("memory.hugepage_size_bytes", "Hugepagesize");

  for (const auto& [key, file] : {std::pair{"thp_enabled", "enabled"}, {"thp_defrag", "defrag"}}) {
    const std::string path = std::string("/sys/kernel/mm/transparent_hugepage/") + file;
    const std::string fact = std::string("memory.") + key;
    Read t = read_file(path);
    std::optional<std::string> choice;
    if (t.text) choice = bracketed(*t.text);
    if (choice) {
      m[key] = utf8(*choice);
    } else {
      m[key] = nullptr;
      facts.missing(fact, t.text ? "no [selected] choice in " + path : t.error);
    }
  }
  m["swappiness"] = facts.integer("memory.swappiness", "/proc/sys/vm/swappiness");
  return m;
}

json capture_sysctls(Facts& facts) {
  static constexpr const char* kNames[] = {
      "net.core.rmem_max",           "net.core.wmem_max",
      "net.core.rmem_default",       "net.core.wmem_default",
      "net.core.netdev_max_backlog", "net.core.busy_poll",
      "net.core.busy_read",          "net.ipv4.tcp_rmem",
      "net.ipv4.tcp_wmem",           "net.ipv4.tcp_congestion_control",
      "net.ipv4.tcp_timestamps",     "net.ipv4.tcp_sack",
      "net.ipv4.tcp_low_latency",
  };
  json s = json::object();
  for (const char* name : kNames) {
    std::string path = std::string("/proc/sys/") + name;
    std::replace(path.begin() + 10, path.end(), '.', '/');
    Read r = read_file(path);
    if (!r.text) {
      s[name] = nullptr;
      facts.missing(std::string("sysctls.") + name,
                    exists(path) ? r.error : path + " does not exist in this kernel");
      continue;
    }
    // A single integer stays a number; anything else ("4096 131072 6291456", "cubic") a string.
    if (auto v = parse_int<std::int64_t>(*r.text)) {
      s[name] = *v;
    } else {
      s[name] = utf8(squeeze(*r.text));
    }
  }
  return s;
}

std::map<std::string, std::vector<std::string>> interface_addresses(std::string* error) {
  std::map<std::string, std::vector<std::string>> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    *error = "getifaddrs: " + errno_message(errno);
    return out;
  }
  for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_name == nullptr) continue;
    const int family = a->ifa_addr->sa_family;
    char text[INET6_ADDRSTRLEN] = {};
    int prefix = 0;
    if (family == AF_INET) {
      sockaddr_in addr{};
      std::memcpy(&addr, a->ifa_addr, sizeof addr);
      ::inet_ntop(AF_INET, &addr.sin_addr, text, sizeof text);
      if (a->ifa_netmask != nullptr) {
        sockaddr_in mask{};
        std::memcpy(&mask, a->ifa_netmask, sizeof mask);
        prefix = __builtin_popcount(mask.sin_addr.s_addr);
      }
    } else if (family == AF_INET6) {
      sockaddr_in6 addr{};
      std::memcpy(&addr, a->ifa_addr, sizeof addr);
      ::inet_ntop(AF_INET6, &addr.sin6_addr, text, sizeof text);
      if (a->ifa_netmask != nullptr) {
        sockaddr_in6 mask{};
        std::memcpy(&mask, a->ifa_netmask, sizeof mask);
        for (unsigned char byte : mask.sin6_addr.s6_addr) prefix += __builtin_popcount(byte);
      }
    } else {
      continue;
    }
    out[a->ifa_name].push_back(fmt::format("{}/{}", text, prefix));
  }
  ::freeifaddrs(list);
  return out;
}

json capture_nics(Facts& facts) {
  const std::string base = "/sys/class/net";
  std::string why;
  const auto names = list_dir(base, &why);
  if (!names) {
    facts.missing("nics", why);
    return nullptr;
  }
  std::string addr_error;
  const auto addresses = interface_addresses(&addr_error);
  json nics = json::array();
  for (const std::string& name : *names) {
    const std::string dir = base + "/" + name;
    const std::string fact = "nics." + utf8(name) + ".";
    json n = {{"name", utf8(name)}};

    std::string link_error;
    if (auto driver = link_basename(dir + "/device/driver", &link_error)) {
      n["driver"] = utf8(*driver);
    } else {
      n["driver"] = nullptr;
      facts.missing(fact + "driver", exists(dir + "/device")
                                         ? link_error
                                         : "no device link (virtual interface): " + link_error);
    }
    n["mtu"] = facts.integer(fact + "mtu", dir + "/mtu");
    json speed = facts.integer(fact + "speed_mbps", dir + "/speed");
    if (speed.is_number() && speed.get<std::int64_t>() < 0) {
      facts.missing(fact + "speed_mbps",
                    fmt::format("{}/speed reports {} (unknown)", dir, speed.get<std::int64_t>()));
      speed = nullptr;
    }
    n["speed_mbps"] = speed;
    n["operstate"] = facts.text(fact + "operstate", dir + "/operstate");
    if (exists(dir + "/device/numa_node")) {
      json node = facts.integer(fact + "numa_node", dir + "/device/numa_node");
      if (node.is_number() && node.get<std::int64_t>() < 0) {
        facts.missing(fact + "numa_node", "device reports no NUMA affinity (-1)");
        node = nullptr;
      }
      n["numa_node"] = node;
    } else {
      n["numa_node"] = nullptr;
      facts.missing(fact + "numa_node", "no device/numa_node (virtual interface or no NUMA)");
    }
    n["mac"] = facts.text(fact + "mac", dir + "/address");
    if (addr_error.empty()) {
      json list = json::array();
      if (auto it = addresses.find(name); it != addresses.end()) {
        for (const auto& a : it->second) list.push_back(a);
      }
      n["addresses"] = std::move(list);
    } else {
      n["addresses"] = nullptr;
      facts.missing(fact + "addresses", addr_error);
    }
    nics.push_back(std::move(n));
  }
  return nics;
}

#if FABRICBENCH_ENVELOPE_WITH_VERBS
std::string format_gid(const ibv_gid& gid) {
  std::string out;
  for (int i = 0; i < 16; i += 2) {
    if (!out.empty()) out.push_back(':');
    out += fmt::format("{:02x}{:02x}", gid.raw[i], gid.raw[i + 1]);
  }
  return out;
}

std::string format_guid(std::uint64_t guid_be) {
  const std::uint64_t g = be64toh(guid_be);
  return fmt::format("{:04x}:{:04x}:{:04x}:{:04x}", (g >> 48) & 0xffff, (g >> 32) & 0xffff,
                     (g >> 16) & 0xffff, g & 0xffff);
}

json capture_port(Facts& facts, ibv_context* ctx, const std::string& dev, std::uint8_t port) {
  const std::string fact = fmt::format("rdma_devices.{}.ports.{}", dev, port);
  json p = {{"port", port}};
  ibv_port_attr attr{};
  if (const int rc = ibv_query_port(ctx, port, &attr); rc != 0) {
    facts.missing(fact, "ibv_query_port: " + errno_message(rc));
    p["error"] = "ibv_query_port: " + errno_message(rc);
    return p;
  }
  p["state"] = ibv_port_state_str(attr.state);
  p["link_layer"] = attr.link_layer == IBV_LINK_LAYER_ETHERNET ? "Ethernet" : "InfiniBand";
  p["lid"] = attr.lid;
  p["active_mtu"] = attr.active_mtu >= IBV_MTU_256 && attr.active_mtu <= IBV_MTU_4096
                        ? json(128 << static_cast<int>(attr.active_mtu))
                        : json(nullptr);
  p["gid_table_len"] = attr.gid_tbl_len;
  json gids = json::array();
  for (int i = 0; i < attr.gid_tbl_len; ++i) {
    ibv_gid gid{};
    if (ibv_query_gid(ctx, port, i, &gid) != 0) continue;
    if (std::all_of(std::begin(gid.raw), std::end(gid.raw), [](auto b) { return b == 0; })) {
      continue;
    }
    json g = {{"index", i}, {"gid", format_gid(gid)}, {"type", nullptr}};
    const Read type = read_file(
        fmt::format("/sys/class/infiniband/{}/ports/{}/gid_attrs/types/{}", dev, port, i));
    if (type.text) g["type"] = utf8(trim(*type.text));
    gids.push_back(std::move(g));
  }
  p["gids"] = std::move(gids);
  return p;
}

json capture_rdma(Facts& facts) {
  errno = 0;
  int n = 0;
  ibv_device** list = ibv_get_device_list(&n);
  if (list == nullptr) {
    const std::string reason = "ibv_get_device_list: " + errno_message(errno);
    facts.missing("rdma_devices", reason);
    return json{{"available", false}, {"reason", reason}};
  }
  if (n == 0) {
    ibv_free_device_list(list);
    const std::string reason = "ibv_get_device_list: no RDMA devices found";
    facts.missing("rdma_devices", reason);
    return json{{"available", false}, {"reason", reason}, {"devices", json::array()}};
  }
  json devices = json::array();
  for (int i = 0; i < n; ++i) {
    ibv_device* dev = list[i];
    const std::string name = utf8(ibv_get_device_name(dev));
    json d = {{"name", name},
              {"node_guid", format_guid(ibv_get_device_guid(dev))},
              {"fw_ver", nullptr},
              {"ports", json::array()}};
    ibv_context* ctx = ibv_open_device(dev);
    if (ctx == nullptr) {
      const std::string reason = "ibv_open_device: " + errno_message(errno);
      facts.missing("rdma_devices." + name + ".fw_ver", reason);
      d["error"] = reason;
      devices.push_back(std::move(d));
      continue;
    }
    ibv_device_attr attr{};
    if (const int rc = ibv_query_device(ctx, &attr); rc != 0) {
      const std::string reason = "ibv_query_device: " + errno_message(rc);
      facts.missing("rdma_devices." + name + ".fw_ver", reason);
      d["error"] = reason;
    } else {
      d["fw_ver"] = utf8(attr.fw_ver);
      d["vendor_id"] = attr.vendor_id;
      d["vendor_part_id"] = attr.vendor_part_id;
      for (int port = 1; port <= attr.phys_port_cnt; ++port) {
        d["ports"].push_back(capture_port(facts, ctx, name, static_cast<std::uint8_t>(port)));
      }
    }
    ibv_close_device(ctx);
    devices.push_back(std::move(d));
  }
  ibv_free_device_list(list);
  return json{{"available", true}, {"devices", std::move(devices)}};
}
#else
json capture_rdma(Facts& facts) {
  const std::string reason = "fabricbench was built without libibverbs";
  facts.missing("rdma_devices", reason);
  json r = {{"available", false}, {"reason", reason}};
  std::string ignored;
  if (auto names = list_dir("/sys/class/infiniband", &ignored)) r["sysfs_devices"] = *names;
  return r;
}
#endif

// "#define NAME value" in a header file read at run time.
std::optional<std::string> header_define(const std::string& text, const std::string& name) {
  const std::string pattern = "#define " + name;
  std::size_t pos = 0;
  while ((pos = text.find(pattern, pos)) != std::string::npos) {
    const std::size_t after = pos + pattern.size();
    if (after < text.size() && (text[after] == ' ' || text[after] == '\t')) {
      const auto nl = text.find('\n', after);
      return trim(std::string_view(text).substr(after, nl == std::string::npos ? nl : nl - after));
    }
    pos = after;
  }
  return std::nullopt;
}

json capture_libraries(Facts& facts, json& sources) {
  json l = json::object();
  const auto build_time = [&](const char* name, const char* version, const char* source,
                              const char* reason) {
    if (version != nullptr && version[0] != '\0') {
      l[name] = version;
      sources[name] = source;
    } else {
      l[name] = nullptr;
      facts.missing(std::string("libraries.") + name, reason);
    }
  };
  build_time("libibverbs", FABRICBENCH_ENVELOPE_IBVERBS_VERSION,
             "pkg-config libibverbs at build time", "fabricbench was built without libibverbs");
  build_time("librdmacm", FABRICBENCH_ENVELOPE_RDMACM_VERSION, "pkg-config librdmacm at build time",
             "fabricbench was built without librdmacm");
  build_time("libfabric", FABRICBENCH_ENVELOPE_LIBFABRIC_VERSION,
             "pkg-config libfabric at build time", "libfabric was not found at build time");
  build_time("yaml_cpp", FABRICBENCH_ENVELOPE_YAML_CPP_VERSION,
             "CMake package yaml-cpp at build time", "yaml-cpp version unknown at build time");

#if FABRICBENCH_ENVELOPE_WITH_MPI
  {
    char buf[MPI_MAX_LIBRARY_VERSION_STRING] = {};
    int len = 0;
    if (MPI_Get_library_version(buf, &len) == MPI_SUCCESS && len > 0) {
      const std::string text(buf, ::strnlen(buf, sizeof buf));  // len may count the NUL
      l["mpi"] = utf8(trim(text.substr(0, text.find('\n'))));
      sources["mpi"] = "MPI_Get_library_version";
    } else {
      l["mpi"] = nullptr;
      facts.missing("libraries.mpi", "MPI_Get_library_version failed");
    }
  }
#else
  l["mpi"] = nullptr;
  facts.missing("libraries.mpi", "fabricbench was built without MPI");
#endif

  // CUDA and NCCL: what the toolkit on disk declares (no CUDA dependency here).
  l["cuda"] = nullptr;
  if (Read r = read_file("/usr/local/cuda/version.json"); r.text) {
    const json v = json::parse(*r.text, nullptr, false);
    if (!v.is_discarded() && v.contains("cuda") && v["cuda"].contains("version") &&
        v["cuda"]["version"].is_string()) {
      l["cuda"] = v["cuda"]["version"];
      sources["cuda"] = "/usr/local/cuda/version.json";
    }
  }
  if (l["cuda"].is_null()) {
    const std::string path = "/usr/local/cuda/include/cuda.h";
    if (Read r = read_file(path, std::size_t{4} << 20); r.text) {
      if (auto v = header_define(*r.text, "CUDA_VERSION")) {
        if (auto code = parse_int<int>(*v)) {
          l["cuda"] = fmt::format("{}.{}", *code / 1000, (*code % 1000) / 10);
          sources["cuda"] = path + " (CUDA_VERSION)";
        }
      }
    }
  }
  if (l["cuda"].is_null()) {
    facts.missing("libraries.cuda",
                  "neither /usr/local/cuda/version.json nor /usr/local/cuda/include/cuda.h "
                  "declares a version");
  }
  l["nccl"] = nullptr;
  for (const char* path : {"/usr/local/cuda/include/nccl.h", "/usr/include/nccl.h"}) {
    Read r = read_file(path);
    if (!r.text) continue;
    const auto major = header_define(*r.text, "NCCL_MAJOR");
    const auto minor = header_define(*r.text, "NCCL_MINOR");
    const auto patch = header_define(*r.text, "NCCL_PATCH");
    if (major && minor && patch) {
      l["nccl"] = utf8(fmt::format("{}.{}.{}", *major, *minor, *patch));
      sources["nccl"] = std::string(path) + " (NCCL_MAJOR/MINOR/PATCH)";
      break;
    }
  }
  if (l["nccl"].is_null()) {
    facts.missing("libraries.nccl", "no nccl.h in /usr/local/cuda/include or /usr/include");
  }

  l["nlohmann_json"] = fmt::format("{}.{}.{}", NLOHMANN_JSON_VERSION_MAJOR,
                                   NLOHMANN_JSON_VERSION_MINOR, NLOHMANN_JSON_VERSION_PATCH);
  sources["nlohmann_json"] = "nlohmann/json.hpp at build time";
  l["fmt"] =
      fmt::format("{}.{}.{}", FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100);
  sources["fmt"] = "fmt/core.h at build time";
#ifdef OPENSSL_VERSION_STR
  l["openssl"] = OPENSSL_VERSION_STR;
#else
  l["openssl"] = OPENSSL_VERSION_TEXT;
#endif
  sources["openssl"] = "openssl/opensslv.h at build time";
  return l;
}

json capture_environment() {
  static constexpr std::string_view kPrefixes[] = {
      "NCCL_",  "UCX_",  "FI_",          "OMPI_", "PMIX_",  "SLURM_", "MLX5_", "IBV_",
      "RDMAV_", "CUDA_", "FABRICBENCH_", "UCC_",  "I_MPI_", "MPICH_", "PSM3_", "NVSHMEM_",
  };
  json env = json::object();
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry = *e;
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string name(entry.substr(0, eq));
    const bool wanted = std::any_of(std::begin(kPrefixes), std::end(kPrefixes),
                                    [&](std::string_view p) { return name.rfind(p, 0) == 0; });
    if (!wanted) continue;
    env[utf8(name)] = looks_secret(name) ? std::string("<redacted>") : utf8(entry.substr(eq + 1));
  }
  return env;
}

}  // namespace

void record_placement_binding(json binding) {
  placement_binding() = std::move(binding);
}

bool looks_secret(const std::string& name) {
  static constexpr std::string_view kMarkers[] = {"SECRET", "TOKEN",      "PASSWORD", "PASSWD",
                                                  "KEY",    "CREDENTIAL", "AUTH"};
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return std::any_of(std::begin(kMarkers), std::end(kMarkers),
                     [&](std::string_view m) { return upper.find(m) != std::string::npos; });
}

json capture(const Context& context) {
  Facts facts;
  json doc = json::object();
  doc["rank"] = context.rank;
  doc["size"] = context.size;
  doc["launcher"] = utf8(context.launcher);
  doc["pid"] = ::getpid();

  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) == 0) {
    doc["hostname"] = utf8(host);
  } else {
    doc["hostname"] = nullptr;
    facts.missing("hostname", "gethostname: " + errno_message(errno));
  }

  const int cpu = ::sched_getcpu();
  const int cpu_errno = errno;
  doc["kernel"] = facts.section("kernel", [&] { return capture_kernel(facts); });
  doc["os_release"] = facts.section("os_release", [&] { return capture_os_release(facts); });
  doc["cpu"] = facts.section("cpu", [&] { return capture_cpu(facts, cpu); });
  std::vector<NumaNode> nodes;
  doc["numa"] = facts.section("numa", [&] { return capture_numa(facts, nodes); });
  doc["placement"] =
      facts.section("placement", [&] { return capture_placement(facts, cpu, cpu_errno, nodes); });
  doc["memory"] = facts.section("memory", [&] { return capture_memory(facts); });
  doc["sysctls"] = facts.section("sysctls", [&] { return capture_sysctls(facts); });
  doc["nics"] = facts.section("nics", [&] { return capture_nics(facts); });
  doc["rdma_devices"] = facts.section("rdma_devices", [&] { return capture_rdma(facts); });
  doc["gpus"] = facts.section("gpus", [&] {
    return capture_gpus(
        [&](const std::string& fact, const std::string& reason) { facts.missing(fact, reason); });
  });
  json sources = json::object();
  doc["libraries"] = facts.section("libraries", [&] { return capture_libraries(facts, sources); });
  doc["library_sources"] = std::move(sources);
  doc["environment"] = facts.section("environment", [&] { return capture_environment(); });
  doc["unavailable"] = std::move(facts.unavailable);
  return doc;
}

}  // namespace fabricbench::envelope
