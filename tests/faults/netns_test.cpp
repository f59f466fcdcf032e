// With root and network namespaces (SKIP otherwise): the netns fabric, the netns backend's
// faults on fbd0, the vm and link backends inside a fabric namespace, and the watchdog removing
// what a killed process left. Everything happens inside namespaces these tests create
// (198.51.100.0/24 only); they are always deleted, and a global check at the end makes sure.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "harness/faults/injector.hpp"
#include "test_support.hpp"

namespace fabricbench::faults {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Child;
using testing::LinePipe;
using testing::netns_exists;
using testing::NetnsGuard;
using testing::NetnsReaper;
using testing::process_gone;
using testing::sh;
using testing::wait_for;

// Namespaces this test process names (fb<pid>-<n>a/b; those of its children have their own
// pids and are checked by their tests). Other processes' are none of its business.
std::set<std::string> our_namespaces() {
  std::set<std::string> out;
  const auto r = sh("ip netns list 2>/dev/null");
  std::istringstream in(r.output);
  std::string line;
  const std::regex ours("^fb" + std::to_string(::getpid()) + "-[0-9]+[ab]$");
  while (std::getline(in, line)) {
    const std::string name = line.substr(0, line.find(' '));
    if (std::regex_match(name, ours)) out.insert(name);
  }
  return out;
}

// Fails the run when a namespace of this process is still there at the end (and deletes it).
class NoNamespaceLeftBehind : public ::testing::Environment {
 public:
  void SetUp() override { before_ = our_namespaces(); }
  void TearDown() override {
    for (const auto& n : our_namespaces()) {
      if (before_.count(n) == 0) {
        ADD_FAILURE() << "namespace " << n << " left behind";
        sh("ip netns del " + n);
      }
    }
  }

 private:
  std::set<std::string> before_;
};
[[maybe_unused]] ::testing::Environment* const g_env =
    ::testing::AddGlobalTestEnvironment(new NoNamespaceLeftBehind);

// The flags of fbd0 in namespace `ns` ("BROADCAST", "UP", ...).
std::set<std::string> link_flags(const std::string& ns) {
  const auto r = sh("ip -n " + ns + " link show dev fbd0");
  std::set<std::string> flags;
  const auto open = r.output.find('<');
  const auto close = r.output.find('>');
  if (open == std::string::npos || close == std::string::npos) return flags;
  std::istringstream in(r.output.substr(open + 1, close - open - 1));
  std::string f;
  while (std::getline(in, f, ',')) flags.insert(f);
  return flags;
}
bool link_up(const std::string& ns) {
  return link_flags(ns).count("UP") != 0;
}

// A socket created in namespace `side` (it stays there); the calling thread comes back.
int socket_in(const NetnsFabric& fabric, int side) {
  NetnsGuard back;
  fabric.enter(side);
  return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

sockaddr_in ipv4(const std::string& address, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  return a;
}

// A listener on side 1 (no accept: the backlog completes the handshakes).
struct Listener {
  int fd = -1;
  Listener(const NetnsFabric& fabric, int port) {
    fd = socket_in(fabric, 1);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in a = ipv4(fabric.address(1), port);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ~Listener() {
    if (fd >= 0) ::close(fd);
  }
};

// Connects from side 0 to side 1 within `timeout`.
bool connects(const NetnsFabric& fabric, int port, milliseconds timeout) {
  const int fd = socket_in(fabric, 0);
  if (fd < 0) return false;
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  const sockaddr_in a = ipv4(fabric.address(1), port);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ok = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
  }
  ::close(fd);
  return ok;
}

// A watchdog and a fabric, or the reason to skip.
struct FabricSetup {
  std::unique_ptr<Watchdog> watchdog;
  std::unique_ptr<NetnsFabric> fabric;
  NetnsReaper reaper;  // safety net; destroyed last
  std::string skip;
  explicit FabricSetup(double link_rate_bits_per_s = 0) {
    watchdog = Watchdog::start();
    auto f = testing::try_fabric(*watchdog, link_rate_bits_per_s);
    if (!f.fabric) {
      skip = f.reason;
      return;
    }
    fabric = std::move(f.fabric);
    reaper.add(fabric->name(0));
    reaper.add(fabric->name(1));
  }
  ~FabricSetup() {
    fabric.reset();
    watchdog.reset();
  }
};

#define REQUIRE_FABRIC(setup) \
  if (!(setup).skip.empty()) GTEST_SKIP() << "netns fabric unavailable: " << (setup).skip

std::unique_ptr<Injector> netns_injector(const NetnsFabric& fabric, int side,
                                         double link_rate_bits_per_s = 0) {
  NetnsGuard back;  // made inside the namespace, used from anywhere
  fabric.enter(side);
  BackendConfig c;
  c.backend = "netns";
  c.link_rate_bits_per_s = link_rate_bits_per_s;
  return Injector::make(c, nullptr);
}

TEST(NetnsFabric, CreatesTwoNamespacesJoinedByFbd0AndDeletesThem) {
  FabricSetup s;
  REQUIRE_FABRIC(s);
  const std::string a = s.fabric->name(0);
  const std::string b = s.fabric->name(1);
  EXPECT_NE(a, b);
  EXPECT_NE(a.find(std::to_string(::getpid())), std::string::npos) << a;
  EXPECT_TRUE(netns_exists(a));
  EXPECT_TRUE(netns_exists(b));
  EXPECT_EQ(s.fabric->address(0), "198.51.100.1");
  EXPECT_EQ(s.fabric->address(1), "198.51.100.2");
  EXPECT_THROW(s.fabric->name(2), std::invalid_argument);
  // A forked child enters each side and sees fbd0 with that side's address, and lo up.
  for (int side = 0; side < 2; ++side) {
    Child child([&] {
      s.fabric->enter(side);
      if (::if_nametoindex("fbd0") == 0) return 1;
      ifaddrs* list = nullptr;
      if (::getifaddrs(&list) != 0) return 2;
      bool found = false;
      bool lo_up = false;
      for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
        char text[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text,
                    sizeof text);
        if (std::string(i->ifa_name) == "fbd0" && text == s.fabric->address(side)) found = true;
        if (std::string(i->ifa_name) == "lo" && (i->ifa_flags & IFF_UP) != 0) lo_up = true;
      }
      ::freeifaddrs(list);
      if (!found) return 3;
      if (!lo_up) return 4;
      return 0;
    });
    const auto status = child.wait_for_exit(seconds(10));
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "side " << side << ": child status " << *status;
  }
  // Both ends talk.
  Listener listener(*s.fabric, 5201);
  ASSERT_GE(listener.fd, 0);
  EXPECT_TRUE(connects(*s.fabric, 5201, milliseconds(2000)));
  // A second fabric in the same process gets other names.
  auto second = NetnsFabric::create(*s.watchdog, 9000);
  s.reaper.add(second->name(0));
  s.reaper.add(second->name(1));
  EXPECT_NE(second->name(0), a);
  EXPECT_NE(sh("ip -n " + second->name(1) + " link show dev fbd0").output.find("mtu 9000"),
            std::string::npos);
  const std::string second_a = second->name(0);
  second.reset();
  s.fabric.reset();
  EXPECT_FALSE(netns_exists(a));
  EXPECT_FALSE(netns_exists(b));
  EXPECT_FALSE(netns_exists(second_a));
  EXPECT_EQ(sh("ip netns list").output.find(a), std::string::npos);
}

TEST(NetnsFabric, RefusesABadMtu) {
  auto wd = Watchdog::start();
  try {
    NetnsFabric::create(*wd, 10);
    FAIL() << "no exception";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::config);
  }
}

TEST(NetnsInjector, LinkDownAndUp) {
  FabricSetup s;
  REQUIRE_FABRIC(s);
  const std::string a = s.fabric->name(0);
  auto injector = netns_injector(*s.fabric, 0);
  EXPECT_EQ(injector->describe(), "netns:fbd0");
  ASSERT_TRUE(link_up(a));
  // This thread is back in the test's own namespace: the injector still acts in a.
  const Fault fault{Kind::link_down, 0, 0, 0};
  const auto in = injector->inject(fault);
  ASSERT_EQ(in.size(), 1u);
  EXPECT_TRUE(in[0].ok()) << in[0].output;
  EXPECT_EQ(in[0].what, "inject link_down on fbd0");
  EXPECT_EQ(in[0].argv.back(), "down");
  EXPECT_FALSE(link_up(a));
  EXPECT_TRUE(link_up(s.fabric->name(1)));  // only this side
  const auto out = injector->clear(fault);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].ok()) << out[0].output;
  EXPECT_TRUE(link_up(a));
  // flap: the same per occurrence.
  injector->inject(Fault{Kind::flap, 0, 0, 0});
  EXPECT_FALSE(link_up(a));
  injector->clear(Fault{Kind::flap, 0, 0, 0});
  EXPECT_TRUE(link_up(a));
}

TEST(NetnsInjector, BlackholeStopsTcpAndClearRestoresIt) {
  FabricSetup s;
  REQUIRE_FABRIC(s);
  const std::string a = s.fabric->name(0);
  auto injector = netns_injector(*s.fabric, 0);
  Listener listener(*s.fabric, 5202);
  ASSERT_GE(listener.fd, 0);
  ASSERT_TRUE(connects(*s.fabric, 5202, milliseconds(2000)));
  const Fault fault{Kind::blackhole, 0, 0, 0};
  try {
    injector->check(fault);
  } catch (const core::Error& e) {
    GTEST_SKIP() << e.what();  // neither nft nor iptables here
  }
  const auto in = injector->inject(fault);
  ASSERT_FALSE(in.empty());
  for (const auto& r : in) EXPECT_TRUE(r.ok()) << r.output;
  if (in[0].argv[0].find("nft") != std::string::npos) {
    // The table is this run's (its pid in the name): another run's fault is not touched.
    const auto table =
        sh("ip netns exec " + a + " nft list table inet fabricbench_fault_blackhole_" +
           std::to_string(::getpid()));
    EXPECT_TRUE(table.ok()) << table.output;
    EXPECT_NE(table.output.find("oifname \"fbd0\" drop"), std::string::npos) << table.output;
    EXPECT_NE(table.output.find("iifname \"fbd0\" drop"), std::string::npos) << table.output;
  }
  EXPECT_FALSE(connects(*s.fabric, 5202, milliseconds(500)));
  const auto out = injector->clear(fault);
  for (const auto& r : out) EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_FALSE(sh("ip netns exec " + a + " nft list table inet fabricbench_fault_blackhole_" +
                  std::to_string(::getpid()))
                   .ok());
  EXPECT_TRUE(connects(*s.fabric, 5202, milliseconds(2000)));
}

TEST(NetnsInjector, LossAddsARandomDropRule) {
  FabricSetup s;
  REQUIRE_FABRIC(s);
  const std::string a = s.fabric->name(0);
  auto injector = netns_injector(*s.fabric, 0);
  const Fault fault{Kind::loss, 0.25, 0, 0};
  try {
    injector->check(fault);
  } catch (const core::Error& e) {
    GTEST_SKIP() << e.what();
  }
  for (double bad : {0.0, -0.1, 1.5}) {
    EXPECT_THROW(injector->check(Fault{Kind::loss, bad, 0, 0}), core::Error) << bad;
  }
  const auto in = injector->inject(fault);
  ASSERT_FALSE(in.empty());
  EXPECT_TRUE(in[0].ok()) << in[0].output;
  const std::string list = "ip netns exec " + a + " nft list table inet fabricbench_fault_loss_" +
                           std::to_string(::getpid());
  if (in[0].argv[0].find("nft") != std::string::npos) {
    const auto table = sh(list);
    EXPECT_NE(table.output.find("numgen random mod 10000 < 2500"), std::string::npos)
        << table.output;
  }
  injector->clear(fault);
  EXPECT_FALSE(sh(list).ok());
}

TEST(NetnsInjector, RateLimitAddsAndRemovesTbf) {
  FabricSetup s;
  REQUIRE_FABRIC(s);
  const std::string show = "ip netns exec " + s.fabric->name(0) + " tc qdisc show dev fbd0";
  auto injector = netns_injector(*s.fabric, 0);
  const Fault fault{Kind::rate_limit, 0, 0, 50e6};
  const auto in = injector->inject(fault);
  ASSERT_EQ(in.size(), 1u);
  ASSERT_TRUE(in[0].ok()) << in[0].output;
  const auto qdisc = sh(show);
  EXPECT_NE(qdisc.output.find("tbf"), std::string::npos) << qdisc.output;
  EXPECT_NE(qdisc.output.find("rate 50Mbit"), std::string::npos) << qdisc.output;
  injector->clear(fault);
  EXPECT_EQ(sh(show).output.find("tbf"), std::string::npos);
  // The destructor clears what is still injected.
  injector->inject(fault);
  EXPECT_NE(sh(show).output.find("tbf"), std::string::npos);
  injector.reset();
  EXPECT_EQ(sh(show).output.find("tbf"), std::string::npos);
}

TEST(NetnsFabric, ALinkRateShapesBothEndsAndARateLimitReturnsToIt) {
  FabricSetup s(2e9);
  REQUIRE_FABRIC(s);
  const auto show = [&](int side) {
    return sh("ip netns exec " + s.fabric->name(side) + " tc qdisc show dev fbd0").output;
  };
  for (int side = 0; side < 2; ++side) {
    EXPECT_NE(show(side).find("tbf"), std::string::npos) << show(side);
    EXPECT_NE(show(side).find("rate 2Gbit"), std::string::npos) << show(side);
  }
  auto injector = netns_injector(*s.fabric, 0, 2e9);
  const Fault fault{Kind::rate_limit, 0, 0, 50e6};
  ASSERT_TRUE(injector->inject(fault).at(0).ok());
  EXPECT_NE(show(0).find("rate 50Mbit"), std::string::npos) << show(0);
  const auto out = injector->clear(fault);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].ok()) << out[0].output;
  EXPECT_EQ(out[0].what, "clear rate_limit on fbd0 (back to the link rate)");
  EXPECT_NE(show(0).find("rate 2Gbit"), std::string::npos) << show(0);
  EXPECT_EQ(show(0).find("rate 50Mbit"), std::string::npos) << show(0);
  // A link rate belongs to the netns backend only; a bad one is a config error.
  BackendConfig vm;
  vm.backend = "vm";
  vm.link_rate_bits_per_s = 1e9;
  EXPECT_THROW(Injector::make(vm, s.watchdog.get()), std::invalid_argument);
  try {
    NetnsFabric::create(*s.watchdog, 1500, 4);
    FAIL() << "no exception";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::config);
  }
}

TEST(NetnsInjector, RefusesDelay) {
  FabricSetup s;
  REQUIRE_FABRIC(s);
  auto injector = netns_injector(*s.fabric, 0);
  for (int i = 0; i < 2; ++i) {
    try {
      const Fault delay{Kind::delay, 0, 5'000'000, 0};
      if (i == 0) {
        injector->check(delay);
      } else {
        injector->inject(delay);
      }
      ADD_FAILURE() << "delay accepted";
    } catch (const core::Error& e) {
      EXPECT_EQ(e.kind(), core::ErrorKind::config);
      EXPECT_NE(std::string(e.what()).find("netem"), std::string::npos) << e.what();
    }
  }
}

TEST(NetnsInjector, TimelineStoppedMidHoldLeavesTheLinkUp) {
  FabricSetup s;
  REQUIRE_FABRIC(s);
  const std::string a = s.fabric->name(0);
  auto injector = netns_injector(*s.fabric, 0);
  const std::uint64_t hold = 60 * testing::kSecond;
  Timeline timeline(*injector, Fault{Kind::link_down, 0, 0, 0}, schedule(0, hold, 1, 0, 0, 1, 0),
                    core::now_ns());
  EXPECT_TRUE(wait_for([&] { return !link_up(a); }, seconds(10)));
  timeline.stop();
  EXPECT_TRUE(link_up(a));
  EXPECT_FALSE(timeline.error().has_value()) << *timeline.error();
  ASSERT_EQ(timeline.records().size(), 2u);
  EXPECT_EQ(timeline.records()[0].what, "inject link_down on fbd0");
  EXPECT_EQ(timeline.records()[1].what, "clear link_down on fbd0");
  ASSERT_TRUE(timeline.first_inject_mono_ns() && timeline.last_clear_mono_ns());
  EXPECT_LT(*timeline.first_inject_mono_ns(), *timeline.last_clear_mono_ns());
}

TEST(LinkInjector, TakesAnAllowedInterfaceDownWithARestoreInItsNamespace) {
  FabricSetup s;
  REQUIRE_FABRIC(s);
  const std::string a = s.fabric->name(0);
  std::unique_ptr<Injector> injector;
  {
    NetnsGuard back;
    s.fabric->enter(0);
    BackendConfig c;
    c.backend = "link";
    c.target = "fbd0";
    c.allow = {"fbd0"};
    injector = Injector::make(c, s.watchdog.get());
  }
  EXPECT_EQ(injector->describe(), "link:fbd0");
  injector->inject(Fault{Kind::link_down, 0, 0, 0});
  EXPECT_FALSE(link_up(a));
  injector->clear(Fault{Kind::link_down, 0, 0, 0});
  EXPECT_TRUE(link_up(a));
}

TEST(VmInjector, RateLimitInsideANamespaceAndNoNetemOnThisKernel) {
  FabricSetup s;
  REQUIRE_FABRIC(s);
  const std::string show = "ip netns exec " + s.fabric->name(1) + " tc qdisc show dev fbd0";
  std::unique_ptr<Injector> injector;
  {
    NetnsGuard back;
    s.fabric->enter(1);
    BackendConfig c;
    c.backend = "vm";
    c.target = "fbd0";
    injector = Injector::make(c, s.watchdog.get());
  }
  EXPECT_EQ(injector->describe(), "vm:fbd0");
  injector->inject(Fault{Kind::rate_limit, 0, 0, 1e9});
  EXPECT_NE(sh(show).output.find("tbf"), std::string::npos);
  injector->clear(Fault{Kind::rate_limit, 0, 0, 1e9});
  EXPECT_EQ(sh(show).output.find("tbf"), std::string::npos);
  // delay goes through netem: where the kernel has it, it works; here it fails as a command.
  const bool have_netem = sh("modinfo sch_netem >/dev/null 2>&1").ok();
  try {
    const auto in = injector->inject(Fault{Kind::delay, 0, 2'000'000, 0});
    ASSERT_EQ(in.size(), 1u);
    EXPECT_NE(in[0].argv.back().find("2000us"), std::string::npos);
    injector->clear(Fault{Kind::delay, 0, 2'000'000, 0});
  } catch (const CommandFailed& e) {
    EXPECT_FALSE(have_netem) << e.what();
    ASSERT_FALSE(e.records().empty());
    EXPECT_EQ(e.records()[0].argv[6], "netem");
  }
}

TEST(Watchdog, DeletesTheFabricOfAKilledProcessAndWhatRunsInIt) {
  NetnsReaper reaper;
  LinePipe pipe;
  Child child([&] {
    auto wd = Watchdog::start();
    std::unique_ptr<NetnsFabric> fabric;
    try {
      fabric = NetnsFabric::create(*wd);
    } catch (const core::Error& e) {
      pipe.send(std::string("skip ") + e.what());
      return 0;
    }
    // A process left running inside side 0 (a rank that would outlive us).
    const pid_t sleeper = ::fork();
    if (sleeper == 0) {
      fabric->enter(0);
      ::setpgid(0, 0);  // not killed with our group: the watchdog must do it
      ::execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Wait until it runs inside the namespace.
    wait_for([&] {
      return sh("ip netns pids " + fabric->name(0)).output.find(std::to_string(sleeper)) !=
             std::string::npos;
    });
    pipe.send(fabric->name(0) + " " + fabric->name(1) + " " + std::to_string(wd->pid()) + " " +
              std::to_string(sleeper));
    for (;;) ::pause();
    return 0;
  });
  const auto line = pipe.receive();
  ASSERT_TRUE(line.has_value()) << "the child did not report";
  if (line->rfind("skip ", 0) == 0) GTEST_SKIP() << "netns fabric unavailable: " << *line;
  std::istringstream in(*line);
  std::string a, b;
  int wd_pid = 0;
  int sleeper = 0;
  ASSERT_TRUE(in >> a >> b >> wd_pid >> sleeper) << *line;
  reaper.add(a);
  reaper.add(b);
  EXPECT_TRUE(netns_exists(a));
  EXPECT_TRUE(netns_exists(b));
  child.kill9();
  child.wait();
  EXPECT_TRUE(wait_for([&] { return !netns_exists(a) && !netns_exists(b); }, seconds(10)))
      << "the watchdog did not delete " << a << " and " << b;
  EXPECT_TRUE(wait_for([&] { return process_gone(sleeper); }, seconds(10)))
      << "the process left in " << a << " still runs";
  EXPECT_TRUE(wait_for([&] { return process_gone(wd_pid); }, seconds(10)));
  if (!process_gone(sleeper)) ::kill(sleeper, SIGKILL);
  if (!process_gone(wd_pid)) ::kill(wd_pid, SIGKILL);
  EXPECT_EQ(sh("ip netns list").output.find(a), std::string::npos);
}

TEST(Watchdog, RestoresALinkInTheInjectorsNamespaceWhenTheInjectorIsKilled) {
  FabricSetup s;
  REQUIRE_FABRIC(s);
  const std::string a = s.fabric->name(0);
  LinePipe pipe;
  Child child([&] {
    auto wd = Watchdog::start();  // started in the test's namespace, not in a
    s.fabric->enter(0);
    BackendConfig c;
    c.backend = "vm";
    c.target = "fbd0";
    auto injector = Injector::make(c, wd.get());
    injector->inject(Fault{Kind::link_down, 0, 0, 0});
    pipe.send(std::to_string(wd->pid()));
    for (;;) ::pause();
    return 0;
  });
  const auto line = pipe.receive();
  ASSERT_TRUE(line.has_value());
  const int wd_pid = std::atoi(line->c_str());
  EXPECT_FALSE(link_up(a));
  child.kill9();
  child.wait();
  EXPECT_TRUE(wait_for([&] { return link_up(a); }, seconds(10)))
      << "the watchdog did not bring fbd0 in " << a << " back up";
  EXPECT_TRUE(wait_for([&] { return process_gone(wd_pid); }, seconds(10)));
  if (!process_gone(wd_pid)) ::kill(wd_pid, SIGKILL);
}

}  // namespace
}  // namespace fabricbench::faults
