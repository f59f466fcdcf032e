#include "harness/cli/map_console.hpp"

#include <algorithm>
#include <string>

#include <fmt/format.h>

namespace fabricbench::cli {

using nlohmann::json;

namespace {

std::string cell(const json& v, bool bandwidth) {
  if (v.is_null()) return "-";
  return bandwidth ? fmt::format("{:.2f}", v.get<double>())
                   : fmt::format("{:.1f}", v.get<double>());
}

// incast, shift: three significant digits (a shaped or failing link's flows are far below 0.01).
std::string flow_cell(const json& v) {
  return v.is_number() ? fmt::format("{:.3g}", v.get<double>()) : "-";
}

std::string label(const json& nodes, std::size_t i) {
  return fmt::format("{} ({})", i < nodes.size() ? nodes[i].value("host", "") : "?", i);
}

void print_matrix(std::FILE* out, const json& m, bool bandwidth, bool flows) {
  const json& nodes = m["nodes"];
  fmt::print(out, "# {:>4} {:<16}", "rank", "host");
  for (std::size_t b = 0; b < nodes.size(); ++b) fmt::print(out, " {:>8}", b);
  fmt::print(out, "\n");
  for (std::size_t a = 0; a < nodes.size(); ++a) {
    fmt::print(out, "  {:>4} {:<16}", a, nodes[a].value("host", ""));
    for (std::size_t b = 0; b < nodes.size(); ++b) {
      const json& v = m["matrix"][a][b];
      fmt::print(out, " {:>8}", flows ? flow_cell(v) : cell(v, bandwidth));
    }
    fmt::print(out, "\n");
  }
}

// One step: its aggregate and the range of its flows.
void print_step(std::FILE* out, const json& m, const json& step) {
  double lo = 0;
  double hi = 0;
  std::size_t measured = 0;
  for (const auto& f : step["flows"]) {
    if (!f[2].is_number()) continue;
    const double v = f[2].get<double>();
    lo = measured == 0 ? v : std::min(lo, v);
    hi = measured == 0 ? v : std::max(hi, v);
    ++measured;
  }
  const std::string range =
      measured == 0 ? "no flow measured" : fmt::format("flows {:.3g}..{:.3g}", lo, hi);
  if (step.contains("target")) {
    fmt::print(out, "# incast into {}: {} GB/s from {} senders ({})\n",
               label(m["nodes"], step["target"].get<std::size_t>()), flow_cell(step["aggregate"]),
               step["flows"].size(), range);
  } else {
    fmt::print(out, "# shift {} (rank i -> (i + {}) mod {}): {} GB/s over {} flows ({})\n",
               step.value("shift", 0), step.value("shift", 0), m["nodes"].size(),
               flow_cell(step["aggregate"]), step["flows"].size(), range);
  }
}

// incast, shift: the directed matrix and the steps.
void print_flows(std::FILE* out, const spec::Case& c, const json& m) {
  fmt::print(out,
             "# {}: pattern {}, {} bandwidth (GB/s, counted by the receiver) of every flow, row "
             "sends to column; {} steps x {} repetition(s), {} rank(s)\n",
             c.id, m.value("pattern", ""), c.suite, m["steps"].size(), m.value("repetitions", 0),
             m["nodes"].size());
  print_matrix(out, m, true, true);
  for (const auto& step : m["steps"]) print_step(out, m, step);
}

}  // namespace

void print_map(std::FILE* out, const spec::Case& c, const results::CaseResult& r) {
  if (!r.summary.is_object() || !r.summary.contains("map")) return;
  const json& m = r.summary["map"];
  if (m.value("pattern", "") != "all_pairs") {
    print_flows(out, c, m);
    return;
  }
  const bool bandwidth = m.value("metric", "") == "bandwidth";
  const std::string unit = m.value("unit", "");
  const json& nodes = m["nodes"];
  fmt::print(out, "# {}: all-pairs map, {} {} ({}), {} rounds x {} repetition(s), {} rank(s)\n",
             c.id, c.suite, bandwidth ? "bandwidth" : "latency (median half round trip)", unit,
             m.value("rounds", 0), m.value("repetitions", 0), nodes.size());
  print_matrix(out, m, bandwidth, false);
  const json& th = m["thresholds"];
  if (!m["reference"].is_null()) {
    fmt::print(out, "# best pair {} {}; suspect {} {} {} (", cell(m["reference"], bandwidth), unit,
               bandwidth ? "below" : "above", cell(m["limit"], bandwidth), unit);
    if (bandwidth) {
      fmt::print(out, "{:g}% of the best", 100 * th.value("bandwidth_fraction", 0.0));
    } else {
      fmt::print(out, "{:g}x the best", th.value("latency_factor", 0.0));
    }
    fmt::print(out, "); {} retest round(s)\n", m["retest"].value("rounds", 0));
  }
  const json& verdict = m["verdict"];
  if (verdict.value("clean", false) && verdict["findings"].empty()) {
    fmt::print(out, "# verdict: clean (no bad node, no bad link)\n");
    return;
  }
  for (const auto& f : verdict["findings"]) {
    fmt::print(out, "# {}: {}\n", f.value("kind", ""), f.value("evidence", ""));
  }
  fmt::print(
      out, "# verdict: {}\n",
      verdict.value("clean", false) ? "clean (suspects not reproduced)" : "BAD (exit code 4)");
}

}  // namespace fabricbench::cli
