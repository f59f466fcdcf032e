#include "transports/verbs/verbs_endpoint.hpp"

#include <fcntl.h>
#include <poll.h>
#include <rdma/rdma_cma.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <limits>
#include <thread>
#include <utility>

#include "core/clock.hpp"
#include "transports/api/deadline.hpp"

namespace fabricbench::transport::verbs {
namespace {

using core::Error;
using core::ErrorKind;

constexpr std::uint64_t kBlockingSliceNs = 100'000'000;  // re-check faults and probes this often
constexpr std::uint64_t kReconnectSliceNs = 10'000'000;  // while reconnecting (port, control)
constexpr std::uint8_t kMinRnrTimer = 12;                // 0.64 ms
constexpr std::uint8_t kHopLimit = 64;
constexpr std::uint32_t kUdQkey = 0x11111111;

std::uint32_t be32(std::uint32_t v) noexcept {
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap32(v);
  return v;
}

bool one_sided(Op op) noexcept {
  return op == Op::write || op == Op::write_imm || op == Op::read || op == Op::fetch_add ||
         op == Op::compare_swap;
}
bool atomic(Op op) noexcept {
  return op == Op::fetch_add || op == Op::compare_swap;
}

std::string no_spaces(std::string s) {
  std::replace(s.begin(), s.end(), ' ', '_');
  return s;
}

const char* mode_name(CompletionMode mode) noexcept {
  return mode == CompletionMode::busy_poll ? "busy_poll" : "blocking";
}

}  // namespace

VerbsEndpoint::VerbsEndpoint(std::shared_ptr<Device> device, const Options& options, QpKind kind,
                             int peer, int index, std::uint32_t psn, rdma_cm_id* cm_id)
    : device_(std::move(device)),
      kind_(kind),
      peer_(peer),
      index_(index),
      depth_(options.queue_depth),
      mode_(options.completion),
      moderation_(std::min(options.cq_moderation, options.queue_depth)),
      inline_size_(device_->inline_size),
      probe_interval_ns_(kind == QpKind::rc ? options.liveness_interval_ns : 0),
      overflow_bytes_(options.recv_overflow_bytes),
      psn_(psn & 0xffffff),
      options_(options),
      cm_id_(cm_id),
      fault_(std::make_shared<Fault>()),
      via_(cm_id != nullptr ? "rdma_cm" : "bootstrap") {
  const std::uint32_t send_wr = options.queue_depth + kSendReserve;
  send_ring_.resize(std::bit_ceil(send_wr));
  pending_.reserve(2 * std::size_t{send_wr} + options.queue_depth);
  send_mask_ = send_ring_.size() - 1;
  recv_ring_.resize(std::bit_ceil(options.queue_depth));
  recv_mask_ = recv_ring_.size() - 1;
  ibv_context* ctx = device_->context();
  const std::string where = "connection " + std::to_string(index) + " to rank " +
                            std::to_string(peer) + " on " + device_->name;
  try {
    if (mode_ == CompletionMode::blocking) {
      channel_ = ibv_create_comp_channel(ctx);
      if (channel_ == nullptr) {
        throw Error(ErrorKind::runtime,
                    "verbs: ibv_create_comp_channel for " + where + ": " + errno_text(errno));
      }
      const int flags = ::fcntl(channel_->fd, F_GETFL);
      if (flags < 0 || ::fcntl(channel_->fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        throw Error(ErrorKind::runtime,
                    "verbs: completion channel for " + where + ": " + errno_text(errno));
      }
    }
    const int cqe = static_cast<int>(2 * options.queue_depth + kSendReserve);
    cq_ = ibv_create_cq(ctx, cqe, nullptr, channel_, 0);
    if (cq_ == nullptr) {
      throw Error(ErrorKind::runtime, "verbs: ibv_create_cq(" + std::to_string(cqe) + ") for " +
                                          where + ": " + errno_text(errno));
    }
    create_qp(where);
  } catch (...) {
    if (qp_ != nullptr) ibv_destroy_qp(qp_);
    if (cm_id_ != nullptr) rdma_destroy_id(cm_id_);
    if (cq_ != nullptr) ibv_destroy_cq(cq_);
    if (channel_ != nullptr) ibv_destroy_comp_channel(channel_);
    throw;
  }
}

VerbsEndpoint::~VerbsEndpoint() {
  if (control_fd_ >= 0) ::close(control_fd_);
  if (qp_ != nullptr) device_->unwatch(qp_->qp_num);
  if (cm_id_ != nullptr) rdma_disconnect(cm_id_);  // tells the peer (DREQ)
  if (qp_ != nullptr) ibv_destroy_qp(qp_);
  if (cm_id_ != nullptr) rdma_destroy_id(cm_id_);
  if (ah_ != nullptr) ibv_destroy_ah(ah_);
  ibv_destroy_cq(cq_);  // every CQ event was acknowledged when it was taken
  if (channel_ != nullptr) ibv_destroy_comp_channel(channel_);
}

void VerbsEndpoint::create_qp(const std::string& where) {
  ibv_qp_init_attr init{};
  init.send_cq = cq_;
  init.recv_cq = cq_;
  init.qp_type = kind_ == QpKind::rc ? IBV_QPT_RC : kind_ == QpKind::uc ? IBV_QPT_UC : IBV_QPT_UD;
  init.sq_sig_all = 0;
  init.cap.max_send_wr = options_.queue_depth + kSendReserve;
  init.cap.max_recv_wr = options_.queue_depth;
  init.cap.max_send_sge = 1;
  init.cap.max_recv_sge = 1 + (overflow_bytes_ != 0 ? 1u : 0u) + (kind_ == QpKind::ud ? 1u : 0u);
  init.cap.max_inline_data = inline_size_;
  qp_ = ibv_create_qp(device_->pd(), &init);
  if (qp_ == nullptr) {
    throw Error(ErrorKind::runtime, "verbs: ibv_create_qp (" + std::string(qp_kind_name(kind_)) +
                                        ") for " + where + ": " + errno_text(errno));
  }
  ibv_qp_attr attr{};
  int mask = 0;
  if (cm_id_ != nullptr) {
    mask = cm_attr(attr, IBV_QPS_INIT, "INIT");
  } else {
    attr.qp_state = IBV_QPS_INIT;
    attr.pkey_index = 0;
    attr.port_num = static_cast<std::uint8_t>(device_->port);
    mask = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT;
  }
  if (kind_ == QpKind::ud) {
    attr.qkey = kUdQkey;
    mask |= IBV_QP_QKEY;
  } else {
    attr.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
    if (kind_ == QpKind::rc) {
      attr.qp_access_flags |= IBV_ACCESS_REMOTE_READ;
      if (device_->atomics) attr.qp_access_flags |= IBV_ACCESS_REMOTE_ATOMIC;
    }
    mask |= IBV_QP_ACCESS_FLAGS;
  }
  modify(attr, mask, "INIT");
  device_->watch(qp_->qp_num, cq_, fault_);
}

std::string VerbsEndpoint::who() const {
  return "QP " + std::to_string(qp_->qp_num) + " (" + device_->name + ", connection " +
         std::to_string(index_) + ") to rank " + std::to_string(peer_);
}

void VerbsEndpoint::modify(ibv_qp_attr& attr, int mask, const char* what) {
  if (const int rc = ibv_modify_qp(qp_, &attr, mask); rc != 0) {
    throw Error(ErrorKind::runtime,
                "verbs: ibv_modify_qp to " + std::string(what) + " failed for " + who() + ": " +
                    errno_text(rc) + " (path_mtu " + std::to_string(mtu_bytes(path_mtu_)) +
                    ", remote qpn " + std::to_string(remote_.qpn) + ", remote gid " +
                    format_gid(remote_.gid) + ", remote lid " + std::to_string(remote_.lid) +
                    ", sgid_index " + std::to_string(device_->gid_index) + ")");
  }
}

ibv_ah_attr VerbsEndpoint::address(const RemoteQp& remote) const {
  ibv_ah_attr ah{};
  ah.port_num = static_cast<std::uint8_t>(device_->port);
  ah.sl = options_.sl;
  ah.dlid = remote.lid;
  if (device_->gid_index >= 0) {
    ah.is_global = 1;
    ah.grh.dgid = remote.gid;
    ah.grh.sgid_index = static_cast<std::uint8_t>(device_->gid_index);
    ah.grh.hop_limit = kHopLimit;
    ah.grh.traffic_class = options_.traffic_class;
  }
  return ah;
}

void VerbsEndpoint::connect_to(const RemoteQp& remote) {
  remote_ = remote;
  path_mtu_ = std::min(device_->mtu, remote.mtu);
  max_message_ = kind_ == QpKind::ud ? static_cast<std::size_t>(mtu_bytes(path_mtu_))
                                     : device_->port_attr().max_msg_sz;
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_RTR;
  int mask = IBV_QP_STATE;
  if (kind_ != QpKind::ud) {
    attr.path_mtu = path_mtu_;
    attr.dest_qp_num = remote.qpn;
    attr.rq_psn = remote.psn & 0xffffff;
    attr.ah_attr = address(remote);
    mask |= IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN;
    if (kind_ == QpKind::rc) {
      attr.max_dest_rd_atomic = device_->max_dest_rd_atomic;
      attr.min_rnr_timer = kMinRnrTimer;
      mask |= IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
    }
  }
  modify(attr, mask, "RTR");

  attr = ibv_qp_attr{};
  attr.qp_state = IBV_QPS_RTS;
  attr.sq_psn = psn_;
  mask = IBV_QP_STATE | IBV_QP_SQ_PSN;
  if (kind_ == QpKind::rc) {
    attr.timeout = options_.timeout;
    attr.retry_cnt = device_->retry_count;
    attr.rnr_retry = options_.rnr_retry;
    attr.max_rd_atomic = device_->max_rd_atomic;
    mask |= IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_MAX_QP_RD_ATOMIC;
  }
  modify(attr, mask, "RTS");

  if (kind_ == QpKind::ud) {
    ibv_ah_attr ah = address(remote);
    ah_ = ibv_create_ah(device_->pd(), &ah);
    if (ah_ == nullptr) {
      throw Error(ErrorKind::runtime, "verbs: ibv_create_ah towards rank " + std::to_string(peer_) +
                                          " (gid " + format_gid(remote.gid) + ") for " + who() +
                                          ": " + errno_text(errno));
    }
  }
}

int VerbsEndpoint::cm_attr(ibv_qp_attr& attr, ibv_qp_state state, const char* what) {
  attr = ibv_qp_attr{};
  attr.qp_state = state;
  int mask = 0;
  if (rdma_init_qp_attr(cm_id_, &attr, &mask) != 0) {
    throw Error(ErrorKind::runtime, "verbs: rdma_init_qp_attr(" + std::string(what) + ") for " +
                                        who() + ": " + errno_text(errno));
  }
  return mask;
}

void VerbsEndpoint::connect_by_cm(const RemoteQp& remote) {
  remote_ = remote;
  ibv_qp_attr attr{};
  int mask = cm_attr(attr, IBV_QPS_RTR, "RTR");
  if ((mask & IBV_QP_PATH_MTU) != 0) attr.path_mtu = std::min(attr.path_mtu, device_->mtu);
  path_mtu_ = attr.path_mtu;
  remote_.qpn = attr.dest_qp_num;
  remote_.psn = attr.rq_psn;
  remote_.gid = attr.ah_attr.grh.dgid;
  remote_.lid = attr.ah_attr.dlid;
  cm_sgid_index_ = attr.ah_attr.is_global != 0 ? attr.ah_attr.grh.sgid_index : -1;
  if ((mask & IBV_QP_MAX_DEST_RD_ATOMIC) != 0) {
    attr.max_dest_rd_atomic = std::min(attr.max_dest_rd_atomic, device_->max_dest_rd_atomic);
  }
  modify(attr, mask, "RTR");
  mask = cm_attr(attr, IBV_QPS_RTS, "RTS");
  attr.timeout = options_.timeout;
  attr.retry_cnt = device_->retry_count;
  attr.rnr_retry = options_.rnr_retry;
  mask |= IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY;
  psn_ = attr.sq_psn;
  modify(attr, mask, "RTS");
  max_message_ = device_->port_attr().max_msg_sz;
}

std::string VerbsEndpoint::describe() const {
  const ibv_port_attr& pa = device_->port_attr();
  std::string out = "verbs device=" + device_->name + " port=" + std::to_string(device_->port) +
                    " link_layer=" + (device_->ethernet ? "Ethernet" : "InfiniBand");
  if (!device_->netdev.empty()) out += " netdev=" + device_->netdev;
  out += " lid=" + std::to_string(pa.lid) + " gid_index=" + std::to_string(device_->gid_index) +
         " gid=" + format_gid(device_->gid);
  if (!device_->gid_type.empty()) out += " gid_type=" + no_spaces(device_->gid_type);
  out += " qp_type=" + std::string(qp_kind_name(kind_)) + " qpn=" + std::to_string(qp_->qp_num) +
         " psn=" + std::to_string(psn_) + " peer=" + std::to_string(peer_) +
         " connection=" + std::to_string(index_) + " remote_qpn=" + std::to_string(remote_.qpn) +
         " remote_gid=" + format_gid(remote_.gid) + " remote_lid=" + std::to_string(remote_.lid) +
         " mtu=" + std::to_string(mtu_bytes(path_mtu_)) +
         " active_mtu=" + std::to_string(mtu_bytes(pa.active_mtu)) +
         " max_msg=" + std::to_string(max_message_) + " completion=" + mode_name(mode_) +
         " queue_depth=" + std::to_string(depth_) + " inline=" + std::to_string(inline_size_) +
         " cq_moderation=" + std::to_string(moderation_) + " sl=" + std::to_string(options_.sl) +
         " tc=" + std::to_string(options_.traffic_class) + " via=" + via_;
  if (cm_sgid_index_ >= 0) out += " cm_sgid_index=" + std::to_string(cm_sgid_index_);
  if (kind_ == QpKind::rc) {
    out += " timeout=" + std::to_string(options_.timeout) +
           " retry=" + std::to_string(device_->retry_count) +
           " rnr_retry=" + std::to_string(options_.rnr_retry) +
           " max_rd_atomic=" + std::to_string(device_->max_rd_atomic) +
           " max_dest_rd_atomic=" + std::to_string(device_->max_dest_rd_atomic);
  }
  if (!device_->clamp_note.empty()) out += " adjusted=" + no_spaces(device_->clamp_note);
  if (reconnect_) {
    out += " on_break=reconnect reconnect_timeout_ms=" +
           std::to_string(options_.reconnect_timeout_ns / 1'000'000) + " control=" + control_text_;
  }
  return out;
}

// ---- errors ----

void VerbsEndpoint::rethrow() const {
  if (!broken_.empty()) throw Error(broken_kind_, broken_);
  std::lock_guard lock(fault_->mutex);
  throw Error(fault_->kind, "verbs: " + who() + " failed: " + fault_->reason);
}

void VerbsEndpoint::fail(ErrorKind kind, const std::string& message) {
  if (broken_.empty()) {
    broken_kind_ = kind;
    broken_ = message;
  }
  throw Error(broken_kind_, broken_);
}

void VerbsEndpoint::fail_completion(const ibv_wc& wc) {
  std::string what;
  std::uint32_t capacity = 0;
  const bool recv = (wc.wr_id & kRecvBit) != 0;
  if (recv) {
    const std::uint64_t seq = wc.wr_id & ~kRecvBit;
    const RecvSlot& s = recv_ring_[seq & recv_mask_];
    capacity = s.capacity;
    what = "recv wr_id " + std::to_string(s.wr_id) + " (buffer of " + std::to_string(capacity) +
           " bytes)";
  } else if (wc.wr_id >= send_retired_ && wc.wr_id < send_next_) {
    const SendSlot& s = send_ring_[wc.wr_id & send_mask_];
    if (s.kind == SlotKind::probe) {
      what = "liveness probe (zero-length RDMA WRITE)";
    } else {
      what = std::string(op_name(s.op)) + " wr_id " + std::to_string(s.wr_id) + " of " +
             std::to_string(s.length) + " bytes";
      if (one_sided(s.op)) what += " to remote " + hex(s.remote_addr) + " rkey " + hex(s.rkey);
    }
  } else {
    what = "request with internal id " + std::to_string(wc.wr_id);
  }
  const std::string rank = "rank " + std::to_string(peer_);
  std::string message = "verbs: " + what + " on " + who() +
                        " completed with error: " + ibv_wc_status_str(wc.status) + " (status " +
                        std::to_string(static_cast<int>(wc.status)) + ", vendor_err " +
                        hex(wc.vendor_err) + ")";
  ErrorKind kind = ErrorKind::runtime;
  switch (wc.status) {
    case IBV_WC_RETRY_EXC_ERR:
      kind = ErrorKind::peer_lost;
      message += ": " + rank +
                 " is not answering (its queue pair is gone, its process ended or the link is "
                 "down)";
      break;
    case IBV_WC_RNR_RETRY_EXC_ERR:
      message += ": " + rank + " had no receive posted (receiver not ready, rnr_retry " +
                 std::to_string(options_.rnr_retry) + ")";
      break;
    case IBV_WC_REM_ACCESS_ERR:
      message += ": " + rank + " refused the remote key or address range";
      break;
    case IBV_WC_REM_INV_REQ_ERR:
    case IBV_WC_REM_OP_ERR:
      message += ": " + rank +
                 " could not take the request (for a send: its posted receive buffer was too "
                 "small)";
      break;
    case IBV_WC_LOC_LEN_ERR:
      if (recv) {
        message += ": the message from " + rank + " was longer than the posted buffer of " +
                   std::to_string(capacity) + " bytes plus the " + std::to_string(overflow_bytes_) +
                   "-byte overflow area";
      }
      break;
    case IBV_WC_LOC_PROT_ERR:
      message += ": the local buffer is not inside a region registered with this transport";
      break;
    case IBV_WC_WR_FLUSH_ERR:
      message += ": the queue pair was already in the error state";
      break;
    default:
      break;
  }
  // A link fault often shows up first as a failed completion and only a moment later as the
  // async event that explains it (the event thread runs on its own). Give it a short while, so
  // the error names the cause ("port 1 of rxe0 went down") instead of a bare status.
  for (int i = 0; i < 40 && !fault_->raised.load(std::memory_order_acquire); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (fault_->raised.load(std::memory_order_acquire)) {
    std::lock_guard lock(fault_->mutex);
    message += " (" + fault_->reason + ")";
    kind = fault_->kind;
  } else if (const std::string note = port_down_note(); !note.empty()) {
    message += " (" + note + ": link fault)";
  }
  fail(kind, message);
}

// ---- posting ----

std::byte* VerbsEndpoint::local_bytes(const WorkRequest& request, const char* what) const {
  std::byte* data = local_range(request, "verbs", what);
  if (request.local != nullptr && request.local->handle == 0) {
    throw Error(ErrorKind::runtime, std::string("verbs: post(") + what +
                                        ") region was not registered by this transport");
  }
  return data;
}

bool VerbsEndpoint::post(const WorkRequest& request) {
  if (reconnect_) {
    if (!broken_.empty()) rethrow();
    if (!reconnecting_ && fault_->raised.load(std::memory_order_acquire)) {
      std::string why;
      {
        std::lock_guard lock(fault_->mutex);
        why = fault_->reason;
      }
      begin_break(why, 0);
    }
    if (reconnecting_) return false;  // back-pressure until the connection is back
  } else {
    check_broken();
  }
  if (request.op == Op::recv) return post_recv(request);
  return post_send_queue(request);
}

bool VerbsEndpoint::post_recv(const WorkRequest& request) {
  std::byte* data = local_bytes(request, "recv");
  if (request.length > std::numeric_limits<std::uint32_t>::max()) {
    throw Error(ErrorKind::runtime, "verbs: post(recv) of " + std::to_string(request.length) +
                                        " bytes is above the 4 GiB limit of one request");
  }
  if (recv_next_ - recv_done_ >= depth_) return false;
  recv_ring_[recv_next_ & recv_mask_] = RecvSlot{
      request.wr_id, static_cast<std::uint32_t>(request.length),
      reinterpret_cast<std::uintptr_t>(data),
      request.local != nullptr ? static_cast<std::uint32_t>(request.local->local_key) : 0u};
  post_recv_slot(recv_next_);
  ++recv_next_;
  return true;
}

void VerbsEndpoint::post_recv_slot(std::uint64_t seq) {
  const RecvSlot& slot = recv_ring_[seq & recv_mask_];
  ibv_mr* scratch = device_->scratch();
  ibv_sge sge[3];
  int n = 0;
  if (kind_ == QpKind::ud) {
    sge[n++] =
        ibv_sge{device_->scratch_addr(), static_cast<std::uint32_t>(kGrhBytes), scratch->lkey};
  }
  if (slot.capacity != 0) {  // a zero-length entry means 2 GiB to some devices
    sge[n++] = ibv_sge{slot.addr, slot.capacity, slot.lkey};
  }
  if (overflow_bytes_ != 0) {
    sge[n++] = ibv_sge{device_->scratch_addr() + kScratchHeader, overflow_bytes_, scratch->lkey};
  }
  ibv_recv_wr wr{};
  wr.wr_id = seq | kRecvBit;
  wr.sg_list = n != 0 ? sge : nullptr;
  wr.num_sge = n;
  ibv_recv_wr* bad = nullptr;
  if (const int rc = ibv_post_recv(qp_, &wr, &bad); rc != 0) {
    fail(ErrorKind::runtime, "verbs: ibv_post_recv on " + who() + ": " + errno_text(rc));
  }
}

bool VerbsEndpoint::post_send_queue(const WorkRequest& request) {
  const Op op = request.op;
  const bool supported = kind_ == QpKind::rc ? (!atomic(op) || device_->atomics)
                         : kind_ == QpKind::uc
                             ? (op == Op::send || op == Op::write || op == Op::write_imm)
                             : op == Op::send;
  if (!supported) {
    throw Error(ErrorKind::unavailable,
                std::string("verbs: operation '") + op_name(op) + "' is not supported on " +
                    (atomic(op) && kind_ == QpKind::rc
                         ? device_->name + " (its atomic_cap is NONE)"
                         : std::string("a ") + qp_kind_name(kind_) +
                               " queue pair (uc: send, write, write_imm; ud: send; rc: all)"));
  }
  std::byte* data = local_bytes(request, op_name(op));
  if (request.length > max_message_) {
    throw Error(ErrorKind::runtime, std::string("verbs: post(") + op_name(op) + ") of " +
                                        std::to_string(request.length) + " bytes on " + who() +
                                        " exceeds the maximum message size of " +
                                        std::to_string(max_message_) + " bytes");
  }
  const std::uint64_t remote_addr = request.remote.addr + request.remote_offset;
  if (one_sided(op)) {
    if (request.remote.length != 0 &&
        (request.remote_offset > request.remote.length ||
         request.length > request.remote.length - request.remote_offset)) {
      throw Error(ErrorKind::runtime,
                  std::string("verbs: post(") + op_name(op) + ") remote range [" +
                      std::to_string(request.remote_offset) + ", +" +
                      std::to_string(request.length) + ") is outside the remote region of " +
                      std::to_string(request.remote.length) + " bytes");
    }
  }
  if (atomic(op)) {
    const auto local = reinterpret_cast<std::uintptr_t>(data);
    if (request.length != 8 || local % 8 != 0 || remote_addr % 8 != 0) {
      throw Error(ErrorKind::runtime,
                  std::string("verbs: post(") + op_name(op) +
                      ") needs 8 bytes, 8-byte aligned at both ends (got length " +
                      std::to_string(request.length) + ", local " + hex(local) + ", remote " +
                      hex(remote_addr) + ")");
    }
  }
  if (send_user_ >= depth_) return false;

  const bool signal =
      request.signaled || unsignaled_run_ + 1 >= moderation_ || send_user_ + 1 >= depth_;
  SendSlot slot;
  slot.wr_id = request.wr_id;
  slot.remote_addr = remote_addr;
  slot.length = static_cast<std::uint32_t>(request.length);
  slot.rkey = static_cast<std::uint32_t>(request.remote.key);
  slot.op = op;
  slot.kind = request.signaled ? SlotKind::signaled : SlotKind::unsignaled;
  // The CPU copies inline data from the buffer: never from GPU memory (perftest turns inline off
  // with --use_cuda the same way).
  slot.inline_data = inline_size_ != 0 && request.length <= inline_size_ &&
                     (op == Op::send || op == Op::write || op == Op::write_imm) &&
                     (request.local == nullptr || request.local->buffer.traits.cpu_addressable);
  slot.lkey = request.local != nullptr ? static_cast<std::uint32_t>(request.local->local_key) : 0;
  slot.imm = request.imm;
  slot.addr = reinterpret_cast<std::uintptr_t>(data);
  slot.compare_add = request.compare_add;
  slot.swap = request.swap;
  slot.message = (op == Op::send || op == Op::write_imm) ? messages_next_ : ~std::uint64_t{0};
  post_slot(slot, signal, op_name(op));
  if (op == Op::send || op == Op::write_imm) ++messages_next_;
  ++send_user_;
  unsignaled_run_ = signal ? 0 : unsignaled_run_ + 1;
  return true;
}

void VerbsEndpoint::post_slot(const SendSlot& slot, bool signal, const char* what) {
  const std::uint64_t seq = send_next_;
  ibv_sge sge{slot.addr, slot.length, slot.lkey};
  ibv_send_wr wr{};
  wr.wr_id = seq;
  wr.sg_list = slot.length != 0 ? &sge : nullptr;
  wr.num_sge = slot.length != 0 ? 1 : 0;
  wr.send_flags = signal ? IBV_SEND_SIGNALED : 0;
  switch (slot.op) {
    case Op::send:
      wr.opcode = IBV_WR_SEND_WITH_IMM;
      wr.imm_data = be32(slot.imm);
      if (kind_ == QpKind::ud) {
        wr.wr.ud.ah = ah_;
        wr.wr.ud.remote_qpn = remote_.qpn;
        wr.wr.ud.remote_qkey = kUdQkey;
      }
      break;
    case Op::write:
      wr.opcode = IBV_WR_RDMA_WRITE;
      wr.wr.rdma.remote_addr = slot.remote_addr;
      wr.wr.rdma.rkey = slot.rkey;
      break;
    case Op::write_imm:
      wr.opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
      wr.imm_data = be32(slot.imm);
      wr.wr.rdma.remote_addr = slot.remote_addr;
      wr.wr.rdma.rkey = slot.rkey;
      break;
    case Op::read:
      wr.opcode = IBV_WR_RDMA_READ;
      wr.wr.rdma.remote_addr = slot.remote_addr;
      wr.wr.rdma.rkey = slot.rkey;
      break;
    case Op::fetch_add:
      wr.opcode = IBV_WR_ATOMIC_FETCH_AND_ADD;
      wr.wr.atomic.remote_addr = slot.remote_addr;
      wr.wr.atomic.compare_add = slot.compare_add;
      wr.wr.atomic.rkey = slot.rkey;
      break;
    case Op::compare_swap:
      wr.opcode = IBV_WR_ATOMIC_CMP_AND_SWP;
      wr.wr.atomic.remote_addr = slot.remote_addr;
      wr.wr.atomic.compare_add = slot.compare_add;
      wr.wr.atomic.swap = slot.swap;
      wr.wr.atomic.rkey = slot.rkey;
      break;
    case Op::recv:
      break;
  }
  if (slot.inline_data) wr.send_flags |= IBV_SEND_INLINE;
  ibv_send_wr* bad = nullptr;
  if (const int rc = ibv_post_send(qp_, &wr, &bad); rc != 0) {
    fail(ErrorKind::runtime,
         std::string("verbs: ibv_post_send(") + what + ") on " + who() + ": " + errno_text(rc));
  }
  send_ring_[seq & send_mask_] = slot;
  ++send_next_;
}

void VerbsEndpoint::post_probe() {
  ibv_send_wr wr{};
  wr.wr_id = send_next_;
  wr.opcode = IBV_WR_RDMA_WRITE;
  wr.num_sge = 0;
  wr.send_flags = IBV_SEND_SIGNALED;
  wr.wr.rdma.remote_addr = remote_.scratch_addr;
  wr.wr.rdma.rkey = remote_.scratch_rkey;
  ibv_send_wr* bad = nullptr;
  if (const int rc = ibv_post_send(qp_, &wr, &bad); rc != 0) {
    fail(ErrorKind::runtime,
         "verbs: ibv_post_send(liveness probe) on " + who() + ": " + errno_text(rc));
  }
  SendSlot slot;
  slot.remote_addr = remote_.scratch_addr;
  slot.rkey = remote_.scratch_rkey;
  slot.op = Op::write;
  slot.kind = SlotKind::probe;
  slot.message = ~std::uint64_t{0};
  send_ring_[send_next_ & send_mask_] = slot;
  ++send_next_;
  unsignaled_run_ = 0;
  probe_in_flight_ = true;
  ++probes_;
}

void VerbsEndpoint::check_port(std::uint64_t down_since_ns) {
  if (port_grace_ns_ == 0) {
    // 4.096 us x 2^timeout per attempt, (retries + 1) attempts: what RC retransmission covers.
    const std::uint64_t ack_ns = (std::uint64_t{4096} << std::min<unsigned>(options_.timeout, 31));
    port_grace_ns_ = std::max<std::uint64_t>(ack_ns * (device_->retry_count + 1u), 100'000'000);
  }
  const std::uint64_t now = core::now_ns();
  if (now <= down_since_ns || now - down_since_ns <= port_grace_ns_) return;
  const std::string why = "port " + std::to_string(device_->port) + " of " + device_->name +
                          " went down (link fault) (IBV_EVENT_PORT_ERR at CLOCK_MONOTONIC " +
                          std::to_string(down_since_ns) + ") and stayed down for " +
                          std::to_string((now - down_since_ns) / 1'000'000) +
                          " ms, longer than the QP's retransmission budget of " +
                          std::to_string(port_grace_ns_ / 1'000'000) + " ms";
  if (reconnect_) {
    begin_break(why, 0);
    return;
  }
  fault_->raise(ErrorKind::runtime, why);
  rethrow();
}

std::string VerbsEndpoint::port_down_note() const {
  const std::uint64_t since = device_->port_down_since_ns();
  if (since == 0) return {};
  return "port " + std::to_string(device_->port) + " of " + device_->name +
         " went down (IBV_EVENT_PORT_ERR at CLOCK_MONOTONIC " + std::to_string(since) +
         "), still down";
}

void VerbsEndpoint::maybe_probe(std::uint64_t now) {
  if (probe_interval_ns_ == 0 || remote_.scratch_rkey == 0 || reconnecting_) return;
  // A probe posted while the local port is down fails locally and kills the QP: wait for the
  // port (check_port bounds the wait).
  if (device_->port_down_since_ns() != 0) {
    idle_since_ns_ = now;
    return;
  }
  if (idle_since_ns_ == 0) {
    idle_since_ns_ = now;
    return;
  }
  if (now - idle_since_ns_ < probe_interval_ns_) return;
  idle_since_ns_ = now;
  // Requests already in flight detect a vanished peer by themselves.
  if (!probe_in_flight_ && send_next_ == send_retired_) post_probe();
}

// ---- completions ----

bool VerbsEndpoint::retire_sends(std::uint64_t seq, Completion& out) {
  if (seq < send_retired_ || seq >= send_next_) {
    fail(ErrorKind::runtime,
         "verbs: unexpected send completion (internal id " + std::to_string(seq) + ", expected " +
             std::to_string(send_retired_) + ".." + std::to_string(send_next_) + ") on " + who());
  }
  bool report = false;
  while (send_retired_ <= seq) {
    const SendSlot& s = send_ring_[send_retired_ & send_mask_];
    if (s.kind == SlotKind::probe) {
      probe_in_flight_ = false;
    } else {
      --send_user_;
      if (s.message != ~std::uint64_t{0}) messages_done_ = s.message + 1;
    }
    if (send_retired_ == seq && s.kind == SlotKind::signaled) {
      out = Completion{s.wr_id, s.op, atomic(s.op) ? 8u : s.length, 0};
      report = true;
    }
    ++send_retired_;
  }
  return report;
}

bool VerbsEndpoint::take(const ibv_wc& c, Completion& out) {
  if ((c.wr_id & kRecvBit) == 0) return retire_sends(c.wr_id, out);
  const std::uint64_t seq = c.wr_id & ~kRecvBit;
  if (seq != recv_done_) {
    fail(ErrorKind::runtime, "verbs: receive " + std::to_string(seq) +
                                 " completed before receive " + std::to_string(recv_done_) +
                                 " on " + who());
  }
  const RecvSlot& s = recv_ring_[seq & recv_mask_];
  ++recv_done_;
  std::uint32_t bytes = c.byte_len;
  if (kind_ == QpKind::ud) bytes = bytes >= kGrhBytes ? bytes - kGrhBytes : 0;
  if (c.opcode != IBV_WC_RECV_RDMA_WITH_IMM && bytes > s.capacity) {
    fail(ErrorKind::runtime, "verbs: message of " + std::to_string(bytes) + " bytes from rank " +
                                 std::to_string(peer_) +
                                 " does not fit the posted receive buffer of " +
                                 std::to_string(s.capacity) + " bytes (wr_id " +
                                 std::to_string(s.wr_id) + ") on " + who());
  }
  out = Completion{s.wr_id, Op::recv, bytes,
                   (c.wc_flags & IBV_WC_WITH_IMM) != 0 ? be32(c.imm_data) : 0u};
  return true;
}

std::size_t VerbsEndpoint::poll(std::span<Completion> out) {
  if (!broken_.empty()) rethrow();
  if (out.empty()) return 0;
  if (reconnect_) {
    // The control connection: every call while reconnecting, else every kControlEvery-th call
    // (a peer that broke first says so there; wait() also watches its fd).
    if (reconnecting_ || ++empty_polls_ >= kControlEvery) {
      empty_polls_ = 0;
      progress();
    }
    if (reconnecting_) return 0;
    if (pending_head_ < pending_.size()) {
      std::size_t n = 0;
      while (n < out.size() && pending_head_ < pending_.size())
        out[n++] = pending_[pending_head_++];
      if (pending_head_ == pending_.size()) {
        pending_.clear();
        pending_head_ = 0;
      }
      return n;
    }
  }
  ibv_wc wc[kPollBatch];
  const int want = static_cast<int>(std::min<std::size_t>(out.size(), kPollBatch));
  const int got = ibv_poll_cq(cq_, want, wc);
  if (got < 0) {
    fail(ErrorKind::runtime,
         "verbs: ibv_poll_cq on " + who() + " failed (" + std::to_string(got) + ")");
  }
  std::size_t n = 0;
  for (int i = 0; i < got; ++i) {
    const ibv_wc& c = wc[i];
    if (c.qp_num != qp_->qp_num) {
      if (reconnect_) continue;  // a queue pair this endpoint replaced
      fail(ErrorKind::runtime, "verbs: completion for QP " + std::to_string(c.qp_num) +
                                   " arrived on the completion queue of " + who());
    }
    if (c.status != IBV_WC_SUCCESS) {
      if (reconnect_ && reconnectable(c.status)) {
        // Hold what this batch delivered (the caller would post more) and what follows it.
        for (std::size_t k = 0; k < n; ++k) pending_.push_back(out[k]);
        for (int j = i + 1; j < got; ++j) {
          Completion tmp;
          if (wc[j].qp_num == qp_->qp_num && wc[j].status == IBV_WC_SUCCESS && take(wc[j], tmp)) {
            pending_.push_back(tmp);
          }
        }
        begin_break(completion_cause(c), 0);
        return 0;
      }
      fail_completion(c);
    }
    if (take(c, out[n])) ++n;
  }
  if (got > 0) {
    idle_since_ns_ = 0;
  } else if (fault_->raised.load(std::memory_order_acquire)) {
    if (!reconnect_)
      rethrow();  // an async event or a disconnect: reported once what completed
                  // was delivered
    std::string why;
    {
      std::lock_guard lock(fault_->mutex);
      why = fault_->reason;
    }
    begin_break(why, 0);
  } else if (const std::uint64_t down = device_->port_down_since_ns(); down != 0) {
    check_port(down);
  }
  return n;
}

std::size_t VerbsEndpoint::wait(std::span<Completion> out, std::uint64_t timeout_ns) {
  std::size_t n = poll(out);
  if (n != 0 || timeout_ns == 0 || out.empty()) return n;
  const std::uint64_t deadline = deadline_after(timeout_ns);
  if (mode_ == CompletionMode::busy_poll) {
    while (true) {
      n = poll(out);
      if (n != 0) return n;
      const std::uint64_t now = core::now_ns();
      if (now >= deadline) return 0;
      maybe_probe(now);
    }
  }
  while (true) {
    if (!armed_) {
      if (const int rc = ibv_req_notify_cq(cq_, 0); rc != 0) {
        fail(ErrorKind::runtime, "verbs: ibv_req_notify_cq on " + who() + ": " + errno_text(rc));
      }
      armed_ = true;
      n = poll(out);  // what completed before the CQ was armed raises no event
      if (n != 0) return n;
    }
    const std::uint64_t now = core::now_ns();
    if (now >= deadline) return 0;
    maybe_probe(now);
    // While reconnecting, look at the port and the control connection more often.
    const std::uint64_t slice =
        std::min(deadline - now, reconnecting_ ? kReconnectSliceNs : kBlockingSliceNs);
    pollfd p[2] = {pollfd{channel_->fd, POLLIN, 0}, pollfd{control_fd_, POLLIN, 0}};
    const nfds_t count = reconnect_ && control_fd_ >= 0 && !control_eof_ ? 2 : 1;
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(slice / 1'000'000'000ULL);
    ts.tv_nsec = static_cast<long>(slice % 1'000'000'000ULL);
    const int rc = ::ppoll(p, count, &ts, nullptr);
    if (rc < 0 && errno != EINTR) {
      fail(ErrorKind::runtime,
           "verbs: poll on the completion channel of " + who() + ": " + errno_text(errno));
    }
    if (rc > 0 && (p[0].revents & POLLIN) != 0) {
      ibv_cq* event_cq = nullptr;
      void* event_context = nullptr;
      if (ibv_get_cq_event(channel_, &event_cq, &event_context) == 0) {
        ibv_ack_cq_events(event_cq, 1);
        armed_ = false;
      }
    }
    if (count == 2 && (rc == 0 || p[1].revents != 0) && !reconnecting_) progress();
    n = poll(out);
    if (n != 0) return n;
  }
}

// ---- reconnect ----

namespace {

constexpr std::uint32_t kControlMagic = 0x52564246;  // "FBVR"
constexpr std::uint16_t kInfo = 1;
constexpr std::uint16_t kReady = 2;
constexpr std::size_t kControlHeader = 32;
constexpr std::size_t kMaxCause = 240;
constexpr std::uint64_t kDrainNs = 200'000'000;  // bound on collecting an old QP's completions

void put_le(std::string& b, std::uint64_t v, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t get_le(const std::string& b, std::size_t at, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) {
    v |= std::uint64_t{static_cast<unsigned char>(b[at + i])} << (8 * i);
  }
  return v;
}

std::uint64_t clock_of(clockid_t id) {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace

void VerbsEndpoint::enable_reconnect(int control_fd, std::shared_ptr<EventSink> sink, int my_rank,
                                     std::string control_text) {
  control_fd_ = control_fd;
  sink_ = std::move(sink);
  my_rank_ = my_rank;
  role_ = my_rank < peer_ ? "connector" : "acceptor";
  control_text_ = std::move(control_text);
  reconnect_ = options_.reconnect && kind_ == QpKind::rc && cm_id_ == nullptr;
}

bool VerbsEndpoint::reconnectable(ibv_wc_status status) const noexcept {
  switch (status) {
    // What the caller asked for is wrong: the same request would fail again.
    case IBV_WC_LOC_LEN_ERR:
    case IBV_WC_LOC_PROT_ERR:
    case IBV_WC_REM_ACCESS_ERR:
    case IBV_WC_REM_INV_REQ_ERR:
    case IBV_WC_REM_OP_ERR:
    case IBV_WC_MW_BIND_ERR:
    case IBV_WC_REM_INV_RD_REQ_ERR:
      return false;
    default:
      return true;
  }
}

std::string VerbsEndpoint::completion_cause(const ibv_wc& wc) const {
  std::string what;
  if ((wc.wr_id & kRecvBit) != 0) {
    what = "a receive";
  } else if (wc.wr_id >= send_retired_ && wc.wr_id < send_next_) {
    const SendSlot& s = send_ring_[wc.wr_id & send_mask_];
    what = s.kind == SlotKind::probe
               ? std::string("a liveness probe")
               : std::string(op_name(s.op)) + " wr_id " + std::to_string(s.wr_id);
  } else {
    what = "a request";
  }
  std::string cause = std::string(ibv_wc_status_str(wc.status)) + " (status " +
                      std::to_string(static_cast<int>(wc.status)) + ", vendor_err " +
                      hex(wc.vendor_err) + ") on " + what + " of QP " + std::to_string(qp_->qp_num);
  if (fault_->raised.load(std::memory_order_acquire)) {
    std::lock_guard lock(fault_->mutex);
    cause += " (" + fault_->reason + ")";
  } else if (const std::string note = port_down_note(); !note.empty()) {
    cause += " (" + note + ": link fault)";
  }
  return cause;
}

void VerbsEndpoint::record(const char* kind, std::uint64_t mono, std::uint64_t outage,
                           std::uint64_t lost, std::uint64_t resent) {
  if (!sink_) return;
  ConnectionEvent e;
  e.wall_ns = clock_of(CLOCK_REALTIME);
  e.mono_ns = mono;
  e.kind = kind;
  e.peer = peer_;
  e.index = index_;
  e.role = role_;
  e.cause = cause_;
  e.outage_ns = outage;
  e.attempts = attempts_;
  e.lost_messages = lost;
  e.resent_messages = resent;
  sink_->add(std::move(e));
}

void VerbsEndpoint::give_up(const std::string& why) {
  const std::uint64_t now = core::now_ns();
  const std::string original = cause_;
  cause_ = original + "; " + why;
  record("connection.reconnect_failed", now, now - break_mono_, 0, 0);
  cause_ = original;
  reconnecting_ = false;
  fail(ErrorKind::peer_lost,
       "verbs: " + who() + ": the connection to rank " + std::to_string(peer_) + " broke (" +
           original + ") and was not re-established within the reconnect_timeout of " +
           std::to_string(options_.reconnect_timeout_ns / 1'000'000) + " ms: " + why);
}

void VerbsEndpoint::drain_old_qp() {
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_ERR;
  (void)ibv_modify_qp(qp_, &attr, IBV_QP_STATE);  // already there when it failed by itself
  // Collect what completed before the error (reported later) and wait (bounded) until every
  // outstanding request was flushed, so nothing of this QP completes after it is gone.
  const std::uint64_t until = core::now_ns() + kDrainNs;
  std::uint64_t flushed_recv = 0;
  std::uint64_t send_seen = send_retired_;  // sends up to here have completed or been flushed
  while (true) {
    ibv_wc wc[kPollBatch];
    const int got = ibv_poll_cq(cq_, kPollBatch, wc);
    for (int i = 0; i < got; ++i) {
      const ibv_wc& c = wc[i];
      if (c.qp_num != qp_->qp_num) continue;
      if (c.status == IBV_WC_SUCCESS) {
        Completion tmp;
        if (take(c, tmp)) pending_.push_back(tmp);
        if ((c.wr_id & kRecvBit) == 0) send_seen = std::max(send_seen, c.wr_id + 1);
      } else if ((c.wr_id & kRecvBit) != 0) {
        ++flushed_recv;
      } else {
        send_seen = std::max(send_seen, c.wr_id + 1);
      }
    }
    const bool done = recv_done_ + flushed_recv >= recv_next_ && send_seen >= send_next_;
    if (done) break;
    if (got <= 0) {
      if (core::now_ns() >= until) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  armed_ = false;  // re-arm: the CQ events of the old QP may have been consumed above
}

void VerbsEndpoint::begin_break(const std::string& cause, std::uint64_t peer_epoch) {
  const std::uint64_t now = core::now_ns();
  if (!reconnecting_) {
    reconnecting_ = true;
    break_mono_ = now;
    cause_ = cause;
    attempts_ = 0;
    record("connection.broken", now, 0, 0, 0);
  }
  epoch_ = std::max(epoch_ + 1, peer_epoch);
  ++attempts_;
  peer_info_ = false;
  local_ready_ = false;
  peer_ready_ = false;
  if (control_eof_ || control_fd_ < 0) {
    give_up("the control connection to rank " + std::to_string(peer_) +
            " is closed (its process ended or closed the connection)");
  }
  drain_old_qp();
  // A new queue pair in INIT, with the receives that were still posted, in order.
  device_->unwatch(qp_->qp_num);
  ibv_destroy_qp(qp_);
  qp_ = nullptr;
  fault_ = std::make_shared<Fault>();
  probe_in_flight_ = false;
  try {
    create_qp("connection " + std::to_string(index_) + " to rank " + std::to_string(peer_) +
              " on " + device_->name + " (reconnect)");
  } catch (const Error& e) {
    if (qp_ == nullptr) {
      broken_kind_ = ErrorKind::peer_lost;
      broken_ =
          std::string("verbs: reconnect to rank ") + std::to_string(peer_) + " failed: " + e.what();
      throw Error(broken_kind_, broken_);
    }
    give_up(e.what());
  }
  psn_ = static_cast<std::uint32_t>((clock_of(CLOCK_MONOTONIC) * 2654435761ULL) >> 8) & 0xffffff;
  for (std::uint64_t seq = recv_done_; seq < recv_next_; ++seq) post_recv_slot(seq);
  ControlMessage m;
  m.type = kInfo;
  m.epoch = epoch_;
  m.qpn = qp_->qp_num;
  m.psn = psn_;
  m.received = recv_done_;
  m.cause = cause;
  send_control(m);
}

void VerbsEndpoint::send_control(const ControlMessage& m) {
  std::string b;
  const std::string cause = m.cause.substr(0, kMaxCause);
  put_le(b, kControlMagic, 4);
  put_le(b, m.type, 2);
  put_le(b, cause.size(), 2);
  put_le(b, m.epoch, 8);
  put_le(b, m.qpn, 4);
  put_le(b, m.psn, 4);
  put_le(b, m.received, 8);
  b += cause;
  control_out_ += b;
  flush_control();
}

void VerbsEndpoint::flush_control() {
  while (!control_out_.empty() && !control_eof_) {
    const ssize_t w =
        ::send(control_fd_, control_out_.data(), control_out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      control_out_.erase(0, static_cast<std::size_t>(w));
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      control_eof_ = true;
    }
  }
}

void VerbsEndpoint::service_control() {
  if (control_fd_ < 0 || control_eof_) return;
  flush_control();
  char buf[512];
  while (!control_eof_) {
    const ssize_t r = ::recv(control_fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (r > 0) {
      control_in_.append(buf, static_cast<std::size_t>(r));
    } else if (r == 0) {
      control_eof_ = true;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    } else {
      control_eof_ = true;
    }
  }
  while (control_in_.size() >= kControlHeader) {
    if (get_le(control_in_, 0, 4) != kControlMagic) {
      control_eof_ = true;  // not our protocol: treat the control path as gone
      control_in_.clear();
      break;
    }
    const std::size_t cause_len = get_le(control_in_, 6, 2);
    if (control_in_.size() < kControlHeader + cause_len) break;
    ControlMessage m;
    m.type = static_cast<std::uint16_t>(get_le(control_in_, 4, 2));
    m.epoch = get_le(control_in_, 8, 8);
    m.qpn = static_cast<std::uint32_t>(get_le(control_in_, 16, 4));
    m.psn = static_cast<std::uint32_t>(get_le(control_in_, 20, 4));
    m.received = get_le(control_in_, 24, 8);
    m.cause = control_in_.substr(kControlHeader, cause_len);
    control_in_.erase(0, kControlHeader + cause_len);
    if (m.type == kInfo) {
      if (m.epoch > epoch_) {
        begin_break("rank " + std::to_string(peer_) + " reported its side broke: " + m.cause,
                    m.epoch);
      }
      if (m.epoch == epoch_ && reconnecting_) {
        peer_msg_ = m;
        peer_info_ = true;
      }
    } else if (m.type == kReady) {
      if (m.epoch == epoch_ && reconnecting_) peer_ready_ = true;
    }
  }
}

void VerbsEndpoint::progress() {
  service_control();
  if (!reconnecting_) return;
  const std::uint64_t now = core::now_ns();
  if (now - break_mono_ > options_.reconnect_timeout_ns) {
    std::string state = !peer_info_     ? "rank " + std::to_string(peer_) + " never sent its new QP"
                        : !local_ready_ ? "the port did not come back (" + port_down_note() + ")"
                                        : "rank " + std::to_string(peer_) + " never became ready";
    give_up(state);
  }
  if (!peer_info_ || !peer_ready_) {
    if (control_eof_) {
      give_up("the control connection to rank " + std::to_string(peer_) +
              " closed while reconnecting (its process ended?)");
    }
  }
  if (!peer_info_) return;
  if (!local_ready_) {
    // No point in RTR/RTS (and sending) while this port is down: wait for PORT_ACTIVE.
    if (device_->port_down_since_ns() != 0) return;
    RemoteQp r = remote_;
    r.qpn = peer_msg_.qpn;
    r.psn = peer_msg_.psn;
    try {
      connect_to(r);
    } catch (const Error& e) {
      give_up(e.what());
    }
    local_ready_ = true;
    ControlMessage m;
    m.type = kReady;
    m.epoch = epoch_;
    m.qpn = qp_->qp_num;
    m.psn = psn_;
    m.received = recv_done_;
    send_control(m);
  }
  if (peer_ready_) finish_reconnect();
}

void VerbsEndpoint::finish_reconnect() {
  // The peer completed `received` receives in all (its old QP is in ERR: final). With RC, in
  // order: my receive-consuming sends with an index below received + lost earlier arrived, and so
  // did everything posted before the last of them; the rest is posted again.
  const std::uint64_t delivered = peer_msg_.received + lost_total_;
  std::uint64_t cut = send_retired_;
  for (std::uint64_t seq = send_retired_; seq < send_next_; ++seq) {
    const SendSlot& s = send_ring_[seq & send_mask_];
    if (s.kind != SlotKind::probe && s.message != ~std::uint64_t{0} && s.message < delivered) {
      cut = seq + 1;
    }
  }
  for (std::uint64_t seq = send_retired_; seq < cut; ++seq) {
    const SendSlot& s = send_ring_[seq & send_mask_];
    if (s.kind == SlotKind::probe) continue;
    --send_user_;
    if (s.message != ~std::uint64_t{0}) messages_done_ = s.message + 1;
    if (s.kind == SlotKind::signaled) {
      pending_.push_back(Completion{s.wr_id, s.op, atomic(s.op) ? 8u : s.length, 0});
    }
  }
  std::vector<SendSlot> resend;
  for (std::uint64_t seq = cut; seq < send_next_; ++seq) {
    const SendSlot& s = send_ring_[seq & send_mask_];
    if (s.kind != SlotKind::probe) resend.push_back(s);
  }
  send_retired_ = cut;
  send_next_ = cut;
  const std::uint64_t lost_now = messages_done_ > delivered ? messages_done_ - delivered : 0;
  const std::uint64_t lost = lost_now;
  lost_total_ += lost_now;
  for (const SendSlot& s : resend) post_slot(s, true, "resend");
  unsignaled_run_ = 0;
  probe_in_flight_ = false;
  idle_since_ns_ = 0;
  resent_total_ += resend.size();
  reconnecting_ = false;
  ++reconnects_;
  const std::uint64_t now = core::now_ns();
  record("connection.reconnected", now, now - break_mono_, lost, resend.size());
}

}  // namespace fabricbench::transport::verbs
