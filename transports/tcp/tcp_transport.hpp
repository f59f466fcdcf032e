#pragma once
// TCP transport: send/recv over stream sockets, framed, non-blocking, busy-poll or blocking.
//
// connect() opens a listener, exchanges "addr:port", a per-rank random token, the connection
// count and the peer list through exchange.allgather, then the lower rank of each pair opens
// `connections_per_peer` sockets to the higher rank. Each connection starts with a 32-byte hello
// (rank, connection index, both ranks' tokens) answered by the same from the acceptor, so
// accepted sockets are matched to (peer, index) whatever the accept order and a stranger that
// does not know the tokens is closed, never admitted.
//
// Wire format per message: a 16-byte little-endian header {u32 length, u32 tag (imm), u32 flags
// (0), u32 reserved (0)}, then `length` payload bytes.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "transports/api/transport.hpp"

namespace fabricbench::transport::tcp {

struct Options {
  // Address this rank binds its listener to and advertises to peers. "auto" (or empty): the first
  // address of `interface` (of `family`) if given, else the address this host's side channel
  // uses to reach the other ranks (Exchange::local_address(): a file that runs on one host runs
  // across hosts unchanged), else 127.0.0.1 (::1 for family ipv6). A literal IPv4/IPv6 address
  // or a host name may be given; with `interface` set it must be one of that interface's
  // addresses.
  std::string address = "auto";
  std::string interface;        // bind to this interface (its first address of `family`)
  std::string family = "auto";  // auto | ipv4 | ipv6
  bool nodelay = true;          // TCP_NODELAY
  std::uint64_t sndbuf = 0;     // SO_SNDBUF, 0 = kernel default (autotuning kept)
  std::uint64_t rcvbuf = 0;     // SO_RCVBUF, 0 = kernel default
  CompletionMode completion = CompletionMode::busy_poll;
  std::size_t queue_depth = 1024;  // max outstanding posted requests per endpoint (each direction)
  std::uint64_t connect_timeout_ns = 30'000'000'000;
  // A broken connection (reset, timed out, closed by the peer's kernel) is re-established with
  // the peer instead of failing (ConnectionEvent, in transport.hpp); false: the endpoint throws.
  bool reconnect = false;
  std::uint64_t reconnect_timeout_ns = 30'000'000'000;  // give up (peer_lost) after this long
  // TCP_USER_TIMEOUT (0: the kernel's, ~15 min of retransmissions): how long data may stay
  // unacknowledged before the kernel declares the connection dead. Non-zero also turns on
  // keepalive (idle and interval max(1 s, user_timeout / 3)) so a side with nothing to send
  // notices a dead peer too.
  std::uint64_t user_timeout_ns = 0;
};

// Validates the options and resolves the address (no traffic for literal addresses and "auto";
// a host name goes through getaddrinfo, bounded by the resolver's own timeout). Throws
// core::Error(config) naming the bad option (unknown family, unparsable or non-local-family
// address, unknown interface, queue_depth 0, buffer size too large).
std::unique_ptr<Transport> make_tcp_transport(const Options& options);

}  // namespace fabricbench::transport::tcp
