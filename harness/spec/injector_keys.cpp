#include "harness/spec/injector_keys.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "core/units.hpp"

namespace fabricbench::spec {
namespace {

const std::vector<std::string_view> kInjectorBackends = {"none", "netns",  "vm",
                                                         "link", "ibport", "command"};
const std::vector<std::string_view> kInjectorKeys = {
    "backend", "target", "allow", "force", "inject", "clear", "command_timeout", "link_rate"};

// What each injector backend can cause: on which traffic, which fault kinds, and why not the
// others. harness/faults (Injector::make) mirrors this table; keep the two in step.
struct FaultCapability {
  std::string_view backend;
  bool ip = true;                // reaches traffic over the kernel's IP stack
  bool rdma = true;              // reaches traffic over an RDMA device
  std::string_view traffic_why;  // why the other traffic is out
  std::vector<std::string_view> kinds;
  std::string_view kinds_why;  // why the other kinds are out
};

const std::vector<FaultCapability>& injector_capabilities() {
  static const std::vector<FaultCapability> table = {
      {"netns",
       true,
       false,
       "the namespaces have no RDMA device; use backend vm with the Soft-RoCE guests (ci/vm)",
       {"link_down", "flap", "blackhole", "loss", "rate_limit"},
       "this kernel has no netem (sch_netem), which delay needs; use backend vm (the guests' "
       "kernel has netem) or command"},
      {"vm", true, true, "", {"link_down", "flap", "blackhole", "loss", "delay", "rate_limit"}, ""},
      {"link",
       true,
       true,
       "",
       {"link_down", "flap"},
       "host tc, iptables and nft do not touch a hardware RoCE or InfiniBand NIC's traffic, so "
       "backend link only takes its target down and up (ip link); use backend command (or vm) "
       "for other faults"},
      {"ibport",
       false,
       true,
       "ibportstate disables an InfiniBand port, which only RDMA traffic crosses; use backend "
       "link, netns or vm for traffic over the kernel's IP stack",
       {"link_down", "flap"},
       "ibportstate can only disable and enable a port"},
      {"command",
       true,
       true,
       "",
       {"link_down", "flap", "blackhole", "loss", "delay", "rate_limit"},
       ""},
  };
  return table;
}

// One `injector:` mapping: its keys, then the rules of its backend.
class InjectorParser {
 public:
  InjectorParser(const SNode& n, const Experiment& exp, ValueParser& values)
      : n_(n), exp_(exp), values_(values) {}

  ParsedInjector parse() {
    ParsedInjector out;
    out.state = ParsedInjector::State::invalid;
    if (n_.kind != SNode::Kind::map) {
      error(n_.origin, "injector",
            fmt::format("expected a mapping such as {{backend: netns}}, got {}", describe(n_)));
      return out;
    }
    const std::size_t before = values_.report().count();
    values_.check_unknown_keys(n_, "injector", kInjectorKeys, " in injector");
    read_backend();
    text_of("target", s_.target);
    text_of("inject", s_.inject);
    text_of("clear", s_.clear);
    read_allow();
    read_scalars();
    if (backend_known_) check_backend();
    if (values_.report().count() != before) return out;
    out.settings = s_;
    out.state = ParsedInjector::State::valid;
    return out;
  }

 private:
  void error(const Origin& o, const std::string& field, const std::string& message) {
    values_.report().error(o, field, message);
  }

  void text_of(std::string_view key, std::string& out) {
    const SNode* v = n_.get(key);
    if (v == nullptr || v->kind == SNode::Kind::null) return;
    if (v->kind != SNode::Kind::scalar) {
      error(v->origin, child_field("injector", key),
            fmt::format("expected a text, got {}", describe(*v)));
      return;
    }
    out = v->text;
  }

  void read_backend() {
    if (const SNode* b = n_.get("backend")) {
      const KeySpec spec{
          "backend", Type::choice, 0, 0,
          std::vector<std::string>(kInjectorBackends.begin(), kInjectorBackends.end())};
      auto v = values_.parse_value(*b, spec, "injector.backend");
      if (!v.empty()) {
        s_.backend = v.front().text;
        backend_known_ = true;
        backend_origin_ = b->origin;
      }
    } else {
      error(n_.origin, "injector",
            fmt::format("missing required key 'backend' in injector (one of {})",
                        list_values(kInjectorBackends)));
    }
  }

  void read_allow() {
    const SNode* a = n_.get("allow");
    if (a == nullptr) return;
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
        auto v = values_.parse_value(item, spec, f);
        if (!v.empty()) s_.allow.push_back(v.front().text);
      }
    } else if (a->kind == SNode::Kind::scalar) {
      auto v = values_.parse_value(*a, spec, "injector.allow");
      if (!v.empty()) s_.allow.push_back(v.front().text);
    } else if (a->kind != SNode::Kind::null) {
      error(a->origin, "injector.allow",
            fmt::format("expected a list of interface names such as [eth1, eth2], got {}",
                        describe(*a)));
    }
  }

  // force, command_timeout, link_rate.
  void read_scalars() {
    if (const SNode* f = n_.get("force")) {
      const KeySpec spec{"force", Type::boolean, 0, 0, {}};
      auto v = values_.parse_value(*f, spec, "injector.force");
      if (!v.empty()) s_.force = v.front().flag;
    }
    if (const SNode* t = n_.get("command_timeout")) {
      const KeySpec spec{"command_timeout", Type::duration, kNsPerS, 600 * kNsPerS, {}};
      auto v = values_.parse_value(*t, spec, "injector.command_timeout");
      if (!v.empty()) s_.command_timeout_ns = v.front().number;
    }
    if (const SNode* r = n_.get("link_rate")) {
      if (auto x = values_.parse_bits_rate(*r, "injector.link_rate")) {
        if (*x < 8) {
          error(r->origin, "injector.link_rate",
                fmt::format("must be at least 8 bit/s, got {}",
                            core::format_rate({core::ParsedRate::Kind::bits, *x})));
        } else {
          s_.link_rate_bits_per_s = *x;
        }
      }
    }
  }

  // Keys that belong to one backend, then the backend's own rules.
  void check_backend() {
    only_for("inject", "command");
    only_for("clear", "command");
    only_for("allow", "link");
    only_for("force", "link");
    only_for("link_rate", "netns");
    const SNode* target = n_.get("target");
    target_origin_ = target != nullptr ? target->origin : n_.origin;
    target_field_ = target != nullptr ? "injector.target" : "injector";
    const std::string& b = s_.backend;
    if (b == "command") check_command();
    if (b == "link") check_link();
    if (b == "ibport") check_ibport();
    if (b == "netns") check_netns();
    if (b == "vm") {
      if (s_.target.empty()) s_.target = "eth0";
      check_interface();
    }
  }

  void only_for(std::string_view key, std::string_view backend) {
    const MapEntry* e = n_.find(key);
    if (e == nullptr || s_.backend == backend) return;
    error(e->key_origin, child_field("injector", key),
          fmt::format("'{}' applies only to backend {}; this injector's backend is {}", key,
                      backend, s_.backend));
  }

  void check_interface() {
    const KeySpec spec{"target", Type::interface_name, 0, 0, {}};
    SNode t;
    t.kind = SNode::Kind::scalar;
    t.text = s_.target;
    t.origin = target_origin_;
    (void)values_.parse_value(t, spec, target_field_);
  }

  void check_command() {
    for (const std::string_view key : {"inject", "clear"}) {
      const std::string& cmd = key == "inject" ? s_.inject : s_.clear;
      if (n_.find(key) == nullptr) {
        error(n_.origin, "injector",
              fmt::format("backend command needs '{}': the shell command that {} the fault", key,
                          key == "inject" ? "causes" : "removes"));
      } else if (cmd.empty()) {
        error(n_.get(key)->origin, child_field("injector", key),
              fmt::format("backend command needs a command in '{}', got an empty text", key));
      }
    }
  }

  void check_link() {
    if (s_.target.empty()) {
      error(target_origin_, target_field_,
            "backend link needs 'target': the interface it takes down and up (list it in "
            "'allow' too)");
      return;
    }
    check_interface();
    if (std::find(s_.allow.begin(), s_.allow.end(), s_.target) == s_.allow.end()) {
      error(target_origin_, target_field_,
            fmt::format("target '{}' is not in 'allow' ({}): backend link takes down only "
                        "an interface listed in allow",
                        s_.target, s_.allow.empty() ? "empty" : join_and(s_.allow)));
    }
  }

  void check_ibport() {
    const auto colon = s_.target.find(':');
    if (s_.target.empty()) {
      error(target_origin_, target_field_,
            "backend ibport needs 'target': the port to disable as LID:PORT, such as 3:1");
    } else if (colon == std::string::npos ||
               !core::all_digits(std::string_view(s_.target).substr(0, colon)) ||
               !core::all_digits(std::string_view(s_.target).substr(colon + 1))) {
      error(target_origin_, target_field_,
            fmt::format("expected LID:PORT (digits:digits) such as 3:1, got '{}'", s_.target));
    }
  }

  void check_netns() {
    if (!s_.target.empty() && s_.target != "fbd0") {
      error(target_origin_, target_field_,
            fmt::format("backend netns acts on the veth fbd0 it creates: target must be "
                        "empty or fbd0, got '{}'",
                        s_.target));
    }
    s_.target = "fbd0";
    if (exp_.launcher == "mpi" || exp_.launcher == "slurm" || exp_.launcher == "env") {
      error(backend_origin_, "injector.backend",
            fmt::format("backend netns starts every rank on this host, in two network "
                        "namespaces: it needs launcher local (or auto without an mpi, slurm "
                        "or env launch), not {}",
                        exp_.launcher));
    }
    if (exp_.ranks % 2 != 0) {
      error(backend_origin_, "injector.backend",
            fmt::format("backend netns puts half of the ranks in each of its two namespaces: "
                        "ranks must be even, got {}",
                        exp_.ranks));
    }
  }

  const SNode& n_;
  const Experiment& exp_;
  ValueParser& values_;
  InjectorSettings s_;
  bool backend_known_ = false;
  Origin backend_origin_ = n_.origin;
  Origin target_origin_;
  std::string target_field_;
};

}  // namespace

ParsedInjector parse_injector(const SNode& n, const Experiment& exp, ValueParser& values) {
  return InjectorParser(n, exp, values).parse();
}

std::optional<std::string> fault_refusal(std::string_view backend, const TransportKeys& transport,
                                         std::string_view kind) {
  for (const auto& cap : injector_capabilities()) {
    if (cap.backend != backend) continue;
    if (transport.rdma ? !cap.rdma : !cap.ip) {
      return fmt::format("injector backend {} cannot cause faults on transport {}: {}", backend,
                         transport.name, cap.traffic_why);
    }
    if (std::find(cap.kinds.begin(), cap.kinds.end(), kind) == cap.kinds.end()) {
      return fmt::format("injector backend {} cannot cause a {} fault (it can cause {}): {}",
                         backend, kind, list_values(cap.kinds), cap.kinds_why);
    }
    return std::nullopt;
  }
  return std::nullopt;  // backend none: reported as a missing injector
}

}  // namespace fabricbench::spec
