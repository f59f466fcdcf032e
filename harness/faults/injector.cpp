// Injector::make and the backends: netns, vm, link, ibport, command.
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>

#include "core/error.hpp"
#include "harness/faults/detail.hpp"
#include "harness/faults/injector.hpp"

namespace fabricbench::faults {

using core::Error;
using core::ErrorKind;

namespace {

constexpr const char* kBlackholeTable = "fabricbench_fault_blackhole";
constexpr const char* kLossTable = "fabricbench_fault_loss";
constexpr const char* kIptablesComment = "fabricbench_fault";

struct Step {
  std::string what;
  std::vector<std::string> argv;
};

// What a backend knows: which commands cause and remove a fault, and which faults it can cause.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string describe() const = 0;
  // Throws Error(config) for a fault it cannot cause, Error(unavailable) for a missing tool.
  virtual void check(const Fault& fault) const = 0;
  virtual std::vector<Step> inject_steps(const Fault& fault) const = 0;
  virtual std::vector<Step> clear_steps(const Fault& fault) const = 0;
  virtual bool uses_watchdog() const = 0;
  // What only the target can tell, asked with read-only commands in its namespace just before
  // the fault: throws Error(config) to refuse before anything has changed. May remember what
  // the fault's clear_steps must put back.
  virtual void check_in_place(const Fault& /*fault*/, std::uint64_t /*timeout_ns*/) {}
};

std::string require_tool(const char* name, const std::string& why) {
  std::string path = detail::find_tool(name);
  if (path.empty()) {
    throw Error(ErrorKind::unavailable, fmt::format("'{}' is not installed ({})", name, why));
  }
  return path;
}

void check_interface_name(const std::string& backend, const std::string& name) {
  const bool ok = !name.empty() && name.size() < IFNAMSIZ &&
                  name.find_first_not_of(
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789_.@-") == std::string::npos;
  if (!ok) {
    throw Error(ErrorKind::config,
                fmt::format("{} backend: '{}' is not an interface name", backend, name));
  }
}

void check_interface_exists(const std::string& backend, const std::string& name) {
  if (::if_nametoindex(name.c_str()) == 0) {
    throw Error(
        ErrorKind::unavailable,
        fmt::format("{} backend: no interface '{}' in this network namespace", backend, name));
  }
}

// Refuses `name` when it, or an interface stacked on or under it (a bond it belongs to, the VLAN
// over it, the bridge it is a port of), carries the default route.
void refuse_default_route(const std::string& backend, const std::string& name, bool force) {
  if (force) return;
  const auto routed = detail::default_route_interfaces();
  if (routed.empty()) return;
  for (const auto& iface : detail::stacked_interfaces(name)) {
    if (std::find(routed.begin(), routed.end(), iface) == routed.end()) continue;
    throw Error(ErrorKind::config,
                iface == name
                    ? fmt::format("{} backend: '{}' carries this host's default route; taking it "
                                  "down could cut the host off (set force to do it anyway)",
                                  backend, name)
                    : fmt::format("{} backend: '{}' is under '{}', which carries this host's "
                                  "default route; taking it down could cut the host off (set "
                                  "force to do it anyway)",
                                  backend, name, iface));
  }
}

// netns and vm: ip link, nft (or iptables), tc on one interface.
class NetBackend final : public Backend {
 public:
  NetBackend(std::string backend, std::string iface, bool netem)
      : backend_(std::move(backend)),
        iface_(std::move(iface)),
        netem_(netem),
        ip_(detail::find_tool("ip")),
        tc_(detail::find_tool("tc")),
        nft_(detail::find_tool("nft")),
        iptables_(nft_.empty() ? detail::find_tool("iptables") : std::string()),
        run_tag_(std::to_string(::getpid())) {
    if (ip_.empty()) {
      throw Error(ErrorKind::unavailable,
                  fmt::format("{} backend: 'ip' (iproute2) is not installed", backend_));
    }
  }

  std::string describe() const override { return backend_ + ":" + iface_; }
  bool uses_watchdog() const override { return backend_ != "netns"; }

  void check(const Fault& fault) const override {
    switch (fault.kind) {
      case Kind::link_down:
      case Kind::flap:
        return;
      case Kind::blackhole:
        firewall_needed("blackhole");
        return;
      case Kind::loss:
        if (!(fault.loss > 0 && fault.loss <= 1)) {
          throw Error(ErrorKind::config,
                      fmt::format("loss must be a fraction in (0, 1], got {}", fault.loss));
        }
        if (netem_) {
          tc_needed("loss");
        } else {
          if (std::llround(fault.loss * 10000) < 1) {
            throw Error(ErrorKind::config,
                        fmt::format("{} backend: loss {} is below the resolution 0.0001 of the "
                                    "nft/iptables random drop",
                                    backend_, fault.loss));
          }
          firewall_needed("loss");
        }
        return;
      case Kind::delay:
        if (!netem_) {
          throw Error(ErrorKind::config,
                      fmt::format("{} backend cannot add delay: that needs the netem qdisc, which "
                                  "this host's kernel lacks (the vm backend, inside a guest, has "
                                  "it)",
                                  backend_));
        }
        if (fault.delay_ns < 1000) {
          throw Error(ErrorKind::config,
                      fmt::format("delay must be at least 1us, got {} ns", fault.delay_ns));
        }
        tc_needed("delay");
        return;
      case Kind::rate_limit:
        if (!(fault.rate_bits_per_s >= 8)) {
          throw Error(ErrorKind::config, fmt::format("rate_limit needs a rate of at least 8 bit/s, "
                                                     "got {}",
                                                     fault.rate_bits_per_s));
        }
        tc_needed("rate_limit");
        return;
    }
  }

  std::vector<Step> inject_steps(const Fault& fault) const override {
    const std::string what = fmt::format("inject {} on {}", to_string(fault.kind), iface_);
    switch (fault.kind) {
      case Kind::link_down:
      case Kind::flap:
        return {{what, {ip_, "link", "set", "dev", iface_, "down"}}};
      case Kind::blackhole:
        if (!nft_.empty()) {
          return {{what, {nft_, nft_table_script(table(kBlackholeTable), "drop", true)}}};
        }
        return {{what + " (output)", iptables_rule("-I", "OUTPUT", "-o", {})},
                {what + " (input)", iptables_rule("-I", "INPUT", "-i", {})}};
      case Kind::loss:
        if (netem_) {
          return {{what,
                   {tc_, "qdisc", "replace", "dev", iface_, "root", "netem", "loss",
                    fmt::format("{:.4f}%", fault.loss * 100)}}};
        }
        if (!nft_.empty()) {
          const long long n = std::llround(fault.loss * 10000);
          return {{what,
                   {nft_,
                    nft_table_script(table(kLossTable),
                                     fmt::format("numgen random mod 10000 < {} drop", n), false)}}};
        }
        return {{what, iptables_rule("-I", "OUTPUT", "-o",
                                     {"-m", "statistic", "--mode", "random", "--probability",
                                      fmt::format("{:.6f}", fault.loss)})}};
      case Kind::delay:
        return {{what,
                 {tc_, "qdisc", "replace", "dev", iface_, "root", "netem", "delay",
                  fmt::format("{}us", (fault.delay_ns + 500) / 1000)}}};
      case Kind::rate_limit:
        return {{what, tbf_replace(fault.rate_bits_per_s)}};
    }
    return {};
  }

  std::vector<Step> clear_steps(const Fault& fault) const override {
    const std::string what = fmt::format("clear {} on {}", to_string(fault.kind), iface_);
    switch (fault.kind) {
      case Kind::link_down:
      case Kind::flap:
        return {{what, {ip_, "link", "set", "dev", iface_, "up"}}};
      case Kind::blackhole:
        if (!nft_.empty()) return {{what, {nft_, "delete table inet " + table(kBlackholeTable)}}};
        return {{what + " (output)", iptables_rule("-D", "OUTPUT", "-o", {})},
                {what + " (input)", iptables_rule("-D", "INPUT", "-i", {})}};
      case Kind::loss:
        if (netem_) return {root_qdisc_back(fault.kind, what)};
        if (!nft_.empty()) return {{what, {nft_, "delete table inet " + table(kLossTable)}}};
        return {{what, iptables_rule("-D", "OUTPUT", "-o",
                                     {"-m", "statistic", "--mode", "random", "--probability",
                                      fmt::format("{:.6f}", fault.loss)})}};
      case Kind::delay:
        return {root_qdisc_back(fault.kind, what)};
      case Kind::rate_limit:
        // The fabric's own shaping comes back; without one the root qdisc as it was.
        if (link_rate_ > 0) return {{what + " (back to the link rate)", tbf_replace(link_rate_)}};
        return {root_qdisc_back(fault.kind, what)};
    }
    return {};
  }

  void set_link_rate(double bits_per_s) { link_rate_ = bits_per_s; }

  // A tc fault replaces the root qdisc. On the kernel's default root (handle 0:) its clear
  // deletes the fault's qdisc and the default comes back. A root qdisc someone configured is
  // read (tc -j) and saved: the clear, and the watchdog's restore, re-create it with its handle
  // and options. One that cannot be rebuilt (a tree of classes, child qdiscs or filters, a kind
  // or option not known) would be lost: refused, naming it and why.
  void check_in_place(const Fault& fault, std::uint64_t timeout_ns) override {
    const bool tc_fault = fault.kind == Kind::delay || fault.kind == Kind::rate_limit ||
                          (fault.kind == Kind::loss && netem_);
    if (!tc_fault || link_rate_ > 0 || tc_.empty()) return;
    saved_root_.erase(fault.kind);
    const auto shown = run_command("show the qdiscs of " + iface_,
                                   {tc_, "-j", "-r", "qdisc", "show", "dev", iface_}, timeout_ns);
    if (!shown.ok()) return;  // the fault's own tc command reports the problem
    if (detail::root_qdisc_is_default(shown.output)) return;
    const auto details = run_command("show the qdiscs of " + iface_ + " in detail",
                                     {tc_, "-j", "-d", "qdisc", "show", "dev", iface_}, timeout_ns);
    const auto filters = run_command("show the filters of " + iface_,
                                     {tc_, "-j", "filter", "show", "dev", iface_}, timeout_ns);
    auto plan = detail::plan_root_qdisc(shown.output, details.ok() ? details.output : "",
                                        filters.ok() ? filters.output : "");
    for (const auto* r : {&details, &filters}) {
      if (r->ok() || plan.action == detail::RootQdiscPlan::Action::refuse) continue;
      plan.action = detail::RootQdiscPlan::Action::refuse;
      plan.why = "tc could not show all of it: " + detail::failure_text(*r);
    }
    if (plan.action == detail::RootQdiscPlan::Action::restore) {
      saved_root_[fault.kind] = std::move(plan);
      return;
    }
    if (plan.action == detail::RootQdiscPlan::Action::delete_root) return;
    throw Error(ErrorKind::config,
                fmt::format("{} backend: {} has a configured root qdisc ({}) that cannot be saved "
                            "and put back: {}; a {} fault replaces the root qdisc, so that "
                            "configuration would be lost: remove it first, or use another "
                            "interface",
                            backend_, iface_, plan.what, plan.why, to_string(fault.kind)));
  }

 private:
  void firewall_needed(const char* kind) const {
    if (nft_.empty() && iptables_.empty()) {
      throw Error(ErrorKind::unavailable,
                  fmt::format("{} backend: {} needs nft or iptables; neither is installed",
                              backend_, kind));
    }
  }
  // The clear of a tc fault: the saved root qdisc re-created, or the root deleted (the kernel's
  // default comes back).
  Step root_qdisc_back(Kind kind, const std::string& what) const {
    const auto saved = saved_root_.find(kind);
    if (saved == saved_root_.end()) return {what, {tc_, "qdisc", "del", "dev", iface_, "root"}};
    std::vector<std::string> argv = {tc_, "qdisc", "replace", "dev", iface_, "root"};
    argv.insert(argv.end(), saved->second.args.begin(), saved->second.args.end());
    return {what + " (back to the saved root qdisc " + saved->second.what + ")", std::move(argv)};
  }

  std::vector<std::string> tbf_replace(double bits_per_s) const {
    std::vector<std::string> argv = {tc_, "qdisc", "replace", "dev", iface_, "root"};
    for (auto& a : detail::tbf_args(bits_per_s)) argv.push_back(std::move(a));
    return argv;
  }

  void tc_needed(const char* kind) const {
    if (tc_.empty()) {
      throw Error(ErrorKind::unavailable,
                  fmt::format("{} backend: {} needs 'tc' (iproute2), which is not installed",
                              backend_, kind));
    }
  }

  // One nft transaction: (re)creates the table (add+delete+add, so that a leftover goes) with an
  // output chain dropping on `oifname`, and with `both` an input chain dropping on `iifname`.
  // A table of this run's (the injecting process's pid in its name): two runs on one host never
  // clear each other's rules.
  std::string table(const char* kind) const { return std::string(kind) + "_" + run_tag_; }

  std::string nft_table_script(const std::string& table, const std::string& verdict,
                               bool both) const {
    std::string s =
        fmt::format("add table inet {0}; delete table inet {0}; add table inet {0}; ", table);
    s += fmt::format(
        "add chain inet {0} output {{ type filter hook output priority 0; policy accept; }}; "
        "add rule inet {0} output oifname \"{1}\" {2}",
        table, iface_, verdict);
    if (both) {
      s += fmt::format(
          "; add chain inet {0} input {{ type filter hook input priority 0; policy accept; }}; "
          "add rule inet {0} input iifname \"{1}\" {2}",
          table, iface_, verdict);
    }
    return s;
  }

  std::vector<std::string> iptables_rule(const char* op, const char* chain, const char* dir,
                                         const std::vector<std::string>& match) const {
    std::vector<std::string> argv{iptables_, "-w", "5", op, chain, dir, iface_};
    argv.insert(argv.end(), match.begin(), match.end());
    for (const char* w : {"-m", "comment", "--comment"}) argv.emplace_back(w);
    argv.push_back(std::string(kIptablesComment) + "-" + run_tag_);
    argv.emplace_back("-j");
    argv.emplace_back("DROP");
    return argv;
  }

  std::string backend_;
  std::string iface_;
  bool netem_;
  std::string ip_, tc_, nft_, iptables_;
  double link_rate_ = 0;  // netns: the fabric's shaping, restored after a rate_limit
  // The configured root qdisc each tc fault replaced, saved just before it (check_in_place).
  std::map<Kind, detail::RootQdiscPlan> saved_root_;
  std::string run_tag_;  // this run's part of rule and table names
};

// link: only a link down, on an allowed interface that does not carry the default route.
class LinkBackend final : public Backend {
 public:
  explicit LinkBackend(std::string iface) : iface_(std::move(iface)), ip_(detail::find_tool("ip")) {
    if (ip_.empty()) {
      throw Error(ErrorKind::unavailable, "link backend: 'ip' (iproute2) is not installed");
    }
  }
  std::string describe() const override { return "link:" + iface_; }
  bool uses_watchdog() const override { return true; }
  void check(const Fault& fault) const override {
    if (fault.kind != Kind::link_down && fault.kind != Kind::flap) {
      throw Error(ErrorKind::config,
                  fmt::format("link backend cannot cause {}: only link_down and flap (host tc "
                              "and nft do not touch the traffic of a hardware RoCE/IB NIC, which "
                              "bypasses the kernel)",
                              to_string(fault.kind)));
    }
  }
  std::vector<Step> inject_steps(const Fault& fault) const override {
    return {{fmt::format("inject {} on {}", to_string(fault.kind), iface_),
             {ip_, "link", "set", "dev", iface_, "down"}}};
  }
  std::vector<Step> clear_steps(const Fault& fault) const override {
    return {{fmt::format("clear {} on {}", to_string(fault.kind), iface_),
             {ip_, "link", "set", "dev", iface_, "up"}}};
  }

 private:
  std::string iface_;
  std::string ip_;
};

// ibport: ibportstate LID PORT disable / enable.
class IbportBackend final : public Backend {
 public:
  IbportBackend(std::string lid, std::string port, std::string tool)
      : lid_(std::move(lid)), port_(std::move(port)), tool_(std::move(tool)) {}
  std::string describe() const override { return "ibport:" + lid_ + ":" + port_; }
  bool uses_watchdog() const override { return true; }
  void check(const Fault& fault) const override {
    if (fault.kind != Kind::link_down && fault.kind != Kind::flap) {
      throw Error(ErrorKind::config,
                  fmt::format("ibport backend cannot cause {}: only link_down and flap "
                              "(ibportstate disables and enables a port)",
                              to_string(fault.kind)));
    }
  }
  std::vector<Step> inject_steps(const Fault& fault) const override {
    return {{fmt::format("inject {} on IB port {}:{}", to_string(fault.kind), lid_, port_),
             {tool_, lid_, port_, "disable"}}};
  }
  std::vector<Step> clear_steps(const Fault& fault) const override {
    return {{fmt::format("clear {} on IB port {}:{}", to_string(fault.kind), lid_, port_),
             {tool_, lid_, port_, "enable"}}};
  }

 private:
  std::string lid_, port_, tool_;
};

// command: the user's shell commands.
class CommandBackend final : public Backend {
 public:
  CommandBackend(std::string inject, std::string clear)
      : inject_(std::move(inject)), clear_(std::move(clear)) {}
  std::string describe() const override { return "command"; }
  bool uses_watchdog() const override { return true; }
  void check(const Fault&) const override {}
  std::vector<Step> inject_steps(const Fault& fault) const override {
    return {
        {fmt::format("inject {} by command", to_string(fault.kind)), {"/bin/sh", "-c", inject_}}};
  }
  std::vector<Step> clear_steps(const Fault& fault) const override {
    return {{fmt::format("clear {} by command", to_string(fault.kind)), {"/bin/sh", "-c", clear_}}};
  }

 private:
  std::string inject_, clear_;
};

std::atomic<unsigned> g_injector_serial{0};

// The Injector every backend shares: runs the steps in the namespace captured at make(),
// registers restores with the watchdog, remembers what is injected.
class BackendInjector final : public Injector {
 public:
  BackendInjector(std::unique_ptr<Backend> backend, Watchdog* watchdog, std::uint64_t timeout_ns,
                  std::string ip_tool)
      : backend_(std::move(backend)),
        watchdog_(watchdog),
        timeout_ns_(timeout_ns),
        serial_(++g_injector_serial),
        owner_(::getpid()) {
    // A restore run by the watchdog must act in this namespace, not the watchdog's: when it has
    // a name under /run/netns, the restore goes through `ip netns exec NAME`.
    const std::string name = detail::netns_name(netns_.id());
    if (!name.empty() && !ip_tool.empty()) restore_prefix_ = {ip_tool, "netns", "exec", name};
  }

  ~BackendInjector() override {
    if (::getpid() != owner_) return;  // a forked child's copy: the faults belong to the owner
    for (;;) {
      Fault fault;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (injected_.empty()) break;
        fault = injected_.begin()->second;
      }
      try {
        (void)clear(fault);
      } catch (...) {
      }
      std::lock_guard<std::mutex> lock(mu_);
      injected_.erase(fault.kind);  // best effort: the watchdog keeps its restore if it failed
    }
  }

  std::string describe() const override { return backend_->describe(); }

  void check(const Fault& fault) const override { backend_->check(fault); }

  std::vector<ActionRecord> inject(const Fault& fault) override {
    std::lock_guard<std::mutex> lock(mu_);
    backend_->check(fault);
    if (injected_.count(fault.kind) == 0) {  // again: what the first inject saw stays saved
      detail::ScopedNetns in(netns_);
      backend_->check_in_place(fault, timeout_ns_);
    }
    const auto steps = backend_->inject_steps(fault);
    const auto undo = backend_->clear_steps(fault);
    if (backend_->uses_watchdog()) {
      if (watchdog_ == nullptr) {
        throw Error(ErrorKind::runtime,
                    describe() + ": needs a watchdog to restore the link if fabricbench dies");
      }
      watchdog_->add_restore(restore_key(fault.kind), restore_argv(undo), timeout_ns_);
    }
    injected_[fault.kind] = fault;
    std::vector<ActionRecord> records;
    detail::ScopedNetns in(netns_);
    for (const auto& step : steps) {
      records.push_back(run_command(step.what, step.argv, timeout_ns_));
      if (records.back().ok()) continue;
      const std::string why = detail::failure_text(records.back());
      // Undo what may have taken effect; the fault stays registered if that fails too.
      bool undone = true;
      for (const auto& u : undo) {
        records.push_back(run_command(u.what + " (undo a failed inject)", u.argv, timeout_ns_));
        undone = undone && records.back().ok();
      }
      if (undone) forget(fault.kind);
      throw CommandFailed(fmt::format("{}: {} failed: {}", describe(), step.what, why),
                          std::move(records));
    }
    return records;
  }

  std::vector<ActionRecord> clear(const Fault& fault) override {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = injected_.find(fault.kind);
    if (it == injected_.end()) return {};
    const auto steps = backend_->clear_steps(it->second);  // as injected (iptables matches it)
    std::vector<ActionRecord> records;
    std::string why;
    {
      detail::ScopedNetns in(netns_);
      for (const auto& step : steps) {  // all of them, even after a failure
        records.push_back(run_command(step.what, step.argv, timeout_ns_));
        if (!records.back().ok() && why.empty()) {
          why = fmt::format("{}: {} failed: {}", describe(), step.what,
                            detail::failure_text(records.back()));
        }
      }
    }
    if (!why.empty()) throw CommandFailed(why, std::move(records));
    forget(fault.kind);
    return records;
  }

 private:
  std::string restore_key(Kind kind) const {
    return fmt::format("injector{}/{}/{}", serial_, backend_->describe(), to_string(kind));
  }

  std::vector<std::string> restore_argv(const std::vector<Step>& undo) const {
    std::vector<std::string> argv = restore_prefix_;
    if (undo.size() == 1) {
      argv.insert(argv.end(), undo[0].argv.begin(), undo[0].argv.end());
    } else {
      std::string script;
      for (const auto& u : undo) {
        if (!script.empty()) script += "; ";
        script += detail::shell_join(u.argv);
      }
      argv.insert(argv.end(), {"/bin/sh", "-c", script});
    }
    return argv;
  }

  void forget(Kind kind) {
    injected_.erase(kind);
    if (backend_->uses_watchdog() && watchdog_ != nullptr) {
      try {
        watchdog_->remove_restore(restore_key(kind));
      } catch (...) {
        // The watchdog is gone; the fault is cleared, so there is nothing left to restore.
      }
    }
  }

  std::unique_ptr<Backend> backend_;
  Watchdog* watchdog_;
  std::uint64_t timeout_ns_;
  unsigned serial_;
  pid_t owner_;
  detail::NetnsHandle netns_;
  std::vector<std::string> restore_prefix_;
  std::mutex mu_;  // inject/clear from several threads run one at a time
  std::map<Kind, Fault> injected_;
};

}  // namespace

Kind parse_kind(std::string_view text) {
  for (Kind k :
       {Kind::link_down, Kind::flap, Kind::blackhole, Kind::loss, Kind::delay, Kind::rate_limit}) {
    if (text == to_string(k)) return k;
  }
  throw std::invalid_argument(
      fmt::format("unknown fault kind '{}' (expected link_down, flap, blackhole, loss, delay or "
                  "rate_limit)",
                  text));
}

const char* to_string(Kind kind) noexcept {
  switch (kind) {
    case Kind::link_down:
      return "link_down";
    case Kind::flap:
      return "flap";
    case Kind::blackhole:
      return "blackhole";
    case Kind::loss:
      return "loss";
    case Kind::delay:
      return "delay";
    case Kind::rate_limit:
      return "rate_limit";
  }
  return "?";
}

CommandFailed::CommandFailed(const std::string& message, std::vector<ActionRecord> records)
    : core::Error(core::ErrorKind::runtime, message), records_(std::move(records)) {}

std::unique_ptr<Injector> Injector::make(const BackendConfig& config, Watchdog* watchdog) {
  const std::string& b = config.backend;
  const std::uint64_t timeout =
      config.command_timeout_ns == 0 ? detail::kDefaultCommandTimeoutNs : config.command_timeout_ns;
  const std::string ip = detail::find_tool("ip");
  auto needs_watchdog = [&] {
    if (watchdog == nullptr) {
      throw Error(ErrorKind::runtime,
                  b + " backend needs a watchdog (it restores the link if fabricbench dies)");
    }
  };
  if (b != "netns" && config.link_rate_bits_per_s != 0) {
    throw std::invalid_argument("link_rate applies to the netns backend only");
  }
  std::unique_ptr<Backend> backend;
  if (b == "netns") {
    const std::string iface = "fbd0";
    // Never on the host's own interfaces: the caller must be inside a namespace of its own.
    const auto here = detail::current_netns();
    const auto host = detail::netns_of_pid(1);
    if (here && host && *here == *host) {
      throw Error(ErrorKind::unavailable,
                  "netns backend: the caller is in the initial network namespace; it acts only "
                  "inside a fabric namespace (NetnsFabric::enter first)");
    }
    auto net = std::make_unique<NetBackend>("netns", iface, false);
    net->set_link_rate(config.link_rate_bits_per_s);
    backend = std::move(net);
    check_interface_exists("netns", iface);
  } else if (b == "vm") {
    const std::string iface = config.target.empty() ? "eth0" : config.target;
    check_interface_name("vm", iface);
    needs_watchdog();
    backend = std::make_unique<NetBackend>("vm", iface, true);
    check_interface_exists("vm", iface);
    refuse_default_route("vm", iface, config.force);
  } else if (b == "link") {
    check_interface_name("link", config.target);
    bool allowed = false;
    for (const auto& a : config.allow) allowed = allowed || a == config.target;
    if (!allowed) {
      throw Error(
          ErrorKind::config,
          fmt::format("link backend: interface '{}' is not in the allow list", config.target));
    }
    needs_watchdog();
    backend = std::make_unique<LinkBackend>(config.target);
    check_interface_exists("link", config.target);
    refuse_default_route("link", config.target, config.force);
  } else if (b == "ibport") {
    const auto colon = config.target.find(':');
    auto number = [](std::string_view s) {
      unsigned long v = 0;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      return !s.empty() && ec == std::errc() && end == s.data() + s.size();
    };
    if (colon == std::string::npos || !number(std::string_view(config.target).substr(0, colon)) ||
        !number(std::string_view(config.target).substr(colon + 1))) {
      throw Error(ErrorKind::config,
                  fmt::format("ibport backend: target must be LID:PORT (decimal), got '{}'",
                              config.target));
    }
    if (!config.allow.empty()) {
      bool allowed = false;
      for (const auto& a : config.allow) allowed = allowed || a == config.target;
      if (!allowed) {
        throw Error(ErrorKind::config,
                    fmt::format("ibport backend: '{}' is not in the allow list", config.target));
      }
    }
    needs_watchdog();
    const std::string tool =
        require_tool("ibportstate", "infiniband-diags, for the ibport backend");
    backend = std::make_unique<IbportBackend>(config.target.substr(0, colon),
                                              config.target.substr(colon + 1), tool);
  } else if (b == "command") {
    if (config.inject.empty() || config.clear.empty()) {
      throw Error(ErrorKind::config, "command backend needs both 'inject' and 'clear' commands");
    }
    needs_watchdog();
    backend = std::make_unique<CommandBackend>(config.inject, config.clear);
  } else {
    throw Error(ErrorKind::config,
                fmt::format("unknown fault backend '{}' (expected netns, vm, link, ibport or "
                            "command)",
                            b));
  }
  return std::make_unique<BackendInjector>(std::move(backend), watchdog, timeout, ip);
}

}  // namespace fabricbench::faults
