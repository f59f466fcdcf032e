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

// tc's clock: microseconds per tick (/proc/net/psched gives 1000/64 x 1 on every kernel since
// 2.6.31), which turns a tbf's burst in ticks back into the bytes tc was given.
inline constexpr double kPschedTickInUsec = 15.625;

// What a tc fault's clear does with the root qdisc the fault replaces.
struct RootQdiscPlan {
  enum class Action {
    delete_root,  // the kernel's default root (handle 0:): `tc qdisc del dev IF root`
    restore,      // a configured root qdisc alone: `tc qdisc replace dev IF root` + args
    refuse,       // a configured root that cannot be rebuilt (a tree, a kind or option not known)
  };
  Action action = Action::delete_root;
  std::vector<std::string> args;  // restore: handle H: KIND OPTIONS..., exactly as it was
  std::string what;               // restore, refuse: "tbf 8001:"
  std::string why;                // refuse: the reason
};

// True when `tc -j qdisc show dev IF` shows no root qdisc or the kernel's default (handle 0:);
// false for a configured root or output that is not tc's JSON. Pure.
bool root_qdisc_is_default(const std::string& qdiscs_json);

// The plan for an interface's root qdisc from `tc -j -r qdisc show dev IF` (qdiscs_json), `tc -j
// -d qdisc show dev IF` (details_json: tbf's mpu and sfq's flows are shown with details only) and
// `tc -j filter show dev IF` (filters_json; "" reads as none). A root with a child qdisc (other
// than ingress/clsact beside it) or with filters is a tree: refused. Rebuilt kinds: tbf (no peak
// rate), pfifo, bfifo, pfifo_fast (the kernel's priority map), fq_codel, netem (fixed delay and
// random loss, uncorrelated), sfq (not in RED mode); an option the rebuild does not know is
// refused, never dropped. Output that is not tc's JSON is refused too. Pure.
RootQdiscPlan plan_root_qdisc(const std::string& qdiscs_json, const std::string& details_json,
                              const std::string& filters_json);

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
