#include "core/settings.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/units.hpp"

namespace fabricbench::core {

std::string KeyDecl::default_text() const {
  switch (type) {
    case KeyType::size:
      return format_size(static_cast<std::uint64_t>(default_value.number));
    case KeyType::duration:
      return format_duration_ns(static_cast<std::uint64_t>(default_value.number));
    case KeyType::count:
      return std::to_string(default_value.number);
    case KeyType::boolean:
      return default_value.flag ? "true" : "false";
    case KeyType::choice:
      if (numeric_choice) {
        return default_value.number == 0 ? "auto" : std::to_string(default_value.number);
      }
      return default_value.text;
    case KeyType::address:
    case KeyType::interface_name:
    case KeyType::device_name:
    case KeyType::device_list:
      return default_value.text;
  }
  return {};
}

SettingValue KeyDecl::numeric_value(const std::string& text) {
  return SettingValue::of_number(all_digits(text) ? std::stoll(text) : 0);
}

namespace {

KeyDecl make_key(std::string name, KeyType type, std::string doc, SettingValue fallback) {
  KeyDecl k;
  k.plan_name = name;
  k.name = std::move(name);
  k.type = type;
  k.doc = std::move(doc);
  k.default_value = std::move(fallback);
  return k;
}

}  // namespace

KeyDecl size_key(std::string name, std::uint64_t lo, std::uint64_t hi, std::uint64_t fallback,
                 std::string doc) {
  KeyDecl k = make_key(std::move(name), KeyType::size, std::move(doc),
                       SettingValue::of_number(static_cast<std::int64_t>(fallback)));
  k.lo = lo;
  k.hi = hi;
  return k;
}

KeyDecl count_key(std::string name, std::uint64_t lo, std::uint64_t hi, std::int64_t fallback,
                  std::string doc) {
  KeyDecl k =
      make_key(std::move(name), KeyType::count, std::move(doc), SettingValue::of_number(fallback));
  k.lo = lo;
  k.hi = hi;
  return k;
}

KeyDecl duration_key(std::string name, std::uint64_t lo_ns, std::uint64_t hi_ns,
                     std::uint64_t fallback_ns, std::string doc) {
  KeyDecl k = make_key(std::move(name), KeyType::duration, std::move(doc),
                       SettingValue::of_number(static_cast<std::int64_t>(fallback_ns)));
  k.lo = lo_ns;
  k.hi = hi_ns;
  return k;
}

KeyDecl flag_key(std::string name, bool fallback, std::string doc) {
  return make_key(std::move(name), KeyType::boolean, std::move(doc),
                  SettingValue::of_flag(fallback));
}

KeyDecl choice_key(std::string name, std::vector<std::string> choices, std::string fallback,
                   std::string doc) {
  KeyDecl k = make_key(std::move(name), KeyType::choice, std::move(doc),
                       SettingValue::of_text(std::move(fallback)));
  k.choices = std::move(choices);
  return k;
}

KeyDecl text_key(std::string name, KeyType type, std::string fallback, std::string doc) {
  return make_key(std::move(name), type, std::move(doc),
                  SettingValue::of_text(std::move(fallback)));
}

const KeyDecl* find_key(const std::vector<KeyDecl>& keys, std::string_view name) {
  const auto it =
      std::find_if(keys.begin(), keys.end(), [&](const KeyDecl& k) { return k.name == name; });
  return it == keys.end() ? nullptr : &*it;
}

Settings::Settings(const std::vector<KeyDecl>& keys) {
  entries_.reserve(keys.size());
  for (const auto& k : keys) entries_.push_back({k.name, k.plan_name, k.default_value});
}

bool Settings::has(std::string_view name) const noexcept {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.name == name; });
}

const SettingValue& Settings::at(std::string_view name) const {
  for (const auto& e : entries_) {
    if (e.name == name) return e.value;
  }
  throw Error(ErrorKind::runtime,
              "setting '" + std::string(name) + "' was read but never declared (a backend bug)");
}

void Settings::set(const KeyDecl& key, SettingValue value) {
  for (auto& e : entries_) {
    if (e.name == key.name) {
      e.value = std::move(value);
      return;
    }
  }
  entries_.push_back({key.name, key.plan_name, std::move(value)});
}

}  // namespace fabricbench::core
