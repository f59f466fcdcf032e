#include "transports/tcp/tcp_endpoint.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "core/clock.hpp"
#include "transports/api/deadline.hpp"

namespace fabricbench::transport::tcp {
namespace {

using core::Error;
using core::ErrorKind;

constexpr std::uint32_t to_wire(std::uint32_t v) noexcept {
  if constexpr (std::endian::native == std::endian::big) return __builtin_bswap32(v);
  return v;
}

// A frame header as the wire carries it (16 bytes, little-endian words).
struct FrameHeader {
  std::uint32_t length;
  std::uint32_t tag;
  std::uint32_t flags;
  std::uint32_t reserved;
};

FrameHeader read_header(const std::byte* bytes) noexcept {
  std::array<std::uint32_t, 4> h{};
  std::memcpy(h.data(), bytes, kHeaderBytes);
  return FrameHeader{to_wire(h[0]), to_wire(h[1]), to_wire(h[2]), to_wire(h[3])};
}

int int_option(int fd, int level, int name) {
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(fd, level, name, &value, &len) != 0) return -1;
  return value;
}

std::string requested_text(std::uint64_t bytes) {
  return bytes == 0 ? std::string("default") : std::to_string(bytes);
}

// Blocking completion mode: the longest single blocking read of wait() (SO_RCVTIMEO), and the
// most the kernel may overrun it (it counts in scheduler ticks: 10 ms at HZ=100, the coarsest).
// wait() reads blocking only while at least both remain before its deadline.
constexpr std::uint64_t kBlockingReadNs = 10'000'000;
constexpr std::uint64_t kTickSlackNs = 10'000'000;

// Blocking completion mode: the socket itself blocks (every call that must not block passes
// MSG_DONTWAIT), so that wait() can sleep in recv() itself, one system call per wake-up as a
// blocking peer tool makes, instead of ppoll() and then a read. A read blocks at most
// kBlockingReadNs. False when the socket cannot be set up so (wait() then uses ppoll()).
bool make_blocking_reads(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return false;
  timeval tv{};
  tv.tv_sec = 0;
  tv.tv_usec = static_cast<suseconds_t>(kBlockingReadNs / 1000);
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) return false;
  return ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0;
}

// The data path's system calls, made directly. A rank has a second thread (the failure watch),
// so glibc brackets each recv()/sendmsg() with the cancellation-point switch (about 60
// instructions per call, a third of an empty busy poll: docs/PERFORMANCE.md); nothing in
// fabricbench cancels threads. Same arguments, return values and errno as the glibc calls.
ssize_t sys_recv(int fd, void* buffer, std::size_t length, int flags) noexcept {
  return ::syscall(SYS_recvfrom, fd, buffer, length, flags, nullptr, nullptr);
}

ssize_t sys_recvmsg(int fd, msghdr* msg, int flags) noexcept {
  return ::syscall(SYS_recvmsg, fd, msg, flags);
}

ssize_t sys_sendmsg(int fd, const msghdr* msg, int flags) noexcept {
  return ::syscall(SYS_sendmsg, fd, msg, flags);
}

}  // namespace

TcpEndpoint::TcpEndpoint(UniqueFd fd, EndpointInfo info, const Options& options,
                         std::shared_ptr<Rejoiner> rejoiner)
    : fd_(std::move(fd)),
      info_(std::move(info)),
      depth_(options.queue_depth),
      mode_(options.completion),
      sends_(options.queue_depth),
      recvs_(options.queue_depth),
      completions_(2 * options.queue_depth),
      staging_(std::make_unique<std::byte[]>(kStagingBytes)),
      sndbuf_requested_(options.sndbuf),
      rcvbuf_requested_(options.rcvbuf),
      rejoiner_(std::move(rejoiner)),
      reconnect_timeout_ns_(options.reconnect_timeout_ns) {
  nodelay_ = int_option(fd_.get(), IPPROTO_TCP, TCP_NODELAY) > 0;
  blocking_reads_ = mode_ == CompletionMode::blocking && make_blocking_reads(fd_.get());
  sndbuf_ = int_option(fd_.get(), SOL_SOCKET, SO_SNDBUF);
  rcvbuf_ = int_option(fd_.get(), SOL_SOCKET, SO_RCVBUF);
}

std::string TcpEndpoint::describe() const {
  std::string out =
      "tcp local=" + info_.local + " remote=" + info_.remote +
      " peer=" + std::to_string(info_.peer) + " connection=" + std::to_string(info_.index) +
      " nodelay=" + (nodelay_ ? "on" : "off") + " sndbuf=" + std::to_string(sndbuf_) +
      " sndbuf_requested=" + requested_text(sndbuf_requested_) +
      " rcvbuf=" + std::to_string(rcvbuf_) +
      " rcvbuf_requested=" + requested_text(rcvbuf_requested_) +
      " completion=" + (mode_ == CompletionMode::busy_poll ? "busy_poll" : "blocking") +
      " queue_depth=" + std::to_string(depth_);
  if (!info_.device.empty()) out += " device=" + info_.device;
  if (info_.rejected_handshakes != 0) {
    out += " rejected_handshakes=" + std::to_string(info_.rejected_handshakes);
  }
  if (rejoiner_) out += " on_break=reconnect";
  return out;
}

// ---- errors ----

void TcpEndpoint::check_broken() const {
  if (!broken_.empty()) throw Error(broken_kind_, broken_);
}

void TcpEndpoint::fail(ErrorKind kind, const std::string& message) {
  broken_kind_ = kind;
  broken_ = message;
  throw Error(kind, message);
}

void TcpEndpoint::fail_io(int err, const char* what) {
  const std::string who = "rank " + std::to_string(info_.peer) + " (" + info_.remote + ")";
  if (err == ECONNRESET || err == EPIPE || err == ENOTCONN || err == ETIMEDOUT ||
      err == EHOSTUNREACH || err == ENETUNREACH) {
    connection_lost("tcp: connection to " + who + " lost during " + what + ": " + errno_text(err));
    return;
  }
  fail(ErrorKind::runtime,
       std::string("tcp: ") + what + " on connection to " + who + " failed: " + errno_text(err));
}

void TcpEndpoint::fail_closed() {
  std::string message = "tcp: connection to rank " + std::to_string(info_.peer) + " (" +
                        info_.remote + ") closed by peer";
  if (rx_state_ == RxState::payload) {
    message += " in the middle of a " + std::to_string(rx_length_) + "-byte message (" +
               std::to_string(rx_got_) + " bytes received)";
  }
  connection_lost(message);
}

void TcpEndpoint::connection_lost(const std::string& message) {
  if (!rejoiner_) fail(ErrorKind::peer_lost, message);
  reconnecting_ = true;
  break_cause_ = message;
  break_mono_ns_ = core::now_ns();
  attempts_ = 0;
  fd_.reset();
  rejoiner_->record(event("connection.broken"));
}

ConnectionEvent TcpEndpoint::event(const char* kind) const {
  ConnectionEvent e;
  e.wall_ns = core::wall_clock_ns();
  e.mono_ns = core::now_ns();
  e.kind = kind;
  e.peer = info_.peer;
  e.index = info_.index;
  e.role = info_.connector ? "connector" : "acceptor";
  e.cause = break_cause_;
  return e;
}

bool TcpEndpoint::resume() {
  const std::uint64_t now = core::now_ns();
  if (now - break_mono_ns_ > reconnect_timeout_ns_) {
    rejoiner_->forget(info_.peer, info_.index);
    ConnectionEvent e = event("connection.reconnect_failed");
    e.outage_ns = now - break_mono_ns_;
    e.attempts = attempts_;
    rejoiner_->record(std::move(e));
    fail(ErrorKind::peer_lost, "tcp: connection " + std::to_string(info_.index) + " to rank " +
                                   std::to_string(info_.peer) + " broke (" + break_cause_ +
                                   ") and was not re-established within " +
                                   std::to_string(reconnect_timeout_ns_ / 1'000'000) +
                                   " ms (on_break: reconnect)");
  }
  std::optional<Rejoiner::Joined> joined;
  if (info_.connector) {
    joined = rejoiner_->reconnect(info_.peer, info_.index, received_, attempts_);
  } else {
    joined = rejoiner_->take(info_.peer, info_.index, received_);
    if (joined) ++attempts_;
  }
  if (!joined) return false;
  adopt(std::move(*joined));
  return true;
}

void TcpEndpoint::adopt(Rejoiner::Joined joined) {
  // Fully written messages the peer never received are lost (their completions were reported);
  // partly written ones go again from their first byte (the peer dropped the part it had).
  const std::uint64_t lost = written_ > joined.peer_received ? written_ - joined.peer_received : 0;
  written_ = joined.peer_received;
  std::uint64_t resent = 0;
  for (std::size_t i = 0; i < sends_.size(); ++i) {
    PendingSend& s = sends_.at(i);
    if (s.done > 0) ++resent;
    s.done = 0;
  }
  fd_ = std::move(joined.fd);
  rejoiner_->configure(fd_.get());
  blocking_reads_ = mode_ == CompletionMode::blocking && make_blocking_reads(fd_.get());
  send_blocked_ = false;
  rx_drained_ = false;
  rx_state_ = RxState::header;
  rx_header_got_ = 0;
  rx_got_ = 0;
  staged_begin_ = staged_end_ = 0;
  info_.local = local_name(fd_.get());
  info_.remote = peer_name(fd_.get());
  ConnectionEvent e = event("connection.reconnected");
  e.outage_ns = e.mono_ns - break_mono_ns_;
  e.attempts = attempts_;
  e.lost_messages = lost;
  e.resent_messages = resent;
  rejoiner_->record(std::move(e));
  reconnecting_ = false;
}

// ---- posting ----

const std::byte* TcpEndpoint::request_bytes(const WorkRequest& request, const char* what) const {
  if (request.length > kMaxMessageBytes) {
    throw Error(ErrorKind::runtime, std::string("tcp: post(") + what + ") of " +
                                        std::to_string(request.length) +
                                        " bytes exceeds the maximum message size of " +
                                        std::to_string(kMaxMessageBytes) + " bytes");
  }
  return local_range(request, "tcp", what);
}

bool TcpEndpoint::post(const WorkRequest& request) {
  switch (request.op) {
    case Op::send:
      check_broken();
      return post_send(request);
    case Op::recv:
      check_broken();
      return post_recv(request);
    case Op::write:
    case Op::write_imm:
    case Op::read:
    case Op::fetch_add:
    case Op::compare_swap:
      break;
  }
  throw Error(ErrorKind::unavailable, std::string("tcp: operation '") + op_name(request.op) +
                                          "' is not supported (the tcp transport does send and "
                                          "recv only)");
}

bool TcpEndpoint::post_send(const WorkRequest& request) {
  const std::byte* data = request_bytes(request, "send");
  if (send_outstanding_ >= depth_) return false;
  PendingSend& s = sends_.push();
  const auto length = static_cast<std::uint32_t>(request.length);
  s.header = {to_wire(length), to_wire(request.imm), 0, 0};
  s.data = data;
  s.wr_id = request.wr_id;
  s.length = length;
  s.done = 0;
  s.signaled = request.signaled;
  ++send_outstanding_;
  // Older sends still queued means the socket was full: keep order, poll() continues.
  if (sends_.size() == 1) flush_sends();
  return true;
}

bool TcpEndpoint::post_recv(const WorkRequest& request) {
  const std::byte* data = request_bytes(request, "recv");
  if (recv_outstanding_ >= depth_) return false;
  PostedRecv& r = recvs_.push();
  r.data = const_cast<std::byte*>(data);
  r.wr_id = request.wr_id;
  r.capacity = static_cast<std::uint32_t>(request.length);
  ++recv_outstanding_;
  return true;
}

// ---- sending ----

void TcpEndpoint::flush_sends() {
  if (reconnecting_) return;  // queued until the connection is back
  if (send_blocked_) {
    // The socket was full. Write again only once it reports POLLOUT (a third of the buffer
    // free: the point where the kernel would wake a blocking writer). Retrying on every sliver
    // of freed space makes a busy poller emit tiny segments and fight the ACK path for the
    // socket lock; the poll check is lockless.
    pollfd p{fd_.get(), POLLOUT, 0};
    if (::poll(&p, 1, 0) <= 0) return;
    send_blocked_ = false;
  }
  while (!sends_.empty()) {
    iovec iov[kMaxIov];
    int count = 0;
    std::size_t offered = 0;
    for (std::size_t i = 0; i < sends_.size() && count + 2 <= kMaxIov; ++i) {
      PendingSend& s = sends_.at(i);
      if (s.done < kHeaderBytes) {
        auto* header = reinterpret_cast<std::byte*>(s.header.data());
        iov[count].iov_base = header + s.done;
        iov[count].iov_len = kHeaderBytes - s.done;
        offered += iov[count++].iov_len;
      }
      const std::size_t payload_done = s.done > kHeaderBytes ? s.done - kHeaderBytes : 0;
      if (s.length > payload_done) {
        iov[count].iov_base = const_cast<std::byte*>(s.data) + payload_done;
        iov[count].iov_len = s.length - payload_done;
        offered += iov[count++].iov_len;
      }
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(count);
    const ssize_t written = sys_sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (written < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        send_blocked_ = true;
        return;
      }
      fail_io(err, "send");
      return;  // reconnecting
    }
    auto left = static_cast<std::size_t>(written);
    while (!sends_.empty()) {
      PendingSend& s = sends_.front();
      const std::size_t need = kHeaderBytes + s.length - s.done;
      if (left < need) {
        s.done += static_cast<std::uint32_t>(left);
        break;
      }
      left -= need;
      ++written_;
      if (s.signaled) {
        completions_.push() = Completion{s.wr_id, Op::send, s.length, 0};
      } else {
        --send_outstanding_;
      }
      sends_.pop();
    }
    if (static_cast<std::size_t>(written) < offered) {  // socket buffer full
      send_blocked_ = true;
      return;
    }
  }
}

// ---- receiving ----

void TcpEndpoint::on_header() {
  const FrameHeader h = read_header(rx_header_.data());
  rx_length_ = h.length;
  rx_tag_ = h.tag;
  if (h.flags != 0 || h.reserved != 0 || rx_length_ > kMaxMessageBytes) {
    fail(ErrorKind::runtime, "tcp: corrupt frame header from rank " + std::to_string(info_.peer) +
                                 " (" + info_.remote + "): length " + std::to_string(rx_length_) +
                                 ", flags " + std::to_string(h.flags) + ", reserved " +
                                 std::to_string(h.reserved));
  }
  rx_header_got_ = 0;
  rx_state_ = RxState::header_ready;
}

bool TcpEndpoint::start_payload() {
  if (recvs_.empty()) return false;
  const PostedRecv& r = recvs_.front();
  if (rx_length_ > r.capacity) {
    fail(ErrorKind::runtime, "tcp: message of " + std::to_string(rx_length_) + " bytes from rank " +
                                 std::to_string(info_.peer) + " (" + info_.remote +
                                 ") does not fit the posted receive buffer of " +
                                 std::to_string(r.capacity) + " bytes (wr_id " +
                                 std::to_string(r.wr_id) + ")");
  }
  rx_got_ = 0;
  rx_state_ = RxState::payload;
  if (rx_length_ == 0) finish_recv();
  return true;
}

void TcpEndpoint::finish_recv() {
  const PostedRecv& r = recvs_.front();
  completions_.push() = Completion{r.wr_id, Op::recv, rx_length_, rx_tag_};
  recvs_.pop();
  ++received_;
  rx_state_ = RxState::header;
}

void TcpEndpoint::consume_staged() {
  while (staged_begin_ < staged_end_) {
    const std::size_t avail = staged_end_ - staged_begin_;
    const std::byte* src = staging_.get() + staged_begin_;
    if (rx_state_ == RxState::header) {
      const std::size_t take = std::min(kHeaderBytes - rx_header_got_, avail);
      std::memcpy(rx_header_.data() + rx_header_got_, src, take);
      rx_header_got_ += take;
      staged_begin_ += take;
      if (rx_header_got_ == kHeaderBytes) on_header();
    } else if (rx_state_ == RxState::header_ready) {
      if (!start_payload()) return;  // no receive posted: leave the bytes staged
    } else {
      const std::size_t take = std::min<std::size_t>(rx_length_ - rx_got_, avail);
      std::memcpy(recvs_.front().data + rx_got_, src, take);
      rx_got_ += static_cast<std::uint32_t>(take);
      staged_begin_ += take;
      if (rx_got_ == rx_length_) finish_recv();
    }
  }
  staged_begin_ = staged_end_ = 0;
  if (rx_state_ == RxState::header_ready) start_payload();
}

bool TcpEndpoint::take_whole_frame(std::size_t got) {
  if (got < kHeaderBytes) return false;
  const FrameHeader h = read_header(staging_.get());
  // Anything else (a partial frame, flags or reserved bits set, a receive too small) takes the
  // general path, which also reports what is wrong with it.
  if (h.flags != 0 || h.reserved != 0 || got - kHeaderBytes < h.length) return false;
  if (h.length > recvs_.front().capacity) return false;
  if (h.length != 0) std::memcpy(recvs_.front().data, staging_.get() + kHeaderBytes, h.length);
  rx_length_ = h.length;
  rx_tag_ = h.tag;
  finish_recv();
  staged_begin_ = kHeaderBytes + h.length;
  staged_end_ = got;
  return true;
}

void TcpEndpoint::pump_recv(int flags) {
  if (reconnecting_) return;
  if (staged_begin_ != staged_end_ || rx_state_ == RxState::header_ready) consume_staged();
  // Read only into posted receives: with none posted, TCP backpressure holds the sender.
  if (recvs_.empty() || staged_begin_ != staged_end_) return;
  ssize_t got = 0;
  if (rx_state_ != RxState::payload) {
    // Between frames (where a busy poller spins): one plain recv() into the staging area takes
    // the header, a small payload and any frames behind it. recv() is the cheapest read call,
    // which matters when most calls find nothing (EAGAIN).
    do {
      got = sys_recv(fd_.get(), staging_.get(), kStagingBytes, flags);
    } while (got < 0 && errno == EINTR && flags != 0);
    if (got > 0) {
      const auto n = static_cast<std::size_t>(got);
      rx_drained_ = n < kStagingBytes;
      // The common case of a ping-pong, one whole small frame from the start of a read, skips
      // the byte-wise state machine; what follows it is staged as usual.
      if (rx_state_ != RxState::header || rx_header_got_ != 0 || !take_whole_frame(n)) {
        staged_end_ = n;
      }
      if (staged_begin_ == staged_end_) {
        staged_begin_ = staged_end_ = 0;
      } else {
        consume_staged();
      }
      return;
    }
  } else {
    // Inside a payload: the rest goes straight into the receive buffer, what follows into
    // staging.
    iovec iov[2];
    iov[0].iov_base = recvs_.front().data + rx_got_;
    iov[0].iov_len = rx_length_ - rx_got_;
    iov[1].iov_base = staging_.get();
    iov[1].iov_len = kStagingBytes;
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    do {
      got = sys_recvmsg(fd_.get(), &msg, flags);
    } while (got < 0 && errno == EINTR && flags != 0);
    if (got > 0) {
      rx_drained_ = static_cast<std::size_t>(got) < iov[0].iov_len + iov[1].iov_len;
      const std::size_t direct = std::min(static_cast<std::size_t>(got), iov[0].iov_len);
      rx_got_ += static_cast<std::uint32_t>(direct);
      if (rx_got_ == rx_length_) finish_recv();
      staged_end_ = static_cast<std::size_t>(got) - direct;
      consume_staged();
      return;
    }
  }
  if (got == 0) {
    fail_closed();
    return;  // reconnecting
  }
  const int err = errno;
  // EAGAIN: nothing to read (or a blocking read's timeout); EINTR: a signal ended a blocking
  // read (the non-blocking ones retry above).
  if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
    rx_drained_ = true;
    return;
  }
  fail_io(err, "recv");
}

// ---- completions ----

std::size_t TcpEndpoint::deliver(std::span<Completion> out) noexcept {
  const std::size_t n = std::min(out.size(), completions_.size());
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = completions_.front();
    completions_.pop();
    if (out[i].op == Op::send) {
      --send_outstanding_;
    } else {
      --recv_outstanding_;
    }
  }
  return n;
}

std::size_t TcpEndpoint::poll(std::span<Completion> out) {
  return progress(out, true);
}

std::size_t TcpEndpoint::progress(std::span<Completion> out, bool read) {
  if (!broken_.empty()) check_broken();
  if (rejoiner_) {
    if (!reconnecting_ && !info_.connector) {
      // The peer may have re-established a connection this side still thinks is alive.
      if ((++polls_ & 1023U) == 0) rejoiner_->pump();
      if (rejoiner_->offers_waiting()) {
        if (auto joined = rejoiner_->take(info_.peer, info_.index, received_)) {
          break_cause_ = "the peer re-established the connection (its side broke)";
          break_mono_ns_ = core::now_ns();
          attempts_ = 1;
          rejoiner_->record(event("connection.broken"));
          adopt(std::move(*joined));
        }
      }
    }
    if (reconnecting_ && !resume()) return deliver(out);
  }
  if (!sends_.empty()) flush_sends();
  if (!reconnecting_ && !recvs_.empty()) {
    if (read) {
      pump_recv(MSG_DONTWAIT);
    } else {
      consume_staged();  // what an earlier read left staged, without a read call
    }
  }
  return deliver(out);
}

std::size_t TcpEndpoint::wait_in_read(std::span<Completion> out, std::uint64_t now,
                                      std::uint64_t deadline) {
  // Only in the plain case: something to receive and nothing to send (a send waits for POLLOUT),
  // nothing staged, the connection up, no kept listener to watch (an acceptor with reconnect).
  while (!reconnecting_ && !watches_listener() && sends_.empty() && !recvs_.empty() &&
         staged_begin_ == staged_end_) {
    if (now >= deadline || deadline - now < kBlockingReadNs + kTickSlackNs) return 0;
    pump_recv(0);  // returns with data, at the receive timeout, or on a signal
    const std::size_t n = deliver(out);
    if (n != 0) return n;
    now = core::now_ns();
  }
  return 0;
}

std::size_t TcpEndpoint::wait(std::span<Completion> out, std::uint64_t timeout_ns) {
  const bool blocking = mode_ == CompletionMode::blocking;
  // Completions already taken (a send that completed in post(), the rest of a batch) are
  // returned without touching the socket.
  if (blocking && !out.empty() && !completions_.empty()) {
    check_broken();
    return deliver(out);
  }
  // Blocking, and the last read left the socket empty (EAGAIN or a short read): a read now would
  // most likely find nothing again (the caller usually polled just before), so go straight to
  // ppoll(), which returns at once if data came meanwhile, and read after it.
  std::size_t n = progress(out, !(blocking && rx_drained_ && timeout_ns != 0));
  if (n != 0 || timeout_ns == 0 || out.empty()) return n;
  const std::uint64_t start = core::now_ns();
  const std::uint64_t deadline = saturating_deadline(start, timeout_ns);
  if (blocking_reads_) {
    n = wait_in_read(out, start, deadline);
    if (n != 0) return n;
  }
  if (mode_ == CompletionMode::busy_poll) {
    while (true) {
      n = poll(out);
      if (n != 0) return n;
      if (core::now_ns() >= deadline) return 0;
    }
  }
  const bool watch_listener = watches_listener();
  while (true) {
    const std::uint64_t now = core::now_ns();
    if (now >= deadline) return 0;
    std::uint64_t remaining = deadline - now;
    pollfd p[2] = {};
    nfds_t count = 0;
    if (reconnecting_) {
      remaining = std::min<std::uint64_t>(remaining, 10'000'000);  // retry pace
    } else {
      p[0].fd = fd_.get();
      if (!recvs_.empty()) p[0].events |= POLLIN;
      if (!sends_.empty()) p[0].events |= POLLOUT;
      count = 1;
    }
    if (watch_listener) p[count++] = pollfd{rejoiner_->listener_fd(), POLLIN, 0};
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(
        std::min<std::uint64_t>(remaining / 1'000'000'000ULL, std::numeric_limits<int>::max()));
    ts.tv_nsec = static_cast<long>(remaining % 1'000'000'000ULL);
    const int rc = ::ppoll(p, count, &ts, nullptr);
    if (rc < 0) {
      if (errno == EINTR) continue;
      fail(ErrorKind::runtime, "tcp: ppoll() in wait failed: " + errno_text(errno));
    }
    if (watch_listener && (p[count - 1].revents & POLLIN) != 0) rejoiner_->pump();
    if (!reconnecting_ && rc > 0 && p[0].events == 0 && (p[0].revents & (POLLERR | POLLHUP)) != 0) {
      // Nothing pending, but the connection broke: say so rather than sleep on it.
      const int err = int_option(fd_.get(), SOL_SOCKET, SO_ERROR);
      if (err > 0) {
        fail_io(err, "wait");
      } else {
        fail_closed();
      }
    }
    if (!reconnecting_ && (p[0].revents & POLLOUT) != 0) send_blocked_ = false;
    n = poll(out);
    if (n != 0) return n;
  }
}

}  // namespace fabricbench::transport::tcp
