// Injector::make refusals (no command is run by these), and the command backend end to end
// (no root needed: its commands only touch files in a temporary directory).
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <cstdlib>
#include <thread>

#include "core/error.hpp"
#include "harness/faults/detail.hpp"
#include "harness/faults/injector.hpp"
#include "test_support.hpp"

namespace fabricbench::faults {
namespace {

using std::chrono::seconds;
using testing::Child;
using testing::file_exists;
using testing::LinePipe;
using testing::process_gone;
using testing::TempDir;
using testing::wait_for;

core::ErrorKind make_error(const BackendConfig& config, Watchdog* watchdog,
                           std::string* message = nullptr) {
  try {
    auto injector = Injector::make(config, watchdog);
    ADD_FAILURE() << "make(" << config.backend << ", " << config.target << ") did not throw";
  } catch (const core::Error& e) {
    if (message != nullptr) *message = e.what();
    return e.kind();
  }
  return core::ErrorKind::usage;  // not a kind make() throws
}

BackendConfig command_config(const std::string& inject, const std::string& clear) {
  BackendConfig c;
  c.backend = "command";
  c.inject = inject;
  c.clear = clear;
  c.command_timeout_ns = 10 * testing::kSecond;
  return c;
}

// A network namespace of the test's own, built with `ip -n NS` commands and deleted at the end;
// inside() runs a body on a thread that has entered it (false when it could not).
class ScratchNamespace {
 public:
  explicit ScratchNamespace(const std::string& prefix)
      : name_(prefix + "-" + std::to_string(::getpid())),
        made_(sh("ip netns add " + name_ + " 2>/dev/null")) {}
  ~ScratchNamespace() {
    if (made_) sh("ip netns del " + name_);
  }
  ScratchNamespace(const ScratchNamespace&) = delete;
  ScratchNamespace& operator=(const ScratchNamespace&) = delete;

  bool made() const { return made_; }
  const std::string& name() const { return name_; }
  // Each `ip -n NS <command>` in turn; false at the first that fails.
  bool ip(const std::vector<std::string>& commands) const {
    for (const auto& c : commands) {
      if (!sh("ip -n " + name_ + " " + c)) return false;
    }
    return true;
  }
  bool inside(const std::function<void()>& body) const {
    bool entered = false;
    std::thread t([&] {
      const int fd = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
      entered = fd >= 0 && ::setns(fd, CLONE_NEWNET) == 0;
      if (fd >= 0) ::close(fd);
      if (entered) body();
    });
    t.join();
    return entered;
  }

 private:
  static bool sh(const std::string& cmd) { return std::system(cmd.c_str()) == 0; }
  std::string name_;
  bool made_;
};

// The first interface of this namespace that carries a default route, "" when none does.
std::string default_route_interface() {
  std::ifstream in("/proc/net/route");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string iface, dest, gw, flags, refcnt, use, metric, mask;
    if (f >> iface >> dest >> gw >> flags >> refcnt >> use >> metric >> mask &&
        dest == "00000000" && mask == "00000000") {
      return iface;
    }
  }
  return {};
}

TEST(InjectorMake, RefusesAnUnknownBackend) {
  BackendConfig c;
  c.backend = "netem";
  std::string why;
  EXPECT_EQ(make_error(c, nullptr, &why), core::ErrorKind::config);
  EXPECT_NE(why.find("netem"), std::string::npos) << why;
}

TEST(InjectorMake, CommandBackendNeedsBothCommandsAndAWatchdog) {
  EXPECT_EQ(make_error(command_config("true", ""), nullptr), core::ErrorKind::config);
  EXPECT_EQ(make_error(command_config("", "true"), nullptr), core::ErrorKind::config);
  EXPECT_EQ(make_error(command_config("true", "true"), nullptr), core::ErrorKind::runtime);
}

TEST(InjectorMake, LinkBackendNeedsAnAllowedTargetAndTakesOnlyALinkDown) {
  auto wd = Watchdog::start();
  BackendConfig c;
  c.backend = "link";
  c.target = "lo";
  std::string why;
  EXPECT_EQ(make_error(c, wd.get(), &why), core::ErrorKind::config);  // allow is empty
  EXPECT_NE(why.find("allow"), std::string::npos) << why;
  c.allow = {"eth9", "fbd0"};
  EXPECT_EQ(make_error(c, wd.get()), core::ErrorKind::config);
  c.target = "bad name;";
  c.allow = {"bad name;"};
  EXPECT_EQ(make_error(c, wd.get()), core::ErrorKind::config);
  // Allowed and present (lo): made, but only link_down / flap pass check(). Nothing is injected.
  c.target = "lo";
  c.allow = {"lo"};
  auto injector = Injector::make(c, wd.get());
  EXPECT_EQ(injector->describe(), "link:lo");
  EXPECT_NO_THROW(injector->check(Fault{Kind::link_down, 0, 0, 0}));
  EXPECT_NO_THROW(injector->check(Fault{Kind::flap, 0, 0, 0}));
  for (Kind k : {Kind::blackhole, Kind::loss, Kind::delay, Kind::rate_limit}) {
    try {
      injector->check(Fault{k, 0.1, 1'000'000, 1e6});
      ADD_FAILURE() << to_string(k) << " accepted";
    } catch (const core::Error& e) {
      EXPECT_EQ(e.kind(), core::ErrorKind::config);
      EXPECT_NE(std::string(e.what()).find("RoCE"), std::string::npos) << e.what();
    }
  }
  // Without a watchdog it cannot be made at all.
  EXPECT_EQ(make_error(c, nullptr), core::ErrorKind::runtime);
  // A missing interface is unavailable.
  c.target = "fbnosuch0";
  c.allow = {"fbnosuch0"};
  EXPECT_EQ(make_error(c, wd.get()), core::ErrorKind::unavailable);
}

TEST(InjectorMake, LinkAndVmRefuseTheDefaultRouteInterface) {
  const std::string iface = default_route_interface();
  if (iface.empty()) GTEST_SKIP() << "no default route in this namespace";
  auto wd = Watchdog::start();
  BackendConfig c;
  c.backend = "link";
  c.target = iface;
  c.allow = {iface};
  std::string why;
  EXPECT_EQ(make_error(c, wd.get(), &why), core::ErrorKind::config);
  EXPECT_NE(why.find("default route"), std::string::npos) << why;
  c.backend = "vm";
  EXPECT_EQ(make_error(c, wd.get(), &why), core::ErrorKind::config);
  EXPECT_NE(why.find("default route"), std::string::npos) << why;
}

TEST(LinkStack, ParsesMastersAndLowerDevices) {
  const std::string out =
      "1: lo: <LOOPBACK,UP> mtu 65536 qdisc noqueue state UNKNOWN\\    link/loopback\n"
      "2: eth0: <UP> mtu 1500 qdisc mq master bond0 state UP\\    link/ether bond_slave\n"
      "3: bond0: <MASTER,UP> mtu 1500 qdisc noqueue master br0 state UP\\    bond mode 802.3ad\n"
      "4: bond0.100@bond0: <UP> mtu 1500 qdisc noqueue\\    vlan protocol 802.1Q id 100\n"
      "5: vb@va: <UP> mtu 1500\\    link/ether 1a:2b veth addrgenmode eui64\n"
      "6: veth1@if7: <UP> mtu 1500 master br0\\    link/ether 1a:2c veth\n"
      "7: br0: <UP> mtu 1500 qdisc noqueue\\    bridge forward_delay 1500\n";
  const std::vector<std::pair<std::string, std::string>> want = {
      {"eth0", "bond0"}, {"bond0", "br0"}, {"bond0.100", "bond0"}, {"veth1", "br0"}};
  EXPECT_EQ(detail::parse_link_stack(out), want);
}

// The default route on a bridge: its member port is refused too (a bond or a VLAN over the
// target is found the same way; this kernel has neither).
TEST(InjectorMake, DefaultRouteGuardSeesThroughABridge) {
  const ScratchNamespace ns("fbguard");
  if (!ns.made()) GTEST_SKIP() << "cannot make a namespace";
  const bool made =
      ns.ip({"link add va type veth peer name vb", "link add b0 type bridge",
             "link set va master b0", "link set va up", "link set b0 up",
             "addr add 198.18.250.1/24 dev b0", "route add default via 198.18.250.2"});
  ASSERT_TRUE(made) << "could not build the bridge in " << ns.name();
  std::string why_port, why_peer;
  core::ErrorKind port_kind = core::ErrorKind::runtime;
  ASSERT_TRUE(ns.inside([&] {
    auto wd = Watchdog::start();
    BackendConfig c;
    c.backend = "link";
    c.target = "va";
    c.allow = {"va", "vb"};
    port_kind = make_error(c, wd.get(), &why_port);
    c.target = "vb";  // va's veth peer: not under the bridge
    try {
      (void)Injector::make(c, wd.get());
    } catch (const core::Error& e) {
      why_peer = e.what();
    }
  })) << "cannot enter "
      << ns.name();
  EXPECT_EQ(port_kind, core::ErrorKind::config) << why_port;
  EXPECT_NE(why_port.find("'va' is under 'b0', which carries this host's default route"),
            std::string::npos)
      << why_port;
  EXPECT_EQ(why_peer.find("default route"), std::string::npos) << why_peer;
}

// `tc -j -r qdisc show dev IF` in namespace `ns`, without the reference counts (which say how
// many hold the qdisc, not how it is configured): kind, handle, parent, root flag and options.
std::string qdiscs_of(const std::string& ns, const std::string& iface) {
  const auto shown = testing::sh("ip netns exec " + ns + " tc -j -r qdisc show dev " + iface);
  return std::regex_replace(shown.output, std::regex(R"("refcnt":[0-9]+,)"), "");
}

// A tc fault on a configured root qdisc: saved before the fault, put back by the clear with the
// same kind, handle and options (tbf: rate, burst to the tick, limit). A tbf over the tbf changes
// it in place, a tbf over a pfifo grafts a new root: both come back. netem (loss) when this
// kernel has it. On the kernel's default qdisc the fault comes and goes as before.
TEST(VmInjector, ConfiguredRootQdiscIsSavedAndPutBack) {
  const ScratchNamespace ns("fbqdisc");
  if (!ns.made()) GTEST_SKIP() << "cannot make a namespace";
  ASSERT_TRUE(ns.ip({"link add va type veth peer name vb", "link set va up", "link set vb up"}));
  const bool netem = testing::sh("ip netns exec " + ns.name() +
                                 " tc qdisc add dev vb root netem loss 1% && ip netns exec " +
                                 ns.name() + " tc qdisc del dev vb root")
                         .ok();
  std::string first_inject;
  bool cleared_to_default = false;
  struct Case {
    std::string root;  // the configured root qdisc
    Fault fault;
    std::string before = {}, during = {}, after = {}, error = {};
  };
  std::vector<Case> cases = {
      {"handle 8001: tbf rate 16mbit burst 32kbit latency 50ms", {Kind::rate_limit, 0, 0, 50e6}},
      {"handle 8002: pfifo limit 77", {Kind::rate_limit, 0, 0, 50e6}}};
  if (netem) {
    cases.push_back(
        {"handle 8001: tbf rate 16mbit burst 32kbit latency 50ms", {Kind::loss, 0.1, 0, 0}});
  }
  ASSERT_TRUE(ns.inside([&] {
    auto wd = Watchdog::start();
    BackendConfig c;
    c.backend = "vm";
    c.target = "va";
    c.command_timeout_ns = 10 * testing::kSecond;
    auto injector = Injector::make(c, wd.get());
    const Fault limit{Kind::rate_limit, 0, 0, 50e6};
    try {
      for (const auto& r : injector->inject(limit)) {
        if (!r.ok()) first_inject += r.output;
      }
      injector->clear(limit);
    } catch (const core::Error& e) {
      first_inject = e.what();
    }
    cleared_to_default =
        testing::sh("tc qdisc show dev va root").output.find(" 0: root") != std::string::npos;
    for (auto& k : cases) {
      testing::sh("tc qdisc del dev va root");
      testing::sh("tc qdisc add dev va root " + k.root);
      k.before = qdiscs_of(ns.name(), "va");
      try {
        (void)injector->inject(k.fault);
        k.during = qdiscs_of(ns.name(), "va");
        (void)injector->clear(k.fault);
      } catch (const core::Error& e) {
        k.error = e.what();
      }
      k.after = qdiscs_of(ns.name(), "va");
    }
  })) << "cannot enter "
      << ns.name();
  EXPECT_TRUE(first_inject.empty()) << first_inject;
  EXPECT_TRUE(cleared_to_default);
  for (const auto& k : cases) {
    SCOPED_TRACE(k.root + " / " + to_string(k.fault.kind));
    EXPECT_TRUE(k.error.empty()) << k.error;
    EXPECT_NE(k.before.find("\"root\":true"), std::string::npos) << k.before;
    EXPECT_NE(k.during, k.before) << "the fault did not replace the root qdisc";
    EXPECT_EQ(k.after, k.before);
  }
}

// A qdisc tree (htb with a class and a child qdisc) cannot be saved: refused before anything
// changes, naming it, and left as it was.
TEST(VmInjector, ConfiguredQdiscTreeIsRefusedAndKept) {
  const ScratchNamespace ns("fbqtree");
  if (!ns.made()) GTEST_SKIP() << "cannot make a namespace";
  ASSERT_TRUE(ns.ip({"link add va type veth peer name vb", "link set va up", "link set vb up"}));
  const std::string tc = "ip netns exec " + ns.name() + " tc ";
  ASSERT_TRUE(testing::sh(tc + "qdisc add dev va root handle 1: htb default 10 && " + tc +
                          "class add dev va parent 1: classid 1:10 htb rate 10mbit && " + tc +
                          "qdisc add dev va parent 1:10 handle 10: pfifo limit 50")
                  .ok());
  const std::string before = qdiscs_of(ns.name(), "va");
  std::string refused;
  core::ErrorKind kind = core::ErrorKind::usage;
  ASSERT_TRUE(ns.inside([&] {
    auto wd = Watchdog::start();
    BackendConfig c;
    c.backend = "vm";
    c.target = "va";
    c.command_timeout_ns = 10 * testing::kSecond;
    auto injector = Injector::make(c, wd.get());
    try {
      (void)injector->inject(Fault{Kind::rate_limit, 0, 0, 50e6});
    } catch (const core::Error& e) {
      refused = e.what();
      kind = e.kind();
    }
  })) << "cannot enter "
      << ns.name();
  EXPECT_EQ(kind, core::ErrorKind::config) << refused;
  EXPECT_NE(refused.find("va has a configured root qdisc (htb 1:) that cannot be saved"),
            std::string::npos)
      << refused;
  EXPECT_NE(refused.find("trees are not saved"), std::string::npos) << refused;
  EXPECT_EQ(qdiscs_of(ns.name(), "va"), before) << "the configured qdisc tree was changed";
}

// The injecting process killed while a rate_limit replaces a configured tbf: the watchdog's
// restore (registered with the saved qdisc) puts the tbf back as it was.
TEST(VmInjector, WatchdogPutsTheSavedRootQdiscBack) {
  const ScratchNamespace ns("fbqwd");
  if (!ns.made()) GTEST_SKIP() << "cannot make a namespace";
  ASSERT_TRUE(ns.ip({"link add va type veth peer name vb", "link set va up", "link set vb up"}));
  ASSERT_TRUE(testing::sh("ip netns exec " + ns.name() +
                          " tc qdisc add dev va root handle 8001: tbf rate 16mbit burst 32kbit "
                          "latency 50ms")
                  .ok());
  const std::string before = qdiscs_of(ns.name(), "va");
  LinePipe pipe;
  Child child([&] {
    const int fd = ::open(("/run/netns/" + ns.name()).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) return 3;
    ::close(fd);
    auto wd = Watchdog::start();
    BackendConfig c;
    c.backend = "vm";
    c.target = "va";
    c.command_timeout_ns = 10 * testing::kSecond;
    auto injector = Injector::make(c, wd.get());
    (void)injector->inject(Fault{Kind::rate_limit, 0, 0, 50e6});
    pipe.send(std::to_string(wd->pid()));
    for (;;) ::pause();
    return 0;
  });
  const auto line = pipe.receive();
  ASSERT_TRUE(line.has_value()) << "the child did not inject";
  const int wd_pid = std::atoi(line->c_str());
  const std::string during = qdiscs_of(ns.name(), "va");
  child.kill9();
  child.wait();
  EXPECT_NE(during, before) << "the fault did not replace the root qdisc";
  EXPECT_TRUE(wait_for([&] { return qdiscs_of(ns.name(), "va") == before; }, seconds(10)))
      << "the watchdog did not put the tbf back: " << qdiscs_of(ns.name(), "va");
  EXPECT_TRUE(wait_for([&] { return process_gone(wd_pid); }, seconds(10)));
  if (!process_gone(wd_pid)) ::kill(wd_pid, SIGKILL);
}

TEST(InjectorMake, NetnsBackendRefusesTheHostNamespace) {
  BackendConfig c;
  c.backend = "netns";
  // The test runs in its starting namespace: either it is the initial one (refused as such) or
  // it has no fbd0 (refused as missing). Nothing is run either way.
  EXPECT_EQ(make_error(c, nullptr), core::ErrorKind::unavailable);
}

TEST(InjectorMake, IbportNeedsLidColonPort) {
  auto wd = Watchdog::start();
  BackendConfig c;
  c.backend = "ibport";
  for (const char* bad : {"", "12", "12:", ":1", "x:1", "12:1:2"}) {
    c.target = bad;
    EXPECT_EQ(make_error(c, wd.get()), core::ErrorKind::config) << bad;
  }
  c.target = "12:1";
  c.allow = {"13:1"};
  EXPECT_EQ(make_error(c, wd.get()), core::ErrorKind::config);
  c.allow.clear();
  if (testing::sh("command -v ibportstate || test -x /usr/sbin/ibportstate").ok()) {
    GTEST_SKIP() << "ibportstate is installed here; not making an injector for a real port";
  }
  EXPECT_EQ(make_error(c, wd.get()), core::ErrorKind::unavailable);
}

TEST(CommandInjector, InjectsAndClearsWithTheWatchdogHoldingTheRestore) {
  TempDir dir;
  const std::string flag = dir.file("injected");
  auto wd = Watchdog::start();
  auto injector = Injector::make(command_config("touch " + flag, "rm " + flag), wd.get());
  EXPECT_EQ(injector->describe(), "command");
  const Fault fault{Kind::blackhole, 0, 0, 0};
  const auto in = injector->inject(fault);
  ASSERT_EQ(in.size(), 1u);
  EXPECT_TRUE(in[0].ok());
  EXPECT_EQ(in[0].argv, (std::vector<std::string>{"/bin/sh", "-c", "touch " + flag}));
  EXPECT_EQ(in[0].what, "inject blackhole by command");
  EXPECT_TRUE(file_exists(flag));
  const auto out = injector->clear(fault);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].ok());
  EXPECT_FALSE(file_exists(flag));
  EXPECT_TRUE(injector->clear(fault).empty());  // nothing injected: nothing run
  // The restore was removed after the clear: the watchdog's end does not run `rm` again.
  std::ofstream(flag) << "x";
  wd.reset();
  EXPECT_TRUE(file_exists(flag));
}

TEST(CommandInjector, AFailedInjectIsUndoneAndThrownWithItsRecords) {
  TempDir dir;
  const std::string undo = dir.file("undone");
  auto wd = Watchdog::start();
  auto injector = Injector::make(command_config("echo boom; exit 3", "touch " + undo), wd.get());
  try {
    injector->inject(Fault{Kind::link_down, 0, 0, 0});
    FAIL() << "no exception";
  } catch (const CommandFailed& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::runtime);
    EXPECT_NE(std::string(e.what()).find("boom"), std::string::npos) << e.what();
    ASSERT_EQ(e.records().size(), 2u);  // the inject, then its undo
    EXPECT_EQ(e.records()[0].exit_code, 3);
    EXPECT_TRUE(e.records()[1].ok());
  }
  EXPECT_TRUE(file_exists(undo));
}

TEST(CommandInjector, AFailedClearThrowsAndStaysInjected) {
  TempDir dir;
  const std::string flag = dir.file("flag");
  auto wd = Watchdog::start();
  auto injector = Injector::make(
      command_config("touch " + flag, "test -e " + flag + ".ok && rm " + flag), wd.get());
  const Fault fault{Kind::loss, 0.5, 0, 0};
  injector->inject(fault);
  EXPECT_THROW(injector->clear(fault), CommandFailed);
  EXPECT_TRUE(file_exists(flag));
  std::ofstream(flag + ".ok") << "x";
  EXPECT_EQ(injector->clear(fault).size(), 1u);  // still injected: cleared now
  EXPECT_FALSE(file_exists(flag));
}

TEST(CommandInjector, TimesOutACommand) {
  auto wd = Watchdog::start();
  auto config = command_config("sleep 30", "true");
  config.command_timeout_ns = 200'000'000;
  auto injector = Injector::make(config, wd.get());
  try {
    injector->inject(Fault{Kind::flap, 0, 0, 0});
    FAIL() << "no exception";
  } catch (const CommandFailed& e) {
    ASSERT_FALSE(e.records().empty());
    EXPECT_EQ(e.records()[0].exit_code, 124);
  }
}

TEST(CommandInjector, DestructorClears) {
  TempDir dir;
  const std::string flag = dir.file("flag");
  auto wd = Watchdog::start();
  {
    auto injector = Injector::make(command_config("touch " + flag, "rm " + flag), wd.get());
    injector->inject(Fault{Kind::link_down, 0, 0, 0});
    EXPECT_TRUE(file_exists(flag));
  }
  EXPECT_FALSE(file_exists(flag));
}

TEST(CommandInjector, WatchdogRestoresWhenTheInjectingProcessIsKilled) {
  TempDir dir;
  const std::string flag = dir.file("flag");
  LinePipe pipe;
  Child child([&] {
    auto wd = Watchdog::start();
    auto injector = Injector::make(command_config("touch " + flag, "rm " + flag), wd.get());
    injector->inject(Fault{Kind::link_down, 0, 0, 0});
    pipe.send(std::to_string(wd->pid()));
    for (;;) ::pause();
    return 0;
  });
  const auto line = pipe.receive();
  ASSERT_TRUE(line.has_value());
  const int wd_pid = std::atoi(line->c_str());
  EXPECT_TRUE(file_exists(flag));
  child.kill9();
  child.wait();
  EXPECT_TRUE(wait_for([&] { return !file_exists(flag); }, seconds(10)))
      << "the watchdog did not run the restore";
  EXPECT_TRUE(wait_for([&] { return process_gone(wd_pid); }, seconds(10)));
  if (!process_gone(wd_pid)) ::kill(wd_pid, SIGKILL);
}

}  // namespace
}  // namespace fabricbench::faults
