// The copy suite's decisions, loop, accounting and merge, through stand-in engines (no GPU): a
// scripted engine whose times are fixed (exact figures), and the host-memcpy engine (real
// copies, the destination checked). The NUMA choice of the CUDA engine is pure and tested here.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "results/run_document.hpp"
#include "suites/copy/copy.hpp"
#include "suites/copy/host_copy_engine.hpp"
#include "transports/cuda/cuda_copy.hpp"

namespace {

namespace fb = fabricbench;
using fb::suites::LocalParams;
using fb::transport::CopyDirection;
using fb::transport::CopyMethod;
using fb::transport::HostMemoryKind;
using fb::transport::HostNuma;
using nlohmann::json;

fb::core::Settings settings(const std::map<std::string, std::string>& values = {}) {
  const auto d = fb::suites::copy_descriptor({});
  fb::core::Settings s(d.keys);
  for (const auto& [k, v] : values) {
    s.set(*fb::core::find_key(d.keys, k), fb::core::SettingValue::of_text(v));
  }
  return s;
}

// Fixed times: each repetition takes `ns` for the timed copies (and `reverse_ns` the other way).
class ScriptedEngine final : public fb::transport::CopyEngine {
 public:
  ScriptedEngine(std::uint64_t ns, std::uint64_t reverse_ns, std::optional<double> rated)
      : ns_(ns), reverse_ns_(reverse_ns), rated_(rated) {}
  void prepare(const fb::transport::CopySetup& s) override {
    setup_ = s;
    ++prepared;
  }
  fb::transport::CopyTimes run(std::uint64_t warmup, std::uint64_t count) override {
    warmups.push_back(warmup);
    counts.push_back(count);
    fb::transport::CopyTimes t;
    t.copy_bytes = setup_.bytes;
    t.elapsed_ns = ns_;
    if (setup_.direction == CopyDirection::bidir) {
      t.reverse_copy_bytes = 2 * setup_.bytes;
      t.reverse_elapsed_ns = reverse_ns_;
    }
    return t;
  }
  fb::transport::CopyFacts facts() const override {
    fb::transport::CopyFacts f;
    f.device = 3;
    f.device_name = "scripted";
    f.host_numa_node = 1;
    return f;
  }
  std::optional<double> rated_gbytes_per_s() const override { return rated_; }

  int prepared = 0;
  std::vector<std::uint64_t> warmups, counts;
  fb::transport::CopySetup setup_;

 private:
  std::uint64_t ns_, reverse_ns_;
  std::optional<double> rated_;
};

TEST(CopySuite, SettingsBecomeTheSetup) {
  const auto s = fb::suites::copy_setup(
      settings({{"copy", "bidir"}, {"method", "kernel"}, {"host_numa", "3"}}), 4096);
  EXPECT_EQ(s.direction, CopyDirection::bidir);
  EXPECT_EQ(s.method, CopyMethod::kernel);
  EXPECT_EQ(s.host, HostMemoryKind::pinned);
  EXPECT_EQ(s.numa.kind, HostNuma::Kind::node);
  EXPECT_EQ(s.numa.node, 3);
  EXPECT_EQ(s.bytes, 4096u);
  const auto d = fb::suites::copy_setup(settings(), 1);
  EXPECT_EQ(d.direction, CopyDirection::h2d);
  EXPECT_EQ(d.method, CopyMethod::copy_engine);
  EXPECT_EQ(d.numa.kind, HostNuma::Kind::local);
  const auto p = fb::suites::copy_setup(settings({{"host_memory", "pageable"}}), 1);
  EXPECT_EQ(p.host, HostMemoryKind::pageable);
}

TEST(CopySuite, HostNumaParses) {
  EXPECT_EQ(fb::suites::parse_host_numa("remote")->kind, HostNuma::Kind::remote);
  EXPECT_EQ(fb::suites::parse_host_numa("any")->kind, HostNuma::Kind::any);
  EXPECT_EQ(fb::suites::parse_host_numa("12")->node, 12);
  EXPECT_FALSE(fb::suites::parse_host_numa("-1"));
  EXPECT_FALSE(fb::suites::parse_host_numa("1x"));
  EXPECT_FALSE(fb::suites::parse_host_numa(""));
  EXPECT_EQ(fb::suites::to_string(*fb::suites::parse_host_numa("7")), "7");
}

// GB/s are 1e9 bytes per second: 16 copies of 1 MB (1e6 bytes) in 1 ms = 16 GB/s.
TEST(CopySuite, FiguresAreNvbandwidthsGigabytes) {
  EXPECT_DOUBLE_EQ(fb::suites::gbytes_per_s(16'000'000, 1'000'000), 16.0);
  EXPECT_DOUBLE_EQ(fb::suites::gbytes_per_s(5, 0), 0.0);
  fb::transport::CopySetup s;
  s.bytes = 1'000'000;
  fb::transport::CopyTimes t{1'000'000, 1'000'000, 0, 0};
  fb::transport::CopyFacts facts;
  const json f = fb::suites::rank_figures(0, s, t, 16, facts, 32.0);
  EXPECT_EQ(f["bytes"], 16'000'000u);
  EXPECT_DOUBLE_EQ(f["gbytes_per_s"].get<double>(), 16.0);
  EXPECT_DOUBLE_EQ(f["fraction_of_rated"].get<double>(), 0.5);
  EXPECT_TRUE(f["reverse"].is_null());
  EXPECT_TRUE(f["memory_gbytes_per_s"].is_null());
  // No rated figure: no fraction; device to device crosses no link and counts memory twice.
  EXPECT_TRUE(
      fb::suites::rank_figures(0, s, t, 16, facts, std::nullopt)["fraction_of_rated"].is_null());
  s.direction = CopyDirection::d2d;
  const json d = fb::suites::rank_figures(0, s, t, 16, facts, 32.0);
  EXPECT_TRUE(d["fraction_of_rated"].is_null());
  EXPECT_DOUBLE_EQ(d["memory_gbytes_per_s"].get<double>(), 32.0);
}

// The workload runs warm-up and timed copies as the params say, and rank 0's merge sums the
// ranks' bandwidths, keeps the lowest and the per-rank facts.
TEST(CopySuite, LoopAccountingAndMerge) {
  ScriptedEngine* engines[2] = {nullptr, nullptr};
  std::vector<json> per_rank;
  std::unique_ptr<fb::suites::LocalWorkload> rank0;
  for (int rank = 0; rank < 2; ++rank) {
    const std::uint64_t ns = rank == 0 ? 1'000'000 : 2'000'000;
    auto w = fb::suites::make_copy_workload(settings({{"copy", "bidir"}}), [&, ns, rank] {
      auto e = std::make_unique<ScriptedEngine>(ns, 4'000'000, 25.0);
      engines[rank] = e.get();
      return e;
    });
    LocalParams p{1'000'000, 8, 3, rank, 2};
    w->prepare(p);
    per_rank.push_back(w->run(p));
    if (rank == 0) rank0 = std::move(w);
  }
  ASSERT_NE(engines[0], nullptr);
  ASSERT_NE(engines[1], nullptr);
  EXPECT_EQ(engines[0]->prepared, 1);
  EXPECT_EQ(engines[0]->warmups, std::vector<std::uint64_t>{3});
  EXPECT_EQ(engines[0]->counts, std::vector<std::uint64_t>{8});
  EXPECT_EQ(per_rank[1]["rank"], 1);
  // bidir: the reverse copy is twice as large: 8 x 2 MB in 4 ms = 4 GB/s.
  EXPECT_DOUBLE_EQ(per_rank[0]["reverse"]["gbytes_per_s"].get<double>(), 4.0);
  const auto m = rank0->merge(LocalParams{1'000'000, 8, 3, 0, 2}, per_rank);
  EXPECT_EQ(m.bytes, 16'000'000u);  // 2 ranks x 8 copies x 1 MB
  EXPECT_EQ(m.ops, 16u);
  EXPECT_EQ(m.elapsed_ns, 2'000'000u);  // the slower rank
  EXPECT_DOUBLE_EQ(m.figures["gbytes_per_s"].get<double>(), 8.0 + 4.0);
  EXPECT_DOUBLE_EQ(m.figures["rank_min_gbytes_per_s"].get<double>(), 4.0);
  EXPECT_EQ(m.figures["copy"], "bidir");
  EXPECT_EQ(m.figures["ranks"], 2u);
  EXPECT_EQ(m.figures["size_bytes"], 1'000'000u);
  EXPECT_EQ(m.figures["per_rank"][1]["device_name"], "scripted");
  EXPECT_DOUBLE_EQ(m.figures["per_rank"][0]["fraction_of_rated"].get<double>(), 8.0 / 25.0);
}

TEST(CopySuite, MergeRefusesFiguresWithoutBytes) {
  EXPECT_THROW((void)fb::suites::merge_copy({json{{"elapsed_ns", 1u}, {"copies", 1u}}}),
               fb::core::Error);
}

// Real copies through the host stand-in: the destination holds the source, the warm-up and
// timed copies are all made, and the figures count exactly the timed bytes.
TEST(CopySuite, HostStandInCopiesAndCounts) {
  auto* seen = static_cast<fb::suites::HostCopyEngine*>(nullptr);
  auto w = fb::suites::make_copy_workload(settings({{"copy", "h2d"}}), [&] {
    auto e = std::make_unique<fb::suites::HostCopyEngine>();
    seen = e.get();
    return e;
  });
  LocalParams p{64 * 1024, 5, 2, 0, 1};
  w->prepare(p);
  const json f = w->run(p);
  ASSERT_NE(seen, nullptr);
  EXPECT_TRUE(seen->destination_matches());
  EXPECT_EQ(seen->copies_made(), 7u);
  EXPECT_EQ(f["bytes"], 5u * 64 * 1024);
  EXPECT_GT(f["elapsed_ns"].get<std::uint64_t>(), 0u);
  EXPECT_GT(f["gbytes_per_s"].get<double>(), 0.0);
  EXPECT_EQ(f["timing"], "host clock around memcpy (test stand-in)");
}

// An engine's `unavailable` comes out of prepare as is (the engine skips the case with it).
TEST(CopySuite, UnavailableEngineSaysWhy) {
  auto w = fb::suites::make_copy_workload(settings({{"host_numa", "remote"}}), [] {
    return std::make_unique<fb::suites::HostCopyEngine>();
  });
  try {
    w->prepare(LocalParams{4096, 1, 0, 0, 1});
    FAIL() << "expected unavailable";
  } catch (const fb::core::Error& e) {
    EXPECT_EQ(e.kind(), fb::core::ErrorKind::unavailable);
    EXPECT_NE(std::string(e.what()).find("one NUMA node"), std::string::npos) << e.what();
  }
}

// The CUDA engine's NUMA choice, from the facts sysfs would give.
TEST(CopyNuma, ChoosesTheNode) {
  using fb::transport::cuda::choose_host_node;
  const auto dist = [](int a, int b) { return a == b ? 10 : (a + b == 3 ? 12 : 21); };
  const std::vector<int> four = {0, 1, 2, 3};
  EXPECT_EQ(choose_host_node({HostNuma::Kind::local, -1}, 2, four, dist), 2);
  EXPECT_EQ(choose_host_node({HostNuma::Kind::remote, -1}, 2, four, dist), 1);  // nearest
  EXPECT_EQ(choose_host_node({HostNuma::Kind::node, 3}, 2, four, dist), 3);
  EXPECT_FALSE(choose_host_node({HostNuma::Kind::any, -1}, 2, four, dist));
  // One node: local is every buffer (no policy needed), remote cannot be.
  EXPECT_FALSE(choose_host_node({HostNuma::Kind::local, -1}, std::nullopt, {0}, dist));
  const auto unavailable = [&](HostNuma want, std::optional<int> gpu, std::vector<int> nodes,
                               const std::string& fragment) {
    try {
      (void)choose_host_node(want, gpu, nodes, dist);
      ADD_FAILURE() << "expected unavailable: " << fragment;
    } catch (const fb::core::Error& e) {
      EXPECT_EQ(e.kind(), fb::core::ErrorKind::unavailable);
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  unavailable({HostNuma::Kind::remote, -1}, 0, {0}, "one NUMA node");
  unavailable({HostNuma::Kind::remote, -1}, std::nullopt, four, "unknown");
  unavailable({HostNuma::Kind::local, -1}, std::nullopt, four, "unknown");
  unavailable({HostNuma::Kind::node, 5}, 0, four, "no NUMA node 5");
}

// Without a GPU the CUDA engine refuses in prepare with the reason, as the case must be skipped.
TEST(CopyCuda, NoGpuSaysWhy) {
  auto e = fb::transport::cuda::make_copy_engine();
  fb::transport::CopySetup s;
  s.bytes = 4096;
  try {
    e->prepare(s);
  } catch (const fb::core::Error& err) {
    if (err.kind() != fb::core::ErrorKind::unavailable) throw;
    const std::string why = err.what();
    EXPECT_TRUE(why.find("no usable GPU") != std::string::npos ||
                why.find("built without") != std::string::npos)
        << why;
    return;
  }
  GTEST_SKIP() << "a GPU is usable here: prepare succeeded";
}

}  // namespace

namespace {

// A rank whose GPU a lower local rank measures (more ranks than GPUs) is left out of the sums.
TEST(CopySuite, IdleRanksAreLeftOut) {
  const json busy = {
      {"bytes", 8'000'000u}, {"elapsed_ns", 1'000'000u}, {"copies", 8u}, {"idle", false}};
  const json idle = {{"bytes", 0u}, {"elapsed_ns", 0u}, {"copies", 0u}, {"idle", true}};
  const auto m = fabricbench::suites::merge_copy({busy, idle});
  EXPECT_EQ(m.figures["ranks"], 1u);
  EXPECT_EQ(m.bytes, 8'000'000u);
  EXPECT_DOUBLE_EQ(m.figures["gbytes_per_s"].get<double>(), 8.0);
  EXPECT_DOUBLE_EQ(m.figures["rank_min_gbytes_per_s"].get<double>(), 8.0);
  EXPECT_EQ(m.figures["per_rank"].size(), 2u);
}

}  // namespace

namespace {

// Repetition::copy survives the run document's round trip; a copy block without its figures is
// refused by the reader, naming the field.
TEST(CopyResults, RoundTripAndReaderChecks) {
  namespace results = fabricbench::results;
  results::CaseResult c;
  c.id = "g.copy.none.1MiB";
  c.suite = "copy";
  c.transport = "none";
  results::Repetition r;
  r.bytes = 16;
  r.elapsed_ns = 2;
  r.ops = 1;
  r.copy = {
      {"copy", "h2d"},
      {"size_bytes", 16u},
      {"ranks", 1},
      {"gbytes_per_s", 8.0},
      {"per_rank", json::array({{{"bytes", 16u}, {"elapsed_ns", 2u}, {"gbytes_per_s", 8.0}}})}};
  c.repetitions.push_back(r);
  results::summarize_case(c);
  const auto back = results::case_result_from_json(results::to_json(c));
  ASSERT_EQ(back.repetitions.size(), 1u);
  EXPECT_EQ(back.repetitions[0].copy, r.copy);
  EXPECT_DOUBLE_EQ(back.repetitions[0].copy["gbytes_per_s"].get<double>(), 8.0);
  json broken = results::to_json(c);
  broken["repetitions"][0]["copy"]["per_rank"][0].erase("elapsed_ns");
  try {
    (void)results::case_result_from_json(broken);
    FAIL() << "a copy block without elapsed_ns was read";
  } catch (const fabricbench::core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("elapsed_ns"), std::string::npos) << e.what();
  }
}

}  // namespace
