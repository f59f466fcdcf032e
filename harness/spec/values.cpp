#include "harness/spec/values.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "core/units.hpp"

namespace fabricbench::spec {
namespace {

constexpr std::uint64_t kMaxWarmupIterations = 1'000'000'000;
constexpr std::uint64_t kMaxWarmupNs = 3600 * kNsPerS;

// Bounds of regime.rate: 1%..1000% of the sustainable rate; absolute rates up to these.
constexpr double kMinRateFraction = 0.01;
constexpr double kMaxRateFraction = 10.0;
constexpr double kMaxOpsPerSecond = 1e9;
constexpr double kMaxBitsPerSecond = 1e13;

std::string range_text(const KeySpec& spec, std::uint64_t v) {
  if (spec.type == Type::size || spec.type == Type::sizes) return core::format_size(v);
  if (spec.type == Type::duration) return core::format_duration_ns(v);
  return std::to_string(v);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

}  // namespace

const Param* find_param(const std::vector<Param>& params, std::string_view key) {
  for (const auto& p : params) {
    if (p.spec->name == key) return &p;
  }
  return nullptr;
}

bool valid_name(const std::string& s, bool allow_dot) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' ||
           (allow_dot && c == '.');
  });
}

core::SettingValue setting_value(const core::KeyDecl& decl, const Value& v) {
  switch (decl.type) {
    case core::KeyType::size:
    case core::KeyType::count:
    case core::KeyType::duration:
      return core::SettingValue::of_number(static_cast<std::int64_t>(v.number));
    case core::KeyType::boolean:
      return core::SettingValue::of_flag(v.flag);
    case core::KeyType::choice:
      if (decl.numeric_choice) return core::KeyDecl::numeric_value(v.text);
      return core::SettingValue::of_text(v.text);
    case core::KeyType::address:
    case core::KeyType::interface_name:
    case core::KeyType::device_name:
    case core::KeyType::device_list:
      return core::SettingValue::of_text(v.text);
  }
  return {};
}

std::string expected_what(const KeySpec& spec) {
  switch (spec.type) {
    case Type::sizes:
      return "a size or a sweep such as 4KiB or 8..4MiB x2";
    case Type::size:
      return "a size such as 4KiB";
    case Type::count:
      return "an integer";
    case Type::duration:
      return "a duration such as 500ms";
    case Type::warmup:
      return "an iteration count such as 1000 or a duration such as 200ms";
    case Type::boolean:
      return "true or false";
    case Type::choice:
      return fmt::format("one of {}", list_values(views(spec.choices)));
    case Type::address:
      return "auto or an IP address such as 127.0.0.1 or ::1";
    case Type::interface_name:
      return "a network interface name such as eth0";
    case Type::device_name:
      return "an RDMA device name such as mlx5_0 or rxe0";
    case Type::device_list:
      return "a list of RDMA device names such as [mlx5_0, mlx5_1]";
    case Type::rate:
      return "a rate such as 200k/s, 5Gb/s or 70%";
    case Type::mix:
      return "a size mix such as \"64B:9,64KiB:1\"";
    case Type::percent:
      return "a percentage such as 3%";
    case Type::factor:
      return "a number such as 2 or 1.5";
    case Type::fault:
      return "a fault mapping such as {kind: link_down, hold: 1s}";
  }
  return "a value";
}

bool ValueParser::check_range(const KeySpec& spec, std::uint64_t v, const Origin& o,
                              const std::string& field) {
  if (v >= spec.lo && v <= spec.hi) return true;
  error(o, field,
        fmt::format("must be between {} and {}, got {}", range_text(spec, spec.lo),
                    range_text(spec, spec.hi), range_text(spec, v)));
  return false;
}

std::optional<std::uint64_t> ValueParser::parse_count(const SNode& n, const KeySpec& spec,
                                                      const std::string& field) {
  const std::string& t = n.text;
  const bool negative =
      t.size() > 1 && t[0] == '-' && core::all_digits(std::string_view(t).substr(1));
  if (negative) {
    error(n.origin, field, fmt::format("must be between {} and {}, got {}", spec.lo, spec.hi, t));
    return std::nullopt;
  }
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || p != t.data() + t.size() || ec == std::errc::invalid_argument) {
    error(n.origin, field, fmt::format("expected an integer, got '{}'", t));
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range) {
    error(n.origin, field, fmt::format("must be between {} and {}, got {}", spec.lo, spec.hi, t));
    return std::nullopt;
  }
  if (!check_range(spec, v, n.origin, field)) return std::nullopt;
  return v;
}

std::vector<Value> ValueParser::parse_value(const SNode& n, const KeySpec& spec,
                                            const std::string& field) {
  const bool stringy = spec.type == Type::address || spec.type == Type::interface_name ||
                       spec.type == Type::device_name || spec.type == Type::device_list;
  if (n.kind == SNode::Kind::null && stringy) return {Value{}};
  if (spec.type == Type::fault) return parse_fault(n, field);
  if (spec.type == Type::device_list) return parse_device_list(n, field);
  if (n.kind != SNode::Kind::scalar) {
    error(n.origin, field, fmt::format("expected {}, got {}", expected_what(spec), describe(n)));
    return {};
  }
  switch (spec.type) {
    case Type::sizes:
      return parse_sizes(n, spec, field);
    case Type::size:
      return parse_size(n, spec, field);
    case Type::count: {
      auto c = parse_count(n, spec, field);
      if (!c) return {};
      Value v;
      v.number = *c;
      v.display = std::to_string(*c);
      return {v};
    }
    case Type::duration:
      return parse_duration(n, spec, field);
    case Type::warmup:
      return parse_warmup(n, field);
    case Type::boolean:
      return parse_boolean(n, field);
    case Type::choice:
      return parse_choice(n, spec, field);
    case Type::address:
    case Type::interface_name:
    case Type::device_name:
      return parse_name(n, spec, field);
    case Type::rate:
      return parse_rate(n, field);
    case Type::mix:
      return parse_mix(n, spec, field);
    case Type::percent:
      return parse_percent(n, spec, field);
    case Type::factor:
      return parse_factor(n, spec, field);
    case Type::fault:
    case Type::device_list:
      break;  // parse_fault, parse_device_list, above
  }
  return {};
}

std::vector<Value> ValueParser::parse_sizes(const SNode& n, const KeySpec& spec,
                                            const std::string& field) {
  std::vector<std::uint64_t> sizes;
  try {
    sizes = core::parse_size_sweep(n.text);
  } catch (const core::Error& e) {
    error(n.origin, field, e.what());
    return {};
  }
  std::vector<Value> out;
  for (auto s : sizes) {
    if (!check_range(spec, s, n.origin, field)) return {};
    Value size;
    size.number = s;
    size.display = core::format_size(s);
    out.push_back(std::move(size));
  }
  return out;
}

std::vector<Value> ValueParser::parse_size(const SNode& n, const KeySpec& spec,
                                           const std::string& field) {
  Value v;
  try {
    v.number = core::parse_size(n.text);
  } catch (const core::Error& e) {
    error(n.origin, field, e.what());
    return {};
  }
  if (!check_range(spec, v.number, n.origin, field)) return {};
  v.display = core::format_size(v.number);
  return {v};
}

std::vector<Value> ValueParser::parse_duration(const SNode& n, const KeySpec& spec,
                                               const std::string& field) {
  Value v;
  try {
    v.number = core::parse_duration_ns(n.text);
  } catch (const core::Error& e) {
    error(n.origin, field, e.what());
    return {};
  }
  if (!check_range(spec, v.number, n.origin, field)) return {};
  v.display = core::format_duration_ns(v.number);
  return {v};
}

std::vector<Value> ValueParser::parse_warmup(const SNode& n, const std::string& field) {
  const std::string& t = n.text;
  Value v;
  if (core::all_digits(t)) {
    const KeySpec count{"warmup", Type::count, 0, kMaxWarmupIterations, {}};
    auto c = parse_count(n, count, field);
    if (!c) return {};
    v.number = *c;
    v.display = std::to_string(*c);
    return {v};
  }
  try {
    v.number = core::parse_duration_ns(t);
  } catch (const core::Error& e) {
    error(n.origin, field,
          fmt::format("expected an iteration count such as 1000 or a duration such as "
                      "200ms: {}",
                      e.what()));
    return {};
  }
  const KeySpec dur{"warmup", Type::duration, 0, kMaxWarmupNs, {}};
  if (!check_range(dur, v.number, n.origin, field)) return {};
  v.is_duration = true;
  v.display = core::format_duration_ns(v.number);
  return {v};
}

std::vector<Value> ValueParser::parse_boolean(const SNode& n, const std::string& field) {
  const std::string l = lower(n.text);
  Value v;
  if (l == "true" || l == "yes" || l == "on") {
    v.flag = true;
  } else if (l == "false" || l == "no" || l == "off") {
    v.flag = false;
  } else {
    error(n.origin, field, fmt::format("expected true or false, got '{}'", n.text));
    return {};
  }
  v.display = v.flag ? "true" : "false";
  return {v};
}

std::vector<Value> ValueParser::parse_choice(const SNode& n, const KeySpec& spec,
                                             const std::string& field) {
  const std::string& t = n.text;
  if (std::find(spec.choices.begin(), spec.choices.end(), t) == spec.choices.end()) {
    const auto choices = views(spec.choices);
    const auto near = closest(t, choices);
    error(n.origin, field,
          fmt::format("unknown value '{}'; valid values: {}{}", t, list_values(choices),
                      near ? fmt::format(" (did you mean '{}'?)", *near) : ""));
    return {};
  }
  Value v;
  v.text = t;
  v.display = t;
  return {v};
}

// An address, an interface name or an RDMA device name.
std::vector<Value> ValueParser::parse_name(const SNode& n, const KeySpec& spec,
                                           const std::string& field) {
  const std::string& t = n.text;
  std::string bad;
  if (spec.type == Type::address && !t.empty() && t != "auto") {
    in6_addr buf{};
    if (inet_pton(AF_INET, t.c_str(), &buf) != 1 && inet_pton(AF_INET6, t.c_str(), &buf) != 1) {
      bad = fmt::format(
          "expected auto or an IPv4 or IPv6 address such as 127.0.0.1 or ::1, got '{}' (host "
          "names are not resolved; use tcp.interface to pick a NIC)",
          t);
    }
  } else if (spec.type == Type::interface_name) {
    if (t.size() > 15 || t == "." || t == ".." || std::any_of(t.begin(), t.end(), [](char c) {
          return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) != 0;
        })) {
      bad = fmt::format(
          "'{}' is not a valid interface name (at most 15 characters, no '/', ':' or spaces)", t);
    }
  } else if (spec.type == Type::device_name) {
    if (t.empty() || t.size() > 63 || std::any_of(t.begin(), t.end(), [](char c) {
          return !(std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' ||
                   c == '.');
        })) {
      bad = fmt::format(
          "'{}' is not a valid RDMA device name (1-63 letters, digits, '_', '-', '.')", t);
    }
  }
  if (!bad.empty()) {
    error(n.origin, field, bad);
    return {};
  }
  Value v;
  v.text = t;
  v.display = t;
  return {v};
}

// [mlx5_0, mlx5_1] (or "mlx5_0,mlx5_1"): one value, the names joined by ','; displayed joined by
// '+' (case ids).
std::vector<Value> ValueParser::parse_device_list(const SNode& n, const std::string& field) {
  constexpr std::size_t kMaxDevices = 16;
  std::vector<std::pair<std::string, SNode>> names;
  if (n.kind == SNode::Kind::sequence) {
    for (std::size_t i = 0; i < n.items.size(); ++i) {
      if (n.items[i].kind != SNode::Kind::scalar) {
        error(n.items[i].origin, index_field(field, i),
              fmt::format("expected an RDMA device name, got {}", describe(n.items[i])));
        return {};
      }
      names.emplace_back(index_field(field, i), n.items[i]);
    }
  } else if (n.kind == SNode::Kind::scalar) {
    std::string_view rest = n.text;
    while (true) {
      const auto comma = rest.find(',');
      SNode item = n;
      item.text = std::string(trim(rest.substr(0, comma)));
      names.emplace_back(field, std::move(item));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  } else {
    error(n.origin, field,
          fmt::format("expected a list of RDMA device names such as [mlx5_0, mlx5_1], got {}",
                      describe(n)));
    return {};
  }
  if (names.empty() || names.size() > kMaxDevices) {
    error(n.origin, field,
          fmt::format("expected 1 to {} RDMA device names, got {}", kMaxDevices, names.size()));
    return {};
  }
  KeySpec one;
  one.name = "device";
  one.type = Type::device_name;
  Value out;
  std::set<std::string> seen;
  for (const auto& [f, item] : names) {
    const auto v = parse_name(item, one, f);
    if (v.empty()) return {};
    if (!seen.insert(v[0].text).second) {
      error(item.origin, f, fmt::format("device '{}' is already in the list", v[0].text));
      return {};
    }
    out.text += (out.text.empty() ? "" : ",") + v[0].text;
    out.display += (out.display.empty() ? "" : "+") + v[0].text;
  }
  return {out};
}

std::vector<Value> ValueParser::parse_rate(const SNode& n, const std::string& field) {
  core::ParsedRate r;
  try {
    r = core::parse_rate(n.text);
  } catch (const core::Error& e) {
    error(n.origin, field, e.what());
    return {};
  }
  const std::string text = core::format_rate(r);
  Value v;
  switch (r.kind) {
    case core::ParsedRate::Kind::fraction:
      if (r.value < kMinRateFraction * (1 - 1e-12) || r.value > kMaxRateFraction * (1 + 1e-12)) {
        error(n.origin, field,
              fmt::format("a fraction of the sustainable rate must be between 1% and 1000%, "
                          "got {}",
                          text));
        return {};
      }
      v.rate.unit = Rate::Unit::fraction;
      break;
    case core::ParsedRate::Kind::ops:
      if (r.value > kMaxOpsPerSecond) {
        error(
            n.origin, field,
            fmt::format("must be at most {}, got {}",
                        core::format_rate({core::ParsedRate::Kind::ops, kMaxOpsPerSecond}), text));
        return {};
      }
      v.rate.unit = Rate::Unit::ops_per_s;
      break;
    case core::ParsedRate::Kind::bits:
      if (r.value > kMaxBitsPerSecond) {
        error(n.origin, field,
              fmt::format("must be at most {}, got {}",
                          core::format_rate({core::ParsedRate::Kind::bits, kMaxBitsPerSecond}),
                          text));
        return {};
      }
      v.rate.unit = Rate::Unit::bits_per_s;
      break;
  }
  v.rate.value = r.value;
  v.rate.text = text;
  v.display = text;
  return {v};
}

std::optional<double> ValueParser::parse_bits_rate(const SNode& n, const std::string& field) {
  if (n.kind != SNode::Kind::scalar) {
    error(n.origin, field,
          fmt::format("expected a rate in bits per second such as 100Mb/s, got {}", describe(n)));
    return std::nullopt;
  }
  core::ParsedRate r;
  try {
    r = core::parse_rate(n.text);
  } catch (const core::Error& e) {
    error(n.origin, field, e.what());
    return std::nullopt;
  }
  if (r.kind != core::ParsedRate::Kind::bits) {
    error(n.origin, field,
          fmt::format(
              "expected a rate in bits per second such as 100Mb/s, got '{}' ({}); a "
              "rate limit is a link speed",
              n.text,
              r.kind == core::ParsedRate::Kind::ops ? "operations per second" : "a percentage"));
    return std::nullopt;
  }
  if (r.value > kMaxBitsPerSecond) {
    error(n.origin, field,
          fmt::format("must be at most {}, got {}",
                      core::format_rate({core::ParsedRate::Kind::bits, kMaxBitsPerSecond}),
                      core::format_rate(r)));
    return std::nullopt;
  }
  return r.value;
}

// regime.mix: "size:weight,size:weight,..." (a missing weight is 1). Sizes lo..hi bytes, each
// once; weights positive and finite.
std::vector<Value> ValueParser::parse_mix(const SNode& n, const KeySpec& spec,
                                          const std::string& field) {
  const std::string& t = n.text;
  Value v;
  std::string_view rest = t;
  if (trim(rest).empty()) {
    error(n.origin, field,
          "expected a size mix such as \"64B:9,64KiB:1\" (size:weight, comma-separated), got "
          "an empty text");
    return {};
  }
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    if (item.empty()) {
      error(n.origin, field,
            fmt::format("empty entry in size mix '{}'; expected size:weight entries such as "
                        "64B:9,64KiB:1",
                        t));
      return {};
    }
    const std::size_t colon = item.find(':');
    const std::string_view size_text = trim(item.substr(0, colon));
    SizeWeight sw;
    try {
      sw.size = core::parse_size(size_text);
    } catch (const core::Error& e) {
      error(n.origin, field, fmt::format("size mix entry '{}': {}", item, e.what()));
      return {};
    }
    if (sw.size < spec.lo || sw.size > spec.hi) {
      error(n.origin, field,
            fmt::format("size mix entry '{}': the size must be between {} and {}, got {}", item,
                        core::format_size(spec.lo), core::format_size(spec.hi),
                        core::format_size(sw.size)));
      return {};
    }
    if (colon != std::string_view::npos) {
      const std::string_view w = trim(item.substr(colon + 1));
      auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), sw.weight);
      if (w.empty() || p != w.data() + w.size() || ec != std::errc{} || !std::isfinite(sw.weight) ||
          sw.weight <= 0) {
        error(n.origin, field,
              fmt::format("size mix entry '{}': the weight must be a positive number such as 9 "
                          "or 0.5, got '{}'",
                          item, w));
        return {};
      }
    }
    const bool seen = std::any_of(v.mix.begin(), v.mix.end(),
                                  [&](const SizeWeight& x) { return x.size == sw.size; });
    if (seen) {
      error(n.origin, field,
            fmt::format("size {} appears more than once in the size mix '{}'",
                        core::format_size(sw.size), t));
      return {};
    }
    v.mix.push_back(sw);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  for (const auto& sw : v.mix) {
    if (!v.text.empty()) v.text += ',';
    v.text += fmt::format("{}:{}", core::format_size(sw.size), sw.weight);
  }
  v.display = v.text;
  return {v};
}

std::vector<Value> ValueParser::parse_percent(const SNode& n, const KeySpec& spec,
                                              const std::string& field) {
  core::ParsedRate r;
  try {
    r = core::parse_rate(n.text);
  } catch (const core::Error&) {
    r.kind = core::ParsedRate::Kind::ops;  // reported below
  }
  if (r.kind != core::ParsedRate::Kind::fraction) {
    error(n.origin, field, fmt::format("expected a percentage such as 3%, got '{}'", n.text));
    return {};
  }
  const auto tenths = [](std::uint64_t x) {
    return core::format_rate({core::ParsedRate::Kind::fraction, static_cast<double>(x) / 1000});
  };
  const double lo = static_cast<double>(spec.lo) / 1000;
  const double hi = static_cast<double>(spec.hi) / 1000;
  if (r.value < lo * (1 - 1e-12) || r.value > hi * (1 + 1e-12)) {
    error(n.origin, field,
          fmt::format("must be between {} and {}, got {}", tenths(spec.lo), tenths(spec.hi),
                      core::format_rate(r)));
    return {};
  }
  Value v;
  v.real = r.value;
  v.display = core::format_rate(r);
  return {v};
}

std::vector<Value> ValueParser::parse_factor(const SNode& n, const KeySpec& spec,
                                             const std::string& field) {
  const std::string& t = n.text;
  double x = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), x);
  if (t.empty() || p != t.data() + t.size() || ec != std::errc{} || !std::isfinite(x)) {
    error(n.origin, field, fmt::format("expected {}, got '{}'", expected_what(spec), t));
    return {};
  }
  if (x <= static_cast<double>(spec.lo) || x > static_cast<double>(spec.hi)) {
    error(n.origin, field,
          fmt::format("must be greater than {} and at most {}, got {}", spec.lo, spec.hi, t));
    return {};
  }
  Value v;
  v.real = x;
  v.display = fmt::format("{}", x);
  return {v};
}

Param ValueParser::parse_param(const SNode& n, const KeySpec& spec, const std::string& field,
                               bool from_defaults) {
  Param p;
  p.spec = &spec;
  p.field = field;
  p.origin = n.origin;
  p.from_defaults = from_defaults;
  const std::size_t before = report_.count();
  // A device list is itself written as a list: only a list of lists is a matrix.
  const bool one_list = spec.type == Type::device_list && n.kind == SNode::Kind::sequence &&
                        std::none_of(n.items.begin(), n.items.end(), [](const SNode& i) {
                          return i.kind == SNode::Kind::sequence;
                        });
  if (n.kind == SNode::Kind::sequence && !one_list) {
    p.is_list = true;
    if (n.items.empty()) {
      error(n.origin, field, "an empty list gives no cases; give at least one value");
      return p;
    }
    std::map<std::string, std::size_t> seen;  // display -> item index
    for (std::size_t i = 0; i < n.items.size(); ++i) {
      const std::string f = index_field(field, i);
      for (auto& v : parse_value(n.items[i], spec, f)) {
        auto [it, inserted] = seen.emplace(v.display, i);
        if (!inserted) {
          error(n.items[i].origin, f,
                fmt::format("{} '{}' is already in the list (as {}[{}])",
                            spec.name == "sizes" ? "size" : "value", v.display, field, it->second));
          continue;
        }
        p.values.push_back(std::move(v));
      }
    }
  } else {
    p.values = parse_value(n, spec, field);
    if (spec.type == Type::sizes && n.kind == SNode::Kind::scalar) {
      p.is_list = p.values.size() > 1 || n.text.find("..") != std::string::npos ||
                  n.text.find(',') != std::string::npos;
      std::set<std::string> seen;
      for (const auto& v : p.values) {
        if (!seen.insert(v.display).second) {
          error(n.origin, field, fmt::format("size {} appears more than once", v.display));
        }
      }
    }
  }
  p.valid = report_.count() == before && !p.values.empty();
  return p;
}

void ValueParser::check_unknown_keys(const SNode& map, const std::string& field,
                                     const std::vector<std::string_view>& valid,
                                     std::string_view where) {
  for (const auto& e : map.entries) {
    if (std::find(valid.begin(), valid.end(), e.key) != valid.end()) continue;
    std::string hint = did_you_mean(e.key, valid);
    if (hint.empty() && e.key == "injector") {
      hint = "; 'injector' is a top-level key: it says how every fault of the file is caused";
    }
    error(e.key_origin, child_field(field, e.key),
          fmt::format("unknown key '{}'{}{}", e.key, where, hint));
  }
}

}  // namespace fabricbench::spec
