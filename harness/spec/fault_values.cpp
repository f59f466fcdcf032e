// One `fault:` mapping (docs/CONFIG.md, "Faults"): its keys, the keys each kind requires, and how
// equal faults display alike in ids.
#include <algorithm>

#include <fmt/format.h>

#include "core/units.hpp"
#include "harness/spec/fault_keys.hpp"
#include "harness/spec/values.hpp"

namespace fabricbench::spec {
namespace {

// loss: 0.01%..100%.
constexpr double kMinLossFraction = 0.0001;
constexpr double kMaxLossFraction = 1.0;

// The keys of one `fault:` mapping ("loss" and "rate" are parsed by their own rules).
const std::vector<KeySpec>& fault_key_specs() {
  static const std::vector<KeySpec> keys = {
      {"kind",
       Type::choice,
       0,
       0,
       {"none", "link_down", "flap", "blackhole", "loss", "delay", "rate_limit"}},
      {"start", Type::duration, 0, 3600 * kNsPerS, {}},
      {"hold", Type::duration, kNsPerMs, 3600 * kNsPerS, {}},
      {"count", Type::count, 1, 1000, {}},
      {"period", Type::duration, 0, 3600 * kNsPerS, {}},
      {"jitter", Type::duration, 0, 3600 * kNsPerS, {}},
      {"seed", Type::count, 0, (1ULL << 63) - 1, {}},
      {"loss", Type::percent, 0, 0, {}},
      {"delay", Type::duration, kNsPerUs, 10 * kNsPerS, {}},
      {"rate", Type::rate, 0, 0, {}},
      {"bin", Type::duration, kNsPerMs, 10 * kNsPerS, {}},
      {"consecutive", Type::count, 1, 1000, {}},
  };
  return keys;
}

std::vector<std::string_view> fault_key_names() {
  std::vector<std::string_view> names;
  for (const auto& k : fault_key_specs()) names.push_back(k.name);
  return names;
}

const KeySpec* find_fault_key(std::string_view name) {
  for (const auto& k : fault_key_specs()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

// The keys a fault kind requires (and no other kind takes).
struct KindKey {
  std::string_view key;
  std::string_view kind;
  std::string_view what;  // for "missing 'loss' ...: <what>"
};
const std::vector<KindKey> kKindKeys = {
    {"loss", "loss", "the fraction of packets dropped, such as 5%"},
    {"delay", "delay", "the one-way delay added, such as 10ms"},
    {"rate", "rate_limit", "the rate the link is limited to, in bits per second, such as 100Mb/s"},
};

// A fault as displayed in ids and Case::varied: the kind, then ",key=value" for each setting
// that differs from its default, in the order of the fault keys: "link_down",
// "flap,hold=200ms,count=3", "loss,loss=5%". Equal faults display alike.
std::string fault_display(const FaultSettings& f) {
  const FaultSettings d;
  std::string out = f.kind;
  const auto add = [&out](std::string_view key, const std::string& value) {
    out += ',';
    out += key;
    out += '=';
    out += value;
  };
  const auto duration = [](std::uint64_t ns) { return core::format_duration_ns(ns); };
  if (f.start_ns != d.start_ns) add("start", duration(f.start_ns));
  if (f.hold_ns != d.hold_ns) add("hold", duration(f.hold_ns));
  if (f.count != d.count) add("count", std::to_string(f.count));
  if (f.period_ns != 0 && f.period_ns != 2 * f.hold_ns) add("period", duration(f.period_ns));
  if (f.jitter_ns != d.jitter_ns) add("jitter", duration(f.jitter_ns));
  if (f.seed != d.seed) add("seed", std::to_string(f.seed));
  if (f.kind == "loss") add("loss", core::format_rate({core::ParsedRate::Kind::fraction, f.loss}));
  if (f.kind == "delay") add("delay", duration(f.delay_ns));
  if (f.kind == "rate_limit") {
    add("rate", core::format_rate({core::ParsedRate::Kind::bits, f.rate_bits_per_s}));
  }
  if (f.bin_ns != 0) add("bin", duration(f.bin_ns));
  if (f.consecutive != d.consecutive) add("consecutive", std::to_string(f.consecutive));
  return out;
}

// Sets the field of `f` that `key` names from its parsed value (loss and rate are set by their
// own parsers).
void set_fault_key(FaultSettings& f, std::string_view key, const Value& x) {
  if (key == "kind") f.kind = x.text;
  if (key == "start") f.start_ns = x.number;
  if (key == "hold") f.hold_ns = x.number;
  if (key == "count") f.count = static_cast<int>(x.number);
  if (key == "period") f.period_ns = x.number;
  if (key == "jitter") f.jitter_ns = x.number;
  if (key == "seed") f.seed = x.number;
  if (key == "delay") f.delay_ns = x.number;
  if (key == "bin") f.bin_ns = x.number;
  if (key == "consecutive") f.consecutive = static_cast<int>(x.number);
}

}  // namespace

const std::vector<std::string_view>& fault_kinds() {
  static const std::vector<std::string_view> kinds = {"none", "link_down", "flap",      "blackhole",
                                                      "loss", "delay",     "rate_limit"};
  return kinds;
}

bool fault_regime_ok(std::string_view regime_kind) {
  return regime_kind == "closed" || regime_kind == "floor" || regime_kind == "realistic";
}

std::optional<double> ValueParser::parse_loss(const SNode& n, const std::string& field) {
  core::ParsedRate r;
  bool ok = n.kind == SNode::Kind::scalar;
  if (ok) {
    try {
      r = core::parse_rate(n.text);
    } catch (const core::Error&) {
      ok = false;
    }
  }
  if (!ok || r.kind != core::ParsedRate::Kind::fraction) {
    error(n.origin, field,
          fmt::format("expected a percentage of packets dropped such as 5%, got {}", describe(n)));
    return std::nullopt;
  }
  if (r.value < kMinLossFraction * (1 - 1e-12) || r.value > kMaxLossFraction * (1 + 1e-12)) {
    error(n.origin, field,
          fmt::format("must be between 0.01% and 100%, got {}", core::format_rate(r)));
    return std::nullopt;
  }
  return r.value;
}

// One `fault:` mapping (an item of a fault list, or the fault itself). Empty on error.
std::vector<Value> ValueParser::parse_fault(const SNode& n, const std::string& field) {
  if (n.kind != SNode::Kind::map) {
    error(n.origin, field,
          fmt::format("expected a fault mapping such as {{kind: link_down, hold: 1s}}, or a "
                      "list of them (one case per fault), got {}",
                      describe(n)));
    return {};
  }
  const std::size_t before = report_.count();
  check_unknown_keys(n, field, fault_key_names(), " in fault");
  Value v;
  FaultSettings& f = v.fault;
  v.fault_origin = n.origin;
  v.fault_field = field;
  for (const auto& e : n.entries) {
    const KeySpec* spec = find_fault_key(e.key);
    if (spec == nullptr) continue;
    const std::string f_field = child_field(field, e.key);
    v.fault_keys[e.key] = {e.value.origin, f_field};
    if (e.value.kind == SNode::Kind::sequence) {
      error(e.value.origin, f_field,
            fmt::format("a list inside a fault is not a matrix; to vary the fault, give a list "
                        "of fault mappings, one case each, such as fault: [{{kind: loss, loss: "
                        "1%}}, {{kind: loss, loss: 5%}}]"));
      continue;
    }
    if (e.key == "loss") {
      if (auto x = parse_loss(e.value, f_field)) f.loss = *x;
      continue;
    }
    if (e.key == "rate") {
      if (auto x = parse_bits_rate(e.value, f_field)) f.rate_bits_per_s = *x;
      continue;
    }
    const auto parsed = parse_value(e.value, *spec, f_field);
    if (!parsed.empty()) set_fault_key(f, e.key, parsed.front());
  }
  if (n.find("kind") == nullptr) {
    error(n.origin, field,
          fmt::format("missing required key 'kind' in fault (one of {})",
                      list_values(fault_kinds())));
  }
  check_fault_kind_keys(n, field, f);
  if (report_.count() != before) return {};
  v.display = fault_display(f);
  v.text = f.kind;
  return {v};
}

// The keys the fault's kind requires or refuses, and period against hold.
void ValueParser::check_fault_kind_keys(const SNode& n, const std::string& field,
                                        const FaultSettings& f) {
  const MapEntry* kind_entry = n.find("kind");
  const bool kind_known = kind_entry != nullptr && kind_entry->value.kind == SNode::Kind::scalar &&
                          std::find(fault_kinds().begin(), fault_kinds().end(),
                                    kind_entry->value.text) != fault_kinds().end();
  if (!kind_known) return;
  if (f.kind == "none") {
    for (const auto& e : n.entries) {
      if (e.key == "kind" || find_fault_key(e.key) == nullptr) continue;
      error(e.key_origin, child_field(field, e.key),
            fmt::format("a fault of kind none (no fault) takes no other keys; remove '{}'", e.key));
    }
    return;
  }
  for (const auto& k : kKindKeys) {
    const MapEntry* e = n.find(k.key);
    if (f.kind == k.kind && e == nullptr) {
      error(n.origin, field, fmt::format("missing '{}' for a {} fault: {}", k.key, k.kind, k.what));
    } else if (f.kind != k.kind && e != nullptr) {
      error(e->key_origin, child_field(field, k.key),
            fmt::format("'{}' applies only to kind {}; this fault's kind is {}", k.key, k.kind,
                        f.kind));
    }
  }
  const MapEntry* period = n.find("period");
  if (period != nullptr && f.count > 1 && f.period_ns != 0 && f.period_ns <= f.hold_ns) {
    error(period->value.origin, child_field(field, "period"),
          fmt::format("period {} must be longer than hold {} when count is {} (each "
                      "occurrence ends before the next one starts)",
                      core::format_duration_ns(f.period_ns), core::format_duration_ns(f.hold_ns),
                      f.count));
  }
}

}  // namespace fabricbench::spec
