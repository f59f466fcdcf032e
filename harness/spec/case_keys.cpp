#include "harness/spec/case_keys.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace fabricbench::spec {
namespace {

const std::vector<std::string> kOpenLoopKinds = {"realistic", "overload", "search"};

Type type_of(core::KeyType t) {
  switch (t) {
    case core::KeyType::size:
      return Type::size;
    case core::KeyType::count:
      return Type::count;
    case core::KeyType::duration:
      return Type::duration;
    case core::KeyType::boolean:
      return Type::boolean;
    case core::KeyType::choice:
      return Type::choice;
    case core::KeyType::address:
      return Type::address;
    case core::KeyType::interface_name:
      return Type::interface_name;
    case core::KeyType::device_name:
      return Type::device_name;
    case core::KeyType::device_list:
      return Type::device_list;
  }
  return Type::count;
}

std::vector<std::string> names_of(const auto& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.name);
  return out;
}

// The loader's own case keys written before the suites' keys (in this order: "did you mean"
// prefers the first of equally close keys).
std::vector<KeySpec> leading_keys(const Catalog& catalog) {
  return {
      {"suite", Type::choice, 0, 0, names_of(catalog.suites)},
      {"transport", Type::choice, 0, 0, names_of(catalog.transports)},
      {"op",
       Type::choice,
       0,
       0,
       {"send", "write", "write_imm", "read", "fetch_add", "compare_swap"}},
      {"sizes", Type::sizes, 1, kGiB, {}},
      {"iterations", Type::count, 1, 1'000'000'000, {}},
      {"duration", Type::duration, 10 * kNsPerMs, 3600 * kNsPerS, {}},
      {"warmup", Type::warmup, 0, 0, {}},
      {"repetitions", Type::count, 1, 1000, {}},
      {"completion", Type::choice, 0, 0, {"busy_poll", "blocking"}},
  };
}

std::vector<KeySpec> trailing_keys(const Catalog& catalog) {
  return {
      {"interval", Type::duration, kNsPerMs, 10 * kNsPerS, {}},
      {"memory", Type::choice, 0, 0, names_of(catalog.memory)},
      {"verify", Type::boolean, 0, 0, {}},
      {"fault", Type::fault, 0, 0, {}},
      {"on_break", Type::choice, 0, 0, {"fail", "reconnect"}},
      {"reconnect_timeout", Type::duration, 100 * kNsPerMs, 3600 * kNsPerS, {}},
      {"pattern", Type::choice, 0, 0, {"pairs", "all_pairs", "incast", "shift"}},
  };
}

// The `map:` section: how an all_pairs map is judged (percentages in tenths of a percent).
std::vector<KeySpec> map_keys() {
  const auto key = [](std::string name, Type type, std::uint64_t lo, std::uint64_t hi) {
    KeySpec k{"map." + std::move(name), type, lo, hi, {}};
    k.section = "map";
    return k;
  };
  return {
      key("latency_factor", Type::factor, 1, 100),
      key("bandwidth_fraction", Type::percent, 10, 1000),
      key("node_fraction", Type::percent, 1, 999),
      key("retest_partners", Type::count, 0, 8),
  };
}

KeySpec regime_key(std::string name, Type type, std::uint64_t lo, std::uint64_t hi,
                   std::vector<std::string> kinds, std::vector<std::string> choices = {}) {
  KeySpec k{"regime." + std::move(name), type, lo, hi, std::move(choices)};
  k.section = "regime";
  k.kinds = std::move(kinds);
  return k;
}

std::vector<KeySpec> regime_keys() {
  const auto& open = kOpenLoopKinds;
  const std::vector<std::string> overload = {"overload"};
  return {
      regime_key("kind", Type::choice, 0, 0, {}, regime_kinds()),
      regime_key("arrival", Type::choice, 0, 0, open, {"constant", "poisson"}),
      regime_key("seed", Type::count, 0, (1ULL << 63) - 1, open),
      regime_key("rate", Type::rate, 0, 0, {"realistic", "overload"}),
      regime_key("streams", Type::count, 1, 64, open),
      regime_key("mix", Type::mix, 1, kGiB, open),
      regime_key("inflight", Type::count, 1, 4096, open),
      regime_key("backlog", Type::count, 1, 100'000'000, open),
      regime_key("deadline", Type::duration, kNsPerUs, 3600 * kNsPerS, open),
      regime_key("sample_interval", Type::duration, 10 * kNsPerUs, kNsPerS, open),
      regime_key("generator", Type::choice, 0, 0, open, {"sleep", "spin"}),
      regime_key("search_queue_age", Type::duration, kNsPerUs, 10 * kNsPerS, open),
      regime_key("search_probe", Type::duration, 100 * kNsPerMs, 60 * kNsPerS, open),
      regime_key("search_precision", Type::percent, 1, 500, open),
      regime_key("search_max_probes", Type::count, 2, 100, open),
      regime_key("overload_factor", Type::factor, 1, 100, overload),
      regime_key("overload_before", Type::duration, 10 * kNsPerMs, 3600 * kNsPerS, overload),
      regime_key("overload_during", Type::duration, 10 * kNsPerMs, 3600 * kNsPerS, overload),
      regime_key("overload_after", Type::duration, 10 * kNsPerMs, 3600 * kNsPerS, overload),
  };
}

}  // namespace

const std::vector<std::string>& regime_kinds() {
  static const std::vector<std::string> kinds = {"closed", "floor", "realistic", "overload",
                                                 "search"};
  return kinds;
}

bool is_self_timed(std::string_view kind) {
  return kind == "overload" || kind == "search";
}

const TransportKeys* Catalog::transport(std::string_view name) const {
  for (const auto& t : transports) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const SuiteKeys* Catalog::suite(std::string_view name) const {
  for (const auto& s : suites) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

KeyTable::KeyTable(const Catalog& catalog) {
  keys_ = leading_keys(catalog);
  add_suite_keys(catalog);
  for (auto& k : trailing_keys(catalog)) keys_.push_back(std::move(k));
  add_memory_keys(catalog);
  for (const auto& t : catalog.transports) {
    for (const auto& decl : t.keys) add_backend_key(decl, t.name, {});
    sections_.push_back(t.name);
    examples_.push_back(t.example);
  }
  transport_sections_ = sections_.size();
  for (auto& k : regime_keys()) keys_.push_back(std::move(k));
  sections_.emplace_back("regime");
  examples_.emplace_back("{kind: realistic, rate: 70%}");
  for (auto& k : map_keys()) keys_.push_back(std::move(k));
  sections_.emplace_back("map");
  examples_.emplace_back("{latency_factor: 2.1, bandwidth_fraction: 93%}");
}

// A key declared by several suites is one key that applies to each of them (the declarations
// must agree: the registry's test checks it).
void KeyTable::add_suite_keys(const Catalog& catalog) {
  for (const auto& s : catalog.suites) {
    for (const auto& decl : s.keys) {
      auto it = std::find_if(keys_.begin(), keys_.end(),
                             [&](const KeySpec& k) { return k.name == decl.name; });
      if (it != keys_.end() && it->suites.empty()) {
        // A registry bug, not a user's: found by the first load (and tests/registry).
        throw core::Error(core::ErrorKind::runtime,
                          "suite " + s.name + " declares the key '" + decl.name +
                              "', which is one of the loader's own case keys");
      }
      if (it != keys_.end()) {
        it->suites.push_back(s.name);
      } else {
        add_backend_key(decl, "", {s.name});
      }
    }
  }
}

// A key several memory providers declare (`gpu`) is one key that applies to each of them.
void KeyTable::add_memory_keys(const Catalog& catalog) {
  for (const auto& m : catalog.memory) {
    for (const auto& decl : m.keys) {
      auto it = std::find_if(keys_.begin(), keys_.end(),
                             [&](const KeySpec& k) { return k.name == decl.name; });
      if (it != keys_.end() && it->memories.empty()) {
        throw core::Error(core::ErrorKind::runtime,
                          "memory provider " + m.name + " declares the key '" + decl.name +
                              "', which is a suite's or one of the loader's own case keys");
      }
      if (it == keys_.end()) {
        add_backend_key(decl, "", {});
        it = std::prev(keys_.end());
      }
      it->memories.push_back(m.name);
    }
  }
}

void KeyTable::add_backend_key(const core::KeyDecl& decl, std::string section,
                               std::vector<std::string> suites) {
  KeySpec k;
  k.name = section.empty() ? decl.name : section + "." + decl.name;
  k.type = type_of(decl.type);
  k.lo = decl.lo;
  k.hi = decl.hi;
  k.choices = decl.choices;
  k.section = std::move(section);
  k.suites = std::move(suites);
  k.decl = &decl;
  keys_.push_back(std::move(k));
}

const KeySpec* KeyTable::find(std::string_view name) const {
  for (const auto& k : keys_) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::vector<std::string_view> KeyTable::group_key_names(bool with_name) const {
  std::vector<std::string_view> names;
  if (with_name) names.emplace_back("name");
  for (const auto& k : keys_) {
    if (k.section.empty()) names.emplace_back(k.name);
  }
  for (const auto& s : sections_) names.emplace_back(s);
  return names;
}

std::vector<std::string_view> KeyTable::section_key_names(std::string_view section) const {
  std::vector<std::string_view> names;
  for (const auto& k : keys_) {
    if (k.section == section) names.push_back(std::string_view(k.name).substr(section.size() + 1));
  }
  return names;
}

bool KeyTable::is_section(std::string_view name) const {
  return std::find(sections_.begin(), sections_.end(), name) != sections_.end();
}

bool KeyTable::is_transport_section(std::string_view name) const {
  const auto end = sections_.begin() + static_cast<std::ptrdiff_t>(transport_sections_);
  return std::find(sections_.begin(), end, name) != end;
}

std::string KeyTable::section_example(std::string_view section) const {
  for (std::size_t i = 0; i < sections_.size(); ++i) {
    if (sections_[i] == section) return examples_[i];
  }
  return {};
}

}  // namespace fabricbench::spec
