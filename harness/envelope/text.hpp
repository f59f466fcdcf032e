#pragma once
// Small helpers shared by the envelope's readers (envelope.cpp, gpus.cpp): bounded file reads,
// directory listings, trimming and UTF-8 cleaning. Internal to harness/envelope.
#include <charconv>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace fabricbench::envelope::detail {

std::string errno_message(int e);

// JSON strings must be UTF-8 (nlohmann's dump() throws otherwise): replace each byte that is
// not part of a valid sequence with '?'.
std::string utf8(std::string_view s);

std::string trim(std::string_view s);

// Whitespace runs (tabs in tcp_rmem, newlines) become one space.
std::string squeeze(std::string_view s);

template <typename T>
std::optional<T> parse_int(std::string_view s) {
  const std::string t = trim(s);
  T value{};
  const char* end = t.data() + t.size();
  const auto [ptr, ec] = std::from_chars(t.data(), end, value);
  if (ec != std::errc() || ptr != end || t.empty()) return std::nullopt;
  return value;
}

struct Read {
  std::optional<std::string> text;
  std::string error;  // when !text
};

// At most `limit` bytes of a file (more are not read).
Read read_file(const std::string& path, std::size_t limit = std::size_t{1} << 20);

bool exists(const std::string& path);

// Entries of a directory (without . and ..), sorted; nullopt + reason when it cannot be opened.
std::optional<std::vector<std::string>> list_dir(const std::string& path, std::string* error);

// "Key:   value" lines (/proc/meminfo, /proc/cpuinfo, nvidia information): the first value of
// each key.
std::map<std::string, std::string> parse_colon_lines(const std::string& text);

}  // namespace fabricbench::envelope::detail
