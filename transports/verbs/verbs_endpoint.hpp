#pragma once
// One queue pair to one peer rank (internal to the verbs transport).
//
// Hot path: no allocation, no locks. Send-queue requests get a sequence number (the ibv wr_id);
// a ring indexed by it keeps what the caller posted, so a signaled completion retires every
// request before it (RC/UC complete in order) and reports only those the caller asked for.
// Receives carry their own sequence (wr_id with the top bit set) and complete in posting order.
//
// Reconnect (Options::reconnect, RC over the bootstrap exchange): each endpoint also holds one
// small TCP control connection to its peer's endpoint (made in connect()). When the QP fails
// (a completion in error, a QP/port fault event, the port down past the retransmission budget)
// or the peer says that its side failed, the endpoint records "connection.broken", takes the QP
// to ERR, collects what had completed, replaces the QP by a new one (INIT), posts again the
// receives that were still posted and sends the peer its new QPN, PSN and how many receives it
// completed in all. With the peer's, it goes to RTR/RTS (once the port is ACTIVE) and says so
// ("ready"); when the peer is ready too, the sends the peer never received are posted again and
// completions flow. Meanwhile post() returns false and poll() reports nothing.
#include <infiniband/verbs.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "transports/api/transport.hpp"
#include "transports/verbs/verbs_device.hpp"
#include "transports/verbs/verbs_transport.hpp"

struct rdma_cm_id;

namespace fabricbench::transport::verbs {

// What the peer published about its side of this connection.
struct RemoteQp {
  std::uint32_t qpn = 0;
  std::uint32_t psn = 0;
  ibv_gid gid{};
  std::uint16_t lid = 0;
  ibv_mtu mtu = IBV_MTU_1024;
  std::uint64_t scratch_addr = 0;  // liveness-probe target
  std::uint32_t scratch_rkey = 0;
  std::uint32_t qkey = 0;  // UD
};

// Connection events of a transport's endpoints, owned jointly by the transport and its endpoints
// (endpoints may outlive the transport).
struct EventSink {
  std::mutex mutex;
  std::vector<ConnectionEvent> events;
  void add(ConnectionEvent event) {
    std::lock_guard lock(mutex);
    events.push_back(std::move(event));
  }
};

class VerbsEndpoint final : public Endpoint {
 public:
  // Creates the CQ (and completion channel in blocking mode) and the QP, and moves it to INIT.
  // With `cm_id` (the rdma_cm path) the INIT attributes come from rdma_init_qp_attr on that id,
  // which the endpoint owns from then on (also when the constructor throws).
  VerbsEndpoint(std::shared_ptr<Device> device, const Options& options, QpKind kind, int peer,
                int index, std::uint32_t psn, rdma_cm_id* cm_id = nullptr);
  ~VerbsEndpoint() override;
  VerbsEndpoint(const VerbsEndpoint&) = delete;
  VerbsEndpoint& operator=(const VerbsEndpoint&) = delete;

  std::uint32_t qp_num() const noexcept { return qp_->qp_num; }
  std::uint32_t psn() const noexcept { return psn_; }
  const std::shared_ptr<Fault>& fault() const noexcept { return fault_; }
  // INIT -> RTR -> RTS towards `remote` (bootstrap path). Throws core::Error naming the peer
  // and the QP.
  void connect_to(const RemoteQp& remote);
  // The rdma_cm path: RTR and RTS with the attributes librdmacm negotiated on the id (path MTU
  // capped at the configured one; timeout and retries from the options). `remote` carries the
  // peer's internal region from the connection's private data.
  void connect_by_cm(const RemoteQp& remote);
  // Reconnect: the connected, non-blocking control socket to the peer's endpoint (owned from
  // then on), where connection events go, and this rank.
  void enable_reconnect(int control_fd, std::shared_ptr<EventSink> sink, int my_rank,
                        std::string control_text);
  // Something that must outlive this endpoint's cm id (its event channel).
  void keep_alive(std::shared_ptr<void> owner) { keepalive_ = std::move(owner); }

  int peer() const override { return peer_; }
  bool post(const WorkRequest& request) override;
  std::size_t poll(std::span<Completion> out) override;
  std::size_t wait(std::span<Completion> out, std::uint64_t timeout_ns) override;
  std::size_t queue_depth() const override { return depth_; }
  std::string describe() const override;

 private:
  enum class SlotKind : std::uint8_t { signaled, unsignaled, probe };
  struct SendSlot {
    std::uint64_t wr_id = 0;
    std::uint64_t remote_addr = 0;
    std::uint32_t length = 0;
    std::uint32_t rkey = 0;
    Op op = Op::send;
    SlotKind kind = SlotKind::signaled;
    bool inline_data = false;
    std::uint32_t lkey = 0;
    std::uint32_t imm = 0;
    std::uint64_t addr = 0;  // local
    std::uint64_t compare_add = 0;
    std::uint64_t swap = 0;
    std::uint64_t message = 0;  // send, write_imm: index among this side's receive-consuming ones
  };
  struct RecvSlot {
    std::uint64_t wr_id = 0;
    std::uint32_t capacity = 0;
    std::uint64_t addr = 0;
    std::uint32_t lkey = 0;
  };
  // The control connection's messages (fixed header, then the cause text).
  struct ControlMessage {
    std::uint16_t type = 0;  // kInfo, kReady
    std::uint64_t epoch = 0;
    std::uint32_t qpn = 0;
    std::uint32_t psn = 0;
    std::uint64_t received = 0;  // receives completed on this endpoint since it was made
    std::string cause;
  };
  static constexpr std::uint64_t kRecvBit = std::uint64_t{1} << 63;
  static constexpr int kPollBatch = 32;
  static constexpr std::uint32_t kControlEvery = 1024;  // busy poll: control check interval

  void create_qp(const std::string& where);
  void modify(ibv_qp_attr& attr, int mask, const char* what);
  int cm_attr(ibv_qp_attr& attr, ibv_qp_state state, const char* what);
  ibv_ah_attr address(const RemoteQp& remote) const;
  std::byte* local_bytes(const WorkRequest& request, const char* what) const;
  bool post_recv(const WorkRequest& request);
  bool post_send_queue(const WorkRequest& request);
  void post_slot(const SendSlot& slot, bool force_signal, const char* what);
  void post_recv_slot(std::uint64_t seq);
  // One successful completion of the current QP: true when it is reported (into `out`).
  bool take(const ibv_wc& c, Completion& out);
  // ---- reconnect ----
  bool reconnectable(ibv_wc_status status) const noexcept;
  std::string completion_cause(const ibv_wc& wc) const;
  // The QP failed (or the peer said so, `peer_epoch` != 0): start (or restart) re-establishing.
  void begin_break(const std::string& cause, std::uint64_t peer_epoch);
  void drain_old_qp();
  // Reads the control connection, advances the reconnect; throws peer_lost when it cannot be.
  void progress();
  void service_control();
  void send_control(const ControlMessage& m);
  void flush_control();
  void finish_reconnect();
  [[noreturn]] void give_up(const std::string& why);
  void record(const char* kind, std::uint64_t mono, std::uint64_t outage, std::uint64_t lost,
              std::uint64_t resent);
  void post_probe();
  void maybe_probe(std::uint64_t now);
  // The port went down (IBV_EVENT_PORT_ERR, not yet PORT_ACTIVE): fail once it has stayed down
  // longer than the QP's retransmission budget (shorter outages are ridden through).
  void check_port(std::uint64_t down_since_ns);
  std::string port_down_note() const;
  bool retire_sends(std::uint64_t seq, Completion& out);
  void check_broken() const {
    if (!broken_.empty() || fault_->raised.load(std::memory_order_acquire)) rethrow();
  }
  [[noreturn]] void rethrow() const;
  [[noreturn]] void fail(core::ErrorKind kind, const std::string& message);
  [[noreturn]] void fail_completion(const ibv_wc& wc);
  std::string who() const;

  std::shared_ptr<Device> device_;
  QpKind kind_;
  int peer_;
  int index_;
  std::size_t depth_;
  CompletionMode mode_;
  std::uint32_t moderation_;
  std::uint32_t inline_size_;
  std::uint64_t probe_interval_ns_;
  std::uint64_t port_grace_ns_ = 0;  // local ACK timeout x (retries + 1)
  std::uint32_t overflow_bytes_;
  std::uint32_t psn_;
  const Options options_;

  ibv_comp_channel* channel_ = nullptr;
  ibv_cq* cq_ = nullptr;
  ibv_qp* qp_ = nullptr;
  ibv_ah* ah_ = nullptr;             // UD
  std::shared_ptr<void> keepalive_;  // released after cm_id_ is destroyed
  rdma_cm_id* cm_id_ = nullptr;
  std::shared_ptr<Fault> fault_;

  RemoteQp remote_{};
  ibv_mtu path_mtu_ = IBV_MTU_1024;
  std::size_t max_message_ = 0;
  std::string via_;         // "bootstrap" or "rdma_cm"
  int cm_sgid_index_ = -1;  // the source GID rdma_cm chose

  std::vector<SendSlot> send_ring_;
  std::uint64_t send_mask_ = 0;
  std::uint64_t send_next_ = 0;     // next sequence number
  std::uint64_t send_retired_ = 0;  // oldest not yet retired
  std::size_t send_user_ = 0;       // caller requests posted and not retired
  std::uint32_t unsignaled_run_ = 0;
  std::vector<RecvSlot> recv_ring_;
  std::uint64_t recv_mask_ = 0;
  std::uint64_t recv_next_ = 0;
  std::uint64_t recv_done_ = 0;

  bool armed_ = false;  // blocking: ibv_req_notify_cq is pending
  bool probe_in_flight_ = false;
  std::uint64_t idle_since_ns_ = 0;  // wait() found nothing since then; 0 = not idle
  std::uint64_t probes_ = 0;

  // ---- reconnect ----
  bool reconnect_ = false;
  int control_fd_ = -1;
  std::string control_text_;
  std::shared_ptr<EventSink> sink_;
  int my_rank_ = -1;
  std::string role_;
  bool control_eof_ = false;
  std::string control_in_;
  std::string control_out_;
  std::uint32_t empty_polls_ = 0;
  bool reconnecting_ = false;
  std::uint64_t epoch_ = 0;
  std::uint64_t break_mono_ = 0;
  std::string cause_;
  std::uint64_t attempts_ = 0;
  bool peer_info_ = false;  // peer_'s info of epoch_ arrived
  ControlMessage peer_msg_;
  bool local_ready_ = false;         // RTS towards peer_msg_, "ready" sent
  bool peer_ready_ = false;          // the peer's "ready" of epoch_ arrived
  std::uint64_t messages_next_ = 0;  // receive-consuming sends posted
  std::uint64_t messages_done_ = 0;  // receive-consuming sends completed (reported as sent)
  std::uint64_t resent_total_ = 0;
  std::uint64_t lost_total_ = 0;
  std::vector<Completion> pending_;  // completed while reconnecting, reported afterwards
  std::size_t pending_head_ = 0;
  std::uint64_t reconnects_ = 0;

  core::ErrorKind broken_kind_ = core::ErrorKind::runtime;
  std::string broken_;  // non-empty once the endpoint failed: every later call rethrows
};

}  // namespace fabricbench::transport::verbs
