#pragma once
// The device side of the verbs transport (internal): option checks, device/port/GID/MTU
// selection with errors that list what exists, and the Device object shared by a transport and
// its endpoints (context, protection domain, internal region, async-event thread).
#include <infiniband/verbs.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "transports/verbs/verbs_transport.hpp"

namespace fabricbench::transport::verbs {

enum class QpKind : std::uint8_t { rc, uc, ud };
const char* qp_kind_name(QpKind kind) noexcept;

// Throws core::Error(config) naming the first bad option; returns the QP kind.
QpKind validate_options(const Options& options);

std::string errno_text(int err);
std::string format_gid(const ibv_gid& gid);
bool gid_is_zero(const ibv_gid& gid) noexcept;
std::string hex(std::uint64_t value);
int mtu_bytes(ibv_mtu mtu) noexcept;

// The RDMA READ/atomic depths a queue pair is given: as initiator (max_rd_atomic, at most the
// device's max_qp_init_rd_atom) and as responder (max_dest_rd_atomic, at most max_qp_rd_atom),
// both at most 255. requested 0 means as deep as the device allows, which is what perftest
// gives ib_read_bw (its outstanding reads default to the device's limit).
struct RdAtomicDepths {
  std::uint8_t initiator = 0;
  std::uint8_t responder = 0;
};
RdAtomicDepths rd_atomic_depths(std::uint32_t requested, int max_qp_init_rd_atom,
                                int max_qp_rd_atom) noexcept;

// Raised by the async-event thread for the endpoints an event concerns; checked by poll().
struct Fault {
  std::atomic<bool> raised{false};
  std::mutex mutex;
  std::string reason;
  core::ErrorKind kind = core::ErrorKind::runtime;
  void raise(core::ErrorKind k, const std::string& why);
};

// A registered internal region: the discard area behind every receive (and the GRH of UD
// receives), and the target of liveness probes (zero-length RDMA WRITEs).
inline constexpr std::size_t kGrhBytes = 40;
inline constexpr std::size_t kScratchHeader = 64;  // GRH area, then the overflow area
// Send-queue entries beyond queue_depth: the liveness probe and one spare.
inline constexpr std::uint32_t kSendReserve = 2;

class Device {
 public:
  // Selects and opens the device, port and GID, checks MTU and queue sizes against the device,
  // allocates the PD and internal region and starts the async-event thread.
  Device(const Options& options, QpKind kind);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // Endpoint fault routing (by QP number, CQ and port).
  void watch(std::uint32_t qp_num, const ibv_cq* cq, const std::shared_ptr<Fault>& fault);
  void unwatch(std::uint32_t qp_num) noexcept;
  std::vector<AsyncEvent> drain_events();
  // CLOCK_MONOTONIC ns of the IBV_EVENT_PORT_ERR of this port that is not yet followed by
  // IBV_EVENT_PORT_ACTIVE; 0 while the port is up. A port that goes down is not fatal at once:
  // RC retransmission rides through an outage shorter than the retry budget, as real stacks do;
  // endpoints fail when it lasts longer (VerbsEndpoint::check_port).
  std::uint64_t port_down_since_ns() const noexcept {
    return port_down_since_ns_.load(std::memory_order_acquire);
  }

  ibv_context* context() const noexcept { return context_; }
  ibv_pd* pd() const noexcept { return pd_; }
  ibv_mr* scratch() const noexcept { return scratch_mr_; }
  std::uint64_t scratch_addr() const noexcept;
  const ibv_device_attr& attr() const noexcept { return attr_; }
  const ibv_port_attr& port_attr() const noexcept { return port_attr_; }

  std::string name;
  std::string netdev;  // the port's netdev ("" on InfiniBand without IPoIB)
  int port = 0;
  bool ethernet = false;  // link layer Ethernet (RoCE) or InfiniBand
  int gid_index = -1;     // -1: no GRH (InfiniBand without a requested GID)
  ibv_gid gid{};
  std::string gid_type;  // "RoCE v2", "IB/RoCE v1", ...
  std::uint16_t lid = 0;
  ibv_mtu mtu = IBV_MTU_1024;
  std::uint32_t inline_size = 0;
  std::uint8_t max_rd_atomic = 0;       // as clamped (RTS)
  std::uint8_t max_dest_rd_atomic = 0;  // as clamped (RTR)
  bool atomics = false;
  // Transport retries as applied: Soft-RoCE (rxe) retries forever at 7, unlike the IB spec's
  // 7 retries, so 7 is applied as 6 there (a vanished peer then ends in IBV_WC_RETRY_EXC_ERR).
  std::uint8_t retry_count = 7;
  bool soft_roce = false;
  std::string clamp_note;  // what was clamped, for describe()

 private:
  void select(const Options& options, ibv_device** list, int count);
  void select_gid(const Options& options);
  void check_mtu(const Options& options);
  void check_queue(const Options& options, QpKind kind);
  void start_events();
  void event_loop();
  void on_event(const ibv_async_event& event);

  ibv_context* context_ = nullptr;
  ibv_pd* pd_ = nullptr;
  std::unique_ptr<std::byte[]> scratch_;
  std::size_t scratch_bytes_ = 0;
  ibv_mr* scratch_mr_ = nullptr;
  ibv_device_attr attr_{};
  ibv_port_attr port_attr_{};

  int stop_fd_ = -1;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<AsyncEvent> events_;
  std::atomic<std::uint64_t> port_down_since_ns_{0};
  struct Watched {
    std::uint32_t qp_num;
    const ibv_cq* cq;
    std::weak_ptr<Fault> fault;
  };
  std::vector<Watched> watched_;
};

}  // namespace fabricbench::transport::verbs
