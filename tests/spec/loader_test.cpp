// Bad experiment files: every diagnostic names file, line, column, field and a useful message.
#include <gtest/gtest.h>

#include <algorithm>

#include <string>
#include <vector>

#include "core/error.hpp"
#include "harness/spec/loader.hpp"
#include "tests/spec/spec_test_util.hpp"

namespace fabricbench::spec {
namespace {

using testing::catalog;

using testing::diagnostics_of;
using testing::dump;
using testing::has_diagnostic;

// A valid file: one pingpong group at line 4.
const std::string kValid =
    "fabricbench: 1\n"
    "name: t\n"
    "cases:\n"
    "  - suite: pingpong\n"
    "    sizes: 8\n"
    "    iterations: 100\n";

TEST(SpecErrors, ValidBaseLoads) {
  const Experiment e = load_experiment_text(kValid, "t.yaml", catalog());
  ASSERT_EQ(e.cases.size(), 1U);
  EXPECT_EQ(e.cases[0].id, "cases[0].pingpong.tcp.8B");
}

TEST(SpecErrors, UnknownKeySuggestsClosest) {
  const auto ds = diagnostics_of(kValid + "    repetitons: 3\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 5, "cases[0].repetitons",
                             "unknown key 'repetitons'; did you mean 'repetitions'?"));
}

TEST(SpecErrors, UnknownTcpKeySuggestsClosest) {
  const auto ds = diagnostics_of(kValid + "    tcp: {nodelai: true}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 11, "cases[0].tcp.nodelai",
                             "unknown key 'nodelai' in tcp; did you mean 'nodelay'?"));
}

TEST(SpecErrors, UnknownKeyWithoutCloseMatchHasNoSuggestion) {
  const auto ds = diagnostics_of(kValid + "    zzzzzz: 1\n");
  ASSERT_EQ(ds.size(), 1U);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 5, "cases[0].zzzzzz", "unknown key 'zzzzzz'"));
  EXPECT_EQ(ds[0].message.find("did you mean"), std::string::npos);
}

TEST(SpecErrors, CaseKeyAtTopLevelPointsToDefaults) {
  const auto ds = diagnostics_of(kValid + "repetitions: 3\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 1, "repetitions",
                             "'repetitions' is a case key: put it under 'defaults'"));
}

TEST(SpecErrors, WrongType) {
  auto ds = diagnostics_of(kValid + "    repetitions: {a: 1}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 18, "cases[0].repetitions",
                             "expected an integer, got a mapping"));
  ds = diagnostics_of(
      "fabricbench: 1\nname: t\nranks: [2, 3]\ncases:\n  - suite: pingpong\n    sizes: 8\n"
      "    iterations: 100\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 8, "ranks", "expected an integer, got a sequence"));
  ds = diagnostics_of(kValid + "    verify: maybe\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 13, "cases[0].verify",
                             "expected true or false, got 'maybe'"));
  ds = diagnostics_of(kValid + "    repetitions: 2.5\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 18, "cases[0].repetitions",
                             "expected an integer, got '2.5'"));
}

TEST(SpecErrors, OutOfRangeNamesTheRange) {
  auto ds = diagnostics_of(kValid + "    repetitions: 5000\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 18, "cases[0].repetitions",
                             "must be between 1 and 1000, got 5000"));
  ds = diagnostics_of(
      "fabricbench: 1\nname: t\nranks: 2000\ncases:\n  - suite: pingpong\n"
      "    sizes: 8\n    iterations: 100\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 8, "ranks", "must be between 2 and 1024, got 2000"));
  ds = diagnostics_of(kValid + "    tcp: {sndbuf: 2GiB}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 19, "cases[0].tcp.sndbuf",
                             "must be between 0B and 1GiB, got 2GiB"));
  ds = diagnostics_of(kValid + "    repetitions: -3\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 18, "cases[0].repetitions",
                             "must be between 1 and 1000, got -3"));
}

TEST(SpecErrors, BadSizeUnit) {
  const std::string head = "fabricbench: 1\nname: t\ncases:\n  - suite: pingpong\n";
  auto ds = diagnostics_of(head + "    sizes: 4Kb\n    iterations: 100\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 5, 12, "cases[0].sizes", "unknown size unit 'Kb'"));
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 5, 12, "cases[0].sizes", "means bits"));
  ds = diagnostics_of(head + "    sizes: [8, 4XB]\n    iterations: 100\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 5, 16, "cases[0].sizes[1]", "unknown size unit 'XB'"));
  ds = diagnostics_of(head + "    sizes: 8..4MiB x0\n    iterations: 100\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 5, 12, "cases[0].sizes", "factor must be at least 2"));
  ds = diagnostics_of(head + "    sizes: 0\n    iterations: 100\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 5, 12, "cases[0].sizes", "between 1B and 1GiB"));
}

TEST(SpecErrors, BadDuration) {
  const std::string head = "fabricbench: 1\nname: t\ncases:\n  - suite: pingpong\n    sizes: 8\n";
  auto ds = diagnostics_of(head + "    duration: 10\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 6, 15, "cases[0].duration", "needs a unit"));
  ds = diagnostics_of(head + "    duration: 2 fortnights\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 6, 15, "cases[0].duration", "unknown duration unit"));
  ds = diagnostics_of(
      "fabricbench: 1\nname: t\ntimeouts: {peer: 500ms}\ncases:\n"
      "  - suite: pingpong\n    sizes: 8\n    iterations: 100\n");
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 3, 18, "timeouts.peer", "must be between 1s and 1h, got 500ms"));
}

TEST(SpecErrors, BadEnumListsValidValues) {
  auto ds = diagnostics_of(kValid + "    completion: blocing\n");
  EXPECT_TRUE(has_diagnostic(
      ds, "t.yaml", 7, 17, "cases[0].completion",
      "unknown value 'blocing'; valid values: busy_poll, blocking (did you mean 'blocking'?)"));
  ds = diagnostics_of(kValid + "launcher: pbs\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 11, "launcher",
                             "unknown value 'pbs'; valid values: auto, local, mpi, slurm, env"));
  ds = diagnostics_of(kValid + "    completion: [busy_poll, spin]\n");
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 7, 29, "cases[0].completion[1]", "unknown value 'spin'"));
}

TEST(SpecErrors, MissingRequiredPointsAtTheMapping) {
  auto ds = diagnostics_of("fabricbench: 1\nname: t\ncases:\n  - sizes: 8\n    iterations: 100\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 5, "cases[0]", "missing required key 'suite'"));
  ds = diagnostics_of(
      "fabricbench: 1\ncases:\n  - suite: pingpong\n    sizes: 8\n"
      "    iterations: 100\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 1, 1, "", "missing required key 'name'"));
  ds = diagnostics_of("fabricbench: 1\nname: t\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 1, 1, "", "missing required key 'cases'"));
  ds = diagnostics_of(
      "fabricbench: 1\nname: t\ncases:\n  - suite: pingpong\n"
      "    iterations: 100\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 5, "cases[0]", "missing required key 'sizes'"));
}

TEST(SpecErrors, IterationsAndDurationExactlyOne) {
  auto ds = diagnostics_of(kValid + "    duration: 1s\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 15, "cases[0].duration",
                             "set either 'iterations' or 'duration', not both"));
  ds = diagnostics_of("fabricbench: 1\nname: t\ncases:\n  - suite: pingpong\n    sizes: 8\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 5, "cases[0]", "missing 'iterations' or 'duration'"));
}

TEST(SpecErrors, WarmupMustMatchTheMode) {
  auto ds = diagnostics_of(
      "fabricbench: 1\nname: t\ncases:\n  - suite: stream\n    sizes: 8\n    duration: 1s\n"
      "    warmup: 1000\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 13, "cases[0].warmup",
                             "runs in duration mode (it sets 'duration'), so warmup must be a "
                             "duration such as 200ms, got 1000"));
  ds = diagnostics_of(
      "fabricbench: 1\nname: t\ndefaults:\n  warmup: 200ms\ncases:\n"
      "  - name: lat\n    suite: pingpong\n    sizes: 8\n    iterations: 100\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 11, "defaults.warmup",
                             "group 'lat' runs in iterations mode"));
}

TEST(SpecErrors, YamlSyntaxError) {
  auto ds = diagnostics_of("fabricbench: 1\nname: t\ncases: [1\nranks: 2\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 6, "", "YAML syntax error: end of sequence flow"));
  ds = diagnostics_of("fabricbench: 1\nname: t\n\tranks: 2\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 1, "", "YAML syntax error: illegal tab"));
}

TEST(SpecErrors, WrongSchemaVersionStopsValidation) {
  auto ds = diagnostics_of("fabricbench: 2\nname: t\nbogus: 1\ncases: []\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 1, 14, "fabricbench",
                             "unsupported schema version 2; this fabricbench reads version 1"));
  ds = diagnostics_of("name: t\ncases:\n  - suite: pingpong\n    sizes: 8\n    iterations: 1\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 1, 1, "", "missing required key 'fabricbench'"));
  ds = diagnostics_of("fabricbench: one\nname: t\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 1, 14, "fabricbench", "expected an integer"));
}

TEST(SpecErrors, DuplicateGroupName) {
  const auto ds = diagnostics_of(
      "fabricbench: 1\nname: t\ncases:\n"
      "  - name: lat\n    suite: pingpong\n    sizes: 8\n    iterations: 100\n"
      "  - name: lat\n    suite: pingpong\n    sizes: 64\n    iterations: 100\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 11, "cases[1].name",
                             "duplicate group name 'lat' (first used at line 4)"));
}

TEST(SpecErrors, InvalidGroupName) {
  const auto ds = diagnostics_of(
      "fabricbench: 1\nname: t\ncases:\n"
      "  - name: lat.one\n    suite: pingpong\n    sizes: 8\n    iterations: 100\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 11, "cases[0].name", "not a valid group name"));
}

TEST(SpecErrors, DuplicateYamlKey) {
  const auto ds = diagnostics_of(kValid + "name: u\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 7, 1, "name", "duplicate key 'name' (first given at line 2)"));
}

TEST(SpecErrors, StreamOnlyKeyOnPingpong) {
  auto ds = diagnostics_of(kValid + "    window: 8\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 13, "cases[0].window",
                             "'window' applies only to suite stream; this group's suite is "
                             "pingpong"));
  ds = diagnostics_of(kValid + "    direction: bidir\n");
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 7, 16, "cases[0].direction", "applies only to suite stream"));
}

TEST(SpecErrors, BadSetPath) {
  auto ds = diagnostics_of(kValid, {"cases[5].sizes=8"});
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "--set", 0, 0, "cases[5].sizes",
                             "cases[5] does not exist: 'cases' has 1 entry"));
  EXPECT_TRUE(
      has_diagnostic(ds, "--set", 0, 0, "cases[5].sizes", "(from --set 'cases[5].sizes=8')"));
  ds = diagnostics_of(kValid, {"cases[0.sizes=8"});
  EXPECT_TRUE(has_diagnostic(ds, "--set", 0, 0, "cases[0.sizes", "bad key path"));
  ds = diagnostics_of(kValid, {"ranks"});
  EXPECT_TRUE(has_diagnostic(ds, "--set", 0, 0, "", "expected key.path=value"));
  ds = diagnostics_of(kValid, {"name.x=1"});
  EXPECT_TRUE(has_diagnostic(ds, "--set", 0, 0, "name.x",
                             "cannot set 'x' inside 'name': it is 't', not a mapping"));
  ds = diagnostics_of(kValid, {"=3"});
  EXPECT_TRUE(has_diagnostic(ds, "--set", 0, 0, "", "the key path is empty"));
}

TEST(SpecErrors, BadSetValue) {
  auto ds = diagnostics_of(kValid, {"ranks=abc"});
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "--set", 0, 0, "ranks",
                             "expected an integer, got 'abc' (from --set 'ranks=abc')"));
  ds = diagnostics_of(kValid, {"ranks=[2"});
  EXPECT_TRUE(has_diagnostic(ds, "--set", 0, 0, "ranks", "the value is not valid YAML"));
  ds = diagnostics_of(kValid, {"cases[0].completion=[busy_poll,blockng]"});
  EXPECT_TRUE(
      has_diagnostic(ds, "--set", 0, 0, "cases[0].completion[1]", "did you mean 'blocking'?"));
}

TEST(SpecErrors, SetCreatingAnUnknownKeyIsCaughtByValidation) {
  const auto ds = diagnostics_of(kValid, {"defaults.repetitons=3"});
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "--set", 0, 0, "defaults.repetitons",
                             "unknown key 'repetitons' in defaults; did you mean 'repetitions'?"));
}

TEST(SpecErrors, MultipleErrorsReportedTogetherInFileOrder) {
  const auto ds = diagnostics_of(
      "fabricbench: 1\n"
      "name: t\n"
      "ranks: 1\n"
      "cases:\n"
      "  - suite: pingpng\n"
      "    sizes: 4Kb\n"
      "    iterations: 100\n"
      "    tcp: {nodelai: true}\n",
      {"launcher=pbs"});
  ASSERT_EQ(ds.size(), 5U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 8, "ranks", "between 2 and 1024"));
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 5, 12, "cases[0].suite", "did you mean 'pingpong'?"));
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 6, 12, "cases[0].sizes", "unknown size unit"));
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 11, "cases[0].tcp.nodelai", "did you mean"));
  EXPECT_TRUE(has_diagnostic(ds, "--set", 0, 0, "launcher", "unknown value 'pbs'"));
  EXPECT_EQ(ds[0].line, 3);
  EXPECT_EQ(ds[1].line, 5);
  EXPECT_EQ(ds[2].line, 6);
  EXPECT_EQ(ds[3].line, 8);
  EXPECT_EQ(ds[4].file, "--set");
}

TEST(SpecErrors, DefaultsErrorReportedOnceForManyGroups) {
  const auto ds = diagnostics_of(
      "fabricbench: 1\nname: t\ndefaults:\n  repetitions: 0\ncases:\n"
      "  - suite: pingpong\n    sizes: 8\n    iterations: 100\n"
      "  - suite: stream\n    sizes: 8\n    duration: 1s\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 16, "defaults.repetitions", "between 1 and 1000"));
}

TEST(SpecErrors, NameCannotBeADefault) {
  const auto ds = diagnostics_of(
      "fabricbench: 1\nname: t\ndefaults:\n  name: x\ncases:\n"
      "  - suite: pingpong\n    sizes: 8\n    iterations: 100\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 3, "defaults.name", "cannot be set in defaults"));
}

TEST(SpecErrors, DuplicateListValue) {
  const auto ds = diagnostics_of(kValid + "    completion: [blocking, blocking]\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 28, "cases[0].completion[1]",
                             "'blocking' is already in the list"));
  const auto sizes = diagnostics_of(
      "fabricbench: 1\nname: t\ncases:\n  - suite: pingpong\n    sizes: [8..64 x2, 16]\n"
      "    iterations: 100\n");
  EXPECT_TRUE(has_diagnostic(sizes, "t.yaml", 5, 23, "cases[0].sizes[1]",
                             "size '16B' is already in the list"));
}

TEST(SpecErrors, BadTcpAddressAndFamily) {
  auto ds = diagnostics_of(kValid + "    tcp: {address: localhost}\n");
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 7, 20, "cases[0].tcp.address", "host names are not resolved"));
  ds = diagnostics_of(kValid + "    tcp: {address: '::1', family: ipv4}\n");
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 7, 20, "cases[0].tcp.address", "is not an IPv4 address"));
  // auto is resolved where the ranks run, whatever the family.
  EXPECT_NO_THROW(load_experiment_text(kValid + "    tcp: {address: auto, family: ipv6}\n",
                                       "t.yaml", catalog()));
}

TEST(SpecErrors, PatternAllPairsNeedsAClosedPointToPointCase) {
  auto ds = diagnostics_of(kValid + "    pattern: all_pairs\n    regime: {kind: floor}\n");
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 7, 14, "cases[0].pattern",
                     "pattern all_pairs needs a point-to-point suite in the closed regime"));
  ds = diagnostics_of(kValid + "    pattern: every_pair\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 14, "cases[0].pattern", "unknown value"));
  ds = diagnostics_of(kValid + "    pattern: all_pairs\n    map: {bandwidth_fraction: 0.9}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 31, "cases[0].map.bandwidth_fraction",
                             "expected a percentage"));
  ds = diagnostics_of(kValid + "    pattern: all_pairs\n    map: {latency_factor: 1}\n");
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 8, 27, "cases[0].map.latency_factor", "must be greater than 1"));
  EXPECT_NO_THROW(load_experiment_text(
      kValid + "    pattern: all_pairs\n    map: {node_fraction: 60%}\n", "t.yaml", catalog()));
}

TEST(SpecErrors, SharedStreamBuffersNeedNoVerifyAndTheClosedLoop) {
  const std::string stream =
      "fabricbench: 1\nname: t\ncases:\n  - suite: stream\n    sizes: 64KiB\n"
      "    duration: 1s\n";
  auto ds = diagnostics_of(stream + "    buffers: shared\n    verify: true\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 14, "cases[0].buffers",
                             "verify checks every message's own bytes, which messages sharing "
                             "one buffer overwrite: it needs buffers distinct, not shared"))
      << dump(ds);
  ds = diagnostics_of(stream + "    buffers: shared\n    regime: {kind: floor}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 14, "cases[0].buffers",
                             "regime floor lays out its own buffer slots"))
      << dump(ds);
  ds = diagnostics_of(stream + "    buffers: one\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 14, "cases[0].buffers",
                             "unknown value 'one'; valid values: distinct, shared"))
      << dump(ds);
  EXPECT_NO_THROW(
      load_experiment_text(stream + "    buffers: [distinct, shared]\n", "t.yaml", catalog()));
}

TEST(SpecErrors, PatternsIncastAndShiftNeedAClosedStreamCase) {
  auto ds = diagnostics_of(kValid + "    pattern: incast\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 14, "cases[0].pattern",
                             "pattern incast needs a point-to-point bandwidth suite in the closed "
                             "regime without a fault: suite pingpong does not measure bandwidth"));
  const std::string stream =
      "fabricbench: 1\nname: t\ncases:\n  - suite: stream\n    sizes: 64KiB\n"
      "    duration: 1s\n";
  ds = diagnostics_of(stream + "    pattern: shift\n    regime: {kind: floor}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 14, "cases[0].pattern",
                             "this case's regime is floor (a flow pattern runs closed-loop "
                             "steps)"));
  ds = diagnostics_of(stream + "    pattern: shift\n    direction: bidir\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 16, "cases[0].direction",
                             "pattern shift measures directed flows"));
  ds = diagnostics_of(stream + "    pattern: incast\n    suite: copy\n");
  EXPECT_FALSE(ds.empty());
  ds = diagnostics_of(stream + "    pattern: broadcast\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 14, "cases[0].pattern", "unknown value"));
  for (const char* p : {"incast", "shift"}) {
    const auto e = load_experiment_text(stream + "    pattern: " + p + "\n", "t.yaml", catalog());
    ASSERT_EQ(e.cases.size(), 1u);
    EXPECT_EQ(e.cases[0].map.pattern, p);
    const auto plan = to_json(e.cases[0]);
    EXPECT_EQ(plan.at("pattern"), p);
    EXPECT_FALSE(plan.contains("map"));  // the all_pairs thresholds judge nothing here
  }
}

TEST(SpecErrors, StructureErrors) {
  auto ds = diagnostics_of("fabricbench: 1\nname: t\ncases: [5]\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 9, "cases[0]", "expected a mapping"));
  ds = diagnostics_of("fabricbench: 1\nname: t\ncases: []\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 8, "cases", "empty"));
  ds = diagnostics_of("- a\n- b\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 1, 1, "", "expected a mapping at the top level"));
  ds = diagnostics_of(kValid + "    tcp: 5\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 10, "cases[0].tcp", "expected a mapping"));
  ds = diagnostics_of("a: 1\n---\nb: 2\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 1, 1, "", "more than one YAML document"));
}

// A lone "," made yaml-cpp's LoadAll return empty documents without reading on, for ever, until
// the memory ran out (std::bad_alloc); found by tests/fuzz/fuzz_experiment.
// Bytes that are not UTF-8 in a value used to reach the plan's JSON, whose dump threw
// nlohmann's type_error out of the loader; found by tests/fuzz/fuzz_experiment.
TEST(SpecErrors, TextThatIsNotUtf8IsAnErrorAtItsPosition) {
  auto ds = diagnostics_of("fabricbench: 1\nname: t\ndescription: caf\xe9 x\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 17, "", "not valid UTF-8 (byte 0xe9)"));
  ds = diagnostics_of("fabricbench: 1\nname: t\ndescription: \xed\xa0\x80\n");  // a surrogate
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 14, "", "not valid UTF-8"));
  ds = diagnostics_of(kValid + "    description: caf\xc3\xa9\n");  // é is fine
  EXPECT_FALSE(std::any_of(ds.begin(), ds.end(), [](const auto& d) {
    return d.message.find("UTF-8") != std::string::npos;
  }));
}

TEST(SpecErrors, AStrayFlowIndicatorIsASyntaxErrorNotAnEndlessStream) {
  for (const char* text : {",", "fabricbench: 1\n,\n", ", ,"}) {
    const auto ds = diagnostics_of(text);
    EXPECT_TRUE(std::any_of(ds.begin(), ds.end(), [](const auto& d) {
      return d.message.find("YAML syntax error") != std::string::npos;
    })) << text;
  }
}

TEST(SpecErrors, ErrorsInMergedValuesPointAtTheAnchor) {
  const auto ds = diagnostics_of(
      "fabricbench: 1\nname: t\n"
      "x-base: &base {suite: pingpong, iterations: 0}\n"
      "cases:\n"
      "  - {<<: *base, sizes: 8}\n"
      "  - {<<: 5, sizes: 8}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 45, "cases[0].iterations", "between 1 and"));
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 6, 10, "cases[1].<<",
                             "a '<<' merge key needs a mapping or a list of mappings"));
}

TEST(SpecErrors, EmptyFile) {
  auto ds = diagnostics_of("");
  ASSERT_EQ(ds.size(), 1U);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 1, 1, "", "the experiment file is empty"));
  ds = diagnostics_of("# just a comment\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 1, 1, "", "the experiment file is empty"));
}

TEST(SpecErrors, MissingFileIsLineZero) {
  try {
    (void)load_experiment_file("/nonexistent/dir/x.yaml", catalog());
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.diagnostics().size(), 1U);
    const Diagnostic& d = e.diagnostics()[0];
    EXPECT_EQ(d.file, "/nonexistent/dir/x.yaml");
    EXPECT_EQ(d.line, 0);
    EXPECT_EQ(d.column, 0);
    EXPECT_EQ(d.to_string(),
              "/nonexistent/dir/x.yaml: cannot read the experiment file: No such file or "
              "directory");
  }
}

TEST(SpecErrors, DiagnosticFormatAndExitCode) {
  const Diagnostic d{"quick.yaml", 12, 7, "cases[1].tcp.sndbuf", "expected a size"};
  EXPECT_EQ(d.to_string(), "quick.yaml:12:7: cases[1].tcp.sndbuf: expected a size");
  try {
    (void)load_experiment_text(kValid + "    repetitions: 0\n    window: 1\n", "q.yaml", catalog());
    FAIL() << "expected a ConfigError";
  } catch (const core::Error& e) {  // catchable as the library's one error type
    EXPECT_EQ(e.kind(), core::ErrorKind::config);
    EXPECT_EQ(core::exit_code_for(e.kind()), core::ExitCode::usage);
    EXPECT_EQ(static_cast<int>(core::exit_code_for(e.kind())), 2);
    EXPECT_EQ(std::string(e.what()),
              "q.yaml:7:18: cases[0].repetitions: must be between 1 and 1000, got 0\n"
              "q.yaml:8:13: cases[0].window: 'window' applies only to suite stream; this "
              "group's suite is pingpong");
  }
}

}  // namespace
}  // namespace fabricbench::spec
