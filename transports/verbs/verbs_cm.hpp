#pragma once
// The rdma_cm connection path of the verbs transport (internal).
//
// Each rank listens on the IP address of its device's netdev (port chosen by the system) and
// publishes "address port token" through the exchange; the lower rank of each pair then connects
// `connections_per_peer` times. Queue pairs are created on the transport's own context and PD
// (librdmacm's "manual QP" mode: rdma_init_qp_attr gives the attributes for INIT, RTR and RTS),
// so memory registered with the transport works with them. The connection's private data carries
// rank, connection index, the other side's published token (a stranger is rejected) and the
// internal region used by liveness probes. Every wait is bounded by connect_timeout_ns.
//
// After connecting, a thread watches the event channel: RDMA_CM_EVENT_DISCONNECTED from a peer
// makes that endpoint's next poll() (once its completion queue is empty) or post() throw
// ErrorKind::peer_lost naming the rank; late connection requests are rejected.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "transports/verbs/verbs_device.hpp"
#include "transports/verbs/verbs_endpoint.hpp"

namespace fabricbench::transport::verbs {

struct CmPeer {
  int rank = 0;
  std::string address;
  int port = 0;
  std::uint64_t token = 0;
};

class CmSession;

class CmListener {
 public:
  // Opens the event channel and listens. Throws core::Error(config) when the device's netdev has
  // no IP address, (runtime) when librdmacm fails.
  CmListener(std::shared_ptr<Device> device, const Options& options);
  ~CmListener();
  CmListener(const CmListener&) = delete;
  CmListener& operator=(const CmListener&) = delete;

  const std::string& address() const noexcept;
  int port() const noexcept;
  std::uint64_t token() const noexcept;

  // Connects to every peer (`n` connections each), grouped by peer in `peers` order.
  std::vector<std::unique_ptr<VerbsEndpoint>> connect_all(int me, const std::vector<CmPeer>& peers,
                                                          int n, QpKind kind);

 private:
  std::shared_ptr<CmSession> session_;
};

}  // namespace fabricbench::transport::verbs
