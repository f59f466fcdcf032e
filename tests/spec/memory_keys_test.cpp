// The memory providers' keys (`gpu`, `numa_node`): written directly in a case group, applying
// only to the providers that declare them, recorded in the plan where they apply, and refused
// with file, line and field elsewhere.
#include <gtest/gtest.h>

#include <string>

#include "harness/spec/loader.hpp"
#include "tests/spec/spec_test_util.hpp"

namespace fabricbench::spec {
namespace {

using testing::catalog;
using testing::diagnostics_of;
using testing::has_diagnostic;

Experiment load(const std::string& text) {
  return load_experiment_text(text, "t.yaml", catalog(), {});
}

TEST(MemoryKeys, GpuAppliesToGpuMemoryAndIsRecordedInThePlan) {
  const Experiment e = load(
      "fabricbench: 1\nname: m\ncases:\n"
      "  - name: g\n"
      "    suite: stream\n"
      "    memory: [cuda_device, cuda_host, host]\n"
      "    gpu: 1\n"
      "    sizes: 64KiB\n"
      "    iterations: 10\n");
  ASSERT_EQ(e.cases.size(), 3u);
  EXPECT_EQ(e.cases[0].memory_settings.text("gpu"), "1");
  EXPECT_EQ(e.cases[1].memory_settings.text("gpu"), "1");
  EXPECT_EQ(e.cases[1].memory_settings.text("numa_node"), "auto");
  EXPECT_FALSE(e.cases[2].memory_settings.has("gpu")) << "host memory reads no gpu";
  const auto plan = to_json(e.cases[0]);
  EXPECT_EQ(plan.at("gpu"), "1");
  EXPECT_FALSE(to_json(e.cases[2]).contains("gpu"));
}

TEST(MemoryKeys, DefaultsToAutoAndSweeps) {
  const Experiment e = load(
      "fabricbench: 1\nname: m\ncases:\n"
      "  - {name: g, suite: pingpong, memory: cuda_host, numa_node: [0, 1], sizes: 8, "
      "iterations: 10}\n");
  ASSERT_EQ(e.cases.size(), 2u);
  EXPECT_EQ(e.cases[0].memory_settings.text("gpu"), "auto");
  EXPECT_EQ(e.cases[1].memory_settings.text("numa_node"), "1");
  EXPECT_EQ(e.cases[1].id, "g.pingpong.tcp.8B.numa_node=1");
}

TEST(MemoryKeys, GpuOnHostMemoryIsAnErrorAtItsLine) {
  const auto ds = diagnostics_of(
      "fabricbench: 1\nname: m\ncases:\n"
      "  - name: g\n"
      "    suite: pingpong\n"
      "    gpu: 0\n"
      "    sizes: 8\n"
      "    iterations: 10\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 6, 10, "cases[0].gpu",
                             "'gpu' applies only to memory cuda_device and cuda_host; this "
                             "group's memory is host"));
}

TEST(MemoryKeys, AnUnknownGpuNumberIsRefused) {
  const auto ds = diagnostics_of(
      "fabricbench: 1\nname: m\ncases:\n"
      "  - {name: g, suite: pingpong, memory: cuda_device, gpu: 99, sizes: 8, iterations: 1}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 58, "cases[0].gpu", "valid values: auto, 0, 1"));
}

}  // namespace
}  // namespace fabricbench::spec
