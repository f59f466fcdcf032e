#include "harness/cli/collective_console.hpp"

#include <algorithm>
#include <vector>

#include <fmt/core.h>

namespace fabricbench::cli {
namespace {

using nlohmann::json;

// nccl-tests' number formatting: fixed width, "%.2f" while it fits, else fewer decimals.
std::string fixed(double v, int width) {
  for (int decimals = 2; decimals >= 0; --decimals) {
    std::string s = fmt::format("{:>{}.{}f}", v, width, decimals);
    if (static_cast<int>(s.size()) <= width) return s;
  }
  return fmt::format("{:>{}.1e}", v, width);
}

double median_of(const results::CaseResult& r, const char* placement, const char* key) {
  std::vector<double> v;
  for (const auto& rep : r.repetitions) {
    const json& c = rep.collective;
    if (!c.is_object() || !c.contains(placement) || !c[placement].is_object()) continue;
    v.push_back(c[placement].value(key, 0.0));
  }
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

void CollectiveTable::header(const spec::Case& c, const std::string& described, int ranks) {
  fmt::print(out_,
             "\n# {} ({} over {}, regime {}): {}, {} ranks, {} iterations per repetition, {} "
             "repetitions (median shown)\n",
             c.group, c.suite, c.transport, c.regime.kind, described, ranks, c.iterations,
             c.repetitions);
  fmt::print(out_, "# {:>10}  {:>12}  {:>8}  {:>6}  {:>6}  {:>32}  {:>32}\n", "", "", "", "", "",
             "out-of-place", "in-place");
  fmt::print(out_,
             "# {:>10}  {:>12}  {:>8}  {:>6}  {:>6}  {:>7}  {:>6}  {:>6}  {:>6}  {:>7}  {:>6}  "
             "{:>6}  {:>6}\n",
             "size", "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time",
             "algbw", "busbw", "#wrong");
  fmt::print(out_,
             "# {:>10}  {:>12}  {:>8}  {:>6}  {:>6}  {:>7}  {:>6}  {:>6}  {:>6}  {:>7}  {:>6}  "
             "{:>6}  {:>6}\n",
             "(B)", "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)",
             "(GB/s)", "");
}

void CollectiveTable::row(const results::CaseResult& r) {
  if (r.repetitions.empty() || !r.repetitions.front().collective.is_object()) return;
  any_ = true;
  const json& first = r.repetitions.front().collective;
  const json redop = first.value("redop", json());
  std::string line = fmt::format(
      "{:>12}  {:>12}  {:>8}  {:>6}  {:>6}", first.value("size_bytes", std::uint64_t{0}),
      first.value("count", std::uint64_t{0}), first.value("type", std::string()),
      redop.is_string() ? redop.get<std::string>() : std::string("none"), first.value("root", -1));
  for (const char* placement : {"out_of_place", "in_place"}) {
    const double time = median_of(r, placement, "time_us");
    if (time < 0) {
      line += fmt::format("  {:>7}  {:>6}  {:>6}  {:>6}", "-", "-", "-", "-");
      continue;
    }
    const double busbw = median_of(r, placement, "busbw_gbytes_per_s");
    std::uint64_t wrong = 0;
    bool checked = false;
    for (const auto& rep : r.repetitions) {
      const json& w = rep.collective[placement]["wrong"];
      if (w.is_number()) {
        checked = true;
        wrong += w.get<std::uint64_t>();
      }
    }
    wrong_ += wrong;
    busbw_sum_ += busbw;
    ++busbw_count_;
    line += fmt::format("  {}  {}  {}  {:>6}", fixed(time, 7),
                        fixed(median_of(r, placement, "algbw_gbytes_per_s"), 6), fixed(busbw, 6),
                        checked ? std::to_string(wrong) : std::string("N/A"));
  }
  fmt::print(out_, "{}\n", line);
}

void CollectiveTable::footer() {
  if (!any_) return;
  fmt::print(out_, "# Out of bounds values : {} {}\n", wrong_, wrong_ == 0 ? "OK" : "FAILED");
  fmt::print(out_, "# Avg bus bandwidth    : {:g}\n",
             busbw_count_ == 0 ? 0.0 : busbw_sum_ / static_cast<double>(busbw_count_));
}

}  // namespace fabricbench::cli
