#pragma once
// The YAML document as a source tree that remembers where every node came from (file
// line:column, or the --set override that made it), with duplicate keys reported, YAML merge
// keys ("<<: *anchor") applied, and --set overrides ("key.path=value") applied on top.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "harness/spec/diagnostics.hpp"

namespace fabricbench::spec {

struct MapEntry;

struct SNode {
  enum class Kind { null, scalar, sequence, map };
  Kind kind = Kind::null;
  std::string text;  // scalar
  Origin origin;
  std::vector<SNode> items;       // sequence
  std::vector<MapEntry> entries;  // map, in document order

  const MapEntry* find(std::string_view key) const;
  MapEntry* find(std::string_view key);
  // The value of `key` in a mapping, or nullptr.
  const SNode* get(std::string_view key) const;
};

struct MapEntry {
  std::string key;
  Origin key_origin;
  SNode value;
};

// "nothing (null)", "a sequence", "a mapping" or the scalar in quotes.
std::string describe(const SNode& n);

// Bounds of a document once its aliases are expanded (docs/CONFIG.md "Limits"): nesting depth and
// values (scalars, lists and mappings) in all. Past either, the node is reported with its
// line:column and the rest of the document is not read.
constexpr std::size_t kMaxSourceDepth = 64;
constexpr std::size_t kMaxSourceNodes = 200'000;

// Parses `text` (one YAML document) into `root`; false (reported) on a syntax error or several
// documents.
bool parse_document(const std::string& text, Reporter& report, SNode& root);

// Applies the reporter's --set overrides to `root`, reporting malformed ones.
void apply_overrides(SNode& root, Reporter& report);

// Reports malformed overrides without applying them (when the document did not parse).
void check_override_syntax(Reporter& report);

}  // namespace fabricbench::spec
