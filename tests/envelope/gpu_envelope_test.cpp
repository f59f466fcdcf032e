// The envelope's GPU section without a GPU: NVML absent (a library name that does not exist),
// NVML present through a stand-in library (fake_nvml.cpp), nvmlInit_v2 failing, every null GPU
// fact with a reason, and the console's degraded-link line.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/envelope/envelope.hpp"
#include "harness/envelope/gpus.hpp"

namespace {

using fabricbench::envelope::capture_gpus;
using fabricbench::envelope::degraded_links_warning;
using nlohmann::json;

constexpr const char* kMissingLibrary = "/nonexistent/libnvidia-ml.so.1";

struct Captured {
  json gpus;
  std::map<std::string, std::string> unavailable;
};

Captured capture_with(const std::string& library) {
  Captured c;
  c.gpus = capture_gpus(
      [&](const std::string& fact, const std::string& reason) { c.unavailable[fact] = reason; },
      library);
  return c;
}

const json* device(const json& gpus, const std::string& bus_id) {
  for (const json& d : gpus["devices"]) {
    if (d["bus_id"] == bus_id) return &d;
  }
  return nullptr;
}

// Each null of the section (one or two levels into devices, nvml, rdma_nics) names its fact.
void expect_every_null_has_a_reason(const json& gpus, const json& unavailable) {
  const auto check = [&](const json& object, const std::string& prefix) {
    for (const auto& [key, value] : object.items()) {
      if (value.is_null()) {
        EXPECT_TRUE(unavailable.contains(prefix + key)) << prefix + key;
      }
      if (!value.is_object()) continue;
      for (const auto& [inner, v] : value.items()) {
        if (v.is_null()) {
          EXPECT_TRUE(unavailable.contains(prefix + key + "." + inner))
              << prefix + key + "." + inner;
        }
      }
    }
  };
  check(gpus, "gpus.");
  for (const json& d : gpus["devices"]) check(d, "gpus." + d["bus_id"].get<std::string>() + ".");
  for (const json& n : gpus["rdma_nics"]) {
    check(n, "gpus.rdma_nics." + n["name"].get<std::string>() + ".");
  }
}

TEST(GpuEnvelope, NvmlAbsent) {
  const Captured c = capture_with(kMissingLibrary);
  const json& nvml = c.gpus["nvml"];
  ASSERT_TRUE(nvml.is_object()) << c.gpus.dump();
  EXPECT_EQ(nvml["available"], false);
  EXPECT_EQ(nvml["library"], kMissingLibrary);
  const std::string reason = nvml["reason"].get<std::string>();
  EXPECT_EQ(reason.rfind("NVML not available: ", 0), 0U) << reason;
  EXPECT_NE(reason.find("cannot open shared object file"), std::string::npos) << reason;
  for (const char* key : {"driver_version", "cuda_driver_version", "device_count"}) {
    EXPECT_TRUE(nvml[key].is_null()) << key;
    EXPECT_EQ(c.unavailable.at(std::string("gpus.nvml.") + key), reason) << key;
  }
  ASSERT_TRUE(c.gpus["available"].is_boolean());
  ASSERT_TRUE(c.gpus["devices"].is_array());
  ASSERT_TRUE(c.gpus["rdma_nics"].is_array());
  // GPUs the kernel driver lists still appear, with every NVML field null for NVML's reason.
  for (const json& d : c.gpus["devices"]) {
    const std::string bus = d["bus_id"].get<std::string>();
    for (const char* key : {"product_name", "uuid", "pcie", "bar1_total_bytes", "ecc_mode",
                            "clocks_mhz", "power_limit_mw", "persistence_mode", "pcie_degraded"}) {
      EXPECT_TRUE(d[key].is_null()) << key;
      EXPECT_TRUE(c.unavailable.count("gpus." + bus + "." + key)) << key;
    }
    EXPECT_EQ(c.unavailable.at("gpus." + bus + ".uuid"), reason);
  }
  if (!c.gpus["available"].get<bool>()) {
    EXPECT_TRUE(c.gpus["devices"].empty());
    EXPECT_TRUE(c.gpus["reason"].is_string());
  }
  expect_every_null_has_a_reason(c.gpus, json(c.unavailable));
}

TEST(GpuEnvelope, NvmlAbsentThroughTheEnvironment) {
  ::setenv("FABRICBENCH_NVML_LIBRARY", kMissingLibrary, 1);
  const json doc = fabricbench::envelope::capture({0, 1, "local"});
  ::unsetenv("FABRICBENCH_NVML_LIBRARY");
  const json& gpus = doc["gpus"];
  EXPECT_EQ(gpus["nvml"]["library"], kMissingLibrary) << gpus.dump();
  EXPECT_EQ(gpus["nvml"]["available"], false);
  EXPECT_EQ(doc["unavailable"]["gpus.nvml"], gpus["nvml"]["reason"]);
  EXPECT_TRUE(gpus.contains("driver_version"));
  expect_every_null_has_a_reason(gpus, doc["unavailable"]);
  EXPECT_NO_THROW((void)doc.dump());
}

TEST(GpuEnvelope, NvmlInitFails) {
  ::setenv("FAKE_NVML_INIT_FAIL", "1", 1);
  const Captured c = capture_with(FAKE_NVML_PATH);
  ::unsetenv("FAKE_NVML_INIT_FAIL");
  EXPECT_EQ(c.gpus["nvml"]["available"], false);
  EXPECT_EQ(c.gpus["nvml"]["reason"], "NVML not available: nvmlInit_v2: Driver Not Loaded");
  EXPECT_EQ(device(c.gpus, "0000:3b:00.0"), nullptr) << "no device from a failed NVML";
}

class FakeNvml : public ::testing::Test {
 protected:
  void SetUp() override { c_ = capture_with(FAKE_NVML_PATH); }
  Captured c_;
};

TEST_F(FakeNvml, SystemFacts) {
  const json& nvml = c_.gpus["nvml"];
  EXPECT_EQ(nvml["available"], true) << nvml.dump();
  EXPECT_EQ(nvml["driver_version"], "550.54.15");
  EXPECT_EQ(nvml["cuda_driver_version"], "12.4");
  EXPECT_EQ(nvml["device_count"], 2);
  EXPECT_EQ(c_.gpus["available"], true);
}

TEST_F(FakeNvml, DeviceFacts) {
  const json* a = device(c_.gpus, "0000:3b:00.0");
  ASSERT_NE(a, nullptr) << c_.gpus.dump(2);
  EXPECT_EQ((*a)["product_name"], "Fake GPU A");
  EXPECT_EQ((*a)["uuid"], "GPU-00000000-aaaa");
  EXPECT_EQ((*a)["pci_bus_id"], "00000000:3B:00.0");
  EXPECT_EQ((*a)["pcie"], (json{{"generation", 4},
                                {"width", 8},
                                {"max_generation", 4},
                                {"max_width", 16},
                                {"gpu_max_generation", 5}}));
  EXPECT_EQ((*a)["bar1_total_bytes"], 256ULL << 20);
  EXPECT_EQ((*a)["mig_mode"], (json{{"current", "disabled"}, {"pending", "enabled"}}));
  EXPECT_EQ((*a)["ecc_mode"], (json{{"current", "enabled"}, {"pending", "enabled"}}));
  EXPECT_EQ((*a)["ecc_errors"], (json{{"volatile_corrected", 1},
                                      {"aggregate_corrected", 2},
                                      {"volatile_uncorrected", 11},
                                      {"aggregate_uncorrected", 12}}));
  EXPECT_EQ((*a)["clocks_mhz"],
            (json{{"sm", 1410}, {"memory", 1215}, {"sm_max", 1980}, {"memory_max", 2619}}));
  EXPECT_EQ((*a)["power_limit_mw"], 700000);
  EXPECT_EQ((*a)["persistence_mode"], "enabled");
  // Not exported by the stand-in library: null with the reason.
  EXPECT_TRUE((*a)["enforced_power_limit_mw"].is_null());
  EXPECT_NE(c_.unavailable.at("gpus.0000:3b:00.0.enforced_power_limit_mw")
                .find("nvmlDeviceGetEnforcedPowerLimit is not exported by"),
            std::string::npos);
  // The PCIe path and NUMA node come from sysfs: a string, or null with a reason.
  for (const char* key : {"pcie_path", "numa_node"}) {
    if ((*a)[key].is_null()) {
      EXPECT_TRUE(c_.unavailable.count(std::string("gpus.0000:3b:00.0.") + key));
    }
  }
}

TEST_F(FakeNvml, RefusedFiguresAreNullWithNvmlsReason) {
  const json* b = device(c_.gpus, "0000:5e:00.0");
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE((*b)["ecc_mode"].is_null());
  EXPECT_EQ(c_.unavailable.at("gpus.0000:5e:00.0.ecc_mode"), "nvmlDeviceGetEccMode: Not Supported");
  EXPECT_TRUE((*b)["mig_mode"].is_null());
  EXPECT_EQ(c_.unavailable.at("gpus.0000:5e:00.0.ecc_errors.volatile_uncorrected"),
            "nvmlDeviceGetTotalEccErrors: Not Supported");
  EXPECT_TRUE((*b)["ecc_errors"]["aggregate_corrected"].is_null());
  expect_every_null_has_a_reason(c_.gpus, json(c_.unavailable));
}

TEST_F(FakeNvml, DegradedLinksFlagged) {
  const json* a = device(c_.gpus, "0000:3b:00.0");
  const json* b = device(c_.gpus, "0000:5e:00.0");
  ASSERT_TRUE(a != nullptr && b != nullptr);
  EXPECT_EQ((*a)["pcie_degraded"], true);
  EXPECT_NE((*a)["pcie_degraded_reason"].get<std::string>().find("link at gen4 x8 of gen4 x16"),
            std::string::npos);
  EXPECT_EQ((*b)["pcie_degraded"], true);
  EXPECT_NE((*b)["pcie_degraded_reason"].get<std::string>().find("when idle"), std::string::npos);
}

TEST_F(FakeNvml, ConsoleWarningNamesEachGpuOnce) {
  const json ranks = json::array(
      {{{"hostname", "h1"}, {"gpus", c_.gpus}}, {{"hostname", "h1"}, {"gpus", c_.gpus}}});
  const auto line = degraded_links_warning(json{{"ranks", ranks}});
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line,
            "warning: GPU PCIe link below its maximum: h1 0000:3b:00.0 link at gen4 x8 of gen4 "
            "x16; h1 0000:5e:00.0 link at gen1 x16 of gen5 x16 (GPUs lower the generation when "
            "idle, so check under load)");
}

TEST(DegradedLinksWarning, NoneWhenFullOrUnknown) {
  const json full = {
      {"bus_id", "0000:01:00.0"},
      {"pcie", {{"generation", 5}, {"width", 16}, {"max_generation", 5}, {"max_width", 16}}}};
  const json unknown = {{"bus_id", "0000:02:00.0"}, {"pcie", nullptr}};
  const json ranks = json::array({{{"hostname", nullptr}, {"gpus", {{"devices", {full, unknown}}}}},
                                  {{"gpus", nullptr}},
                                  "not an object"});
  EXPECT_FALSE(degraded_links_warning(json{{"ranks", ranks}}));
  EXPECT_FALSE(degraded_links_warning(json()));
  EXPECT_FALSE(degraded_links_warning(json{{"ranks", "not an array"}}));
}

}  // namespace
