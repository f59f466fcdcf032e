// What a case recorded, for the report's tables and plots.
#include "results/report/case_facts.hpp"

#include <algorithm>

#include "results/json_read.hpp"

namespace fabricbench::results::report {

using detail::member;
using detail::text_at;
using nlohmann::json;

namespace {

template <typename Predicate>
bool any_repetition(const CaseResult& c, Predicate predicate) {
  return std::any_of(c.repetitions.begin(), c.repetitions.end(), predicate);
}

}  // namespace

bool has_regime(const CaseResult& c) {
  return any_repetition(c, [](const Repetition& r) { return r.regime.is_object(); });
}

bool has_fault(const CaseResult& c) {
  return any_repetition(c, [](const Repetition& r) { return r.fault.is_object(); });
}

bool has_intervals(const CaseResult& c) {
  return any_repetition(c, [](const Repetition& r) { return !r.intervals.empty(); });
}

bool measured_bandwidth(const CaseResult& c) {
  return any_repetition(c, [](const Repetition& r) { return r.bw_gbps.has_value(); });
}

std::string regime_kind(const CaseResult& c) {
  for (const auto& r : c.repetitions) {
    if (r.regime.is_object()) return text_at(r.regime, "kind");
  }
  return text_at(member(c.params, "regime"), "kind");
}

std::optional<std::uint64_t> message_size(const CaseResult& c) {
  const json& v = member(c.params, "message_size_bytes");
  if (v.is_number_unsigned() || v.is_number_integer()) {
    const auto s = v.get<std::int64_t>();
    if (s >= 0) return static_cast<std::uint64_t>(s);
  }
  return std::nullopt;
}

std::string size_series_key(const CaseResult& c) {
  std::string group = text_at(c.params, "group");
  if (group.empty()) group = c.id.substr(0, c.id.find('.'));
  std::string key = group;
  key += '/';
  key += c.transport;
  const json& varied = member(c.params, "varied");
  if (varied.is_array()) {
    for (const auto& v : varied) {
      const std::string k = text_at(v, "key");
      if (k == "message_size" || k.empty()) continue;
      key += ' ';
      key += k;
      key += '=';
      key += text_at(v, "value");
    }
  }
  return key;
}

stats::Histogram merged_latency(const CaseResult& c) {
  stats::Histogram h;
  for (const auto& r : c.repetitions) h.merge(r.latency);
  return h;
}

double bin_mid_s(std::uint64_t start_ns, std::uint64_t length_ns) {
  return (static_cast<double>(start_ns) + static_cast<double>(length_ns) / 2) / 1e9;
}

}  // namespace fabricbench::results::report
