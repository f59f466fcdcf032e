// Experiment keys for the verbs transport and the `op` key.
#include <gtest/gtest.h>

#include "harness/spec/loader.hpp"
#include "tests/spec/spec_test_util.hpp"

namespace fabricbench::spec {
namespace {

using testing::catalog;

using testing::diagnostics_of;
using testing::dump;
using testing::has_diagnostic;

const std::string kVerbs =
    "fabricbench: 1\n"
    "name: v\n"
    "cases:\n"
    "  - suite: pingpong\n"
    "    transport: verbs\n"
    "    sizes: 8\n"
    "    iterations: 10\n";

TEST(SpecVerbs, SettingsResolve) {
  const Experiment e = load_experiment_text(
      kVerbs +
          "    op: [send, write, read]\n"
          "    verbs: {device: rxe0, gid_index: 1, mtu: 1024, qps: 2, inline: 64, "
          "rdma_cm: true}\n",
      "t.yaml", catalog());
  ASSERT_EQ(e.cases.size(), 3U);
  EXPECT_EQ(e.cases[0].op, "send");
  EXPECT_EQ(e.cases[2].op, "read");
  EXPECT_EQ(e.cases[1].id, "cases[0].pingpong.verbs.8B.op=write");
  const auto& v = e.cases[0].transport_settings;
  EXPECT_EQ(v.text("device"), "rxe0");
  EXPECT_EQ(v.integer("gid_index"), 1);
  EXPECT_EQ(v.integer("mtu"), 1024);
  EXPECT_EQ(v.integer("qps"), 2);
  EXPECT_EQ(e.cases[0].connections, 2);
  EXPECT_EQ(v.integer("inline"), 64);
  EXPECT_TRUE(v.flag("rdma_cm"));
  // Defaults where not given.
  EXPECT_EQ(v.integer("port"), 0);
  EXPECT_EQ(v.text("qp_type"), "rc");
  const auto& r = e.resolved["cases"][0];
  EXPECT_EQ(r["verbs"]["mtu_bytes"], 1024);
  EXPECT_FALSE(r.contains("tcp"));
}

TEST(SpecVerbs, DefaultsAreAutomatic) {
  const Experiment e = load_experiment_text(kVerbs, "t.yaml", catalog());
  ASSERT_EQ(e.cases.size(), 1U);
  EXPECT_EQ(e.cases[0].transport_settings.text("device"), "");
  EXPECT_EQ(e.cases[0].transport_settings.integer("gid_index"), -1);
  EXPECT_EQ(e.cases[0].transport_settings.integer("mtu"), 0);
  EXPECT_EQ(e.cases[0].op, "send");
}

TEST(SpecVerbs, VerbsKeysOnTcpAreErrors) {
  const std::string text =
      "fabricbench: 1\nname: v\ncases:\n  - suite: pingpong\n    transport: tcp\n"
      "    sizes: 8\n    iterations: 10\n    verbs: {device: rxe0}\n";
  const auto ds = diagnostics_of(text);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 21, "cases[0].verbs.device",
                             "applies only to transport verbs"))
      << dump(ds);
}

// verbs.devices is one value written as a list; a list of lists is a matrix of them.
TEST(SpecVerbs, DevicesListIsOneValue) {
  Experiment e = load_experiment_text(kVerbs + "    verbs: {devices: [mlx5_0, mlx5_1]}\n", "t.yaml",
                                      catalog());
  ASSERT_EQ(e.cases.size(), 1U);
  EXPECT_EQ(e.cases[0].transport_settings.text("devices"), "mlx5_0,mlx5_1");
  EXPECT_EQ(e.resolved["cases"][0]["verbs"]["devices"], "mlx5_0,mlx5_1");
  e = load_experiment_text(kVerbs + "    verbs: {devices: [[mlx5_0, mlx5_1], [mlx5_0]]}\n",
                           "t.yaml", catalog());
  ASSERT_EQ(e.cases.size(), 2U);
  EXPECT_EQ(e.cases[0].transport_settings.text("devices"), "mlx5_0,mlx5_1");
  EXPECT_EQ(e.cases[1].transport_settings.text("devices"), "mlx5_0");
  EXPECT_NE(e.cases[0].id, e.cases[1].id);
  EXPECT_EQ(
      load_experiment_text(kVerbs, "t.yaml", catalog()).cases[0].transport_settings.text("devices"),
      "");
}

TEST(SpecVerbs, BadDevicesNameTheField) {
  auto ds = diagnostics_of(kVerbs + "    verbs: {devices: [rxe0, rxe0]}\n");
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 8, 29, "cases[0].verbs.devices[1]", "already in the list"))
      << dump(ds);
  ds = diagnostics_of(kVerbs + "    verbs: {devices: [rxe0, \"a b\"]}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 29, "cases[0].verbs.devices[1]",
                             "not a valid RDMA device name"))
      << dump(ds);
  ds = diagnostics_of(kVerbs + "    verbs: {devices: [rxe0, rxe1], device: rxe0}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 22, "cases[0].verbs.devices",
                             "leave verbs.device and verbs.netdev unset"))
      << dump(ds);
  ds = diagnostics_of(kVerbs + "    verbs: {devices: [rxe0, rxe1], qp_type: ud}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 22, "cases[0].verbs.devices", "qp_type rc"))
      << dump(ds);
  ds = diagnostics_of(kVerbs + "    verbs: {devices: {a: rxe0}}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 22, "cases[0].verbs.devices", "list of RDMA device"))
      << dump(ds);
}

TEST(SpecVerbs, BadValuesNameTheField) {
  const auto ds = diagnostics_of(kVerbs + "    verbs: {mtu: 1500, sl: 16, qp_typ: rc}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 18, "cases[0].verbs.mtu", "1024")) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 28, "cases[0].verbs.sl", "between 0 and 15"))
      << dump(ds);
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 8, 32, "cases[0].verbs.qp_typ", "did you mean 'qp_type'?"))
      << dump(ds);
}

TEST(SpecOnBreak, PolicyKeysResolve) {
  Experiment e = load_experiment_text(kVerbs, "t.yaml", catalog());
  EXPECT_EQ(e.cases[0].on_break, "fail");
  EXPECT_EQ(e.cases[0].reconnect_timeout_ns, 30'000'000'000ULL);
  EXPECT_EQ(e.resolved["cases"][0]["on_break"], "fail");
  e = load_experiment_text(kVerbs + "    on_break: reconnect\n    reconnect_timeout: 5s\n",
                           "t.yaml", catalog());
  EXPECT_EQ(e.cases[0].on_break, "reconnect");
  EXPECT_EQ(e.cases[0].reconnect_timeout_ns, 5'000'000'000ULL);
  EXPECT_EQ(e.resolved["cases"][0]["reconnect_timeout_ns"], 5'000'000'000ULL);
  const std::string tcp =
      "fabricbench: 1\nname: v\ncases:\n  - suite: stream\n    transport: tcp\n"
      "    sizes: 8\n    iterations: 10\n    tcp: {user_timeout: 1500ms}\n"
      "    on_break: [fail, reconnect]\n";
  e = load_experiment_text(tcp, "t.yaml", catalog());
  ASSERT_EQ(e.cases.size(), 2U);
  EXPECT_EQ(e.cases[0].transport_settings.integer("user_timeout"), 1'500'000'000ULL);
  EXPECT_EQ(e.resolved["cases"][0]["tcp"]["user_timeout_ns"], 1'500'000'000ULL);
  EXPECT_EQ(e.cases[1].id, "cases[0].stream.tcp.8B.on_break=reconnect");
}

TEST(SpecOnBreak, BadValuesAndVerbsWithoutRcAreErrors) {
  auto ds = diagnostics_of(kVerbs + "    on_break: retry\n    reconnect_timeout: 10ms\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 15, "cases[0].on_break",
                             "unknown value 'retry'; valid values: fail, reconnect"))
      << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 24, "cases[0].reconnect_timeout",
                             "must be between 100ms and 1h"))
      << dump(ds);
  ds = diagnostics_of(kVerbs + "    on_break: reconnect\n    verbs: {qp_type: ud}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 15, "cases[0].on_break",
                             "on_break reconnect re-establishes RC queue pairs; verbs.qp_type ud "
                             "has no connection to re-establish"))
      << dump(ds);
  ds = diagnostics_of(kVerbs + "    on_break: reconnect\n    verbs: {rdma_cm: true}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 15, "cases[0].on_break", "with verbs.rdma_cm"))
      << dump(ds);
}

TEST(SpecVerbs, UnknownOpListsChoices) {
  const auto ds = diagnostics_of(kVerbs + "    op: rdma_write\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 9, "cases[0].op", "write_imm")) << dump(ds);
}

TEST(SpecVerbs, BadDeviceName) {
  const auto ds = diagnostics_of(kVerbs + "    verbs: {device: \"mlx5 0\"}\n");
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 8, 21, "cases[0].verbs.device", "not a valid RDMA device name"))
      << dump(ds);
}

}  // namespace
}  // namespace fabricbench::spec
