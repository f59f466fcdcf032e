#pragma once
// The TCP side channel every launcher ends up on: a star with rank 0 as the hub.
// Peers authenticate with a per-job secret (HMAC-SHA256 challenge/response, OpenSSL); a
// connection that fails the handshake is closed and logged as refused, never admitted.
#include <memory>
#include <string>

#include "harness/bootstrap/bootstrap.hpp"

namespace fabricbench::bootstrap {

struct SideChannelConfig {
  int rank = 0;
  int size = 1;
  std::string launcher = "env";
  std::string root_address;  // "host:port", "[v6]:port"; rank 0 listens there unless listen_fd
  int listen_fd = -1;        // rank 0 only: an already-bound listening socket (local launcher)
  std::string secret;        // per-job secret shared by all ranks; must not be empty
  Options options;
};

// Rank 0 accepts size-1 authenticated peers; other ranks connect (retrying until timeout).
// Throws core::Error naming the rank(s) that never arrived.
std::unique_ptr<Bootstrap> connect_side_channel(const SideChannelConfig& config);

// A fresh random secret (hex, 32 bytes of entropy).
std::string generate_secret();

}  // namespace fabricbench::bootstrap
