#include "harness/engine/fault_run.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/stats/recovery.hpp"
#include "suites/api/workload.hpp"

namespace fabricbench::engine {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

namespace {

json opt(const std::optional<std::uint64_t>& v) {
  return v ? json(*v) : json(nullptr);
}

json action_to_json(const faults::ActionRecord& a) {
  return {{"what", a.what},
          {"argv", a.argv},
          {"wall_start_ns", a.wall_start_ns},
          {"wall_end_ns", a.wall_end_ns},
          {"mono_start_ns", a.mono_start_ns},
          {"mono_end_ns", a.mono_end_ns},
          {"exit_code", a.exit_code},
          {"output", a.output}};
}

// a - b for monotonic times of one host, clamped at 0 (an event before the origin).
std::uint64_t since(std::uint64_t a, std::uint64_t b) {
  return a > b ? a - b : 0;
}

// A regime's queue and latency around the fault (METHODOLOGY.md "Faults and recovery"), from
// the measured phase's bins:
//  - baseline_p99_ns: the median of the per-bin p99 latency over the bins that end before the
//    fault starts; peak_p99_ns: the highest bin p99 from the fault's bin on;
//  - latency_recovered_from_clear_ns: from the clear to the start of the first bin (at or after
//    the one holding the clear) from which `k` consecutive bins all have a p99 within the
//    pre-fault envelope, max(2 x baseline, the highest pre-fault bin p99); a bin that confirmed
//    nothing does not count as recovered;
//  - drained_from_clear_ns: from the clear to the end of the first bin (at or after the one
//    holding the clear) where the operations offered so far minus those confirmed so far (the
//    queue the fault built, refused arrivals not counted) is back within the largest such lag
//    of the pre-fault bins: the backlog is worked off. Counts, so latency noise cannot blur it.
// Null when no bin ends before the fault.
json regime_recovery(const json& bins, std::uint64_t start_ns, std::uint64_t clear_ns,
                     std::uint64_t bin_ns, int k) {
  if (bin_ns == 0 || !bins.is_array()) return nullptr;
  std::vector<double> before;
  std::vector<std::optional<double>> p99;
  std::vector<std::int64_t> lag;  // cumulative (offered - refused) - confirmed, at each bin end
  std::int64_t offered = 0;
  std::int64_t confirmed = 0;
  std::int64_t lag_before = 0;
  bool any_before = false;
  for (std::size_t i = 0; i < bins.size(); ++i) {
    const json& b = bins[i];
    const json& v = b.contains("lat_p99_ns") ? b["lat_p99_ns"] : json(nullptr);
    p99.push_back(v.is_number() ? std::optional<double>(v.get<double>()) : std::nullopt);
    offered +=
        static_cast<std::int64_t>(b.value("offered_ops", 0ULL) - b.value("refused_ops", 0ULL));
    confirmed += static_cast<std::int64_t>(b.value("completed_ops", 0ULL));
    lag.push_back(offered - confirmed);
    if ((i + 1) * bin_ns <= start_ns) {
      any_before = true;
      lag_before = std::max(lag_before, lag.back());
      if (p99.back()) before.push_back(*p99.back());
    }
  }
  if (!any_before) return nullptr;
  std::optional<double> baseline;
  double envelope = 0;
  if (!before.empty()) {
    std::sort(before.begin(), before.end());
    const std::size_t m = before.size();
    baseline = m % 2 == 1 ? before[m / 2] : (before[m / 2 - 1] + before[m / 2]) / 2;
    envelope = std::max(2 * *baseline, before.back());
  }
  double peak = 0;
  for (std::size_t i = start_ns / bin_ns; i < p99.size(); ++i) {
    if (p99[i]) peak = std::max(peak, *p99[i]);
  }
  std::optional<std::uint64_t> latency_back;
  const auto need = static_cast<std::size_t>(std::max(k, 1));
  for (std::size_t i = clear_ns / bin_ns; baseline && i + need <= p99.size() && !latency_back;
       ++i) {
    bool ok = true;
    for (std::size_t j = i; j < i + need && ok; ++j) ok = p99[j] && *p99[j] <= envelope;
    if (ok) latency_back = since(i * bin_ns, clear_ns);
  }
  std::optional<std::uint64_t> drained;
  for (std::size_t i = clear_ns / bin_ns; i < lag.size() && !drained; ++i) {
    if (lag[i] <= lag_before) drained = since((i + 1) * bin_ns, clear_ns);
  }
  return {{"baseline_p99_ns", baseline ? json(*baseline) : json(nullptr)},
          {"peak_p99_ns", peak},
          {"latency_recovered_from_clear_ns", opt(latency_back)},
          {"drained_from_clear_ns", opt(drained)}};
}

// What the transport events of every rank tell of the connections (fault_summary, fault_run.hpp).
struct ConnectionOutcome {
  std::uint64_t reconnects = 0;
  std::uint64_t failed = 0;  // lost messages, over both sides
  // The first "connection.broken" after the inject (wall clock): on the injecting rank's host
  // if any was seen there, else on another's.
  std::optional<std::uint64_t> first_break_wall;
};

ConnectionOutcome connection_outcome(const json& record, const json& events,
                                     const std::vector<bool>& same_clock) {
  ConnectionOutcome o;
  std::optional<std::uint64_t> first_break_own;    // on the injecting rank's clock
  std::optional<std::uint64_t> first_break_other;  // on another host's (may be skewed)
  const json& inject_start = record.contains("first_inject_wall_start_ns")
                                 ? record.at("first_inject_wall_start_ns")
                                 : json(nullptr);
  const std::uint64_t from =
      inject_start.is_number() ? inject_start.get<std::uint64_t>() : std::uint64_t{0};
  if (events.is_array()) {
    for (const auto& e : events) {
      const std::string kind = e.value("kind", "");
      if (kind.rfind("connection.", 0) != 0) continue;
      const json detail = e.value("detail", json::object());
      if (kind == "connection.reconnected") {
        if (detail.value("role", "") == "connector") ++o.reconnects;
        o.failed += detail.value("lost_messages", std::uint64_t{0});
      }
      if (kind != "connection.broken") continue;
      const auto t = e.value("t_ns", std::uint64_t{0});
      const int r = e.value("rank", -1);
      const bool own = r >= 0 && static_cast<std::size_t>(r) < same_clock.size() &&
                       same_clock[static_cast<std::size_t>(r)];
      auto& first = own ? first_break_own : first_break_other;
      // 1 ms of slack between the clocks' reads on the injecting rank's host.
      if (own && t + 1'000'000 < from) continue;
      if (!first || t < *first) first = t;
    }
  }
  o.first_break_wall = first_break_own ? first_break_own : first_break_other;
  return o;
}

// The first link event (PORT_ERR, QP_FATAL, port_down; wall clock) that came after the first
// inject command started (`iw`: when it returned).
std::optional<std::uint64_t> first_link_event_wall(const json& record, const json& events,
                                                   std::uint64_t iw) {
  std::optional<std::uint64_t> link_event_wall;
  if (!events.is_array()) return link_event_wall;
  for (const auto& e : events) {
    const std::string kind = e.value("kind", "");
    if (kind.find("PORT_ERR") == std::string::npos && kind.find("QP_FATAL") == std::string::npos &&
        kind.find("port_down") == std::string::npos) {
      continue;
    }
    const auto t = e.value("t_ns", std::uint64_t{0});
    // An event may come while the inject command still runs (before iw), not before it
    // started (1 ms of slack between the clocks' reads).
    const auto started = record.value("first_inject_wall_start_ns", iw);
    if (t + 1'000'000 < started) continue;
    if (!link_event_wall || t < *link_event_wall) link_event_wall = t;
  }
  return link_event_wall;
}

// A regime's measured-phase bins (the repetition's regime object), or null.
const json* measured_bins(const results::Repetition& rep) {
  if (rep.regime.is_object() && rep.regime.contains("phase") && rep.regime["phase"].is_object()) {
    return &rep.regime["phase"]["intervals"];
  }
  return nullptr;
}

json recovery_to_json(const stats::RecoveryMetrics& m) {
  return {{"baseline_bytes_per_bin", m.baseline_bytes_per_bin},
          {"baseline_gbps", m.baseline_gbps},
          {"baseline_bins", m.baseline_bins},
          {"detect_link_ns", opt(m.detect_link_ns)},
          {"detect_error_ns", opt(m.detect_error_ns)},
          {"stall_ns", m.stall_ns},
          {"first_byte_after_clear_ns", opt(m.first_byte_after_clear_ns)},
          {"ttr90_from_start_ns", opt(m.ttr90_from_start_ns)},
          {"ttr90_from_clear_ns", opt(m.ttr90_from_clear_ns)},
          {"ttr99_from_start_ns", opt(m.ttr99_from_start_ns)},
          {"ttr99_from_clear_ns", opt(m.ttr99_from_clear_ns)},
          {"deficit_bytes", m.deficit_bytes}};
}

}  // namespace

int injecting_rank(const spec::Case& c, const suites::Params& p, bool counted_by_receiver,
                   int size) {
  if (c.regime.kind == "closed" && counted_by_receiver && suites::is_two_sided(p.op) &&
      !p.bidirectional) {
    return size / 2;
  }
  return 0;
}

faults::BackendConfig backend_config(const spec::InjectorSettings& injector) {
  faults::BackendConfig b;
  b.backend = injector.backend;
  b.target = injector.target;
  b.allow = injector.allow;
  b.force = injector.force;
  b.inject = injector.inject;
  b.clear = injector.clear;
  b.command_timeout_ns = injector.command_timeout_ns;
  b.link_rate_bits_per_s = injector.link_rate_bits_per_s;
  return b;
}

faults::Fault fault_of(const spec::FaultSettings& fault) {
  faults::Fault f;
  f.kind = faults::parse_kind(fault.kind);
  f.loss = fault.loss;
  f.delay_ns = fault.delay_ns;
  f.rate_bits_per_s = fault.rate_bits_per_s;
  return f;
}

CaseFaults::CaseFaults(const spec::Experiment& experiment, const spec::Case& c,
                       faults::Watchdog* watchdog)
    : case_(c), injector_(faults::Injector::make(backend_config(experiment.injector), watchdog)) {}

CaseFaults::~CaseFaults() {
  if (timeline_) timeline_->stop();
}

void CaseFaults::begin(int repetition, std::uint64_t t0_mono_ns) {
  const spec::FaultSettings& f = case_.fault;
  repetition_ = repetition;
  t0_ = t0_mono_ns;
  planned_ = faults::schedule(f.start_ns, f.hold_ns, f.count, f.period_ns, f.jitter_ns, f.seed,
                              repetition);
  timeline_ = std::make_unique<faults::Timeline>(*injector_, fault_of(f), planned_, t0_mono_ns);
}

json CaseFaults::end() {
  if (!timeline_) return nullptr;
  timeline_->stop();
  json planned = json::array();
  for (const auto& o : planned_)
    planned.push_back({{"start_ns", o.start_ns}, {"end_ns", o.end_ns}});
  json actions = json::array();
  std::optional<std::uint64_t> first_wall;
  std::optional<std::uint64_t> first_wall_start;
  for (const auto& a : timeline_->records()) {
    actions.push_back(action_to_json(a));
    // The fault is in place when the inject command returns: the curve's fault start is the
    // command's end (monotonic), so its wall-clock end aligns events with it.
    if (!first_wall && a.what.rfind("inject", 0) == 0) {
      first_wall = a.wall_end_ns;
      first_wall_start = a.wall_start_ns;
    }
  }
  const auto err = timeline_->error();
  json record = {{"backend", injector_->describe()},
                 {"kind", case_.fault.kind},
                 {"repetition", repetition_},
                 {"planned", std::move(planned)},
                 {"t0_mono_ns", t0_},
                 {"first_inject_mono_ns", opt(timeline_->first_inject_mono_ns())},
                 {"last_clear_mono_ns", opt(timeline_->last_clear_mono_ns())},
                 {"first_inject_wall_ns", opt(first_wall)},
                 {"first_inject_wall_start_ns", opt(first_wall_start)},
                 {"actions", std::move(actions)},
                 {"error", err ? json(*err) : json(nullptr)}};
  timeline_.reset();
  return record;
}

json fault_events(const json& record) {
  json out = json::array();
  if (!record.is_object()) return out;
  for (const auto& a : record.at("actions")) {
    const std::string what = a.at("what").get<std::string>();
    out.push_back({{"t_ns", a.at("wall_start_ns")},
                   {"kind", what.rfind("inject", 0) == 0 ? "fault.inject" : "fault.clear"},
                   {"detail",
                    {{"repetition", record.at("repetition")},
                     {"backend", record.at("backend")},
                     {"what", what},
                     {"argv", a.at("argv")},
                     {"exit_code", a.at("exit_code")},
                     {"output", a.at("output")},
                     {"duration_ns", since(a.at("mono_end_ns").get<std::uint64_t>(),
                                           a.at("mono_start_ns").get<std::uint64_t>())}}}});
  }
  return out;
}

json fault_summary(const spec::Case& c, const results::Repetition& rep, const json& record,
                   std::uint64_t measure_start_mono_ns, const json& events,
                   const std::vector<bool>& same_clock) {
  const ConnectionOutcome conn = connection_outcome(record, events, same_clock);
  const bool injection_failed = !record.value("error", json(nullptr)).is_null();
  const std::string outcome = injection_failed      ? "injection_failed"
                              : conn.reconnects > 0 ? "reconnected"
                                                    : "absorbed";
  json out = {{"kind", c.fault.kind},
              {"backend", record.value("backend", "")},
              {"outcome", outcome},
              {"error", record.value("error", json(nullptr))},
              {"reconnects", conn.reconnects},
              {"failed_operations", conn.failed},
              {"bin_ns", c.interval_ns}};
  const json& first = record.at("first_inject_mono_ns");
  const json& last = record.at("last_clear_mono_ns");
  if (first.is_null() || last.is_null() || measure_start_mono_ns == 0) {
    out["start_ns"] = nullptr;
    out["clear_ns"] = nullptr;
    out["recovery"] = nullptr;
    return out;
  }
  const std::uint64_t start = since(first.get<std::uint64_t>(), measure_start_mono_ns);
  const std::uint64_t clear = since(last.get<std::uint64_t>(), measure_start_mono_ns);
  out["start_ns"] = start;
  out["clear_ns"] = clear;

  stats::RecoveryInput in;
  in.bin_ns = c.interval_ns;
  in.fault_start_ns = start;
  in.fault_clear_ns = std::max(clear, start);
  in.consecutive = c.fault.consecutive;
  // The curve: the closed regime's interval series, or the measured phase's bins of a regime
  // (payload bytes confirmed per bin).
  if (const json* regime_bins = measured_bins(rep); regime_bins != nullptr) {
    for (const auto& b : *regime_bins) in.bin_bytes.push_back(b.value("completed_bytes", 0ULL));
    out["regime_recovery"] =
        regime_recovery(*regime_bins, start, in.fault_clear_ns, c.interval_ns, c.fault.consecutive);
  }
  for (const auto& pt : rep.intervals) in.bin_bytes.push_back(pt.bytes);
  // Link events and the first error (wall clock) placed on the curve through the first inject's
  // wall and mono times.
  const json& inject_wall = record.at("first_inject_wall_ns");
  if (!inject_wall.is_null()) {
    const std::uint64_t iw = inject_wall.get<std::uint64_t>();
    // Before the inject command returned: detected "at once" (0); after: the delay.
    const auto link_event_wall = first_link_event_wall(record, events, iw);
    if (link_event_wall) in.link_event_ns = start + since(*link_event_wall, iw);
    if (conn.first_break_wall) in.first_error_ns = start + since(*conn.first_break_wall, iw);
  }
  out["link_event_ns"] = opt(in.link_event_ns);
  out["first_error_ns"] = opt(in.first_error_ns);
  out["recovery"] =
      in.bin_bytes.empty() ? json(nullptr) : recovery_to_json(stats::compute_recovery(in));
  return out;
}

json recovery_spread(const std::vector<results::Repetition>& reps) {
  std::map<std::string, std::vector<double>> values;
  std::vector<std::string> order;
  std::map<std::string, int> outcomes;
  bool any = false;
  for (const auto& r : reps) {
    if (!r.fault.is_object()) continue;
    any = true;
    ++outcomes[r.fault.value("outcome", "unknown")];
    // The curve's metrics, then a regime's latency ones as latency_<name>.
    for (const auto& [section, prefix] :
         {std::pair<const char*, std::string>{"recovery", ""}, {"regime_recovery", "regime_"}}) {
      const auto it = r.fault.find(section);
      if (it == r.fault.end() || !it->is_object()) continue;
      for (const auto& [name, v] : it->items()) {
        const std::string key = prefix + name;
        if (!values.contains(key)) order.push_back(key);
        if (v.is_number())
          values[key].push_back(v.get<double>());
        else
          values[key];
      }
    }
  }
  if (!any) return nullptr;
  json metrics = json::object();
  for (const auto& key : order) {
    const auto s = stats::spread(values[key]);
    metrics[key] =
        s ? json{{"median", s->median}, {"p95", s->p95}, {"count", s->count}} : json(nullptr);
  }
  return {{"outcomes", outcomes}, {"metrics", std::move(metrics)}};
}

}  // namespace fabricbench::engine
