#include "harness/spec/diagnostics.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include <fmt/format.h>

namespace fabricbench::spec {

std::string Diagnostic::to_string() const {
  std::string out = file;
  if (line > 0) {
    out += fmt::format(":{}", line);
    if (column > 0) out += fmt::format(":{}", column);
  }
  out += ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

namespace {

std::string join_diagnostics(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) {
    if (!out.empty()) out += '\n';
    out += d.to_string();
  }
  return out;
}

// Optimal string alignment distance (Damerau-Levenshtein with adjacent swaps).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

ConfigError::ConfigError(std::vector<Diagnostic> diagnostics)
    : core::Error(core::ErrorKind::config, join_diagnostics(diagnostics)),
      diagnostics_(std::move(diagnostics)) {}

void Reporter::error(const Origin& o, const std::string& field, const std::string& message) {
  if (o.source >= 0) {
    diagnostics_.push_back(Diagnostic{"--set", 0, 0, field,
                                      fmt::format("{} (from --set '{}')", message,
                                                  overrides_[static_cast<std::size_t>(o.source)])});
  } else {
    diagnostics_.push_back(Diagnostic{path_, o.line, o.column, field, message});
  }
}

void Reporter::finish() {
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     const bool a_set = a.file == "--set";
                     const bool b_set = b.file == "--set";
                     if (a_set != b_set) return b_set;
                     if (a_set) return false;
                     return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                   });
  std::vector<Diagnostic> unique;
  for (auto& d : diagnostics_) {
    const bool seen = std::any_of(unique.begin(), unique.end(), [&](const Diagnostic& u) {
      return u.file == d.file && u.line == d.line && u.column == d.column && u.field == d.field &&
             u.message == d.message;
    });
    if (!seen) unique.push_back(std::move(d));
  }
  diagnostics_ = std::move(unique);
  if (!diagnostics_.empty()) throw ConfigError(diagnostics_);
}

void Reporter::fail_unreadable(const std::string& reason) {
  diagnostics_.push_back(Diagnostic{path_, 0, 0, "", reason});
  throw ConfigError(diagnostics_);
}

std::string Reporter::where(const Origin& o, const std::string& field) const {
  if (o.source >= 0) {
    return fmt::format("{} (from --set '{}')", field,
                       overrides_[static_cast<std::size_t>(o.source)]);
  }
  return fmt::format("{}:{}:{}: {}", path_, o.line, o.column, field);
}

std::string child_field(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}

std::string index_field(const std::string& parent, std::size_t index) {
  return fmt::format("{}[{}]", parent, index);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> closest(std::string_view word,
                                   const std::vector<std::string_view>& candidates) {
  const std::string w = lower(word);
  const std::size_t limit = w.size() <= 3 ? 1 : 2;
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (auto c : candidates) {
    const std::size_t dist = edit_distance(w, lower(c));
    if (dist < best_distance) {
      best_distance = dist;
      best = std::string(c);
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates) {
  const auto c = closest(word, candidates);
  return c ? fmt::format("; did you mean '{}'?", *c) : std::string();
}

std::string list_values(const std::vector<std::string_view>& values) {
  std::string out;
  for (auto v : values) {
    if (!out.empty()) out += ", ";
    out += v;
  }
  return out;
}

std::vector<std::string_view> views(const std::vector<std::string>& strings) {
  return {strings.begin(), strings.end()};
}

}  // namespace fabricbench::spec
