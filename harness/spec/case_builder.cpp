#include "harness/spec/case_builder.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/units.hpp"
#include "harness/spec/fault_keys.hpp"

namespace fabricbench::spec {
namespace {

void set_regime(RegimeSettings& r, std::string_view key, const Value& v) {
  const auto n = static_cast<int>(v.number);
  if (key == "kind") r.kind = v.text;
  if (key == "arrival") r.arrival = v.text;
  if (key == "seed") r.seed = v.number;
  if (key == "rate") r.rate = v.rate;
  if (key == "streams") r.streams = n;
  if (key == "mix") {
    r.mix = v.mix;
    r.mix_text = v.text;
  }
  if (key == "inflight") r.inflight = n;
  if (key == "backlog") r.backlog = v.number;
  if (key == "deadline") r.deadline_ns = v.number;
  if (key == "sample_interval") r.sample_interval_ns = v.number;
  if (key == "generator") r.generator = v.text;
  if (key == "search_queue_age") r.search_queue_age_ns = v.number;
  if (key == "search_probe") r.search_probe_ns = v.number;
  if (key == "search_precision") r.search_precision = v.real;
  if (key == "search_max_probes") r.search_max_probes = n;
  if (key == "overload_factor") r.overload_factor = v.real;
  if (key == "overload_before") r.overload_before_ns = v.number;
  if (key == "overload_during") r.overload_during_ns = v.number;
  if (key == "overload_after") r.overload_after_ns = v.number;
}

// The loader's own case-level keys.
void set_case_key(Case& c, std::string_view key, const Value& v) {
  if (key == "sizes") c.message_size = v.number;
  if (key == "iterations") c.iterations = v.number;
  if (key == "duration") c.duration_ns = v.number;
  if (key == "repetitions") c.repetitions = static_cast<int>(v.number);
  if (key == "completion") c.completion = v.text;
  if (key == "interval") c.interval_ns = v.number;
  if (key == "memory") c.memory = v.text;
  if (key == "verify") c.verify = v.flag;
  if (key == "on_break") c.on_break = v.text;
  if (key == "reconnect_timeout") c.reconnect_timeout_ns = v.number;
  if (key == "op") c.op = v.text;
  if (key == "pattern") c.map.pattern = v.text;
}

// One key of the `map:` section (the name after "map.").
void set_map(MapSettings& m, std::string_view key, const Value& v) {
  if (key == "latency_factor") m.latency_factor = v.real;
  if (key == "bandwidth_fraction") m.bandwidth_fraction = v.real;
  if (key == "node_fraction") m.node_fraction = v.real;
  if (key == "retest_partners") m.retest_partners = static_cast<int>(v.number);
}

// The suite keys a case of `suite` records: every suite's keys planned in every case (at their
// defaults) and its own suite's keys.
core::Settings suite_defaults(const Catalog& catalog, const std::string& suite) {
  core::Settings out;
  for (const auto& s : catalog.suites) {
    for (const auto& k : s.keys) {
      if ((k.scope == core::PlanScope::every_case || s.name == suite) && !out.has(k.name)) {
        out.set(k, k.default_value);
      }
    }
  }
  return out;
}

class CaseBuilder {
 public:
  CaseBuilder(LoadContext& ctx, const GroupDims& g, const std::vector<std::size_t>& pick)
      : ctx_(ctx), g_(g), pick_(pick) {}

  Case build() {
    c_.group = g_.group;
    c_.mode = g_.mode;
    c_.transport = ctx_.catalog.transports.empty() ? "" : ctx_.catalog.transports.front().name;
    c_.memory = ctx_.catalog.memory.empty() ? "" : ctx_.catalog.memory.front().name;
    pick_identity();
    apply_local_suite();
    transport_ = ctx_.catalog.transport(c_.transport);
    c_.suite_settings = suite_defaults(ctx_.catalog, c_.suite);
    if (transport_ != nullptr) c_.transport_settings = core::Settings(transport_->keys);
    for (const auto& m : ctx_.catalog.memory) {
      if (m.name == c_.memory) c_.memory_settings = core::Settings(m.keys);
    }
    set_values();
    const auto id_parts = varied_and_id_parts();
    resolve_lengths();
    if (fault_value_ != nullptr && c_.fault.active()) resolve_fault();
    check_interval();
    check_backends();
    check_pattern();
    if (transport_ != nullptr && !transport_->connections_key.empty()) {
      c_.connections = static_cast<int>(c_.transport_settings.integer(transport_->connections_key));
    }
    c_.id = fmt::format("{}.{}.{}.{}", g_.group, c_.suite, c_.transport,
                        core::format_size(c_.message_size));
    for (const auto& [key, value] : id_parts) {
      if (key == "message_size" || key == "suite" || key == "transport") continue;
      c_.id += fmt::format(".{}={}", key, value);
    }
    return std::move(c_);
  }

 private:
  void error(const Origin& o, const std::string& field, const std::string& message) {
    ctx_.report().error(o, field, message);
  }
  const Value& value(std::size_t d) const { return g_.dims[d]->values[pick_[d]]; }

  // suite, transport and regime kind first: applicability of the other keys depends on them.
  void pick_identity() {
    for (std::size_t d = 0; d < g_.dims.size(); ++d) {
      const auto& v = value(d);
      const std::string& key = g_.dims[d]->spec->name;
      if (key == "suite") c_.suite = v.text;
      if (key == "transport") {
        c_.transport = v.text;
        transport_param_ = g_.dims[d];
      }
      if (key == "memory") c_.memory = v.text;
      if (key == "regime.kind") {
        c_.regime.kind = v.text;
        kind_param_ = g_.dims[d];
      }
    }
  }

  // A local suite runs on each rank alone: its cases have no transport ("none"). A transport the
  // group writes itself is an error; one written in defaults does not apply to them.
  void apply_local_suite() {
    const SuiteKeys* suite = ctx_.catalog.suite(c_.suite);
    if (suite == nullptr || !suite->local) return;
    local_ = true;
    c_.transport = "none";
    if (transport_param_ != nullptr && !transport_param_->from_defaults) {
      error(transport_param_->origin, transport_param_->field,
            fmt::format("suite {} runs on each rank alone, without a transport; remove transport",
                        c_.suite));
    }
  }

  // Whether a key's value takes part in this case (its suite, transport and regime kind set).
  bool applies(const Param& p, const Value& v) const {
    const KeySpec& s = *p.spec;
    if (local_ && s.name == "transport") return false;
    if (!s.suites.empty() &&
        std::find(s.suites.begin(), s.suites.end(), c_.suite) == s.suites.end()) {
      return false;
    }
    if (ctx_.keys.is_transport_section(s.section) && c_.transport != s.section) return false;
    if (!s.memories.empty() &&
        std::find(s.memories.begin(), s.memories.end(), c_.memory) == s.memories.end()) {
      return false;
    }
    if (!s.kinds.empty() &&
        std::find(s.kinds.begin(), s.kinds.end(), c_.regime.kind) == s.kinds.end()) {
      return false;
    }
    if (is_self_timed(c_.regime.kind)) {  // they set their own lengths
      if (s.name == "iterations" || s.name == "duration") return false;
      if (s.name == "warmup" && !v.is_duration) return false;
    }
    return true;
  }

  void set_values() {
    for (std::size_t d = 0; d < g_.dims.size(); ++d) {
      const Param& p = *g_.dims[d];
      const Value& v = value(d);
      const std::string& key = p.spec->name;
      // A mix gives the message size of every case of its group, the largest of its sizes (a
      // closed or floor case of a group that varies the kind runs at that size).
      if (key == "regime.mix") {
        for (const auto& sw : v.mix) c_.message_size = std::max(c_.message_size, sw.size);
      }
      if (!applies(p, v)) continue;
      if (key == "interval") interval_ = &p;
      if (key == "fault") {
        c_.fault = v.fault;
        fault_param_ = &p;
        fault_value_ = &v;
      } else if (key == "warmup") {
        warmup_set_ = true;
        (v.is_duration ? c_.warmup_ns : c_.warmup_iterations) = v.number;
      } else if (p.spec->decl != nullptr) {
        auto& settings = !p.spec->memories.empty() ? c_.memory_settings
                         : p.spec->section.empty() ? c_.suite_settings
                                                   : c_.transport_settings;
        settings.set(*p.spec->decl, setting_value(*p.spec->decl, v));
      } else if (p.spec->section == "regime") {
        set_regime(c_.regime, std::string_view(key).substr(7), v);
      } else if (p.spec->section == "map") {
        set_map(c_.map, std::string_view(key).substr(4), v);
      } else {
        if (key == "pattern") pattern_param_ = &p;
        set_case_key(c_, key, v);
      }
    }
  }

  // Case::varied follows file order (the dimensions put sizes last). The id shows the varied
  // keys and, where it is not closed, the regime kind (at its place in file order), so closed
  // plans keep their ids and every other regime is visible.
  std::vector<std::pair<std::string, std::string>> varied_and_id_parts() {
    std::vector<std::pair<std::string, std::string>> id_parts;
    for (const std::size_t d : g_.file_order) {
      const Param& p = *g_.dims[d];
      const Value& v = value(d);
      if (!applies(p, v)) continue;
      const std::string& key = p.spec->name;
      if (p.is_list) {
        c_.varied.emplace_back(key == "sizes" ? "message_size" : key, v.display);
        id_parts.push_back(c_.varied.back());
      } else if (key == "regime.kind" && v.text != "closed") {
        id_parts.emplace_back(key, v.display);
      } else if (key == "fault" && v.fault.active()) {
        id_parts.emplace_back(key, v.display);  // like a kind other than closed
      }
    }
    return id_parts;
  }

  // Lengths of the regimes that set their own: overload runs its step profile; search runs
  // probes until it converges, so its duration is a bound: search_max_probes x search_probe.
  // Warm-up by default: a tenth of the measured phase (search: of one probe).
  void resolve_lengths() {
    if (is_self_timed(c_.regime.kind)) {
      const RegimeSettings& r = c_.regime;
      c_.mode = Mode::duration;
      c_.iterations = 0;
      c_.duration_ns = r.kind == "overload"
                           ? r.overload_before_ns + r.overload_during_ns + r.overload_after_ns
                           : static_cast<std::uint64_t>(r.search_max_probes) * r.search_probe_ns;
    }
    if (warmup_set_) return;
    c_.warmup_iterations = c_.mode == Mode::iterations ? c_.iterations / 10 : 0;
    c_.warmup_ns = c_.mode != Mode::duration    ? 0
                   : c_.regime.kind == "search" ? c_.regime.search_probe_ns / 10
                                                : c_.duration_ns / 10;
  }

  // pattern all_pairs, incast, shift: a point-to-point suite in the closed regime, without a
  // fault (a map's rounds and the flows' steps are closed-loop measurements); incast and shift
  // measure bandwidth (a flow's figure is what its receiver counts).
  void check_pattern() {
    if (c_.map.pattern == "pairs" || pattern_param_ == nullptr) return;
    const SuiteKeys* suite = ctx_.catalog.suite(c_.suite);
    const bool flows = c_.map.pattern != "all_pairs";
    std::string why;
    if (local_ || (suite != nullptr && suite->collective)) {
      why = fmt::format("suite {} does not pair ranks", c_.suite);
    } else if (flows && suite != nullptr && !suite->bandwidth) {
      why = fmt::format("suite {} does not measure bandwidth (use stream)", c_.suite);
    } else if (c_.regime.kind != "closed") {
      why = fmt::format("this case's regime is {} ({} runs closed-loop {})", c_.regime.kind,
                        flows ? "a flow pattern" : "a map", flows ? "steps" : "rounds");
    } else if (c_.fault.active()) {
      why = fmt::format(
          "this case has a fault ({} measures every pair in turn; inject faults in a pairs case)",
          flows ? "a flow pattern" : "a map");
    }
    if (why.empty()) return;
    error(pattern_param_->origin, pattern_param_->field,
          fmt::format("pattern {} needs a point-to-point {}suite in the closed regime without a "
                      "fault: {}",
                      c_.map.pattern, flows ? "bandwidth " : "", why));
  }

  void check_interval() {
    if (c_.mode != Mode::duration || c_.regime.kind == "search" || interval_ == nullptr ||
        c_.interval_ns <= c_.duration_ns) {
      return;
    }
    error(interval_->origin, interval_->field,
          fmt::format("interval {} is longer than the case's duration {}{}",
                      core::format_duration_ns(c_.interval_ns),
                      core::format_duration_ns(c_.duration_ns),
                      c_.regime.kind == "overload"
                          ? " (regime overload: overload_before + overload_during + "
                            "overload_after)"
                          : ""));
  }

  // An active fault (docs/CONFIG.md, "Faults"): an injector that can cause it on the case's
  // transport, a regime with a measured phase of `duration`, a timeline that fits in it, and its
  // bin as the case's interval. Resolves period (0: 2 x hold) and bin (0: the transport's).
  void resolve_fault() {
    FaultSettings& f = c_.fault;
    f.origin = ctx_.report().where(fault_value_->fault_origin, fault_value_->fault_field);
    check_injector();
    if (!fault_regime_ok(c_.regime.kind)) {
      report_fault_regime();
      return;
    }
    if (f.period_ns == 0) f.period_ns = 2 * f.hold_ns;
    const bool bin_written = f.bin_ns != 0;
    if (!bin_written) f.bin_ns = transport_ != nullptr ? transport_->fault_bin_ns : 0;
    if (c_.mode != Mode::duration) return;  // reported for the group
    check_fault_timeline();
    check_fault_bin(bin_written);
  }

  void check_injector() {
    const FaultSettings& f = c_.fault;
    const auto [kind_origin, kind_field] = fault_value_->fault_at("kind");
    const auto& inj = ctx_.injector;
    const bool no_injector =
        inj.state == ParsedInjector::State::absent ||
        (inj.state == ParsedInjector::State::valid && inj.settings.backend == "none");
    if (no_injector) {
      error(kind_origin, kind_field,
            fmt::format("a {} fault needs something to cause it: add a top-level injector: "
                        "{{backend: ...}} with backend netns, vm, link, ibport or command (see "
                        "docs/CONFIG.md, \"Faults\")",
                        f.kind));
    } else if (inj.state == ParsedInjector::State::valid && transport_ != nullptr) {
      if (auto why = fault_refusal(inj.settings.backend, *transport_, f.kind)) {
        error(kind_origin, kind_field, *why);
      }
    }
  }

  void report_fault_regime() {
    const auto [kind_origin, kind_field] = fault_value_->fault_at("kind");
    // At the kind when only the group wrote it, else at the fault.
    const bool at_kind =
        fault_param_->from_defaults && kind_param_ != nullptr && !kind_param_->from_defaults;
    error(at_kind ? kind_param_->origin : kind_origin, at_kind ? kind_param_->field : kind_field,
          fmt::format("a fault needs regime closed, floor or realistic, whose measured phase "
                      "lasts 'duration'; regime {} {}",
                      c_.regime.kind,
                      c_.regime.kind == "overload" ? "runs its own step profile"
                                                   : "only searches for the sustainable rate"));
  }

  void check_fault_timeline() {
    const FaultSettings& f = c_.fault;
    const auto d = [](std::uint64_t ns) { return core::format_duration_ns(ns); };
    const std::uint64_t repeats = static_cast<std::uint64_t>(f.count - 1) * f.period_ns;
    const std::uint64_t end = f.start_ns + f.jitter_ns + repeats + f.hold_ns;
    if (end < c_.duration_ns) return;
    std::string sum = fmt::format("start {} + jitter {}", d(f.start_ns), d(f.jitter_ns));
    if (f.count > 1) sum += fmt::format(" + (count {} - 1) x period {}", f.count, d(f.period_ns));
    sum += fmt::format(" + hold {} = {}", d(f.hold_ns), d(end));
    error(fault_value_->fault_origin, fault_value_->fault_field,
          fmt::format("the fault's timeline does not fit in the measured phase: {}, which must "
                      "be less than duration {} (the fault must clear before the phase ends, "
                      "so that the recovery is measured)",
                      sum, d(c_.duration_ns)));
  }

  void check_fault_bin(bool bin_written) {
    const FaultSettings& f = c_.fault;
    const auto d = [](std::uint64_t ns) { return core::format_duration_ns(ns); };
    const auto [bin_origin, bin_field] = fault_value_->fault_at("bin");
    if (interval_ == nullptr) {
      c_.interval_ns = f.bin_ns;
      if (f.bin_ns <= c_.duration_ns) return;
      std::string bin_text = d(f.bin_ns);
      if (!bin_written) bin_text += ", the default for " + c_.transport;
      error(bin_origin, bin_field,
            fmt::format("the fault's bin {} (the case's interval) is longer than the case's "
                        "duration {}",
                        bin_text, d(c_.duration_ns)));
    } else if (bin_written && c_.interval_ns != f.bin_ns) {
      error(bin_origin, bin_field,
            fmt::format("bin {} differs from interval {} ({}): the recovery curve is read from "
                        "the interval series; write one of them, or the same value in both",
                        d(f.bin_ns), d(c_.interval_ns), interval_->field));
    }
  }

  // The suite's and the transport's cross-field checks.
  void check_backends() {
    core::CaseFacts facts;
    facts.suite = c_.suite;
    facts.transport = c_.transport;
    facts.op = c_.op;
    facts.regime_kind = c_.regime.kind;
    facts.open_loop = c_.regime.open_loop();
    facts.on_break = c_.on_break;
    facts.duration_mode = c_.mode == Mode::duration;
    facts.fault = c_.fault.active();
    facts.memory = c_.memory;
    facts.verify = c_.verify;
    facts.pattern = c_.map.pattern;
    const SuiteKeys* suite = ctx_.catalog.suite(c_.suite);
    check_pairing(suite);
    if (suite != nullptr && suite->check) report(suite->check(c_.suite_settings, facts));
    if (transport_ != nullptr && transport_->check) {
      report(transport_->check(c_.transport_settings, facts));
    }
  }

  // A collective suite runs over a collective backend, a pair-wise suite over a transport.
  void check_pairing(const SuiteKeys* suite) {
    if (suite == nullptr || transport_ == nullptr || suite->collective == transport_->collective) {
      return;
    }
    std::vector<std::string> fitting;
    for (const auto& t : ctx_.catalog.transports) {
      if (t.collective == suite->collective) fitting.push_back(t.name);
    }
    std::string names;
    for (const auto& n : fitting) names += (names.empty() ? "" : ", ") + n;
    report({{{"transport", "suite"},
             fmt::format(
                 "suite {} runs over {} ({}); {} is {}", c_.suite,
                 suite->collective ? "a collective backend" : "a point-to-point transport", names,
                 c_.transport,
                 transport_->collective ? "a collective backend" : "a point-to-point transport"),
             true}});
  }

  void report(const std::vector<core::KeyProblem>& problems) {
    for (const auto& problem : problems) {
      const Param* at = place_of(problem);
      error(at != nullptr ? at->origin : g_.origin, at != nullptr ? at->field : g_.field,
            problem.message);
    }
  }

  // The first key of `at` the group writes itself, else (defaults_too) the first written in
  // defaults, else nullptr: the group.
  const Param* place_of(const core::KeyProblem& problem) const {
    const auto written = [&](const std::string& key, bool from_defaults) -> const Param* {
      for (const auto* p : g_.dims) {
        if (p->spec->name == key && p->from_defaults == from_defaults) return p;
      }
      return nullptr;
    };
    for (const auto& key : problem.at) {
      if (const Param* p = written(key, false)) return p;
    }
    if (!problem.defaults_too) return nullptr;
    for (const auto& key : problem.at) {
      if (const Param* p = written(key, true)) return p;
    }
    return nullptr;
  }

  LoadContext& ctx_;
  const GroupDims& g_;
  const std::vector<std::size_t>& pick_;
  Case c_;
  const TransportKeys* transport_ = nullptr;
  const Param* transport_param_ = nullptr;
  bool local_ = false;  // the suite runs on each rank alone (no transport)
  const Param* kind_param_ = nullptr;
  const Param* interval_ = nullptr;
  const Param* fault_param_ = nullptr;
  const Param* pattern_param_ = nullptr;
  const Value* fault_value_ = nullptr;
  bool warmup_set_ = false;
};

}  // namespace

Case build_case(LoadContext& ctx, const GroupDims& g, const std::vector<std::size_t>& pick) {
  return CaseBuilder(ctx, g, pick).build();
}

}  // namespace fabricbench::spec
