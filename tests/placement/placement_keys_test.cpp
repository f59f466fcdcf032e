// The top-level `placement:` key (harness/spec/placement_keys.cpp): its forms, the plan it
// leaves, and errors at file:line:col naming the field.
#include <gtest/gtest.h>

#include <string>

#include "harness/spec/loader.hpp"
#include "tests/spec/spec_test_util.hpp"

namespace fabricbench::spec {
namespace {

using testing::catalog;
using testing::diagnostics_of;
using testing::dump;
using testing::has_diagnostic;

// A valid file; a placement written after it starts at line 7.
const std::string kValid =
    "fabricbench: 1\n"
    "name: t\n"
    "cases:\n"
    "  - suite: pingpong\n"
    "    sizes: 8\n"
    "    iterations: 100\n";

Experiment load(const std::string& text, const std::vector<std::string>& sets = {}) {
  return load_experiment_text(text, "t.yaml", catalog(), sets);
}

TEST(Key, DefaultIsNoneAndLeavesThePlanAsItWas) {
  const Experiment e = load(kValid);
  EXPECT_EQ(e.placement.mode, "none");
  EXPECT_FALSE(e.resolved.contains("placement"));
  // Writing the default changes neither the plan nor its digest.
  const Experiment none = load(kValid + "placement: none\n");
  EXPECT_EQ(none.digest, e.digest);
}

TEST(Key, ScalarAndMappingForms) {
  const Experiment a = load(kValid + "placement: auto\n");
  EXPECT_EQ(a.placement.mode, "auto");
  EXPECT_TRUE(a.placement.devices.empty());
  EXPECT_EQ(a.resolved.at("placement").at("mode"), "auto");
  EXPECT_NE(a.digest, load(kValid).digest);

  const Experiment m = load(kValid +
                            "placement: {mode: auto, device: [mlx5_0, mlx5_1], "
                            "gpu: \"0000:07:00.0\"}\n");
  EXPECT_EQ(m.placement.devices, (std::vector<std::string>{"mlx5_0", "mlx5_1"}));
  EXPECT_EQ(m.placement.gpus, std::vector<std::string>{"0000:07:00.0"});

  const Experiment x = load(kValid +
                            "placement:\n"
                            "  mode: explicit\n"
                            "  local_ranks: [\"0-7,16-23\", \"numa:1\"]\n");
  EXPECT_EQ(x.placement.local_ranks, (std::vector<std::string>{"0-7,16-23", "numa:1"}));
  ASSERT_EQ(x.placement.local_rank_origins.size(), 2U);
  EXPECT_EQ(x.placement.local_rank_origins[1], "t.yaml:9:30: placement.local_ranks[1]");
  EXPECT_EQ(x.resolved.at("placement").at("local_ranks"),
            nlohmann::json::array({"0-7,16-23", "numa:1"}));
}

TEST(Key, SetOverrides) {
  EXPECT_EQ(load(kValid, {"placement=auto"}).placement.mode, "auto");
  EXPECT_EQ(load(kValid + "placement: {mode: none, device: eth0}\n", {"placement.mode=auto"})
                .placement.mode,
            "auto");
}

TEST(Key, BadModeNamesFileLineAndField) {
  auto ds = diagnostics_of(kValid + "placement: autp\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 12, "placement",
                             "unknown value 'autp'; valid values: none, auto, explicit"))
      << dump(ds);
  ds = diagnostics_of(kValid + "placement: {mode: bind}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 19, "placement.mode", "unknown value 'bind'"));
  // The collective suite's case key of the same name, written at the top level.
  ds = diagnostics_of(kValid + "placement: in_place\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 12, "placement",
                             "'in_place' is a value of the case key 'placement': put it under "
                             "'defaults' or in a case group"))
      << dump(ds);
  ds = diagnostics_of(kValid + "placement: [auto]\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 12, "placement", "expected auto, none, explicit"));
}

TEST(Key, MappingErrors) {
  auto ds = diagnostics_of(kValid + "placement: {device: mlx5_0}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 12, "placement", "missing 'mode'")) << dump(ds);
  ds = diagnostics_of(kValid + "placement: {mode: auto, devise: mlx5_0}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 25, "placement.devise",
                             "unknown key 'devise' in placement; did you mean 'device'?"))
      << dump(ds);
  ds = diagnostics_of(kValid + "placement: {mode: auto, gpu: 0}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 30, "placement.gpu",
                             "a GPU index (0) does not say where the GPU is"))
      << dump(ds);
  ds = diagnostics_of(kValid + "placement: {mode: auto, gpu: [\"0000:07:00.0\", \"7:0\"]}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 47, "placement.gpu[1]",
                             "'7:0' is not a PCI bus id such as 0000:07:00.0"))
      << dump(ds);
  ds = diagnostics_of(kValid + "placement: {mode: auto, device: {name: x}}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 33, "placement.device",
                             "expected a NIC such as mlx5_0 or eth0, got a mapping"))
      << dump(ds);
}

TEST(Key, ExplicitEntries) {
  auto ds = diagnostics_of(kValid + "placement: explicit\n");
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 7, 12, "placement", "explicit needs one entry per local rank"))
      << dump(ds);
  ds = diagnostics_of(kValid + "placement: {mode: explicit}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 12, "placement", "mode explicit needs local_ranks"));
  ds = diagnostics_of(kValid + "placement: {mode: explicit, local_ranks: [\"0-3\", \"4-x\"]}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 50, "placement.local_ranks[1]",
                             "'4-x': expected CPUs such as 0-7,16-23 or a NUMA node such as "
                             "numa:1 ('4-x' is not a CPU number or a range such as 0-7)"))
      << dump(ds);
  ds = diagnostics_of(kValid + "placement: {mode: explicit, local_ranks: [\"numa:one\"]}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 43, "placement.local_ranks[0]",
                             "'numa:one' is not a NUMA node such as numa:1"))
      << dump(ds);
  ds = diagnostics_of(kValid + "placement: {mode: auto, local_ranks: [\"0\"]}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 25, "placement.local_ranks",
                             "local_ranks is read only with mode explicit (mode is auto)"))
      << dump(ds);
  ds = diagnostics_of(kValid + "placement: {mode: explicit, local_ranks: []}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 42, "placement.local_ranks",
                             "expected a list with one entry per local rank, such as "
                             "[\"0-7,16-23\", \"numa:1\"], got an empty list"))
      << dump(ds);
}

}  // namespace
}  // namespace fabricbench::spec
