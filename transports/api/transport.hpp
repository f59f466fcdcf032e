#pragma once
// The transport interface: post work and poll completions separately (fio's queue/getevents
// split), so one loop drives sockets, verbs, libfabric and NCCL alike.
//
// Rules every transport follows (checked by the shared contract tests):
//  - A transport never reads a clock for measurement; the engine's loop does.
//  - post() never blocks. If the endpoint cannot take the request now it returns false (the
//    caller polls and retries); it throws core::Error on a broken connection.
//  - poll() never blocks; it makes progress and returns completed requests. wait() blocks
//    until at least one completion or the timeout, returning 0 on timeout.
//  - A failed operation (connection reset, completion in error) throws core::Error whose
//    message names the peer rank and the cause (errno text, ibv_wc_status_str, ...).
//  - Receives complete in posting order per endpoint; a message goes into the oldest posted
//    receive buffer, which must be large enough (else error).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "transports/api/exchange.hpp"
#include "transports/api/memory.hpp"

namespace fabricbench::transport {

enum class Op : std::uint8_t { send, recv, write, write_imm, read, fetch_add, compare_swap };
const char* op_name(Op op) noexcept;

enum class CompletionMode { busy_poll, blocking };

struct Capabilities {
  bool send_recv = false;
  bool write = false;
  bool write_imm = false;
  bool read = false;
  bool atomics = false;
  bool busy_poll = false;
  bool blocking = false;
  std::size_t max_message_size = 0;
  // It registers memory the CPU cannot address (GPU memory: verbs through dma-buf or
  // nvidia-peermem) or refuses it with the reason itself; false: the engine stages such memory
  // through page-locked host buffers (staging.hpp).
  bool device_memory = false;
  // register_memory pins host pages (ibv_reg_mr): without CAP_IPC_LOCK they count against the
  // process's RLIMIT_MEMLOCK, and a registration beyond it fails. false: nothing is pinned.
  bool pins_memory = false;
  // The RDMA device its traffic crosses ("mlx5_0"; "" for none): `gpu: auto` takes the GPU
  // nearest it (MemoryProvider::place_near).
  std::string rdma_device;
};

// A registered buffer. Keys are transport-defined (verbs lkey/rkey; 0 for TCP).
struct MemoryRegion {
  Buffer buffer;
  std::uint64_t local_key = 0;
  std::uint64_t remote_key = 0;
  std::uint64_t handle = 0;  // transport-private
  // How it was registered, for the run document: "ibv_reg_mr", "ibv_reg_dmabuf_mr (vgem)",
  // "staged through cuda_host", "none (sockets)".
  std::string registration;
};

// What a peer needs to target a region with one-sided operations.
struct RemoteRegion {
  std::uint64_t addr = 0;
  std::uint64_t key = 0;
  std::uint64_t length = 0;
};

struct WorkRequest {
  Op op = Op::send;
  std::uint64_t wr_id = 0;
  const MemoryRegion* local = nullptr;
  std::size_t offset = 0;  // into local
  std::size_t length = 0;
  RemoteRegion remote{};            // one-sided ops
  std::uint64_t remote_offset = 0;  // one-sided ops
  std::uint32_t imm = 0;            // write_imm, and a 32-bit tag carried by send
  std::uint64_t compare_add = 0;    // atomics
  std::uint64_t swap = 0;           // compare_swap
  bool signaled = true;             // false: no completion is reported for it
};

struct Completion {
  std::uint64_t wr_id = 0;
  Op op = Op::send;
  std::uint32_t bytes = 0;  // received length for recv
  std::uint32_t imm = 0;    // tag/immediate delivered with a recv
};

// One connection (or queue pair) to one peer rank.
class Endpoint {
 public:
  virtual ~Endpoint() = default;
  virtual int peer() const = 0;
  virtual bool post(const WorkRequest& request) = 0;
  virtual std::size_t poll(std::span<Completion> out) = 0;
  virtual std::size_t wait(std::span<Completion> out, std::uint64_t timeout_ns) = 0;
  // Most requests that can be outstanding at once.
  virtual std::size_t queue_depth() const = 0;
  // Shown in the run document: addresses, ports, QPN, socket options as applied, ...
  virtual std::string describe() const = 0;
};

// The first byte of a request's local range [offset, offset + length) in its region, for
// transports' post(). nullptr for a zero-length request without memory. Throws
// core::Error(runtime) "<transport>: post(<what>) ..." when there is no region, the range is
// outside it, or the region has no address.
std::byte* local_range(const WorkRequest& request, const char* transport, const char* what);

// A connection's life when the transport rides through breaks (Options::reconnect of tcp and
// verbs): a connection that breaks is re-established with its peer instead of failing, and each
// step is reported here. Stamped with CLOCK_REALTIME (wall_ns, to place it on the run's
// timeline) and CLOCK_MONOTONIC (mono_ns, the clock of core::now_ns()); not measurements.
struct ConnectionEvent {
  std::uint64_t wall_ns = 0;
  std::uint64_t mono_ns = 0;
  // "connection.broken": the connection failed (cause says how: errno text, ibv_wc_status_str,
  //   "peer reconnected"); the endpoint stops taking requests and starts re-establishing it.
  // "connection.reconnected": it works again; outage_ns = since the break, attempts = connection
  //   attempts it took, lost_messages = messages this side had completed as sent that the peer
  //   never received (they are not resent), resent_messages = requests that were in flight and
  //   were posted again on the new connection.
  // "connection.reconnect_failed": not back within reconnect_timeout; the endpoint then fails
  //   with core::Error(peer_lost) naming the cause and the timeout.
  std::string kind;
  int peer = -1;      // peer rank
  int index = 0;      // connection index within the peer
  std::string role;   // "connector" (re-establishes) or "acceptor" (waits for it)
  std::string cause;  // broken, reconnect_failed: why; reconnected: the original cause
  std::uint64_t outage_ns = 0;
  std::uint64_t attempts = 0;
  std::uint64_t lost_messages = 0;
  std::uint64_t resent_messages = 0;
};

// Implemented (dynamic_cast) by transports whose connections can report their life.
class ConnectionEventSource {
 public:
  virtual ~ConnectionEventSource() = default;
  // Events of every endpoint this transport made, since the last call, oldest first. Endpoints
  // may outlive the transport object; their later events are then lost. Thread-safe.
  virtual std::vector<ConnectionEvent> drain_connection_events() = 0;
};

// Traffic on one rail of a transport that stripes across several devices (verbs.devices).
struct RailTraffic {
  std::string rail;         // the device ("mlx5_0")
  std::uint64_t bytes = 0;  // payload bytes of the requests posted on it (receives excluded)
  std::uint64_t requests = 0;
};

// Implemented (dynamic_cast) by transports that stripe across rails. Thread-safe.
class RailTrafficSource {
 public:
  virtual ~RailTrafficSource() = default;
  // Every rail, in order, counted since the transport was made (by every endpoint it made).
  virtual std::vector<RailTraffic> rail_traffic() const = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::string name() const = 0;
  virtual Capabilities capabilities() const = 0;
  virtual MemoryRegion register_memory(const Buffer& buffer) = 0;
  virtual void deregister_memory(MemoryRegion& region) noexcept = 0;
  // Collective: every rank calls it with the same `connections_per_peer`. Connects this rank to
  // each rank in `peers` (the relation must be symmetric) using the side channel `exchange` and
  // returns connections_per_peer endpoints per peer, grouped by peer in `peers` order.
  virtual std::vector<std::unique_ptr<Endpoint>> connect(Exchange& exchange,
                                                         const std::vector<int>& peers,
                                                         int connections_per_peer) = 0;
};

}  // namespace fabricbench::transport
