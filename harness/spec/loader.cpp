// Experiment files, schema v1 (docs/CONFIG.md): YAML -> a source tree that remembers where every
// node came from (source_tree.cpp) -> --set overrides -> validation of the top level (here),
// the injector (injector_keys.cpp) and each case group (expansion.cpp, case_builder.cpp), all
// diagnostics collected -> resolved JSON and its SHA-256 digest.
#include "harness/spec/loader.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

#include "harness/spec/case_keys.hpp"
#include "harness/spec/expansion.hpp"
#include "harness/spec/injector_keys.hpp"
#include "harness/spec/placement_keys.hpp"
#include "harness/spec/source_tree.hpp"
#include "harness/spec/values.hpp"

namespace fabricbench::spec {
namespace {

constexpr int kSchemaVersion = 1;

const std::vector<std::string_view> kTopLevelKeys = {
    "fabricbench", "name",      "description", "ranks",    "launcher",
    "timeouts",    "placement", "injector",    "defaults", "cases"};

std::string sha256_hex(const std::string& data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
    throw core::Error(core::ErrorKind::runtime, "SHA-256 of the experiment plan failed");
  }
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

void resolve(Experiment& exp) {
  nlohmann::json cases = nlohmann::json::array();
  for (const auto& c : exp.cases) cases.push_back(to_json(c));
  exp.resolved = nlohmann::json{
      {"fabricbench", exp.schema_version}, {"name", exp.name},
      {"description", exp.description},    {"ranks", exp.ranks},
      {"launcher", exp.launcher},          {"timeouts", {{"peer_ns", exp.peer_timeout_ns}}},
      {"injector", to_json(exp.injector)}, {"cases", cases},
  };
  if (!exp.placement.is_default()) exp.resolved["placement"] = to_json(exp.placement);
  exp.digest = sha256_hex(exp.resolved.dump());
}

// The top level of one document: schema version, scalars, injector, defaults and case groups.
class Loader {
 public:
  Loader(Reporter& report, const Catalog& catalog)
      : report_(report), catalog_(catalog), values_(report), keys_(catalog) {}

  void validate(const SNode& root, Experiment& exp) {
    if (!check_root(root)) return;
    check_top_level_keys(root);
    read_scalars(root, exp);
    if (const SNode* inj = root.get("injector")) injector_ = parse_injector(*inj, exp, values_);
    if (injector_.state == ParsedInjector::State::valid) exp.injector = injector_.settings;
    LoadContext ctx{values_, keys_, catalog_, injector_};
    const std::vector<Param> defaults = read_defaults(ctx, root);
    read_cases(ctx, root, defaults, exp);
  }

 private:
  void error(const Origin& o, const std::string& field, const std::string& message) {
    report_.error(o, field, message);
  }

  // A mapping whose schema version this fabricbench reads.
  bool check_root(const SNode& root) {
    if (root.kind == SNode::Kind::null) {
      error(root.origin, "",
            "the experiment file is empty; it needs at least 'fabricbench: 1', 'name' and "
            "'cases' (see configs/quickstart.yaml)");
      return false;
    }
    if (root.kind != SNode::Kind::map) {
      error(root.origin, "",
            fmt::format("expected a mapping at the top level (fabricbench:, name:, cases: ...), "
                        "got {}",
                        describe(root)));
      return false;
    }
    // Schema version first: with a different version nothing else is meaningful.
    const SNode* version = root.get("fabricbench");
    if (version == nullptr) {
      error(root.origin, "",
            "missing required key 'fabricbench' (the schema version; add 'fabricbench: 1')");
      return true;
    }
    const KeySpec spec{"fabricbench", Type::count, 0, 1'000'000, {}};
    if (version->kind != SNode::Kind::scalar) {
      error(version->origin, "fabricbench",
            fmt::format("expected the schema version 1, got {}", describe(*version)));
      return false;
    }
    auto v = values_.parse_count(*version, spec, "fabricbench");
    if (!v) return false;
    if (*v != kSchemaVersion) {
      error(version->origin, "fabricbench",
            fmt::format("unsupported schema version {}; this fabricbench reads version {}", *v,
                        kSchemaVersion));
      return false;
    }
    return true;
  }

  void check_top_level_keys(const SNode& root) {
    for (const auto& e : root.entries) {
      if (std::find(kTopLevelKeys.begin(), kTopLevelKeys.end(), e.key) != kTopLevelKeys.end()) {
        continue;
      }
      if (e.key.rfind("x-", 0) == 0) continue;  // extension keys: a home for YAML anchors
      std::string hint = did_you_mean(e.key, kTopLevelKeys);
      if (hint.empty() && (keys_.find(e.key) != nullptr || keys_.is_section(e.key))) {
        hint =
            fmt::format("; '{}' is a case key: put it under 'defaults' or in a case group", e.key);
      }
      error(e.key_origin, e.key, fmt::format("unknown key '{}' at the top level{}", e.key, hint));
    }
  }

  // name, description, ranks, launcher, timeouts.
  void read_scalars(const SNode& root, Experiment& exp) {
    if (const SNode* name = root.get("name")) {
      if (name->kind != SNode::Kind::scalar) {
        error(name->origin, "name", fmt::format("expected a name, got {}", describe(*name)));
      } else if (!valid_name(name->text, true)) {
        error(name->origin, "name",
              fmt::format("'{}' is not a valid name: use letters, digits, '_', '.' and '-' only",
                          name->text));
      } else {
        exp.name = name->text;
      }
    } else {
      error(root.origin, "",
            "missing required key 'name' (the experiment's name, e.g. quickstart)");
    }
    if (const SNode* d = root.get("description")) {
      if (d->kind == SNode::Kind::scalar) {
        exp.description = d->text;
      } else if (d->kind != SNode::Kind::null) {
        error(d->origin, "description", fmt::format("expected a text, got {}", describe(*d)));
      }
    }
    if (const SNode* r = root.get("ranks")) {
      const KeySpec spec{"ranks", Type::count, 2, 1024, {}};
      auto v = values_.parse_value(*r, spec, "ranks");
      if (!v.empty()) exp.ranks = static_cast<int>(v.front().number);
    }
    if (const SNode* l = root.get("launcher")) {
      const KeySpec spec{"launcher", Type::choice, 0, 0, {"auto", "local", "mpi", "slurm", "env"}};
      auto v = values_.parse_value(*l, spec, "launcher");
      if (!v.empty()) exp.launcher = v.front().text;
    }
    if (const SNode* t = root.get("timeouts")) read_timeouts(*t, exp);
    if (const SNode* p = root.get("placement")) {
      parse_placement(*p, values_, keys_.find("placement"), exp.placement);
    }
  }

  void read_timeouts(const SNode& t, Experiment& exp) {
    if (t.kind == SNode::Kind::map) {
      values_.check_unknown_keys(t, "timeouts", {"peer"}, " in timeouts");
      if (const SNode* peer = t.get("peer")) {
        const KeySpec spec{"peer", Type::duration, kNsPerS, 3600 * kNsPerS, {}};
        auto v = values_.parse_value(*peer, spec, "timeouts.peer");
        if (!v.empty()) exp.peer_timeout_ns = v.front().number;
      }
    } else if (t.kind != SNode::Kind::null) {
      error(t.origin, "timeouts",
            fmt::format("expected a mapping such as {{peer: 30s}}, got {}", describe(t)));
    }
  }

  std::vector<Param> read_defaults(LoadContext& ctx, const SNode& root) {
    const SNode* d = root.get("defaults");
    if (d == nullptr) return {};
    if (d->kind != SNode::Kind::map) {
      if (d->kind != SNode::Kind::null) {
        error(d->origin, "defaults",
              fmt::format("expected a mapping of case keys, got {}", describe(*d)));
      }
      return {};
    }
    for (const auto& e : d->entries) {
      if (e.key == "name") {
        error(e.key_origin, "defaults.name",
              "'name' names one case group and cannot be set in defaults");
      }
    }
    std::vector<std::string_view> valid = keys_.group_key_names(false);
    valid.emplace_back("name");  // reported above, not as unknown
    values_.check_unknown_keys(*d, "defaults", valid, " in defaults");
    std::vector<Param> defaults = parse_case_keys(ctx, *d, "defaults", true);
    check_defaults(defaults);
    return defaults;
  }

  // Keys that exclude each other, both written in defaults.
  void check_defaults(const std::vector<Param>& defaults) {
    const Param* iter = find_param(defaults, "iterations");
    const Param* dur = find_param(defaults, "duration");
    if (iter != nullptr && dur != nullptr) {
      const Param* later = std::pair(iter->origin.line, iter->origin.column) >
                                   std::pair(dur->origin.line, dur->origin.column)
                               ? iter
                               : dur;
      error(later->origin, later->field,
            "set either 'iterations' or 'duration', not both (a case runs for a number of "
            "iterations or for a length of time)");
    }
    const Param* mix = find_param(defaults, "regime.mix");
    if (mix != nullptr && find_param(defaults, "sizes") != nullptr) {
      error(mix->origin, mix->field,
            "set either 'sizes' or 'regime.mix', not both (a mix gives the message sizes; "
            "the case's message_size is its largest size)");
    }
  }

  void read_cases(LoadContext& ctx, const SNode& root, const std::vector<Param>& defaults,
                  Experiment& exp) {
    const SNode* cases = root.get("cases");
    if (cases == nullptr) {
      error(root.origin, "", "missing required key 'cases' (the list of case groups)");
      return;
    }
    if (cases->kind != SNode::Kind::sequence) {
      error(cases->origin, "cases",
            fmt::format("expected a list of case groups, got {}", describe(*cases)));
      return;
    }
    if (cases->items.empty()) {
      error(cases->origin, "cases", "the list of case groups is empty; give at least one");
      return;
    }
    std::map<std::string, int> group_lines;
    for (std::size_t i = 0; i < cases->items.size(); ++i) {
      if (!expand_group(ctx, cases->items[i], i, defaults, group_lines, exp)) break;
    }
  }

  Reporter& report_;
  const Catalog& catalog_;
  ValueParser values_;
  KeyTable keys_;
  ParsedInjector injector_;
};

}  // namespace

Experiment load_experiment_text(const std::string& text, const std::string& display_path,
                                const Catalog& catalog, const std::vector<std::string>& overrides) {
  Reporter report(display_path, overrides);
  Experiment exp;
  exp.source_path = display_path;
  exp.source_text = text;
  exp.overrides = overrides;
  SNode root;
  if (parse_document(text, report, root)) {
    apply_overrides(root, report);
    Loader(report, catalog).validate(root, exp);
  } else {
    check_override_syntax(report);
  }
  report.finish();
  resolve(exp);
  return exp;
}

Experiment load_experiment_file(const std::string& path, const Catalog& catalog,
                                const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    Reporter(path, overrides)
        .fail_unreadable(fmt::format("cannot read the experiment file: {}",
                                     std::error_code(err, std::generic_category()).message()));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    Reporter(path, overrides).fail_unreadable("cannot read the experiment file: read error");
  }
  return load_experiment_text(buffer.str(), path, catalog, overrides);
}

}  // namespace fabricbench::spec
