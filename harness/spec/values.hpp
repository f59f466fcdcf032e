#pragma once
// Case keys and their values: what a key may hold (KeySpec), one parsed value (Value), a key as
// written in one place with its values (Param), and the parser that turns source-tree nodes into
// values with the file's positions in every error.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/settings.hpp"
#include "harness/spec/diagnostics.hpp"
#include "harness/spec/experiment.hpp"
#include "harness/spec/source_tree.hpp"

namespace fabricbench::spec {

constexpr std::uint64_t kNsPerUs = 1'000;
constexpr std::uint64_t kNsPerMs = 1'000'000;
constexpr std::uint64_t kNsPerS = 1'000'000'000;
constexpr std::uint64_t kGiB = 1ULL << 30;

enum class Type {
  sizes,
  size,
  count,
  duration,
  warmup,
  boolean,
  choice,
  address,
  interface_name,
  device_name,
  device_list,  // RDMA device names written as a list: one value; a list of lists is a matrix
  rate,         // "200k/s", "5Gb/s", "70%" (core::parse_rate)
  mix,          // "64B:9,64KiB:1": sizes (lo..hi bytes) with positive weights
  percent,      // "3%": a fraction; lo..hi in tenths of a percent
  factor,       // a number greater than lo and at most hi ("1.5")
  fault,        // a mapping of fault keys (docs/CONFIG.md, "Faults"); a list of them is a matrix
};

struct KeySpec {
  std::string name;  // as written, with its section: "completion", "tcp.sndbuf", "window"
  Type type = Type::count;
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  std::vector<std::string> choices;
  // The nested mapping the key is written in: a transport's name (the key applies only to that
  // transport) or "regime"; "" for keys written directly in a group.
  std::string section{};
  // Regime keys: the regime kinds the key applies to (empty: all).
  std::vector<std::string> kinds{};
  // Suite keys: the suites that declare it (empty: the loader's own key, for every suite).
  std::vector<std::string> suites{};
  // Memory keys: the memory providers that declare it.
  std::vector<std::string> memories{};
  // A backend's declaration (its default, plan name and resolved form); nullptr for the loader's
  // own keys.
  const core::KeyDecl* decl = nullptr;
};

// One parsed value of a case key.
struct Value {
  std::uint64_t number = 0;  // counts, sizes, durations
  bool flag = false;         // booleans
  bool is_duration = false;  // warmup: a duration rather than an iteration count
  std::string text;          // choices and strings; a mix as canonical text
  std::string display;       // for ids and Case::varied
  double real = 0;           // percentages (as a fraction) and factors
  Rate rate;                 // rates
  std::vector<SizeWeight> mix;
  // A fault (Type::fault): its settings as written (period and bin 0 unless written; resolved
  // per case) and where the mapping and each of its keys are written.
  FaultSettings fault;
  Origin fault_origin;
  std::string fault_field;                                           // "cases[0].fault[1]"
  std::map<std::string, std::pair<Origin, std::string>> fault_keys;  // key -> origin, field
  // Where `key` of the fault is written (the mapping itself when it is not).
  std::pair<Origin, std::string> fault_at(const std::string& key) const {
    const auto it = fault_keys.find(key);
    return it != fault_keys.end() ? it->second : std::pair(fault_origin, fault_field);
  }
};

// A case key as written in one place (a group or defaults), parsed.
struct Param {
  const KeySpec* spec = nullptr;
  std::string field;  // where it was written, e.g. "cases[1].completion"
  Origin origin;
  bool from_defaults = false;
  bool is_list = false;  // written as a list (or, for sizes, a sweep): a matrix dimension
  bool valid = false;
  std::vector<Value> values;
};

const Param* find_param(const std::vector<Param>& params, std::string_view key);

// An experiment's name (allow_dot) or a group's: letters, digits, '_' and '-', 1-128 of them.
bool valid_name(const std::string& s, bool allow_dot);

// The resolved form of a backend key's value (core::Settings), from its parsed Value.
core::SettingValue setting_value(const core::KeyDecl& decl, const Value& v);

// Parses values, reporting every error with its position.
class ValueParser {
 public:
  explicit ValueParser(Reporter& report) : report_(report) {}

  // A case key's value: a scalar, or a list (a matrix dimension).
  Param parse_param(const SNode& n, const KeySpec& spec, const std::string& field,
                    bool from_defaults);
  // One scalar value of `spec` (sizes may give several: a sweep). Empty on error.
  std::vector<Value> parse_value(const SNode& n, const KeySpec& spec, const std::string& field);
  // A plain non-negative integer within spec's range; reports and returns nullopt otherwise.
  std::optional<std::uint64_t> parse_count(const SNode& n, const KeySpec& spec,
                                           const std::string& field);
  // A rate in bits per second (fault.rate, injector.link_rate), at most the bound of regime.rate.
  std::optional<double> parse_bits_rate(const SNode& n, const std::string& field);
  // Reports keys of `map` not in `valid`, with the closest valid one.
  void check_unknown_keys(const SNode& map, const std::string& field,
                          const std::vector<std::string_view>& valid, std::string_view where);

  Reporter& report() noexcept { return report_; }

 private:
  void error(const Origin& o, const std::string& field, const std::string& message) {
    report_.error(o, field, message);
  }
  bool check_range(const KeySpec& spec, std::uint64_t v, const Origin& o, const std::string& field);
  std::vector<Value> parse_sizes(const SNode& n, const KeySpec& spec, const std::string& field);
  std::vector<Value> parse_size(const SNode& n, const KeySpec& spec, const std::string& field);
  std::vector<Value> parse_duration(const SNode& n, const KeySpec& spec, const std::string& field);
  std::vector<Value> parse_warmup(const SNode& n, const std::string& field);
  std::vector<Value> parse_boolean(const SNode& n, const std::string& field);
  std::vector<Value> parse_choice(const SNode& n, const KeySpec& spec, const std::string& field);
  std::vector<Value> parse_name(const SNode& n, const KeySpec& spec, const std::string& field);
  std::vector<Value> parse_device_list(const SNode& n, const std::string& field);
  std::vector<Value> parse_rate(const SNode& n, const std::string& field);
  std::vector<Value> parse_mix(const SNode& n, const KeySpec& spec, const std::string& field);
  std::vector<Value> parse_percent(const SNode& n, const KeySpec& spec, const std::string& field);
  std::vector<Value> parse_factor(const SNode& n, const KeySpec& spec, const std::string& field);
  // fault_values.cpp
  std::vector<Value> parse_fault(const SNode& n, const std::string& field);
  void check_fault_kind_keys(const SNode& n, const std::string& field, const FaultSettings& f);
  std::optional<double> parse_loss(const SNode& n, const std::string& field);

  Reporter& report_;
};

// What a key holds, for "expected ..., got ...".
std::string expected_what(const KeySpec& spec);

}  // namespace fabricbench::spec
