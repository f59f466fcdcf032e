#include "results/json_read.hpp"

#include <cmath>
#include <limits>

#include <fmt/core.h>

#include "results/config_error.hpp"

namespace fabricbench::results::detail {

using nlohmann::json;

namespace {

// The byte offset where nesting first goes past kMaxJsonDepth, or npos. Brackets inside strings
// do not count.
std::size_t too_deep_at(const std::string& text) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string::npos;
}

}  // namespace

json parse_bounded(const std::string& text, const std::string& source) {
  if (text.size() > kMaxJsonBytes) {
    config_error(fmt::format("{}: {} bytes, more than the {} a document may have", source,
                             text.size(), kMaxJsonBytes));
  }
  if (const auto at = too_deep_at(text); at != std::string::npos) {
    config_error(
        fmt::format("{}: nested deeper than {} levels at byte {}", source, kMaxJsonDepth, at));
  }
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    config_error(source + ": not valid JSON: " + e.what());
  }
}

void fail(const std::string& path, const std::string& what) {
  config_error("run document: " + (path.empty() ? std::string("(top level)") : path) + ": " + what);
}

std::string describe_value(const json& v) {
  if (v.is_null()) return "null";
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  constexpr std::size_t kMax = 40;
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return std::string(v.type_name()) + " " + text;
}

std::string child_path(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out = path;
  out += '.';
  out += key;
  return out;
}

std::string index_path(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::uint64_t as_u64(const json& v, const std::string& path) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(v.get<std::int64_t>());
  }
  fail(path, "expected a non-negative integer, got " + describe_value(v));
}

int as_int(const json& v, const std::string& path) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned()) {
      const auto u = v.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
        return static_cast<int>(u);
      }
    } else {
      const auto i = v.get<std::int64_t>();
      if (i >= std::numeric_limits<int>::min() && i <= std::numeric_limits<int>::max()) {
        return static_cast<int>(i);
      }
    }
    fail(path, "integer out of range: " + describe_value(v));
  }
  fail(path, "expected an integer, got " + describe_value(v));
}

double as_number(const json& v, const std::string& path) {
  if (v.is_number()) return v.get<double>();
  fail(path, "expected a number, got " + describe_value(v));
}

const std::string& as_string(const json& v, const std::string& path) {
  if (v.is_string()) return v.get_ref<const std::string&>();
  fail(path, "expected a string, got " + describe_value(v));
}

const json& as_array(const json& v, const std::string& path) {
  if (v.is_array()) return v;
  fail(path, "expected an array, got " + describe_value(v));
}

ObjectReader::ObjectReader(const json& value, std::string path)
    : value_(value), path_(std::move(path)) {
  if (!value_.is_object()) fail(path_, "expected an object, got " + describe_value(value_));
}

const json& ObjectReader::required(std::string_view key) const {
  const auto it = value_.find(std::string(key));
  if (it == value_.end()) fail(path_of(key), "missing required field");
  return *it;
}

const json* ObjectReader::optional(std::string_view key) const {
  const auto it = value_.find(std::string(key));
  return it == value_.end() ? nullptr : &*it;
}

std::uint64_t ObjectReader::u64(std::string_view key) const {
  return as_u64(required(key), path_of(key));
}

std::optional<std::uint64_t> ObjectReader::u64_or_null(std::string_view key) const {
  const json& v = required(key);
  if (v.is_null()) return std::nullopt;
  return as_u64(v, path_of(key));
}

int ObjectReader::i32(std::string_view key) const {
  return as_int(required(key), path_of(key));
}

double ObjectReader::number(std::string_view key) const {
  return as_number(required(key), path_of(key));
}

std::optional<double> ObjectReader::optional_number(std::string_view key) const {
  const json* v = optional(key);
  if (v == nullptr) return std::nullopt;
  return as_number(*v, path_of(key));
}

std::optional<double> ObjectReader::number_or_null(std::string_view key) const {
  const json& v = required(key);
  if (v.is_null()) return std::nullopt;
  return as_number(v, path_of(key));
}

std::string ObjectReader::string(std::string_view key) const {
  return as_string(required(key), path_of(key));
}

std::string ObjectReader::string_or_null(std::string_view key) const {
  const json& v = required(key);
  if (v.is_null()) return {};
  return as_string(v, path_of(key));
}

const json& ObjectReader::object(std::string_view key) const {
  const json& v = required(key);
  if (!v.is_object()) fail(path_of(key), "expected an object, got " + describe_value(v));
  return v;
}

const json& ObjectReader::array(std::string_view key) const {
  return as_array(required(key), path_of(key));
}

const json& member(const json& obj, const char* key) {
  static const json null_value;
  if (!obj.is_object()) return null_value;
  const auto it = obj.find(key);
  return it == obj.end() ? null_value : *it;
}

std::optional<double> number_at(const json& obj, const char* key) {
  const json& v = member(obj, key);
  if (!v.is_number()) return std::nullopt;
  const double d = v.get<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

bool flag_at(const json& obj, const char* key) {
  const json& v = member(obj, key);
  return v.is_boolean() && v.get<bool>();
}

bool is_index(const nlohmann::json& v) {
  return v.is_number_integer() && v.get<std::int64_t>() >= 0;
}

std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  if (v.is_number_float()) return fmt::format("{:g}", v.get<double>());
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string text_at(const json& obj, const char* key) {
  return text_of(member(obj, key));
}

}  // namespace fabricbench::results::detail
