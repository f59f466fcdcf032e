// `fabricbench openmetrics`: OpenMetrics text exposition of a run's headline figures.
#include "results/openmetrics.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <string_view>

#include <fmt/core.h>

#include "results/char_escape.hpp"
#include "results/diff.hpp"
#include "results/history.hpp"
#include "results/json_read.hpp"

namespace fabricbench::results::openmetrics {

const std::vector<Family>& families() {
  static const std::vector<Family> table = {
      {"lat_p50_ns", "fabricbench_latency_p50_seconds", "seconds", 1.0, 1e9,
       "Median latency of the case (pingpong: one-way), median over repetitions."},
      {"lat_p99_ns", "fabricbench_latency_p99_seconds", "seconds", 1.0, 1e9,
       "99th percentile latency of the case, median over repetitions."},
      {"bw_gbps", "fabricbench_bandwidth_bits_per_second", "bits_per_second", 1e9, 1.0,
       "Payload bandwidth, median over repetitions."},
      {"msg_rate_mops", "fabricbench_message_rate_messages_per_second", "messages_per_second", 1e6,
       1.0, "Message rate, median over repetitions."},
      {"regime.lat_p99_ns", "fabricbench_regime_latency_p99_seconds", "seconds", 1.0, 1e9,
       "Regime cases: 99th percentile latency from intended issue time to confirmation."},
      {"regime.queue_age_p99_ns", "fabricbench_regime_queue_age_p99_seconds", "seconds", 1.0, 1e9,
       "Regime cases: 99th percentile age of the oldest unconfirmed operation."},
      {"regime.goodput_ops_per_s", "fabricbench_regime_goodput_operations_per_second",
       "operations_per_second", 1.0, 1.0, "Regime cases: confirmed operations per second."},
      {"regime.sustainable_rate_ops_per_s",
       "fabricbench_regime_sustainable_rate_operations_per_second", "operations_per_second", 1.0,
       1.0, "Regime cases: highest offered rate the queue stayed stable at."},
      {"fault.ttr90_from_clear_ns", "fabricbench_fault_time_to_recover_90_seconds", "seconds", 1.0,
       1e9, "Fault cases: time from clearing the fault to 90 percent of the baseline throughput."},
      {"fault.stall_ns", "fabricbench_fault_stall_seconds", "seconds", 1.0, 1e9,
       "Fault cases: time without progress during the fault."},
  };
  return table;
}

std::string escape_label_value(std::string_view value) {
  return detail::escape_chars(value, {{'\\', "\\\\"}, {'"', "\\\""}, {'\n', "\\n"}});
}

namespace {

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // 12 significant digits: more than any figure carries, and unit conversions such as
  // 9.2 * 1e9 print as 9200000000, not 9199999999.999999.
  return fmt::format("{:.12g}", v);
}

void family_header(std::string& out, const std::string& name, const char* unit, const char* help) {
  out += fmt::format("# TYPE {} gauge\n", name);
  if (unit != nullptr) out += fmt::format("# UNIT {} {}\n", name, unit);
  out += fmt::format("# HELP {} {}\n", name, help);
}

std::string case_labels(const CaseResult& c, const std::string& run_id) {
  return fmt::format("case=\"{}\",suite=\"{}\",transport=\"{}\",run_id=\"{}\"",
                     escape_label_value(c.id), escape_label_value(c.suite),
                     escape_label_value(c.transport), escape_label_value(run_id));
}

// The collective families (docs/HISTORY.md "OpenMetrics"): one sample per collective case and
// placement, labelled with what ran. Value: the median over the repetitions (wrong: the sum).
struct CollectiveFamily {
  const char* figure;  // key of Repetition::collective.<placement>
  const char* name;
  const char* unit;
  double multiply;
  const char* help;
};

constexpr CollectiveFamily kCollectiveFamilies[] = {
    {"time_us", "fabricbench_collective_time_seconds", "seconds", 1e-6,
     "Collective cases: time of one operation as nccl-tests reports it, median over repetitions."},
    {"algbw_gbytes_per_s", "fabricbench_collective_algbw_bytes_per_second", "bytes_per_second", 1e9,
     "Collective cases: algorithm bandwidth (size / time), median over repetitions."},
    {"busbw_gbytes_per_s", "fabricbench_collective_busbw_bytes_per_second", "bytes_per_second", 1e9,
     "Collective cases: bus bandwidth (algbw * the collective's bus factor), median over "
     "repetitions."},
    {"wrong", "fabricbench_collective_wrong_elements", nullptr, 1.0,
     "Collective cases: wrong elements found by the data check, summed over repetitions."},
};

std::string collective_labels(const CaseResult& c, const nlohmann::json& first,
                              const char* placement, const std::string& run_id) {
  const auto& redop = detail::member(first, "redop");
  return fmt::format(
      "{},collective=\"{}\",type=\"{}\",redop=\"{}\",ranks=\"{}\",size_bytes=\"{}\","
      "placement=\"{}\",backend=\"{}\"",
      case_labels(c, run_id), escape_label_value(detail::text_at(first, "collective")),
      escape_label_value(detail::text_at(first, "type")),
      escape_label_value(redop.is_string() ? redop.get<std::string>() : "none"),
      escape_label_value(detail::text_at(first, "ranks")),
      escape_label_value(detail::text_at(first, "size_bytes")), placement,
      escape_label_value(c.transport));
}

// The value of one family for one placement of a case, or NaN when no repetition has it.
double collective_value(const CaseResult& c, const char* placement, const CollectiveFamily& f) {
  std::vector<double> values;
  for (const auto& r : c.repetitions) {
    const auto v = detail::number_at(detail::member(r.collective, placement), f.figure);
    if (v) values.push_back(*v);
  }
  if (values.empty()) return std::nan("");
  if (std::string_view(f.figure) == "wrong") {
    double total = 0;
    for (double v : values) total += v;
    return total;
  }
  return diff::median(values) * f.multiply;
}

void collective_families(std::string& out, const RunDocument& doc) {
  for (const auto& f : kCollectiveFamilies) {
    std::string samples;
    for (const auto& c : doc.cases) {
      if (c.status != CaseStatus::ok || !is_collective(c)) continue;
      const auto first = std::find_if(c.repetitions.begin(), c.repetitions.end(),
                                      [](const Repetition& r) { return r.collective.is_object(); });
      for (const char* placement : kCollectivePlacements) {
        const double v = collective_value(c, placement, f);
        if (std::isnan(v)) continue;
        samples +=
            fmt::format("{}{{{}}} {}\n", f.name,
                        collective_labels(c, first->collective, placement, doc.run_id), number(v));
      }
    }
    if (samples.empty()) continue;
    family_header(out, f.name, f.unit, f.help);
    out += samples;
  }
}

}  // namespace

std::string render(const RunDocument& doc) {
  std::string out;
  const std::string run_id = escape_label_value(doc.run_id);

  // Whole milliseconds since the epoch, then seconds (the exposition keeps 3 decimals).
  const std::uint64_t start_ms = doc.started_ns / 1'000'000ULL;
  family_header(out, "fabricbench_run_start_time_seconds", "seconds",
                "Wall-clock start of the run, seconds since the Unix epoch.");
  out += fmt::format(
      "fabricbench_run_start_time_seconds{{run_id=\"{}\",experiment=\"{}\",host=\"{}\",status="
      "\"{}\",version=\"{}\"}} {}\n",
      run_id, escape_label_value(history::experiment_of(doc)),
      escape_label_value(history::host_of(doc)), escape_label_value(to_string(doc.status)),
      escape_label_value(doc.tool_version), number(static_cast<double>(start_ms) / 1e3));

  std::map<std::string, int> by_status = {{"ok", 0}, {"failed", 0}, {"skipped", 0}};
  for (const auto& c : doc.cases) ++by_status[to_string(c.status)];
  family_header(out, "fabricbench_run_cases", nullptr, "Cases of the run by status.");
  for (const auto& [status, count] : by_status) {
    out += fmt::format("fabricbench_run_cases{{run_id=\"{}\",status=\"{}\"}} {}\n", run_id,
                       escape_label_value(status), count);
  }

  family_header(out, "fabricbench_case_failed", nullptr,
                "1 when the case failed (errors in the run document), else 0.");
  for (const auto& c : doc.cases) {
    out += fmt::format("fabricbench_case_failed{{{}}} {}\n", case_labels(c, doc.run_id),
                       c.status == CaseStatus::failed ? 1 : 0);
  }

  // Per case, the median of each metric over the repetitions.
  std::vector<std::map<std::string, std::vector<double>>> values;
  for (const auto& c : doc.cases) {
    values.push_back(c.status == CaseStatus::ok ? diff::metric_values(c)
                                                : std::map<std::string, std::vector<double>>{});
  }
  for (const auto& f : families()) {
    std::string samples;
    for (std::size_t i = 0; i < doc.cases.size(); ++i) {
      const auto it = values[i].find(f.metric);
      if (it == values[i].end() || it->second.empty()) continue;
      const double v = diff::median(it->second) * f.multiply / f.divide;
      samples +=
          fmt::format("{}{{{}}} {}\n", f.name, case_labels(doc.cases[i], doc.run_id), number(v));
    }
    if (samples.empty()) continue;
    family_header(out, f.name, f.unit, f.help);
    out += samples;
  }
  collective_families(out, doc);
  out += "# EOF\n";
  return out;
}

}  // namespace fabricbench::results::openmetrics
