// The `fault:` case key and the top-level `injector:` (docs/CONFIG.md, "Faults"): every key and
// form, fault matrices, the interval taken from the fault's bin, ids, the resolved plan, the
// capability table (which backend can cause which fault on which transport) and the
// diagnostics (file, line, column, field).
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

constexpr std::uint64_t kUs = 1'000;
constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kS = 1'000'000'000;

// A file with an injector (line 3) and one stream group named g whose keys continue at line 9,
// indented by 4.
std::string head(const std::string& injector = "{backend: vm}",
                 const std::string& duration = "5s") {
  std::string out = "fabricbench: 1\n";  // 1
  out += "name: f\n";                    // 2
  out += "injector: ";                   // 3
  out += injector;
  out += "\ncases:\n";           // 4
  out += "  - name: g\n";        // 5
  out += "    suite: stream\n";  // 6
  out += "    sizes: 4KiB\n";    // 7
  out += "    duration: ";       // 8
  out += duration;
  out += "\n";
  return out;
}

Experiment load(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return load_experiment_text(text, "t.yaml", catalog(), overrides);
}

std::vector<std::string> ids(const Experiment& e) {
  std::vector<std::string> out;
  for (const auto& c : e.cases) out.push_back(c.id);
  return out;
}

// --- valid files -------------------------------------------------------------------------------

TEST(SpecFaults, NoFaultByDefault) {
  const Experiment e = load(
      "fabricbench: 1\nname: f\ncases:\n  - {name: g, suite: stream, sizes: 8, duration: 1s}\n");
  ASSERT_EQ(e.cases.size(), 1U);
  const Case& c = e.cases[0];
  EXPECT_EQ(c.id, "g.stream.tcp.8B");
  EXPECT_FALSE(c.fault.active());
  EXPECT_EQ(c.fault.kind, "none");
  EXPECT_EQ(c.interval_ns, 100 * kMs);
  EXPECT_FALSE(e.injector.active());
  EXPECT_EQ(e.injector.backend, "none");
  // Both are in the resolved plan, with every field.
  const auto& f = e.resolved["cases"][0]["fault"];
  EXPECT_EQ(f["kind"], "none");
  for (const char* key : {"start_ns", "hold_ns", "count", "period_ns", "jitter_ns", "seed", "loss",
                          "delay_ns", "rate_bits_per_s", "bin_ns", "consecutive"}) {
    EXPECT_TRUE(f.contains(key)) << key;
  }
  const auto& i = e.resolved["injector"];
  EXPECT_EQ(i["backend"], "none");
  EXPECT_EQ(i["command_timeout_ns"], 10 * kS);
  for (const char* key : {"target", "allow", "force", "inject", "clear"}) {
    EXPECT_TRUE(i.contains(key)) << key;
  }
}

TEST(SpecFaults, EveryKeyParses) {
  const Experiment e = load(head("{backend: vm}", "30s") +
                            "    fault:\n"
                            "      kind: flap\n"
                            "      start: 2s\n"
                            "      hold: 300ms\n"
                            "      count: 4\n"
                            "      period: 1s\n"
                            "      jitter: 250ms\n"
                            "      seed: 42\n"
                            "      bin: 20ms\n"
                            "      consecutive: 7\n");
  ASSERT_EQ(e.cases.size(), 1U);
  const Case& c = e.cases[0];
  // Not varied, but an active fault shows in the id (like a regime other than closed).
  EXPECT_EQ(c.id,
            "g.stream.tcp.4KiB.fault=flap,start=2s,hold=300ms,count=4,period=1s,jitter=250ms,"
            "seed=42,bin=20ms,consecutive=7");
  EXPECT_TRUE(c.varied.empty());
  const FaultSettings& f = c.fault;
  EXPECT_TRUE(f.active());
  EXPECT_EQ(f.kind, "flap");
  EXPECT_EQ(f.start_ns, 2 * kS);
  EXPECT_EQ(f.hold_ns, 300 * kMs);
  EXPECT_EQ(f.count, 4);
  EXPECT_EQ(f.period_ns, 1 * kS);
  EXPECT_EQ(f.jitter_ns, 250 * kMs);
  EXPECT_EQ(f.seed, 42U);
  EXPECT_EQ(f.bin_ns, 20 * kMs);
  EXPECT_EQ(f.consecutive, 7);
  EXPECT_EQ(f.loss, 0);
  EXPECT_EQ(f.delay_ns, 0U);
  EXPECT_EQ(f.rate_bits_per_s, 0);
  EXPECT_EQ(f.origin, "t.yaml:10:7: cases[0].fault");
  EXPECT_EQ(c.interval_ns, 20 * kMs);  // the bin
  const auto& j = e.resolved["cases"][0]["fault"];
  EXPECT_EQ(j["kind"], "flap");
  EXPECT_EQ(j["start_ns"], 2 * kS);
  EXPECT_EQ(j["hold_ns"], 300 * kMs);
  EXPECT_EQ(j["count"], 4);
  EXPECT_EQ(j["period_ns"], 1 * kS);
  EXPECT_EQ(j["jitter_ns"], 250 * kMs);
  EXPECT_EQ(j["seed"], 42);
  EXPECT_EQ(j["bin_ns"], 20 * kMs);
  EXPECT_EQ(j["consecutive"], 7);
  EXPECT_FALSE(j.contains("origin"));  // the plan does not depend on the layout
  EXPECT_EQ(e.resolved["cases"][0]["interval_ns"], 20 * kMs);
}

TEST(SpecFaults, DefaultsAreResolved) {
  const Experiment e = load(head() + "    fault: {kind: link_down}\n");
  ASSERT_EQ(e.cases.size(), 1U);
  const Case& c = e.cases[0];
  EXPECT_EQ(c.id, "g.stream.tcp.4KiB.fault=link_down");
  const FaultSettings& f = c.fault;
  EXPECT_EQ(f.start_ns, 1 * kS);
  EXPECT_EQ(f.hold_ns, 1 * kS);
  EXPECT_EQ(f.count, 1);
  EXPECT_EQ(f.period_ns, 2 * kS);  // 0 resolves to 2 x hold
  EXPECT_EQ(f.jitter_ns, 0U);
  EXPECT_EQ(f.seed, 1U);
  EXPECT_EQ(f.bin_ns, 100 * kMs);  // tcp
  EXPECT_EQ(f.consecutive, 5);
  EXPECT_EQ(c.interval_ns, 100 * kMs);
  EXPECT_EQ(f.origin, "t.yaml:9:12: cases[0].fault");
}

TEST(SpecFaults, KindParameters) {
  Experiment e = load(head() + "    fault: {kind: loss, loss: 5%}\n");
  EXPECT_DOUBLE_EQ(e.cases.at(0).fault.loss, 0.05);
  EXPECT_EQ(e.cases[0].id, "g.stream.tcp.4KiB.fault=loss,loss=5%");
  EXPECT_EQ(e.resolved["cases"][0]["fault"]["loss"], 0.05);
  e = load(head() + "    fault: {kind: loss, loss: 0.01%}\n");
  EXPECT_DOUBLE_EQ(e.cases.at(0).fault.loss, 0.0001);
  e = load(head() + "    fault: {kind: loss, loss: 100%}\n");
  EXPECT_DOUBLE_EQ(e.cases.at(0).fault.loss, 1.0);
  e = load(head() + "    fault: {kind: delay, delay: 10ms}\n");
  EXPECT_EQ(e.cases.at(0).fault.delay_ns, 10 * kMs);
  EXPECT_EQ(e.cases[0].id, "g.stream.tcp.4KiB.fault=delay,delay=10ms");
  EXPECT_EQ(e.resolved["cases"][0]["fault"]["delay_ns"], 10 * kMs);
  e = load(head() + "    fault: {kind: delay, delay: 1us}\n");
  EXPECT_EQ(e.cases.at(0).fault.delay_ns, 1 * kUs);
  e = load(head() + "    fault: {kind: rate_limit, rate: 100Mb/s}\n");
  EXPECT_DOUBLE_EQ(e.cases.at(0).fault.rate_bits_per_s, 1e8);
  EXPECT_EQ(e.cases[0].id, "g.stream.tcp.4KiB.fault=rate_limit,rate=100Mb/s");
  EXPECT_EQ(e.resolved["cases"][0]["fault"]["rate_bits_per_s"], 1e8);
  e = load(head() + "    fault: {kind: rate_limit, rate: 1.5Gbit/s}\n");
  EXPECT_DOUBLE_EQ(e.cases.at(0).fault.rate_bits_per_s, 1.5e9);
  e = load(head() + "    fault: {kind: blackhole, hold: 500ms}\n");
  EXPECT_EQ(e.cases.at(0).fault.kind, "blackhole");
  EXPECT_EQ(e.cases[0].id, "g.stream.tcp.4KiB.fault=blackhole,hold=500ms");
}

TEST(SpecFaults, ListOfFaultsIsAMatrix) {
  const Experiment e =
      load(head() +
           "    transport: [tcp, verbs]\n"
           "    fault: [{kind: link_down, hold: 1s}, {kind: blackhole, hold: 2s},\n"
           "            {kind: link_down, hold: 2s}, {kind: none}]\n");
  EXPECT_EQ(ids(e), (std::vector<std::string>{
                        "g.stream.tcp.4KiB.fault=link_down",
                        "g.stream.tcp.4KiB.fault=blackhole,hold=2s",
                        "g.stream.tcp.4KiB.fault=link_down,hold=2s",
                        "g.stream.tcp.4KiB.fault=none",
                        "g.stream.verbs.4KiB.fault=link_down",
                        "g.stream.verbs.4KiB.fault=blackhole,hold=2s",
                        "g.stream.verbs.4KiB.fault=link_down,hold=2s",
                        "g.stream.verbs.4KiB.fault=none",
                    }));
  EXPECT_EQ(e.cases[1].varied, (Varied{{"transport", "tcp"}, {"fault", "blackhole,hold=2s"}}));
  EXPECT_EQ(e.cases[1].fault.hold_ns, 2 * kS);
  EXPECT_EQ(e.cases[1].fault.origin, "t.yaml:10:42: cases[0].fault[1]");
  EXPECT_EQ(e.cases[2].fault.origin, "t.yaml:11:13: cases[0].fault[2]");
  // The interval follows each case's fault: 100ms for tcp, 10ms for verbs; no fault: 100ms.
  EXPECT_EQ(e.cases[0].interval_ns, 100 * kMs);
  EXPECT_EQ(e.cases[4].interval_ns, 10 * kMs);
  EXPECT_EQ(e.cases[4].fault.bin_ns, 10 * kMs);
  EXPECT_EQ(e.cases[7].interval_ns, 100 * kMs);
  EXPECT_FALSE(e.cases[7].fault.active());
  EXPECT_EQ(e.cases[7].fault.bin_ns, 0U);
  EXPECT_EQ(e.resolved["cases"][5]["varied"][1]["key"], "fault");
  EXPECT_EQ(e.resolved["cases"][5]["varied"][1]["value"], "blackhole,hold=2s");
}

TEST(SpecFaults, IntervalFollowsTheBin) {
  // A written bin is the interval.
  Experiment e = load(head() + "    fault: {kind: link_down, bin: 50ms}\n");
  EXPECT_EQ(e.cases.at(0).interval_ns, 50 * kMs);
  // A written interval stays; the bin keeps its default (they need not agree when one is not
  // written).
  e = load(head() + "    interval: 20ms\n    fault: {kind: link_down}\n");
  EXPECT_EQ(e.cases.at(0).interval_ns, 20 * kMs);
  EXPECT_EQ(e.cases[0].fault.bin_ns, 100 * kMs);
  // Both written, equal.
  e = load(head() + "    interval: 20ms\n    fault: {kind: link_down, bin: 20ms}\n");
  EXPECT_EQ(e.cases.at(0).interval_ns, 20 * kMs);
  // Verbs: 10 ms.
  e = load(head() + "    transport: verbs\n    fault: {kind: flap, hold: 100ms, count: 3}\n");
  EXPECT_EQ(e.cases.at(0).interval_ns, 10 * kMs);
  EXPECT_EQ(e.cases[0].fault.period_ns, 200 * kMs);
}

TEST(SpecFaults, DefaultsAndGroups) {
  const Experiment e = load(
      "fabricbench: 1\nname: f\n"
      "injector: {backend: netns}\n"
      "defaults:\n"
      "  duration: 4s\n"
      "  sizes: 8\n"
      "  fault: {kind: blackhole, hold: 500ms}\n"
      "cases:\n"
      "  - {name: a, suite: stream}\n"
      "  - {name: b, suite: pingpong, fault: {kind: loss, loss: 2%}}\n"
      "  - {name: c, suite: stream, fault: {kind: none}}\n"
      "  - {name: d, suite: stream, regime: {kind: floor}}\n");
  EXPECT_EQ(ids(e), (std::vector<std::string>{
                        "a.stream.tcp.8B.fault=blackhole,hold=500ms",
                        "b.pingpong.tcp.8B.fault=loss,loss=2%",
                        "c.stream.tcp.8B",
                        "d.stream.tcp.8B.fault=blackhole,hold=500ms.regime.kind=floor",
                    }));
  EXPECT_EQ(e.cases[0].fault.origin, "t.yaml:7:10: defaults.fault");
  EXPECT_EQ(e.cases[1].fault.hold_ns, 1 * kS);  // the group's fault replaces the defaults' whole
  EXPECT_FALSE(e.cases[2].fault.active());
  EXPECT_EQ(e.cases[2].interval_ns, 100 * kMs);
}

TEST(SpecFaults, RealisticAndFloorTakeFaults) {
  const Experiment e = load(head() +
                            "    regime: {kind: [floor, realistic], rate: 50k/s}\n"
                            "    fault: {kind: rate_limit, rate: 10Mb/s}\n");
  ASSERT_EQ(e.cases.size(), 2U);
  EXPECT_EQ(e.cases[0].id, "g.stream.tcp.4KiB.regime.kind=floor.fault=rate_limit,rate=10Mb/s");
  EXPECT_EQ(e.cases[1].id, "g.stream.tcp.4KiB.regime.kind=realistic.fault=rate_limit,rate=10Mb/s");
  EXPECT_EQ(e.cases[1].regime.rate.text, "50000/s");
}

TEST(SpecFaults, SetOverrides) {
  const std::string text = head() + "    fault: {kind: link_down}\n";
  Experiment e = load(text, {"cases[0].fault.hold=2s"});
  EXPECT_EQ(e.cases.at(0).fault.hold_ns, 2 * kS);
  EXPECT_EQ(e.cases[0].fault.origin, "t.yaml:9:12: cases[0].fault");
  e = load(text, {"cases[0].fault=[{kind: loss, loss: 1%}, {kind: loss, loss: 5%}]"});
  EXPECT_EQ(ids(e), (std::vector<std::string>{"g.stream.tcp.4KiB.fault=loss,loss=1%",
                                              "g.stream.tcp.4KiB.fault=loss,loss=5%"}));
  EXPECT_EQ(e.cases[0].fault.origin,
            "cases[0].fault[0] (from --set 'cases[0].fault=[{kind: loss, loss: 1%}, {kind: "
            "loss, loss: 5%}]')");
  // The plan, and its digest, change with the fault and with the injector.
  EXPECT_NE(load(text).digest, load(text, {"cases[0].fault.seed=2"}).digest);
  EXPECT_NE(load(text).digest,
            load(text, {"injector.backend=command", "injector.inject=true", "injector.clear=true"})
                .digest);
}

TEST(SpecFaults, InjectorForms) {
  const auto injector = [](const std::string& written) {
    return load(head(written) + "    fault: {kind: link_down}\n").injector;
  };
  InjectorSettings i = injector("{backend: netns}");
  EXPECT_EQ(i.backend, "netns");
  EXPECT_EQ(i.target, "fbd0");
  EXPECT_TRUE(i.active());
  EXPECT_EQ(injector("{backend: netns, target: fbd0}").target, "fbd0");
  EXPECT_EQ(i.link_rate_bits_per_s, 0);
  EXPECT_DOUBLE_EQ(injector("{backend: netns, link_rate: 2Gb/s}").link_rate_bits_per_s, 2e9);
  i = injector("{backend: vm}");
  EXPECT_EQ(i.target, "eth0");
  EXPECT_EQ(i.command_timeout_ns, 10 * kS);
  EXPECT_EQ(injector("{backend: vm, target: eth1}").target, "eth1");
  i = injector("{backend: link, target: enp3s0, allow: [enp3s0, enp4s0], force: true}");
  EXPECT_EQ(i.backend, "link");
  EXPECT_EQ(i.target, "enp3s0");
  EXPECT_EQ(i.allow, (std::vector<std::string>{"enp3s0", "enp4s0"}));
  EXPECT_TRUE(i.force);
  EXPECT_EQ(injector("{backend: link, target: eth2, allow: eth2}").allow,
            (std::vector<std::string>{"eth2"}));
  i = load(head("{backend: ibport, target: '3:1'}") +
           "    transport: verbs\n    fault: {kind: link_down}\n")
          .injector;
  EXPECT_EQ(i.target, "3:1");
  i = injector(
      "{backend: command, target: switch7, inject: 'ssh sw7 shut', clear: 'ssh sw7 no shut', "
      "command_timeout: 30s}");
  EXPECT_EQ(i.backend, "command");
  EXPECT_EQ(i.target, "switch7");
  EXPECT_EQ(i.inject, "ssh sw7 shut");
  EXPECT_EQ(i.clear, "ssh sw7 no shut");
  EXPECT_EQ(i.command_timeout_ns, 30 * kS);
  // In the resolved plan.
  const Experiment e = load(head("{backend: link, target: eth2, allow: [eth2], force: yes}") +
                            "    fault: {kind: link_down}\n");
  const auto& j = e.resolved["injector"];
  EXPECT_EQ(j["backend"], "link");
  EXPECT_EQ(j["target"], "eth2");
  EXPECT_EQ(j["allow"], nlohmann::json::array({"eth2"}));
  EXPECT_EQ(j["force"], true);
  EXPECT_EQ(j["inject"], "");
  EXPECT_EQ(j["clear"], "");
  EXPECT_EQ(j["command_timeout_ns"], 10 * kS);
  EXPECT_EQ(j["link_rate_bps"], 0);
  // An injector without faults is fine, and a block mapping works.
  const Experiment quiet = load(
      "fabricbench: 1\nname: f\ninjector:\n  backend: netns\nranks: 4\nlauncher: local\ncases:\n"
      "  - {name: g, suite: pingpong, sizes: 8, iterations: 10}\n");
  EXPECT_EQ(quiet.injector.backend, "netns");
  EXPECT_FALSE(quiet.cases.at(0).fault.active());
}

TEST(SpecFaults, CapabilityTableAllows) {
  struct Ok {
    const char* injector;
    const char* transport;
    const char* fault;
  };
  for (const Ok& ok : {
           Ok{"{backend: netns}", "tcp", "{kind: link_down}"},
           Ok{"{backend: netns}", "tcp", "{kind: flap, hold: 100ms, count: 3}"},
           Ok{"{backend: netns}", "tcp", "{kind: blackhole}"},
           Ok{"{backend: netns}", "tcp", "{kind: loss, loss: 1%}"},
           Ok{"{backend: netns}", "tcp", "{kind: rate_limit, rate: 1Gb/s}"},
           Ok{"{backend: vm}", "verbs", "{kind: delay, delay: 5ms}"},
           Ok{"{backend: vm}", "verbs", "{kind: loss, loss: 1%}"},
           Ok{"{backend: vm}", "tcp", "{kind: rate_limit, rate: 1Gb/s}"},
           Ok{"{backend: link, target: eth1, allow: [eth1]}", "verbs", "{kind: link_down}"},
           Ok{"{backend: link, target: eth1, allow: [eth1]}", "tcp", "{kind: flap}"},
           Ok{"{backend: ibport, target: '1:1'}", "verbs", "{kind: flap}"},
           Ok{"{backend: command, inject: x, clear: y}", "tcp", "{kind: delay, delay: 1ms}"},
           Ok{"{backend: command, inject: x, clear: y}", "verbs", "{kind: blackhole}"},
       }) {
    const std::string text =
        head(ok.injector) + "    transport: " + ok.transport + "\n    fault: " + ok.fault + "\n";
    EXPECT_NO_THROW((void)load(text)) << text;
  }
}

// --- errors ------------------------------------------------------------------------------------

TEST(SpecFaultsErrors, UnknownKeySuggestsClosest) {
  const auto ds = diagnostics_of(head() + "    fault: {kind: link_down, hodl: 2s}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 30, "cases[0].fault.hodl",
                             "unknown key 'hodl' in fault; did you mean 'hold'?"));
}

TEST(SpecFaultsErrors, KindIsRequiredAndChecked) {
  auto ds = diagnostics_of(head() + "    fault:\n      hold: 2s\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 7, "cases[0].fault",
                             "missing required key 'kind' in fault (one of none, link_down, flap, "
                             "blackhole, loss, delay, rate_limit)"));
  ds = diagnostics_of(head() + "    fault: {kind: link_dwn}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 19, "cases[0].fault.kind",
                             "unknown value 'link_dwn'; valid values: none, link_down, flap, "
                             "blackhole, loss, delay, rate_limit (did you mean 'link_down'?)"))
      << dump(ds);
  ds = diagnostics_of(head() + "    fault: link_down\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 12, "cases[0].fault",
                             "expected a fault mapping such as {kind: link_down, hold: 1s}, or a "
                             "list of them (one case per fault), got 'link_down'"))
      << dump(ds);
}

TEST(SpecFaultsErrors, LossNeedsAPercentage) {
  auto ds = diagnostics_of(head() + "    fault: {kind: loss, loss: 0.05}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 31, "cases[0].fault.loss",
                             "expected a percentage of packets dropped such as 5%, got '0.05'"));
  ds = diagnostics_of(head() + "    fault: {kind: loss, loss: 150%}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 31, "cases[0].fault.loss",
                             "must be between 0.01% and 100%, got 150%"))
      << dump(ds);
  ds = diagnostics_of(head() + "    fault: {kind: loss}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 12, "cases[0].fault",
                             "missing 'loss' for a loss fault: the fraction of packets dropped, "
                             "such as 5%"))
      << dump(ds);
  // loss elsewhere.
  ds = diagnostics_of(head() + "    fault: {kind: delay, delay: 1ms, loss: 5%}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 38, "cases[0].fault.loss",
                             "'loss' applies only to kind loss; this fault's kind is delay"));
}

TEST(SpecFaultsErrors, RateLimitNeedsABitRate) {
  auto ds = diagnostics_of(head() + "    fault:\n      kind: rate_limit\n      hold: 2s\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 7, "cases[0].fault",
                             "missing 'rate' for a rate_limit fault: the rate the link is limited "
                             "to, in bits per second, such as 100Mb/s"));
  ds = diagnostics_of(head() + "    fault: {kind: rate_limit, rate: 200k/s}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 37, "cases[0].fault.rate",
                             "expected a rate in bits per second such as 100Mb/s, got '200k/s' "
                             "(operations per second)"))
      << dump(ds);
  ds = diagnostics_of(head() + "    fault: {kind: rate_limit, rate: 12MB/s}\n");
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 9, 37, "cases[0].fault.rate", "is a rate in bytes per second"))
      << dump(ds);
  ds = diagnostics_of(head() + "    fault: {kind: link_down, rate: 1Gb/s}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 30, "cases[0].fault.rate",
                             "'rate' applies only to kind rate_limit; this fault's kind is "
                             "link_down"))
      << dump(ds);
}

TEST(SpecFaultsErrors, DelayNeedsADuration) {
  auto ds = diagnostics_of(head() + "    fault: {kind: delay}\n");
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 9, 12, "cases[0].fault", "missing 'delay' for a delay fault"))
      << dump(ds);
  ds = diagnostics_of(head() + "    fault: {kind: delay, delay: 20s}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 33, "cases[0].fault.delay",
                             "must be between 1us and 10s, got 20s"))
      << dump(ds);
}

TEST(SpecFaultsErrors, NetnsCannotDelay) {
  const auto ds =
      diagnostics_of(head("{backend: netns}") + "    fault: {kind: delay, delay: 10ms}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 19, "cases[0].fault.kind",
                             "injector backend netns cannot cause a delay fault (it can cause "
                             "link_down, flap, blackhole, loss, rate_limit): this kernel has no "
                             "netem (sch_netem), which delay needs; use backend vm"));
}

TEST(SpecFaultsErrors, NetnsCannotReachVerbs) {
  const auto ds = diagnostics_of(head("{backend: netns}") +
                                 "    transport: [tcp, verbs]\n"
                                 "    fault: [{kind: link_down}, {kind: loss, loss: 1%}]\n");
  // Once per fault: the tcp cases are fine.
  ASSERT_EQ(ds.size(), 2U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 20, "cases[0].fault[0].kind",
                             "injector backend netns cannot cause faults on transport verbs: the "
                             "namespaces have no RDMA device; use backend vm with the Soft-RoCE "
                             "guests"));
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 39, "cases[0].fault[1].kind",
                             "cannot cause faults on transport verbs"));
}

TEST(SpecFaultsErrors, LinkAndIbportOnlyTakePortsDown) {
  auto ds = diagnostics_of(head("{backend: link, target: eth1, allow: [eth1]}") +
                           "    fault: {kind: loss, loss: 1%}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 19, "cases[0].fault.kind",
                             "injector backend link cannot cause a loss fault (it can cause "
                             "link_down, flap): host tc, iptables and nft do not touch a hardware "
                             "RoCE or InfiniBand NIC's traffic"));
  ds = diagnostics_of(head("{backend: ibport, target: '2:1'}") + "    fault: {kind: link_down}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 19, "cases[0].fault.kind",
                             "injector backend ibport cannot cause faults on transport tcp"));
}

TEST(SpecFaultsErrors, FaultNeedsDuration) {
  auto ds = diagnostics_of(
      "fabricbench: 1\nname: f\ninjector: {backend: vm}\ncases:\n"
      "  - name: g\n"
      "    suite: stream\n"
      "    sizes: 4KiB\n"
      "    iterations: 100000\n"
      "    fault: {kind: link_down}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 8, 17, "cases[0].iterations",
                             "a fault is timed from the start of the measured phase (its start, "
                             "hold and period are lengths of time), so it needs 'duration', not "
                             "'iterations': set 'duration' instead of 'iterations'"));
  // Iterations from defaults: at the group's fault.
  ds = diagnostics_of(
      "fabricbench: 1\nname: f\ninjector: {backend: vm}\ndefaults: {iterations: 10}\ncases:\n"
      "  - {name: g, suite: stream, sizes: 8, fault: {kind: link_down}}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 6, 47, "cases[0].fault",
                             "this group inherits 'iterations' from defaults; set 'duration' in "
                             "the group"))
      << dump(ds);
  // Both from defaults: once, at defaults.fault.
  ds = diagnostics_of(
      "fabricbench: 1\nname: f\ninjector: {backend: vm}\n"
      "defaults: {iterations: 10, fault: {kind: link_down}}\ncases:\n"
      "  - {name: a, suite: stream, sizes: 8}\n"
      "  - {name: b, suite: stream, sizes: 8}\n"
      "  - {name: c, suite: stream, sizes: 8, duration: 3s}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 35, "defaults.fault",
                             "defaults set 'iterations' too; set 'duration'"));
}

TEST(SpecFaultsErrors, TimelineMustFitTheDuration) {
  auto ds = diagnostics_of(head() +
                           "    fault:\n"
                           "      kind: flap\n"
                           "      start: 1s\n"
                           "      hold: 500ms\n"
                           "      count: 3\n"
                           "      period: 2s\n"
                           "      jitter: 100ms\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 7, "cases[0].fault",
                             "the fault's timeline does not fit in the measured phase: start 1s + "
                             "jitter 100ms + (count 3 - 1) x period 2s + hold 500ms = 5.6s, which "
                             "must be less than duration 5s"));
  // The default period is 2 x hold; exactly the duration does not fit either.
  ds = diagnostics_of(head() + "    fault: {kind: flap, start: 0s, hold: 1s, count: 3}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 12, "cases[0].fault",
                             "start 0ns + jitter 0ns + (count 3 - 1) x period 2s + hold 1s = 5s, "
                             "which must be less than duration 5s"))
      << dump(ds);
  // A duration matrix: only the short one.
  ds = diagnostics_of(head("{backend: vm}", "[2s, 10s]") + "    fault: {kind: link_down}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 12, "cases[0].fault",
                             "start 1s + jitter 0ns + hold 1s = 2s, which must be less than "
                             "duration 2s"));
}

TEST(SpecFaultsErrors, FaultNeedsAnInjector) {
  auto ds = diagnostics_of(
      "fabricbench: 1\nname: f\ncases:\n"
      "  - {name: g, suite: stream, sizes: 8, duration: 5s, fault: {kind: blackhole}}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 68, "cases[0].fault.kind",
                             "a blackhole fault needs something to cause it: add a top-level "
                             "injector: {backend: ...}"));
  ds = diagnostics_of(head("{backend: none}") + "    fault: {kind: link_down}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 19, "cases[0].fault.kind",
                             "add a top-level injector: {backend: ...}"))
      << dump(ds);
  // Written in a group, the injector is pointed to the top level.
  ds = diagnostics_of(head() + "    injector: {backend: vm}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 5, "cases[0].injector",
                             "unknown key 'injector'; 'injector' is a top-level key"))
      << dump(ds);
}

TEST(SpecFaultsErrors, FaultNeedsAClosedFloorOrRealisticRegime) {
  auto ds = diagnostics_of(
      "fabricbench: 1\nname: f\ninjector: {backend: vm}\ncases:\n"
      "  - name: g\n"
      "    suite: stream\n"
      "    sizes: 8\n"
      "    regime: {kind: overload, rate: 50%}\n"
      "    fault: {kind: link_down}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 19, "cases[0].fault.kind",
                             "a fault needs regime closed, floor or realistic, whose measured "
                             "phase lasts 'duration'; regime overload runs its own step profile"))
      << dump(ds);
  // The fault from defaults, the kind in the group: at the kind.
  ds = diagnostics_of(
      "fabricbench: 1\nname: f\ninjector: {backend: vm}\n"
      "defaults: {fault: {kind: link_down}}\ncases:\n"
      "  - {name: g, suite: stream, sizes: 8, regime: {kind: search}}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 6, 55, "cases[0].regime.kind",
                             "regime search only searches for the sustainable rate"));
}

TEST(SpecFaultsErrors, BinAndIntervalMustAgree) {
  const auto ds =
      diagnostics_of(head() + "    interval: 100ms\n    fault: {kind: link_down, bin: 10ms}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 10, 35, "cases[0].fault.bin",
                             "bin 10ms differs from interval 100ms (cases[0].interval): the "
                             "recovery curve is read from the interval series"));
}

TEST(SpecFaultsErrors, PeriodMustExceedHold) {
  const auto ds = diagnostics_of(head("{backend: vm}", "20s") +
                                 "    fault: {kind: flap, hold: 1s, count: 3, period: 1s}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 53, "cases[0].fault.period",
                             "period 1s must be longer than hold 1s when count is 3"));
}

TEST(SpecFaultsErrors, FaultValuesAndRanges) {
  auto ds = diagnostics_of(head() + "    fault: {kind: link_down, hold: [1s, 2s]}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 36, "cases[0].fault.hold",
                             "a list inside a fault is not a matrix; to vary the fault, give a "
                             "list of fault mappings"))
      << dump(ds);
  ds = diagnostics_of(head() + "    fault: {kind: link_down, hold: 500us}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 36, "cases[0].fault.hold",
                             "must be between 1ms and 1h, got 500us"))
      << dump(ds);
  ds = diagnostics_of(head() + "    fault: {kind: flap, count: 0}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 32, "cases[0].fault.count",
                             "must be between 1 and 1000, got 0"))
      << dump(ds);
  ds = diagnostics_of(head() + "    fault: {kind: link_down, consecutive: 1001}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 43, "cases[0].fault.consecutive",
                             "must be between 1 and 1000, got 1001"))
      << dump(ds);
  ds = diagnostics_of(head() + "    fault: {kind: link_down, bin: 20s}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 35, "cases[0].fault.bin",
                             "must be between 1ms and 10s, got 20s"))
      << dump(ds);
  ds = diagnostics_of(head() + "    fault: {kind: none, hold: 2s}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 25, "cases[0].fault.hold",
                             "a fault of kind none (no fault) takes no other keys; remove 'hold'"))
      << dump(ds);
  ds = diagnostics_of(head() + "    fault: [{kind: link_down}, {kind: link_down, hold: 1s}]\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 32, "cases[0].fault[1]",
                             "value 'link_down' is already in the list (as cases[0].fault[0])"))
      << dump(ds);
  ds = diagnostics_of(head() + "    fault: []\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 12, "cases[0].fault", "an empty list gives no cases"))
      << dump(ds);
}

TEST(SpecFaultsErrors, LinkTargetMustBeAllowed) {
  auto ds = diagnostics_of(head("{backend: link, target: eth1, allow: [eth2, eth3]}") +
                           "    fault: {kind: link_down}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 35, "injector.target",
                             "target 'eth1' is not in 'allow' (eth2 and eth3): backend link takes "
                             "down only an interface listed in allow"));
  ds = diagnostics_of(head("{backend: link, allow: [eth2]}") + "    fault: {kind: link_down}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 11, "injector",
                             "backend link needs 'target': the interface it takes down and up"))
      << dump(ds);
  ds = diagnostics_of(head("{backend: vm, allow: [eth0], force: true}") +
                      "    fault: {kind: link_down}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 25, "injector.allow",
                             "'allow' applies only to backend link; this injector's backend is vm"))
      << dump(ds);
  EXPECT_TRUE(
      has_diagnostic(ds, "t.yaml", 3, 40, "injector.force", "'force' applies only to backend link"))
      << dump(ds);
}

TEST(SpecFaultsErrors, CommandBackendNeedsItsCommands) {
  auto ds = diagnostics_of(head("{backend: command, clear: 'tc qdisc del dev eth0 root'}") +
                           "    fault: {kind: loss, loss: 1%}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 11, "injector",
                             "backend command needs 'inject': the shell command that causes the "
                             "fault"));
  ds = diagnostics_of(head("{backend: command, inject: '', clear: x}") +
                      "    fault: {kind: loss, loss: 1%}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 38, "injector.inject",
                             "backend command needs a command in 'inject', got an empty text"))
      << dump(ds);
  ds = diagnostics_of(head("{backend: vm, inject: x}") + "    fault: {kind: loss, loss: 1%}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 25, "injector.inject",
                             "'inject' applies only to backend command"))
      << dump(ds);
}

TEST(SpecFaultsErrors, NetnsNeedsTheLocalLauncherAndEvenRanks) {
  auto ds = diagnostics_of(
      "fabricbench: 1\nname: f\nlauncher: mpi\ninjector: {backend: netns}\ncases:\n"
      "  - {name: g, suite: stream, sizes: 8, duration: 5s, fault: {kind: link_down}}\n");
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 21, "injector.backend",
                             "backend netns starts every rank on this host, in two network "
                             "namespaces: it needs launcher local (or auto without an mpi, slurm "
                             "or env launch), not mpi"));
  ds = diagnostics_of(
      "fabricbench: 1\nname: f\nranks: 3\ninjector: {backend: netns}\ncases:\n"
      "  - {name: g, suite: stream, sizes: 8, duration: 5s}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 4, 21, "injector.backend", "ranks must be even, got 3"))
      << dump(ds);
  ds = diagnostics_of(head("{backend: netns, target: eth0}") + "    fault: {kind: link_down}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 36, "injector.target",
                             "target must be empty or fbd0, got 'eth0'"))
      << dump(ds);
}

TEST(SpecFaultsErrors, InjectorKeys) {
  auto ds = diagnostics_of(head("{backend: ibport, target: mlx5_0}") + "    transport: verbs\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 37, "injector.target",
                             "expected LID:PORT (digits:digits) such as 3:1, got 'mlx5_0'"))
      << dump(ds);
  ds = diagnostics_of(head("{backnd: vm}"));
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 12, "injector.backnd",
                             "unknown key 'backnd' in injector; did you mean 'backend'?"))
      << dump(ds);
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 11, "injector",
                             "missing required key 'backend' in injector (one of none, netns, vm, "
                             "link, ibport, command)"))
      << dump(ds);
  ds = diagnostics_of(head("{backend: tc}"));
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 21, "injector.backend",
                             "unknown value 'tc'; valid values: none, netns, vm, link, ibport, "
                             "command"))
      << dump(ds);
  ds = diagnostics_of(head("{backend: command, inject: a, clear: b, command_timeout: 20min}"));
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 68, "injector.command_timeout",
                             "must be between 1s and 10m, got 20m"))
      << dump(ds);
  ds = diagnostics_of(head("{backend: vm, link_rate: 1Gb/s}"));
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 25, "injector.link_rate",
                             "'link_rate' applies only to backend netns; this injector's backend "
                             "is vm"))
      << dump(ds);
  ds = diagnostics_of(head("{backend: netns, link_rate: 2000/s}"));
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 39, "injector.link_rate",
                             "expected a rate in bits per second such as 100Mb/s, got '2000/s' "
                             "(operations per second); a rate limit is a link speed"))
      << dump(ds);
  ds = diagnostics_of(head("{backend: netns, link_rate: 4b/s}"));
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 39, "injector.link_rate",
                             "must be at least 8 bit/s, got 4b/s"))
      << dump(ds);
  ds = diagnostics_of(head("netns"));
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 3, 11, "injector",
                             "expected a mapping such as {backend: netns}, got 'netns'"))
      << dump(ds);
  // A fault at the top level is pointed to defaults.
  ds = diagnostics_of(head() + "fault: {kind: link_down}\n");
  EXPECT_TRUE(has_diagnostic(ds, "t.yaml", 9, 1, "fault",
                             "'fault' is a case key: put it under 'defaults' or in a case group"))
      << dump(ds);
}

}  // namespace
}  // namespace fabricbench::spec
