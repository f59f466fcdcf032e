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
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.hpp"
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

// Re-establishes broken connections (Options::reconnect); one per transport, shared by its
// endpoints (which may outlive the transport). The side that connected originally (the lower
// rank, "connector") reconnects to the peer's kept listener and sends a 48-byte re-hello: the
// 32-byte hello (kind rehello, rank, index, both tokens) plus the count of messages it has
// received on that connection and 8 reserved bytes; the acceptor answers with the same
// (kind reack) carrying its own count. Each side then knows which of its fully written messages
// the peer never received. Thread-safe.
class Rejoiner {
 public:
  struct Joined {
    UniqueFd fd;
    std::uint64_t peer_received = 0;  // messages the peer has received on this connection
  };
  virtual ~Rejoiner() = default;
  // Connector: advances a non-blocking attempt (a new one every 250 ms while the peer does not
  // answer; `attempts` counts them). Returns the new connection once the peer answered.
  // Throws core::Error(runtime) when a socket cannot be made at all.
  virtual std::optional<Joined> reconnect(int peer, int index, std::uint64_t received,
                                          std::uint64_t& attempts) = 0;
  // Acceptor: accepts and identifies pending connections; returns the one for (peer, index)
  // after answering its re-hello with `received`.
  virtual std::optional<Joined> take(int peer, int index, std::uint64_t received) = 0;
  // Cheap (one atomic load): a re-hello for some endpoint is waiting.
  virtual bool offers_waiting() const noexcept = 0;
  // Accepts what is waiting on the listener (non-blocking).
  virtual void pump() = 0;
  virtual int listener_fd() const noexcept = 0;
  virtual void forget(int peer, int index) noexcept = 0;  // drop an attempt in progress
  // Socket options of a data connection (buffers, nodelay, user timeout and keepalive).
  virtual void configure(int fd) const = 0;
  virtual void record(ConnectionEvent event) = 0;
};

// What the connection setup learned about one connection.
struct EndpointInfo {
  int peer = -1;
  int index = 0;           // connection index within the peer
  bool connector = false;  // this side opened the connection (the lower rank of the pair)
  std::string local;       // "addr:port"
  std::string remote;      // "addr:port"
  std::string device;      // SO_BINDTODEVICE note, empty when no interface
  std::size_t rejected_handshakes = 0;
};

class TcpEndpoint final : public Endpoint {
 public:
  // `rejoiner` null: a broken connection fails the endpoint (Options::reconnect false).
  TcpEndpoint(UniqueFd fd, EndpointInfo info, const Options& options,
              std::shared_ptr<Rejoiner> rejoiner = nullptr);

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
  // One read call (recv or recvmsg with `flags`); MSG_DONTWAIT unless wait() blocks in it.
  void pump_recv(int flags);
  // A read of `got` bytes into staging that starts with a whole frame for the first posted
  // receive: completes it and stages the rest; false (nothing changed) otherwise.
  bool take_whole_frame(std::size_t got);
  // Blocking wait() on a blocking socket: reads blocking (up to the socket's receive timeout)
  // while the deadline is far enough; the completions then taken.
  // `now`: the clock as the caller last read it (the first pass reads no clock of its own).
  std::size_t wait_in_read(std::span<Completion> out, std::uint64_t now, std::uint64_t deadline);
  // With reconnect, an acceptor also watches the kept listener while it waits (the peer may
  // reconnect there).
  bool watches_listener() const noexcept { return rejoiner_ && !info_.connector; }
  void consume_staged();
  void on_header();
  bool start_payload();
  void finish_recv();
  std::size_t deliver(std::span<Completion> out) noexcept;
  // poll() without the read call when `read` is false (wait() before sleeping on a socket that
  // was empty at the last read).
  std::size_t progress(std::span<Completion> out, bool read);

  [[noreturn]] void fail(core::ErrorKind kind, const std::string& message);
  // A broken connection: throws, or with a rejoiner starts re-establishing it and returns (the
  // caller returns at once; nothing moves until it is back).
  void fail_io(int err, const char* what);
  void fail_closed();
  void connection_lost(const std::string& message);
  void check_broken() const;
  // While re-establishing: one step; true once the connection works again. Throws peer_lost
  // past reconnect_timeout.
  bool resume();
  void adopt(Rejoiner::Joined joined);
  ConnectionEvent event(const char* kind) const;

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
  // Blocking mode: the socket blocks (with a receive timeout) and wait() may sleep in recv().
  bool blocking_reads_ = false;
  // The last read call left the receive queue empty: it returned EAGAIN, or fewer bytes than
  // it asked for (TCP's recvmsg stops short only when the queue runs dry). A hint for wait().
  bool rx_drained_ = false;

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

  // Reconnect (Options::reconnect).
  std::shared_ptr<Rejoiner> rejoiner_;
  std::uint64_t reconnect_timeout_ns_ = 0;
  bool reconnecting_ = false;
  std::string break_cause_;
  std::uint64_t break_mono_ns_ = 0;
  std::uint64_t attempts_ = 0;
  std::uint64_t written_ = 0;   // messages fully written to the socket, all connections
  std::uint64_t received_ = 0;  // messages fully received, all connections
  std::uint32_t polls_ = 0;     // busy poll: pump the listener every 1024 polls

  core::ErrorKind broken_kind_ = core::ErrorKind::runtime;
  std::string broken_;  // non-empty once the connection failed: every later call rethrows
};

}  // namespace fabricbench::transport::tcp
