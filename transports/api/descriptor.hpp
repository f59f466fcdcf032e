#pragma once
// What a point-to-point transport tells the rest of fabricbench about itself: its name, the keys
// of its section in an experiment file (`tcp: {...}`), their cross-field checks, the traits the
// engine and the loader need (connections per pair, what its traffic crosses, the default
// recovery-curve bin) and how resolved settings become a Transport. Each transport folder
// exports one function returning its Descriptor; harness/cli's registry table lists them
// (docs/ARCHITECTURE.md, "How to add a transport").
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/settings.hpp"
#include "transports/api/transport.hpp"

namespace fabricbench::transport {

// What the engine passes to every transport besides its own settings.
struct OpenParams {
  CompletionMode completion = CompletionMode::busy_poll;
  std::uint64_t connect_timeout_ns = 30'000'000'000;  // the experiment's peer timeout
  // on_break reconnect: a broken connection is re-established (ConnectionEvent) instead of
  // failing, for at most reconnect_timeout_ns.
  bool reconnect = false;
  std::uint64_t reconnect_timeout_ns = 30'000'000'000;
};

// Copies the common parameters into a transport's Options (each has these four fields).
template <typename Options>
void apply_common(const OpenParams& common, Options& o) {
  o.completion = common.completion;
  o.connect_timeout_ns = common.connect_timeout_ns;
  o.reconnect = common.reconnect;
  o.reconnect_timeout_ns = common.reconnect_timeout_ns;
}

// What a transport's traffic crosses, for the fault injectors: the kernel's IP stack (faults
// made with ip, tc and nft in a namespace reach it) or an RDMA device (ibportstate reaches it;
// a namespace without the device does not).
enum class Traffic { ip, rdma };

struct Descriptor {
  std::string name;         // the `transport:` value and the name of its section of keys
  std::string description;  // one line for `fabricbench list`
  std::vector<core::KeyDecl> keys;
  core::KeyCheck check;  // optional
  std::string example;   // a mapping of its settings for messages, e.g. "{nodelay: true}"
  // The key giving connections (or queue pairs) per pair of ranks, and the console's noun.
  std::string connections_key;
  std::string connection_noun = "connection(s)";
  // The key asking for a completion for one send in N (stream senders), or "": every send.
  std::string signal_every_key;
  Traffic traffic = Traffic::ip;
  std::uint64_t fault_bin_ns = 100'000'000;  // default recovery-curve bin of a fault
  // With the netns injector (ranks in two namespaces joined by a veth): why its data connections,
  // as set, would not cross the veth `veth` (nullopt: they do). Unset: nothing to check.
  std::function<std::optional<std::string>(const core::Settings& own, const std::string& veth)>
      namespace_refusal;
  // Why it cannot run on this host (no device, built without its library), or nullopt.
  std::function<std::optional<std::string>()> unavailable_reason;
  // Empty when the transport is not built into this binary (its keys still validate).
  std::function<std::unique_ptr<Transport>(const core::Settings& own, const OpenParams& common)>
      make;
};

}  // namespace fabricbench::transport
