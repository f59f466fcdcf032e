// Hot-path micro-benchmarks: histogram record / merge / summarize and the measurement clock.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "core/clock.hpp"
#include "core/stats/histogram.hpp"

namespace {

using fabricbench::stats::Histogram;

// Latency-like values (log-normal around ~20 us, with a tail), generated once so that the
// generator is not timed. 64 Ki entries: fits in L2 beside the histogram's buckets.
const std::vector<std::uint64_t>& sample_values() {
  static const std::vector<std::uint64_t> values = [] {
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> dist(10.0, 1.0);
    std::vector<std::uint64_t> v(std::size_t{1} << 16);
    for (auto& x : v) x = static_cast<std::uint64_t>(dist(rng));
    return v;
  }();
  return values;
}

void BM_HistogramRecord(benchmark::State& state) {
  const auto& values = sample_values();
  const std::size_t mask = values.size() - 1;
  Histogram h;
  std::size_t i = 0;
  for (auto _ : state) {
    h.record(values[i++ & mask]);
  }
  benchmark::DoNotOptimize(h.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramRecord);

void BM_HistogramRecordConstant(benchmark::State& state) {
  Histogram h;
  std::uint64_t v = 12345;
  for (auto _ : state) {
    benchmark::DoNotOptimize(v);
    h.record(v);
  }
  benchmark::DoNotOptimize(h.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramRecordConstant);

void BM_ClockNow(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(fabricbench::core::now_ns());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ClockNow);

Histogram filled_histogram(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(10.0, 1.5);
  Histogram h;
  for (int i = 0; i < 1'000'000; ++i) h.record(static_cast<std::uint64_t>(dist(rng)));
  return h;
}

void BM_HistogramMerge(benchmark::State& state) {
  const Histogram a = filled_histogram(1);
  Histogram acc;
  for (auto _ : state) {
    acc.merge(a);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(acc.count());
}
BENCHMARK(BM_HistogramMerge);

void BM_Summarize(benchmark::State& state) {
  const Histogram h = filled_histogram(2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(fabricbench::stats::summarize(h));
  }
}
BENCHMARK(BM_Summarize);

}  // namespace

BENCHMARK_MAIN();
