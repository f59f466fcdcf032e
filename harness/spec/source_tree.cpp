#include "harness/spec/source_tree.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace fabricbench::spec {

const MapEntry* SNode::find(std::string_view key) const {
  for (const auto& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

MapEntry* SNode::find(std::string_view key) {
  for (auto& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const SNode* SNode::get(std::string_view key) const {
  const MapEntry* e = find(key);
  return e == nullptr ? nullptr : &e->value;
}

std::string describe(const SNode& n) {
  switch (n.kind) {
    case SNode::Kind::null:
      return "nothing (null)";
    case SNode::Kind::sequence:
      return "a sequence";
    case SNode::Kind::map:
      return "a mapping";
    case SNode::Kind::scalar:
      break;
  }
  return fmt::format("'{}'", n.text);
}

namespace {

Origin origin_of(const YAML::Mark& m, const Origin& fallback, int source) {
  if (source >= 0) return Origin{source, 0, 0};
  if (m.is_null() || m.line < 0) return fallback;
  return Origin{-1, m.line + 1, m.column + 1};
}

// YAML nodes to source-tree nodes, reporting what a source tree cannot hold. Aliases are expanded
// (each reference is a copy of what it refers to), so the tree is bounded in depth (an alias that
// refers to a node containing it would never end) and in size (aliases of aliases multiply).
class TreeBuilder {
 public:
  explicit TreeBuilder(Reporter& report) : report_(report) {}

  SNode convert(const YAML::Node& n, const Origin& fallback, int source, const std::string& field) {
    if (exceeded_) return SNode{};
    const Origin here = origin_of(n.Mark(), fallback, source);
    if (depth_ >= kMaxSourceDepth) {
      exceeded_ = true;
      error(here, field,
            fmt::format("nested deeper than {} levels (an alias inside what it refers to?)",
                        kMaxSourceDepth));
      return SNode{};
    }
    if (++nodes_ > kMaxSourceNodes) {
      exceeded_ = true;
      error(here, field,
            fmt::format("the file expands to more than {} values (each use of an alias is a "
                        "copy of what it refers to)",
                        kMaxSourceNodes));
      return SNode{};
    }
    ++depth_;
    SNode out = convert_node(n, fallback, source, field);
    --depth_;
    return out;
  }

 private:
  SNode convert_node(const YAML::Node& n, const Origin& fallback, int source,
                     const std::string& field) {
    SNode out;
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.kind = SNode::Kind::null;
        out.origin = fallback;
        return out;
      case YAML::NodeType::Scalar:
        out.kind = SNode::Kind::scalar;
        out.text = n.Scalar();
        out.origin = origin_of(n.Mark(), fallback, source);
        return out;
      case YAML::NodeType::Sequence: {
        out.kind = SNode::Kind::sequence;
        out.origin = origin_of(n.Mark(), fallback, source);
        std::size_t i = 0;
        for (const auto& item : n) {
          out.items.push_back(convert(item, out.origin, source, index_field(field, i)));
          ++i;
        }
        return out;
      }
      case YAML::NodeType::Map:
        break;
    }
    out.kind = SNode::Kind::map;
    out.origin = origin_of(n.Mark(), fallback, source);
    // YAML merge keys ("<<: *anchor", yaml-cpp 0.7 leaves them to us): the merged mapping's
    // keys take the place of the '<<' entry unless the mapping sets them itself.
    std::vector<std::pair<std::size_t, std::vector<MapEntry>>> merges;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const Origin key_origin = origin_of(it->first.Mark(), out.origin, source);
      if (!it->first.IsScalar()) {
        error(key_origin, field, "mapping keys must be plain words, got a complex key");
        continue;
      }
      const std::string key = it->first.Scalar();
      const std::string f = child_field(field, key);
      if (key == "<<" && it->first.Tag() == "?") {
        merges.emplace_back(out.entries.size(), merge_source(it->second, key_origin, source, f));
        continue;
      }
      if (const MapEntry* first = out.find(key)) {
        error(key_origin, f,
              first->key_origin.source < 0
                  ? fmt::format("duplicate key '{}' (first given at line {})", key,
                                first->key_origin.line)
                  : fmt::format("duplicate key '{}'", key));
        continue;
      }
      out.entries.push_back(MapEntry{key, key_origin, convert(it->second, key_origin, source, f)});
    }
    if (merges.empty()) return out;
    std::vector<MapEntry> entries;
    std::set<std::string> taken;
    for (const auto& e : out.entries) taken.insert(e.key);
    std::size_t next = 0;
    for (auto& [position, merged] : merges) {
      for (; next < position; ++next) entries.push_back(std::move(out.entries[next]));
      for (auto& e : merged) {
        if (taken.insert(e.key).second) entries.push_back(std::move(e));
      }
    }
    for (; next < out.entries.size(); ++next) entries.push_back(std::move(out.entries[next]));
    out.entries = std::move(entries);
    return out;
  }

  // The entries a '<<' merge key brings: a mapping, or a list of mappings (earlier ones win).
  std::vector<MapEntry> merge_source(const YAML::Node& value, const Origin& key_origin, int source,
                                     const std::string& field) {
    const SNode v = convert(value, key_origin, source, field);
    std::vector<MapEntry> merged;
    const auto add = [&](const SNode& m) {
      for (const auto& e : m.entries) {
        const bool seen = std::any_of(merged.begin(), merged.end(),
                                      [&](const MapEntry& x) { return x.key == e.key; });
        if (!seen) merged.push_back(e);
      }
    };
    if (v.kind == SNode::Kind::map) {
      add(v);
    } else if (v.kind == SNode::Kind::sequence &&
               std::all_of(v.items.begin(), v.items.end(),
                           [](const SNode& i) { return i.kind == SNode::Kind::map; })) {
      for (const auto& item : v.items) add(item);
    } else {
      error(v.origin, field,
            fmt::format("a '<<' merge key needs a mapping or a list of mappings (such as "
                        "*anchor), got {}",
                        describe(v)));
    }
    return merged;
  }

  void error(const Origin& o, const std::string& field, const std::string& message) {
    report_.error(o, field, message);
  }

  Reporter& report_;
  std::size_t depth_ = 0;
  std::size_t nodes_ = 0;
  bool exceeded_ = false;
};

// The offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), if any. Everything read from an experiment
// ends up in JSON (the resolved plan, its digest, the run document), which must be UTF-8.
std::optional<std::size_t> first_invalid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    std::size_t n = 0;
    unsigned lo = 0x80;
    unsigned hi = 0xBF;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if (b >= 0xC2 && b <= 0xDF) {
      n = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= text.size()) return i;
      const auto c = static_cast<unsigned char>(text[i + k]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return i;
    }
    i += n + 1;
  }
  return std::nullopt;
}

// 1-based line and column of a byte offset.
Origin origin_of_offset(std::string_view text, std::size_t offset) {
  int line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return Origin{-1, line, static_cast<int>(offset - line_start) + 1};
}

// Where each document of a stream starts; nothing else is kept.
class DocumentStarts final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  std::vector<YAML::Mark> starts;
};

// The number of documents in `text`, counting at most two. yaml-cpp 0.7 returns a document
// without reading anything on some invalid input (a lone ","), so YAML::LoadAll never ends and
// fills the memory: a second document starting where the first did is that case, reported as
// a syntax error. Throws YAML::ParserException.
std::size_t count_documents(const std::string& text, Reporter& report, bool& stuck) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts handler;
  std::size_t documents = 0;
  while (documents < 2 && parser.HandleNextDocument(handler)) ++documents;
  const auto& s = handler.starts;
  stuck = documents == 2 && (s.size() < 2 || (s[0].pos == s[1].pos));
  if (stuck) {
    const YAML::Mark at = s.empty() ? YAML::Mark() : s.front();
    report.error(Origin{-1, at.line + 1, at.column + 1}, "",
                 "YAML syntax error: the parser cannot read past this point (a stray flow "
                 "indicator such as ',' where a value should start?)");
  }
  return documents;
}

}  // namespace

bool parse_document(const std::string& text, Reporter& report, SNode& root) {
  if (const auto bad = first_invalid_utf8(text)) {
    report.error(origin_of_offset(text, *bad), "",
                 fmt::format("the file is not valid UTF-8 (byte 0x{:02x}); experiment files are "
                             "UTF-8 text",
                             static_cast<unsigned char>(text[*bad])));
    return false;
  }
  YAML::Node doc;
  try {
    bool stuck = false;
    const std::size_t documents = count_documents(text, report, stuck);
    if (stuck) return false;
    if (documents > 1) {
      report.error(Origin{-1, 1, 1}, "",
                   "the file holds more than one YAML document ('---'); an experiment is one "
                   "document");
      return false;
    }
    const Origin top{-1, 1, 1};
    if (documents == 0) {
      root.kind = SNode::Kind::null;
      root.origin = top;
      return true;
    }
    doc = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    report.error(Origin{-1, e.mark.line + 1, e.mark.column + 1}, "",
                 fmt::format("YAML syntax error: {}", e.msg));
    return false;
  }
  root = TreeBuilder(report).convert(doc, Origin{-1, 1, 1}, -1, "");
  return true;
}

// --- --set overrides -------------------------------------------------------------------------

namespace {

struct PathSegment {
  std::string key;  // empty for an index
  std::size_t index = 0;
};

// "cases[0].tcp.sndbuf" -> {cases}{[0]}{tcp}{sndbuf}; nullopt with `why` set when malformed.
std::optional<std::vector<PathSegment>> parse_path(std::string_view path, std::string& why) {
  std::vector<PathSegment> segments;
  std::size_t i = 0;
  const auto word_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
  };
  while (true) {
    const std::size_t start = i;
    while (i < path.size() && word_char(path[i])) ++i;
    if (i == start) {
      why = i < path.size() ? fmt::format("unexpected '{}' at position {}", path[i], i + 1)
                            : "a key is missing after '.'";
      if (path.empty()) why = "the key path is empty";
      return std::nullopt;
    }
    segments.push_back(PathSegment{std::string(path.substr(start, i - start)), 0});
    while (i < path.size() && path[i] == '[') {
      const std::size_t close = path.find(']', i);
      if (close == std::string_view::npos) {
        why = "'[' without a matching ']'";
        return std::nullopt;
      }
      const std::string_view digits = path.substr(i + 1, close - i - 1);
      std::size_t index = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
      if (digits.empty() || ec != std::errc{} || p != digits.data() + digits.size()) {
        why = fmt::format("expected a list index such as [0], got '[{}]'", digits);
        return std::nullopt;
      }
      segments.push_back(PathSegment{"", index});
      i = close + 1;
    }
    if (i == path.size()) break;
    if (path[i] != '.') {
      why = fmt::format("unexpected '{}' at position {}", path[i], i + 1);
      return std::nullopt;
    }
    ++i;
  }
  return segments;
}

struct ParsedOverride {
  std::vector<PathSegment> path;
  std::string path_text;
  std::string value_text;
};

// Splits and checks one override; reports and returns nullopt when malformed.
std::optional<ParsedOverride> parse_override(Reporter& report, int index) {
  const std::string& text = report.overrides()[static_cast<std::size_t>(index)];
  const Origin o{index, 0, 0};
  const std::size_t eq = text.find('=');
  if (eq == std::string::npos) {
    report.error(o, "", "expected key.path=value, e.g. defaults.repetitions=5");
    return std::nullopt;
  }
  ParsedOverride p;
  p.path_text = text.substr(0, eq);
  p.value_text = text.substr(eq + 1);
  std::string why;
  auto path = parse_path(p.path_text, why);
  if (!path) {
    report.error(o, p.path_text, fmt::format("bad key path: {}", why));
    return std::nullopt;
  }
  p.path = std::move(*path);
  return p;
}

}  // namespace

void check_override_syntax(Reporter& report) {
  for (std::size_t i = 0; i < report.overrides().size(); ++i) {
    parse_override(report, static_cast<int>(i));
  }
}

void apply_overrides(SNode& root, Reporter& report) {
  for (std::size_t i = 0; i < report.overrides().size(); ++i) {
    const int index = static_cast<int>(i);
    const Origin o{index, 0, 0};
    auto p = parse_override(report, index);
    if (!p) continue;
    if (first_invalid_utf8(p->value_text)) {
      report.error(o, p->path_text, "the value is not valid UTF-8");
      continue;
    }
    YAML::Node value_yaml;
    try {
      value_yaml = YAML::Load(p->value_text);
    } catch (const YAML::ParserException& e) {
      report.error(o, p->path_text, fmt::format("the value is not valid YAML: {}", e.msg));
      continue;
    }
    SNode* cur = &root;
    std::string walked;
    bool ok = true;
    for (const auto& seg : p->path) {
      if (!seg.key.empty()) {
        if (cur->kind == SNode::Kind::null) {
          cur->kind = SNode::Kind::map;
          cur->origin = o;
        }
        if (cur->kind != SNode::Kind::map) {
          report.error(o, p->path_text,
                       fmt::format("cannot set '{}' inside '{}': it is {}, not a mapping", seg.key,
                                   walked, describe(*cur)));
          ok = false;
          break;
        }
        MapEntry* e = cur->find(seg.key);
        if (e == nullptr) {
          SNode fresh;
          fresh.origin = o;
          cur->entries.push_back(MapEntry{seg.key, o, std::move(fresh)});
          e = &cur->entries.back();
        }
        walked = child_field(walked, seg.key);
        cur = &e->value;
      } else {
        if (cur->kind != SNode::Kind::sequence) {
          report.error(o, p->path_text,
                       fmt::format("'{}' is {}, not a list; it has no [{}]", walked, describe(*cur),
                                   seg.index));
          ok = false;
          break;
        }
        if (seg.index >= cur->items.size()) {
          report.error(
              o, p->path_text,
              fmt::format("{}[{}] does not exist: '{}' has {} entr{}", walked, seg.index, walked,
                          cur->items.size(), cur->items.size() == 1 ? "y" : "ies"));
          ok = false;
          break;
        }
        walked = index_field(walked, seg.index);
        cur = &cur->items[seg.index];
      }
    }
    if (!ok) continue;
    *cur = TreeBuilder(report).convert(value_yaml, o, index, p->path_text);
  }
}

// --- scalar parsing ------------------------------------------------------------------------

}  // namespace fabricbench::spec
