#pragma once
// The control connections of the verbs transport's reconnect (internal, Options::reconnect).
//
// Each rank listens on one TCP port (on the IPv4 address of its device's netdev, else the first
// non-loopback IPv4 address, else 127.0.0.1) and publishes "address port token" in the same
// exchange allgather as its queue pairs. For each pair of ranks the lower rank connects once per
// connection index and sends a 32-byte hello naming its rank, the index, the acceptor's token and
// its own; the acceptor checks both tokens (a stranger that does not know them is dropped) and
// answers with an ack the connector checks likewise. Every wait is bounded by the timeout. The
// sockets are then handed to the endpoints, non-blocking, with TCP_NODELAY.
//
// Then each connector sends one time probe (its CLOCK_REALTIME) on each of its connections, and
// each acceptor answers with its own CLOCK_REALTIME: the connector's estimate of how far the
// peer's wall clock is ahead of its own (error at most half the round trip). Not a measurement:
// shown by describe(), so events of two hosts can be placed on one timeline.
#include <cstdint>
#include <string>
#include <vector>

#include "transports/verbs/verbs_device.hpp"

namespace fabricbench::transport::verbs {

struct ControlConnection {
  int fd = -1;
  bool clock_known = false;
  std::int64_t peer_clock_offset_ns = 0;  // peer's CLOCK_REALTIME minus ours (connector only)
  std::uint64_t clock_error_ns = 0;       // half the probe's round trip
};

struct ControlPeer {
  int rank = 0;
  std::string address;
  int port = 0;
  std::uint64_t token = 0;
};

class ControlListener {
 public:
  // Throws core::Error(runtime) when no socket can be opened.
  explicit ControlListener(const Device& device);
  ~ControlListener();
  ControlListener(const ControlListener&) = delete;
  ControlListener& operator=(const ControlListener&) = delete;

  const std::string& address() const noexcept { return address_; }
  int port() const noexcept { return port_; }
  std::uint64_t token() const noexcept { return token_; }

  // One connected socket per (peer, connection index), grouped by peer in `peers` order; the
  // caller owns them. Throws core::Error naming the peer when one cannot be made in time.
  std::vector<ControlConnection> connect_all(int me, const std::vector<ControlPeer>& peers, int n,
                                             std::uint64_t timeout_ns);

 private:
  int fd_ = -1;
  std::string address_;
  int port_ = 0;
  std::uint64_t token_ = 0;
};

}  // namespace fabricbench::transport::verbs
