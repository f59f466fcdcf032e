// The `regime:` section (docs/CONFIG.md, "Regimes"): every key and form, matrices over kind
// and rate, mixes, defaults, --set, how the kind interacts with iterations/duration, ids, the
// resolved plan, and the diagnostics (file, line, column, field).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "harness/spec/loader.hpp"
#include "tests/spec/spec_test_util.hpp"

namespace fabricbench::spec {
namespace {

using testing::catalog;

using testing::diagnostics_of;
using testing::dump;
using testing::has_diagnostic;
using Varied = std::vector<std::pair<std::string, std::string>>;

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kS = 1'000'000'000;

// One stream group named g; the group's keys continue at line 7, indented by 4.
const std::string kHead =
    "fabricbench: 1\n"     // 1
    "name: r\n"            // 2
    "cases:\n"             // 3
    "  - name: g\n"        // 4
    "    suite: stream\n"  // 5
    "    sizes: 4KiB\n";   // 6

Experiment load(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return load_experiment_text(text, "t.yaml", catalog(), overrides);
}

std::vector<std::string> ids(const Experiment& e) {
  std::vector<std::string> out;
  for (const auto& c : e.cases) out.push_back(c.id);
  return out;
}

// --- valid files -------------------------------------------------------------------------------

TEST(SpecRegime, DefaultsAreClosedAndLeaveIdsAlone) {
  const Experiment e = load(kHead + "    duration: 1s\n");
  ASSERT_EQ(e.cases.size(), 1U);
  const Case& c = e.cases[0];
  EXPECT_EQ(c.id, "g.stream.tcp.4KiB");
  const RegimeSettings& r = c.regime;
  EXPECT_EQ(r.kind, "closed");
  EXPECT_FALSE(r.open_loop());
  EXPECT_EQ(r.arrival, "poisson");
  EXPECT_EQ(r.seed, 1U);
  EXPECT_EQ(r.rate.unit, Rate::Unit::none);
  EXPECT_EQ(r.rate.text, "");
  EXPECT_EQ(r.streams, 1);
  EXPECT_TRUE(r.mix.empty());
  EXPECT_EQ(r.mix_text, "");
  EXPECT_EQ(r.inflight, 64);
  EXPECT_EQ(r.backlog, 100'000U);
  EXPECT_EQ(r.deadline_ns, 0U);
  EXPECT_EQ(r.sample_interval_ns, 1 * kMs);
  EXPECT_EQ(r.generator, "sleep");
  EXPECT_EQ(r.search_queue_age_ns, 5 * kMs);
  EXPECT_EQ(r.search_probe_ns, 1 * kS);
  EXPECT_DOUBLE_EQ(r.search_precision, 0.03);
  EXPECT_EQ(r.search_max_probes, 12);
  EXPECT_DOUBLE_EQ(r.overload_factor, 2.0);
  EXPECT_EQ(r.overload_before_ns, 1 * kS);
  EXPECT_EQ(r.overload_during_ns, 1 * kS);
  EXPECT_EQ(r.overload_after_ns, 3 * kS);
  // Every case carries its regime in the resolved plan.
  const auto& j = e.resolved["cases"][0]["regime"];
  EXPECT_EQ(j["kind"], "closed");
  EXPECT_EQ(j["rate"]["unit"], "none");
  EXPECT_EQ(j["rate"]["text"], "");
  EXPECT_TRUE(j["mix"].empty());
  EXPECT_EQ(j["search_precision"], 0.03);
}

TEST(SpecRegime, EveryOpenLoopKeyParses) {
  const Experiment e = load(kHead +
                            "    duration: 2s\n"
                            "    regime:\n"
                            "      kind: realistic\n"
                            "      arrival: constant\n"
                            "      seed: 9223372036854775807\n"
                            "      rate: 1.5M/s\n"
                            "      streams: 4\n"
                            "      inflight: 32\n"
                            "      backlog: 5000\n"
                            "      deadline: 500us\n"
                            "      sample_interval: 100us\n"
                            "      generator: spin\n"
                            "      search_queue_age: 2ms\n"
                            "      search_probe: 250ms\n"
                            "      search_precision: 2.5%\n"
                            "      search_max_probes: 20\n");
  ASSERT_EQ(e.cases.size(), 1U);
  const Case& c = e.cases[0];
  EXPECT_EQ(c.id, "g.stream.tcp.4KiB.regime.kind=realistic");  // visible although not varied
  EXPECT_TRUE(c.varied.empty());
  EXPECT_EQ(c.mode, Mode::duration);
  EXPECT_EQ(c.duration_ns, 2 * kS);
  EXPECT_EQ(c.warmup_ns, 200 * kMs);
  const RegimeSettings& r = c.regime;
  EXPECT_TRUE(r.open_loop());
  EXPECT_EQ(r.kind, "realistic");
  EXPECT_EQ(r.arrival, "constant");
  EXPECT_EQ(r.seed, 9223372036854775807ULL);
  EXPECT_EQ(r.rate.unit, Rate::Unit::ops_per_s);
  EXPECT_DOUBLE_EQ(r.rate.value, 1.5e6);
  EXPECT_EQ(r.rate.text, "1500000/s");
  EXPECT_EQ(r.streams, 4);
  EXPECT_EQ(r.inflight, 32);
  EXPECT_EQ(r.backlog, 5000U);
  EXPECT_EQ(r.deadline_ns, 500'000U);
  EXPECT_EQ(r.sample_interval_ns, 100'000U);
  EXPECT_EQ(r.generator, "spin");
  EXPECT_EQ(r.search_queue_age_ns, 2 * kMs);
  EXPECT_EQ(r.search_probe_ns, 250 * kMs);
  EXPECT_DOUBLE_EQ(r.search_precision, 0.025);
  EXPECT_EQ(r.search_max_probes, 20);
  const auto& j = e.resolved["cases"][0]["regime"];
  EXPECT_EQ(j["kind"], "realistic");
  EXPECT_EQ(j["arrival"], "constant");
  EXPECT_EQ(j["seed"], 9223372036854775807ULL);
  EXPECT_EQ(j["rate"]["unit"], "ops_per_s");
  EXPECT_EQ(j["rate"]["value"], 1.5e6);
  EXPECT_EQ(j["rate"]["text"], "1500000/s");
  EXPECT_EQ(j["streams"], 4);
  EXPECT_EQ(j["inflight"], 32);
  EXPECT_EQ(j["backlog"], 5000);
  EXPECT_EQ(j["deadline_ns"], 500'000);
  EXPECT_EQ(j["sample_interval_ns"], 100'000);
  EXPECT_EQ(j["generator"], "spin");
  EXPECT_EQ(j["search_queue_age_ns"], 2 * kMs);
  EXPECT_EQ(j["search_probe_ns"], 250 * kMs);
  EXPECT_EQ(j["search_precision"], 0.025);
  EXPECT_EQ(j["search_max_probes"], 20);
  for (const char* key : {"overload_factor", "overload_before_ns", "overload_during_ns",
                          "overload_after_ns", "mix", "mix_text"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
}

TEST(SpecRegime, RateForms) {
  struct Form {
    const char* written;
    Rate::Unit unit;
    double value;
    const char* text;
  };
  for (const Form& f : {
           Form{"200000/s", Rate::Unit::ops_per_s, 200'000, "200000/s"},
           Form{"200k/s", Rate::Unit::ops_per_s, 200'000, "200000/s"},
           Form{"1.5M/s", Rate::Unit::ops_per_s, 1.5e6, "1500000/s"},
           Form{"5Gb/s", Rate::Unit::bits_per_s, 5e9, "5Gb/s"},
           Form{"500Mb/s", Rate::Unit::bits_per_s, 5e8, "500Mb/s"},
           Form{"100kb/s", Rate::Unit::bits_per_s, 1e5, "100kb/s"},
           Form{"800b/s", Rate::Unit::bits_per_s, 800, "800b/s"},
           Form{"70%", Rate::Unit::fraction, 0.7, "70%"},
           Form{"1%", Rate::Unit::fraction, 0.01, "1%"},
           Form{"1000%", Rate::Unit::fraction, 10, "1000%"},
       }) {
    const Experiment e =
        load(kHead + "    duration: 1s\n    regime: {kind: realistic, rate: " + f.written + "}\n");
    ASSERT_EQ(e.cases.size(), 1U) << f.written;
    const Rate& r = e.cases[0].regime.rate;
    EXPECT_EQ(r.unit, f.unit) << f.written;
    EXPECT_DOUBLE_EQ(r.value, f.value) << f.written;
    EXPECT_EQ(r.text, f.text) << f.written;
  }
}

TEST(SpecRegime, OverloadSetsItsOwnLength) {
  const Experiment e = load(kHead +
                            "    regime:\n"
                            "      kind: overload\n"
                            "      rate: 5Gb/s\n"
                            "      overload_factor: 1.5\n"
                            "      overload_before: 500ms\n"
                            "      overload_during: 250ms\n"
                            "      overload_after: 2s\n");
  ASSERT_EQ(e.cases.size(), 1U);
  const Case& c = e.cases[0];
  EXPECT_EQ(c.id, "g.stream.tcp.4KiB.regime.kind=overload");
  EXPECT_EQ(c.mode, Mode::duration);
  EXPECT_EQ(c.iterations, 0U);
  EXPECT_EQ(c.duration_ns, 2750 * kMs);  // before + during + after
  EXPECT_EQ(c.warmup_ns, 275 * kMs);
  EXPECT_DOUBLE_EQ(c.regime.overload_factor, 1.5);
  EXPECT_EQ(c.regime.overload_before_ns, 500 * kMs);
  EXPECT_EQ(c.regime.overload_during_ns, 250 * kMs);
  EXPECT_EQ(c.regime.overload_after_ns, 2 * kS);
  EXPECT_EQ(c.regime.rate.unit, Rate::Unit::bits_per_s);
  const auto& j = e.resolved["cases"][0];
  EXPECT_EQ(j["mode"], "duration");
  EXPECT_EQ(j["regime"]["overload_factor"], 1.5);
  EXPECT_EQ(j["regime"]["overload_before_ns"], 500 * kMs);
  EXPECT_EQ(j["regime"]["rate"]["unit"], "bits_per_s");
}

TEST(SpecRegime, SearchNeedsNoLengthAndIsBoundedByItsProbes) {
  const Experiment e =
      load(kHead + "    regime: {kind: search, search_probe: 200ms, search_max_probes: 5}\n");
  ASSERT_EQ(e.cases.size(), 1U);
  const Case& c = e.cases[0];
  EXPECT_EQ(c.id, "g.stream.tcp.4KiB.regime.kind=search");
  EXPECT_EQ(c.mode, Mode::duration);
  EXPECT_EQ(c.duration_ns, 1 * kS);  // at most 5 probes of 200ms
  EXPECT_EQ(c.warmup_ns, 20 * kMs);  // a tenth of one probe
  EXPECT_EQ(c.regime.rate.unit, Rate::Unit::none);
}

TEST(SpecRegime, MatrixOverKindAndRate) {
  const Experiment e = load(kHead +
                            "    duration: 2s\n"
                            "    regime:\n"
                            "      kind: [floor, realistic]\n"
                            "      rate: [50%, 70%, 90%]\n"
                            "      inflight: 8\n");
  // The rate does not apply to floor, so floor does not multiply by it.
  EXPECT_EQ(ids(e), (std::vector<std::string>{
                        "g.stream.tcp.4KiB.regime.kind=floor",
                        "g.stream.tcp.4KiB.regime.kind=realistic.regime.rate=50%",
                        "g.stream.tcp.4KiB.regime.kind=realistic.regime.rate=70%",
                        "g.stream.tcp.4KiB.regime.kind=realistic.regime.rate=90%",
                    }));
  EXPECT_EQ(e.cases[0].varied, (Varied{{"regime.kind", "floor"}}));
  EXPECT_EQ(e.cases[0].regime.rate.unit, Rate::Unit::none);
  EXPECT_EQ(e.cases[0].regime.inflight, 64);  // open-loop keys leave floor alone
  EXPECT_EQ(e.cases[0].mode, Mode::duration);
  EXPECT_EQ(e.cases[2].varied, (Varied{{"regime.kind", "realistic"}, {"regime.rate", "70%"}}));
  EXPECT_DOUBLE_EQ(e.cases[2].regime.rate.value, 0.7);
  EXPECT_EQ(e.cases[2].regime.inflight, 8);
  EXPECT_EQ(e.resolved["cases"][2]["varied"][1]["key"], "regime.rate");
}

TEST(SpecRegime, KindMatrixWithDurationIncludingOverload) {
  const Experiment e = load(
      kHead + "    duration: 2s\n    regime: {kind: [floor, realistic, overload], rate: 60%}\n");
  ASSERT_EQ(e.cases.size(), 3U);
  EXPECT_EQ(e.cases[0].id, "g.stream.tcp.4KiB.regime.kind=floor");
  EXPECT_EQ(e.cases[0].duration_ns, 2 * kS);
  EXPECT_EQ(e.cases[1].duration_ns, 2 * kS);
  EXPECT_EQ(e.cases[2].id, "g.stream.tcp.4KiB.regime.kind=overload");
  EXPECT_EQ(e.cases[2].duration_ns, 5 * kS);  // the default profile 1s + 1s + 3s
}

TEST(SpecRegime, KindMatrixWithIterationsKeepsThemForClosedKinds) {
  const Experiment e = load(
      "fabricbench: 1\nname: r\ncases:\n"
      "  - {name: g, suite: pingpong, sizes: 8, iterations: [100, 1000], warmup: 10,\n"
      "     regime: {kind: [closed, floor, search]}}\n");
  // iterations vary closed and floor; search sets its own length, so it appears once.
  EXPECT_EQ(ids(e), (std::vector<std::string>{
                        "g.pingpong.tcp.8B.iterations=100.regime.kind=closed",
                        "g.pingpong.tcp.8B.iterations=100.regime.kind=floor",
                        "g.pingpong.tcp.8B.regime.kind=search",
                        "g.pingpong.tcp.8B.iterations=1000.regime.kind=closed",
                        "g.pingpong.tcp.8B.iterations=1000.regime.kind=floor",
                    }));
  EXPECT_EQ(e.cases[1].mode, Mode::iterations);
  EXPECT_EQ(e.cases[1].warmup_iterations, 10U);
  EXPECT_EQ(e.cases[2].mode, Mode::duration);
  EXPECT_EQ(e.cases[2].iterations, 0U);
  EXPECT_EQ(e.cases[2].warmup_iterations, 0U);
  EXPECT_EQ(e.cases[2].warmup_ns, 100 * kMs);
}

TEST(SpecRegime, MixSetsTheMessageSize) {
  const Experiment e = load(
      "fabricbench: 1\nname: r\ncases:\n"
      "  - name: g\n"
      "    suite: stream\n"
      "    duration: 1s\n"
      "    regime:\n"
      "      kind: [floor, realistic]\n"
      "      rate: 100k/s\n"
      "      mix: 64B:9, 64KiB:1, 1KiB:0.5\n");
  ASSERT_EQ(e.cases.size(), 2U);
  const Case& floor = e.cases[0];
  EXPECT_EQ(floor.id, "g.stream.tcp.64KiB.regime.kind=floor");
  EXPECT_EQ(floor.message_size, 65536U);  // the largest size of the mix
  EXPECT_TRUE(floor.regime.mix.empty());  // the mix itself is open-loop only
  const Case& c = e.cases[1];
  EXPECT_EQ(c.message_size, 65536U);
  ASSERT_EQ(c.regime.mix.size(), 3U);
  EXPECT_EQ(c.regime.mix[0].size, 64U);
  EXPECT_DOUBLE_EQ(c.regime.mix[0].weight, 9);
  EXPECT_EQ(c.regime.mix[2].size, 1024U);
  EXPECT_DOUBLE_EQ(c.regime.mix[2].weight, 0.5);
  EXPECT_EQ(c.regime.mix_text, "64B:9,64KiB:1,1KiB:0.5");
  const auto& j = e.resolved["cases"][1]["regime"];
  EXPECT_EQ(j["mix"][1]["size_bytes"], 65536);
  EXPECT_EQ(j["mix"][1]["weight"], 1.0);
  EXPECT_EQ(j["mix_text"], "64B:9,64KiB:1,1KiB:0.5");
  EXPECT_EQ(e.resolved["cases"][1]["message_size_bytes"], 65536);
}

TEST(SpecRegime, MixListIsAMatrixAndAWeightDefaultsToOne) {
  const Experiment e = load(
      "fabricbench: 1\nname: r\ncases:\n"
      "  - {name: g, suite: pingpong, duration: 1s,\n"
      "     regime: {kind: realistic, rate: 10k/s, mix: ['64B:1,1KiB:1', 4KiB]}}\n");
  EXPECT_EQ(ids(e), (std::vector<std::string>{
                        "g.pingpong.tcp.1KiB.regime.kind=realistic.regime.mix=64B:1,1KiB:1",
                        "g.pingpong.tcp.4KiB.regime.kind=realistic.regime.mix=4KiB:1",
                    }));
  EXPECT_DOUBLE_EQ(e.cases[1].regime.mix.at(0).weight, 1);
}

TEST(SpecRegime, SectionInDefaultsAppliesWhereItCan) {
  const Experiment e = load(
      "fabricbench: 1\nname: r\n"
      "defaults:\n"
      "  iterations: 1000\n"
      "  warmup: 100\n"
      "  regime: {arrival: constant, inflight: 16, rate: 70%, overload_factor: 3}\n"
      "cases:\n"
      "  - {name: closed, suite: pingpong, sizes: 8}\n"
      "  - {name: real, suite: stream, sizes: 8, duration: 1s, warmup: 100ms,\n"
      "     regime: {kind: realistic}}\n"
      "  - {name: over, suite: stream, sizes: 8, regime: {kind: overload}}\n");
  ASSERT_EQ(e.cases.size(), 3U);
  // Open-loop defaults are not applicable to a closed group: silently ignored.
  const Case& closed = e.cases[0];
  EXPECT_EQ(closed.id, "closed.pingpong.tcp.8B");
  EXPECT_EQ(closed.regime.arrival, "poisson");
  EXPECT_EQ(closed.regime.rate.unit, Rate::Unit::none);
  EXPECT_EQ(closed.iterations, 1000U);
  const Case& real = e.cases[1];
  EXPECT_EQ(real.regime.arrival, "constant");
  EXPECT_EQ(real.regime.inflight, 16);
  EXPECT_EQ(real.regime.rate.text, "70%");
  EXPECT_DOUBLE_EQ(real.regime.overload_factor, 2.0);  // overload only
  // The defaults' iterations and count warm-up do not apply to overload, which sets its length.
  const Case& over = e.cases[2];
  EXPECT_EQ(over.mode, Mode::duration);
  EXPECT_EQ(over.iterations, 0U);
  EXPECT_EQ(over.warmup_iterations, 0U);
  EXPECT_EQ(over.duration_ns, 5 * kS);
  EXPECT_DOUBLE_EQ(over.regime.overload_factor, 3.0);
}

TEST(SpecRegime, KindFromDefaultsShowsInTheId) {
  const Experiment e = load(
      "fabricbench: 1\nname: r\ndefaults: {regime: {kind: floor}, completion: [busy_poll, "
      "blocking]}\ncases:\n"
      "  - {name: g, suite: pingpong, sizes: 8, iterations: 10}\n");
  EXPECT_EQ(ids(e),
            (std::vector<std::string>{"g.pingpong.tcp.8B.regime.kind=floor.completion=busy_poll",
                                      "g.pingpong.tcp.8B.regime.kind=floor.completion=blocking"}));
  EXPECT_EQ(e.cases[0].varied, (Varied{{"completion", "busy_poll"}}));
}

TEST(SpecRegime, SetOverridesTheKind) {
  const std::string text = kHead + "    iterations: 1000\n    warmup: 100\n";
  // A kind set in defaults reaches every group; the group's own iterations then do not apply
  // to overload (the kind is not written in the group, so this is not a contradiction).
  const Experiment e = load(text, {"defaults.regime.kind=overload", "defaults.regime.rate=50%"});
  ASSERT_EQ(e.cases.size(), 1U);
  const Case& c = e.cases[0];
  EXPECT_EQ(c.id, "g.stream.tcp.4KiB.regime.kind=overload");
  EXPECT_EQ(c.regime.kind, "overload");
  EXPECT_EQ(c.regime.rate.text, "50%");
  EXPECT_EQ(c.mode, Mode::duration);
  EXPECT_EQ(c.iterations, 0U);
  EXPECT_EQ(c.duration_ns, 5 * kS);
  // In a group, creating the section.
  const Experiment f = load(text, {"cases[0].regime.kind=[closed,floor]"});
  EXPECT_EQ(ids(f), (std::vector<std::string>{"g.stream.tcp.4KiB.regime.kind=closed",
                                              "g.stream.tcp.4KiB.regime.kind=floor"}));
  EXPECT_EQ(f.cases[1].iterations, 1000U);
  // The plan, and its digest, change with the regime.
  EXPECT_NE(load(text).digest, load(text, {"defaults.regime.kind=floor"}).digest);
}

TEST(SpecRegime, ListedKindsCanBeClosedOnly) {
  const Experiment e = load(kHead + "    duration: 1s\n    regime: {kind: [closed]}\n");
  ASSERT_EQ(e.cases.size(), 1U);
  EXPECT_EQ(e.cases[0].id, "g.stream.tcp.4KiB.regime.kind=closed");  // a one-element list shows
}

// --- errors ------------------------------------------------------------------------------------

TEST(SpecRegimeErrors, UnknownKeySuggestsClosest) {
  const auto ds = diagnostics_of(kHead + "    duration: 1s\n    regime: {knd: floor}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 14, "cases[0].regime.knd",
                             "unknown key 'knd' in regime; did you mean 'kind'?"));
}

TEST(SpecRegimeErrors, UnknownKindListsTheKinds) {
  const auto ds = diagnostics_of(kHead + "    duration: 1s\n    regime:\n      kind: realistc\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 13, "cases[0].regime.kind",
                             "unknown value 'realistc'; valid values: closed, floor, realistic, "
                             "overload, search (did you mean 'realistic'?)"))
      << dump(ds);
  // A bad kind leaves open whether the group needs a length: only the kind is reported.
  const auto alone = diagnostics_of(kHead + "    regime: {kind: overlod, rate: 50%}\n");
  ASSERT_EQ(alone.size(), 1U) << dump(alone);
  EXPECT_TRUE(
      has_diagnostic(alone, "t.yaml", 7, 20, "cases[0].regime.kind", "did you mean 'overload'?"));
}

TEST(SpecRegimeErrors, UnknownGeneratorListsTheChoices) {
  const auto ds = diagnostics_of(kHead +
                                 "    duration: 1s\n    regime:\n      kind: realistic\n"
                                 "      rate: 1000/s\n      generator: spinning\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 11, 18, "cases[0].regime.generator",
                             "unknown value 'spinning'; valid values: sleep, spin"))
      << dump(ds);
}

TEST(SpecRegimeErrors, SectionMustBeAMapping) {
  const auto ds = diagnostics_of(kHead + "    duration: 1s\n    regime: floor\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 13, "cases[0].regime",
                             "expected a mapping of regime settings such as {kind: realistic, "
                             "rate: 70%}, got 'floor'"))
      << dump(ds);
}

TEST(SpecRegimeErrors, OpenLoopNeedsDirectionUni) {
  const auto ds = diagnostics_of(kHead +
                                 "    duration: 1s\n"
                                 "    direction: [uni, bidir]\n"
                                 "    regime: {kind: realistic, rate: 70%}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 16, "cases[0].direction",
                             "regime realistic offers open-loop arrivals one way, from rank 0 to "
                             "rank 1: it needs direction uni, not bidir"));
  // From defaults, the diagnostic points at the kind written in the group.
  const auto from_defaults = diagnostics_of(
      "fabricbench: 1\nname: r\ndefaults: {direction: bidir}\ncases:\n"
      "  - {name: g, suite: stream, sizes: 8, regime: {kind: search}}\n");
  EXPECT_TRUE(has_diagnostic(from_defaults, "t.yaml", 5, 55, "cases[0].regime.kind",
                             "regime search offers open-loop arrivals one way"))
      << dump(from_defaults);
}

TEST(SpecRegimeErrors, RealisticRunsForADuration) {
  auto ds = diagnostics_of(kHead +
                           "    iterations: 1000\n"
                           "    regime: {kind: realistic, rate: 200k/s}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 17, "cases[0].iterations",
                             "regime realistic runs for 'duration'; open-loop arrivals are offered "
                             "for a length of time, not a number of operations: set 'duration' "
                             "instead of 'iterations'"));
  // Inherited iterations: the group is missing a duration.
  ds = diagnostics_of(
      "fabricbench: 1\nname: r\ndefaults: {iterations: 100}\ncases:\n"
      "  - {name: g, suite: stream, sizes: 8, regime: {kind: realistic, rate: 70%}}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 5, 5, "cases[0]",
                             "this group inherits 'iterations' from defaults; set 'duration' in "
                             "the group"))
      << dump(ds);
  // Neither.
  ds = diagnostics_of(kHead + "    regime: {kind: realistic, rate: 70%}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 5, "cases[0]",
                             "missing 'duration' (here or in defaults): regime realistic"))
      << dump(ds);
}

TEST(SpecRegimeErrors, OverloadAndSearchSetTheirOwnLength) {
  auto ds = diagnostics_of(kHead +
                           "    duration: 2s\n"
                           "    regime: {kind: overload, rate: 50%}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 15, "cases[0].duration",
                             "regime overload sets its own length (regime.overload_before, "
                             "regime.overload_during and regime.overload_after); remove "
                             "'duration'"));
  ds = diagnostics_of(kHead +
                      "    iterations: 10\n    regime: {kind: [search, overload], rate: 1k/s}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 17, "cases[0].iterations",
                             "regimes search and overload set their own lengths "
                             "(regime.overload_before, regime.overload_during and "
                             "regime.overload_after; regime.search_probe and "
                             "regime.search_max_probes); remove 'iterations'"))
      << dump(ds);
  ds = diagnostics_of(kHead + "    warmup: 100\n    regime: {kind: search}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 13, "cases[0].warmup",
                             "regime search runs in duration mode, so warmup must be a duration "
                             "such as 200ms, got 100"))
      << dump(ds);
}

TEST(SpecRegimeErrors, OpenLoopKeysInAClosedGroup) {
  auto ds = diagnostics_of(kHead + "    duration: 1s\n    regime: {rate: 70%}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 20, "cases[0].regime.rate",
                             "'regime.rate' applies to regimes realistic and overload; this "
                             "group's regime is closed (the default; set regime.kind)"));
  ds = diagnostics_of(kHead +
                      "    duration: 1s\n"
                      "    regime:\n"
                      "      kind: [closed, floor]\n"
                      "      inflight: 8\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 17, "cases[0].regime.inflight",
                             "'regime.inflight' applies to regimes realistic, overload and "
                             "search; this group's regimes are closed and floor"))
      << dump(ds);
  ds = diagnostics_of(kHead +
                      "    duration: 1s\n    regime: {kind: realistic, rate: 1k/s, "
                      "overload_factor: 3}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 60, "cases[0].regime.overload_factor",
                             "'regime.overload_factor' applies to regime overload; this group's "
                             "regime is realistic"))
      << dump(ds);
}

TEST(SpecRegimeErrors, SearchTakesNoRate) {
  const auto ds = diagnostics_of(kHead + "    regime: {kind: search, rate: 70%}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 7, 34, "cases[0].regime.rate",
                             "'regime.rate' applies to regimes realistic and overload; this "
                             "group's regime is search (regime search finds the sustainable rate "
                             "itself and takes no rate)"));
}

TEST(SpecRegimeErrors, RateIsRequiredForRealisticAndOverload) {
  auto ds = diagnostics_of(kHead + "    duration: 1s\n    regime: {kind: [floor, realistic]}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 5, "cases[0]",
                             "missing 'regime.rate' (here or in defaults): regime realistic needs "
                             "the offered rate"));
  ds = diagnostics_of(kHead + "    duration: 1s\n    regime: {kind: [realistic, overload]}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 5, "cases[0]",
                             "regimes realistic and overload need the offered rate"))
      << dump(ds);
}

TEST(SpecRegimeErrors, BadRates) {
  const std::string head = kHead + "    duration: 1s\n    regime:\n      kind: realistic\n";
  auto ds = diagnostics_of(head + "      rate: 5GB/s\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 13, "cases[0].regime.rate",
                             "'5GB/s' is a rate in bytes per second"))
      << dump(ds);
  ds = diagnostics_of(head + "      rate: 200000\n");
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 10, 13, "cases[0].regime.rate", "rate '200000' needs a unit"))
      << dump(ds);
  ds = diagnostics_of(head + "      rate: 0.5%\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 13, "cases[0].regime.rate",
                             "a fraction of the sustainable rate must be between 1% and 1000%, "
                             "got 0.5%"))
      << dump(ds);
  ds = diagnostics_of(head + "      rate: [50%, 70%, 90%, 0.7%, 2000%]\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 29, "cases[0].regime.rate[3]", "got 0.7%"))
      << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 35, "cases[0].regime.rate[4]", "got 2000%"))
      << dump(ds);
  ds = diagnostics_of(head + "      rate: [200k/s, 200000/s]\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 22, "cases[0].regime.rate[1]",
                             "value '200000/s' is already in the list"))
      << dump(ds);
  ds = diagnostics_of(head + "      rate: 20G/s\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 13, "cases[0].regime.rate",
                             "must be at most 1000000000/s, got 20000000000/s"))
      << dump(ds);
}

TEST(SpecRegimeErrors, MixAndSizesAreExclusive) {
  auto ds = diagnostics_of(kHead +
                           "    duration: 1s\n"
                           "    regime: {kind: realistic, rate: 1k/s, mix: '64B:1,1KiB:1'}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 48, "cases[0].regime.mix",
                             "set either 'sizes' or 'regime.mix', not both"));
  // A mix written in a closed group is an error of its own, not a missing `sizes`.
  ds = diagnostics_of(
      "fabricbench: 1\nname: r\ncases:\n"
      "  - {name: g, suite: stream, duration: 1s, regime: {mix: 64B}}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 58, "cases[0].regime.mix",
                             "'regime.mix' applies to regimes realistic, overload and search"));
  // From defaults it does not apply to a closed group, which then lacks sizes.
  ds = diagnostics_of(
      "fabricbench: 1\nname: r\ndefaults: {regime: {mix: 64B}}\ncases:\n"
      "  - {name: g, suite: stream, duration: 1s}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 5, 5, "cases[0]", "missing required key 'sizes'"))
      << dump(ds);
}

TEST(SpecRegimeErrors, BadMixes) {
  const std::string head = kHead.substr(0, kHead.rfind("    sizes")) +
                           "    duration: 1s\n    regime:\n      kind: realistic\n"
                           "      rate: 1k/s\n";
  auto ds = diagnostics_of(head + "      mix: 64B:0,1KiB:1\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 12, "cases[0].regime.mix",
                             "size mix entry '64B:0': the weight must be a positive number such "
                             "as 9 or 0.5, got '0'"))
      << dump(ds);
  ds = diagnostics_of(head + "      mix: 64Kb:1\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 12, "cases[0].regime.mix",
                             "size mix entry '64Kb:1': unknown size unit 'Kb'"))
      << dump(ds);
  ds = diagnostics_of(head + "      mix: 64B:1,0.0625KiB:2\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 12, "cases[0].regime.mix",
                             "size 64B appears more than once in the size mix"))
      << dump(ds);
  ds = diagnostics_of(head + "      mix: 64B:1,,1KiB:1\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 12, "cases[0].regime.mix", "empty entry"))
      << dump(ds);
  ds = diagnostics_of(head + "      mix: 2GiB:1\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 12, "cases[0].regime.mix",
                             "the size must be between 1B and 1GiB, got 2GiB"))
      << dump(ds);
}

TEST(SpecRegimeErrors, RangesNameTheRange) {
  const std::string head = kHead + "    regime:\n      kind: overload\n      rate: 50%\n";
  auto ds = diagnostics_of(head + "      overload_factor: 1\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 24, "cases[0].regime.overload_factor",
                             "must be greater than 1 and at most 100, got 1"))
      << dump(ds);
  ds = diagnostics_of(head + "      overload_factor: two\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 24, "cases[0].regime.overload_factor",
                             "expected a number such as 2 or 1.5, got 'two'"))
      << dump(ds);
  ds = diagnostics_of(head + "      search_precision: 60%\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 25, "cases[0].regime.search_precision",
                             "must be between 0.1% and 50%, got 60%"))
      << dump(ds);
  ds = diagnostics_of(head + "      search_precision: 0.03\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 25, "cases[0].regime.search_precision",
                             "expected a percentage such as 3%, got '0.03'"))
      << dump(ds);
  ds = diagnostics_of(head + "      seed: 9223372036854775808\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 13, "cases[0].regime.seed",
                             "must be between 0 and 9223372036854775807"))
      << dump(ds);
  ds = diagnostics_of(head + "      deadline: 0s\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 17, "cases[0].regime.deadline",
                             "must be between 1us and 1h, got 0ns"))
      << dump(ds);
  ds = diagnostics_of(head + "      overload_during: 5ms\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 24, "cases[0].regime.overload_during",
                             "must be between 10ms and 1h, got 5ms"))
      << dump(ds);
  ds = diagnostics_of(head + "      streams: 65\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 16, "cases[0].regime.streams",
                             "must be between 1 and 64, got 65"))
      << dump(ds);
  ds = diagnostics_of(head + "      arrival: bursty\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 16, "cases[0].regime.arrival",
                             "unknown value 'bursty'; valid values: constant, poisson"))
      << dump(ds);
}

TEST(SpecRegimeErrors, DefaultsErrorsAreReportedOnceAtDefaults) {
  const auto ds = diagnostics_of(
      "fabricbench: 1\nname: r\n"
      "defaults:\n"
      "  sizes: 8\n"
      "  regime: {inflight: 0, mix: 64B}\n"
      "cases:\n"
      "  - {name: a, suite: stream, duration: 1s, regime: {kind: realistic, rate: 1%}}\n"
      "  - {name: b, suite: stream, regime: {kind: search}}\n");
  ASSERT_EQ(ds.size(), 2U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 5, 22, "defaults.regime.inflight",
                             "must be between 1 and 4096, got 0"));
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 5, 30, "defaults.regime.mix",
                             "set either 'sizes' or 'regime.mix', not both"));
}

TEST(SpecRegimeErrors, SetErrorsNameTheOverride) {
  const std::string text = kHead + "    duration: 1s\n";
  auto ds = diagnostics_of(text, {"defaults.regime.kind=overlod"});
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "--set", 0, 0, "defaults.regime.kind",
                             "(did you mean 'overload'?) (from --set "
                             "'defaults.regime.kind=overlod')"));
  // The regime is a case key: at the top level it is pointed to defaults.
  ds = diagnostics_of(text, {"regime.kind=floor"});
  EXPECT_TRUE(has_diagnostic(ds, "--set", 0, 0, "regime",
                             "'regime' is a case key: put it under 'defaults' or in a case group"))
      << dump(ds);
}

}  // namespace
}  // namespace fabricbench::spec
