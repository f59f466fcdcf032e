// `placement:` end to end: the fabricbench binary binds its ranks on this machine before the
// envelope is captured, records placement.binding per rank (the document valid against the
// schema), and stops before measuring when a device is unknown.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/placement/placement.hpp"
#include "tests/cli/process.hpp"

namespace fs = std::filesystem;
namespace pl = fabricbench::placement;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kBinary = FABRICBENCH_BINARY;
const std::string kSource = FABRICBENCH_SOURCE;

fs::path scratch(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("fb-placement-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Two local ranks, one short ping-pong case over loopback, and `placement` as given.
fs::path experiment(const fs::path& dir, const std::string& placement) {
  const fs::path p = dir / "placement.yaml";
  std::ofstream(p) << "fabricbench: 1\n"
                      "name: placement\n"
                      "ranks: 2\n"
                      "launcher: local\n"
                   << placement
                   << "cases:\n"
                      "  - suite: pingpong\n"
                      "    transport: tcp\n"
                      "    tcp: {address: 127.0.0.1}\n"
                      "    sizes: 8\n"
                      "    iterations: 50\n"
                      "    warmup: 10\n";
  return p;
}

fbtest::Result run(const fs::path& dir, const fs::path& cfg) {
  return fbtest::run_process({kBinary, "run", cfg.string(), "-o", (dir / "run").string()}, dir,
                             120s);
}

json rank_placement(const fs::path& dir, int rank) {
  std::ifstream in(dir / "run" / "run.json");
  const json doc = json::parse(in);
  return doc.at("envelope").at("ranks").at(rank).at("placement");
}

void expect_schema_valid(const fs::path& doc) {
  if (std::system("python3 -c 'import jsonschema' 2>/dev/null") != 0) return;
  const std::string cmd = "python3 " + kSource + "/ci/validate-run.py " + kSource +
                          "/results/schema/run-v1.schema.json " + doc.string() + " >/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << "schema validation failed for " << doc;
}

}  // namespace

TEST(Run, NoneRecordsWhereEachRankRuns) {
  const fs::path dir = scratch("none");
  const auto r = run(dir, experiment(dir, ""));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (int rank = 0; rank < 2; ++rank) {
    const json p = rank_placement(dir, rank);
    const json& b = p.at("binding");
    EXPECT_EQ(b.at("mode"), "none");
    EXPECT_EQ(b.at("cpus"), p.at("affinity")) << b.dump();
    EXPECT_EQ(b.at("distance"), "unknown");  // no device: loopback, no interface written
  }
  expect_schema_valid(dir / "run" / "run.json");
}

TEST(Run, AutoBindsEachRankBeforeTheEnvelope) {
  if (!pl::built_with_hwloc()) GTEST_SKIP() << "built without hwloc";
  const pl::Topology t = pl::Topology::load_system();
  std::string nic;
  for (const auto& [name, node] : t.nics()) {
    if (node) {
      nic = name;
      break;
    }
  }
  if (nic.empty()) GTEST_SKIP() << "hwloc sees no NIC with a NUMA node here";
  const fs::path dir = scratch("auto");
  const auto r = run(dir, experiment(dir, "placement: {mode: auto, device: " + nic + "}\n"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (int rank = 0; rank < 2; ++rank) {
    // What the decision gives for this local rank of two, here.
    pl::Request req;
    req.mode = pl::Mode::automatic;
    req.nics = {nic};
    req.local_rank = rank;
    req.local_count = 2;
    const pl::Binding want = pl::decide(t, req);
    const json p = rank_placement(dir, rank);
    const json& b = p.at("binding");
    EXPECT_EQ(b.at("mode"), "auto");
    EXPECT_EQ(b.at("cpus"), want.cpus) << b.dump();
    EXPECT_EQ(b.at("device"), nic);
    EXPECT_EQ(b.at("distance"), "same_numa_node");
    // The envelope's own affinity, read after the binding, is the binding.
    EXPECT_EQ(p.at("affinity"), want.cpus) << p.dump();
  }
  EXPECT_EQ(r.err.find("warning: rank"), std::string::npos) << r.err;
  expect_schema_valid(dir / "run" / "run.json");
}

TEST(Run, ExplicitCpuZeroForBothRanks) {
  if (!pl::built_with_hwloc()) GTEST_SKIP() << "built without hwloc";
  const fs::path dir = scratch("explicit");
  const auto r =
      run(dir, experiment(dir, "placement: {mode: explicit, local_ranks: [\"0\", \"0\"]}\n"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (int rank = 0; rank < 2; ++rank) {
    const json p = rank_placement(dir, rank);
    EXPECT_EQ(p.at("binding").at("cpus"), "0");
    EXPECT_EQ(p.at("affinity"), "0");
    EXPECT_EQ(p.at("cpu"), 0);
  }
}

TEST(Run, UnknownDeviceStopsBeforeMeasuring) {
  if (!pl::built_with_hwloc()) GTEST_SKIP() << "built without hwloc";
  const fs::path dir = scratch("unknown");
  const auto r = run(dir, experiment(dir, "placement: {mode: auto, device: nosuchnic9}\n"));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("placement: no NIC 'nosuchnic9' on this host"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("network interfaces:"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "run" / "run.json"));
}

TEST(Run, ExplicitEntryTheMachineLacksNamesFileAndLine) {
  if (!pl::built_with_hwloc()) GTEST_SKIP() << "built without hwloc";
  const fs::path dir = scratch("lacks");
  const auto r =
      run(dir, experiment(dir, "placement: {mode: explicit, local_ranks: [\"0\", \"60000\"]}\n"));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("placement.yaml:5:48: placement.local_ranks[1]: '60000': this machine "
                       "has no CPU 60000"),
            std::string::npos)
      << r.err;
}

TEST(Run, RankOffItsDevicesNodeIsWarnedOnePerRank) {
  if (!pl::built_with_hwloc()) GTEST_SKIP() << "built without hwloc";
  // hwloc reads its topology from HWLOC_XMLFILE: this host seen as the two-socket server, with
  // mlx5_1 on socket 1. Mode none binds nothing, and the ranks run on the CPUs they have here.
  const fs::path dir = scratch("warn");
  const std::string xml = kSource + "/tests/placement/data/two_socket_gpu_nic.xml";
  const auto r = fbtest::run_process(
      {kBinary, "run", experiment(dir, "placement: {mode: none, device: mlx5_1}\n").string(), "-o",
       (dir / "run").string()},
      dir, 120s, {"HWLOC_XMLFILE=" + xml});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (int rank = 0; rank < 2; ++rank) {
    const std::string prefix = "fabricbench: warning: rank " + std::to_string(rank) + " (";
    const auto at = r.err.find(prefix);
    ASSERT_NE(at, std::string::npos) << r.err;
    const std::string line = r.err.substr(at, r.err.find('\n', at) - at);
    EXPECT_NE(line.find("from its device mlx5_1 (NUMA node 1)"), std::string::npos) << line;
    const json b = rank_placement(dir, rank).at("binding");
    EXPECT_EQ(b.at("device_numa_node"), 1);
    EXPECT_NE(b.at("distance"), "same_numa_node");
  }
}
