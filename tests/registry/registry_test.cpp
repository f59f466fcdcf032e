// A backend joins by its folder and one registry entry: the test-only "loop" transport, added to
// the binary's own table here, validates with its own key (with "did you mean" for a misspelt
// one), refuses what its checks refuse, and runs experiments through the engine. And the
// registry's declarations are consistent.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include "harness/cli/registry.hpp"
#include "harness/engine/engine.hpp"
#include "harness/spec/loader.hpp"
#include "results/run_document.hpp"
#include "tests/contract/inproc_bootstrap.hpp"
#include "tests/contract/memory_standin.hpp"
#include "tests/registry/loop_transport.hpp"

namespace fabricbench {
namespace {

engine::Registry with_loop() {
  engine::Registry r = cli::make_registry();
  r.transports.push_back({testkit::loop::descriptor(), {}});
  return r;
}

const std::string kLoop =
    "fabricbench: 1\n"
    "name: loopy\n"
    "cases:\n"
    "  - name: lat\n"
    "    suite: pingpong\n"
    "    transport: loop\n"
    "    sizes: [8, 4KiB]\n"
    "    iterations: 200\n"
    "    loop: {queue_depth: 16}\n"
    "  - name: bw\n"
    "    suite: stream\n"
    "    transport: loop\n"
    "    sizes: 64KiB\n"
    "    iterations: 300\n"
    "    window: 8\n";

std::vector<spec::Diagnostic> diagnostics(const std::string& text, const spec::Catalog& catalog) {
  try {
    (void)spec::load_experiment_text(text, "loop.yaml", catalog);
  } catch (const spec::ConfigError& e) {
    return e.diagnostics();
  }
  ADD_FAILURE() << "expected diagnostics for:\n" << text;
  return {};
}

std::string dump(const std::vector<spec::Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += d.to_string() + "\n";
  return out;
}

// Runs `e` as two in-process ranks through the engine into a fresh temporary folder, expecting
// both to succeed; returns the folder (the caller reads and removes it).
// Runs `e` on `ranks` in-process ranks; every rank's outcome.
std::vector<engine::RunOutcome> run_engine(int ranks, const engine::Registry& registry,
                                           const spec::Experiment& e,
                                           const std::filesystem::path& dir) {
  std::filesystem::remove_all(dir);
  engine::RunOptions options;
  options.output_dir = dir.string();
  std::vector<engine::RunOutcome> outcomes(static_cast<std::size_t>(ranks));
  const auto errors = testkit::run_ranks(ranks, [&](bootstrap::Bootstrap& bs) {
    outcomes[static_cast<std::size_t>(bs.rank())] =
        engine::run_experiment(bs, e, registry, options, nullptr);
  });
  for (std::size_t r = 0; r < errors.size(); ++r) EXPECT_EQ(errors[r], "") << "rank " << r;
  return outcomes;
}

std::filesystem::path run_two_ranks(const engine::Registry& registry, const spec::Experiment& e,
                                    const std::string& tag) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("fabricbench-" + tag + "-" + std::to_string(::getpid()));
  for (const auto& o : run_engine(2, registry, e, dir)) {
    EXPECT_EQ(o.exit_code, core::ExitCode::ok) << o.error;
  }
  return dir;
}

TEST(Registry, ATestOnlyTransportValidatesWithItsOwnKey) {
  const engine::Registry registry = with_loop();
  const spec::Experiment e = spec::load_experiment_text(kLoop, "loop.yaml", registry.catalog());
  ASSERT_EQ(e.cases.size(), 3U);
  EXPECT_EQ(e.cases[0].id, "lat.pingpong.loop.8B");
  EXPECT_EQ(e.cases[0].transport_settings.integer("queue_depth"), 16);
  EXPECT_EQ(e.cases[2].transport_settings.integer("queue_depth"), 64);  // its declared default
  EXPECT_EQ(e.resolved["cases"][0]["loop"]["queue_depth"], 16);
  EXPECT_FALSE(e.resolved["cases"][0].contains("tcp"));
  EXPECT_EQ(e.cases[2].connections, 1);  // the loop declares no connections key
}

TEST(Registry, WithoutItsEntryTheTransportIsUnknown) {
  const auto ds = diagnostics(kLoop, cli::make_registry().catalog());
  ASSERT_FALSE(ds.empty());
  EXPECT_EQ(ds[0].line, 6) << dump(ds);
  EXPECT_NE(ds[0].message.find("unknown value 'loop'"), std::string::npos) << dump(ds);
  EXPECT_NE(dump(ds).find("unknown key 'loop'"), std::string::npos) << dump(ds);
}

TEST(Registry, AMisspeltKeyOfTheTestTransportGetsDidYouMean) {
  const engine::Registry registry = with_loop();
  std::string text = kLoop;
  text.replace(text.find("queue_depth: 16"), 15, "queue_dept: 16");
  const auto ds = diagnostics(text, registry.catalog());
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_EQ(ds[0].line, 9);
  EXPECT_EQ(ds[0].column, 12);
  EXPECT_EQ(ds[0].field, "cases[0].loop.queue_dept");
  EXPECT_EQ(ds[0].message, "unknown key 'queue_dept' in loop; did you mean 'queue_depth'?");
}

TEST(Registry, TheTestTransportsRangeAndChecksAreReportedWhereWritten) {
  const engine::Registry registry = with_loop();
  std::string text = kLoop;
  text.replace(text.find("queue_depth: 16"), 15, "queue_depth: 0");
  auto ds = diagnostics(text, registry.catalog());
  ASSERT_EQ(ds.size(), 1U) << dump(ds);
  EXPECT_EQ(ds[0].field, "cases[0].loop.queue_depth");
  EXPECT_EQ(ds[0].message, "must be between 1 and 65536, got 0");

  ds = diagnostics(kLoop + "    on_break: reconnect\n    loop: {queue_depth: 2}\n",
                   registry.catalog());
  ASSERT_EQ(ds.size(), 2U) << dump(ds);
  EXPECT_EQ(ds[0].to_string(),
            "loop.yaml:16:15: cases[1].on_break: the loop transport has no connection to "
            "re-establish");
  EXPECT_EQ(ds[1].to_string(),
            "loop.yaml:17:25: cases[1].loop.queue_depth: a stream needs a queue depth of at "
            "least 3");
}

TEST(Registry, TheEngineRunsTheTestTransport) {
  const engine::Registry registry = with_loop();
  const spec::Experiment e = spec::load_experiment_text(kLoop, "loop.yaml", registry.catalog());
  const auto dir = run_two_ranks(registry, e, "loop");
  const results::RunDocument doc = results::read_run_document((dir / "run.json").string());
  EXPECT_EQ(doc.status, results::RunStatus::complete);
  ASSERT_EQ(doc.cases.size(), 3U);
  for (const auto& c : doc.cases) {
    EXPECT_EQ(c.status, results::CaseStatus::ok) << c.id;
    EXPECT_EQ(c.transport, "loop");
    ASSERT_EQ(c.repetitions.size(), 1U) << c.id;
  }
  EXPECT_EQ(doc.cases[0].repetitions[0].latency.count(), 200U);
  // Counted by the receiver, first message to last (the stream's methodology).
  const auto& bw = doc.cases[2].repetitions[0];
  EXPECT_GE(bw.ops, 299U);
  EXPECT_LE(bw.ops, 300U);
  EXPECT_EQ(bw.bytes, bw.ops * 64 * 1024);
  EXPECT_GT(doc.cases[2].repetitions[0].bw_gbps, 0.0);
  EXPECT_NE(doc.cases[0].endpoints.at(0).get<std::string>().find("loop rank 0 <-> rank 1"),
            std::string::npos);
  std::filesystem::remove_all(dir);
}

// buffers: shared (every message of a connection in one slot, perftest's *_bw layout) moves and
// counts every message as distinct slots do, in both directions.
TEST(Registry, StreamWithSharedBuffersCountsEveryMessage) {
  const engine::Registry registry = with_loop();
  const spec::Experiment e = spec::load_experiment_text(
      "fabricbench: 1\n"
      "name: shared\n"
      "cases:\n"
      "  - name: bw\n"
      "    suite: stream\n"
      "    transport: loop\n"
      "    sizes: 64KiB\n"
      "    iterations: 300\n"
      "    window: 8\n"
      "    direction: [uni, bidir]\n"
      "    buffers: shared\n",
      "loop.yaml", registry.catalog());
  const auto dir = run_two_ranks(registry, e, "loop-shared");
  const results::RunDocument doc = results::read_run_document((dir / "run.json").string());
  EXPECT_EQ(doc.status, results::RunStatus::complete);
  ASSERT_EQ(doc.cases.size(), 2U);
  for (const auto& c : doc.cases) {
    SCOPED_TRACE(c.id);
    EXPECT_EQ(c.status, results::CaseStatus::ok);
    ASSERT_EQ(c.repetitions.size(), 1U);
    const auto& bw = c.repetitions[0];
    EXPECT_GE(bw.ops, 299U);
    EXPECT_EQ(bw.bytes, bw.ops * 64 * 1024);
    EXPECT_GT(bw.bw_gbps, 0.0);
  }
  std::filesystem::remove_all(dir);
}

// Buffers larger than the host's memory (1 GiB messages x a window of 4096, sent and received)
// fail their case before anything is mapped, naming the figure; the run goes on and finishes.
TEST(Registry, BuffersBeyondTheHostsMemoryFailTheCaseFirst) {
  const engine::Registry registry = with_loop();
  const spec::Experiment e = spec::load_experiment_text(
      "fabricbench: 1\nname: huge\ncases:\n"
      "  - {name: huge, suite: stream, transport: loop, sizes: 1GiB, iterations: 10, "
      "window: 4096}\n"
      "  - {name: small, suite: pingpong, transport: loop, sizes: 8, iterations: 10}\n",
      "huge.yaml", registry.catalog());
  const auto dir =
      std::filesystem::temp_directory_path() / ("fabricbench-huge-" + std::to_string(::getpid()));
  for (const auto& o : run_engine(2, registry, e, dir)) {
    EXPECT_EQ(o.exit_code, core::ExitCode::run_failed) << o.error;
  }
  const results::RunDocument doc = results::read_run_document((dir / "run.json").string());
  EXPECT_NE(doc.status, results::RunStatus::running);
  ASSERT_GE(doc.cases.size(), 1U);
  EXPECT_EQ(doc.cases[0].status, results::CaseStatus::failed);
  ASSERT_FALSE(doc.cases[0].errors.empty());
  EXPECT_NE(doc.cases[0].errors[0].message.find("more than this host's"), std::string::npos)
      << doc.cases[0].errors[0].message;
  std::filesystem::remove_all(dir);
}

// pattern all_pairs on 5 ranks (odd: one bye per round): every pair measured once per repetition
// in 5 rounds of 2 disjoint pairs, the data verified, the map judged and recorded with its
// retests and verdict, and every rank's exit code agreeing with the verdict.
TEST(Registry, AnAllPairsMapMeasuresEveryPair) {
  const engine::Registry registry = cli::make_registry();
  const spec::Experiment e = spec::load_experiment_text(
      "fabricbench: 1\nname: map\ncases:\n"
      "  - {name: lat, suite: pingpong, transport: tcp, pattern: all_pairs, verify: true,\n"
      "     sizes: 64, iterations: 50, warmup: 0, completion: blocking}\n"
      "  - {name: bw, suite: stream, transport: tcp, pattern: all_pairs, verify: true,\n"
      "     sizes: 64KiB, iterations: 50, warmup: 0, completion: blocking,\n"
      "     map: {bandwidth_fraction: 10%, retest_partners: 1}}\n",
      "map.yaml", registry.catalog());
  ASSERT_EQ(e.cases[1].map.bandwidth_fraction, 0.1);
  EXPECT_EQ(e.resolved["cases"][0]["pattern"], "all_pairs");
  const auto dir =
      std::filesystem::temp_directory_path() / ("fabricbench-map-" + std::to_string(::getpid()));
  const auto outcomes = run_engine(5, registry, e, dir);
  const results::RunDocument doc = results::read_run_document((dir / "run.json").string());
  ASSERT_EQ(doc.cases.size(), 2U);
  bool clean = true;
  for (const auto& c : doc.cases) {
    ASSERT_EQ(c.status, results::CaseStatus::ok) << c.id;
    const auto& m = c.summary.at("map");
    EXPECT_EQ(m.at("rounds"), 5) << c.id;
    EXPECT_EQ(m.at("nodes").size(), 5U) << c.id;
    EXPECT_EQ(m.at("metric"), c.suite == "stream" ? "bandwidth" : "latency") << c.id;
    for (int a = 0; a < 5; ++a) {
      for (int b = 0; b < 5; ++b) {
        const auto& v = m.at("matrix").at(a).at(b);
        if (a == b) {
          EXPECT_TRUE(v.is_null()) << c.id;
        } else {
          ASSERT_TRUE(v.is_number()) << c.id << " " << a << "-" << b;
          EXPECT_GT(v.get<double>(), 0.0) << c.id;
          EXPECT_EQ(v, m.at("matrix").at(b).at(a)) << c.id;
        }
      }
    }
    const double best = m.at("reference").get<double>();
    EXPECT_GT(best, 0.0);
    // Every suspect pair no suspect node explains was measured again.
    const auto& v = m.at("verdict");
    const auto& suspect_nodes = m.at("suspects").at("nodes");
    for (const auto& p : m.at("suspects").at("pairs")) {
      const bool node =
          std::find(suspect_nodes.begin(), suspect_nodes.end(), p[0]) != suspect_nodes.end() ||
          std::find(suspect_nodes.begin(), suspect_nodes.end(), p[1]) != suspect_nodes.end();
      if (node) continue;
      EXPECT_TRUE(m.at("retest").at("matrix").at(p[0].get<int>()).at(p[1].get<int>()).is_number())
          << c.id << " " << p;
    }
    if (m.at("suspects").at("pairs").empty()) {
      EXPECT_TRUE(v.at("findings").empty()) << c.id;
      EXPECT_EQ(m.at("retest").at("rounds"), 0) << c.id;
    }
    clean = clean && v.at("clean").get<bool>();
  }
  for (const auto& o : outcomes) {
    EXPECT_EQ(o.exit_code, clean ? core::ExitCode::ok : core::ExitCode::map_found_bad) << o.error;
  }
  std::filesystem::remove_all(dir);
}

// Checks a pattern incast or shift summary of n ranks: every ordered pair a flow once, with a
// figure > 0 that the directed matrix holds at (from, to); each step's aggregate the sum of its
// flows.
void expect_flows_map(const nlohmann::json& m, int n, const std::string& id) {
  const bool incast = m.at("pattern") == "incast";
  ASSERT_EQ(m.at("steps").size(), static_cast<std::size_t>(incast ? n : n - 1)) << id;
  std::set<std::pair<int, int>> seen;
  for (const auto& step : m.at("steps")) {
    double sum = 0;
    for (const auto& f : step.at("flows")) {
      const int a = f.at(0).get<int>();
      const int b = f.at(1).get<int>();
      EXPECT_TRUE(seen.insert({a, b}).second) << id << " " << a << " -> " << b;
      ASSERT_TRUE(f.at(2).is_number()) << id << " " << a << " -> " << b;
      EXPECT_GT(f.at(2).get<double>(), 0.0) << id;
      EXPECT_EQ(m.at("matrix").at(a).at(b), f.at(2)) << id;
      sum += f.at(2).get<double>();
    }
    EXPECT_NEAR(step.at("aggregate").get<double>(), sum, 1e-9 * sum) << id;
    if (incast) {
      EXPECT_EQ(step.at("flows").size(), static_cast<std::size_t>(n - 1)) << id;
      EXPECT_EQ(m.at("incast_bandwidth").at(step.at("target").get<std::size_t>()),
                step.at("aggregate"))
          << id;
    }
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(n * (n - 1))) << id;
  for (int a = 0; a < n; ++a) EXPECT_TRUE(m.at("matrix").at(a).at(a).is_null()) << id;
}

// patterns incast and shift on 4 ranks (shift by 2: two flows both ways between the same ranks,
// on separate connections) with 2 connections per flow and the data verified, and on 3 ranks
// (odd): every ordered pair measured, the exit code unchanged.
TEST(Registry, IncastAndShiftMeasureEveryOrderedPair) {
  const engine::Registry registry = cli::make_registry();
  const spec::Experiment e = spec::load_experiment_text(
      "fabricbench: 1\nname: flows\n"
      "defaults: {suite: stream, transport: tcp, verify: true, sizes: 16KiB, iterations: 40,\n"
      "           warmup: 0, completion: blocking, window: 4, tcp: {connections: 2}}\n"
      "cases:\n  - {name: incast, pattern: incast}\n  - {name: shift, pattern: shift}\n",
      "flows.yaml", registry.catalog());
  for (const int n : {4, 3}) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("fabricbench-flows-" + std::to_string(::getpid()) + "-" + std::to_string(n));
    for (const auto& o : run_engine(n, registry, e, dir)) {
      EXPECT_EQ(o.exit_code, core::ExitCode::ok) << o.error;
    }
    const results::RunDocument doc = results::read_run_document((dir / "run.json").string());
    ASSERT_EQ(doc.cases.size(), 2U);
    for (const auto& c : doc.cases) {
      ASSERT_EQ(c.status, results::CaseStatus::ok) << c.id;
      expect_flows_map(c.summary.at("map"), n, c.id);
    }
    std::filesystem::remove_all(dir);
  }
}

// Memory staged by the transport cannot be split per flow: the case is skipped, saying why.
TEST(Registry, IncastOverStagedMemoryIsSkipped) {
  engine::Registry registry = cli::make_registry();
  registry.memory.push_back(testkit::standin_memory());
  const spec::Experiment e = spec::load_experiment_text(
      "fabricbench: 1\nname: staged-incast\ncases:\n"
      "  - {name: bw, suite: stream, transport: tcp, memory: standin_device, pattern: incast,\n"
      "     sizes: 4KiB, iterations: 20, warmup: 0}\n",
      "staged.yaml", registry.catalog());
  const auto dir =
      std::filesystem::temp_directory_path() / ("fabricbench-sf-" + std::to_string(::getpid()));
  for (const auto& o : run_engine(2, registry, e, dir)) {
    EXPECT_EQ(o.exit_code, core::ExitCode::ok) << o.error;
  }
  const results::RunDocument doc = results::read_run_document((dir / "run.json").string());
  ASSERT_EQ(doc.cases.size(), 1U);
  EXPECT_EQ(doc.cases[0].status, results::CaseStatus::skipped);
  EXPECT_NE(doc.cases[0].skip_reason.find("cannot be split per flow"), std::string::npos)
      << doc.cases[0].skip_reason;
  std::filesystem::remove_all(dir);
}

// Memory the transport cannot register (the GPU stand-in over TCP) is staged by the engine: the
// data arrives verified, and each rank's memory record says how it went and counts the copies.
TEST(Registry, TheEngineStagesMemoryTheTransportCannotRegister) {
  engine::Registry registry = cli::make_registry();
  registry.memory.push_back(testkit::standin_memory());
  const spec::Experiment e = spec::load_experiment_text(
      "fabricbench: 1\nname: staged\ncases:\n"
      "  - {name: lat, suite: pingpong, transport: tcp, memory: standin_device, verify: true,\n"
      "     sizes: 4KiB, iterations: 50, warmup: 0}\n"
      "  - {name: bw, suite: stream, transport: tcp, memory: standin_device, verify: true,\n"
      "     sizes: 64KiB, iterations: 100, warmup: 0, window: 8}\n",
      "staged.yaml", registry.catalog());
  const auto dir = run_two_ranks(registry, e, "staged");
  const results::RunDocument doc = results::read_run_document((dir / "run.json").string());
  ASSERT_EQ(doc.cases.size(), 2U);
  const std::uint64_t sizes[] = {4096, 65536};
  const std::uint64_t least[2][2] = {{50, 50}, {100, 0}};  // [case][rank] messages sent
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& c = doc.cases[i];
    ASSERT_EQ(c.status, results::CaseStatus::ok) << c.id << ": " << c.skip_reason;
    ASSERT_TRUE(c.memory.is_array() && c.memory.size() == 2) << c.memory.dump();
    for (std::size_t r = 0; r < 2; ++r) {
      const auto& m = c.memory[r];
      EXPECT_EQ(m.at("provider"), "standin_device");
      EXPECT_EQ(m.at("registration"), "staged through host (host memory)");
      const auto& to_host = m.at("staging").at("to_host");
      const auto& to_device = m.at("staging").at("to_device");
      EXPECT_GE(to_host.at("copies").get<std::uint64_t>(), least[i][r]) << c.id << " rank " << r;
      EXPECT_EQ(to_host.at("bytes").get<std::uint64_t>(),
                to_host.at("copies").get<std::uint64_t>() * sizes[i])
          << c.id << " rank " << r << ": every staged send is a whole message";
      EXPECT_GE(to_device.at("copies").get<std::uint64_t>(), least[i][1 - r])
          << c.id << " rank " << r << " received what its peer sent";
    }
  }
  std::filesystem::remove_all(dir);
}

// A suite cannot take over one of the loader's own case keys (a registry bug, said at once).
TEST(Registry, ASuiteKeyCannotShadowALoaderKey) {
  engine::Registry r = cli::make_registry();
  r.suites.front().descriptor.keys.push_back(
      core::count_key("repetitions", 1, 10, 1, "Shadows the loader's own key."));
  try {
    (void)spec::load_experiment_text(kLoop, "loop.yaml", r.catalog());
    ADD_FAILURE() << "loaded";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::runtime);
    EXPECT_NE(std::string(e.what()).find("declares the key 'repetitions'"), std::string::npos)
        << e.what();
  }
}

// Every declaration is usable: a doc line, a plan field, a default the key accepts, no name
// twice; a key several suites declare is declared alike.
TEST(Registry, DeclarationsAreConsistent) {
  const engine::Registry registry = with_loop();
  const auto check = [](const std::string& owner, const std::vector<core::KeyDecl>& keys) {
    std::set<std::string> names;
    for (const auto& k : keys) {
      EXPECT_TRUE(names.insert(k.name).second) << owner << ": " << k.name << " twice";
      EXPECT_FALSE(k.doc.empty()) << owner << "." << k.name;
      EXPECT_FALSE(k.plan_name.empty()) << owner << "." << k.name;
      if (k.type == core::KeyType::choice) {
        EXPECT_NE(std::find(k.choices.begin(), k.choices.end(), k.default_text()), k.choices.end())
            << owner << "." << k.name;
      }
      const bool ranged = k.type == core::KeyType::count || k.type == core::KeyType::size ||
                          k.type == core::KeyType::duration;
      // A negative count is "unset" (verbs.gid_index: automatic); anything else is in range.
      if (ranged && k.default_value.number >= 0) {
        EXPECT_GE(static_cast<std::uint64_t>(k.default_value.number), k.lo)
            << owner << "." << k.name;
        EXPECT_LE(static_cast<std::uint64_t>(k.default_value.number), k.hi)
            << owner << "." << k.name;
      }
    }
  };
  for (const auto& t : registry.transports) {
    check(t.name(), t.descriptor.keys);
    EXPECT_FALSE(t.descriptor.description.empty());
    if (!t.descriptor.connections_key.empty()) {
      EXPECT_NE(core::find_key(t.descriptor.keys, t.descriptor.connections_key), nullptr);
    }
    if (!t.descriptor.signal_every_key.empty()) {
      EXPECT_NE(core::find_key(t.descriptor.keys, t.descriptor.signal_every_key), nullptr);
    }
  }
  for (const auto& c : registry.collectives) {
    check(c.name(), c.descriptor.keys);
    EXPECT_FALSE(c.descriptor.description.empty()) << c.name();
    EXPECT_TRUE(c.descriptor.unavailable_reason) << c.name();
    EXPECT_NE(registry.memory_provider(c.descriptor.memory), nullptr)
        << c.name() << " takes its buffers from '" << c.descriptor.memory
        << "', which is not in the memory table";
    EXPECT_EQ(registry.transport(c.name()), nullptr) << c.name() << " is in both tables";
  }
  for (const auto& s : registry.suites) {
    check(s.name(), s.descriptor.keys);
    // A pair-wise suite makes a Workload, a collective one a CollectiveWorkload, a local one a
    // LocalWorkload: exactly one.
    EXPECT_EQ(static_cast<int>(static_cast<bool>(s.descriptor.make)) +
                  static_cast<int>(static_cast<bool>(s.descriptor.make_collective)) +
                  static_cast<int>(static_cast<bool>(s.descriptor.make_local)),
              1)
        << s.name();
    EXPECT_EQ(static_cast<bool>(s.descriptor.make_collective),
              static_cast<bool>(s.descriptor.configure_collective))
        << s.name();
    for (const auto& other : registry.suites) {
      for (const auto& k : s.descriptor.keys) {
        const core::KeyDecl* o = core::find_key(other.descriptor.keys, k.name);
        if (o == nullptr) continue;
        EXPECT_TRUE(o->type == k.type && o->lo == k.lo && o->hi == k.hi &&
                    o->choices == k.choices && o->default_value == k.default_value &&
                    o->plan_name == k.plan_name && o->scope == k.scope)
            << s.name() << " and " << other.name() << " declare '" << k.name << "' differently";
      }
    }
  }
  EXPECT_FALSE(registry.memory.empty());
}

}  // namespace
}  // namespace fabricbench
