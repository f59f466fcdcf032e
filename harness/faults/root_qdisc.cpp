// plan_root_qdisc: what a tc fault's clear does with the root qdisc it replaced, read from tc's
// JSON (iproute2's `tc -j` printers, checked against iproute2 6.1).
#include <cmath>
#include <cstdint>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/faults/detail.hpp"

namespace fabricbench::faults::detail {

namespace {

using nlohmann::json;

// The parent of ingress and clsact, which sit beside the root qdisc and are not replaced.
constexpr const char* kIngressParent = "ffff:fff1";

// Reads one qdisc's options, remembering which keys were used: a key left over is an option this
// file does not know how to pass back to tc, and the qdisc is refused rather than rebuilt without
// it.
class Options {
 public:
  explicit Options(const json& options)
      : options_(options.is_object() ? options : json::object()) {}

  bool has(const std::string& key) const { return options_.contains(key); }
  std::uint64_t count(const std::string& key) {
    used_.insert(key);
    const json& v = options_.at(key);
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
      throw std::invalid_argument(fmt::format("option '{}' is not a count: {}", key, v.dump()));
    }
    return v.get<std::uint64_t>();
  }
  double number(const std::string& key) {
    used_.insert(key);
    const json& v = options_.at(key);
    if (!v.is_number()) {
      throw std::invalid_argument(fmt::format("option '{}' is not a number: {}", key, v.dump()));
    }
    return v.get<double>();
  }
  bool flag(const std::string& key) {
    used_.insert(key);
    const json& v = options_.at(key);
    if (!v.is_boolean()) throw std::invalid_argument("option '" + key + "' is not true or false");
    return v.get<bool>();
  }
  std::string text(const std::string& key) {
    used_.insert(key);
    const json& v = options_.at(key);
    if (!v.is_string()) throw std::invalid_argument("option '" + key + "' is not text");
    return v.get<std::string>();
  }
  const json& object(const std::string& key) {
    used_.insert(key);
    return options_.at(key);
  }
  void ignore(const std::string& key) { used_.insert(key); }
  // The first key not read, "" when all were.
  std::string left_over() const {
    for (const auto& [key, value] : options_.items()) {
      if (used_.count(key) == 0) return key;
    }
    return {};
  }

 private:
  json options_;
  std::set<std::string> used_;
};

using Args = std::vector<std::string>;

void add(Args& args, const char* name, const std::string& value) {
  args.emplace_back(name);
  args.push_back(value);
}

// tbf from `tc -j -r` (exact limit, burst and its raw ticks) and `tc -j -d` (mpu). The kernel
// keeps the burst as ticks of the token rate; tc prints it truncated to bytes, so the burst passed
// back is the smallest byte count that tc turns into the same ticks (tc_calc_xmittime).
std::string rebuild_tbf(Options& o, Options& details, Args& args) {
  if (o.has("minburst") || o.has("mtu_raw")) {
    return "it has a peak rate, which tc does not show in its JSON";
  }
  const std::uint64_t rate = o.count("rate");  // bytes per second
  if (rate == 0) return "its rate is 0";
  const std::uint64_t ticks = std::stoull(o.text("burst_raw"), nullptr, 16);
  const double ticks_per_byte = 1e6 * kPschedTickInUsec / static_cast<double>(rate);
  auto ticks_of = [&](std::uint64_t bytes) {
    return static_cast<std::uint64_t>(
        static_cast<unsigned>(static_cast<double>(bytes) * ticks_per_byte));
  };
  const auto guess =
      static_cast<std::uint64_t>(std::ceil(static_cast<double>(ticks) / ticks_per_byte));
  std::uint64_t burst = 0;
  for (std::uint64_t b : {guess > 0 ? guess - 1 : 0, guess, guess + 1}) {
    if (b > 0 && ticks_of(b) == ticks) {
      burst = b;
      break;
    }
  }
  if (burst == 0) {
    return fmt::format("no burst in bytes gives back its {} ticks at rate {} bytes/s", ticks, rate);
  }
  o.ignore("burst");  // the truncated bytes
  o.ignore("lat");    // follows from limit, burst and rate
  args.emplace_back("tbf");
  add(args, "rate", fmt::format("{}bit", rate * 8));
  add(args, "burst", std::to_string(burst));
  add(args, "limit", std::to_string(o.count("limit")));
  if (details.has("mpu") && details.count("mpu") != 0) {
    add(args, "mpu", std::to_string(details.count("mpu")));
  }
  if (o.has("overhead")) {
    add(args, "overhead", fmt::format("{}", std::llround(o.number("overhead"))));
  }
  if (o.has("linklayer")) add(args, "linklayer", o.text("linklayer"));
  return {};
}

std::string rebuild_fifo(const std::string& kind, Options& o, Args& args) {
  args.push_back(kind);
  if (o.has("limit")) add(args, "limit", std::to_string(o.count("limit")));
  return {};
}

// pfifo_fast takes no options: its bands and priority map are the kernel's.
std::string rebuild_pfifo_fast(Options& o, Args& args) {
  const json default_map = {1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  if ((o.has("bands") && o.count("bands") != 3) ||
      (o.has("priomap") && o.object("priomap") != default_map) ||
      (o.has("multiqueue") && o.flag("multiqueue"))) {
    return "its bands or priority map are not the kernel's";
  }
  args.emplace_back("pfifo_fast");
  return {};
}

// Times in tc's fq_codel JSON are microseconds.
std::string rebuild_fq_codel(Options& o, Args& args) {
  args.emplace_back("fq_codel");
  if (o.has("limit")) add(args, "limit", std::to_string(o.count("limit")));
  if (o.has("flows")) add(args, "flows", std::to_string(o.count("flows")));
  if (o.has("quantum")) add(args, "quantum", std::to_string(o.count("quantum")));
  if (o.has("target")) add(args, "target", fmt::format("{}us", o.count("target")));
  if (o.has("interval")) add(args, "interval", fmt::format("{}us", o.count("interval")));
  if (o.has("ce_threshold")) {
    add(args, "ce_threshold", fmt::format("{}us", o.count("ce_threshold")));
  }
  if (o.has("memory_limit")) add(args, "memory_limit", std::to_string(o.count("memory_limit")));
  if (o.has("drop_batch")) add(args, "drop_batch", std::to_string(o.count("drop_batch")));
  // tc prints ecn only when it is on; the kernel's default is on, so absent means noecn.
  args.emplace_back(o.has("ecn") && o.flag("ecn") ? "ecn" : "noecn");
  return {};
}

// netem with a fixed delay and random loss only: tc's JSON leaves out the delay distribution
// (it matters with a jitter), and the other impairments are not rebuilt here.
std::string rebuild_netem(Options& o, Args& args) {
  args.emplace_back("netem");
  if (o.has("limit")) add(args, "limit", std::to_string(o.count("limit")));
  if (o.has("delay")) {
    Options d(o.object("delay"));
    if (d.has("jitter") && d.number("jitter") != 0) {
      return "it has a delay jitter, whose distribution tc does not show";
    }
    if (d.has("correlation") && d.number("correlation") != 0) return "its delay is correlated";
    const double seconds = d.number("delay");
    if (!d.left_over().empty()) return "delay option '" + d.left_over() + "' is not rebuilt";
    add(args, "delay", fmt::format("{}us", std::llround(seconds * 1e6)));
  }
  if (o.has("loss-random")) {
    Options l(o.object("loss-random"));
    if (l.has("correlation") && l.number("correlation") != 0) return "its loss is correlated";
    const double fraction = l.number("loss");
    if (!l.left_over().empty()) return "loss option '" + l.left_over() + "' is not rebuilt";
    args.emplace_back("loss");
    add(args, "random", fmt::format("{:.6g}%", fraction * 100));
  }
  if (o.has("ecn") && o.flag("ecn")) args.emplace_back("ecn");
  if (o.has("gap") && o.count("gap") != 0) return "it has a reorder gap";
  return {};
}

// sfq from `tc -j -d` (flows is shown with details only); its RED mode is not rebuilt.
std::string rebuild_sfq(Options& o, Args& args) {
  args.emplace_back("sfq");
  if (o.has("limit")) add(args, "limit", std::to_string(o.count("limit")));
  if (o.has("quantum")) add(args, "quantum", std::to_string(o.count("quantum")));
  if (o.has("depth")) add(args, "depth", std::to_string(o.count("depth")));
  if (o.has("flows")) add(args, "flows", std::to_string(o.count("flows")));
  if (o.has("divisor")) add(args, "divisor", std::to_string(o.count("divisor")));
  if (o.has("perturb")) add(args, "perturb", std::to_string(o.count("perturb")));
  if (o.has("headdrop") && o.flag("headdrop")) args.emplace_back("headdrop");
  return {};
}

json parse_array(const std::string& text, const char* what) {
  json j = json::parse(text.empty() ? std::string("[]") : text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    throw std::invalid_argument(fmt::format("tc's {} are not a JSON array", what));
  }
  return j;
}

const json* root_of(const json& qdiscs) {
  for (const auto& q : qdiscs) {
    if (q.is_object() && q.value("root", false)) return &q;
  }
  return nullptr;
}

}  // namespace

bool root_qdisc_is_default(const std::string& qdiscs_json) {
  const json qdiscs = json::parse(qdiscs_json, nullptr, false);
  if (qdiscs.is_discarded() || !qdiscs.is_array()) return false;
  const json* root = root_of(qdiscs);
  return root == nullptr || root->value("handle", std::string()) == "0:";
}

RootQdiscPlan plan_root_qdisc(const std::string& qdiscs_json, const std::string& details_json,
                              const std::string& filters_json) {
  RootQdiscPlan plan;
  auto refuse = [&plan](std::string why) {
    plan.action = RootQdiscPlan::Action::refuse;
    plan.args.clear();
    plan.why = std::move(why);
    return plan;
  };
  try {
    const json qdiscs = parse_array(qdiscs_json, "qdiscs");
    const json* root = root_of(qdiscs);
    const std::string handle = root != nullptr ? root->value("handle", std::string()) : "0:";
    if (handle == "0:") return plan;  // the kernel's default: the clear deletes the root
    const std::string kind = root->value("kind", std::string());
    plan.what = kind + " " + handle;
    for (const auto& q : qdiscs) {
      if (&q == root || q.value("parent", std::string()) == kIngressParent) continue;
      return refuse(fmt::format("it is a qdisc tree ({} {} under {}); trees are not saved",
                                q.value("kind", std::string("?")),
                                q.value("handle", std::string("?")),
                                q.value("parent", std::string("?"))));
    }
    if (!parse_array(filters_json, "filters").empty()) {
      return refuse(
          "filters are attached to it; a qdisc with filters is a tree, and trees are "
          "not saved");
    }
    const json details = parse_array(details_json, "qdiscs (details)");
    const json* details_root = root_of(details);
    Options o(root->value("options", json::object()));
    Options d(details_root != nullptr ? details_root->value("options", json::object())
                                      : json::object());
    plan.args = {"handle", handle};
    std::string why;
    if (kind == "tbf") {
      why = rebuild_tbf(o, d, plan.args);
    } else if (kind == "pfifo" || kind == "bfifo") {
      why = rebuild_fifo(kind, o, plan.args);
    } else if (kind == "pfifo_fast") {
      why = rebuild_pfifo_fast(o, plan.args);
    } else if (kind == "fq_codel") {
      why = rebuild_fq_codel(o, plan.args);
    } else if (kind == "netem") {
      why = rebuild_netem(o, plan.args);
    } else if (kind == "sfq") {
      Options sfq(details_root != nullptr ? details_root->value("options", json::object())
                                          : json::object());
      why = rebuild_sfq(sfq, plan.args);
      if (why.empty() && !sfq.left_over().empty()) {
        why = fmt::format("its option '{}' is not rebuilt", sfq.left_over());
      }
      o = Options(json::object());
    } else {
      return refuse(
          fmt::format("{} is not a kind this can rebuild (tbf, pfifo, bfifo, "
                      "pfifo_fast, fq_codel, netem, sfq); classful qdiscs and their "
                      "trees are not saved",
                      kind));
    }
    if (why.empty() && !o.left_over().empty()) {
      why = fmt::format("its option '{}' is not rebuilt", o.left_over());
    }
    if (!why.empty()) return refuse(why);
  } catch (const std::exception& e) {  // json type errors, missing keys, bad numbers
    return refuse(fmt::format("tc's JSON could not be read ({})", e.what()));
  }
  plan.action = RootQdiscPlan::Action::restore;
  return plan;
}

}  // namespace fabricbench::faults::detail
