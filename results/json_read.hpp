#pragma once
// Internal to fb_results: reading JSON values.
// - Strict (the run document reader): errors that name the JSON path ("run document:
//   cases[1].repetitions[0].bytes: expected a non-negative integer, got string").
// - Lenient (report, diff, history, baseline: facts that may be absent, such as the envelope's):
//   a missing field, a non-object or a value of another type reads as absent.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fabricbench::results::detail {

// The most nested arrays and objects a document read from a file may have, and its largest size:
// every later walk of the value (copies, dumps, comparisons) recurses once per level.
constexpr std::size_t kMaxJsonDepth = 200;
constexpr std::size_t kMaxJsonBytes = std::size_t{1} << 31;  // 2 GiB

// Parses `text` (read from `source`, named in errors) after checking its size and nesting depth
// without recursion; every failure, whatever the JSON library throws, is core::Error(config)
// "<source>: ..." with the byte offset.
nlohmann::json parse_bounded(const std::string& text, const std::string& source);

// Throws core::Error(config) "run document: <path>: <what>".
[[noreturn]] void fail(const std::string& path, const std::string& what);
// "string \"abc\"", "number -3", "null", ... (value shortened) for error messages.
std::string describe_value(const nlohmann::json& v);

std::string child_path(const std::string& path, std::string_view key);
std::string index_path(const std::string& path, std::size_t index);

std::uint64_t as_u64(const nlohmann::json& v, const std::string& path);
int as_int(const nlohmann::json& v, const std::string& path);
double as_number(const nlohmann::json& v, const std::string& path);
const std::string& as_string(const nlohmann::json& v, const std::string& path);
const nlohmann::json& as_array(const nlohmann::json& v, const std::string& path);

// A JSON object being read; every accessor names the field's path when it fails.
class ObjectReader {
 public:
  ObjectReader(const nlohmann::json& value, std::string path);
  const std::string& path() const noexcept { return path_; }
  std::string path_of(std::string_view key) const { return child_path(path_, key); }
  const nlohmann::json& value() const noexcept { return value_; }

  const nlohmann::json& required(std::string_view key) const;
  const nlohmann::json* optional(std::string_view key) const;  // nullptr when absent

  std::uint64_t u64(std::string_view key) const;
  std::optional<std::uint64_t> u64_or_null(std::string_view key) const;  // required, may be null
  int i32(std::string_view key) const;
  double number(std::string_view key) const;
  std::optional<double> optional_number(std::string_view key) const;  // may be absent
  std::optional<double> number_or_null(std::string_view key) const;   // required, may be null
  std::string string(std::string_view key) const;
  std::string string_or_null(std::string_view key) const;  // required; null reads as ""
  const nlohmann::json& object(std::string_view key) const;
  const nlohmann::json& array(std::string_view key) const;

 private:
  const nlohmann::json& value_;
  std::string path_;
};

// ---- Lenient ----

// obj[key] when obj is an object holding key, else null.
const nlohmann::json& member(const nlohmann::json& obj, const char* key);
// obj[key] when it is a finite number, else nullopt.
std::optional<double> number_at(const nlohmann::json& obj, const char* key);
// Whether obj[key] is the boolean true.
bool flag_at(const nlohmann::json& obj, const char* key);
// A rank or an index: a non-negative integer (signed when built in memory, unsigned when
// parsed).
bool is_index(const nlohmann::json& v);
// A value as text: strings as they are, numbers and booleans dumped (floating-point as "{:g}"),
// null (absent) empty.
std::string text_of(const nlohmann::json& v);
// text_of(member(obj, key)).
std::string text_at(const nlohmann::json& obj, const char* key);

}  // namespace fabricbench::results::detail
