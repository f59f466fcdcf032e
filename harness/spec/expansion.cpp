#include "harness/spec/expansion.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/units.hpp"
#include "harness/spec/case_builder.hpp"
#include "harness/spec/fault_keys.hpp"

namespace fabricbench::spec {
namespace {

// The distinct kinds of a group.
std::vector<std::string> distinct(const std::vector<std::string>& kinds) {
  std::vector<std::string> out;
  for (const auto& k : kinds) {
    if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
  }
  return out;
}

// "regime overload sets its own length", "regimes overload and search set their own lengths".
std::string self_timed_only_why(const std::vector<std::string>& kinds) {
  const auto k = distinct(kinds);
  return k.size() == 1 ? fmt::format("regime {} sets its own length", k.front())
                       : fmt::format("regimes {} set their own lengths", join_and(k));
}

std::string self_timed_runs(const std::vector<std::string>& kinds) {
  const auto k = distinct(kinds);
  return k.size() == 1 ? fmt::format("regime {} runs", k.front())
                       : fmt::format("regimes {} run", join_and(k));
}

// The keys that give the length of overload and search cases.
std::string self_timed_length_keys(const std::vector<std::string>& kinds) {
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
std::string group_kinds_text(bool kind_written, const std::vector<std::string>& kinds) {
  if (!kind_written) return "this group's regime is closed (the default; set regime.kind)";
  const auto k = distinct(kinds);
  return k.size() == 1 ? fmt::format("this group's regime is {}", k.front())
                       : fmt::format("this group's regimes are {}", join_and(k));
}

bool any_active_fault(const Param& p) {
  return std::any_of(p.values.begin(), p.values.end(),
                     [](const Value& v) { return v.fault.active(); });
}

// The values a group gives a key (its default when the group does not write it).
std::vector<std::string> texts_of(const Param* p, const std::string& fallback) {
  std::vector<std::string> out;
  if (p == nullptr) out.push_back(fallback);
  for (std::size_t i = 0; p != nullptr && i < p->values.size(); ++i) {
    out.push_back(p->values[i].text);
  }
  return out;
}

bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

class GroupExpander {
 public:
  GroupExpander(LoadContext& ctx, const SNode& g, std::size_t index, Experiment& exp)
      : ctx_(ctx), g_(g), field_(index_field("cases", index)), group_(field_), exp_(exp) {}

  bool over_limit() const { return over_limit_; }

  // A duration-mode case's interval bins per repetition, and the plan's planned time so far,
  // within their limits (docs/CONFIG.md "Limits"); false (reported) otherwise.
  bool within_time_limits(const Case& c) {
    if (c.mode != Mode::duration || c.interval_ns == 0) return true;
    const std::uint64_t bins = (c.warmup_ns + c.duration_ns) / c.interval_ns;
    if (bins > kMaxBinsPerRepetition) {
      error(g_.origin, field_,
            fmt::format("case {}: {} of warm-up and duration in bins of {} is {} interval bins "
                        "per repetition, more than the limit of {}; raise interval",
                        c.id, core::format_duration_ns(c.warmup_ns + c.duration_ns),
                        core::format_duration_ns(c.interval_ns), bins, kMaxBinsPerRepetition));
      return false;
    }
    ctx_.planned_ns += static_cast<std::uint64_t>(c.repetitions) * (c.warmup_ns + c.duration_ns);
    if (ctx_.planned_ns > kMaxPlannedNs) {
      error(g_.origin, field_,
            fmt::format("the plan's planned time passes the limit of {} at case {}; a nightly "
                        "gate that long cannot finish by morning: split the file or shorten "
                        "durations or repetitions",
                        core::format_duration_ns(kMaxPlannedNs), c.id));
      over_limit_ = true;
      return false;
    }
    return true;
  }

  void run(const std::vector<Param>& defaults, std::map<std::string, int>& group_lines) {
    if (g_.kind != SNode::Kind::map) {
      error(g_.origin, field_,
            fmt::format("expected a mapping (a case group with suite:, sizes: ...), got {}",
                        describe(g_)));
      return;
    }
    const std::size_t before = ctx_.report().count();
    ctx_.values.check_unknown_keys(g_, field_, ctx_.keys.group_key_names(true), "");
    read_name(group_lines);
    merge(defaults);
    read_kinds();
    if (self_timed_only_) drop_self_timed_lengths();
    check_mode();
    check_fault_needs_duration();
    filter_applicable();
    check_required();
    check_warmup();
    if (ctx_.report().count() != before) return;
    if (std::any_of(params_.begin(), params_.end(), [](const Param& p) { return !p.valid; })) {
      return;
    }
    enumerate();
  }

 private:
  void error(const Origin& o, const std::string& field, const std::string& message) {
    ctx_.report().error(o, field, message);
  }
  bool has_kind(std::string_view k) const { return contains(kinds_, k); }

  void read_name(std::map<std::string, int>& group_lines) {
    const SNode* name = g_.get("name");
    if (name == nullptr) return;
    const std::string f = child_field(field_, "name");
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
      group_ = name->text;
    }
  }

  // Keys inherited from defaults (in defaults order), then the group's own keys. A group that
  // sets iterations or duration replaces both of the defaults'; one that sets sizes or
  // regime.mix (both give the message sizes) replaces both of those.
  void merge(const std::vector<Param>& defaults) {
    std::vector<Param> own = parse_case_keys(ctx_, g_, field_, false);
    const bool own_mode =
        find_param(own, "iterations") != nullptr || find_param(own, "duration") != nullptr;
    const Param* own_sizes = find_param(own, "sizes");
    const Param* own_mix = find_param(own, "regime.mix");
    if (own_sizes != nullptr && own_mix != nullptr) {
      error(own_mix->origin, own_mix->field,
            "set either 'sizes' or 'regime.mix', not both (a mix gives the message sizes; the "
            "case's message_size is its largest size)");
    }
    wrote_mix_ = own_mix != nullptr;
    const bool own_size_keys = own_sizes != nullptr || own_mix != nullptr;
    for (const auto& d : defaults) {
      const std::string_view key = d.spec->name;
      if (find_param(own, key) != nullptr) continue;
      if (own_mode && (key == "iterations" || key == "duration")) continue;
      if (own_size_keys && (key == "sizes" || key == "regime.mix")) continue;
      params_.push_back(d);
    }
    for (auto& p : own) params_.push_back(std::move(p));
    // Both sizes and a mix from defaults are reported at defaults; the sizes win here.
    if (find_param(params_, "sizes") != nullptr && find_param(params_, "regime.mix") != nullptr) {
      params_.erase(std::find_if(params_.begin(), params_.end(),
                                 [](const Param& p) { return p.spec->name == "regime.mix"; }));
    }
  }

  // The regime kinds of the group (docs/CONFIG.md, "Regimes"): they decide which regime keys
  // apply and whether the group needs iterations or a duration.
  void read_kinds() {
    const Param* kind = find_param(params_, "regime.kind");
    kind_written_ = kind != nullptr;
    kinds_known_ = kind == nullptr || kind->valid;
    kind_in_group_ = kind != nullptr && !kind->from_defaults;
    kinds_ = texts_of(kind, "closed");
    // overload and search set their own lengths; when every kind of the group does, the group
    // needs neither iterations nor duration.
    self_timed_only_ =
        kinds_known_ && std::all_of(kinds_.begin(), kinds_.end(),
                                    [](const std::string& k) { return is_self_timed(k); });
  }

  void drop_self_timed_lengths() {
    std::vector<Param> kept;
    for (auto& p : params_) {
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
      if (p.from_defaults || !kind_in_group_) continue;
      if (length) {
        error(p.origin, p.field,
              fmt::format("{} {}; remove '{}'", self_timed_only_why(kinds_),
                          self_timed_length_keys(kinds_), key));
      } else {
        error(p.origin, p.field,
              fmt::format("{} in duration mode, so warmup must be a duration such as 200ms, got {}",
                          self_timed_runs(kinds_), p.values.front().display));
      }
    }
    params_ = std::move(kept);
  }

  void check_mode() {
    const Param* iter = find_param(params_, "iterations");
    const Param* dur = find_param(params_, "duration");
    mode_ = self_timed_only_ || dur != nullptr ? Mode::duration : Mode::iterations;
    if (self_timed_only_) return;  // lengths come from the regime (Mode::duration)
    if (iter != nullptr && dur != nullptr) {
      mode_known_ = false;
      if (!iter->from_defaults) {  // both from defaults is reported once, at defaults
        error(dur->origin, dur->field,
              "set either 'iterations' or 'duration', not both (a case runs for a number of "
              "iterations or for a length of time)");
      }
    } else if (iter == nullptr && dur == nullptr) {
      mode_known_ = false;
      // With a bad kind, whether the group needs a length is unknown: the kind's error says it.
      if (!kinds_known_) return;
      const bool only_realistic =
          has_kind("realistic") && !has_kind("closed") && !has_kind("floor");
      error(g_.origin, field_,
            only_realistic
                ? "missing 'duration' (here or in defaults): regime realistic offers open-loop "
                  "arrivals for a length of time"
                : "missing 'iterations' or 'duration' (here or in defaults): a case runs for a "
                  "number of iterations or for a length of time");
    } else if (iter != nullptr && kinds_known_ && has_kind("realistic")) {
      mode_known_ = false;
      report_realistic_iterations(*iter);
    }
  }

  void report_realistic_iterations(const Param& iter) {
    const std::string why =
        "regime realistic runs for 'duration'; open-loop arrivals are offered for a length of "
        "time, not a number of operations";
    if (!iter.from_defaults) {
      error(iter.origin, iter.field,
            why + ": set 'duration' instead of 'iterations'" +
                (has_kind("closed") || has_kind("floor")
                     ? " (or put the realistic regime in a group of its own)"
                     : ""));
    } else {
      error(g_.origin, field_,
            why + ": this group inherits 'iterations' from defaults; set 'duration' in the group");
    }
  }

  // A fault needs duration mode (docs/CONFIG.md, "Faults").
  void check_fault_needs_duration() {
    const Param* fault = find_param(params_, "fault");
    const Param* iter = find_param(params_, "iterations");
    if (fault == nullptr || !any_active_fault(*fault) || !mode_known_ ||
        mode_ != Mode::iterations || iter == nullptr) {
      return;
    }
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

  // Why `p` does not apply to this group ("" when it does): suite keys, transport sections and
  // regime keys, once suite, transport and kind are known.
  // `suites` are the group's suites (empty when unknown), `transports` its transports.
  std::string inapplicable_why(const Param& p, const std::vector<std::string>& suites,
                               const std::vector<std::string>& transports, bool transport_known,
                               const std::vector<std::string>& memories) const {
    const KeySpec& s = *p.spec;
    std::string why;
    if (!s.suites.empty() && !suites.empty() &&
        std::none_of(suites.begin(), suites.end(),
                     [&](const std::string& v) { return contains(s.suites, v); })) {
      why = fmt::format("'{}' applies only to {} {}; this group's suite is {}", s.name,
                        s.suites.size() == 1 ? "suite" : "suites", join_and(s.suites),
                        suites.front());
    }
    if (ctx_.keys.is_transport_section(s.section) && transport_known &&
        !contains(transports, s.section)) {
      why = fmt::format("'{}' applies only to transport {}", s.name, s.section);
    }
    if (!s.memories.empty() && !memories.empty() &&
        std::none_of(memories.begin(), memories.end(),
                     [&](const std::string& v) { return contains(s.memories, v); })) {
      why = fmt::format("'{}' applies only to memory {}; this group's memory is {}", s.name,
                        join_and(s.memories), memories.front());
    }
    if (!s.kinds.empty() && kinds_known_ &&
        std::none_of(kinds_.begin(), kinds_.end(),
                     [&](const std::string& k) { return contains(s.kinds, k); })) {
      why = fmt::format("'{}' applies to {} {}; {}", s.name,
                        s.kinds.size() == 1 ? "regime" : "regimes", join_and(s.kinds),
                        group_kinds_text(kind_written_, kinds_));
      if (s.name == "regime.rate" && has_kind("search")) {
        why += " (regime search finds the sustainable rate itself and takes no rate)";
      }
    }
    return why;
  }

  void filter_applicable() {
    const Param* suite = find_param(params_, "suite");
    if (suite == nullptr) {
      std::vector<std::string> names;
      for (const auto& s : ctx_.catalog.suites) names.push_back(s.name);
      error(g_.origin, field_,
            fmt::format("missing required key 'suite' ({})", join_words(names, "or")));
    }
    const Param* transport = find_param(params_, "transport");
    const bool transport_known = transport == nullptr || transport->valid;
    const std::vector<std::string> transports =
        texts_of(transport, ctx_.catalog.transports.empty() ? std::string()
                                                            : ctx_.catalog.transports.front().name);
    // Computed before the loop below moves the params.
    const std::vector<std::string> suites =
        suite != nullptr && suite->valid ? texts_of(suite, "") : std::vector<std::string>();
    const Param* memory = find_param(params_, "memory");
    const std::vector<std::string> memories =
        memory != nullptr && !memory->valid
            ? std::vector<std::string>()
            : texts_of(memory, ctx_.catalog.memory.empty() ? std::string()
                                                           : ctx_.catalog.memory.front().name);
    std::vector<Param> kept;
    for (auto& p : params_) {
      const std::string why = inapplicable_why(p, suites, transports, transport_known, memories);
      if (why.empty()) {
        kept.push_back(std::move(p));
      } else if (!p.from_defaults) {
        error(p.origin, p.field, why);
      }
    }
    params_ = std::move(kept);
  }

  // Message sizes (`sizes`, or a mix, which may be written only where it applies) and the
  // offered rate of realistic and overload.
  void check_required() {
    if (find_param(params_, "sizes") == nullptr && find_param(params_, "regime.mix") == nullptr &&
        !wrote_mix_) {
      error(g_.origin, field_,
            "missing required key 'sizes' (a size, a sweep such as 8..64KiB x4, or a list)");
    }
    if (!kinds_known_ || find_param(params_, "regime.rate") != nullptr) return;
    std::vector<std::string_view> need;
    for (const std::string_view k : {"realistic", "overload"}) {
      if (has_kind(k)) need.push_back(k);
    }
    if (need.empty()) return;
    error(g_.origin, field_,
          fmt::format("missing 'regime.rate' (here or in defaults): {} {} {} the offered rate, "
                      "such as 200k/s (operations), 5Gb/s (payload bits) or 70% (of the "
                      "sustainable rate)",
                      need.size() == 1 ? "regime" : "regimes", join_and(need),
                      need.size() == 1 ? "needs" : "need"));
  }

  // Warm-up must match the group's mode.
  void check_warmup() {
    const Param* w = find_param(params_, "warmup");
    for (std::size_t i = 0; mode_known_ && w != nullptr && i < w->values.size(); ++i) {
      const Value& v = w->values[i];
      if (v.is_duration == (mode_ == Mode::duration)) continue;
      const std::string need =
          mode_ == Mode::duration ? "a duration such as 200ms" : "an iteration count such as 1000";
      const std::string why =
          mode_ == Mode::duration ? "it sets 'duration'" : "it sets 'iterations'";
      if (w->from_defaults) {
        error(w->origin, w->field,
              fmt::format("group '{}' runs in {} mode ({}), so warmup must be {}, got {}; set "
                          "warmup in that group",
                          group_, to_string(mode_), why, need, v.display));
      } else {
        error(w->origin, w->field,
              fmt::format("this group runs in {} mode ({}), so warmup must be {}, got {}",
                          to_string(mode_), why, need, v.display));
      }
      break;
    }
  }

  // Every combination of the listed values, sizes innermost.
  void enumerate() {
    GroupDims g{group_, field_, g_.origin, mode_, {}, {}};
    const Param* sizes = nullptr;
    for (const auto& p : params_) {
      if (p.spec->name == "sizes") {
        sizes = &p;
        g.file_order.push_back(params_.size() - 1);  // sizes goes last in dims
      } else {
        g.file_order.push_back(g.dims.size());
        g.dims.push_back(&p);
      }
    }
    if (sizes != nullptr) g.dims.push_back(sizes);
    std::size_t total = 1;
    for (const auto* d : g.dims) {
      total *= d->values.size();
      if (exp_.cases.size() + total > kMaxCases) {
        error(g_.origin, field_,
              fmt::format("the plan passes the limit of {} cases here ({} before this group, "
                          "which adds {}{}); shrink the sweeps or lists",
                          kMaxCases, exp_.cases.size(), total > kMaxCases ? "more than " : "",
                          std::min(total, kMaxCases)));
        over_limit_ = true;
        return;
      }
    }
    std::set<std::string> group_ids;
    std::vector<std::size_t> pick(g.dims.size(), 0);
    for (std::size_t n = 0; n < total; ++n) {
      Case c = build_case(ctx_, g, pick);
      if (!within_time_limits(c)) return;
      if (group_ids.insert(c.id).second) {
        if (!ctx_.case_ids.insert(c.id).second) {
          error(g_.origin, field_, fmt::format("case id '{}' is used twice", c.id));
          return;
        }
        exp_.cases.push_back(std::move(c));
      }
      // Odometer: the last dimension (sizes) turns fastest.
      for (std::size_t d = g.dims.size(); d-- > 0;) {
        if (++pick[d] < g.dims[d]->values.size()) break;
        pick[d] = 0;
      }
    }
  }

  LoadContext& ctx_;
  bool over_limit_ = false;
  const SNode& g_;
  std::string field_;
  std::string group_;
  Experiment& exp_;
  std::vector<Param> params_;
  bool wrote_mix_ = false;
  bool kind_written_ = false;
  bool kinds_known_ = true;
  bool kind_in_group_ = false;
  bool self_timed_only_ = false;
  std::vector<std::string> kinds_;
  Mode mode_ = Mode::iterations;
  bool mode_known_ = true;
};

}  // namespace

std::vector<Param> parse_case_keys(LoadContext& ctx, const SNode& map, const std::string& field,
                                   bool from_defaults) {
  std::vector<Param> params;
  for (const auto& e : map.entries) {
    const std::string f = child_field(field, e.key);
    if (ctx.keys.is_section(e.key)) {
      if (e.value.kind != SNode::Kind::map) {
        ctx.report().error(e.value.origin, f,
                           fmt::format("expected a mapping of {} settings such as {}, got {}",
                                       e.key, ctx.keys.section_example(e.key), describe(e.value)));
        continue;
      }
      ctx.values.check_unknown_keys(e.value, f, ctx.keys.section_key_names(e.key), " in " + e.key);
      for (const auto& t : e.value.entries) {
        const KeySpec* spec = ctx.keys.find(e.key + "." + t.key);
        if (spec == nullptr) continue;
        params.push_back(
            ctx.values.parse_param(t.value, *spec, child_field(f, t.key), from_defaults));
      }
      continue;
    }
    const KeySpec* spec = ctx.keys.find(e.key);
    if (spec == nullptr) continue;  // unknown keys are reported by check_unknown_keys
    params.push_back(ctx.values.parse_param(e.value, *spec, f, from_defaults));
  }
  return params;
}

bool expand_group(LoadContext& ctx, const SNode& g, std::size_t index,
                  const std::vector<Param>& defaults, std::map<std::string, int>& group_lines,
                  Experiment& exp) {
  GroupExpander expander(ctx, g, index, exp);
  expander.run(defaults, group_lines);
  return !expander.over_limit();
}

}  // namespace fabricbench::spec
