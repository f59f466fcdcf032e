// capture() on this host: the facts every host has, placement consistency, RDMA reporting and
// environment capture with secret redaction.
#include <gtest/gtest.h>

#include <sched.h>
#include <stdlib.h>

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/envelope/envelope.hpp"

namespace {

using fabricbench::envelope::capture;
using fabricbench::envelope::Context;
using fabricbench::envelope::looks_secret;
using nlohmann::json;

// Expands "0-3,6" into {0, 1, 2, 3, 6}.
std::set<int> expand(const std::string& list) {
  std::set<int> out;
  std::size_t pos = 0;
  while (pos < list.size()) {
    auto comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    const std::string item = list.substr(pos, comma - pos);
    const auto dash = item.find('-');
    const int lo = std::stoi(item.substr(0, dash));
    const int hi = dash == std::string::npos ? lo : std::stoi(item.substr(dash + 1));
    for (int c = lo; c <= hi; ++c) out.insert(c);
    pos = comma + 1;
  }
  return out;
}

class Envelope : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ::setenv("FABRICBENCH_SECRET", "hunter2", 1);
    ::setenv("NCCL_IB_HCA", "mlx5_0:1", 1);
    ::setenv("UCX_AUTH_TOKEN", "abc", 1);
    ::setenv("NOT_A_FABRIC_VARIABLE", "x", 1);
    doc_ = new json(capture(Context{3, 8, "env"}));
  }
  static void TearDownTestSuite() {
    delete doc_;
    doc_ = nullptr;
    ::unsetenv("FABRICBENCH_SECRET");
    ::unsetenv("NCCL_IB_HCA");
    ::unsetenv("UCX_AUTH_TOKEN");
    ::unsetenv("NOT_A_FABRIC_VARIABLE");
  }
  static const json& doc() { return *doc_; }
  static json* doc_;
};
json* Envelope::doc_ = nullptr;

TEST_F(Envelope, IdentityAndKernel) {
  EXPECT_EQ(doc()["rank"], 3);
  EXPECT_EQ(doc()["size"], 8);
  EXPECT_EQ(doc()["launcher"], "env");
  ASSERT_TRUE(doc()["hostname"].is_string());
  EXPECT_FALSE(doc()["hostname"].get<std::string>().empty());
  EXPECT_GT(doc()["pid"].get<long>(), 0);
  ASSERT_TRUE(doc()["kernel"]["release"].is_string());
  EXPECT_FALSE(doc()["kernel"]["release"].get<std::string>().empty());
  EXPECT_TRUE(doc()["kernel"].contains("cmdline"));
  EXPECT_TRUE(doc()["unavailable"].is_object());
}

TEST_F(Envelope, CpuAndPlacement) {
  ASSERT_TRUE(doc()["cpu"]["cores_online"].is_number_integer());
  EXPECT_GE(doc()["cpu"]["cores_online"].get<int>(), 1);
  const json& p = doc()["placement"];
  ASSERT_TRUE(p["cpu"].is_number_integer());
  ASSERT_TRUE(p["affinity"].is_string());
  const auto allowed = expand(p["affinity"].get<std::string>());
  EXPECT_FALSE(allowed.empty());
  EXPECT_TRUE(allowed.count(p["cpu"].get<int>())) << p.dump();
  // The affinity string is the process's own mask.
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(static_cast<int>(allowed.size()), CPU_COUNT(&set));
  // cpufreq may be missing (VMs): then null with a reason, never an absent key.
  ASSERT_TRUE(doc()["cpu"].contains("governor"));
  if (doc()["cpu"]["governor"].is_null()) {
    EXPECT_TRUE(doc()["unavailable"].contains("cpu.governor"));
  }
}

TEST_F(Envelope, NumaAndMemory) {
  const json& nodes = doc()["numa"]["nodes"];
  if (nodes.is_array()) {
    ASSERT_FALSE(nodes.empty());
    EXPECT_TRUE(nodes[0]["cpus"].is_string());
  } else {
    EXPECT_TRUE(doc()["unavailable"].contains("numa.nodes"));
  }
  ASSERT_TRUE(doc()["memory"]["total_bytes"].is_number_integer());
  EXPECT_GT(doc()["memory"]["total_bytes"].get<long long>(), 0);
  if (doc()["memory"]["thp_enabled"].is_string()) {
    const auto thp = doc()["memory"]["thp_enabled"].get<std::string>();
    EXPECT_TRUE(thp == "always" || thp == "madvise" || thp == "never") << thp;
  }
  ASSERT_TRUE(doc()["sysctls"].contains("net.core.rmem_max"));
  ASSERT_TRUE(doc()["sysctls"].contains("net.ipv4.tcp_rmem"));
  for (const auto& [name, value] : doc()["sysctls"].items()) {
    if (value.is_null()) {
      EXPECT_TRUE(doc()["unavailable"].contains("sysctls." + name)) << name;
    }
  }
}

TEST_F(Envelope, LoopbackNic) {
  const json& nics = doc()["nics"];
  ASSERT_TRUE(nics.is_array());
  bool found = false;
  for (const json& n : nics) {
    if (n["name"] != "lo") continue;
    found = true;
    ASSERT_TRUE(n["mtu"].is_number_integer());
    EXPECT_GT(n["mtu"].get<int>(), 0);
    ASSERT_TRUE(n["addresses"].is_array());
    // lo has no driver link and no speed: null plus a reason.
    if (n["speed_mbps"].is_null()) {
      EXPECT_TRUE(doc()["unavailable"].contains("nics.lo.speed_mbps"));
    }
  }
  EXPECT_TRUE(found) << nics.dump();
}

TEST_F(Envelope, RdmaDevicesReportedWithReason) {
  const json& rdma = doc()["rdma_devices"];
  ASSERT_TRUE(rdma.is_object());
  ASSERT_TRUE(rdma["available"].is_boolean());
#if FABRICBENCH_ENVELOPE_WITH_VERBS
  if (!rdma["available"].get<bool>()) {
    ASSERT_TRUE(rdma["reason"].is_string());
    EXPECT_NE(rdma["reason"].get<std::string>().find("ibv_get_device_list"), std::string::npos)
        << rdma.dump();
    EXPECT_EQ(doc()["unavailable"]["rdma_devices"], rdma["reason"]);
  } else {
    ASSERT_TRUE(rdma["devices"].is_array());
    for (const json& d : rdma["devices"]) EXPECT_TRUE(d["name"].is_string());
  }
  EXPECT_TRUE(doc()["libraries"]["libibverbs"].is_string());
#else
  EXPECT_FALSE(rdma["available"].get<bool>());
  EXPECT_TRUE(doc()["libraries"]["libibverbs"].is_null());
#endif
#if FABRICBENCH_ENVELOPE_WITH_MPI
  EXPECT_TRUE(doc()["libraries"]["mpi"].is_string());
#endif
}

TEST_F(Envelope, GpusAndLibraries) {
  const json& gpus = doc()["gpus"];
  ASSERT_TRUE(gpus["available"].is_boolean());
  if (!gpus["available"].get<bool>()) {
    EXPECT_TRUE(gpus["reason"].is_string());
  }
  const json& libs = doc()["libraries"];
  for (const char* name : {"libibverbs", "librdmacm", "libfabric", "mpi", "cuda", "nccl",
                           "yaml_cpp", "nlohmann_json", "fmt", "openssl"}) {
    ASSERT_TRUE(libs.contains(name)) << name;
    if (libs[name].is_null()) {
      EXPECT_TRUE(doc()["unavailable"].contains(std::string("libraries.") + name)) << name;
    } else {
      EXPECT_TRUE(doc()["library_sources"].contains(name)) << name;
    }
  }
  EXPECT_TRUE(libs["nlohmann_json"].is_string());
  EXPECT_TRUE(libs["fmt"].is_string());
}

TEST_F(Envelope, EnvironmentCapturedAndSecretsRedacted) {
  const json& env = doc()["environment"];
  ASSERT_TRUE(env.is_object());
  EXPECT_EQ(env["NCCL_IB_HCA"], "mlx5_0:1");
  EXPECT_EQ(env["FABRICBENCH_SECRET"], "<redacted>");
  EXPECT_EQ(env["UCX_AUTH_TOKEN"], "<redacted>");
  EXPECT_FALSE(env.contains("NOT_A_FABRIC_VARIABLE"));
  EXPECT_EQ(doc().dump().find("hunter2"), std::string::npos);
}

TEST_F(Envelope, EveryNullFactHasAReason) {
  // Walk the document: each null reachable through objects names its path in "unavailable".
  const json& unavailable = doc()["unavailable"];
  for (const char* key : {"hostname", "os_release"}) {
    if (doc()[key].is_null()) {
      EXPECT_TRUE(unavailable.contains(key)) << key;
    }
  }
  for (const char* key : {"model", "cores_online", "sockets", "governor"}) {
    if (doc()["cpu"][key].is_null()) {
      EXPECT_TRUE(unavailable.contains(std::string("cpu.") + key));
    }
  }
  for (const auto& [key, value] : doc()["memory"].items()) {
    if (value.is_null()) {
      EXPECT_TRUE(unavailable.contains("memory." + key)) << key;
    }
  }
  for (const json& n : doc()["nics"]) {
    for (const auto& [key, value] : n.items()) {
      if (value.is_null()) {
        EXPECT_TRUE(unavailable.contains("nics." + n["name"].get<std::string>() + "." + key))
            << key;
      }
    }
  }
  EXPECT_NO_THROW((void)doc().dump());
}

TEST(LooksSecret, Cases) {
  EXPECT_TRUE(looks_secret("FABRICBENCH_SECRET"));
  EXPECT_TRUE(looks_secret("GITHUB_TOKEN"));
  EXPECT_TRUE(looks_secret("DB_PASSWORD"));
  EXPECT_TRUE(looks_secret("LDAP_PASSWD"));
  EXPECT_TRUE(looks_secret("AWS_SECRET_ACCESS_KEY"));
  EXPECT_TRUE(looks_secret("SSH_KEY"));
  EXPECT_TRUE(looks_secret("GOOGLE_APPLICATION_CREDENTIALS"));
  EXPECT_TRUE(looks_secret("HTTP_AUTH"));
  EXPECT_TRUE(looks_secret("api_token")) << "case-insensitive";
  EXPECT_TRUE(looks_secret("UCX_AuthToken"));
  EXPECT_FALSE(looks_secret("NCCL_IB_HCA"));
  EXPECT_FALSE(looks_secret("CUDA_VISIBLE_DEVICES"));
  EXPECT_FALSE(looks_secret("OMPI_COMM_WORLD_RANK"));
  EXPECT_FALSE(looks_secret("SLURM_JOB_ID"));
  EXPECT_FALSE(looks_secret(""));
}

}  // namespace
