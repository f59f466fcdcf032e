#include "harness/engine/regime_run.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <fmt/core.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "harness/regime/analysis.hpp"

namespace fabricbench::engine {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

namespace {

bool is_floor(const spec::Case& c) {
  return c.regime.kind == "floor";
}

int effective_streams(const spec::Case& c) {
  return is_floor(c) ? 1 : c.regime.streams;
}
int effective_inflight(const spec::Case& c) {
  return is_floor(c) ? 1 : c.regime.inflight;
}

json opt(const std::optional<std::uint64_t>& v) {
  return v ? json(*v) : json(nullptr);
}

double finite_or_zero(double v) {
  return std::isfinite(v) ? v : 0.0;
}

// A duration distribution: count and ns percentiles (null when empty).
json duration_summary(const stats::Histogram& h) {
  const auto s = stats::summarize(h);
  const bool any = s.count > 0;
  auto v = [&](std::uint64_t x) { return any ? json(x) : json(nullptr); };
  return {
      {"count", s.count},     {"min_ns", v(s.min)}, {"mean_ns", any ? json(s.mean) : json(nullptr)},
      {"p50_ns", v(s.p50)},   {"p90_ns", v(s.p90)}, {"p99_ns", v(s.p99)},
      {"p999_ns", v(s.p999)}, {"max_ns", v(s.max)}};
}

json depth_summary(const stats::Histogram& h) {
  const auto s = stats::summarize(h);
  const bool any = s.count > 0;
  auto v = [&](std::uint64_t x) { return any ? json(x) : json(nullptr); };
  return {{"samples", s.count},
          {"mean_ops", any ? json(s.mean) : json(nullptr)},
          {"p50_ops", v(s.p50)},
          {"p99_ops", v(s.p99)},
          {"max_ops", v(s.max)}};
}

json bin_to_json(const regime::Bin& b) {
  return {{"start_ns", b.start_ns},
          {"length_ns", b.length_ns},
          {"offered_ops", b.offered_ops},
          {"offered_bytes", b.offered_bytes},
          {"refused_ops", b.refused_ops},
          {"completed_ops", b.completed_ops},
          {"completed_bytes", b.completed_bytes},
          {"deadline_misses", b.deadline_misses},
          {"lat_p50_ns", opt(b.lat_p50_ns)},
          {"lat_p99_ns", opt(b.lat_p99_ns)},
          {"queue_samples", b.queue_samples},
          {"depth_max_ops", b.depth_max},
          {"depth_mean_ops", finite_or_zero(b.depth_mean)},
          {"backlog_max_ops", b.backlog_max},
          {"age_p99_ns", opt(b.age_p99_ns)},
          {"age_max_ns", opt(b.age_max_ns)}};
}

regime::Bin bin_from_json(const json& j) {
  regime::Bin b;
  b.start_ns = j.at("start_ns").get<std::uint64_t>();
  b.length_ns = j.at("length_ns").get<std::uint64_t>();
  b.offered_ops = j.at("offered_ops").get<std::uint64_t>();
  b.offered_bytes = j.at("offered_bytes").get<std::uint64_t>();
  b.refused_ops = j.at("refused_ops").get<std::uint64_t>();
  b.completed_ops = j.at("completed_ops").get<std::uint64_t>();
  b.completed_bytes = j.at("completed_bytes").get<std::uint64_t>();
  b.deadline_misses = j.at("deadline_misses").get<std::uint64_t>();
  auto o = [&](const char* key) -> std::optional<std::uint64_t> {
    const json& v = j.at(key);
    if (v.is_null()) return std::nullopt;
    return v.get<std::uint64_t>();
  };
  b.lat_p50_ns = o("lat_p50_ns");
  b.lat_p99_ns = o("lat_p99_ns");
  b.queue_samples = j.at("queue_samples").get<std::uint64_t>();
  b.depth_max = j.at("depth_max_ops").get<std::uint64_t>();
  b.depth_mean = j.at("depth_mean_ops").get<double>();
  b.backlog_max = j.at("backlog_max_ops").get<std::uint64_t>();
  b.age_p99_ns = o("age_p99_ns");
  b.age_max_ns = o("age_max_ns");
  return b;
}

// A phase's lengths and counts, as both views below have them.
json phase_counts(const regime::PhaseResult& p) {
  return {{"length_ns", p.length_ns},
          {"end_ns", p.end_ns},
          {"offered_ops", p.offered_ops},
          {"offered_bytes", p.offered_bytes},
          {"refused_ops", p.refused_ops},
          {"refused_bytes", p.refused_bytes},
          {"completed_ops", p.completed_ops},
          {"completed_bytes", p.completed_bytes},
          {"deadline_misses", p.deadline_misses}};
}

// Between ranks: everything needed to merge pairs (histograms in full; samples stay local).
json phase_to_wire(const regime::PhaseResult& p) {
  json bins = json::array();
  for (const auto& b : p.bins) bins.push_back(bin_to_json(b));
  json j = phase_counts(p);
  j.update(json{{"peak_depth", p.peak_depth},
                {"peak_backlog", p.peak_backlog},
                {"latency", results::histogram_to_json(p.latency)},
                {"queueing", results::histogram_to_json(p.queueing)},
                {"service", results::histogram_to_json(p.service)},
                {"queue_age", results::histogram_to_json(p.queue_age)},
                {"queue_depth", results::histogram_to_json(p.queue_depth)},
                {"bins", std::move(bins)}});
  return j;
}

regime::PhaseResult phase_from_wire(const json& j) {
  regime::PhaseResult p;
  auto u = [&](const char* key) { return j.at(key).get<std::uint64_t>(); };
  p.length_ns = u("length_ns");
  p.end_ns = u("end_ns");
  p.offered_ops = u("offered_ops");
  p.offered_bytes = u("offered_bytes");
  p.refused_ops = u("refused_ops");
  p.refused_bytes = u("refused_bytes");
  p.completed_ops = u("completed_ops");
  p.completed_bytes = u("completed_bytes");
  p.deadline_misses = u("deadline_misses");
  p.peak_depth = u("peak_depth");
  p.peak_backlog = u("peak_backlog");
  p.latency = results::histogram_from_json(j.at("latency"));
  p.queueing = results::histogram_from_json(j.at("queueing"));
  p.service = results::histogram_from_json(j.at("service"));
  p.queue_age = results::histogram_from_json(j.at("queue_age"));
  p.queue_depth = results::histogram_from_json(j.at("queue_depth"));
  for (const auto& b : j.at("bins")) p.bins.push_back(bin_from_json(b));
  return p;
}

double per_second(std::uint64_t count, std::uint64_t ns) {
  return ns == 0 ? 0.0 : static_cast<double>(count) * 1e9 / static_cast<double>(ns);
}

// The document's view of a phase (RESULTS.md "Regimes"). Rates are over the planned length.
json phase_to_document(const regime::PhaseResult& p) {
  json bins = json::array();
  for (const auto& b : p.bins) bins.push_back(bin_to_json(b));
  json latency = duration_summary(p.latency);
  latency["histogram"] = results::histogram_to_json(p.latency);
  json j = phase_counts(p);
  j.update(json{{"peak_depth_ops", p.peak_depth},
                {"peak_backlog_ops", p.peak_backlog},
                {"offered_ops_per_s", per_second(p.offered_ops, p.length_ns)},
                {"goodput_ops_per_s", per_second(p.completed_ops, p.length_ns)},
                {"goodput_gbps", per_second(p.completed_bytes, p.length_ns) * 8 / 1e9},
                {"latency", std::move(latency)},
                {"queueing", duration_summary(p.queueing)},
                {"service", duration_summary(p.service)},
                {"queue_age", duration_summary(p.queue_age)},
                {"queue_depth", depth_summary(p.queue_depth)},
                {"intervals", std::move(bins)}});
  return j;
}

json verdict_to_json(double rate, double mean_size, const regime::ProbeVerdict& v) {
  return {{"rate_ops_per_s", rate},
          {"rate_gbps", rate * mean_size * 8 / 1e9},
          {"sustainable", v.sustainable},
          {"reason", v.reason},
          {"age_p99_ns", v.age_p99_ns},
          {"age_trend_ns_per_s", finite_or_zero(v.age_trend_ns_per_s)},
          {"refused_ops", v.refused_ops},
          {"offered_ops_per_s", finite_or_zero(v.offered_ops_per_s)},
          {"completed_ops_per_s", finite_or_zero(v.completed_ops_per_s)}};
}

json overload_to_json(const regime::OverloadReport& r, double mean_size) {
  return {{"pre_age_p99_ns", r.pre_age_p99_ns},
          {"peak_depth_ops", r.peak_depth},
          {"peak_backlog_ops", r.peak_backlog},
          {"peak_age_ns", r.peak_age_ns},
          {"offered_during_ops_per_s", finite_or_zero(r.offered_during_ops_per_s)},
          {"goodput_during_ops_per_s", finite_or_zero(r.goodput_during_ops_per_s)},
          {"goodput_during_gbps", finite_or_zero(r.goodput_during_bytes_per_s) * 8 / 1e9},
          {"deadline_misses_before", r.deadline_misses_before},
          {"deadline_misses_during", r.deadline_misses_during},
          {"deadline_misses_after", r.deadline_misses_after},
          {"refused_ops", r.refused_ops},
          {"drained", r.drain_ns.has_value()},
          {"drain_ns", opt(r.drain_ns)},
          {"recovery_ops_per_s", finite_or_zero(r.recovery_ops_per_s)},
          {"recovery_gbps", finite_or_zero(r.recovery_bytes_per_s) * 8 / 1e9},
          {"recovery_excess_ops_per_s", finite_or_zero(r.recovery_excess_ops_per_s)},
          {"mean_message_bytes", mean_size}};
}

std::vector<regime::MixEntry> mix_of(const spec::Case& c) {
  std::vector<regime::MixEntry> mix;
  for (const auto& m : c.regime.mix) mix.push_back({m.size, m.weight});
  return mix;
}

// What a search result depends on: the resolved case without the id and the regime keys that
// do not change the search.
std::string search_signature(const spec::Case& c) {
  json j = spec::to_json(c);
  j.erase("id");
  j.erase("group");
  j.erase("varied");
  j.erase("repetitions");
  j.erase("duration_ns");
  j.erase("iterations");
  j.erase("warmup_ns");
  j.erase("warmup_iterations");
  j.erase("interval_ns");
  j.erase("mode");
  if (j.contains("regime") && j["regime"].is_object()) {
    json& r = j["regime"];
    for (const char* key : {"kind", "rate", "deadline_ns", "overload_factor", "overload_before_ns",
                            "overload_during_ns", "overload_after_ns"}) {
      r.erase(key);
    }
  }
  return j.dump();
}

// A case whose rate is relative to the sustainable rate, when no probed rate was sustainable:
// fails it with the search's evidence.
Error nothing_sustainable(const spec::RegimeSettings& r, const json& search) {
  std::string probes;
  for (const auto& p : search.at("probes")) {
    probes += fmt::format("; {:.0f}/s: {}", p.at("rate_ops_per_s").get<double>(),
                          p.at("reason").get<std::string>());
  }
  return Error(
      ErrorKind::runtime,
      fmt::format("regime {}: rate {} is relative to the sustainable rate, but no "
                  "probed rate was sustainable (closed-loop estimate {:.0f}/s){}",
                  r.kind, r.rate.text, search.at("estimate_ops_per_s").get<double>(), probes));
}

// The repetition's regime object (RESULTS.md "Regimes"): what every kind reports of its settings.
json settings_document(const spec::Case& c, double mean_size) {
  const spec::RegimeSettings& r = c.regime;
  return {{"kind", r.kind},
          {"arrival", r.kind == "floor" ? "closed" : r.arrival},
          {"streams", effective_streams(c)},
          {"inflight", effective_inflight(c)},
          {"backlog_ops", r.backlog},
          {"generator", r.generator},
          {"deadline_ns", r.deadline_ns == 0 ? json(nullptr) : json(r.deadline_ns)},
          {"mean_message_bytes", mean_size}};
}

// The offered rate of realistic and overload, and its share of the sustainable one (when searched).
json rate_document(const spec::Rate& rate, double offered, double mean_size, const json& search) {
  return {
      {"text", rate.text},
      {"ops_per_s", offered},
      {"gbps", offered * mean_size * 8 / 1e9},
      {"fraction_of_sustainable",
       search.is_null() ? json(nullptr)
                        : json(offered / search.at("sustainable_rate_ops_per_s").get<double>())}};
}

// The measured phase's figures in the repetition and its headline.
void add_measured(const regime::PhaseResult& m, bool bandwidth, results::Repetition& rep,
                  json& headline) {
  rep.elapsed_ns = m.length_ns;
  rep.ops = m.completed_ops;
  rep.bytes = m.completed_bytes;
  rep.latency = m.latency;
  const auto lat = stats::summarize(m.latency);
  const auto age = stats::summarize(m.queue_age);
  headline["goodput_ops_per_s"] = per_second(m.completed_ops, m.length_ns);
  headline["lat_p50_ns"] = lat.p50;
  headline["lat_p99_ns"] = lat.p99;
  headline["lat_p999_ns"] = lat.p999;
  headline["queueing_p99_ns"] = stats::summarize(m.queueing).p99;
  headline["service_p99_ns"] = stats::summarize(m.service).p99;
  headline["queue_age_p99_ns"] = age.p99;
  headline["deadline_misses"] = m.deadline_misses;
  headline["refused_ops"] = m.refused_ops;
  if (bandwidth && m.length_ns > 0) {
    const double seconds = static_cast<double>(m.length_ns) / 1e9;
    rep.bw_gbps = static_cast<double>(m.completed_bytes) * 8 / seconds / 1e9;
    rep.bw_gibps =
        static_cast<double>(m.completed_bytes) / seconds / static_cast<double>(1ULL << 30);
    rep.msg_rate_mops = static_cast<double>(m.completed_ops) / seconds / 1e6;
  }
}

// The overload object: the worst pair's report (null when no pair reported) with the profile's
// settings; its main figures go to the headline.
json overload_document(const spec::RegimeSettings& r, json report, json& headline) {
  json doc = report;
  doc["factor"] = r.overload_factor;
  doc["before_ns"] = r.overload_before_ns;
  doc["during_ns"] = r.overload_during_ns;
  doc["after_ns"] = r.overload_after_ns;
  if (report.is_object()) {
    headline["peak_backlog_ops"] = report["peak_backlog_ops"];
    headline["drain_ns"] = report["drain_ns"];
    headline["goodput_during_ops_per_s"] = report["goodput_during_ops_per_s"];
    headline["recovery_ops_per_s"] = report["recovery_ops_per_s"];
  }
  return doc;
}

}  // namespace

std::optional<std::pair<int, int>> regime_slots(const spec::Case& c) {
  if (c.regime.kind == "closed") return std::nullopt;
  const int conns = c.connections;
  return std::make_pair(open_loop_send_slots(effective_streams(c), effective_inflight(c), conns),
                        open_loop_recv_slots(effective_streams(c), effective_inflight(c), conns));
}

RegimeRunner::RegimeRunner(bootstrap::Bootstrap& bootstrap, const spec::Case& c,
                           const suites::Context& ctx, bool echo, bool bandwidth,
                           SearchCache& cache)
    : bs_(bootstrap),
      case_(c),
      ctx_(ctx),
      bandwidth_(bandwidth),
      cache_(cache),
      session_(ctx, echo, effective_streams(c), effective_inflight(c)) {
  if (c.regime.mix.empty()) {
    mean_size_ = static_cast<double>(c.message_size);
  } else {
    mean_size_ = regime::SizeMix(mix_of(c), 1).mean_size();
  }
}

std::uint64_t RegimeRunner::next_seed() {
  return regime::derive_seed(case_.regime.seed, 0x5eed, phases_++);
}

PhasePlan RegimeRunner::base_plan(std::uint64_t bin_ns) const {
  PhasePlan plan;
  plan.arrival = regime::parse_arrival(case_.regime.arrival);
  plan.pair = static_cast<std::uint64_t>(std::min(ctx_.rank, ctx_.peer));
  plan.streams = effective_streams(case_);
  plan.inflight = effective_inflight(case_);
  plan.backlog = case_.regime.backlog;
  plan.deadline_ns = case_.regime.deadline_ns;
  plan.sample_interval_ns = case_.regime.sample_interval_ns;
  plan.spin = case_.regime.generator == "spin";
  plan.bin_ns = bin_ns;
  plan.mix = mix_of(case_);
  return plan;
}

double RegimeRunner::ops_per_s(const spec::Rate& rate, const json* search) const {
  switch (rate.unit) {
    case spec::Rate::Unit::ops_per_s:
      return rate.value;
    case spec::Rate::Unit::bits_per_s:
      return rate.value / (8.0 * std::max(mean_size_, 1.0));
    case spec::Rate::Unit::fraction:
      if (search == nullptr) break;
      return rate.value * search->at("sustainable_rate_ops_per_s").get<double>();
    case spec::Rate::Unit::none:
      break;
  }
  throw Error(ErrorKind::config, "regime " + case_.regime.kind + " needs regime.rate");
}

std::optional<regime::PhaseResult> RegimeRunner::phase(const PhasePlan& plan_in,
                                                       const regime::OverloadProfile* overload,
                                                       json* overload_report,
                                                       int fault_repetition) {
  PhasePlan plan = plan_in;
  plan.seed = next_seed();
  bs_.barrier();
  const bool fault = faults_ != nullptr && fault_repetition >= 0;
  if (fault) {
    // The timeline counts from the planned start of the measured part (after the warm-up).
    faults_->begin(fault_repetition, core::now_ns() + (plan.closed ? 0 : plan.warmup_ns));
  }
  std::optional<regime::PhaseResult> mine = session_.run_phase(plan);
  if (fault) {
    fault_record_ = faults_->end();
    fault_measure_start_ = session_.measure_start_mono_ns();
  }
  json wire = nullptr;
  if (mine) {
    wire = {{"phase", phase_to_wire(*mine)}};
    if (overload != nullptr) {
      wire["overload"] = overload_to_json(regime::analyze_overload(*mine, *overload), mean_size_);
    }
  }
  const auto gathered = bs_.gather(wire.dump());
  if (bs_.rank() != 0) return std::nullopt;
  std::optional<regime::PhaseResult> merged;
  for (const auto& text : gathered) {
    const json j = json::parse(text);
    if (j.is_null()) continue;
    regime::PhaseResult p = phase_from_wire(j.at("phase"));
    if (!merged) {
      merged = std::move(p);
    } else {
      regime::merge(*merged, p);
    }
    if (overload_report != nullptr && j.contains("overload")) {
      // The worst pair: the one that took longest to drain (never draining is worst).
      const json& r = j["overload"];
      auto drain = [](const json& x) {
        return x.at("drain_ns").is_null() ? std::numeric_limits<double>::infinity()
                                          : x.at("drain_ns").get<double>();
      };
      if (overload_report->is_null() || drain(r) > drain(*overload_report)) {
        *overload_report = r;
      }
    }
  }
  if (!merged) throw Error(ErrorKind::runtime, "regime: no rank generated load");
  return merged;
}

json RegimeRunner::sustainable() {
  const std::string signature = search_signature(case_);
  if (auto it = cache_.by_signature.find(signature); it != cache_.by_signature.end()) {
    return it->second;
  }
  const spec::RegimeSettings& r = case_.regime;
  const std::uint64_t started = core::now_ns();
  const std::uint64_t probe_bin = std::max<std::uint64_t>(r.search_probe_ns / 20, 1'000'000);
  // 1. Estimate: a closed loop with every stream's `inflight` operations outstanding.
  PhasePlan estimate = base_plan(probe_bin);
  estimate.closed = true;
  estimate.length_ns = std::min<std::uint64_t>(r.search_probe_ns, 1'000'000'000);
  const auto est = phase(estimate, nullptr, nullptr);
  const int pairs = bs_.size() / 2;
  double start_rate = 0;
  if (est) {
    start_rate = per_second(est->completed_ops, std::max(est->end_ns, est->length_ns)) /
                 static_cast<double>(pairs);
  }
  start_rate =
      std::stod(bs_.broadcast(0, est ? fmt::format("{:.17g}", start_rate) : std::string()));
  if (!(start_rate > 0)) {
    throw Error(ErrorKind::runtime, "regime search: the closed-loop estimate completed nothing");
  }
  // 2. Probes at rates rank 0 chooses.
  std::optional<regime::RateSearch> search;
  if (bs_.rank() == 0) {
    regime::SearchConfig cfg;
    cfg.start_ops_per_s = start_rate;
    cfg.precision = r.search_precision;
    cfg.max_probes = r.search_max_probes;
    cfg.age_bound_ns = r.search_queue_age_ns;
    search.emplace(cfg);
  }
  json probes = json::array();
  for (;;) {
    std::string next;
    std::optional<double> exact;  // rank 0: the rate the search asked for, bit for bit
    if (search) {
      exact = search->next_rate();
      if (exact) next = fmt::format("{:.17g}", *exact);
    }
    next = bs_.broadcast(0, next);
    if (next.empty()) break;
    const double rate = exact ? *exact : std::stod(next);
    PhasePlan plan = base_plan(probe_bin);
    plan.profile = {{0, rate}};
    plan.length_ns = r.search_probe_ns;
    const auto merged = phase(plan, nullptr, nullptr);
    if (search && merged) {
      const auto verdict = regime::judge_probe(*merged, r.search_queue_age_ns);
      search->record(rate, verdict);
      probes.push_back(verdict_to_json(rate, mean_size_, verdict));
    }
  }
  json result;
  if (search) {
    const double s = search->sustainable_ops_per_s();
    const auto failed = search->lowest_failed_ops_per_s();
    result = {{"sustainable_rate_ops_per_s", s},
              {"sustainable_rate_gbps", s * mean_size_ * 8 / 1e9},
              {"converged", search->converged()},
              {"lowest_failed_ops_per_s", failed ? json(*failed) : json(nullptr)},
              {"estimate_ops_per_s", start_rate},
              {"queue_age_bound_ns", r.search_queue_age_ns},
              {"probe_ns", r.search_probe_ns},
              {"precision", r.search_precision},
              {"elapsed_ns", core::now_ns() - started},
              {"found_by", case_.id},
              {"probes", std::move(probes)}};
  }
  result = json::parse(bs_.broadcast(0, result.dump()));
  // Cached also when every probe failed: a relative rate then cannot be resolved, and each case
  // that needs one fails with this evidence (nothing_sustainable).
  cache_.by_signature.emplace(signature, result);
  return result;
}

std::optional<regime::PhaseResult> RegimeRunner::floor_phases(int index) {
  PhasePlan plan = base_plan(case_.interval_ns);
  plan.closed = true;
  if (case_.mode == spec::Mode::duration) {
    if (case_.warmup_ns > 0) {
      PhasePlan warm = plan;
      warm.length_ns = case_.warmup_ns;
      phase(warm, nullptr, nullptr);
    }
    plan.length_ns = case_.duration_ns;
  } else {
    if (case_.warmup_iterations > 0) {
      PhasePlan warm = plan;
      warm.length_ns = std::numeric_limits<std::uint64_t>::max() / 4;
      warm.max_ops = case_.warmup_iterations;
      phase(warm, nullptr, nullptr);
    }
    plan.length_ns = std::numeric_limits<std::uint64_t>::max() / 4;
    plan.max_ops = case_.iterations;
  }
  return phase(plan, nullptr, nullptr, index);
}

std::optional<regime::PhaseResult> RegimeRunner::realistic_phase(double offered, int index) {
  const spec::RegimeSettings& r = case_.regime;
  PhasePlan plan = base_plan(case_.interval_ns);
  plan.arrival = regime::parse_arrival(r.arrival);
  plan.profile = {{0, offered}};
  plan.length_ns = case_.duration_ns;
  plan.warmup_ns = case_.warmup_ns;
  return phase(plan, nullptr, nullptr, index);
}

std::optional<regime::PhaseResult> RegimeRunner::overload_phase(double offered,
                                                                json* overload_report) {
  const spec::RegimeSettings& r = case_.regime;
  regime::OverloadProfile profile;
  profile.baseline_ops_per_s = offered;
  profile.factor = r.overload_factor;
  profile.before_ns = r.overload_before_ns;
  profile.during_ns = r.overload_during_ns;
  profile.after_ns = r.overload_after_ns;
  PhasePlan plan = base_plan(case_.interval_ns);
  plan.profile = profile.steps();
  plan.length_ns = profile.length_ns();
  return phase(plan, &profile, overload_report);
}

std::optional<results::Repetition> RegimeRunner::run_repetition(int index) {
  const spec::RegimeSettings& r = case_.regime;
  fault_record_ = nullptr;
  fault_measure_start_ = 0;
  const bool root = bs_.rank() == 0;
  json headline = json::object();
  std::optional<regime::PhaseResult> measured;
  json search = nullptr;
  json overload_report = nullptr;
  double offered = 0;

  if (r.kind == "search" || r.rate.unit == spec::Rate::Unit::fraction) {
    search = sustainable();
    const double s = search.at("sustainable_rate_ops_per_s").get<double>();
    headline["sustainable_rate_ops_per_s"] = s;
    headline["sustainable_rate_gbps"] = s * mean_size_ * 8 / 1e9;
    if (r.kind != "search" && !(s > 0)) throw nothing_sustainable(r, search);
  }

  if (r.kind == "floor") {
    measured = floor_phases(index);
  } else if (r.kind == "realistic") {
    offered = ops_per_s(r.rate, search.is_null() ? nullptr : &search);
    measured = realistic_phase(offered, index);
  } else if (r.kind == "overload") {
    offered = ops_per_s(r.rate, search.is_null() ? nullptr : &search);
    measured = overload_phase(offered, &overload_report);
  }
  if (!root) return std::nullopt;

  results::Repetition rep;
  rep.index = index;
  json doc = settings_document(case_, mean_size_);
  if (r.kind == "realistic" || r.kind == "overload") {
    doc["rate"] = rate_document(r.rate, offered, mean_size_, search);
    headline["offered_ops_per_s"] = offered;
  }
  doc["search"] = search;
  if (measured) {
    doc["phase"] = phase_to_document(*measured);
    add_measured(*measured, bandwidth_, rep, headline);
  } else {
    doc["phase"] = nullptr;
    rep.elapsed_ns = search.is_null() ? 0 : search.value("elapsed_ns", std::uint64_t{0});
  }
  doc["overload"] =
      r.kind == "overload" ? overload_document(r, overload_report, headline) : json(nullptr);
  doc["headline"] = std::move(headline);
  rep.regime = std::move(doc);
  return rep;
}

}  // namespace fabricbench::engine
