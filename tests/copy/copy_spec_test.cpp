// The copy suite in experiment files: its cases have no transport (a transport the group writes
// is refused at its place; one in defaults does not apply), a list of copies sweeps, and its
// keys' values and cross-field rules are reported at file:line:col.
#include <gtest/gtest.h>

#include <string>

#include "tests/spec/spec_test_util.hpp"

namespace {

namespace fb = fabricbench;
using fb::spec::load_experiment_text;
using fb::spec::testing::catalog;
using fb::spec::testing::diagnostics_of;
using fb::spec::testing::dump;
using fb::spec::testing::has_diagnostic;

// One copy group at line 4; further keys go at line 7 and on.
const std::string kCopy =
    "fabricbench: 1\n"
    "name: t\n"
    "cases:\n"
    "  - suite: copy\n"
    "    sizes: [1MiB, 64MiB]\n"
    "    iterations: 16\n";

TEST(CopySpec, SweepsWithoutTransport) {
  const auto e = load_experiment_text(kCopy + "    copy: [h2d, d2h]\n", "t.yaml", catalog());
  ASSERT_EQ(e.cases.size(), 4U);
  for (const auto& c : e.cases) {
    EXPECT_EQ(c.transport, "none") << c.id;
    EXPECT_TRUE(c.transport_settings.entries().empty()) << c.id;
  }
  EXPECT_EQ(e.cases[0].id, "cases[0].copy.none.1MiB.copy=h2d");
  EXPECT_EQ(e.cases[0].suite_settings.text("copy"), "h2d");
  EXPECT_EQ(e.cases[0].suite_settings.text("host_memory"), "pinned");
  EXPECT_EQ(e.cases[0].suite_settings.text("host_numa"), "local");
}

TEST(CopySpec, RefusesATransportTheGroupWrites) {
  const auto ds = diagnostics_of(kCopy + "    transport: tcp\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 16, "cases[0].transport",
                             "suite copy runs on each rank alone, without a transport"));
}

TEST(CopySpec, ATransportInDefaultsDoesNotApply) {
  const std::string text =
      "fabricbench: 1\n"
      "name: t\n"
      "defaults: {transport: tcp, tcp: {nodelay: true}, sizes: 4KiB}\n"
      "cases:\n"
      "  - suite: copy\n"
      "    iterations: 4\n"
      "  - suite: stream\n"
      "    iterations: 4\n";
  const auto e = load_experiment_text(text, "t.yaml", catalog());
  ASSERT_EQ(e.cases.size(), 2U);
  EXPECT_EQ(e.cases[0].transport, "none");
  EXPECT_EQ(e.cases[1].transport, "tcp");
}

TEST(CopySpec, BadValuesAtTheirPlace) {
  const auto ds = diagnostics_of(kCopy + "    copy: h2x\n    host_numa: far\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 11, "cases[0].copy", "h2x")) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 16, "cases[0].host_numa", "far")) << dump(ds);
}

TEST(CopySpec, KernelCopiesNeedPinnedMemory) {
  const auto ds = diagnostics_of(kCopy + "    method: kernel\n    host_memory: pageable\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 13, "cases[0].method", "pageable memory has none"));
}

TEST(CopySpec, BidirNeedsPinnedMemory) {
  const auto ds = diagnostics_of(kCopy + "    host_memory: pageable\n    copy: bidir\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 18, "cases[0].host_memory",
                             "pageable copies are synchronous"));
}

TEST(CopySpec, CountsCopiesNotDuration) {
  const std::string text =
      "fabricbench: 1\n"
      "name: t\n"
      "cases:\n"
      "  - suite: copy\n"
      "    sizes: 1MiB\n"
      "    duration: 1s\n";
  const auto ds = diagnostics_of(text);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 6, 15, "cases[0].duration", "write iterations"))
      << dump(ds);
}

}  // namespace
