// Matrix expansion, defaults, --set overrides, the resolved plan and its digest, and the
// shipped configs.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "harness/spec/loader.hpp"
#include "tests/spec/spec_test_util.hpp"

namespace fabricbench::spec {
namespace {

using testing::catalog;

using Varied = std::vector<std::pair<std::string, std::string>>;

std::vector<std::string> ids(const Experiment& e) {
  std::vector<std::string> out;
  for (const auto& c : e.cases) out.push_back(c.id);
  return out;
}

Experiment load(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return load_experiment_text(text, "t.yaml", catalog(), overrides);
}

TEST(SpecMatrix, ListsMultiplyInFileOrderWithSizesInnermost) {
  const Experiment e = load(
      "fabricbench: 1\nname: m\ncases:\n"
      "  - name: g\n"
      "    suite: pingpong\n"
      "    completion: [busy_poll, blocking]\n"
      "    sizes: [8, 64]\n"
      "    memory: [host, hugepage]\n"
      "    iterations: 100\n");
  EXPECT_EQ(ids(e), (std::vector<std::string>{
                        "g.pingpong.tcp.8B.completion=busy_poll.memory=host",
                        "g.pingpong.tcp.64B.completion=busy_poll.memory=host",
                        "g.pingpong.tcp.8B.completion=busy_poll.memory=hugepage",
                        "g.pingpong.tcp.64B.completion=busy_poll.memory=hugepage",
                        "g.pingpong.tcp.8B.completion=blocking.memory=host",
                        "g.pingpong.tcp.64B.completion=blocking.memory=host",
                        "g.pingpong.tcp.8B.completion=blocking.memory=hugepage",
                        "g.pingpong.tcp.64B.completion=blocking.memory=hugepage",
                    }));
  const Case& c = e.cases[6];
  EXPECT_EQ(c.group, "g");
  EXPECT_EQ(c.completion, "blocking");
  EXPECT_EQ(c.memory, "hugepage");
  EXPECT_EQ(c.message_size, 8U);
  EXPECT_EQ(c.varied,
            (Varied{{"completion", "blocking"}, {"message_size", "8B"}, {"memory", "hugepage"}}));
}

TEST(SpecMatrix, SweepIsVariedPlainSizeIsNot) {
  const Experiment e = load(
      "fabricbench: 1\nname: m\ncases:\n"
      "  - {name: sweep, suite: pingpong, sizes: 8..64KiB x8, iterations: 10}\n"
      "  - {name: one, suite: pingpong, sizes: 4KiB, iterations: 10}\n");
  EXPECT_EQ(ids(e),
            (std::vector<std::string>{"sweep.pingpong.tcp.8B", "sweep.pingpong.tcp.64B",
                                      "sweep.pingpong.tcp.512B", "sweep.pingpong.tcp.4KiB",
                                      "sweep.pingpong.tcp.32KiB", "one.pingpong.tcp.4KiB"}));
  EXPECT_EQ(e.cases[3].message_size, 4096U);
  EXPECT_EQ(e.cases[3].varied, (Varied{{"message_size", "4KiB"}}));
  EXPECT_TRUE(e.cases[5].varied.empty());
}

TEST(SpecMatrix, SizeListMixesSizesAndSweeps) {
  const Experiment e = load(
      "fabricbench: 1\nname: m\ncases:\n"
      "  - {name: g, suite: pingpong, sizes: [1, 1KiB..4KiB +1KiB, 1MB], iterations: 10}\n");
  std::vector<std::uint64_t> sizes;
  for (const auto& c : e.cases) sizes.push_back(c.message_size);
  EXPECT_EQ(sizes, (std::vector<std::uint64_t>{1, 1024, 2048, 3072, 4096, 1'000'000}));
  EXPECT_EQ(e.cases.back().id, "g.pingpong.tcp.1000000B");
}

TEST(SpecMatrix, KeysThatDoNotApplyToASuiteDoNotMultiplyIt) {
  const Experiment e = load(
      "fabricbench: 1\nname: m\ncases:\n"
      "  - name: g\n"
      "    suite: [pingpong, stream]\n"
      "    window: [16, 64]\n"
      "    sizes: 8\n"
      "    duration: 1s\n");
  EXPECT_EQ(ids(e), (std::vector<std::string>{"g.pingpong.tcp.8B", "g.stream.tcp.8B.window=16",
                                              "g.stream.tcp.8B.window=64"}));
  EXPECT_EQ(e.cases[0].varied, (Varied{{"suite", "pingpong"}}));
  EXPECT_EQ(e.cases[2].varied, (Varied{{"suite", "stream"}, {"window", "64"}}));
  EXPECT_EQ(e.cases[2].suite_settings.integer("window"), 64);
  EXPECT_EQ(e.cases[0].suite_settings.integer("window"), 64);  // the default; not used by pingpong
}

TEST(SpecMatrix, TcpSubKeysMultiply) {
  const Experiment e = load(
      "fabricbench: 1\nname: m\ncases:\n"
      "  - name: g\n    suite: pingpong\n    sizes: 8\n    iterations: 10\n"
      "    tcp: {nodelay: [true, false], connections: 2}\n");
  EXPECT_EQ(ids(e), (std::vector<std::string>{"g.pingpong.tcp.8B.tcp.nodelay=true",
                                              "g.pingpong.tcp.8B.tcp.nodelay=false"}));
  EXPECT_TRUE(e.cases[0].transport_settings.flag("nodelay"));
  EXPECT_FALSE(e.cases[1].transport_settings.flag("nodelay"));
  EXPECT_EQ(e.cases[1].transport_settings.integer("connections"), 2);
}

TEST(SpecMatrix, DurationValuesUseCanonicalForms) {
  const Experiment e = load(
      "fabricbench: 1\nname: m\ncases:\n"
      "  - name: g\n    suite: stream\n    sizes: 64KiB\n    duration: [500ms, 1.5s]\n"
      "    warmup: 100ms\n");
  EXPECT_EQ(ids(e), (std::vector<std::string>{"g.stream.tcp.64KiB.duration=500ms",
                                              "g.stream.tcp.64KiB.duration=1.5s"}));
  EXPECT_EQ(e.cases[1].duration_ns, 1'500'000'000U);
  EXPECT_EQ(e.cases[1].warmup_ns, 100'000'000U);
  EXPECT_EQ(e.cases[1].mode, Mode::duration);
}

TEST(SpecMatrix, DefaultGroupNameAndUniqueIds) {
  const Experiment e = load(
      "fabricbench: 1\nname: m\ncases:\n"
      "  - {suite: pingpong, sizes: 8, iterations: 10}\n"
      "  - {suite: pingpong, sizes: 8, iterations: 10, completion: blocking}\n");
  EXPECT_EQ(ids(e),
            (std::vector<std::string>{"cases[0].pingpong.tcp.8B", "cases[1].pingpong.tcp.8B"}));
  EXPECT_EQ(e.cases[1].group, "cases[1]");
  EXPECT_EQ(e.cases[1].completion, "blocking");
}

TEST(SpecMatrix, AnchorsAndMergeKeysReuseSettings) {
  const Experiment e = load(
      "fabricbench: 1\nname: m\n"
      "x-common: &common {suite: pingpong, iterations: 10, completion: [busy_poll, blocking]}\n"
      "cases:\n"
      "  - {<<: *common, name: a, sizes: 8}\n"
      "  - {name: b, <<: *common, sizes: 16, completion: blocking}\n");
  EXPECT_EQ(ids(e), (std::vector<std::string>{"a.pingpong.tcp.8B.completion=busy_poll",
                                              "a.pingpong.tcp.8B.completion=blocking",
                                              "b.pingpong.tcp.16B"}));
  EXPECT_EQ(e.cases[2].completion, "blocking");  // the mapping's own key wins over the merge
  EXPECT_EQ(e.cases[2].iterations, 10U);
}

TEST(SpecDefaults, UnsetKeysTakeDocumentedDefaults) {
  const Experiment e =
      load("fabricbench: 1\nname: m\ncases:\n  - {suite: pingpong, sizes: 8, iterations: 10}\n");
  EXPECT_EQ(e.name, "m");
  EXPECT_EQ(e.ranks, 2);
  EXPECT_EQ(e.launcher, "auto");
  EXPECT_EQ(e.peer_timeout_ns, 30'000'000'000U);
  const Case& c = e.cases.at(0);
  EXPECT_EQ(c.transport, "tcp");
  EXPECT_EQ(c.mode, Mode::iterations);
  EXPECT_EQ(c.iterations, 10U);
  EXPECT_EQ(c.warmup_iterations, 1U);  // a tenth of the iterations
  EXPECT_EQ(c.repetitions, 1);
  EXPECT_EQ(c.completion, "busy_poll");
  EXPECT_EQ(c.memory, "host");
  EXPECT_EQ(c.interval_ns, 100'000'000U);
  EXPECT_FALSE(c.verify);
  EXPECT_EQ(c.transport_settings.text("address"), "auto");
  EXPECT_EQ(c.transport_settings.text("family"), "auto");
  EXPECT_TRUE(c.transport_settings.flag("nodelay"));
  EXPECT_EQ(c.transport_settings.integer("sndbuf"), 0U);
  EXPECT_EQ(c.transport_settings.integer("connections"), 1);
}

TEST(SpecDefaults, AppliedToEveryGroupAndOverriddenByIt) {
  const Experiment e = load(
      "fabricbench: 1\n"
      "name: d\n"
      "ranks: 4\n"
      "launcher: local\n"
      "timeouts: {peer: 5s}\n"
      "defaults:\n"
      "  repetitions: 5\n"
      "  window: 8\n"
      "  direction: bidir\n"
      "  iterations: 1000\n"
      "  tcp: {address: 10.0.0.1, nodelay: false}\n"
      "cases:\n"
      "  - name: a\n"
      "    suite: pingpong\n"
      "    sizes: 8\n"
      "  - name: b\n"
      "    suite: stream\n"
      "    sizes: 8\n"
      "    duration: 1s\n"
      "    repetitions: 2\n"
      "    tcp: {nodelay: true, sndbuf: 4MiB}\n");
  EXPECT_EQ(e.ranks, 4);
  EXPECT_EQ(e.launcher, "local");
  EXPECT_EQ(e.peer_timeout_ns, 5'000'000'000U);
  ASSERT_EQ(e.cases.size(), 2U);
  const Case& a = e.cases[0];
  EXPECT_EQ(a.repetitions, 5);
  EXPECT_EQ(a.mode, Mode::iterations);
  EXPECT_EQ(a.iterations, 1000U);
  EXPECT_EQ(a.warmup_iterations, 100U);
  EXPECT_EQ(a.suite_settings.integer("window"),
            64);  // defaults' stream-only keys are ignored for pingpong
  EXPECT_EQ(a.suite_settings.text("direction"), "uni");  // ditto
  EXPECT_EQ(a.transport_settings.text("address"), "10.0.0.1");
  EXPECT_FALSE(a.transport_settings.flag("nodelay"));
  const Case& b = e.cases[1];
  EXPECT_EQ(b.mode, Mode::duration);  // the group's duration replaces defaults' iterations
  EXPECT_EQ(b.iterations, 0U);
  EXPECT_EQ(b.duration_ns, 1'000'000'000U);
  EXPECT_EQ(b.warmup_ns, 100'000'000U);  // a tenth of the duration
  EXPECT_EQ(b.repetitions, 2);
  EXPECT_EQ(b.suite_settings.integer("window"), 8);
  EXPECT_EQ(b.suite_settings.text("direction"), "bidir");
  EXPECT_EQ(b.transport_settings.text("address"), "10.0.0.1");  // tcp merges key by key
  EXPECT_TRUE(b.transport_settings.flag("nodelay"));
  EXPECT_EQ(b.transport_settings.integer("sndbuf"), 4U << 20);
}

TEST(SpecDefaults, ListInDefaultsMultipliesEveryGroupAndComesFirst) {
  const Experiment e = load(
      "fabricbench: 1\nname: d\n"
      "defaults: {completion: [busy_poll, blocking]}\n"
      "cases:\n"
      "  - {name: g, suite: pingpong, memory: [host, hugepage], sizes: 8, iterations: 10}\n");
  EXPECT_EQ(ids(e),
            (std::vector<std::string>{"g.pingpong.tcp.8B.completion=busy_poll.memory=host",
                                      "g.pingpong.tcp.8B.completion=busy_poll.memory=hugepage",
                                      "g.pingpong.tcp.8B.completion=blocking.memory=host",
                                      "g.pingpong.tcp.8B.completion=blocking.memory=hugepage"}));
}

TEST(SpecOverrides, AppliedBeforeValidation) {
  const std::string text =
      "fabricbench: 1\nname: o\ndefaults:\n  repetitions: 3\ncases:\n"
      "  - name: g\n    suite: pingpong\n    sizes: 8\n    iterations: 10\n";
  const std::vector<std::string> overrides = {
      "defaults.repetitions=7",
      "cases[0].completion=[busy_poll,blocking]",
      "ranks=4",
      "cases[0].tcp.sndbuf=1MiB",
      "description=from the command line",
      "cases[0].sizes=8..64 x8",
  };
  const Experiment e = load(text, overrides);
  EXPECT_EQ(e.source_text, text);
  EXPECT_EQ(e.overrides, overrides);
  EXPECT_EQ(e.ranks, 4);
  EXPECT_EQ(e.description, "from the command line");
  EXPECT_EQ(ids(e), (std::vector<std::string>{"g.pingpong.tcp.8B.completion=busy_poll",
                                              "g.pingpong.tcp.64B.completion=busy_poll",
                                              "g.pingpong.tcp.8B.completion=blocking",
                                              "g.pingpong.tcp.64B.completion=blocking"}));
  for (const auto& c : e.cases) {
    EXPECT_EQ(c.repetitions, 7);
    EXPECT_EQ(c.transport_settings.integer("sndbuf"), 1U << 20);
  }
}

TEST(SpecOverrides, ReplacingAValueKeepsItsPlaceInTheOrder) {
  const Experiment e = load(
      "fabricbench: 1\nname: o\ncases:\n"
      "  - {name: g, suite: pingpong, completion: busy_poll, memory: [host, hugepage], sizes: 8, "
      "iterations: 10}\n",
      {"cases[0].completion=[busy_poll, blocking]"});
  EXPECT_EQ(e.cases.at(1).id, "g.pingpong.tcp.8B.completion=busy_poll.memory=hugepage");
}

TEST(SpecOverrides, LaterOverrideWins) {
  const Experiment e =
      load("fabricbench: 1\nname: o\ncases:\n  - {suite: pingpong, sizes: 8, iterations: 10}\n",
           {"ranks=3", "ranks=5"});
  EXPECT_EQ(e.ranks, 5);
}

std::string sha256_hex(const std::string& s) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(s.data(), s.size(), md.data(), &len, EVP_sha256(), nullptr), 1);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

const std::string kDigestBase =
    "fabricbench: 1\nname: dg\ncases:\n"
    "  - name: g\n    suite: pingpong\n    sizes: [8, 64]\n    iterations: 100\n"
    "    repetitions: 3\n";

TEST(SpecDigest, IsTheSha256OfTheResolvedPlan) {
  const Experiment e = load(kDigestBase);
  EXPECT_EQ(e.digest.size(), 64U);
  EXPECT_EQ(e.digest, sha256_hex(e.resolved.dump()));
  EXPECT_EQ(e.resolved["fabricbench"], 1);
  EXPECT_EQ(e.resolved["name"], "dg");
  EXPECT_EQ(e.resolved["ranks"], 2);
  EXPECT_EQ(e.resolved["timeouts"]["peer_ns"], 30'000'000'000ULL);
  ASSERT_EQ(e.resolved["cases"].size(), 2U);
  const auto& c = e.resolved["cases"][1];
  EXPECT_EQ(c["id"], "g.pingpong.tcp.64B");
  EXPECT_EQ(c["message_size_bytes"], 64);
  EXPECT_EQ(c["mode"], "iterations");
  EXPECT_EQ(c["iterations"], 100);
  EXPECT_EQ(c["warmup_iterations"], 10);
  EXPECT_EQ(c["repetitions"], 3);
  EXPECT_EQ(c["tcp"]["address"], "auto");
  EXPECT_EQ(c["varied"][0]["key"], "message_size");
  for (const char* key : {"group", "suite", "transport", "duration_ns", "warmup_ns", "completion",
                          "direction", "window", "interval_ns", "memory", "verify"}) {
    EXPECT_TRUE(c.contains(key)) << key;
  }
}

TEST(SpecDigest, SameInputSameDigest) {
  EXPECT_EQ(load(kDigestBase).digest, load(kDigestBase).digest);
  // Comments, layout, key order and spelling of equal values do not change the plan.
  const Experiment reformatted = load(
      "# same plan, written differently\n"
      "name: dg\nfabricbench: 1\n"
      "cases:\n  - {iterations: 100, repetitions: 3, name: g, suite: pingpong,\n"
      "     sizes: [8B, 0.0625KiB]}\n");
  EXPECT_EQ(reformatted.digest, load(kDigestBase).digest);
  // The display path is not part of the plan.
  EXPECT_EQ(load_experiment_text(kDigestBase, "other/path.yaml", catalog()).digest,
            load(kDigestBase).digest);
}

TEST(SpecDigest, DifferentPlanDifferentDigest) {
  const std::string base = load(kDigestBase).digest;
  std::set<std::string> digests{base};
  digests.insert(load(kDigestBase, {"cases[0].repetitions=4"}).digest);
  digests.insert(load(kDigestBase, {"ranks=3"}).digest);
  digests.insert(load(kDigestBase, {"cases[0].tcp.nodelay=false"}).digest);
  digests.insert(load(kDigestBase, {"cases[0].sizes=[8, 128]"}).digest);
  digests.insert(load(kDigestBase, {"description=x"}).digest);
  EXPECT_EQ(digests.size(), 6U);
  // An override that restates the file's value leaves the plan, and its digest, alone.
  EXPECT_EQ(load(kDigestBase, {"cases[0].repetitions=3"}).digest, base);
}

TEST(SpecFile, LoadsFromDisk) {
  const auto path =
      std::filesystem::temp_directory_path() /
      fmt::format("fabricbench-spec-{}.yaml", ::testing::UnitTest::GetInstance()->random_seed());
  {
    std::ofstream out(path);
    out << kDigestBase;
  }
  const Experiment e = load_experiment_file(path.string(), catalog());
  std::filesystem::remove(path);
  EXPECT_EQ(e.source_path, path.string());
  EXPECT_EQ(e.source_text, kDigestBase);
  EXPECT_EQ(e.digest, load(kDigestBase).digest);
}

std::string source_dir() {
  const char* dir = std::getenv("FABRICBENCH_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

// Lower bound of the measured time of duration-mode cases (warm-up + measurement, all
// repetitions), in seconds.
double duration_mode_seconds(const Experiment& e) {
  double s = 0;
  for (const auto& c : e.cases) {
    if (c.mode == Mode::duration) {
      s += static_cast<double>(c.repetitions) * static_cast<double>(c.duration_ns + c.warmup_ns) /
           1e9;
    }
  }
  return s;
}

TEST(SpecConfigs, QuickstartHasTheDocumentedShape) {
  const Experiment e = load_experiment_file(source_dir() + "/configs/quickstart.yaml", catalog());
  EXPECT_EQ(e.name, "quickstart");
  EXPECT_EQ(e.ranks, 2);
  std::vector<std::string> expected = {
      "latency.pingpong.tcp.8B",
      "latency.pingpong.tcp.64B",
      "latency.pingpong.tcp.512B",
      "latency.pingpong.tcp.4KiB",
      "latency.pingpong.tcp.32KiB",
      "latency-blocking.pingpong.tcp.64B",
      "bandwidth.stream.tcp.4KiB.direction=uni",
      "bandwidth.stream.tcp.64KiB.direction=uni",
      "bandwidth.stream.tcp.1MiB.direction=uni",
      "bandwidth.stream.tcp.4KiB.direction=bidir",
      "bandwidth.stream.tcp.64KiB.direction=bidir",
      "bandwidth.stream.tcp.1MiB.direction=bidir",
      "regimes.pingpong.tcp.64B.regime.kind=floor",
      "regimes.pingpong.tcp.64B.regime.kind=realistic",
  };
  EXPECT_EQ(ids(e), expected);
  for (const auto& c : e.cases) {
    EXPECT_EQ(c.repetitions, 3) << c.id;
    EXPECT_EQ(c.transport_settings.text("address"), "auto") << c.id;
  }
  EXPECT_EQ(e.cases[0].iterations, 10000U);
  EXPECT_EQ(e.cases[0].warmup_iterations, 1000U);
  EXPECT_EQ(e.cases[0].completion, "busy_poll");
  EXPECT_EQ(e.cases[5].completion, "blocking");
  EXPECT_EQ(e.cases[5].iterations, 5000U);
  EXPECT_EQ(e.cases[6].duration_ns, 1'000'000'000U);
  EXPECT_EQ(e.cases[6].warmup_ns, 200'000'000U);
  EXPECT_EQ(e.cases[6].suite_settings.integer("window"), 64);
  EXPECT_LT(duration_mode_seconds(e), 30.0);
}

TEST(SpecConfigs, CiSmokeIsTiny) {
  const Experiment e = load_experiment_file(source_dir() + "/configs/ci-smoke.yaml", catalog());
  EXPECT_EQ(e.name, "ci-smoke");
  EXPECT_GE(e.cases.size(), 3U);
  std::set<std::string> suites;
  for (const auto& c : e.cases) {
    suites.insert(c.suite);
    if (c.mode == Mode::iterations) {
      EXPECT_LE(c.iterations * c.repetitions, 5000U) << c.id;
    }
  }
  EXPECT_EQ(suites, (std::set<std::string>{"pingpong", "stream"}));
  EXPECT_LT(duration_mode_seconds(e), 5.0);
}

}  // namespace
}  // namespace fabricbench::spec
