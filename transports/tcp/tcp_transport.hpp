#pragma once
// TCP transport: send/recv over stream sockets, framed, non-blocking, busy-poll or blocking.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "transports/api/transport.hpp"

namespace fabricbench::transport::tcp {

struct Options {
  // Address this rank binds its listener to and advertises to peers. "auto": the first address
  // of `interface` if given, else 127.0.0.1 when all ranks share this host. A literal IPv4/IPv6
  // address or a host name may be given.
  std::string address = "127.0.0.1";
  std::string interface;          // bind to this interface (its first address of `family`)
  std::string family = "auto";    // auto | ipv4 | ipv6
  bool nodelay = true;            // TCP_NODELAY
  std::uint64_t sndbuf = 0;       // SO_SNDBUF, 0 = kernel default (autotuning kept)
  std::uint64_t rcvbuf = 0;       // SO_RCVBUF, 0 = kernel default
  CompletionMode completion = CompletionMode::busy_poll;
  std::size_t queue_depth = 1024; // max outstanding posted requests per endpoint (each direction)
  std::uint64_t connect_timeout_ns = 30'000'000'000;
};

std::unique_ptr<Transport> make_tcp_transport(const Options& options);

}  // namespace fabricbench::transport::tcp
