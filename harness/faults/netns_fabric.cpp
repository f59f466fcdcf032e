// NetnsFabric: two namespaces joined by a veth pair, fbd0 on both sides.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "core/error.hpp"
#include "harness/faults/detail.hpp"
#include "harness/faults/injector.hpp"

namespace fabricbench::faults {

namespace {

using core::Error;
using core::ErrorKind;

constexpr const char* kAddress[2] = {"198.51.100.1", "198.51.100.2"};
std::atomic<unsigned> g_fabric_serial{0};

bool netns_exists(const std::string& name) {
  struct stat st {};
  return ::stat(("/run/netns/" + name).c_str(), &st) == 0;
}

class NetnsFabricImpl final : public NetnsFabric {
 public:
  NetnsFabricImpl(std::string a, std::string b, std::string ip)
      : names_{std::move(a), std::move(b)}, ip_(std::move(ip)), owner_(::getpid()) {}

  ~NetnsFabricImpl() override {
    if (::getpid() != owner_) return;  // a forked child's copy: the owner removes them
    for (int side = 0; side < 2; ++side) {
      if (created_[side]) remove(names_[side]);
    }
  }

  std::string name(int side) const override { return names_[checked(side)]; }
  std::string address(int side) const override { return kAddress[checked(side)]; }

  void enter(int side) const override {
    const std::string path = "/run/netns/" + names_[checked(side)];
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      throw Error(ErrorKind::unavailable,
                  fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    }
    const int rc = ::setns(fd, CLONE_NEWNET);
    const int err = errno;
    ::close(fd);
    if (rc != 0) {
      throw Error(ErrorKind::unavailable, fmt::format("cannot enter network namespace {}: {}",
                                                      names_[side], std::strerror(err)));
    }
  }

  // Runs one setup command; a failure removes what exists and throws Error(unavailable).
  void step(const std::string& what, const std::vector<std::string>& argv) {
    const ActionRecord r = run_command(what, argv, detail::kDefaultCommandTimeoutNs);
    if (!r.ok()) {
      throw Error(ErrorKind::unavailable,
                  fmt::format("cannot build the netns fabric: {}", detail::failure_text(r)));
    }
  }

  void add_namespace(int side) {
    step("create namespace " + names_[side], {ip_, "netns", "add", names_[side]});
    created_[side] = true;
  }

 private:
  static int checked(int side) {
    if (side != 0 && side != 1) throw std::invalid_argument("netns fabric side must be 0 or 1");
    return side;
  }

  // Kills what still runs in the namespace (except this process), then deletes it.
  void remove(const std::string& name) const {
    const ActionRecord pids = run_command("list processes in " + name, {ip_, "netns", "pids", name},
                                          detail::kDefaultCommandTimeoutNs);
    std::istringstream in(pids.output);
    long pid = 0;
    while (pids.ok() && in >> pid) {
      if (pid > 1 && pid != ::getpid()) ::kill(static_cast<pid_t>(pid), SIGKILL);
    }
    (void)run_command("delete namespace " + name, {ip_, "netns", "del", name},
                      detail::kDefaultCommandTimeoutNs);
  }

  std::string names_[2];
  std::string ip_;
  pid_t owner_;
  bool created_[2] = {false, false};
};

}  // namespace

std::unique_ptr<NetnsFabric> NetnsFabric::create(Watchdog& watchdog, int mtu,
                                                 double link_rate_bits_per_s) {
  if (mtu < 68 || mtu > 65535) {
    throw Error(ErrorKind::config, fmt::format("netns fabric: mtu {} is out of 68..65535", mtu));
  }
  if (link_rate_bits_per_s != 0 && !(link_rate_bits_per_s >= 8)) {
    throw Error(ErrorKind::config,
                fmt::format("netns fabric: link rate {} bit/s; it must be at least 8 bit/s (or 0: "
                            "not shaped)",
                            link_rate_bits_per_s));
  }
  if (::geteuid() != 0) {
    throw Error(ErrorKind::unavailable, "the netns fabric needs root (network namespaces, veth)");
  }
  const std::string ip = detail::find_tool("ip");
  if (ip.empty()) {
    throw Error(ErrorKind::unavailable, "the netns fabric needs 'ip' (iproute2), not installed");
  }
  const std::string tc = link_rate_bits_per_s > 0 ? detail::find_tool("tc") : std::string();
  if (link_rate_bits_per_s > 0 && tc.empty()) {
    throw Error(ErrorKind::unavailable,
                "the netns fabric's link rate needs 'tc' (iproute2), not installed");
  }
  // fb<pid>-<n>a / fb<pid>-<n>b; a name left over by a dead process with our pid is skipped.
  std::string a, b;
  do {
    const unsigned n = g_fabric_serial++;
    a = fmt::format("fb{}-{}a", ::getpid(), n);
    b = fmt::format("fb{}-{}b", ::getpid(), n);
  } while (netns_exists(a) || netns_exists(b));

  // Registered before anything exists, so that a death half-way through is covered too. Runs
  // again (harmlessly: nothing of that name is left) when the watchdog finishes normally.
  std::string script;
  for (const auto& n : {a, b}) {
    const std::string q_ip = detail::shell_quote(ip);
    script += fmt::format(
        "for p in $({0} netns pids {1} 2>/dev/null); do kill -9 \"$p\" 2>/dev/null; done; "
        "{0} netns del {1} 2>/dev/null; ",
        q_ip, n);
  }
  script += "exit 0";
  watchdog.add_cleanup({"/bin/sh", "-c", script});

  auto fabric = std::make_unique<NetnsFabricImpl>(a, b, ip);  // removes them if a step throws
  fabric->add_namespace(0);
  fabric->add_namespace(1);
  const std::string m = std::to_string(mtu);
  fabric->step(
      "create veth fbd0 " + a + " <-> fbd0 " + b,
      {ip, "link", "add", "fbd0", "netns", a, "type", "veth", "peer", "name", "fbd0", "netns", b});
  const std::string names[2] = {a, b};
  for (int side = 0; side < 2; ++side) {
    const std::string& ns = names[side];
    fabric->step("set mtu in " + ns, {ip, "-n", ns, "link", "set", "dev", "fbd0", "mtu", m});
    fabric->step("address in " + ns,
                 {ip, "-n", ns, "addr", "add", std::string(kAddress[side]) + "/24", "dev", "fbd0"});
    fabric->step("loopback up in " + ns, {ip, "-n", ns, "link", "set", "dev", "lo", "up"});
    if (link_rate_bits_per_s > 0) {
      std::vector<std::string> argv = {tc, "-n", ns, "qdisc", "add", "dev", "fbd0", "root"};
      for (auto& arg : detail::tbf_args(link_rate_bits_per_s)) argv.push_back(std::move(arg));
      fabric->step("shape fbd0 in " + ns, argv);
    }
    fabric->step("fbd0 up in " + ns, {ip, "-n", ns, "link", "set", "dev", "fbd0", "up"});
  }
  return fabric;
}

}  // namespace fabricbench::faults
