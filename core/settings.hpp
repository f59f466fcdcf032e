#pragma once
// The vocabulary in which a backend (a transport, a suite, later a memory provider or a
// collective backend) declares the keys it reads from an experiment file, and the resolved
// values it gets back. The backend's folder owns its declarations; harness/spec parses and checks
// the file against them without knowing any backend by name (docs/ARCHITECTURE.md, "How to add a
// transport").
//
//   keys():   what may be written (type, range or choices, default, one line of doc, the field
//             the resolved plan records it under);
//   check():  cross-field rules over the resolved values of one case, reported by the loader
//             at the place in the file where the key is written;
//   Settings: every declared key of one case with its value (the default unless written).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fabricbench::core {

enum class KeyType {
  size,            // "4KiB" -> bytes
  count,           // a non-negative integer
  duration,        // "500ms" -> nanoseconds
  boolean,         // true | false (yes/no, on/off)
  choice,          // one of `choices`
  address,         // an IPv4 or IPv6 literal ("" allowed)
  interface_name,  // a network interface name ("" allowed)
  device_name,     // an RDMA device name
  device_list,     // RDMA device names, one value written as a list ([mlx5_0, mlx5_1]); resolved
                   // as their names joined by ',' ("" when empty)
};

// One resolved value. Numbers are counts, bytes or nanoseconds; a numeric choice ("auto" = 0).
struct SettingValue {
  enum class Kind { number, flag, text };
  Kind kind = Kind::number;
  std::int64_t number = 0;
  bool flag = false;
  std::string text;

  static SettingValue of_number(std::int64_t n) { return {Kind::number, n, false, {}}; }
  static SettingValue of_flag(bool f) { return {Kind::flag, 0, f, {}}; }
  static SettingValue of_text(std::string t) { return {Kind::text, 0, false, std::move(t)}; }
  friend bool operator==(const SettingValue&, const SettingValue&) = default;
};

// Which cases of a suite's plan record a suite key.
enum class PlanScope {
  own_suite,   // only the cases of the suites that declare it (the rule for every new key)
  every_case,  // every case, at its default where the suite does not declare it: schema 1 plans
               // have carried stream's `direction` and `window` in every case since the start, and
               // diff matches cases by their plan, so those two keep their place
};

struct KeyDecl {
  std::string name;  // as written in the file, without the section ("sndbuf")
  KeyType type = KeyType::count;
  std::uint64_t lo = 0;  // count, size, duration: the accepted range, inclusive
  std::uint64_t hi = 0;
  std::vector<std::string> choices;  // choice
  SettingValue default_value;
  std::string doc;        // one line: docs/CONFIG.md's table and `fabricbench keys`
  std::string plan_name;  // its field in the resolved plan, units in the name ("sndbuf_bytes")
  // A choice of numbers, with "auto" meaning 0, resolved to a number (verbs.mtu).
  bool numeric_choice = false;
  PlanScope scope = PlanScope::own_suite;

  // Builders for the declarations' tables: keys().push_back(size_key(...).plan("sndbuf_bytes")).
  KeyDecl& plan(std::string field) & {
    plan_name = std::move(field);
    return *this;
  }
  KeyDecl&& plan(std::string field) && { return std::move(plan(std::move(field))); }
  KeyDecl&& numeric() && {
    numeric_choice = true;
    default_value = numeric_value(default_value.text);
    return std::move(*this);
  }
  // A numeric choice's value: its number, or 0 for a word ("auto").
  static SettingValue numeric_value(const std::string& text);
  KeyDecl&& in_every_case() && {
    scope = PlanScope::every_case;
    return std::move(*this);
  }
  // The default as the file would write it ("64KiB", "10ms", "true", "auto").
  std::string default_text() const;
};

KeyDecl size_key(std::string name, std::uint64_t lo, std::uint64_t hi, std::uint64_t fallback,
                 std::string doc);
KeyDecl count_key(std::string name, std::uint64_t lo, std::uint64_t hi, std::int64_t fallback,
                  std::string doc);
KeyDecl duration_key(std::string name, std::uint64_t lo_ns, std::uint64_t hi_ns,
                     std::uint64_t fallback_ns, std::string doc);
KeyDecl flag_key(std::string name, bool fallback, std::string doc);
KeyDecl choice_key(std::string name, std::vector<std::string> choices, std::string fallback,
                   std::string doc);
// address, interface_name, device_name or device_list.
KeyDecl text_key(std::string name, KeyType type, std::string fallback, std::string doc);

// The declaration named `name`, or nullptr.
const KeyDecl* find_key(const std::vector<KeyDecl>& keys, std::string_view name);

// The resolved values of one group of declared keys, in declaration order.
class Settings {
 public:
  struct Entry {
    std::string name;
    std::string plan_name;
    SettingValue value;
  };

  Settings() = default;
  // Every key of `keys` at its default.
  explicit Settings(const std::vector<KeyDecl>& keys);

  bool has(std::string_view name) const noexcept;
  // Throws core::Error(runtime) naming the key when it was not declared (a backend bug).
  const SettingValue& at(std::string_view name) const;
  std::int64_t integer(std::string_view name) const { return at(name).number; }
  bool flag(std::string_view name) const { return at(name).flag; }
  const std::string& text(std::string_view name) const { return at(name).text; }
  // Adds the key (at the end) if it is not there yet.
  void set(const KeyDecl& key, SettingValue value);
  const std::vector<Entry>& entries() const noexcept { return entries_; }

 private:
  std::vector<Entry> entries_;
};

// What a backend's cross-field check may read of its case besides its own settings.
struct CaseFacts {
  std::string suite;
  std::string transport;
  std::string op;
  std::string regime_kind;     // closed | floor | realistic | overload | search
  bool open_loop = false;      // realistic, overload or search: open-loop arrivals
  std::string on_break;        // fail | reconnect
  bool duration_mode = false;  // the case runs for a duration rather than a count
  bool fault = false;          // the case has a fault to inject
  std::string memory;          // the memory provider the case names
  bool verify = false;         // the case asks for a data pattern check
  std::string pattern;         // pairs | all_pairs | incast | shift
};

// One broken rule. The loader reports it at the first key of `at` the case's group writes
// itself, else (when `defaults_too`) at the first one written in `defaults`, else at the group.
// Keys are named as written, with their section: "on_break", "regime.kind", "tcp.address".
struct KeyProblem {
  std::vector<std::string> at;
  std::string message;
  bool defaults_too = true;
};

using KeyCheck = std::function<std::vector<KeyProblem>(const Settings& own, const CaseFacts& c)>;

}  // namespace fabricbench::core
