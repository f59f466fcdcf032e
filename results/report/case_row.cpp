// A case's headline figures as text (HTML case tables and markdown).
#include "results/report/case_row.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include <fmt/core.h>

#include "results/json_read.hpp"
#include "results/report/case_facts.hpp"
#include "results/report/format.hpp"

namespace fabricbench::results::report {

using detail::member;
using detail::number_at;
using detail::text_at;
using nlohmann::json;

namespace {

std::string regime_notes(const CaseResult& c) {
  const std::string kind = regime_kind(c);
  const json& h = member(member(c.summary, "regime"), "headline_median");
  std::string out = "regime " + kind;
  if (kind == "search") {
    const auto s = number_at(h, "sustainable_rate_ops_per_s");
    out += ": sustainable " + format_rate(s);
    if (const auto g = number_at(h, "sustainable_rate_gbps"))
      out += fmt::format(" ({:.3g} Gb/s)", *g);
    return out;
  }
  std::vector<std::string> parts;
  if (const auto v = number_at(h, "offered_ops_per_s"))
    parts.push_back("offered " + format_rate(v));
  if (const auto v = number_at(h, "goodput_ops_per_s"))
    parts.push_back("goodput " + format_rate(v));
  if (const auto v = number_at(h, "queue_age_p99_ns"))
    parts.push_back("queue-age p99 " + format_duration(v));
  if (kind == "overload") {
    const json& d = member(h, "drain_ns");
    parts.push_back("drain " +
                    (d.is_number() ? format_duration(d.get<double>()) : std::string("never")));
    if (const auto v = number_at(h, "peak_backlog_ops"))
      parts.push_back("peak backlog " + format_number(*v));
  }
  if (const auto v = number_at(h, "deadline_misses"); v && *v > 0) {
    parts.push_back("deadline misses " + format_number(*v));
  }
  if (const auto v = number_at(h, "refused_ops"); v && *v > 0)
    parts.push_back("refused " + format_number(*v));
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? ": " : ", ") + parts[i];
  return out;
}

std::string fault_notes(const CaseResult& c) {
  std::string kind;
  std::map<std::string, int> outcomes;
  for (const auto& r : c.repetitions) {
    if (!r.fault.is_object()) continue;
    if (kind.empty()) kind = text_at(r.fault, "kind");
    ++outcomes[text_at(r.fault, "outcome")];
  }
  std::string out = "fault " + kind + ":";
  for (const auto& [o, n] : outcomes) out += fmt::format(" {} x{}", o.empty() ? "?" : o, n);
  // Medians over repetitions from the summary when present, else from the repetitions.
  const json& metrics = member(member(c.summary, "recovery"), "metrics");
  auto median = [&](const char* key) -> std::optional<double> {
    if (metrics.is_object()) return number_at(member(metrics, key), "median");
    std::vector<double> v;
    for (const auto& r : c.repetitions) {
      if (const auto x = number_at(member(r.fault, "recovery"), key)) v.push_back(*x);
    }
    if (v.empty()) return std::nullopt;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  out += "; stall " + format_duration(median("stall_ns"));
  out += ", ttr90 from clear " + format_duration(median("ttr90_from_clear_ns"));
  out += ", deficit " + format_bytes_approx(median("deficit_bytes"));
  return out;
}

}  // namespace

Row case_row(const CaseResult& c) {
  Row row;
  row.id = c.id;
  row.suite = c.suite;
  row.transport = c.transport;
  row.status = to_string(c.status);
  row.reps = std::to_string(c.repetitions.size());
  row.p50_us = format_us(number_at(c.summary, "lat_p50_ns"));
  row.p99_us = format_us(number_at(c.summary, "lat_p99_ns"));
  const auto bw = number_at(c.summary, "bw_gbps_median");
  row.gbps = bw ? fmt::format("{:.4g}", *bw) : "-";
  std::vector<std::string> notes;
  if (c.status == CaseStatus::skipped) notes.push_back("skipped: " + c.skip_reason);
  for (const auto& e : c.errors) {
    notes.push_back("error (rank " + std::to_string(e.rank) + ", " + e.kind + "): " + e.message);
    if (notes.size() >= 3) break;
  }
  if (has_regime(c)) notes.push_back(regime_notes(c));
  if (has_fault(c)) notes.push_back(fault_notes(c));
  for (std::size_t i = 0; i < notes.size(); ++i) {
    if (i > 0) row.notes += "; ";
    row.notes += notes[i];
  }
  return row;
}

}  // namespace fabricbench::results::report
