// Experiment files, schema v1 (docs/CONFIG.md): YAML -> a source tree that remembers where every
// node came from -> --set overrides -> validation (all diagnostics collected) -> matrix
// expansion -> resolved JSON and its SHA-256 digest.
#include "harness/spec/loader.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/units.hpp"

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

}  // namespace

ConfigError::ConfigError(std::vector<Diagnostic> diagnostics)
    : core::Error(core::ErrorKind::config, join_diagnostics(diagnostics)),
      diagnostics_(std::move(diagnostics)) {}

namespace {

constexpr int kSchemaVersion = 1;
constexpr std::size_t kMaxCases = 10'000;
constexpr std::uint64_t kNsPerUs = 1'000;
constexpr std::uint64_t kNsPerMs = 1'000'000;
constexpr std::uint64_t kNsPerS = 1'000'000'000;
constexpr std::uint64_t kGiB = 1ULL << 30;

// ---------------------------------------------------------------------------------------------
// Source tree: the YAML document with the origin of every node, duplicate keys kept in order.

struct Origin {
  int source = -1;  // -1: the file; >= 0: index of the --set override that produced the node
  int line = 0;     // 1-based, file only
  int column = 0;
};

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
};

struct MapEntry {
  std::string key;
  Origin key_origin;
  SNode value;
};

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

std::string child_field(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}

std::string index_field(const std::string& parent, std::size_t index) {
  return fmt::format("{}[{}]", parent, index);
}

// ---------------------------------------------------------------------------------------------
// Suggestions: optimal string alignment distance (Damerau-Levenshtein with adjacent swaps).

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

// ---------------------------------------------------------------------------------------------
// The keys of a case (group or defaults). Transport settings (`tcp.*`, `verbs.*`) are written
// as a nested mapping named after the transport; the regime (`regime.*`) as a mapping too.

enum class Type {
  sizes,
  size,
  count,
  duration,
  warmup,
  boolean,
  choice,
  address,
  interface_name,
  device_name,
  rate,     // "200k/s", "5Gb/s", "70%" (core::parse_rate)
  mix,      // "64B:9,64KiB:1": sizes (lo..hi bytes) with positive weights
  percent,  // "3%": a fraction; lo..hi in tenths of a percent
  factor,   // a number greater than lo and at most hi ("1.5")
  fault,    // a mapping of fault keys (docs/CONFIG.md, "Faults"); a list of them is a matrix
};

// Nested mappings: the transports' settings and the regime.
const std::vector<std::string_view> kSections = {"tcp", "verbs", "regime"};

bool is_transport_section(std::string_view section) {
  return section == "tcp" || section == "verbs";
}

// The regimes (docs/CONFIG.md, "Regimes"). Open-loop ones offer arrivals at a rate; overload
// and search set their own lengths (no iterations or duration).
const std::vector<std::string_view> kRegimeKinds = {"closed", "floor", "realistic", "overload",
                                                    "search"};
const std::vector<std::string_view> kOpenLoopKinds = {"realistic", "overload", "search"};

bool is_self_timed(std::string_view kind) {
  return kind == "overload" || kind == "search";
}

// Bounds of regime.rate: 1%..1000% of the sustainable rate; absolute rates up to these.
constexpr double kMinRateFraction = 0.01;
constexpr double kMaxRateFraction = 10.0;
constexpr double kMaxOpsPerSecond = 1e9;
constexpr double kMaxBitsPerSecond = 1e13;

struct KeySpec {
  std::string_view name;  // "completion", "tcp.sndbuf"
  Type type;
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  std::vector<std::string_view> choices;
  bool stream_only = false;
  // The nested mapping the key is written in: "tcp" or "verbs" (the key applies only to that
  // transport) or "regime".
  std::string_view section{};
  // Regime keys: the regime kinds the key applies to (empty: all).
  std::vector<std::string_view> kinds{};
};

const std::vector<KeySpec>& case_keys() {
  static const std::vector<KeySpec> keys = {
      {"suite", Type::choice, 0, 0, {"pingpong", "stream"}},
      {"transport", Type::choice, 0, 0, {"tcp", "verbs"}},
      {"op",
       Type::choice,
       0,
       0,
       {"send", "write", "write_imm", "read", "fetch_add", "compare_swap"}},
      {"sizes", Type::sizes, 1, kGiB, {}},
      {"iterations", Type::count, 1, 1'000'000'000, {}},
      {"duration", Type::duration, 10 * kNsPerMs, 3600 * kNsPerS, {}},
      {"warmup", Type::warmup, 0, 0, {}},
      {"repetitions", Type::count, 1, 1000, {}},
      {"completion", Type::choice, 0, 0, {"busy_poll", "blocking"}},
      {"direction", Type::choice, 0, 0, {"uni", "bidir"}, true},
      {"window", Type::count, 1, 4096, {}, true},
      {"interval", Type::duration, kNsPerMs, 10 * kNsPerS, {}},
      {"memory", Type::choice, 0, 0, {"host", "hugepage"}},
      {"verify", Type::boolean, 0, 0, {}},
      {"fault", Type::fault, 0, 0, {}},
      {"on_break", Type::choice, 0, 0, {"fail", "reconnect"}},
      {"reconnect_timeout", Type::duration, 100 * kNsPerMs, 3600 * kNsPerS, {}},
      {"tcp.address", Type::address, 0, 0, {}, false, "tcp"},
      {"tcp.interface", Type::interface_name, 0, 0, {}, false, "tcp"},
      {"tcp.family", Type::choice, 0, 0, {"auto", "ipv4", "ipv6"}, false, "tcp"},
      {"tcp.nodelay", Type::boolean, 0, 0, {}, false, "tcp"},
      {"tcp.sndbuf", Type::size, 0, kGiB, {}, false, "tcp"},
      {"tcp.rcvbuf", Type::size, 0, kGiB, {}, false, "tcp"},
      {"tcp.connections", Type::count, 1, 64, {}, false, "tcp"},
      {"tcp.user_timeout", Type::duration, 0, 3600 * kNsPerS, {}, false, "tcp"},
      {"verbs.device", Type::device_name, 0, 0, {}, false, "verbs"},
      {"verbs.netdev", Type::interface_name, 0, 0, {}, false, "verbs"},
      {"verbs.port", Type::count, 0, 255, {}, false, "verbs"},
      {"verbs.gid_index", Type::count, 0, 1023, {}, false, "verbs"},
      {"verbs.qp_type", Type::choice, 0, 0, {"rc", "uc", "ud"}, false, "verbs"},
      {"verbs.mtu",
       Type::choice,
       0,
       0,
       {"auto", "256", "512", "1024", "2048", "4096"},
       false,
       "verbs"},
      {"verbs.queue_depth", Type::count, 1, 32768, {}, false, "verbs"},
      {"verbs.inline", Type::count, 0, 4096, {}, false, "verbs"},
      {"verbs.cq_moderation", Type::count, 1, 4096, {}, false, "verbs"},
      {"verbs.sl", Type::count, 0, 15, {}, false, "verbs"},
      {"verbs.traffic_class", Type::count, 0, 255, {}, false, "verbs"},
      {"verbs.timeout", Type::count, 0, 31, {}, false, "verbs"},
      {"verbs.retry_count", Type::count, 0, 7, {}, false, "verbs"},
      {"verbs.rnr_retry", Type::count, 0, 7, {}, false, "verbs"},
      {"verbs.qps", Type::count, 1, 64, {}, false, "verbs"},
      {"verbs.rdma_cm", Type::boolean, 0, 0, {}, false, "verbs"},
      {"regime.kind", Type::choice, 0, 0, kRegimeKinds, false, "regime"},
      {"regime.arrival",
       Type::choice,
       0,
       0,
       {"constant", "poisson"},
       false,
       "regime",
       kOpenLoopKinds},
      {"regime.seed", Type::count, 0, (1ULL << 63) - 1, {}, false, "regime", kOpenLoopKinds},
      {"regime.rate", Type::rate, 0, 0, {}, false, "regime", {"realistic", "overload"}},
      {"regime.streams", Type::count, 1, 64, {}, false, "regime", kOpenLoopKinds},
      {"regime.mix", Type::mix, 1, kGiB, {}, false, "regime", kOpenLoopKinds},
      {"regime.inflight", Type::count, 1, 4096, {}, false, "regime", kOpenLoopKinds},
      {"regime.backlog", Type::count, 1, 100'000'000, {}, false, "regime", kOpenLoopKinds},
      {"regime.deadline",
       Type::duration,
       kNsPerUs,
       3600 * kNsPerS,
       {},
       false,
       "regime",
       kOpenLoopKinds},
      {"regime.sample_interval",
       Type::duration,
       10 * kNsPerUs,
       kNsPerS,
       {},
       false,
       "regime",
       kOpenLoopKinds},
      {"regime.search_queue_age",
       Type::duration,
       kNsPerUs,
       10 * kNsPerS,
       {},
       false,
       "regime",
       kOpenLoopKinds},
      {"regime.search_probe",
       Type::duration,
       100 * kNsPerMs,
       60 * kNsPerS,
       {},
       false,
       "regime",
       kOpenLoopKinds},
      {"regime.search_precision", Type::percent, 1, 500, {}, false, "regime", kOpenLoopKinds},
      {"regime.search_max_probes", Type::count, 2, 100, {}, false, "regime", kOpenLoopKinds},
      {"regime.overload_factor", Type::factor, 1, 100, {}, false, "regime", {"overload"}},
      {"regime.overload_before",
       Type::duration,
       10 * kNsPerMs,
       3600 * kNsPerS,
       {},
       false,
       "regime",
       {"overload"}},
      {"regime.overload_during",
       Type::duration,
       10 * kNsPerMs,
       3600 * kNsPerS,
       {},
       false,
       "regime",
       {"overload"}},
      {"regime.overload_after",
       Type::duration,
       10 * kNsPerMs,
       3600 * kNsPerS,
       {},
       false,
       "regime",
       {"overload"}},
  };
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Faults (docs/CONFIG.md, "Faults"): the keys of a `fault:` mapping, the top-level `injector:`
// and what each injector backend can cause.

const std::vector<std::string_view> kFaultKinds = {"none", "link_down", "flap",      "blackhole",
                                                   "loss", "delay",     "rate_limit"};
const std::vector<std::string_view> kInjectorBackends = {"none", "netns",  "vm",
                                                         "link", "ibport", "command"};

// The regimes a fault can be timed against: a measured phase of `duration`.
bool fault_regime_ok(std::string_view kind) {
  return kind == "closed" || kind == "floor" || kind == "realistic";
}

// loss: 0.01%..100%; rate: up to the bound of regime.rate.
constexpr double kMinLossFraction = 0.0001;
constexpr double kMaxLossFraction = 1.0;
// The recovery-curve bin (and interval) when `bin` is not written.
constexpr std::uint64_t kVerbsFaultBinNs = 10 * kNsPerMs;
constexpr std::uint64_t kOtherFaultBinNs = 100 * kNsPerMs;

// The keys of one `fault:` mapping ("loss" and "rate" are parsed by their own rules).
const std::vector<KeySpec>& fault_keys() {
  static const std::vector<KeySpec> keys = {
      {"kind", Type::choice, 0, 0, kFaultKinds},
      {"start", Type::duration, 0, 3600 * kNsPerS, {}},
      {"hold", Type::duration, kNsPerMs, 3600 * kNsPerS, {}},
      {"count", Type::count, 1, 1000, {}},
      {"period", Type::duration, 0, 3600 * kNsPerS, {}},
      {"jitter", Type::duration, 0, 3600 * kNsPerS, {}},
      {"seed", Type::count, 0, (1ULL << 63) - 1, {}},
      {"loss", Type::percent, 0, 0, {}},
      {"delay", Type::duration, kNsPerUs, 10 * kNsPerS, {}},
      {"rate", Type::rate, 0, 0, {}},
      {"bin", Type::duration, kNsPerMs, 10 * kNsPerS, {}},
      {"consecutive", Type::count, 1, 1000, {}},
  };
  return keys;
}

std::vector<std::string_view> fault_key_names() {
  std::vector<std::string_view> names;
  for (const auto& k : fault_keys()) names.push_back(k.name);
  return names;
}

const KeySpec* find_fault_key(std::string_view name) {
  for (const auto& k : fault_keys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

constexpr std::string_view kFaultNeedsDuration =
    "a fault is timed from the start of the measured phase (its start, hold and period are "
    "lengths of time), so it needs 'duration', not 'iterations'";

// The keys a fault kind requires (and no other kind takes).
struct KindKey {
  std::string_view key;
  std::string_view kind;
  std::string_view what;  // for "missing 'loss' ...: <what>"
};
const std::vector<KindKey> kKindKeys = {
    {"loss", "loss", "the fraction of packets dropped, such as 5%"},
    {"delay", "delay", "the one-way delay added, such as 10ms"},
    {"rate", "rate_limit", "the rate the link is limited to, in bits per second, such as 100Mb/s"},
};

const std::vector<std::string_view> kInjectorKeys = {
    "backend", "target", "allow", "force", "inject", "clear", "command_timeout", "link_rate"};

// What each injector backend can cause: on which transports, which fault kinds, and why not the
// others. harness/faults (Injector::make) mirrors this table; keep the two in step.
struct FaultCapability {
  std::string_view backend;
  std::vector<std::string_view> transports;
  std::string_view transports_why;  // why the other transports are out
  std::vector<std::string_view> kinds;
  std::string_view kinds_why;  // why the other kinds are out
};

const std::vector<FaultCapability>& injector_capabilities() {
  static const std::vector<FaultCapability> table = {
      {"netns",
       {"tcp"},
       "the namespaces have no RDMA device; use backend vm with the Soft-RoCE guests (ci/vm)",
       {"link_down", "flap", "blackhole", "loss", "rate_limit"},
       "this kernel has no netem (sch_netem), which delay needs; use backend vm (the guests' "
       "kernel has netem) or command"},
      {"vm",
       {"tcp", "verbs"},
       "",
       {"link_down", "flap", "blackhole", "loss", "delay", "rate_limit"},
       ""},
      {"link",
       {"tcp", "verbs"},
       "",
       {"link_down", "flap"},
       "host tc, iptables and nft do not touch a hardware RoCE or InfiniBand NIC's traffic, so "
       "backend link only takes its target down and up (ip link); use backend command (or vm) "
       "for other faults"},
      {"ibport",
       {"verbs"},
       "ibportstate disables an InfiniBand port, which only verbs traffic is measured on; use "
       "backend link, netns or vm for TCP",
       {"link_down", "flap"},
       "ibportstate can only disable and enable a port"},
      {"command",
       {"tcp", "verbs"},
       "",
       {"link_down", "flap", "blackhole", "loss", "delay", "rate_limit"},
       ""},
  };
  return table;
}

// Why `backend` cannot cause a fault of `kind` on `transport` (nullopt: it can).
std::optional<std::string> fault_refusal(std::string_view backend, std::string_view transport,
                                         std::string_view kind) {
  for (const auto& cap : injector_capabilities()) {
    if (cap.backend != backend) continue;
    if (std::find(cap.transports.begin(), cap.transports.end(), transport) ==
        cap.transports.end()) {
      return fmt::format("injector backend {} cannot cause faults on transport {}: {}", backend,
                         transport, cap.transports_why);
    }
    if (std::find(cap.kinds.begin(), cap.kinds.end(), kind) == cap.kinds.end()) {
      return fmt::format("injector backend {} cannot cause a {} fault (it can cause {}): {}",
                         backend, kind, list_values(cap.kinds), cap.kinds_why);
    }
    return std::nullopt;
  }
  return std::nullopt;  // backend none: reported as a missing injector
}

constexpr std::uint64_t kMaxWarmupIterations = 1'000'000'000;
constexpr std::uint64_t kMaxWarmupNs = 3600 * kNsPerS;

const KeySpec* find_key(std::string_view name) {
  for (const auto& k : case_keys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

// Keys valid directly in a case group (with_name) or under defaults (without).
std::vector<std::string_view> group_key_names(bool with_name) {
  std::vector<std::string_view> names;
  if (with_name) names.push_back("name");
  for (const auto& k : case_keys()) {
    if (k.section.empty()) names.push_back(k.name);
  }
  names.insert(names.end(), kSections.begin(), kSections.end());
  return names;
}

// The keys of one section (a transport's or the regime's), without the "section." prefix.
std::vector<std::string_view> section_key_names(std::string_view section) {
  std::vector<std::string_view> names;
  for (const auto& k : case_keys()) {
    if (k.section == section) names.push_back(k.name.substr(section.size() + 1));
  }
  return names;
}

const std::vector<std::string_view> kTopLevelKeys = {"fabricbench", "name",     "description",
                                                     "ranks",       "launcher", "timeouts",
                                                     "injector",    "defaults", "cases"};

// One parsed value of a case key.
struct Value {
  std::uint64_t number = 0;  // counts, sizes, durations
  bool flag = false;         // booleans
  bool is_duration = false;  // warmup: a duration rather than an iteration count
  std::string text;          // choices and strings; a mix as canonical text
  std::string display;       // for ids and Case::varied
  double real = 0;           // percentages (as a fraction) and factors
  Rate rate;                 // rates
  std::vector<SizeWeight> mix;
  // A fault (Type::fault): its settings as written (period and bin 0 unless written; resolved
  // per case) and where the mapping and each of its keys are written.
  FaultSettings fault;
  Origin fault_origin;
  std::string fault_field;                                           // "cases[0].fault[1]"
  std::map<std::string, std::pair<Origin, std::string>> fault_keys;  // key -> origin, field
  // Where `key` of the fault is written (the mapping itself when it is not).
  std::pair<Origin, std::string> fault_at(const std::string& key) const {
    const auto it = fault_keys.find(key);
    return it != fault_keys.end() ? it->second : std::pair(fault_origin, fault_field);
  }
};

// A case key as written in one place (a group or defaults), parsed.
struct Param {
  const KeySpec* spec = nullptr;
  std::string field;  // where it was written, e.g. "cases[1].completion"
  Origin origin;
  bool from_defaults = false;
  bool is_list = false;  // written as a list (or, for sizes, a sweep): a matrix dimension
  bool valid = false;
  std::vector<Value> values;
};

// ---------------------------------------------------------------------------------------------

class Loader {
 public:
  Loader(std::string display_path, std::vector<std::string> overrides)
      : path_(std::move(display_path)), overrides_(std::move(overrides)) {}

  Experiment load(const std::string& text) {
    Experiment exp;
    exp.source_path = path_;
    exp.source_text = text;
    exp.overrides = overrides_;

    SNode root;
    bool parsed = parse_document(text, root);
    if (parsed) {
      apply_overrides(root);
      validate(root, exp);
    } else {
      check_override_syntax();
    }
    finish();
    resolve(exp);
    return exp;
  }

  [[noreturn]] void fail_unreadable(const std::string& reason) {
    diagnostics_.push_back(Diagnostic{path_, 0, 0, "", reason});
    throw ConfigError(diagnostics_);
  }

 private:
  // --- diagnostics ---------------------------------------------------------------------------

  void error(const Origin& o, const std::string& field, const std::string& message) {
    if (o.source >= 0) {
      diagnostics_.push_back(
          Diagnostic{"--set", 0, 0, field,
                     fmt::format("{} (from --set '{}')", message,
                                 overrides_[static_cast<std::size_t>(o.source)])});
    } else {
      diagnostics_.push_back(Diagnostic{path_, o.line, o.column, field, message});
    }
  }

  // File diagnostics by position, then --set ones in the order given; duplicates removed.
  void finish() {
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

  std::size_t error_count() const { return diagnostics_.size(); }

  // --- YAML -> source tree -------------------------------------------------------------------

  static Origin origin_of(const YAML::Mark& m, const Origin& fallback, int source) {
    if (source >= 0) return Origin{source, 0, 0};
    if (m.is_null() || m.line < 0) return fallback;
    return Origin{-1, m.line + 1, m.column + 1};
  }

  // `fallback` is used for nodes without a mark (an empty value takes its key's position).
  SNode convert(const YAML::Node& n, const Origin& fallback, int source, const std::string& field) {
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

  bool parse_document(const std::string& text, SNode& root) {
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(text);
    } catch (const YAML::ParserException& e) {
      error(Origin{-1, e.mark.line + 1, e.mark.column + 1}, "",
            fmt::format("YAML syntax error: {}", e.msg));
      return false;
    }
    if (docs.size() > 1) {
      error(Origin{-1, 1, 1}, "",
            fmt::format("the file holds {} YAML documents ('---'); an experiment is one document",
                        docs.size()));
      return false;
    }
    const Origin top{-1, 1, 1};
    if (docs.empty()) {
      root.kind = SNode::Kind::null;
      root.origin = top;
      return true;
    }
    root = convert(docs.front(), top, -1, "");
    return true;
  }

  // --- --set overrides -----------------------------------------------------------------------

  struct PathSegment {
    std::string key;  // empty for an index
    std::size_t index = 0;
  };

  // "cases[0].tcp.sndbuf" -> {cases}{[0]}{tcp}{sndbuf}; nullopt with `why` set when malformed.
  static std::optional<std::vector<PathSegment>> parse_path(std::string_view path,
                                                            std::string& why) {
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
  std::optional<ParsedOverride> parse_override(int index) {
    const std::string& text = overrides_[static_cast<std::size_t>(index)];
    const Origin o{index, 0, 0};
    const std::size_t eq = text.find('=');
    if (eq == std::string::npos) {
      error(o, "", "expected key.path=value, e.g. defaults.repetitions=5");
      return std::nullopt;
    }
    ParsedOverride p;
    p.path_text = text.substr(0, eq);
    p.value_text = text.substr(eq + 1);
    std::string why;
    auto path = parse_path(p.path_text, why);
    if (!path) {
      error(o, p.path_text, fmt::format("bad key path: {}", why));
      return std::nullopt;
    }
    p.path = std::move(*path);
    return p;
  }

  void check_override_syntax() {
    for (std::size_t i = 0; i < overrides_.size(); ++i) parse_override(static_cast<int>(i));
  }

  void apply_overrides(SNode& root) {
    for (std::size_t i = 0; i < overrides_.size(); ++i) {
      const int index = static_cast<int>(i);
      const Origin o{index, 0, 0};
      auto p = parse_override(index);
      if (!p) continue;
      YAML::Node value_yaml;
      try {
        value_yaml = YAML::Load(p->value_text);
      } catch (const YAML::ParserException& e) {
        error(o, p->path_text, fmt::format("the value is not valid YAML: {}", e.msg));
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
            error(o, p->path_text,
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
            error(o, p->path_text,
                  fmt::format("'{}' is {}, not a list; it has no [{}]", walked, describe(*cur),
                              seg.index));
            ok = false;
            break;
          }
          if (seg.index >= cur->items.size()) {
            error(o, p->path_text,
                  fmt::format("{}[{}] does not exist: '{}' has {} entr{}", walked, seg.index,
                              walked, cur->items.size(), cur->items.size() == 1 ? "y" : "ies"));
            ok = false;
            break;
          }
          walked = index_field(walked, seg.index);
          cur = &cur->items[seg.index];
        }
      }
      if (!ok) continue;
      *cur = convert(value_yaml, o, index, p->path_text);
    }
  }

  // --- scalar parsing ------------------------------------------------------------------------

  static std::string expected_what(const KeySpec& spec) {
    switch (spec.type) {
      case Type::sizes:
        return "a size or a sweep such as 4KiB or 8..4MiB x2";
      case Type::size:
        return "a size such as 4KiB";
      case Type::count:
        return "an integer";
      case Type::duration:
        return "a duration such as 500ms";
      case Type::warmup:
        return "an iteration count such as 1000 or a duration such as 200ms";
      case Type::boolean:
        return "true or false";
      case Type::choice:
        return fmt::format("one of {}", list_values(spec.choices));
      case Type::address:
        return "an IP address such as 127.0.0.1 or ::1";
      case Type::interface_name:
        return "a network interface name such as eth0";
      case Type::device_name:
        return "an RDMA device name such as mlx5_0 or rxe0";
      case Type::rate:
        return "a rate such as 200k/s, 5Gb/s or 70%";
      case Type::mix:
        return "a size mix such as \"64B:9,64KiB:1\"";
      case Type::percent:
        return "a percentage such as 3%";
      case Type::factor:
        return "a number such as 2 or 1.5";
      case Type::fault:
        return "a fault mapping such as {kind: link_down, hold: 1s}";
    }
    return "a value";
  }

  static std::string range_text(const KeySpec& spec, std::uint64_t v) {
    if (spec.type == Type::size || spec.type == Type::sizes) return core::format_size(v);
    if (spec.type == Type::duration) return core::format_duration_ns(v);
    return std::to_string(v);
  }

  bool check_range(const KeySpec& spec, std::uint64_t v, const Origin& o,
                   const std::string& field) {
    if (v >= spec.lo && v <= spec.hi) return true;
    error(o, field,
          fmt::format("must be between {} and {}, got {}", range_text(spec, spec.lo),
                      range_text(spec, spec.hi), range_text(spec, v)));
    return false;
  }

  // A plain non-negative integer; reports and returns nullopt otherwise.
  std::optional<std::uint64_t> parse_count(const SNode& n, const KeySpec& spec,
                                           const std::string& field) {
    const std::string& t = n.text;
    const bool negative =
        t.size() > 1 && t[0] == '-' &&
        std::all_of(t.begin() + 1, t.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (negative) {
      error(n.origin, field, fmt::format("must be between {} and {}, got {}", spec.lo, spec.hi, t));
      return std::nullopt;
    }
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || p != t.data() + t.size() || ec == std::errc::invalid_argument) {
      error(n.origin, field, fmt::format("expected an integer, got '{}'", t));
      return std::nullopt;
    }
    if (ec == std::errc::result_out_of_range) {
      error(n.origin, field, fmt::format("must be between {} and {}, got {}", spec.lo, spec.hi, t));
      return std::nullopt;
    }
    if (!check_range(spec, v, n.origin, field)) return std::nullopt;
    return v;
  }

  // Parses one scalar value of `spec` (sizes may give several: a sweep). Empty on error.
  std::vector<Value> parse_value(const SNode& n, const KeySpec& spec, const std::string& field) {
    const bool stringy = spec.type == Type::address || spec.type == Type::interface_name ||
                         spec.type == Type::device_name;
    if (n.kind == SNode::Kind::null && stringy) return {Value{}};
    if (spec.type == Type::fault) return parse_fault_value(n, field);
    if (n.kind != SNode::Kind::scalar) {
      error(n.origin, field, fmt::format("expected {}, got {}", expected_what(spec), describe(n)));
      return {};
    }
    const std::string& t = n.text;
    Value v;
    switch (spec.type) {
      case Type::sizes: {
        std::vector<std::uint64_t> sizes;
        try {
          sizes = core::parse_size_sweep(t);
        } catch (const core::Error& e) {
          error(n.origin, field, e.what());
          return {};
        }
        std::vector<Value> out;
        for (auto s : sizes) {
          if (!check_range(spec, s, n.origin, field)) return {};
          Value size;
          size.number = s;
          size.display = core::format_size(s);
          out.push_back(std::move(size));
        }
        return out;
      }
      case Type::size:
        try {
          v.number = core::parse_size(t);
        } catch (const core::Error& e) {
          error(n.origin, field, e.what());
          return {};
        }
        if (!check_range(spec, v.number, n.origin, field)) return {};
        v.display = core::format_size(v.number);
        return {v};
      case Type::count: {
        auto c = parse_count(n, spec, field);
        if (!c) return {};
        v.number = *c;
        v.display = std::to_string(*c);
        return {v};
      }
      case Type::duration:
        try {
          v.number = core::parse_duration_ns(t);
        } catch (const core::Error& e) {
          error(n.origin, field, e.what());
          return {};
        }
        if (!check_range(spec, v.number, n.origin, field)) return {};
        v.display = core::format_duration_ns(v.number);
        return {v};
      case Type::warmup: {
        const bool digits = !t.empty() && std::all_of(t.begin(), t.end(),
                                                      [](char c) { return c >= '0' && c <= '9'; });
        if (digits) {
          const KeySpec count{"warmup", Type::count, 0, kMaxWarmupIterations, {}};
          auto c = parse_count(n, count, field);
          if (!c) return {};
          v.number = *c;
          v.display = std::to_string(*c);
          return {v};
        }
        try {
          v.number = core::parse_duration_ns(t);
        } catch (const core::Error& e) {
          error(n.origin, field,
                fmt::format("expected an iteration count such as 1000 or a duration such as "
                            "200ms: {}",
                            e.what()));
          return {};
        }
        const KeySpec dur{"warmup", Type::duration, 0, kMaxWarmupNs, {}};
        if (!check_range(dur, v.number, n.origin, field)) return {};
        v.is_duration = true;
        v.display = core::format_duration_ns(v.number);
        return {v};
      }
      case Type::boolean: {
        const std::string l = lower(t);
        if (l == "true" || l == "yes" || l == "on") {
          v.flag = true;
        } else if (l == "false" || l == "no" || l == "off") {
          v.flag = false;
        } else {
          error(n.origin, field, fmt::format("expected true or false, got '{}'", t));
          return {};
        }
        v.display = v.flag ? "true" : "false";
        return {v};
      }
      case Type::choice:
        if (std::find(spec.choices.begin(), spec.choices.end(), t) == spec.choices.end()) {
          const auto near = closest(t, spec.choices);
          error(n.origin, field,
                fmt::format("unknown value '{}'; valid values: {}{}", t, list_values(spec.choices),
                            near ? fmt::format(" (did you mean '{}'?)", *near) : ""));
          return {};
        }
        v.text = t;
        v.display = t;
        return {v};
      case Type::address: {
        if (!t.empty()) {
          in6_addr buf{};
          if (inet_pton(AF_INET, t.c_str(), &buf) != 1 &&
              inet_pton(AF_INET6, t.c_str(), &buf) != 1) {
            error(n.origin, field,
                  fmt::format("expected an IPv4 or IPv6 address such as 127.0.0.1 or ::1, got '{}' "
                              "(host names are not resolved; use tcp.interface to pick a NIC)",
                              t));
            return {};
          }
        }
        v.text = t;
        v.display = t;
        return {v};
      }
      case Type::interface_name: {
        const bool bad =
            t.size() > 15 || t == "." || t == ".." || std::any_of(t.begin(), t.end(), [](char c) {
              return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) != 0;
            });
        if (bad) {
          error(n.origin, field,
                fmt::format("'{}' is not a valid interface name (at most 15 characters, no '/', "
                            "':' or spaces)",
                            t));
          return {};
        }
        v.text = t;
        v.display = t;
        return {v};
      }
      case Type::device_name: {
        const bool bad = t.empty() || t.size() > 63 || std::any_of(t.begin(), t.end(), [](char c) {
                           return !(std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' ||
                                    c == '-' || c == '.');
                         });
        if (bad) {
          error(n.origin, field,
                fmt::format("'{}' is not a valid RDMA device name (1-63 letters, digits, '_', '-', "
                            "'.')",
                            t));
          return {};
        }
        v.text = t;
        v.display = t;
        return {v};
      }
      case Type::rate:
        return parse_rate_value(n, field);
      case Type::mix:
        return parse_mix_value(n, spec, field);
      case Type::percent: {
        core::ParsedRate r;
        try {
          r = core::parse_rate(t);
        } catch (const core::Error&) {
          r.kind = core::ParsedRate::Kind::ops;  // reported below
        }
        if (r.kind != core::ParsedRate::Kind::fraction) {
          error(n.origin, field, fmt::format("expected a percentage such as 3%, got '{}'", t));
          return {};
        }
        const auto tenths = [](std::uint64_t x) {
          return core::format_rate(
              {core::ParsedRate::Kind::fraction, static_cast<double>(x) / 1000});
        };
        const double lo = static_cast<double>(spec.lo) / 1000;
        const double hi = static_cast<double>(spec.hi) / 1000;
        if (r.value < lo * (1 - 1e-12) || r.value > hi * (1 + 1e-12)) {
          error(n.origin, field,
                fmt::format("must be between {} and {}, got {}", tenths(spec.lo), tenths(spec.hi),
                            core::format_rate(r)));
          return {};
        }
        v.real = r.value;
        v.display = core::format_rate(r);
        return {v};
      }
      case Type::fault:
        return {};  // parse_fault_value, above
      case Type::factor: {
        double x = 0;
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), x);
        if (t.empty() || p != t.data() + t.size() || ec != std::errc{} || !std::isfinite(x)) {
          error(n.origin, field, fmt::format("expected {}, got '{}'", expected_what(spec), t));
          return {};
        }
        if (x <= static_cast<double>(spec.lo) || x > static_cast<double>(spec.hi)) {
          error(n.origin, field,
                fmt::format("must be greater than {} and at most {}, got {}", spec.lo, spec.hi, t));
          return {};
        }
        v.real = x;
        v.display = fmt::format("{}", x);
        return {v};
      }
    }
    return {};
  }

  // regime.rate: core::parse_rate plus the ranges of docs/CONFIG.md.
  std::vector<Value> parse_rate_value(const SNode& n, const std::string& field) {
    core::ParsedRate r;
    try {
      r = core::parse_rate(n.text);
    } catch (const core::Error& e) {
      error(n.origin, field, e.what());
      return {};
    }
    const std::string text = core::format_rate(r);
    Value v;
    switch (r.kind) {
      case core::ParsedRate::Kind::fraction:
        if (r.value < kMinRateFraction * (1 - 1e-12) || r.value > kMaxRateFraction * (1 + 1e-12)) {
          error(n.origin, field,
                fmt::format("a fraction of the sustainable rate must be between 1% and 1000%, "
                            "got {}",
                            text));
          return {};
        }
        v.rate.unit = Rate::Unit::fraction;
        break;
      case core::ParsedRate::Kind::ops:
        if (r.value > kMaxOpsPerSecond) {
          error(n.origin, field,
                fmt::format("must be at most {}, got {}",
                            core::format_rate({core::ParsedRate::Kind::ops, kMaxOpsPerSecond}),
                            text));
          return {};
        }
        v.rate.unit = Rate::Unit::ops_per_s;
        break;
      case core::ParsedRate::Kind::bits:
        if (r.value > kMaxBitsPerSecond) {
          error(n.origin, field,
                fmt::format("must be at most {}, got {}",
                            core::format_rate({core::ParsedRate::Kind::bits, kMaxBitsPerSecond}),
                            text));
          return {};
        }
        v.rate.unit = Rate::Unit::bits_per_s;
        break;
    }
    v.rate.value = r.value;
    v.rate.text = text;
    v.display = text;
    return {v};
  }

  // fault.loss: a percentage, 0.01%..100%.
  std::optional<double> parse_loss(const SNode& n, const std::string& field) {
    core::ParsedRate r;
    bool ok = n.kind == SNode::Kind::scalar;
    if (ok) {
      try {
        r = core::parse_rate(n.text);
      } catch (const core::Error&) {
        ok = false;
      }
    }
    if (!ok || r.kind != core::ParsedRate::Kind::fraction) {
      error(
          n.origin, field,
          fmt::format("expected a percentage of packets dropped such as 5%, got {}", describe(n)));
      return std::nullopt;
    }
    if (r.value < kMinLossFraction * (1 - 1e-12) || r.value > kMaxLossFraction * (1 + 1e-12)) {
      error(n.origin, field,
            fmt::format("must be between 0.01% and 100%, got {}", core::format_rate(r)));
      return std::nullopt;
    }
    return r.value;
  }

  // fault.rate: bits per second only (core::parse_rate), at most the bound of regime.rate.
  std::optional<double> parse_bits_rate(const SNode& n, const std::string& field) {
    if (n.kind != SNode::Kind::scalar) {
      error(n.origin, field,
            fmt::format("expected a rate in bits per second such as 100Mb/s, got {}", describe(n)));
      return std::nullopt;
    }
    core::ParsedRate r;
    try {
      r = core::parse_rate(n.text);
    } catch (const core::Error& e) {
      error(n.origin, field, e.what());
      return std::nullopt;
    }
    if (r.kind != core::ParsedRate::Kind::bits) {
      error(n.origin, field,
            fmt::format(
                "expected a rate in bits per second such as 100Mb/s, got '{}' ({}); a "
                "rate limit is a link speed",
                n.text,
                r.kind == core::ParsedRate::Kind::ops ? "operations per second" : "a percentage"));
      return std::nullopt;
    }
    if (r.value > kMaxBitsPerSecond) {
      error(n.origin, field,
            fmt::format("must be at most {}, got {}",
                        core::format_rate({core::ParsedRate::Kind::bits, kMaxBitsPerSecond}),
                        core::format_rate(r)));
      return std::nullopt;
    }
    return r.value;
  }

  // A fault as displayed in ids and Case::varied: the kind, then ",key=value" for each setting
  // that differs from its default, in the order of fault_keys(): "link_down",
  // "flap,hold=200ms,count=3", "loss,loss=5%". Equal faults display alike.
  static std::string fault_display(const FaultSettings& f) {
    const FaultSettings d;
    std::string out = f.kind;
    const auto add = [&out](std::string_view key, const std::string& value) {
      out += ',';
      out += key;
      out += '=';
      out += value;
    };
    const auto duration = [](std::uint64_t ns) { return core::format_duration_ns(ns); };
    if (f.start_ns != d.start_ns) add("start", duration(f.start_ns));
    if (f.hold_ns != d.hold_ns) add("hold", duration(f.hold_ns));
    if (f.count != d.count) add("count", std::to_string(f.count));
    if (f.period_ns != 0 && f.period_ns != 2 * f.hold_ns) add("period", duration(f.period_ns));
    if (f.jitter_ns != d.jitter_ns) add("jitter", duration(f.jitter_ns));
    if (f.seed != d.seed) add("seed", std::to_string(f.seed));
    if (f.kind == "loss")
      add("loss", core::format_rate({core::ParsedRate::Kind::fraction, f.loss}));
    if (f.kind == "delay") add("delay", duration(f.delay_ns));
    if (f.kind == "rate_limit") {
      add("rate", core::format_rate({core::ParsedRate::Kind::bits, f.rate_bits_per_s}));
    }
    if (f.bin_ns != 0) add("bin", duration(f.bin_ns));
    if (f.consecutive != d.consecutive) add("consecutive", std::to_string(f.consecutive));
    return out;
  }

  // One `fault:` mapping (an item of a fault list, or the fault itself). Empty on error.
  std::vector<Value> parse_fault_value(const SNode& n, const std::string& field) {
    if (n.kind != SNode::Kind::map) {
      error(n.origin, field,
            fmt::format("expected a fault mapping such as {{kind: link_down, hold: 1s}}, or a "
                        "list of them (one case per fault), got {}",
                        describe(n)));
      return {};
    }
    const std::size_t before = error_count();
    check_unknown_keys(n, field, fault_key_names(), " in fault");
    Value v;
    FaultSettings& f = v.fault;
    v.fault_origin = n.origin;
    v.fault_field = field;
    bool kind_known = false;
    for (const auto& e : n.entries) {
      const KeySpec* spec = find_fault_key(e.key);
      if (spec == nullptr) continue;
      const std::string f_field = child_field(field, e.key);
      v.fault_keys[e.key] = {e.value.origin, f_field};
      if (e.value.kind == SNode::Kind::sequence) {
        error(e.value.origin, f_field,
              fmt::format("a list inside a fault is not a matrix; to vary the fault, give a list "
                          "of fault mappings, one case each, such as fault: [{{kind: loss, loss: "
                          "1%}}, {{kind: loss, loss: 5%}}]"));
        continue;
      }
      if (e.key == "loss") {
        if (auto x = parse_loss(e.value, f_field)) f.loss = *x;
        continue;
      }
      if (e.key == "rate") {
        if (auto x = parse_bits_rate(e.value, f_field)) f.rate_bits_per_s = *x;
        continue;
      }
      const auto parsed = parse_value(e.value, *spec, f_field);
      if (parsed.empty()) continue;
      const Value& x = parsed.front();
      const std::string_view key = e.key;
      if (key == "kind") {
        f.kind = x.text;
        kind_known = true;
      }
      if (key == "start") f.start_ns = x.number;
      if (key == "hold") f.hold_ns = x.number;
      if (key == "count") f.count = static_cast<int>(x.number);
      if (key == "period") f.period_ns = x.number;
      if (key == "jitter") f.jitter_ns = x.number;
      if (key == "seed") f.seed = x.number;
      if (key == "delay") f.delay_ns = x.number;
      if (key == "bin") f.bin_ns = x.number;
      if (key == "consecutive") f.consecutive = static_cast<int>(x.number);
    }
    if (n.find("kind") == nullptr) {
      error(n.origin, field,
            fmt::format("missing required key 'kind' in fault (one of {})",
                        list_values(kFaultKinds)));
    }
    if (kind_known && f.kind == "none") {
      for (const auto& e : n.entries) {
        if (e.key == "kind" || find_fault_key(e.key) == nullptr) continue;
        error(
            e.key_origin, child_field(field, e.key),
            fmt::format("a fault of kind none (no fault) takes no other keys; remove '{}'", e.key));
      }
    } else if (kind_known) {
      for (const auto& k : kKindKeys) {
        const MapEntry* e = n.find(k.key);
        if (f.kind == k.kind && e == nullptr) {
          error(n.origin, field,
                fmt::format("missing '{}' for a {} fault: {}", k.key, k.kind, k.what));
        } else if (f.kind != k.kind && e != nullptr) {
          error(e->key_origin, child_field(field, k.key),
                fmt::format("'{}' applies only to kind {}; this fault's kind is {}", k.key, k.kind,
                            f.kind));
        }
      }
      const MapEntry* period = n.find("period");
      if (period != nullptr && f.count > 1 && f.period_ns != 0 && f.period_ns <= f.hold_ns) {
        error(period->value.origin, child_field(field, "period"),
              fmt::format("period {} must be longer than hold {} when count is {} (each "
                          "occurrence ends before the next one starts)",
                          core::format_duration_ns(f.period_ns),
                          core::format_duration_ns(f.hold_ns), f.count));
      }
    }
    if (error_count() != before) return {};
    v.display = fault_display(f);
    v.text = f.kind;
    return {v};
  }

  // regime.mix: "size:weight,size:weight,..." (a missing weight is 1). Sizes lo..hi bytes, each
  // once; weights positive and finite.
  std::vector<Value> parse_mix_value(const SNode& n, const KeySpec& spec,
                                     const std::string& field) {
    const std::string& t = n.text;
    Value v;
    std::string_view rest = t;
    const auto trim = [](std::string_view s) {
      while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) {
        s.remove_prefix(1);
      }
      while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) {
        s.remove_suffix(1);
      }
      return s;
    };
    if (trim(rest).empty()) {
      error(n.origin, field,
            "expected a size mix such as \"64B:9,64KiB:1\" (size:weight, comma-separated), got "
            "an empty text");
      return {};
    }
    while (true) {
      const std::size_t comma = rest.find(',');
      const std::string_view item = trim(rest.substr(0, comma));
      if (item.empty()) {
        error(n.origin, field,
              fmt::format("empty entry in size mix '{}'; expected size:weight entries such as "
                          "64B:9,64KiB:1",
                          t));
        return {};
      }
      const std::size_t colon = item.find(':');
      const std::string_view size_text = trim(item.substr(0, colon));
      SizeWeight sw;
      try {
        sw.size = core::parse_size(size_text);
      } catch (const core::Error& e) {
        error(n.origin, field, fmt::format("size mix entry '{}': {}", item, e.what()));
        return {};
      }
      if (sw.size < spec.lo || sw.size > spec.hi) {
        error(n.origin, field,
              fmt::format("size mix entry '{}': the size must be between {} and {}, got {}", item,
                          core::format_size(spec.lo), core::format_size(spec.hi),
                          core::format_size(sw.size)));
        return {};
      }
      if (colon != std::string_view::npos) {
        const std::string_view w = trim(item.substr(colon + 1));
        auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), sw.weight);
        if (w.empty() || p != w.data() + w.size() || ec != std::errc{} ||
            !std::isfinite(sw.weight) || sw.weight <= 0) {
          error(n.origin, field,
                fmt::format("size mix entry '{}': the weight must be a positive number such as 9 "
                            "or 0.5, got '{}'",
                            item, w));
          return {};
        }
      }
      const bool seen = std::any_of(v.mix.begin(), v.mix.end(),
                                    [&](const SizeWeight& x) { return x.size == sw.size; });
      if (seen) {
        error(n.origin, field,
              fmt::format("size {} appears more than once in the size mix '{}'",
                          core::format_size(sw.size), t));
        return {};
      }
      v.mix.push_back(sw);
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    for (const auto& sw : v.mix) {
      if (!v.text.empty()) v.text += ',';
      v.text += fmt::format("{}:{}", core::format_size(sw.size), sw.weight);
    }
    v.display = v.text;
    return {v};
  }

  // A case key's value: a scalar, or a list (a matrix dimension).
  Param parse_param(const SNode& n, const KeySpec& spec, const std::string& field,
                    bool from_defaults) {
    Param p;
    p.spec = &spec;
    p.field = field;
    p.origin = n.origin;
    p.from_defaults = from_defaults;
    const std::size_t before = error_count();
    if (n.kind == SNode::Kind::sequence) {
      p.is_list = true;
      if (n.items.empty()) {
        error(n.origin, field, "an empty list gives no cases; give at least one value");
        return p;
      }
      std::map<std::string, std::size_t> seen;  // display -> item index
      for (std::size_t i = 0; i < n.items.size(); ++i) {
        const std::string f = index_field(field, i);
        for (auto& v : parse_value(n.items[i], spec, f)) {
          auto [it, inserted] = seen.emplace(v.display, i);
          if (!inserted) {
            error(
                n.items[i].origin, f,
                fmt::format("{} '{}' is already in the list (as {}[{}])",
                            spec.name == "sizes" ? "size" : "value", v.display, field, it->second));
            continue;
          }
          p.values.push_back(std::move(v));
        }
      }
    } else {
      p.values = parse_value(n, spec, field);
      if (spec.type == Type::sizes && n.kind == SNode::Kind::scalar) {
        p.is_list = p.values.size() > 1 || n.text.find("..") != std::string::npos ||
                    n.text.find(',') != std::string::npos;
        std::set<std::string> seen;
        for (const auto& v : p.values) {
          if (!seen.insert(v.display).second) {
            error(n.origin, field, fmt::format("size {} appears more than once", v.display));
          }
        }
      }
    }
    p.valid = error_count() == before && !p.values.empty();
    return p;
  }

  // Reports keys of `map` not in `valid`, with the closest valid one.
  void check_unknown_keys(const SNode& map, const std::string& field,
                          const std::vector<std::string_view>& valid, std::string_view where) {
    for (const auto& e : map.entries) {
      if (std::find(valid.begin(), valid.end(), e.key) != valid.end()) continue;
      std::string hint = did_you_mean(e.key, valid);
      if (hint.empty() && e.key == "injector") {
        hint = "; 'injector' is a top-level key: it says how every fault of the file is caused";
      }
      error(e.key_origin, child_field(field, e.key),
            fmt::format("unknown key '{}'{}{}", e.key, where, hint));
    }
  }

  // Case keys of a group or of defaults, in order, with tcp sub-keys flattened ("tcp.nodelay").
  std::vector<Param> parse_case_keys(const SNode& map, const std::string& field,
                                     bool from_defaults) {
    std::vector<Param> params;
    for (const auto& e : map.entries) {
      const std::string f = child_field(field, e.key);
      if (std::find(kSections.begin(), kSections.end(), e.key) != kSections.end()) {
        if (e.value.kind != SNode::Kind::map) {
          const std::string_view example = e.key == "tcp"     ? "{nodelay: true}"
                                           : e.key == "verbs" ? "{device: rxe0}"
                                                              : "{kind: realistic, rate: 70%}";
          error(e.value.origin, f,
                fmt::format("expected a mapping of {} settings such as {}, got {}", e.key, example,
                            describe(e.value)));
          continue;
        }
        check_unknown_keys(e.value, f, section_key_names(e.key), " in " + e.key);
        for (const auto& t : e.value.entries) {
          const KeySpec* spec = find_key(e.key + "." + t.key);
          if (spec == nullptr) continue;
          params.push_back(parse_param(t.value, *spec, child_field(f, t.key), from_defaults));
        }
        continue;
      }
      const KeySpec* spec = find_key(e.key);
      if (spec == nullptr) continue;  // unknown keys are reported by check_unknown_keys
      params.push_back(parse_param(e.value, *spec, f, from_defaults));
    }
    return params;
  }

  // --- top level -----------------------------------------------------------------------------

  const SNode* get(const SNode& map, std::string_view key) {
    const MapEntry* e = map.find(key);
    return e == nullptr ? nullptr : &e->value;
  }

  void validate(const SNode& root, Experiment& exp) {
    if (root.kind == SNode::Kind::null) {
      error(root.origin, "",
            "the experiment file is empty; it needs at least 'fabricbench: 1', 'name' and "
            "'cases' (see configs/quickstart.yaml)");
      return;
    }
    if (root.kind != SNode::Kind::map) {
      error(root.origin, "",
            fmt::format("expected a mapping at the top level (fabricbench:, name:, cases: ...), "
                        "got {}",
                        describe(root)));
      return;
    }
    // Schema version first: with a different version nothing else is meaningful.
    const SNode* version = get(root, "fabricbench");
    if (version == nullptr) {
      error(root.origin, "",
            "missing required key 'fabricbench' (the schema version; add 'fabricbench: 1')");
    } else {
      const KeySpec spec{"fabricbench", Type::count, 0, 1'000'000, {}};
      if (version->kind != SNode::Kind::scalar) {
        error(version->origin, "fabricbench",
              fmt::format("expected the schema version 1, got {}", describe(*version)));
        return;
      }
      auto v = parse_count(*version, spec, "fabricbench");
      if (!v) return;
      if (*v != kSchemaVersion) {
        error(version->origin, "fabricbench",
              fmt::format("unsupported schema version {}; this fabricbench reads version {}", *v,
                          kSchemaVersion));
        return;
      }
    }

    for (const auto& e : root.entries) {
      if (std::find(kTopLevelKeys.begin(), kTopLevelKeys.end(), e.key) != kTopLevelKeys.end()) {
        continue;
      }
      if (e.key.rfind("x-", 0) == 0) continue;  // extension keys: a home for YAML anchors
      std::string hint = did_you_mean(e.key, kTopLevelKeys);
      if (hint.empty() &&
          (find_key(e.key) != nullptr ||
           std::find(kSections.begin(), kSections.end(), e.key) != kSections.end())) {
        hint =
            fmt::format("; '{}' is a case key: put it under 'defaults' or in a case group", e.key);
      }
      error(e.key_origin, e.key, fmt::format("unknown key '{}' at the top level{}", e.key, hint));
    }

    // name
    if (const SNode* name = get(root, "name")) {
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
    if (const SNode* d = get(root, "description")) {
      if (d->kind == SNode::Kind::scalar) {
        exp.description = d->text;
      } else if (d->kind != SNode::Kind::null) {
        error(d->origin, "description", fmt::format("expected a text, got {}", describe(*d)));
      }
    }
    if (const SNode* r = get(root, "ranks")) {
      const KeySpec spec{"ranks", Type::count, 2, 64, {}};
      auto v = parse_value(*r, spec, "ranks");
      if (!v.empty()) exp.ranks = static_cast<int>(v.front().number);
    }
    if (const SNode* l = get(root, "launcher")) {
      const KeySpec spec{"launcher", Type::choice, 0, 0, {"auto", "local", "mpi", "env"}};
      auto v = parse_value(*l, spec, "launcher");
      if (!v.empty()) exp.launcher = v.front().text;
    }
    if (const SNode* t = get(root, "timeouts")) {
      if (t->kind == SNode::Kind::map) {
        check_unknown_keys(*t, "timeouts", {"peer"}, " in timeouts");
        if (const SNode* peer = get(*t, "peer")) {
          const KeySpec spec{"peer", Type::duration, kNsPerS, 3600 * kNsPerS, {}};
          auto v = parse_value(*peer, spec, "timeouts.peer");
          if (!v.empty()) exp.peer_timeout_ns = v.front().number;
        }
      } else if (t->kind != SNode::Kind::null) {
        error(t->origin, "timeouts",
              fmt::format("expected a mapping such as {{peer: 30s}}, got {}", describe(*t)));
      }
    }

    if (const SNode* inj = get(root, "injector")) parse_injector(*inj, exp);

    std::vector<Param> defaults;
    if (const SNode* d = get(root, "defaults")) {
      if (d->kind == SNode::Kind::map) {
        for (const auto& e : d->entries) {
          if (e.key == "name") {
            error(e.key_origin, "defaults.name",
                  "'name' names one case group and cannot be set in defaults");
          }
        }
        std::vector<std::string_view> valid = group_key_names(false);
        valid.push_back("name");  // reported above, not as unknown
        check_unknown_keys(*d, "defaults", valid, " in defaults");
        defaults = parse_case_keys(*d, "defaults", true);
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
      } else if (d->kind != SNode::Kind::null) {
        error(d->origin, "defaults",
              fmt::format("expected a mapping of case keys, got {}", describe(*d)));
      }
    }

    const SNode* cases = get(root, "cases");
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
      expand_group(cases->items[i], i, defaults, group_lines, exp);
    }
    if (exp.cases.size() > kMaxCases) {
      error(cases->origin, "cases",
            fmt::format("the plan has {} cases, more than the limit of {}; shrink the sweeps or "
                        "matrices",
                        exp.cases.size(), kMaxCases));
    }
  }

  // --- injector ------------------------------------------------------------------------------

  // The top-level `injector:` mapping (docs/CONFIG.md, "Faults"). Sets exp.injector when valid.
  void parse_injector(const SNode& n, Experiment& exp) {
    injector_state_ = InjectorState::invalid;
    if (n.kind != SNode::Kind::map) {
      error(n.origin, "injector",
            fmt::format("expected a mapping such as {{backend: netns}}, got {}", describe(n)));
      return;
    }
    const std::size_t before = error_count();
    check_unknown_keys(n, "injector", kInjectorKeys, " in injector");
    InjectorSettings s;
    bool backend_known = false;
    Origin backend_origin = n.origin;
    const auto text_of = [&](std::string_view key, std::string& out) {
      const SNode* v = get(n, key);
      if (v == nullptr || v->kind == SNode::Kind::null) return;
      if (v->kind != SNode::Kind::scalar) {
        error(v->origin, child_field("injector", key),
              fmt::format("expected a text, got {}", describe(*v)));
        return;
      }
      out = v->text;
    };
    if (const SNode* b = get(n, "backend")) {
      const KeySpec spec{"backend", Type::choice, 0, 0, kInjectorBackends};
      auto v = parse_value(*b, spec, "injector.backend");
      if (!v.empty()) {
        s.backend = v.front().text;
        backend_known = true;
        backend_origin = b->origin;
      }
    } else {
      error(n.origin, "injector",
            fmt::format("missing required key 'backend' in injector (one of {})",
                        list_values(kInjectorBackends)));
    }
    text_of("target", s.target);
    text_of("inject", s.inject);
    text_of("clear", s.clear);
    if (const SNode* a = get(n, "allow")) {
      const KeySpec spec{"allow", Type::interface_name, 0, 0, {}};
      if (a->kind == SNode::Kind::sequence) {
        for (std::size_t i = 0; i < a->items.size(); ++i) {
          const std::string f = index_field("injector.allow", i);
          const SNode& item = a->items[i];
          if (item.kind != SNode::Kind::scalar) {
            error(item.origin, f,
                  fmt::format("expected a network interface name such as eth1, got {}",
                              describe(item)));
            continue;
          }
          auto v = parse_value(item, spec, f);
          if (!v.empty()) s.allow.push_back(v.front().text);
        }
      } else if (a->kind == SNode::Kind::scalar) {
        auto v = parse_value(*a, spec, "injector.allow");
        if (!v.empty()) s.allow.push_back(v.front().text);
      } else if (a->kind != SNode::Kind::null) {
        error(a->origin, "injector.allow",
              fmt::format("expected a list of interface names such as [eth1, eth2], got {}",
                          describe(*a)));
      }
    }
    if (const SNode* f = get(n, "force")) {
      const KeySpec spec{"force", Type::boolean, 0, 0, {}};
      auto v = parse_value(*f, spec, "injector.force");
      if (!v.empty()) s.force = v.front().flag;
    }
    if (const SNode* t = get(n, "command_timeout")) {
      const KeySpec spec{"command_timeout", Type::duration, kNsPerS, 600 * kNsPerS, {}};
      auto v = parse_value(*t, spec, "injector.command_timeout");
      if (!v.empty()) s.command_timeout_ns = v.front().number;
    }
    if (const SNode* r = get(n, "link_rate")) {
      if (auto x = parse_bits_rate(*r, "injector.link_rate")) {
        if (*x < 8) {
          error(r->origin, "injector.link_rate",
                fmt::format("must be at least 8 bit/s, got {}",
                            core::format_rate({core::ParsedRate::Kind::bits, *x})));
        } else {
          s.link_rate_bits_per_s = *x;
        }
      }
    }

    if (backend_known) {
      const std::string& b = s.backend;
      // Keys that belong to one backend.
      const auto only_for = [&](std::string_view key, std::string_view backend) {
        const MapEntry* e = n.find(key);
        if (e == nullptr || b == backend) return;
        error(e->key_origin, child_field("injector", key),
              fmt::format("'{}' applies only to backend {}; this injector's backend is {}", key,
                          backend, b));
      };
      only_for("inject", "command");
      only_for("clear", "command");
      only_for("allow", "link");
      only_for("force", "link");
      only_for("link_rate", "netns");
      const SNode* target = get(n, "target");
      const Origin target_origin = target != nullptr ? target->origin : n.origin;
      const std::string target_field = target != nullptr ? "injector.target" : "injector";
      const auto check_interface = [&]() {
        const KeySpec spec{"target", Type::interface_name, 0, 0, {}};
        SNode t;
        t.kind = SNode::Kind::scalar;
        t.text = s.target;
        t.origin = target_origin;
        (void)parse_value(t, spec, target_field);
      };
      if (b == "command") {
        for (const std::string_view key : {"inject", "clear"}) {
          const std::string& cmd = key == "inject" ? s.inject : s.clear;
          if (n.find(key) == nullptr) {
            error(n.origin, "injector",
                  fmt::format("backend command needs '{}': the shell command that {} the fault",
                              key, key == "inject" ? "causes" : "removes"));
          } else if (cmd.empty()) {
            error(get(n, key)->origin, child_field("injector", key),
                  fmt::format("backend command needs a command in '{}', got an empty text", key));
          }
        }
      } else if (b == "link") {
        if (s.target.empty()) {
          error(target_origin, target_field,
                "backend link needs 'target': the interface it takes down and up (list it in "
                "'allow' too)");
        } else {
          check_interface();
          if (std::find(s.allow.begin(), s.allow.end(), s.target) == s.allow.end()) {
            error(target_origin, target_field,
                  fmt::format("target '{}' is not in 'allow' ({}): backend link takes down only "
                              "an interface listed in allow",
                              s.target, s.allow.empty() ? "empty" : join_and(s.allow)));
          }
        }
      } else if (b == "ibport") {
        const auto colon = s.target.find(':');
        const auto digits = [](std::string_view t) {
          return !t.empty() &&
                 std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
        };
        if (s.target.empty()) {
          error(target_origin, target_field,
                "backend ibport needs 'target': the port to disable as LID:PORT, such as 3:1");
        } else if (colon == std::string::npos ||
                   !digits(std::string_view(s.target).substr(0, colon)) ||
                   !digits(std::string_view(s.target).substr(colon + 1))) {
          error(target_origin, target_field,
                fmt::format("expected LID:PORT (digits:digits) such as 3:1, got '{}'", s.target));
        }
      } else if (b == "netns") {
        if (!s.target.empty() && s.target != "fbd0") {
          error(target_origin, target_field,
                fmt::format("backend netns acts on the veth fbd0 it creates: target must be "
                            "empty or fbd0, got '{}'",
                            s.target));
        }
        s.target = "fbd0";
        if (exp.launcher == "mpi" || exp.launcher == "env") {
          error(backend_origin, "injector.backend",
                fmt::format("backend netns starts every rank on this host, in two network "
                            "namespaces: it needs launcher local (or auto without an mpi or env "
                            "launch), not {}",
                            exp.launcher));
        }
        if (exp.ranks % 2 != 0) {
          error(backend_origin, "injector.backend",
                fmt::format("backend netns puts half of the ranks in each of its two namespaces: "
                            "ranks must be even, got {}",
                            exp.ranks));
        }
      } else if (b == "vm") {
        if (s.target.empty()) s.target = "eth0";
        check_interface();
      }
    }
    if (error_count() != before) return;
    injector_ = s;
    exp.injector = std::move(s);
    injector_state_ = InjectorState::valid;
  }

  static bool any_active_fault(const Param& p) {
    return std::any_of(p.values.begin(), p.values.end(),
                       [](const Value& v) { return v.fault.active(); });
  }

  static bool valid_name(const std::string& s, bool allow_dot) {
    if (s.empty() || s.size() > 128) return false;
    return std::all_of(s.begin(), s.end(), [&](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' ||
             (allow_dot && c == '.');
    });
  }

  // "realistic", "realistic and overload", "realistic, overload and search".
  template <typename Strings>
  static std::string join_and(const Strings& words) {
    std::string out;
    for (std::size_t i = 0; i < words.size(); ++i) {
      if (i > 0) out += i + 1 == words.size() ? " and " : ", ";
      out += words[i];
    }
    return out;
  }

  // The distinct kinds of a group whose kinds are all overload or search.
  static std::vector<std::string> distinct(const std::vector<std::string>& kinds) {
    std::vector<std::string> out;
    for (const auto& k : kinds) {
      if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
    }
    return out;
  }

  // "regime overload sets its own length", "regimes overload and search set their own lengths".
  static std::string self_timed_only_why(const std::vector<std::string>& kinds) {
    const auto k = distinct(kinds);
    return k.size() == 1 ? fmt::format("regime {} sets its own length", k.front())
                         : fmt::format("regimes {} set their own lengths", join_and(k));
  }

  static std::string self_timed_runs(const std::vector<std::string>& kinds) {
    const auto k = distinct(kinds);
    return k.size() == 1 ? fmt::format("regime {} runs", k.front())
                         : fmt::format("regimes {} run", join_and(k));
  }

  // The keys that give the length of overload and search cases.
  static std::string self_timed_length_keys(const std::vector<std::string>& kinds) {
    const auto k = distinct(kinds);
    const bool overload = std::find(k.begin(), k.end(), "overload") != k.end();
    const bool search = std::find(k.begin(), k.end(), "search") != k.end();
    std::string out;
    if (overload) out += "regime.overload_before, regime.overload_during and regime.overload_after";
    if (overload && search) out += "; ";
    if (search) out += "regime.search_probe and regime.search_max_probes";
    return "(" + out + ")";
  }

  // "this group's regime is floor", "this group's regimes are closed and floor".
  static std::string group_kinds_text(const Param* kind, const std::vector<std::string>& kinds) {
    if (kind == nullptr) return "this group's regime is closed (the default; set regime.kind)";
    const auto k = distinct(kinds);
    return k.size() == 1 ? fmt::format("this group's regime is {}", k.front())
                         : fmt::format("this group's regimes are {}", join_and(k));
  }

  static const Param* find_param(const std::vector<Param>& params, std::string_view key) {
    for (const auto& p : params) {
      if (p.spec->name == key) return &p;
    }
    return nullptr;
  }

  // --- one case group ------------------------------------------------------------------------

  void expand_group(const SNode& g, std::size_t index, const std::vector<Param>& defaults,
                    std::map<std::string, int>& group_lines, Experiment& exp) {
    const std::string field = index_field("cases", index);
    if (g.kind != SNode::Kind::map) {
      error(g.origin, field,
            fmt::format("expected a mapping (a case group with suite:, sizes: ...), got {}",
                        describe(g)));
      return;
    }
    const std::size_t before = error_count();
    check_unknown_keys(g, field, group_key_names(true), "");

    std::string group = field;
    if (const SNode* name = get(g, "name")) {
      const std::string f = child_field(field, "name");
      if (name->kind != SNode::Kind::scalar) {
        error(name->origin, f, fmt::format("expected a group name, got {}", describe(*name)));
      } else if (!valid_name(name->text, false)) {
        error(name->origin, f,
              fmt::format("'{}' is not a valid group name: use letters, digits, '_' and '-' only "
                          "(it starts every case id)",
                          name->text));
      } else {
        auto [it, inserted] = group_lines.emplace(name->text, name->origin.line);
        if (!inserted) {
          error(name->origin, f,
                it->second > 0 ? fmt::format("duplicate group name '{}' (first used at line {})",
                                             name->text, it->second)
                               : fmt::format("duplicate group name '{}'", name->text));
        }
        group = name->text;
      }
    }

    // Merge: keys inherited from defaults (in defaults order), then the group's own keys. A
    // group that sets iterations or duration replaces both of the defaults'; one that sets sizes
    // or regime.mix (both give the message sizes) replaces both of those.
    std::vector<Param> own = parse_case_keys(g, field, false);
    const bool own_mode =
        find_param(own, "iterations") != nullptr || find_param(own, "duration") != nullptr;
    const Param* own_sizes = find_param(own, "sizes");
    const Param* own_mix = find_param(own, "regime.mix");
    if (own_sizes != nullptr && own_mix != nullptr) {
      error(own_mix->origin, own_mix->field,
            "set either 'sizes' or 'regime.mix', not both (a mix gives the message sizes; the "
            "case's message_size is its largest size)");
    }
    const bool wrote_mix = own_mix != nullptr;
    const bool own_size_keys = own_sizes != nullptr || own_mix != nullptr;
    std::vector<Param> params;
    for (const auto& d : defaults) {
      const std::string_view key = d.spec->name;
      if (find_param(own, key) != nullptr) continue;
      if (own_mode && (key == "iterations" || key == "duration")) continue;
      if (own_size_keys && (key == "sizes" || key == "regime.mix")) continue;
      params.push_back(d);
    }
    for (auto& p : own) params.push_back(std::move(p));
    // Both sizes and a mix from defaults are reported at defaults; the sizes win here.
    if (find_param(params, "sizes") != nullptr && find_param(params, "regime.mix") != nullptr) {
      params.erase(std::find_if(params.begin(), params.end(),
                                [](const Param& p) { return p.spec->name == "regime.mix"; }));
    }

    // The regime kinds of the group (docs/CONFIG.md, "Regimes"): they decide which regime keys
    // apply and whether the group needs iterations or a duration.
    const Param* kind = find_param(params, "regime.kind");
    const bool kinds_known = kind == nullptr || kind->valid;
    const bool kind_in_group = kind != nullptr && !kind->from_defaults;
    std::vector<std::string> kinds;
    if (kind == nullptr) kinds.emplace_back("closed");
    for (std::size_t i = 0; kind != nullptr && i < kind->values.size(); ++i) {
      kinds.push_back(kind->values[i].text);
    }
    const auto has_kind = [&](std::string_view k) {
      return std::find(kinds.begin(), kinds.end(), k) != kinds.end();
    };
    // overload and search set their own lengths; when every kind of the group does, the group
    // needs neither iterations nor duration.
    const bool self_timed_only =
        kinds_known && std::all_of(kinds.begin(), kinds.end(),
                                   [](const std::string& k) { return is_self_timed(k); });
    if (self_timed_only) {
      std::vector<Param> kept;
      for (auto& p : params) {
        const std::string_view key = p.spec->name;
        const bool length = key == "iterations" || key == "duration";
        const bool count_warmup =
            key == "warmup" && std::any_of(p.values.begin(), p.values.end(),
                                           [](const Value& v) { return !v.is_duration; });
        if (!length && !count_warmup) {
          kept.push_back(std::move(p));
          continue;
        }
        // Written next to the kind: a contradiction. Otherwise (the kind or the key comes from
        // defaults) the key is not applicable, like other inapplicable defaults.
        if (p.from_defaults || !kind_in_group) continue;
        if (length) {
          error(p.origin, p.field,
                fmt::format("{} {}; remove '{}'", self_timed_only_why(kinds),
                            self_timed_length_keys(kinds), key));
        } else {
          error(
              p.origin, p.field,
              fmt::format("{} in duration mode, so warmup must be a duration such as 200ms, got {}",
                          self_timed_runs(kinds), p.values.front().display));
        }
      }
      params = std::move(kept);
    }

    const Param* iter = find_param(params, "iterations");
    const Param* dur = find_param(params, "duration");
    bool mode_known = true;
    if (self_timed_only) {
      // Cases take their lengths from the regime (Mode::duration, see build_case).
    } else if (iter != nullptr && dur != nullptr) {
      mode_known = false;
      if (!iter->from_defaults) {  // both from defaults is reported once, at defaults
        error(dur->origin, dur->field,
              "set either 'iterations' or 'duration', not both (a case runs for a number of "
              "iterations or for a length of time)");
      }
    } else if (iter == nullptr && dur == nullptr) {
      mode_known = false;
      // With a bad kind, whether the group needs a length is unknown: the kind's error says it.
      if (kinds_known) {
        const bool only_realistic =
            has_kind("realistic") && !has_kind("closed") && !has_kind("floor");
        error(g.origin, field,
              only_realistic
                  ? "missing 'duration' (here or in defaults): regime realistic offers open-loop "
                    "arrivals for a length of time"
                  : "missing 'iterations' or 'duration' (here or in defaults): a case runs for a "
                    "number of iterations or for a length of time");
      }
    } else if (iter != nullptr && kinds_known && has_kind("realistic")) {
      mode_known = false;
      const std::string why =
          "regime realistic runs for 'duration'; open-loop arrivals are offered for a length of "
          "time, not a number of operations";
      if (!iter->from_defaults) {
        error(iter->origin, iter->field,
              why + ": set 'duration' instead of 'iterations'" +
                  (has_kind("closed") || has_kind("floor")
                       ? " (or put the realistic regime in a group of its own)"
                       : ""));
      } else {
        error(g.origin, field,
              why +
                  ": this group inherits 'iterations' from defaults; set 'duration' in the "
                  "group");
      }
    }
    const Mode mode = self_timed_only || dur != nullptr ? Mode::duration : Mode::iterations;

    // A fault needs duration mode (docs/CONFIG.md, "Faults").
    const Param* fault = find_param(params, "fault");
    if (fault != nullptr && any_active_fault(*fault) && mode_known && mode == Mode::iterations &&
        iter != nullptr) {
      if (!iter->from_defaults) {
        error(iter->origin, iter->field,
              fmt::format("{}: set 'duration' instead of 'iterations'", kFaultNeedsDuration));
      } else if (!fault->from_defaults) {
        error(fault->origin, fault->field,
              fmt::format("{}: this group inherits 'iterations' from defaults; set 'duration' in "
                          "the group",
                          kFaultNeedsDuration));
      } else {  // both from defaults: the same message for every group, reported once
        error(fault->origin, fault->field,
              fmt::format("{}: defaults set 'iterations' too; set 'duration' (in defaults, or in "
                          "each group that keeps this fault)",
                          kFaultNeedsDuration));
      }
    }

    const Param* suite = find_param(params, "suite");
    if (suite == nullptr) {
      error(g.origin, field, "missing required key 'suite' (pingpong or stream)");
    }

    // Applicability: stream-only keys, transport sections and regime keys (once suite,
    // transport and kind are known).
    const auto has_value = [](const Param* p, std::string_view v, std::string_view fallback) {
      if (p == nullptr) return v == fallback;
      return std::any_of(p->values.begin(), p->values.end(),
                         [&](const Value& x) { return x.text == v; });
    };
    const Param* transport = find_param(params, "transport");
    const bool suite_known = suite != nullptr && suite->valid;
    const bool transport_known = transport == nullptr || transport->valid;
    const bool any_stream = has_value(suite, "stream", "");
    // The transports this group names (computed before the loop below moves the params).
    std::vector<std::string> transports;
    if (transport == nullptr) transports.emplace_back("tcp");
    for (std::size_t i = 0; transport != nullptr && i < transport->values.size(); ++i) {
      transports.push_back(transport->values[i].text);
    }

    const std::string suite_text = suite_known ? suite->values.front().text : std::string();
    std::vector<Param> kept;
    for (auto& p : params) {
      std::string why;
      if (p.spec->stream_only && suite_known && !any_stream) {
        why = fmt::format("'{}' applies only to suite stream; this group's suite is {}",
                          p.spec->name, suite_text);
      }
      if (is_transport_section(p.spec->section) && transport_known &&
          std::find(transports.begin(), transports.end(), p.spec->section) == transports.end()) {
        why = fmt::format("'{}' applies only to transport {}", p.spec->name, p.spec->section);
      }
      const auto& for_kinds = p.spec->kinds;
      if (!for_kinds.empty() && kinds_known &&
          std::none_of(kinds.begin(), kinds.end(), [&](const std::string& k) {
            return std::find(for_kinds.begin(), for_kinds.end(), k) != for_kinds.end();
          })) {
        why = fmt::format("'{}' applies to {} {}; {}", p.spec->name,
                          for_kinds.size() == 1 ? "regime" : "regimes", join_and(for_kinds),
                          group_kinds_text(kind, kinds));
        if (p.spec->name == "regime.rate" && has_kind("search")) {
          why += " (regime search finds the sustainable rate itself and takes no rate)";
        }
      }
      if (why.empty()) {
        kept.push_back(std::move(p));
      } else if (!p.from_defaults) {
        error(p.origin, p.field, why);
      }
    }
    params = std::move(kept);

    // Message sizes: `sizes`, or a mix (which may be written only where it applies).
    if (find_param(params, "sizes") == nullptr && find_param(params, "regime.mix") == nullptr &&
        !wrote_mix) {
      error(g.origin, field,
            "missing required key 'sizes' (a size, a sweep such as 8..64KiB x4, or a list)");
    }
    // The offered rate of realistic and overload.
    if (kinds_known && find_param(params, "regime.rate") == nullptr) {
      std::vector<std::string_view> need;
      for (const std::string_view k : {"realistic", "overload"}) {
        if (has_kind(k)) need.push_back(k);
      }
      if (!need.empty()) {
        error(g.origin, field,
              fmt::format("missing 'regime.rate' (here or in defaults): {} {} {} the offered rate, "
                          "such as 200k/s (operations), 5Gb/s (payload bits) or 70% (of the "
                          "sustainable rate)",
                          need.size() == 1 ? "regime" : "regimes", join_and(need),
                          need.size() == 1 ? "needs" : "need"));
      }
    }

    // Warm-up must match the group's mode.
    const Param* w = find_param(params, "warmup");
    for (std::size_t i = 0; mode_known && w != nullptr && i < w->values.size(); ++i) {
      const Value& v = w->values[i];
      if (v.is_duration == (mode == Mode::duration)) continue;
      const std::string need =
          mode == Mode::duration ? "a duration such as 200ms" : "an iteration count such as 1000";
      const std::string why =
          mode == Mode::duration ? "it sets 'duration'" : "it sets 'iterations'";
      if (w->from_defaults) {
        error(w->origin, w->field,
              fmt::format("group '{}' runs in {} mode ({}), so warmup must be {}, got {}; set "
                          "warmup in that group",
                          group, to_string(mode), why, need, v.display));
      } else {
        error(w->origin, w->field,
              fmt::format("this group runs in {} mode ({}), so warmup must be {}, got {}",
                          to_string(mode), why, need, v.display));
      }
      break;
    }
    if (error_count() != before) return;
    if (std::any_of(params.begin(), params.end(), [](const Param& p) { return !p.valid; })) return;

    // Dimensions in order, sizes innermost (a group with a mix instead has no sizes).
    std::vector<const Param*> dims;
    const Param* sizes = nullptr;
    std::vector<std::size_t> file_order;  // indices into dims, in the order the keys were written
    for (const auto& p : params) {
      if (p.spec->name == "sizes") {
        sizes = &p;
        file_order.push_back(params.size() - 1);  // sizes goes last in dims
      } else {
        file_order.push_back(dims.size());
        dims.push_back(&p);
      }
    }
    if (sizes != nullptr) dims.push_back(sizes);

    std::size_t total = 1;
    for (const auto* d : dims) {
      total *= d->values.size();
      if (total > kMaxCases) {
        error(g.origin, field,
              fmt::format("this group expands to more than {} cases; shrink its sweeps or lists",
                          kMaxCases));
        return;
      }
    }

    std::set<std::string> group_ids;
    std::vector<std::size_t> pick(dims.size(), 0);
    for (std::size_t n = 0; n < total; ++n) {
      Case c = build_case(group, mode, dims, file_order, pick, field, g.origin);
      if (group_ids.insert(c.id).second) {
        const bool clash = std::any_of(exp.cases.begin(), exp.cases.end(),
                                       [&](const Case& other) { return other.id == c.id; });
        if (clash) {
          error(g.origin, field, fmt::format("case id '{}' is used twice", c.id));
          return;
        }
        exp.cases.push_back(std::move(c));
      }
      // Odometer: the last dimension (sizes) turns fastest.
      for (std::size_t d = dims.size(); d-- > 0;) {
        if (++pick[d] < dims[d]->values.size()) break;
        pick[d] = 0;
      }
    }
  }

  static void set_verbs(VerbsSettings& s, std::string_view key, const Value& v) {
    const auto n = static_cast<int>(v.number);
    if (key == "device") s.device = v.text;
    if (key == "netdev") s.netdev = v.text;
    if (key == "port") s.port = n;
    if (key == "gid_index") s.gid_index = n;
    if (key == "qp_type") s.qp_type = v.text;
    if (key == "mtu") s.mtu = v.text == "auto" ? 0 : std::stoi(v.text);
    if (key == "queue_depth") s.queue_depth = n;
    if (key == "inline") s.inline_size = n;
    if (key == "cq_moderation") s.cq_moderation = n;
    if (key == "sl") s.sl = n;
    if (key == "traffic_class") s.traffic_class = n;
    if (key == "timeout") s.timeout = n;
    if (key == "retry_count") s.retry_count = n;
    if (key == "rnr_retry") s.rnr_retry = n;
    if (key == "qps") s.qps = n;
    if (key == "rdma_cm") s.rdma_cm = v.flag;
  }

  static void set_regime(RegimeSettings& r, std::string_view key, const Value& v) {
    const auto n = static_cast<int>(v.number);
    if (key == "kind") r.kind = v.text;
    if (key == "arrival") r.arrival = v.text;
    if (key == "seed") r.seed = v.number;
    if (key == "rate") r.rate = v.rate;
    if (key == "streams") r.streams = n;
    if (key == "mix") {
      r.mix = v.mix;
      r.mix_text = v.text;
    }
    if (key == "inflight") r.inflight = n;
    if (key == "backlog") r.backlog = v.number;
    if (key == "deadline") r.deadline_ns = v.number;
    if (key == "sample_interval") r.sample_interval_ns = v.number;
    if (key == "search_queue_age") r.search_queue_age_ns = v.number;
    if (key == "search_probe") r.search_probe_ns = v.number;
    if (key == "search_precision") r.search_precision = v.real;
    if (key == "search_max_probes") r.search_max_probes = n;
    if (key == "overload_factor") r.overload_factor = v.real;
    if (key == "overload_before") r.overload_before_ns = v.number;
    if (key == "overload_during") r.overload_during_ns = v.number;
    if (key == "overload_after") r.overload_after_ns = v.number;
  }

  // Whether a key's value takes part in a case whose suite, transport and regime kind are set.
  static bool applies(const Param& p, const Value& v, const Case& c) {
    const KeySpec& s = *p.spec;
    if (s.stream_only && c.suite != "stream") return false;
    if (is_transport_section(s.section) && c.transport != s.section) return false;
    if (!s.kinds.empty() &&
        std::find(s.kinds.begin(), s.kinds.end(), c.regime.kind) == s.kinds.end()) {
      return false;
    }
    if (is_self_timed(c.regime.kind)) {  // they set their own lengths
      if (s.name == "iterations" || s.name == "duration") return false;
      if (s.name == "warmup" && !v.is_duration) return false;
    }
    return true;
  }

  Case build_case(const std::string& group, Mode mode, const std::vector<const Param*>& dims,
                  const std::vector<std::size_t>& file_order, const std::vector<std::size_t>& pick,
                  const std::string& field, const Origin& group_origin) {
    Case c;
    c.group = group;
    c.mode = mode;
    c.transport = "tcp";
    // suite, transport and regime kind first: applicability of the other keys depends on them.
    const Param* kind_param = nullptr;
    for (std::size_t d = 0; d < dims.size(); ++d) {
      const auto& v = dims[d]->values[pick[d]];
      if (dims[d]->spec->name == "suite") c.suite = v.text;
      if (dims[d]->spec->name == "transport") c.transport = v.text;
      if (dims[d]->spec->name == "regime.kind") {
        c.regime.kind = v.text;
        kind_param = dims[d];
      }
    }
    bool warmup_set = false;
    const Param* interval = nullptr;
    const Param* address_param = nullptr;
    const Param* on_break_param = nullptr;
    const Param* direction_param = nullptr;
    const Param* fault_param = nullptr;
    const Value* fault_value = nullptr;
    for (std::size_t d = 0; d < dims.size(); ++d) {
      const Param& p = *dims[d];
      const Value& v = p.values[pick[d]];
      const std::string_view key = p.spec->name;
      // A mix gives the message size of every case of its group, the largest of its sizes (a
      // closed or floor case of a group that varies the kind runs at that size).
      if (key == "regime.mix") {
        for (const auto& sw : v.mix) c.message_size = std::max(c.message_size, sw.size);
      }
      if (!applies(p, v, c)) continue;
      if (key == "sizes") {
        c.message_size = v.number;
      } else if (key == "iterations") {
        c.iterations = v.number;
      } else if (key == "duration") {
        c.duration_ns = v.number;
      } else if (key == "warmup") {
        warmup_set = true;
        (v.is_duration ? c.warmup_ns : c.warmup_iterations) = v.number;
      } else if (key == "repetitions") {
        c.repetitions = static_cast<int>(v.number);
      } else if (key == "completion") {
        c.completion = v.text;
      } else if (key == "direction") {
        c.direction = v.text;
        direction_param = &p;
      } else if (key == "window") {
        c.window = static_cast<int>(v.number);
      } else if (key == "interval") {
        c.interval_ns = v.number;
        interval = &p;
      } else if (key == "memory") {
        c.memory = v.text;
      } else if (key == "verify") {
        c.verify = v.flag;
      } else if (key == "tcp.address") {
        c.tcp.address = v.text;
        address_param = &p;
      } else if (key == "tcp.interface") {
        c.tcp.interface = v.text;
      } else if (key == "tcp.family") {
        c.tcp.family = v.text;
      } else if (key == "tcp.nodelay") {
        c.tcp.nodelay = v.flag;
      } else if (key == "tcp.sndbuf") {
        c.tcp.sndbuf = v.number;
      } else if (key == "tcp.rcvbuf") {
        c.tcp.rcvbuf = v.number;
      } else if (key == "tcp.connections") {
        c.tcp.connections = static_cast<int>(v.number);
      } else if (key == "tcp.user_timeout") {
        c.tcp.user_timeout_ns = v.number;
      } else if (key == "on_break") {
        c.on_break = v.text;
        on_break_param = &p;
      } else if (key == "reconnect_timeout") {
        c.reconnect_timeout_ns = v.number;
      } else if (key == "op") {
        c.op = v.text;
      } else if (key == "fault") {
        c.fault = v.fault;
        fault_param = &p;
        fault_value = &v;
      } else if (key.substr(0, 6) == "verbs.") {
        set_verbs(c.verbs, key.substr(6), v);
      } else if (key.substr(0, 7) == "regime.") {
        set_regime(c.regime, key.substr(7), v);
      }
    }
    // Case::varied follows file order (the dimensions put sizes last). The id shows the varied
    // keys and, where it is not closed, the regime kind (at its place in file order), so closed
    // plans keep their ids and every other regime is visible.
    std::vector<std::pair<std::string, std::string>> id_parts;
    for (const std::size_t d : file_order) {
      const Param& p = *dims[d];
      const Value& v = p.values[pick[d]];
      if (!applies(p, v, c)) continue;
      const std::string_view key = p.spec->name;
      if (p.is_list) {
        c.varied.emplace_back(key == "sizes" ? "message_size" : std::string(key), v.display);
        id_parts.push_back(c.varied.back());
      } else if (key == "regime.kind" && v.text != "closed") {
        id_parts.emplace_back(std::string(key), v.display);
      } else if (key == "fault" && v.fault.active()) {
        id_parts.emplace_back(std::string(key), v.display);  // like a kind other than closed
      }
    }
    // Lengths of the regimes that set their own: overload runs its step profile; search runs
    // probes until it converges, so its duration is a bound: search_max_probes x search_probe.
    if (is_self_timed(c.regime.kind)) {
      const RegimeSettings& r = c.regime;
      c.mode = Mode::duration;
      c.iterations = 0;
      c.duration_ns = r.kind == "overload"
                          ? r.overload_before_ns + r.overload_during_ns + r.overload_after_ns
                          : static_cast<std::uint64_t>(r.search_max_probes) * r.search_probe_ns;
    }
    if (!warmup_set) {  // default: a tenth of the measured phase (search: of one probe)
      c.warmup_iterations = c.mode == Mode::iterations ? c.iterations / 10 : 0;
      c.warmup_ns = c.mode != Mode::duration    ? 0
                    : c.regime.kind == "search" ? c.regime.search_probe_ns / 10
                                                : c.duration_ns / 10;
    }
    if (fault_value != nullptr && c.fault.active()) {
      resolve_fault(c, *fault_value, *fault_param, kind_param, interval);
    }
    // Cross-field checks (reported once per place thanks to de-duplication).
    if (c.mode == Mode::duration && c.regime.kind != "search" && interval != nullptr &&
        c.interval_ns > c.duration_ns) {
      error(interval->origin, interval->field,
            fmt::format("interval {} is longer than the case's duration {}{}",
                        core::format_duration_ns(c.interval_ns),
                        core::format_duration_ns(c.duration_ns),
                        c.regime.kind == "overload"
                            ? " (regime overload: overload_before + overload_during + "
                              "overload_after)"
                            : ""));
    }
    if (c.regime.open_loop() && c.suite == "stream" && c.direction == "bidir") {
      // At the direction if the group wrote it, else at the kind if it did, else at the group.
      const Param* at = direction_param != nullptr && !direction_param->from_defaults
                            ? direction_param
                        : kind_param != nullptr && !kind_param->from_defaults ? kind_param
                                                                              : nullptr;
      error(at != nullptr ? at->origin : group_origin, at != nullptr ? at->field : field,
            fmt::format("regime {} offers open-loop arrivals one way, from rank 0 to rank 1: it "
                        "needs direction uni, not bidir",
                        c.regime.kind));
    }
    if (c.on_break == "reconnect" && c.transport == "verbs" &&
        (c.verbs.qp_type != "rc" || c.verbs.rdma_cm)) {
      const Origin o = on_break_param != nullptr ? on_break_param->origin : Origin{};
      const std::string f = on_break_param != nullptr ? on_break_param->field : field;
      error(o, f,
            c.verbs.qp_type != "rc"
                ? fmt::format("on_break reconnect re-establishes RC queue pairs; verbs.qp_type "
                              "{} has no connection to re-establish (use rc, or on_break fail)",
                              c.verbs.qp_type)
                : std::string("on_break reconnect re-establishes queue pairs through the "
                              "bootstrap exchange; with verbs.rdma_cm it is not implemented "
                              "(set rdma_cm false, or on_break fail)"));
    }
    if (c.transport == "tcp") {
      const Origin o = address_param != nullptr ? address_param->origin : Origin{};
      const std::string f = address_param != nullptr ? address_param->field : field + ".tcp";
      if (c.tcp.address.empty() && c.tcp.interface.empty()) {
        error(o, f, "set tcp.address or tcp.interface: both are empty");
      }
      const bool v6 = c.tcp.address.find(':') != std::string::npos;
      if (!c.tcp.address.empty() &&
          ((c.tcp.family == "ipv4" && v6) || (c.tcp.family == "ipv6" && !v6))) {
        error(o, f,
              fmt::format("tcp.address {} is not an {} address (tcp.family is {})", c.tcp.address,
                          c.tcp.family == "ipv4" ? "IPv4" : "IPv6", c.tcp.family));
      }
    }
    c.id =
        fmt::format("{}.{}.{}.{}", group, c.suite, c.transport, core::format_size(c.message_size));
    for (const auto& [key, value] : id_parts) {
      if (key == "message_size" || key == "suite" || key == "transport") continue;
      c.id += fmt::format(".{}={}", key, value);
    }
    return c;
  }

  // "t.yaml:9:7: cases[0].fault", or "cases[0].fault (from --set '...')".
  std::string where_text(const Origin& o, const std::string& field) const {
    if (o.source >= 0) {
      return fmt::format("{} (from --set '{}')", field,
                         overrides_[static_cast<std::size_t>(o.source)]);
    }
    return fmt::format("{}:{}:{}: {}", path_, o.line, o.column, field);
  }

  // An active fault of one case (docs/CONFIG.md, "Faults"): an injector that can cause it on
  // the case's transport, a regime with a measured phase of `duration`, a timeline that fits in
  // it, and its bin as the case's interval. Resolves period (0: 2 x hold) and bin (0: by
  // transport).
  void resolve_fault(Case& c, const Value& v, const Param& fault_param, const Param* kind_param,
                     const Param* interval) {
    FaultSettings& f = c.fault;
    f.origin = where_text(v.fault_origin, v.fault_field);
    const auto [kind_origin, kind_field] = v.fault_at("kind");
    const bool no_injector =
        injector_state_ == InjectorState::absent ||
        (injector_state_ == InjectorState::valid && injector_.backend == "none");
    if (no_injector) {
      error(kind_origin, kind_field,
            fmt::format("a {} fault needs something to cause it: add a top-level injector: "
                        "{{backend: ...}} with backend netns, vm, link, ibport or command (see "
                        "docs/CONFIG.md, \"Faults\")",
                        f.kind));
    } else if (injector_state_ == InjectorState::valid) {
      if (auto why = fault_refusal(injector_.backend, c.transport, f.kind)) {
        error(kind_origin, kind_field, *why);
      }
    }
    if (!fault_regime_ok(c.regime.kind)) {
      // At the kind when only the group wrote it, else at the fault.
      const bool at_kind =
          fault_param.from_defaults && kind_param != nullptr && !kind_param->from_defaults;
      error(at_kind ? kind_param->origin : kind_origin, at_kind ? kind_param->field : kind_field,
            fmt::format("a fault needs regime closed, floor or realistic, whose measured phase "
                        "lasts 'duration'; regime {} {}",
                        c.regime.kind,
                        c.regime.kind == "overload" ? "runs its own step profile"
                                                    : "only searches for the sustainable rate"));
      return;
    }
    if (f.period_ns == 0) f.period_ns = 2 * f.hold_ns;
    const bool bin_written = f.bin_ns != 0;
    if (!bin_written) f.bin_ns = c.transport == "verbs" ? kVerbsFaultBinNs : kOtherFaultBinNs;
    if (c.mode != Mode::duration) return;  // reported for the group
    const auto d = [](std::uint64_t ns) { return core::format_duration_ns(ns); };
    const std::uint64_t repeats = static_cast<std::uint64_t>(f.count - 1) * f.period_ns;
    const std::uint64_t end = f.start_ns + f.jitter_ns + repeats + f.hold_ns;
    if (end >= c.duration_ns) {
      std::string sum = fmt::format("start {} + jitter {}", d(f.start_ns), d(f.jitter_ns));
      if (f.count > 1) {
        sum += fmt::format(" + (count {} - 1) x period {}", f.count, d(f.period_ns));
      }
      sum += fmt::format(" + hold {} = {}", d(f.hold_ns), d(end));
      error(v.fault_origin, v.fault_field,
            fmt::format("the fault's timeline does not fit in the measured phase: {}, which must "
                        "be less than duration {} (the fault must clear before the phase ends, "
                        "so that the recovery is measured)",
                        sum, d(c.duration_ns)));
    }
    const auto [bin_origin, bin_field] = v.fault_at("bin");
    if (interval == nullptr) {
      c.interval_ns = f.bin_ns;
      if (f.bin_ns > c.duration_ns) {
        std::string bin_text = d(f.bin_ns);
        if (!bin_written) {
          bin_text += ", the default for ";
          bin_text += c.transport;
        }
        error(bin_origin, bin_field,
              fmt::format("the fault's bin {} (the case's interval) is longer than the case's "
                          "duration {}",
                          bin_text, d(c.duration_ns)));
      }
    } else if (bin_written && c.interval_ns != f.bin_ns) {
      error(bin_origin, bin_field,
            fmt::format("bin {} differs from interval {} ({}): the recovery curve is read from "
                        "the interval series; write one of them, or the same value in both",
                        d(f.bin_ns), d(c.interval_ns), interval->field));
    }
  }

  // --- resolved plan and digest --------------------------------------------------------------

  static std::string sha256_hex(const std::string& data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
      throw core::Error(core::ErrorKind::runtime, "SHA-256 of the experiment plan failed");
    }
    std::string hex;
    for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
    return hex;
  }

  static void resolve(Experiment& exp) {
    nlohmann::json cases = nlohmann::json::array();
    for (const auto& c : exp.cases) cases.push_back(to_json(c));
    exp.resolved = nlohmann::json{
        {"fabricbench", exp.schema_version}, {"name", exp.name},
        {"description", exp.description},    {"ranks", exp.ranks},
        {"launcher", exp.launcher},          {"timeouts", {{"peer_ns", exp.peer_timeout_ns}}},
        {"injector", to_json(exp.injector)}, {"cases", cases},
    };
    exp.digest = sha256_hex(exp.resolved.dump());
  }

  std::string path_;
  std::vector<std::string> overrides_;
  std::vector<Diagnostic> diagnostics_;
  // The top-level injector: absent (not written), invalid (reported), or valid (in
  // Experiment::injector, read by the fault checks of build_case).
  enum class InjectorState { absent, invalid, valid };
  InjectorState injector_state_ = InjectorState::absent;
  InjectorSettings injector_;
};

}  // namespace

Experiment load_experiment_text(const std::string& text, const std::string& display_path,
                                const std::vector<std::string>& overrides) {
  Loader loader(display_path, overrides);
  return loader.load(text);
}

Experiment load_experiment_file(const std::string& path,
                                const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    Loader loader(path, overrides);
    loader.fail_unreadable(fmt::format("cannot read the experiment file: {}",
                                       std::error_code(err, std::generic_category()).message()));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    Loader loader(path, overrides);
    loader.fail_unreadable("cannot read the experiment file: read error");
  }
  return load_experiment_text(buffer.str(), path, overrides);
}

}  // namespace fabricbench::spec
