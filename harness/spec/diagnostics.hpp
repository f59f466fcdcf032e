#pragma once
// Diagnostics of experiment files: where (file:line:col or --set, and the field's path), what,
// and the helpers every part of the loader words its messages with.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace fabricbench::spec {

struct Diagnostic {
  std::string file;     // path, or "--set" for an override
  int line = 0;         // 1-based; 0 when unknown
  int column = 0;       // 1-based; 0 when unknown
  std::string field;    // dotted path, e.g. "cases[1].tcp.sndbuf"
  std::string message;  // e.g. "expected a size such as 4KiB, got 'lots'"
  // "quick.yaml:12:7: cases[1].tcp.sndbuf: expected ...". Line and column are left out when 0,
  // the field when empty: "missing.yaml: cannot read the file: No such file or directory".
  std::string to_string() const;
};

// Thrown by load_* when the file is invalid. what() is all diagnostics, one per line.
// Its kind is core::ErrorKind::config (exit code 2).
class ConfigError : public core::Error {
 public:
  explicit ConfigError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

// Where a node of the document came from.
struct Origin {
  int source = -1;  // -1: the file; >= 0: index of the --set override that produced the node
  int line = 0;     // 1-based, file only
  int column = 0;
};

// Collects the diagnostics of one load: every error, not only the first.
class Reporter {
 public:
  Reporter(std::string path, std::vector<std::string> overrides)
      : path_(std::move(path)), overrides_(std::move(overrides)) {}

  void error(const Origin& o, const std::string& field, const std::string& message);
  std::size_t count() const noexcept { return diagnostics_.size(); }
  // File diagnostics by position, then --set ones in the order given; duplicates removed.
  // Throws ConfigError when there is any.
  void finish();
  [[noreturn]] void fail_unreadable(const std::string& reason);
  // "t.yaml:9:7: cases[0].fault", or "cases[0].fault (from --set '...')".
  std::string where(const Origin& o, const std::string& field) const;

  const std::string& path() const noexcept { return path_; }
  const std::vector<std::string>& overrides() const noexcept { return overrides_; }

 private:
  std::string path_;
  std::vector<std::string> overrides_;
  std::vector<Diagnostic> diagnostics_;
};

// Field paths: "cases[1]" + "regime" -> "cases[1].regime"; "cases" + 1 -> "cases[1]".
std::string child_field(const std::string& parent, std::string_view key);
std::string index_field(const std::string& parent, std::size_t index);

std::string lower(std::string_view s);

// The candidate closest to `word` (optimal string alignment distance, case-insensitive), when
// it is close enough to be a likely misspelling.
std::optional<std::string> closest(std::string_view word,
                                   const std::vector<std::string_view>& candidates);
// "; did you mean 'x'?" or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);
// "a, b, c".
std::string list_values(const std::vector<std::string_view>& values);

// "a", "a and b", "a, b and c" (with `conjunction` "or": "a, b or c").
template <typename Strings>
std::string join_words(const Strings& words, std::string_view conjunction) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0 && i + 1 == words.size()) {
      out += ' ';
      out += conjunction;
      out += ' ';
    } else if (i > 0) {
      out += ", ";
    }
    out += words[i];
  }
  return out;
}

template <typename Strings>
std::string join_and(const Strings& words) {
  return join_words(words, "and");
}

// Views of `strings` (which must outlive them).
std::vector<std::string_view> views(const std::vector<std::string>& strings);

}  // namespace fabricbench::spec
