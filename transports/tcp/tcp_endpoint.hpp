#pragma once
// One TCP connection to one peer rank (internal to the TCP transport).
//
// Hot path: no allocation, no std::function. Sends wait in a preallocated ring and go out with
// one sendmsg (header + payload, several messages per call when queued); receives wait in a
// preallocated FIFO. One read call per poll: between frames a plain recv() into a small staging
// area (takes a header, a small payload and the frames behind it: many small messages per call,
// and the cheapest call when a busy poller finds nothing); inside a payload a readv() straight
// into the oldest posted receive buffer plus the staging area, so big payloads are not copied.
// Nothing is read while no receive is posted (flow control by TCP backpressure).
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "harness/core/error.hpp"
#include "transports/api/transport.hpp"
#include "transports/tcp/socket_util.hpp"
#include "transports/tcp/tcp_transport.hpp"

namespace fabricbench::transport::tcp {

inline constexpr std::size_t kHeaderBytes = 16;
inline constexpr std::uint64_t kMaxMessageBytes = std::uint64_t{1} << 30;  // 1 GiB

// Fixed-capacity FIFO; the owner guarantees it never overflows.
template <class T>
class Ring {
 public:
  explicit Ring(std::size_t capacity)
      : slots_(std::bit_ceil(capacity == 0 ? std::size_t{1} : capacity)),
        mask_(slots_.size() - 1) {}
  bool empty() const noexcept { return head_ == tail_; }
  std::size_t size() const noexcept { return tail_ - head_; }
  T& front() noexcept { return slots_[head_ & mask_]; }
  T& at(std::size_t i) noexcept { return slots_[(head_ + i) & mask_]; }
  T& push() noexcept { return slots_[tail_++ & mask_]; }
  void pop() noexcept { ++head_; }

 private:
  std::vector<T> slots_;
  std::size_t mask_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

// What the connection setup learned about one connection.
struct EndpointInfo {
  int peer = -1;
  int index = 0;       // connection index within the peer
  std::string local;   // "addr:port"
  std::string remote;  // "addr:port"
  std::string device;  // SO_BINDTODEVICE note, empty when no interface
  std::size_t rejected_handshakes = 0;
};

class TcpEndpoint final : public Endpoint {
 public:
  TcpEndpoint(UniqueFd fd, EndpointInfo info, const Options& options);

  int peer() const override { return info_.peer; }
  bool post(const WorkRequest& request) override;
  std::size_t poll(std::span<Completion> out) override;
  std::size_t wait(std::span<Completion> out, std::uint64_t timeout_ns) override;
  std::size_t queue_depth() const override { return depth_; }
  std::string describe() const override;

 private:
  struct PendingSend {
    std::array<std::uint32_t, 4> header{};  // little-endian on the wire
    const std::byte* data = nullptr;
    std::uint64_t wr_id = 0;
    std::uint32_t length = 0;
    std::uint32_t done = 0;  // bytes of header + payload already written
    bool signaled = true;
  };
  struct PostedRecv {
    std::byte* data = nullptr;
    std::uint64_t wr_id = 0;
    std::uint32_t capacity = 0;
  };
  enum class RxState : std::uint8_t { header, header_ready, payload };

  static constexpr std::size_t kStagingBytes = 8192;
  static constexpr int kMaxIov = 64;

  const std::byte* request_bytes(const WorkRequest& request, const char* what) const;
  bool post_send(const WorkRequest& request);
  bool post_recv(const WorkRequest& request);
  void flush_sends();
  void pump_recv();
  void consume_staged();
  void on_header();
  bool start_payload();
  void finish_recv();
  std::size_t deliver(std::span<Completion> out) noexcept;

  [[noreturn]] void fail(core::ErrorKind kind, const std::string& message);
  [[noreturn]] void fail_io(int err, const char* what);
  [[noreturn]] void fail_closed();
  void check_broken() const;

  UniqueFd fd_;
  EndpointInfo info_;
  std::size_t depth_;
  CompletionMode mode_;

  Ring<PendingSend> sends_;
  Ring<PostedRecv> recvs_;
  Ring<Completion> completions_;
  std::size_t send_outstanding_ = 0;  // posted, completion not yet returned by poll
  std::size_t recv_outstanding_ = 0;
  bool send_blocked_ = false;  // the last write found the socket full

  RxState rx_state_ = RxState::header;
  alignas(8) std::array<std::byte, kHeaderBytes> rx_header_{};
  std::size_t rx_header_got_ = 0;
  std::uint32_t rx_length_ = 0;
  std::uint32_t rx_tag_ = 0;
  std::uint32_t rx_got_ = 0;
  std::unique_ptr<std::byte[]> staging_;
  std::size_t staged_begin_ = 0;
  std::size_t staged_end_ = 0;

  // As applied, for describe().
  bool nodelay_ = false;
  int sndbuf_ = 0;
  int rcvbuf_ = 0;
  std::uint64_t sndbuf_requested_ = 0;
  std::uint64_t rcvbuf_requested_ = 0;

  core::ErrorKind broken_kind_ = core::ErrorKind::runtime;
  std::string broken_;  // non-empty once the connection failed: every later call rethrows
};

}  // namespace fabricbench::transport::tcp
