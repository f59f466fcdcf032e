#include "harness/cli/collective_console.hpp"

#include <optional>

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

// The median over the repetitions of one figure of one placement, from the case's summary
// (results::summarize_case); nullopt when the placement did not run.
std::optional<double> median_of(const json& placement, const char* key) {
  if (!placement.is_object() || !placement.contains(key)) return std::nullopt;
  const json& figure = placement[key];
  if (!figure.is_object() || !figure.contains("median") || !figure["median"].is_number()) {
    return std::nullopt;
  }
  return figure["median"].get<double>();
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
  const json& summary = results::summary_collective(r);
  if (!summary.is_object()) return;
  any_ = true;
  const json redop = summary.value("redop", json());
  std::string line = fmt::format(
      "{:>12}  {:>12}  {:>8}  {:>6}  {:>6}", summary.value("size_bytes", std::uint64_t{0}),
      summary.value("count", std::uint64_t{0}), summary.value("type", std::string()),
      redop.is_string() ? redop.get<std::string>() : std::string("none"),
      summary.value("root", -1));
  for (const char* placement : {"out_of_place", "in_place"}) {
    const json& figures = summary.contains(placement) ? summary[placement] : json();
    const auto time = median_of(figures, "time_us");
    if (!time) {
      line += fmt::format("  {:>7}  {:>6}  {:>6}  {:>6}", "-", "-", "-", "-");
      continue;
    }
    const double busbw = median_of(figures, "busbw_gbytes_per_s").value_or(0.0);
    const json wrong = figures.value("wrong", json());  // summed over repetitions; null: unchecked
    if (wrong.is_number()) wrong_ += wrong.get<std::uint64_t>();
    busbw_sum_ += busbw;
    ++busbw_count_;
    line += fmt::format("  {}  {}  {}  {:>6}", fixed(*time, 7),
                        fixed(median_of(figures, "algbw_gbytes_per_s").value_or(0.0), 6),
                        fixed(busbw, 6), wrong.is_number() ? wrong.dump() : std::string("N/A"));
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
