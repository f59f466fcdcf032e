#pragma once
// Internal helpers of harness/faults (not part of the API): tool lookup, shell quoting, network
// namespace identity and switching.
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness/faults/injector.hpp"

namespace fabricbench::faults::detail {

// Per-command limit of the watchdog's restores and cleanups, and of the fabric's own commands.
inline constexpr std::uint64_t kDefaultCommandTimeoutNs = 10'000'000'000ULL;

// Absolute path of an executable found in $PATH or, after it, in /usr/sbin, /sbin, /usr/bin,
// /bin (root tools are often outside a non-login PATH); "" when there is none.
std::string find_tool(std::string_view name);

// `word` as one POSIX shell word (single-quoted when it holds anything special).
std::string shell_quote(std::string_view word);
// argv as one shell command line.
std::string shell_join(const std::vector<std::string>& argv);

// The arguments after `tc qdisc replace|add dev IF root` for a token bucket at `bits_per_s`:
// tbf rate Rbit burst B latency 50ms, B = max(64 KiB (a GSO frame), 1 ms at the rate) bytes.
std::vector<std::string> tbf_args(double bits_per_s);

// "exit 1: <argv>: <output>" (output trimmed), for error messages.
std::string failure_text(const ActionRecord& record);

// Identity of a network namespace (the nsfs inode).
struct NetnsId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const NetnsId&) const = default;
};
// The calling thread's network namespace; nullopt when /proc cannot tell.
std::optional<NetnsId> current_netns();
// The namespace of an open namespace fd.
std::optional<NetnsId> netns_of_fd(int fd);
// The namespace of process `pid` (needs ptrace-read access to it, e.g. root for pid 1).
std::optional<NetnsId> netns_of_pid(pid_t pid);
// The name under /run/netns (as `ip netns` knows it) of namespace `id`; "" when it has none.
std::string netns_name(const NetnsId& id);

// Holds an fd of the namespace the calling thread was in when it was constructed.
class NetnsHandle {
 public:
  NetnsHandle();  // throws core::Error(unavailable) when /proc/thread-self/ns/net cannot be opened
  ~NetnsHandle();
  NetnsHandle(const NetnsHandle&) = delete;
  NetnsHandle& operator=(const NetnsHandle&) = delete;
  int fd() const noexcept { return fd_; }
  const NetnsId& id() const noexcept { return id_; }

 private:
  int fd_ = -1;
  NetnsId id_;
};

// Moves the calling thread into `target` for its lifetime when it is elsewhere (setns), and
// back afterwards. Does nothing when the thread already is in `target`.
class ScopedNetns {
 public:
  explicit ScopedNetns(const NetnsHandle& target);  // throws core::Error(runtime)
  ~ScopedNetns();
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

 private:
  int saved_fd_ = -1;
};

// Interfaces of this namespace that carry a default route (IPv4 /proc/net/route and IPv6
// /proc/net/ipv6_route, usable routes only).
std::vector<std::string> default_route_interfaces();

// Links between interfaces, from `ip -o -d link show` lines: "5: eth0.100@eth0: ... master br0
// ...". A VLAN, macvlan or similar is linked to the device under it (after '@'; a veth's '@' names
// its peer, which is not), a bond's or bridge's member to its master. Pure, tested alone.
std::vector<std::pair<std::string, std::string>> parse_link_stack(const std::string& ip_output);

// `name` and every interface stacked on or under it, transitively (bonds, bridges, VLANs, ...),
// in this thread's network namespace; just `name` when `ip` cannot be run.
std::vector<std::string> stacked_interfaces(const std::string& name);

}  // namespace fabricbench::faults::detail
