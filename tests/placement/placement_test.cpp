// Placement decisions over the hwloc XML topologies of tests/placement/data (two-socket GPU
// servers), and real binding of this machine, read back with sched_getaffinity and
// get_mempolicy in a child process (the test process itself stays unbound).
#include "harness/placement/placement.hpp"

#include <linux/mempolicy.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.hpp"

namespace pl = fabricbench::placement;
using testing::HasSubstr;

namespace {

#define SKIP_WITHOUT_HWLOC()                                          \
  do {                                                                \
    if (!PLACEMENT_WITH_HWLOC) GTEST_SKIP() << "built without hwloc"; \
  } while (0)

const pl::Topology& topo(const std::string& name) {
  static std::map<std::string, pl::Topology> loaded;
  auto it = loaded.find(name);
  if (it == loaded.end()) {
    it = loaded.emplace(name, pl::Topology::load_xml(std::string(PLACEMENT_DATA_DIR) + "/" + name))
             .first;
  }
  return it->second;
}
const pl::Topology& dgx() {
  return topo("dgx_a100_like.xml");
}
const pl::Topology& two_socket() {
  return topo("two_socket_gpu_nic.xml");
}
const pl::Topology& split() {
  return topo("nic_gpu_split_sockets.xml");
}

pl::Request automatic(std::vector<std::string> nics, std::vector<std::string> gpus = {},
                      int local_rank = 0, int local_count = 1) {
  pl::Request r;
  r.mode = pl::Mode::automatic;
  r.nics = std::move(nics);
  r.gpus = std::move(gpus);
  r.local_rank = local_rank;
  r.local_count = local_count;
  return r;
}

// The error message of `fn`, "" when it does not throw.
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const fabricbench::core::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Topologies, LoadWithTheirDevices) {
  SKIP_WITHOUT_HWLOC();
  EXPECT_EQ(dgx().cpus(), "0-63");
  EXPECT_EQ(dgx().numa_nodes(), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(dgx().numa_node_cpus(3), "12-15,44-47");
  EXPECT_FALSE(dgx().is_this_system());
  const auto nics = dgx().nics();
  ASSERT_FALSE(nics.empty());
  EXPECT_EQ(nics.front().first, "mlx5_12");  // RDMA devices first, in topology order
  EXPECT_EQ(nics.size(), 22U);               // 11 RDMA devices and their 11 interfaces
  EXPECT_EQ(two_socket().cpus(), "0-31");
  EXPECT_EQ(two_socket().numa_nodes(), (std::vector<int>{0, 1}));
  EXPECT_EQ(split().numa_node_cpus(1), "8-15,24-31");
}

TEST(Topologies, MissingFileIsAnErrorNamingIt) {
  SKIP_WITHOUT_HWLOC();
  const std::string why = error_of([] { pl::Topology::load_xml("/nonexistent/topo.xml"); });
  EXPECT_THAT(why, HasSubstr("/nonexistent/topo.xml"));
}

TEST(Auto, NicNumaNodeForEachNic) {
  SKIP_WITHOUT_HWLOC();
  const std::map<std::string, int> dgx_nics = {
      {"mlx5_0", 3},  {"mlx5_1", 3},  {"mlx5_2", 1}, {"mlx5_3", 1}, {"mlx5_4", 2},
      {"mlx5_6", 7},  {"mlx5_7", 7},  {"mlx5_8", 5}, {"mlx5_9", 5}, {"mlx5_10", 6},
      {"mlx5_12", 0}, {"ibp12s0", 3}, {"eno1", 0}};
  for (const auto& [nic, node] : dgx_nics) {
    const pl::Binding b = pl::decide(dgx(), automatic({nic}));
    EXPECT_TRUE(b.bind) << nic;
    EXPECT_EQ(b.numa_nodes, std::vector<int>{node}) << nic;
    EXPECT_EQ(b.cpus, dgx().numa_node_cpus(node)) << nic;
    EXPECT_EQ(b.device, nic);
    EXPECT_EQ(b.device_numa_node, node) << nic;
    EXPECT_EQ(b.distance, pl::Distance::same_numa_node) << nic;
    EXPECT_FALSE(b.remote());
    EXPECT_THAT(b.reason, HasSubstr("NIC " + nic + " (NUMA node " + std::to_string(node) + ")"));
  }
  EXPECT_EQ(pl::decide(two_socket(), automatic({"mlx5_0"})).cpus, "0-7,16-23");
  EXPECT_EQ(pl::decide(two_socket(), automatic({"mlx5_1"})).cpus, "8-15,24-31");
  EXPECT_EQ(pl::decide(two_socket(), automatic({"ens2f0np0"})).cpus, "8-15,24-31");
}

TEST(Auto, GpuNodeWinsWhenNicAndGpuDiffer) {
  SKIP_WITHOUT_HWLOC();
  const pl::Binding b = pl::decide(split(), automatic({"mlx5_0"}, {"0000:86:00.0"}));
  EXPECT_EQ(b.numa_nodes, std::vector<int>{1});
  EXPECT_EQ(b.cpus, "8-15,24-31");
  EXPECT_EQ(b.device, "0000:86:00.0");
  EXPECT_EQ(b.device_numa_node, 1);
  EXPECT_EQ(b.distance, pl::Distance::same_numa_node);
  EXPECT_THAT(b.reason, HasSubstr("the NIC mlx5_0 is on NUMA node 0 and the GPU 0000:86:00.0 on "
                                  "NUMA node 1: placed on the GPU's node"));
  // On the DGX-like server: NIC of socket 0 (node 3), GPU of socket 1 (node 5).
  const pl::Binding d = pl::decide(dgx(), automatic({"mlx5_0"}, {"0000:b7:00.0"}));
  EXPECT_EQ(d.numa_nodes, std::vector<int>{5});
  EXPECT_THAT(d.reason, HasSubstr("placed on the GPU's node"));
}

TEST(Auto, GpuAndNicOnOneNodeNeedNoNote) {
  SKIP_WITHOUT_HWLOC();
  const pl::Binding b = pl::decide(dgx(), automatic({"mlx5_0"}, {"0000:07:00.0"}));
  EXPECT_EQ(b.numa_nodes, std::vector<int>{3});
  EXPECT_EQ(b.device, "0000:07:00.0");
  EXPECT_THAT(b.reason, testing::Not(HasSubstr("placed on the GPU's node")));
}

TEST(Auto, GpuByNvmlBusIdOrOsDeviceName) {
  SKIP_WITHOUT_HWLOC();
  EXPECT_EQ(pl::decide(dgx(), automatic({}, {"00000000:B7:00.0"})).numa_nodes, std::vector<int>{5});
  const pl::Binding b = pl::decide(dgx(), automatic({}, {"cuda4"}));
  EXPECT_EQ(b.numa_nodes, std::vector<int>{7});
  EXPECT_EQ(b.device, "cuda4");
}

TEST(Auto, LocalRanksOnOneNodeSplitItsCores) {
  SKIP_WITHOUT_HWLOC();
  const auto cpus = [](int rank, int count) {
    return pl::decide(two_socket(), automatic({"mlx5_0"}, {}, rank, count)).cpus;
  };
  EXPECT_EQ(cpus(0, 2), "0-3,16-19");
  EXPECT_EQ(cpus(1, 2), "4-7,20-23");
  // 8 cores among 3 ranks: 3, 3, 2 (the first ranks get the extra core).
  EXPECT_EQ(cpus(0, 3), "0-2,16-18");
  EXPECT_EQ(cpus(1, 3), "3-5,19-21");
  EXPECT_EQ(cpus(2, 3), "6-7,22-23");
  const pl::Binding b = pl::decide(two_socket(), automatic({"mlx5_0"}, {}, 1, 2));
  EXPECT_EQ(b.numa_nodes, std::vector<int>{0});
  EXPECT_THAT(b.reason,
              HasSubstr("4 of the node's 8 cores, split evenly among the 2 local ranks on it"));
  // More ranks than cores: one core each, round-robin.
  const pl::Binding many = pl::decide(two_socket(), automatic({"mlx5_0"}, {}, 9, 10));
  EXPECT_EQ(many.cpus, "1,17");
  EXPECT_THAT(many.reason, HasSubstr("10 local ranks share the node's 8 cores"));
}

TEST(Auto, RanksOnDifferentNicsSplitOnlyTheirOwnNode) {
  SKIP_WITHOUT_HWLOC();
  // Local rank i uses nics[i % 2]: ranks 0 and 2 on node 0, ranks 1 and 3 on node 1.
  const auto cpus = [](int rank) {
    return pl::decide(two_socket(), automatic({"mlx5_0", "mlx5_1"}, {}, rank, 4)).cpus;
  };
  EXPECT_EQ(cpus(0), "0-3,16-19");
  EXPECT_EQ(cpus(1), "8-11,24-27");
  EXPECT_EQ(cpus(2), "4-7,20-23");
  EXPECT_EQ(cpus(3), "12-15,28-31");
}

TEST(Auto, NoDeviceLeavesTheRankUnbound) {
  SKIP_WITHOUT_HWLOC();
  const pl::Binding b = pl::decide(dgx(), automatic({}));
  EXPECT_FALSE(b.bind);
  EXPECT_TRUE(b.cpus.empty());
  EXPECT_EQ(b.distance, pl::Distance::unknown);
  EXPECT_THAT(b.reason, HasSubstr("auto: no device to place near"));
}

TEST(Devices, UnknownNicNamesItAndWhatExists) {
  SKIP_WITHOUT_HWLOC();
  const std::string why = error_of([] { pl::decide(dgx(), automatic({"mlx5_5"})); });
  EXPECT_THAT(why, HasSubstr("no NIC 'mlx5_5' on this host"));
  EXPECT_THAT(why, HasSubstr("RDMA devices: mlx5_12, mlx5_2, mlx5_3, mlx5_4, mlx5_0"));
  EXPECT_THAT(why, HasSubstr("network interfaces: eno1, ibp75s0"));
  EXPECT_THAT(why, HasSubstr("GPUs: 0000:47:00.0, 0000:4e:00.0, 0000:07:00.0"));
}

TEST(Devices, UnknownGpuNamesIt) {
  SKIP_WITHOUT_HWLOC();
  const std::string why =
      error_of([] { pl::decide(two_socket(), automatic({"mlx5_0"}, {"0000:99:00.0"})); });
  EXPECT_THAT(why, HasSubstr("no GPU '0000:99:00.0' on this host"));
  EXPECT_THAT(why, HasSubstr("GPUs: 0000:17:00.0, 0000:b1:00.0"));
  // A name that is no bus id and no GPU OS device.
  EXPECT_THAT(error_of([] { pl::decide(two_socket(), automatic({}, {"mlx5_0"})); }),
              HasSubstr("no GPU 'mlx5_0'"));
  // Even in mode none, where the device only measures the distance.
  pl::Request none;
  none.nics = {"eth9"};
  EXPECT_THAT(error_of([&] { pl::decide(two_socket(), none); }), HasSubstr("no NIC 'eth9'"));
}

TEST(Explicit, CpusAndNodesPerLocalRank) {
  SKIP_WITHOUT_HWLOC();
  pl::Request r;
  r.mode = pl::Mode::explicit_cpus;
  r.explicit_entries = {"0-3,16-19", "numa:1"};
  r.local_count = 2;
  r.nics = {"mlx5_0"};
  const pl::Binding b0 = pl::decide(two_socket(), r);
  EXPECT_TRUE(b0.bind);
  EXPECT_EQ(b0.cpus, "0-3,16-19");
  EXPECT_EQ(b0.numa_nodes, std::vector<int>{0});
  EXPECT_EQ(b0.distance, pl::Distance::same_numa_node);
  r.local_rank = 1;
  const pl::Binding b1 = pl::decide(two_socket(), r);
  EXPECT_EQ(b1.cpus, "8-15,24-31");
  EXPECT_EQ(b1.numa_nodes, std::vector<int>{1});
  EXPECT_EQ(b1.distance, pl::Distance::other_socket);
  EXPECT_TRUE(b1.remote());
  EXPECT_THAT(b1.reason, HasSubstr("explicit: placement.local_ranks[1] 'numa:1': CPUs 8-15,24-31, "
                                   "memory on NUMA node 1 (the whole node)"));
  EXPECT_THAT(b1.reason, HasSubstr("NIC mlx5_0 (NUMA node 0): other socket"));
  // CPUs of two nodes: memory on both.
  r.explicit_entries = {"7-8", "0"};
  r.local_rank = 0;
  EXPECT_EQ(pl::decide(two_socket(), r).numa_nodes, (std::vector<int>{0, 1}));
  EXPECT_EQ(pl::decide(two_socket(), r).distance, pl::Distance::spans_sockets);
}

TEST(Explicit, RejectsEntriesTheMachineLacks) {
  SKIP_WITHOUT_HWLOC();
  pl::Request r;
  r.mode = pl::Mode::explicit_cpus;
  r.local_count = 2;
  r.explicit_entries = {"0-3", "28-40"};
  r.explicit_labels = {"", "placement.local_ranks[1] (run.yaml:4:23)"};
  // Rank 0's own entry is fine, but every rank reports the first bad entry of the list.
  EXPECT_EQ(error_of([&] { pl::decide(two_socket(), r); }),
            "placement.local_ranks[1] (run.yaml:4:23): '28-40': this machine has no CPU 32-40 (it "
            "has 0-31)");
  r.explicit_entries = {"numa:2", "0"};
  EXPECT_EQ(error_of([&] { pl::decide(two_socket(), r); }),
            "placement.local_ranks[0]: 'numa:2': this machine has no NUMA node 2 (it has 0-1)");
  r.explicit_entries = {"0", "cores 1-2"};
  EXPECT_THAT(error_of([&] { pl::decide(two_socket(), r); }),
              HasSubstr("'cores 1-2': expected CPUs such as 0-7,16-23 or a NUMA node"));
}

TEST(Explicit, ListShorterThanTheLocalRanks) {
  SKIP_WITHOUT_HWLOC();
  pl::Request r;
  r.mode = pl::Mode::explicit_cpus;
  r.local_count = 3;
  r.explicit_entries = {"0", "1"};
  EXPECT_EQ(error_of([&] { pl::decide(two_socket(), r); }),
            "placement.local_ranks has 2 entries but 3 ranks run on this host: give one entry "
            "per local rank (local ranks 0-2)");
}

TEST(None, ReportsWhereTheRankRunsAndTheDistance) {
  SKIP_WITHOUT_HWLOC();
  pl::Request r;
  r.nics = {"mlx5_0"};
  const auto at = [&](const std::string& cpus) {
    r.running_on = cpus;
    return pl::decide(two_socket(), r);
  };
  const pl::Binding far = at("8-15");
  EXPECT_FALSE(far.bind);
  EXPECT_EQ(far.mode, pl::Mode::none);
  EXPECT_EQ(far.cpus, "8-15");
  EXPECT_EQ(far.numa_nodes, std::vector<int>{1});
  EXPECT_EQ(far.device_numa_node, 0);
  EXPECT_EQ(far.distance, pl::Distance::other_socket);
  EXPECT_TRUE(far.remote());
  EXPECT_THAT(far.reason, HasSubstr("none: left to the launcher; runs on CPUs 8-15 (NUMA node 1)"));
  EXPECT_THAT(far.reason, HasSubstr("NIC mlx5_0 (NUMA node 0): other socket"));
  EXPECT_EQ(at("0-3").distance, pl::Distance::same_numa_node);
  EXPECT_EQ(at("0-15").distance, pl::Distance::spans_sockets);
  EXPECT_EQ(at("").cpus, "0-31");  // unbound: every CPU
  // DGX-like: node 1 and the NIC's node 3 are both on socket 0.
  pl::Request d;
  d.nics = {"mlx5_0"};
  d.running_on = dgx().numa_node_cpus(1);
  EXPECT_EQ(pl::decide(dgx(), d).distance, pl::Distance::same_socket);
  d.nics.clear();
  const pl::Binding no_device = pl::decide(dgx(), d);
  EXPECT_EQ(no_device.distance, pl::Distance::unknown);
  EXPECT_THAT(no_device.reason, HasSubstr("no device given"));
}

TEST(Binding, JsonRecord) {
  SKIP_WITHOUT_HWLOC();
  const auto j = pl::decide(split(), automatic({"mlx5_0"}, {"0000:86:00.0"})).to_json();
  EXPECT_EQ(j.at("mode"), "auto");
  EXPECT_EQ(j.at("cpus"), "8-15,24-31");
  EXPECT_EQ(j.at("numa_nodes"), nlohmann::json::array({1}));
  EXPECT_EQ(j.at("device"), "0000:86:00.0");
  EXPECT_EQ(j.at("device_numa_node"), 1);
  EXPECT_EQ(j.at("distance"), "same_numa_node");
  EXPECT_TRUE(j.at("reason").is_string());
  const auto none = pl::decide(split(), pl::Request{}).to_json();
  EXPECT_TRUE(none.at("device").is_null());
  EXPECT_TRUE(none.at("device_numa_node").is_null());
  EXPECT_EQ(none.at("distance"), "unknown");
}

// --- this machine, bound for real in a child process --------------------------------------

namespace {

// Runs `fn` in a forked child and returns what it wrote to the pipe (or "child failed").
std::string in_child(const std::function<std::string()>& fn) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    try {
      out = fn();
    } catch (const std::exception& e) {
      out = std::string("error: ") + e.what();
    }
    const ssize_t n = ::write(fds[1], out.data(), out.size());
    ::_exit(n == static_cast<ssize_t>(out.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) got.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? got : "child failed: " + got;
}

// The calling thread's memory policy: "bind <nodes>", "default" or "other".
std::string mempolicy() {
  int mode = -1;
  unsigned long mask[16] = {};
  if (::syscall(SYS_get_mempolicy, &mode, mask, sizeof mask * 8, nullptr, 0) != 0) {
    return "get_mempolicy failed";
  }
  if (mode == MPOL_DEFAULT) return "default";
  if (mode != MPOL_BIND) return "other " + std::to_string(mode);
  std::string nodes;
  for (unsigned n = 0; n < sizeof mask * 8; ++n) {
    if ((mask[n / 64] >> (n % 64)) & 1UL) nodes += (nodes.empty() ? "" : ",") + std::to_string(n);
  }
  return "bind " + nodes;
}

}  // namespace

TEST(ThisMachine, ExplicitCpuZeroReallyBinds) {
  SKIP_WITHOUT_HWLOC();
  const std::string got = in_child([] {
    const pl::Topology t = pl::Topology::load_system();
    pl::Request r;
    r.mode = pl::Mode::explicit_cpus;
    r.explicit_entries = {"0"};
    pl::Binding b = pl::decide(t, r);
    pl::apply(t, b);
    return pl::current_cpus() + " " + mempolicy() + " | " + b.reason;
  });
  EXPECT_THAT(got, testing::StartsWith("0 bind 0 | explicit: placement.local_ranks[0] '0': CPUs 0"))
      << got;
}

TEST(ThisMachine, AutoBindsToTheNicsNode) {
  SKIP_WITHOUT_HWLOC();
  const pl::Topology t = pl::Topology::load_system();
  std::string nic;
  int node = -1;
  for (const auto& [name, n] : t.nics()) {
    if (n) {
      nic = name;
      node = *n;
      break;
    }
  }
  if (nic.empty()) GTEST_SKIP() << "hwloc sees no NIC with a NUMA node on this machine";
  const std::string node_cpus = t.numa_node_cpus(node);
  const std::string got = in_child([&] {
    // Start from one CPU, so that binding to the whole node is a change.
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    if (::sched_setaffinity(0, sizeof one, &one) != 0) return std::string("sched_setaffinity");
    const pl::Topology mine = pl::Topology::load_system();
    pl::Binding b = pl::decide(mine, automatic({nic}));
    pl::apply(mine, b);
    return b.cpus + " " + pl::current_cpus() + " " + mempolicy();
  });
  EXPECT_EQ(got, node_cpus + " " + node_cpus + " bind " + std::to_string(node)) << nic;
}

TEST(ThisMachine, NoneReportsTheCurrentAffinity) {
  SKIP_WITHOUT_HWLOC();
  const pl::Topology t = pl::Topology::load_system();
  EXPECT_TRUE(t.is_this_system());
  pl::Request r;
  r.running_on = pl::current_cpus();
  const pl::Binding b = pl::decide(t, r);
  EXPECT_EQ(b.cpus, r.running_on);
  EXPECT_FALSE(b.numa_nodes.empty());
}

TEST(ThisMachine, ApplyRefusesAnXmlTopology) {
  SKIP_WITHOUT_HWLOC();
  pl::Binding b = pl::decide(two_socket(), automatic({"mlx5_0"}));
  EXPECT_THAT(error_of([&] { pl::apply(two_socket(), b); }),
              HasSubstr("the topology is not this machine's"));
}
