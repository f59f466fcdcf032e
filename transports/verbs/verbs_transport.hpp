#pragma once
// Verbs transport: RDMA over libibverbs (InfiniBand, RoCE, Soft-RoCE), connected through the
// bootstrap exchange or through librdmacm.
//
// Resources. One device context, one protection domain and one small internal region per
// transport (shared by its endpoints, kept alive by them, so endpoints may outlive the transport
// object); one completion queue (plus, in blocking mode, one completion channel) and one queue
// pair per endpoint. Per-endpoint CQs keep Endpoint::poll() local to its endpoint: no completion
// ever has to be routed to, or stashed for, another endpoint, and endpoints driven from different
// threads share no hot-path state.
//
// Operations. send carries the 32-bit tag as immediate data (SEND_WITH_IMM); write, write_imm
// (consumes a posted receive at the target, which completes as op recv with imm and the write's
// length), read, fetch_add and compare_swap (8 bytes, 8-byte aligned at both ends). A request
// with signaled=false is posted unsignaled when it may be: the transport signals at least every
// cq_moderation-th send-queue request and always the one that fills the queue, so the send queue
// never overflows; completions of requests the caller did not ask for are never reported.
//
// Receive diagnostics. Every receive carries a second scatter entry into an internal discard area
// of recv_overflow_bytes, so a message longer than the posted buffer is reported with both sizes
// ("message of 4096 bytes ... does not fit the posted receive buffer of 1024 bytes") instead of a
// bare IBV_WC_LOC_LEN_ERR. Nothing is ever written into the caller's buffer past its length.
//
// Liveness. RC queue pairs only learn that a peer went away when they send. While wait() finds
// nothing for liveness_interval_ns, it posts one zero-length RDMA WRITE to the peer's internal
// region (no memory changes, no receive consumed); a vanished peer then ends in
// IBV_WC_RETRY_EXC_ERR, reported as ErrorKind::peer_lost naming the rank, never as a hang.
// poll() alone reads no clock and sends nothing of its own.
//
// Soft-RoCE. rxe retries forever when retry_count is 7 (the IB spec means 7 retries), so there 7
// is applied as 6 and describe() says so ("adjusted=..."); otherwise a vanished peer would never
// end in IBV_WC_RETRY_EXC_ERR.
//
// rdma_cm. Queue pairs live on the transport's own context and PD (librdmacm's "manual QP" mode,
// attributes from rdma_init_qp_attr), so regions registered with the transport work with them;
// the address is the first IPv4 (else IPv6) address of the selected port's netdev. A peer's
// RDMA_CM_EVENT_DISCONNECTED ends its endpoints with ErrorKind::peer_lost once their completion
// queues are drained.
//
// Reconnect (Options::reconnect, RC through the bootstrap exchange only). connect() also makes
// one small TCP control connection per endpoint pair (lower rank connects, tokens from the
// allgather checked both ways). A QP that fails (a completion in error other than the caller's
// own mistakes, QP_FATAL, the port down past the retransmission budget) is taken to ERR and
// replaced; both sides swap new QPN/PSN and their receive counts on the control connection, go to
// RTR/RTS once the port is ACTIVE, re-post the receives still posted and post again the sends the
// peer never received (resent_messages). Meanwhile post() returns false and poll() reports
// nothing; completions are reported exactly once. Events: transport::ConnectionEventSource. Not
// back within reconnect_timeout_ns, or the control connection closed: ErrorKind::peer_lost.
// Atomics in flight at the break may execute twice (they are resent when their outcome is
// unknown); sends and write_imm are exact (the peer's receive count says what arrived); writes and
// reads whose outcome is unknown are repeated (harmless unless the target changed meanwhile).
//
// Clocks. Transports never read a clock for measurement. The exceptions here are not
// measurements: wait() reads CLOCK_MONOTONIC for its timeout and the liveness interval (as the
// TCP transport does), and the async-event thread stamps each event with CLOCK_REALTIME and
// CLOCK_MONOTONIC so a link fault can be placed on the run's timeline.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transports/api/transport.hpp"

namespace fabricbench::transport::verbs {

struct Options {
  std::string device;  // "" = automatic (first device with an ACTIVE port), else "rxe0", "mlx5_0"
  std::string netdev;  // select the device whose port's netdev is this (e.g. "eth0"); exclusive
                       // with device
  // Multi-rail: every device this rank uses (verbs_rails.hpp); exclusive with device and netdev.
  // One entry is the same as `device`.
  std::vector<std::string> devices;
  int port = 0;        // 0 = first ACTIVE port
  int gid_index = -1;  // -1 = automatic: RoCEv2 IPv4-mapped GID first, then RoCEv2, then any
                       // non-zero GID; InfiniBand: 0
  std::string qp_type = "rc";  // rc | uc | ud (uc: send/write/write_imm; ud: send/recv only)
  int mtu = 0;  // 0 = the port's active MTU, else 256/512/1024/2048/4096, at most the active MTU
  std::uint32_t queue_depth = 128;  // send and receive queue size per QP (requests the caller may
                                    // have outstanding in each direction)
  std::uint32_t inline_size = 0;    // max inline data (0 = none); error if the device refuses
  std::uint32_t cq_moderation = 1;  // a send-queue request is signaled at least every Nth one
                                    // (perftest --cq-mod); 1 = every request is signaled in
                                    // hardware, only those the caller asked for are reported
  std::uint8_t sl = 0;              // service level (0..15)
  std::uint8_t traffic_class = 0;   // GRH traffic class (RoCE: DSCP << 2 | ECN)
  std::uint8_t timeout = 14;        // local ACK timeout, 4.096 us * 2^timeout (0..31)
  std::uint8_t retry_count = 7;     // transport retries (0..7)
  std::uint8_t rnr_retry = 7;       // receiver-not-ready retries (0..7, 7 = infinite)
  std::uint32_t max_rd_atomic = 0;  // outstanding reads/atomics; 0 = the device's limits
                                    // (perftest's default), else clamped to them
  CompletionMode completion = CompletionMode::busy_poll;  // blocking = completion channel
  bool use_rdma_cm = false;  // connect through rdma_cm instead of the bootstrap exchange
  // auto: ibv_reg_dmabuf_mr where the buffer exports a dma-buf (GPU memory falls back to
  // ibv_reg_mr on the device pointer, which needs nvidia-peermem); dmabuf: that call only;
  // plain: ibv_reg_mr only.
  std::string registration = "auto";
  std::uint64_t connect_timeout_ns = 30'000'000'000;
  // Added fields.
  std::uint64_t liveness_interval_ns = 250'000'000;  // idle time in wait() before a liveness
                                                     // probe (RC only); 0 = never probe
  std::uint32_t recv_overflow_bytes = 65536;  // discard area behind each receive (0 = none: a
                                              // too-long message is a bare IBV_WC_LOC_LEN_ERR)
  // RC: a queue pair that goes to the error state (retries exhausted, QP fatal, port down past
  // the retransmission budget) is recreated and reconnected with the peer instead of failing
  // (ConnectionEvent, in transport.hpp); false: the endpoint throws.
  bool reconnect = false;
  std::uint64_t reconnect_timeout_ns = 30'000'000'000;  // give up (peer_lost) after this long
};

// Validates the options (core::Error(config) naming the option), then opens and checks the
// device, port, GID, MTU and queue sizes before anything is measured: an unknown device lists the
// devices that exist, an unknown netdev lists netdev -> device pairs, a port that is not ACTIVE
// says its state, a bad gid_index lists the valid GIDs with their types, an MTU above the port's
// lists the allowed ones (core::Error(config)). No RDMA device at all, or no ACTIVE port:
// core::Error(unavailable) with the reason.
std::unique_ptr<Transport> make_verbs_transport(const Options& options);

// nullopt when an RDMA device can be opened here, else the reason, e.g.
// "ibv_get_device_list: Function not implemented".
std::optional<std::string> unavailable_reason();

// An asynchronous event of the device (IBV_EVENT_PORT_ERR, IBV_EVENT_PORT_ACTIVE,
// IBV_EVENT_QP_FATAL, ...), stamped when the event thread received it.
struct AsyncEvent {
  std::uint64_t wall_ns = 0;  // CLOCK_REALTIME
  std::uint64_t mono_ns = 0;  // CLOCK_MONOTONIC (the clock of core::now_ns())
  std::string type;           // "IBV_EVENT_PORT_ERR"
  std::string device;         // "rxe0"
  int port = 0;               // port events; else the transport's port
  std::uint32_t qp_num = 0;   // QP events; else 0
};

// A Transport made by make_verbs_transport also implements this (dynamic_cast), so the engine can
// collect the events seen during a case. A QP error or port/device error event also makes the
// affected endpoints' next poll()/wait() throw a core::Error saying so.
class EventSource {
 public:
  virtual ~EventSource() = default;
  // Events since the last call, oldest first.
  virtual std::vector<AsyncEvent> drain_events() = 0;
};

}  // namespace fabricbench::transport::verbs
