// The tcp transport's keys (`tcp: {...}` in an experiment file, docs/CONFIG.md "tcp keys"), their
// cross-field checks, and how resolved settings become Options.
#include "transports/tcp/tcp_descriptor.hpp"

#include <string>

#include "core/units.hpp"
#include "transports/tcp/tcp_transport.hpp"

namespace fabricbench::transport::tcp {
namespace {

using core::KeyType;

constexpr std::uint64_t kGiB = 1ULL << 30;
constexpr std::uint64_t kNsPerS = 1'000'000'000;

std::vector<core::KeyDecl> keys() {
  return {
      core::text_key("address", KeyType::address, "auto",
                     "Address each rank binds and advertises (IPv4 or IPv6 literal; auto or \"\": "
                     "the first address of tcp.interface, else the address the side channel "
                     "reaches the other ranks from, 127.0.0.1 on one host)."),
      core::text_key("interface", KeyType::interface_name, "",
                     "Network interface to bind to (also SO_BINDTODEVICE)."),
      core::choice_key("family", {"auto", "ipv4", "ipv6"}, "auto", "Address family."),
      core::flag_key("nodelay", true, "TCP_NODELAY (no Nagle delay)."),
      core::size_key("sndbuf", 0, kGiB, 0, "SO_SNDBUF in bytes; 0 keeps the kernel's autotuning.")
          .plan("sndbuf_bytes"),
      core::size_key("rcvbuf", 0, kGiB, 0, "SO_RCVBUF in bytes; 0 keeps the kernel's autotuning.")
          .plan("rcvbuf_bytes"),
      core::count_key("connections", 1, 64, 1, "Connections per pair of ranks."),
      core::duration_key("user_timeout", 0, 3600 * kNsPerS, 0,
                         "TCP_USER_TIMEOUT (with keepalive); 0: the kernel's.")
          .plan("user_timeout_ns"),
  };
}

std::vector<core::KeyProblem> check(const core::Settings& own, const core::CaseFacts& /*c*/) {
  std::vector<core::KeyProblem> problems;
  const std::string& address = own.text("address");
  const std::string& family = own.text("family");
  const bool v6 = address.find(':') != std::string::npos;
  if (!address.empty() && address != "auto" &&
      ((family == "ipv4" && v6) || (family == "ipv6" && !v6))) {
    problems.push_back({{"tcp.address"},
                        "tcp.address " + address + " is not an " + (v6 ? "IPv4" : "IPv6") +
                            " address (tcp.family is " + family + ")"});
  }
  return problems;
}

}  // namespace

Options options_from(const core::Settings& own, const OpenParams& common) {
  Options o;
  o.address = own.text("address");
  o.interface = own.text("interface");
  o.family = own.text("family");
  o.nodelay = own.flag("nodelay");
  o.sndbuf = static_cast<std::uint64_t>(own.integer("sndbuf"));
  o.rcvbuf = static_cast<std::uint64_t>(own.integer("rcvbuf"));
  o.user_timeout_ns = static_cast<std::uint64_t>(own.integer("user_timeout"));
  apply_common(common, o);
  return o;
}

Descriptor descriptor() {
  Descriptor d;
  d.name = "tcp";
  d.description = "TCP sockets: send/recv, busy-poll or blocking completions, IPv4/IPv6";
  d.keys = keys();
  d.check = check;
  d.example = "{nodelay: true}";
  d.connections_key = "connections";
  d.connection_noun = "connection(s)";
  d.traffic = Traffic::ip;
  d.fault_bin_ns = 100'000'000;
  d.unavailable_reason = [] { return std::optional<std::string>(); };
  // The netns injector runs the ranks in two namespaces joined by a veth: data connections must
  // cross it (the loopback of each namespace reaches no peer).
  d.namespace_refusal = [](const core::Settings& own,
                           const std::string& veth) -> std::optional<std::string> {
    const std::string& address = own.text("address");
    if ((address.empty() || address == "auto") && own.text("interface") == veth) {
      return std::nullopt;
    }
    return "with injector netns the data connections must use the veth between the namespaces: "
           "set tcp: {address: auto, interface: " +
           veth + "}";
  };
  d.make = [](const core::Settings& own, const OpenParams& common) {
    return make_tcp_transport(options_from(own, common));
  };
  return d;
}

}  // namespace fabricbench::transport::tcp
