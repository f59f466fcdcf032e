#include "harness/spec/experiment.hpp"

namespace fabricbench::spec {

const char* to_string(Mode mode) noexcept {
  return mode == Mode::duration ? "duration" : "iterations";
}

nlohmann::json to_json(const core::Settings& settings) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& e : settings.entries()) {
    switch (e.value.kind) {
      case core::SettingValue::Kind::number:
        out[e.plan_name] = e.value.number;
        break;
      case core::SettingValue::Kind::flag:
        out[e.plan_name] = e.value.flag;
        break;
      case core::SettingValue::Kind::text:
        out[e.plan_name] = e.value.text;
        break;
    }
  }
  return out;
}

namespace {

const char* to_string(Rate::Unit unit) noexcept {
  switch (unit) {
    case Rate::Unit::ops_per_s:
      return "ops_per_s";
    case Rate::Unit::bits_per_s:
      return "bits_per_s";
    case Rate::Unit::fraction:
      return "fraction";
    case Rate::Unit::none:
      break;
  }
  return "none";
}

}  // namespace

nlohmann::json to_json(const MapSettings& m) {
  return nlohmann::json{{"latency_factor", m.latency_factor},
                        {"bandwidth_fraction", m.bandwidth_fraction},
                        {"node_fraction", m.node_fraction},
                        {"retest_partners", m.retest_partners}};
}

nlohmann::json to_json(const RegimeSettings& r) {
  nlohmann::json mix = nlohmann::json::array();
  for (const auto& m : r.mix)
    mix.push_back(nlohmann::json{{"size_bytes", m.size}, {"weight", m.weight}});
  return nlohmann::json{
      {"kind", r.kind},
      {"arrival", r.arrival},
      {"seed", r.seed},
      {"rate", {{"unit", to_string(r.rate.unit)}, {"value", r.rate.value}, {"text", r.rate.text}}},
      {"streams", r.streams},
      {"mix", mix},
      {"mix_text", r.mix_text},
      {"inflight", r.inflight},
      {"backlog", r.backlog},
      {"deadline_ns", r.deadline_ns},
      {"sample_interval_ns", r.sample_interval_ns},
      {"generator", r.generator},
      {"search_queue_age_ns", r.search_queue_age_ns},
      {"search_probe_ns", r.search_probe_ns},
      {"search_precision", r.search_precision},
      {"search_max_probes", r.search_max_probes},
      {"overload_factor", r.overload_factor},
      {"overload_before_ns", r.overload_before_ns},
      {"overload_during_ns", r.overload_during_ns},
      {"overload_after_ns", r.overload_after_ns},
  };
}

nlohmann::json to_json(const FaultSettings& f) {
  return nlohmann::json{
      {"kind", f.kind},           {"start_ns", f.start_ns},
      {"hold_ns", f.hold_ns},     {"count", f.count},
      {"period_ns", f.period_ns}, {"jitter_ns", f.jitter_ns},
      {"seed", f.seed},           {"loss", f.loss},
      {"delay_ns", f.delay_ns},   {"rate_bits_per_s", f.rate_bits_per_s},
      {"bin_ns", f.bin_ns},       {"consecutive", f.consecutive},
  };
}

nlohmann::json to_json(const InjectorSettings& i) {
  return nlohmann::json{
      {"backend", i.backend},
      {"target", i.target},
      {"allow", i.allow},
      {"force", i.force},
      {"inject", i.inject},
      {"clear", i.clear},
      {"command_timeout_ns", i.command_timeout_ns},
      {"link_rate_bps", i.link_rate_bits_per_s},
  };
}

nlohmann::json to_json(const Case& c) {
  nlohmann::json varied = nlohmann::json::array();
  for (const auto& [key, value] : c.varied) {
    varied.push_back(nlohmann::json{{"key", key}, {"value", value}});
  }
  nlohmann::json out{
      {"id", c.id},
      {"group", c.group},
      {"suite", c.suite},
      {"transport", c.transport},
      {"message_size_bytes", c.message_size},
      {"mode", to_string(c.mode)},
      {"iterations", c.iterations},
      {"duration_ns", c.duration_ns},
      {"warmup_iterations", c.warmup_iterations},
      {"warmup_ns", c.warmup_ns},
      {"repetitions", c.repetitions},
      {"completion", c.completion},
      {"interval_ns", c.interval_ns},
      {"memory", c.memory},
      {"verify", c.verify},
      {"on_break", c.on_break},
      {"reconnect_timeout_ns", c.reconnect_timeout_ns},
      {"op", c.op},
      {"regime", to_json(c.regime)},
      {"fault", to_json(c.fault)},
      {"varied", varied},
  };
  // The suite's keys sit beside the case's own; the transport's in a section of their own, and
  // only the case's transport's: a TCP case does not depend on verbs knobs.
  const nlohmann::json suite = to_json(c.suite_settings);
  for (const auto& [key, value] : suite.items()) out[key] = value;
  if (!c.transport_settings.entries().empty()) out[c.transport] = to_json(c.transport_settings);
  // The memory provider's keys beside the case's own, and only where the provider reads them.
  const nlohmann::json memory = to_json(c.memory_settings);
  for (const auto& [key, value] : memory.items()) out[key] = value;
  // Only where it is not the default pairing, so the plans (and digests) of pair cases stay.
  // The map's thresholds only where they judge something (all_pairs).
  if (c.map.pattern != "pairs") out["pattern"] = c.map.pattern;
  if (c.map.pattern == "all_pairs") out["map"] = to_json(c.map);
  return out;
}

nlohmann::json to_json(const PlacementSettings& p) {
  return nlohmann::json{
      {"mode", p.mode}, {"devices", p.devices}, {"gpus", p.gpus}, {"local_ranks", p.local_ranks}};
}

}  // namespace fabricbench::spec
