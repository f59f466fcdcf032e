#include "harness/spec/experiment.hpp"

namespace fabricbench::spec {

const char* to_string(Mode mode) noexcept {
  return mode == Mode::duration ? "duration" : "iterations";
}

nlohmann::json to_json(const TcpSettings& tcp) {
  return nlohmann::json{
      {"address", tcp.address},         {"interface", tcp.interface},
      {"family", tcp.family},           {"nodelay", tcp.nodelay},
      {"sndbuf_bytes", tcp.sndbuf},     {"rcvbuf_bytes", tcp.rcvbuf},
      {"connections", tcp.connections}, {"user_timeout_ns", tcp.user_timeout_ns},
  };
}

nlohmann::json to_json(const VerbsSettings& v) {
  return nlohmann::json{
      {"device", v.device},
      {"netdev", v.netdev},
      {"port", v.port},
      {"gid_index", v.gid_index},
      {"qp_type", v.qp_type},
      {"mtu_bytes", v.mtu},
      {"queue_depth", v.queue_depth},
      {"inline_bytes", v.inline_size},
      {"cq_moderation", v.cq_moderation},
      {"sl", v.sl},
      {"traffic_class", v.traffic_class},
      {"timeout", v.timeout},
      {"retry_count", v.retry_count},
      {"rnr_retry", v.rnr_retry},
      {"qps", v.qps},
      {"rdma_cm", v.rdma_cm},
  };
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
      {"direction", c.direction},
      {"window", c.window},
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
  // Only the settings of the case's own transport: a TCP case does not depend on verbs knobs.
  if (c.transport == "tcp") out["tcp"] = to_json(c.tcp);
  if (c.transport == "verbs") out["verbs"] = to_json(c.verbs);
  return out;
}

}  // namespace fabricbench::spec
