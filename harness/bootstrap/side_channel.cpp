#include "harness/bootstrap/side_channel.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "harness/bootstrap/net.hpp"
#include "harness/bootstrap/wire.hpp"

namespace fabricbench::bootstrap {

namespace {

using core::Error;
using core::ErrorKind;
using net::Clock;
using std::chrono::milliseconds;
using wire::Op;
using wire::Type;

constexpr std::size_t kReadChunk = 256 * 1024;
constexpr std::size_t kMaxReadPerCall = 8 * 1024 * 1024;
constexpr std::size_t kMaxPendingHandshakes = 64;

// Side-channel frames are small and answered: Nagle's algorithm would hold a frame's second
// write (a sealed frame's MAC trailer goes out after its shared body) until the peer's delayed
// ACK, up to 40 ms per collective. Best effort: a socket that refuses still works, slower.
void set_nodelay(int fd) noexcept {
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}
constexpr std::size_t kMaxRefusedListed = 1000;
constexpr std::size_t kMaxDrain = 1024 * 1024;

// A sealed frame whose MAC does not verify (see wire.hpp): forged, altered, replayed, reordered,
// or one before it was lost.
class ForgedFrame : public wire::MalformedFrame {
 public:
  ForgedFrame()
      : wire::MalformedFrame(
            "side-channel frame failed authentication (forged, replayed or corrupted)") {}
};

// The address part of "addr:port" or "[v6]:port": the source whose handshakes share fair slots.
std::string source_of(const std::string& address) {
  const auto colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

// A peer waits for the hub a little longer than `timeout`: the hub's own deadline may have
// started later, and the hub's verdict (naming the rank that really stalled) should arrive first.
milliseconds hub_grace(milliseconds timeout) {
  return std::clamp(timeout / 4, milliseconds(1000), milliseconds(10'000));
}

// How long a connection may take to complete the handshake before rank 0 drops it.
milliseconds handshake_limit(milliseconds timeout) {
  return std::min(timeout, milliseconds(10'000));
}

// How long abort and bye notifications may take to leave.
milliseconds notify_limit(milliseconds timeout) {
  return std::min(timeout, milliseconds(2'000));
}

std::string ms_text(milliseconds ms) {
  return std::to_string(ms.count()) + " ms";
}

std::string op_name(Op op, std::uint32_t root) {
  switch (op) {
    case Op::barrier:
      return "barrier";
    case Op::allgather:
      return "allgather";
    case Op::broadcast:
      return "broadcast from rank " + std::to_string(root);
    case Op::gather:
      return "gather to rank 0";
  }
  return "collective " + std::to_string(static_cast<int>(op));
}

ErrorKind kind_from_wire(std::uint8_t value) {
  switch (value) {
    case static_cast<std::uint8_t>(ErrorKind::config):
    case static_cast<std::uint8_t>(ErrorKind::usage):
    case static_cast<std::uint8_t>(ErrorKind::unavailable):
    case static_cast<std::uint8_t>(ErrorKind::runtime):
    case static_cast<std::uint8_t>(ErrorKind::peer_lost):
    case static_cast<std::uint8_t>(ErrorKind::timeout):
      return static_cast<ErrorKind>(value);
    default:
      return ErrorKind::runtime;
  }
}

enum class Io { ok, closed, error };

// Discards whatever the socket holds (bounded), so that close() does not reset a connection whose
// last frames the other side has not read yet.
void drain(int fd) noexcept {
  char buf[4096];
  std::size_t total = 0;
  while (total < kMaxDrain) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    total += static_cast<std::size_t>(n);
  }
}

// A failed peer's wait for the hub's process to end (bounded by `deadline`). The hub shuts its
// sending side down as soon as it fails, so end of stream is not the signal: once it is seen, a
// byte is sent now and then (the hub reads nothing more); when the hub's process has ended its
// kernel answers with a reset and the send fails.
void wait_for_close(int fd, Clock::time_point deadline) noexcept {
  char buf[4096];
  bool eof = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return;
    if (eof && ::send(fd, "", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN &&
        errno != EINTR) {
      return;
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 20)));
    if (ready < 0 && errno != EINTR) return;
    if (ready <= 0) continue;
    if ((p.revents & (POLLERR | POLLNVAL)) != 0) return;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) eof = true;
    if (n < 0 && errno != EINTR && errno != EAGAIN) return;
    if (eof) std::this_thread::sleep_for(milliseconds(20));
  }
}

// One TCP connection of the star, non-blocking, with its input buffer and output queue.
struct Conn {
  net::Fd fd;
  int rank = -1;        // -1 while a connection to the hub is still handshaking
  std::string address;  // remote addr:port
  std::string source;   // remote address without the port (hub: fair handshake slots)
  std::string in;
  std::size_t in_pos = 0;
  std::deque<std::shared_ptr<const std::string>> out;
  std::size_t out_off = 0;
  std::uint64_t max_payload = wire::kMaxHandshakePayload;
  bool open = true;
  int error = 0;  // errno of the failure, 0 for an orderly close
  std::string hub_nonce;
  Clock::time_point handshake_deadline{};
  // Set once the handshake is complete: every later frame, both ways, is sealed (wire.hpp).
  std::optional<wire::Session> session;

  bool has_output() const noexcept { return !out.empty(); }
  bool handshaking() const noexcept { return max_payload <= wire::kMaxHandshakePayload; }
  void queue(std::shared_ptr<const std::string> bytes) { out.push_back(std::move(bytes)); }
  void queue(Type type, std::string_view payload) {
    queue(std::make_shared<const std::string>(session ? session->seal(type, payload)
                                                      : wire::encode_frame(type, payload)));
  }
  // A frame whose header and payload (wire::sealed_head) other connections share: that, then
  // this connection's MAC trailer.
  void queue_sealed(Type type, const std::shared_ptr<const std::string>& head) {
    const std::string_view payload = std::string_view(*head).substr(wire::kHeaderBytes);
    if (!session) {
      queue(type, payload);
      return;
    }
    std::string trailer = session->trailer(type, payload);
    queue(head);
    queue(std::make_shared<const std::string>(std::move(trailer)));
  }

  std::string failure_text() const {
    if (error == 0 || error == EPIPE) return "connection closed";
    if (error == ECONNRESET) return "connection reset";
    return "connection failed (" + net::errno_text(error) + ")";
  }

  // Reads what the socket holds (bounded per call). Sets progress when bytes arrived. While the
  // connection handshakes it never holds more than one largest handshake frame: whatever a
  // stranger sends, rank 0 keeps at most that much of it.
  Io read_some(bool& progress) {
    progress = false;
    std::size_t total = 0;
    const std::size_t handshake_cap = wire::kHeaderBytes + wire::kMaxHandshakePayload;
    while (total < kMaxReadPerCall) {
      std::size_t want = kReadChunk;
      if (handshaking()) {
        const std::size_t held = in.size() - in_pos;
        if (held >= handshake_cap) return Io::ok;  // a whole frame, or take_frame refuses it
        want = std::min(want, handshake_cap - held);
      }
      if (const auto len = wire::peek_payload_length(in, in_pos); len && *len <= max_payload) {
        const std::size_t frame_end = in_pos + wire::kHeaderBytes + static_cast<std::size_t>(*len) +
                                      (handshaking() ? 0 : kReadChunk);
        if (frame_end > in.capacity()) in.reserve(frame_end);
      }
      // Through one scratch buffer per thread: a connection's own buffer grows only by what
      // arrives (rank 0 holds one per rank: 256 KiB each would be 64 MiB at 256 ranks).
      thread_local std::vector<char> scratch(kReadChunk);
      const ssize_t n = ::recv(fd.get(), scratch.data(), want, 0);
      if (n > 0) {
        in.append(scratch.data(), static_cast<std::size_t>(n));
        total += static_cast<std::size_t>(n);
        progress = true;
        continue;
      }
      if (n == 0) return Io::closed;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Io::ok;
      error = errno;
      return Io::error;
    }
    return Io::ok;
  }

  // The next complete frame, if any, verified and without its MAC once the connection is
  // sealed. Throws wire::MalformedFrame, ForgedFrame when a sealed frame does not verify.
  std::optional<wire::Frame> next_frame() {
    auto frame = wire::take_frame(in, in_pos, max_payload);
    if (frame && session && !session->open(*frame)) throw ForgedFrame();
    if (in_pos == in.size()) {
      in.clear();
      in_pos = 0;
      if (in.capacity() > 4 * kMaxReadPerCall) in.shrink_to_fit();
    } else if (in_pos >= kReadChunk && in_pos * 2 >= in.size()) {
      in.erase(0, in_pos);
      in_pos = 0;
    }
    return frame;
  }

  // Sends what the socket takes. Sets progress when bytes left.
  Io write_some(bool& progress) {
    progress = false;
    while (!out.empty()) {
      const std::string& front = *out.front();
      const ssize_t n =
          ::send(fd.get(), front.data() + out_off, front.size() - out_off, MSG_NOSIGNAL);
      if (n > 0) {
        progress = true;
        out_off += static_cast<std::size_t>(n);
        if (out_off == front.size()) {
          out.pop_front();
          out_off = 0;
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Io::ok;
      error = n < 0 ? errno : EPIPE;
      return Io::error;
    }
    return Io::ok;
  }

  void drop_output() noexcept {
    out.clear();
    out_off = 0;
  }
};

struct AddrinfoDeleter {
  void operator()(addrinfo* ai) const noexcept { ::freeaddrinfo(ai); }
};

int poll_fds(std::vector<pollfd>& fds, int ms) {
  for (;;) {
    const int rc = ::poll(fds.data(), fds.size(), ms);
    if (rc >= 0 || errno != EINTR) return rc;
  }
}

class SideChannelImpl final : public SideChannel {
 public:
  explicit SideChannelImpl(const SideChannelConfig& config);
  ~SideChannelImpl() override;
  SideChannelImpl(const SideChannelImpl&) = delete;
  SideChannelImpl& operator=(const SideChannelImpl&) = delete;

  int rank() const override { return config_.rank; }
  int size() const override { return config_.size; }
  std::string launcher() const override { return config_.launcher; }

  void barrier() override { run_collective(Op::barrier, 0, {}); }
  std::vector<int> liveness_fds() const override {
    std::vector<int> fds;
    if (failed_.load()) return fds;
    for (const auto& c : conns_) {
      if (c && c->open && c->fd.valid()) fds.push_back(c->fd.get());
    }
    return fds;
  }

  std::vector<std::string> allgather(const std::string& mine) override {
    return contributions(run_collective(Op::allgather, 0, mine));
  }

  // Rank 0 answers the others with an empty result: only it holds the contributions.
  std::vector<std::string> gather(const std::string& mine) override {
    const std::string body = run_collective(Op::gather, 0, mine);
    if (!is_hub()) return {};
    return contributions(body);
  }

  // The contributions of an allgather or gather result, by rank.
  std::vector<std::string> contributions(const std::string& body) const {
    wire::Reader r(body);
    std::vector<std::string> out;
    try {
      const std::uint32_t n = r.u32();
      out.reserve(n);
      for (std::uint32_t i = 0; i < n; ++i) out.push_back(r.bytes());
      r.expect_done();
    } catch (const wire::MalformedFrame& e) {
      throw Error(ErrorKind::runtime,
                  "bootstrap: malformed allgather result: " + std::string(e.what()));
    }
    if (out.size() != static_cast<std::size_t>(config_.size)) {
      throw Error(ErrorKind::runtime, "bootstrap: allgather result has " +
                                          std::to_string(out.size()) + " entries, expected " +
                                          std::to_string(config_.size));
    }
    return out;
  }

  std::string broadcast(int root, const std::string& data) override {
    const std::string body = run_collective(Op::broadcast, root, data);
    try {
      wire::Reader r(body);
      std::string out = r.bytes();
      r.expect_done();
      return out;
    } catch (const wire::MalformedFrame& e) {
      throw Error(ErrorKind::runtime,
                  "bootstrap: malformed broadcast result: " + std::string(e.what()));
    }
  }

  void abort(const std::string& reason) noexcept override;
  void wait_for_root_to_finish() noexcept override {
    const std::unique_lock lock(mu_, std::try_to_lock);  // a collective in progress: leave it
    if (lock.owns_lock()) wait_for_root_locked();
  }

  std::vector<RefusedConnection> refused_connections() const override {
    std::vector<RefusedConnection> out = refused_;
    if (refused_unlisted_ > 0) out.push_back(unlisted_summary());
    return out;
  }
  bool failed() const noexcept override { return failed_.load(); }
  std::string local_address() const override { return local_host_; }
  std::uint64_t join_ns() const override { return join_ns_; }

 private:
  struct Member {
    std::uint64_t pid = 0;
    std::string host;
  };

  // join
  void root_join(net::Fd listener);
  void accept_all(int listener, std::vector<std::unique_ptr<Conn>>& pending);
  // Fair handshake slots (side_channel.hpp): false when the newcomer is to be refused.
  bool make_room(const Conn& newcomer, std::vector<std::unique_ptr<Conn>>& pending);
  // Returns the admitted rank, -1 to keep waiting, -2 when the connection was refused.
  int handshake_event(Conn& c);
  int judge_hello(Conn& c, const wire::Hello& hello);
  void refuse(Conn& c, const std::string& reason, bool tell);
  void record_refused(RefusedConnection refused);
  RefusedConnection unlisted_summary() const {
    return RefusedConnection{"", "and " + std::to_string(refused_unlisted_) + " more refused"};
  }
  void peer_join();
  bool try_handshake(net::Fd fd, Clock::time_point deadline, std::string& last_error);
  std::optional<wire::Frame> wait_frame(Conn& c, Clock::time_point deadline);
  void wait_ready();

  // collectives
  std::string run_collective(Op op, int root, const std::string& data);
  std::string hub_collective(Op op, std::uint32_t root, const std::string& data);
  std::string peer_collective(Op op, std::uint32_t root, const std::string& data);
  std::string result_body(Op op, std::uint32_t root, std::vector<std::optional<std::string>>& got);
  void hub_flush(const std::string& what);

  // Reads from c and hands each frame to on_frame (which returns false to leave the rest queued);
  // fails with peer_lost when the connection broke.
  template <class OnFrame>
  void pump_in(Conn& c, const std::string& what, OnFrame&& on_frame, bool& progress);
  // Frames every phase understands: abort, bye; anything else is a protocol error.
  [[noreturn]] void control_frame(Conn& c, const wire::Frame& f, const std::string& what);
  [[noreturn]] void broken(Conn& c, const std::string& what);
  [[noreturn]] void lost(Conn& c, const std::string& what);
  [[noreturn]] void forged(Conn& c, const std::string& what);
  [[noreturn]] void malformed(Conn& c, const std::string& what, const char* why);

  // Records the first failure, tells the other ranks (notify: the hub tells every peer but
  // `exclude`, a peer tells the hub) and throws.
  [[noreturn]] void fail(ErrorKind kind, const std::string& message, bool notify, int exclude = -1);
  void notify_abort(ErrorKind kind, const std::string& message, int exclude) noexcept;
  void flush_best_effort(Clock::time_point deadline) noexcept;
  void check_wake();
  void abort_locked(const std::string& reason) noexcept;

  void wait_for_root_locked() noexcept {
    if (is_hub() || !failed_.load() || conns_.empty() || !conns_[0] || !conns_[0]->fd.valid()) {
      return;
    }
    wait_for_close(conns_[0]->fd.get(), Clock::now() + hub_grace(timeout()));
  }
  std::string describe(int rank) const;
  std::string describe_list(const std::vector<int>& ranks) const;
  bool is_hub() const noexcept { return config_.rank == 0; }
  milliseconds timeout() const noexcept { return config_.options.timeout; }

  SideChannelConfig config_;
  std::string host_;
  std::string root_address_;  // as shown in messages
  std::vector<Member> members_;
  std::vector<std::unique_ptr<Conn>> conns_;  // hub: by rank (0 unused); peer: [0] = the hub
  std::string local_host_;                    // local_address(), set once the ranks joined
  std::uint64_t join_ns_ = 0;                 // join_ns()
  std::vector<RefusedConnection> refused_;    // the first kMaxRefusedListed
  std::uint64_t refused_unlisted_ = 0;        // refused after those: counted only
  std::uint64_t refused_total_ = 0;
  RefusedConnection last_refused_;
  std::uint64_t seq_ = 0;
  std::optional<Error> error_;
  std::atomic<bool> failed_{false};
  std::mutex mu_;  // one collective at a time; abort() only try-locks it
  std::mutex abort_mu_;
  std::optional<std::string> abort_request_;
  net::Fd wake_read_;
  net::Fd wake_write_;
};

SideChannelImpl::SideChannelImpl(const SideChannelConfig& config) : config_(config) {
  net::Fd listener(config.listen_fd);  // owned from here on, also when we throw
  config_.listen_fd = -1;
  config_.on_refused = config.on_refused;
  const auto usage = [](const std::string& why) {
    return Error(ErrorKind::usage, "bootstrap: " + why);
  };
  if (config_.size < 1) throw usage("size must be at least 1, got " + std::to_string(config_.size));
  if (config_.rank < 0 || config_.rank >= config_.size) {
    throw usage("rank " + std::to_string(config_.rank) + " is outside 0.." +
                std::to_string(config_.size - 1));
  }
  if (config_.secret.empty()) throw usage("the side-channel secret is empty");
  if (config_.options.timeout <= milliseconds(0)) {
    throw usage("timeout must be positive, got " + ms_text(config_.options.timeout));
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw Error(ErrorKind::runtime, "bootstrap: pipe2 failed: " + net::errno_text(errno));
  }
  wake_read_.reset(pipe_fds[0]);
  wake_write_.reset(pipe_fds[1]);
  host_ = net::hostname();
  members_.resize(static_cast<std::size_t>(config_.size));
  members_[static_cast<std::size_t>(config_.rank)] =
      Member{static_cast<std::uint64_t>(::getpid()), host_};
  const auto join_start = Clock::now();
  if (config_.rank == 0) {
    root_join(std::move(listener));
  } else {
    listener.reset();
    peer_join();
  }
  join_ns_ = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - join_start).count());
  for (const auto& c : conns_) {
    if (!c || !c->fd.valid()) continue;
    local_host_ = net::local_host(c->fd.get());
    break;
  }
}

SideChannelImpl::~SideChannelImpl() {
  std::lock_guard lock(mu_);
  std::optional<std::string> request;
  {
    std::lock_guard guard(abort_mu_);
    request.swap(abort_request_);
  }
  if (request) abort_locked(*request);
  if (!failed_.load()) {
    for (auto& c : conns_) {
      if (c && c->open) c->queue(Type::bye, {});
    }
    flush_best_effort(Clock::now() + notify_limit(timeout()));
  }
  // After a failure a peer waits (bounded) for the hub to close first: the hub is writing the run
  // document, and a launcher such as mpirun kills the whole job once any rank has exited with an
  // error, which would cut the document short.
  wait_for_root_locked();
  for (auto& c : conns_) {
    if (c && c->fd.valid()) {
      ::shutdown(c->fd.get(), SHUT_WR);
      drain(c->fd.get());
    }
  }
}

std::string SideChannelImpl::describe(int rank) const {
  std::string out = "rank " + std::to_string(rank);
  if (rank >= 0 && rank < config_.size) {
    const Member& m = members_[static_cast<std::size_t>(rank)];
    if (!m.host.empty()) out += " (" + m.host + ", pid " + std::to_string(m.pid) + ")";
  }
  return out;
}

std::string SideChannelImpl::describe_list(const std::vector<int>& ranks) const {
  std::string out;
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    if (i > 0) out += i + 1 == ranks.size() ? " and " : ", ";
    out += describe(ranks[i]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Failure handling

void SideChannelImpl::fail(ErrorKind kind, const std::string& message, bool notify, int exclude) {
  if (!error_) {
    error_.emplace(kind, message);
    failed_.store(true);
    if (notify) notify_abort(kind, message, exclude);
    for (auto& c : conns_) {
      if (c && c->open) ::shutdown(c->fd.get(), SHUT_WR);
    }
  }
  throw Error(kind, message);
}

void SideChannelImpl::notify_abort(ErrorKind kind, const std::string& message,
                                   int exclude) noexcept {
  try {
    const auto head = std::make_shared<const std::string>(wire::sealed_head(
        Type::abort, wire::encode(wire::Abort{static_cast<std::uint8_t>(kind), message})));
    for (auto& c : conns_) {
      if (c && c->open && c->rank != exclude) c->queue_sealed(Type::abort, head);
    }
    flush_best_effort(Clock::now() + notify_limit(timeout()));
  } catch (...) {
    // best effort: the other ranks still notice the closed connection or their own timeout
  }
}

void SideChannelImpl::flush_best_effort(Clock::time_point deadline) noexcept {
  try {
    for (;;) {
      std::vector<pollfd> fds;
      std::vector<Conn*> who;
      for (auto& c : conns_) {
        if (c && c->open && c->has_output()) {
          fds.push_back(pollfd{c->fd.get(), POLLOUT, 0});
          who.push_back(c.get());
        }
      }
      if (fds.empty()) return;
      const int ms = net::poll_ms(deadline);
      if (ms == 0 || poll_fds(fds, ms) <= 0) return;
      for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        bool progress = false;
        if (who[i]->write_some(progress) != Io::ok) {
          who[i]->open = false;
          who[i]->drop_output();
        }
      }
    }
  } catch (...) {
  }
}

void SideChannelImpl::check_wake() {
  char buf[64];
  while (::read(wake_read_.get(), buf, sizeof buf) > 0) {
  }
  std::optional<std::string> request;
  {
    std::lock_guard guard(abort_mu_);
    request.swap(abort_request_);
  }
  if (request) fail(ErrorKind::runtime, describe(config_.rank) + " aborted: " + *request, true);
}

void SideChannelImpl::abort_locked(const std::string& reason) noexcept {
  if (error_) return;
  try {
    fail(ErrorKind::runtime, describe(config_.rank) + " aborted: " + reason, true);
  } catch (...) {
  }
}

void SideChannelImpl::abort(const std::string& reason) noexcept {
  try {
    std::unique_lock lock(mu_, std::try_to_lock);
    if (lock.owns_lock()) {
      abort_locked(reason);
      return;
    }
    {
      std::lock_guard guard(abort_mu_);
      if (!abort_request_) abort_request_ = reason;
    }
    // A collective is running on another thread: wake it, it fails with the abort.
    const char byte = 1;
    if (::write(wake_write_.get(), &byte, 1) < 0) {
      // the pipe is full: a wake-up is pending already
    }
  } catch (...) {
  }
}

void SideChannelImpl::malformed(Conn& c, const std::string& what, const char* why) {
  fail(ErrorKind::runtime,
       describe(c.rank) + " sent a malformed message " + what + ": " + std::string(why), true);
}

void SideChannelImpl::lost(Conn& c, const std::string& what) {
  c.open = false;
  c.drop_output();
  fail(ErrorKind::peer_lost, describe(c.rank) + " lost: " + c.failure_text() + " " + what, is_hub(),
       c.rank);
}

// Treated like a lost connection, except that the verdict also goes to the rank at the other
// end (its own frames may be fine: someone on the path may have injected this one). A peer
// tells rank 0, which tells everyone.
void SideChannelImpl::forged(Conn& c, const std::string& what) {
  c.in.clear();
  c.in_pos = 0;
  const std::string message =
      is_hub()
          ? describe(c.rank) +
                ": side-channel frame failed authentication (forged, replayed or corrupted) " + what
          : describe(c.rank) + ": side-channel frame to " + describe(config_.rank) +
                " failed authentication (forged, replayed or corrupted) " + what;
  fail(ErrorKind::peer_lost, message, true);
}

void SideChannelImpl::broken(Conn& c, const std::string& what) {
  // An abort that arrived just before the connection broke explains it better than "lost".
  try {
    bool progress = false;
    c.read_some(progress);
    while (auto f = c.next_frame()) {
      if (f->type == Type::abort) control_frame(c, *f, what);
    }
  } catch (const ForgedFrame&) {
    forged(c, what);
  } catch (const wire::MalformedFrame&) {
  }
  lost(c, what);
}

void SideChannelImpl::control_frame(Conn& c, const wire::Frame& f, const std::string& what) {
  switch (f.type) {
    case Type::abort: {
      wire::Abort m;
      try {
        m = wire::decode_abort(f.payload);
      } catch (const wire::MalformedFrame& e) {
        malformed(c, what, e.what());
      }
      fail(kind_from_wire(m.kind), m.message, is_hub(), c.rank);
    }
    case Type::bye:
      c.open = false;
      fail(ErrorKind::peer_lost,
           describe(c.rank) + " lost: it closed its side channel (finished) " + what, is_hub(),
           c.rank);
    default:
      fail(ErrorKind::runtime,
           describe(c.rank) + " sent an unexpected message (type " +
               std::to_string(static_cast<int>(f.type)) + ") " + what,
           true);
  }
}

template <class OnFrame>
void SideChannelImpl::pump_in(Conn& c, const std::string& what, OnFrame&& on_frame,
                              bool& progress) {
  Io status = c.read_some(progress);
  try {
    while (auto f = c.next_frame()) {
      if (!on_frame(c, *f)) return;
    }
  } catch (const ForgedFrame&) {
    forged(c, what);
  } catch (const wire::MalformedFrame& e) {
    malformed(c, what, e.what());
  }
  if (status != Io::ok) lost(c, what);
}

// ---------------------------------------------------------------------------------------------
// Join: rank 0

void SideChannelImpl::root_join(net::Fd listener) {
  if (config_.size == 1) return;
  if (!listener.valid()) {
    if (config_.root_address.empty()) {
      throw Error(ErrorKind::usage, "bootstrap: rank 0 needs a root address or a listening socket");
    }
    listener = net::listen_on(net::parse_host_port(config_.root_address, "root address", true));
  }
  net::set_nonblocking(listener.get());
  root_address_ = net::local_address(listener.get());
  conns_.resize(static_cast<std::size_t>(config_.size));
  std::vector<std::unique_ptr<Conn>> pending;
  int joined = 0;
  const auto deadline = Clock::now() + timeout();
  const std::string what = "while the ranks were joining";
  const auto on_frame = [&](Conn& c, const wire::Frame& f) -> bool { control_frame(c, f, what); };

  while (joined < config_.size - 1) {
    // Drop connections that took too long to authenticate.
    const auto now = Clock::now();
    for (auto& c : pending) {
      if (c->open && now >= c->handshake_deadline) {
        refuse(*c, "handshake not completed within " + ms_text(handshake_limit(timeout())), false);
      }
    }
    std::erase_if(pending, [](const std::unique_ptr<Conn>& c) { return !c->open; });

    if (now >= deadline) {
      std::vector<int> missing;
      for (int r = 1; r < config_.size; ++r) {
        if (!conns_[static_cast<std::size_t>(r)]) missing.push_back(r);
      }
      std::string message = describe_list(missing) + " never joined rank 0 at " + root_address_ +
                            " within " + ms_text(timeout());
      if (refused_total_ > 0) {
        message += "; " + std::to_string(refused_total_) +
                   " connection(s) were refused, the last from " + last_refused_.peer + ": " +
                   last_refused_.reason;
      }
      fail(ErrorKind::timeout, message, true);
    }

    std::vector<pollfd> fds;
    std::vector<Conn*> who;
    fds.push_back(pollfd{wake_read_.get(), POLLIN, 0});
    fds.push_back(pollfd{listener.get(), POLLIN, 0});
    auto wake_at = deadline;
    for (auto& c : pending) {
      fds.push_back(
          pollfd{c->fd.get(), static_cast<short>(POLLIN | (c->has_output() ? POLLOUT : 0)), 0});
      who.push_back(c.get());
      wake_at = std::min(wake_at, c->handshake_deadline);
    }
    for (auto& c : conns_) {
      if (c && c->open) {
        fds.push_back(
            pollfd{c->fd.get(), static_cast<short>(POLLIN | (c->has_output() ? POLLOUT : 0)), 0});
        who.push_back(c.get());
      }
    }
    if (poll_fds(fds, net::poll_ms(wake_at)) < 0) {
      fail(ErrorKind::runtime, "bootstrap: poll failed: " + net::errno_text(errno), true);
    }
    if (fds[0].revents != 0) check_wake();
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Conn& c = *who[i - 2];
      if (c.rank < 0) {
        const int admitted = handshake_event(c);
        if (admitted > 0) {
          const auto it =
              std::find_if(pending.begin(), pending.end(),
                           [&](const std::unique_ptr<Conn>& p) { return p.get() == &c; });
          conns_[static_cast<std::size_t>(admitted)] = std::move(*it);
          pending.erase(it);
          ++joined;
        }
        continue;
      }
      bool progress = false;
      if (c.has_output() && c.write_some(progress) != Io::ok) broken(c, what);
      pump_in(c, what, on_frame, progress);
    }
    std::erase_if(pending, [](const std::unique_ptr<Conn>& c) { return !c->open; });
    // Last: making room may close pending connections that `who` points to.
    if (fds[1].revents != 0) accept_all(listener.get(), pending);
  }
  listener.reset();  // later connection attempts are refused by the kernel
  for (auto& c : pending) refuse(*c, "every rank had joined already", true);
  pending.clear();
  if (refused_unlisted_ > 0 && config_.on_refused) {
    try {
      config_.on_refused(unlisted_summary());
    } catch (...) {
    }
  }

  std::vector<wire::Member> table;
  for (const Member& m : members_) table.push_back(wire::Member{m.pid, m.host});
  const auto head = std::make_shared<const std::string>(
      wire::sealed_head(Type::ready, wire::encode_ready(table)));
  for (int r = 1; r < config_.size; ++r) {
    conns_[static_cast<std::size_t>(r)]->queue_sealed(Type::ready, head);
  }
  hub_flush(what);
}

void SideChannelImpl::accept_all(int listener, std::vector<std::unique_ptr<Conn>>& pending) {
  for (;;) {
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN, or a resource error that the next round may not have
    }
    set_nodelay(fd);
    auto c = std::make_unique<Conn>();
    c->fd.reset(fd);
    c->address = net::remote_address(fd);
    c->source = source_of(c->address);
    c->handshake_deadline = Clock::now() + handshake_limit(timeout());
    if (!make_room(*c, pending)) {
      refuse(*c,
             "too many connections handshaking at once (" + std::to_string(pending.size()) +
                 ", no source holding more of them than " + c->source + ")",
             false);
      continue;
    }
    c->hub_nonce = wire::random_bytes(wire::kNonceBytes);
    c->queue(Type::challenge, wire::encode(wire::Challenge{wire::kVersion, c->hub_nonce}));
    bool progress = false;
    if (c->write_some(progress) != Io::ok) {
      refuse(*c, "connection failed before the handshake: " + c->failure_text(), false);
      continue;
    }
    pending.push_back(std::move(c));
  }
}

bool SideChannelImpl::make_room(const Conn& newcomer, std::vector<std::unique_ptr<Conn>>& pending) {
  if (pending.size() < kMaxPendingHandshakes) return true;
  // The source holding the most slots; of sources holding as many, the one whose oldest
  // connection is oldest (pending is in the order of accept).
  std::size_t mine = 0;
  std::size_t most = 0;
  std::size_t victim = pending.size();
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const std::string& source = pending[i]->source;
    if (source == newcomer.source) ++mine;
    bool seen_before = false;
    for (std::size_t j = 0; j < i && !seen_before; ++j) seen_before = pending[j]->source == source;
    if (seen_before) continue;
    const auto count = static_cast<std::size_t>(
        std::count_if(pending.begin() + static_cast<std::ptrdiff_t>(i), pending.end(),
                      [&](const std::unique_ptr<Conn>& p) { return p->source == source; }));
    if (count > most) {
      most = count;
      victim = i;
    }
  }
  if (victim == pending.size() || most <= mine) return false;  // nobody holds more than its share
  Conn& evicted = *pending[victim];
  refuse(evicted,
         "evicted while handshaking: the " + std::to_string(kMaxPendingHandshakes) +
             " handshake slots were full, " + std::to_string(most) + " of them held by " +
             evicted.source + ", and " + newcomer.source + " held fewer",
         false);
  pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(victim));
  return true;
}

void SideChannelImpl::refuse(Conn& c, const std::string& reason, bool tell) {
  if (tell && c.open) {
    c.drop_output();
    c.queue(Type::reject, wire::encode_reject(reason));
    bool progress = false;
    c.write_some(progress);  // one small frame into an idle socket: goes out at once or never
    ::shutdown(c.fd.get(), SHUT_WR);
  }
  drain(c.fd.get());
  c.fd.reset();
  c.open = false;
  c.in = std::string();
  c.in_pos = 0;
  c.drop_output();
  record_refused(RefusedConnection{c.address, reason});
}

// Bounded under a flood: the first kMaxRefusedListed are listed and told to on_refused, the
// rest only counted (on_refused hears the count once the ranks have joined).
void SideChannelImpl::record_refused(RefusedConnection refused) {
  ++refused_total_;
  last_refused_ = refused;
  if (refused_.size() >= kMaxRefusedListed) {
    ++refused_unlisted_;
    return;
  }
  refused_.push_back(std::move(refused));
  if (config_.on_refused) {
    try {
      config_.on_refused(refused_.back());
    } catch (...) {
    }
  }
}

int SideChannelImpl::handshake_event(Conn& c) {
  bool progress = false;
  if (c.has_output() && c.write_some(progress) != Io::ok) {
    refuse(c, "connection failed during the handshake: " + c.failure_text(), false);
    return -2;
  }
  std::optional<wire::Frame> frame;
  Io status = Io::ok;
  try {
    status = c.read_some(progress);
    frame = c.next_frame();
  } catch (const wire::MalformedFrame& e) {
    refuse(c, "malformed handshake: " + std::string(e.what()), false);
    return -2;
  }
  if (!frame) {
    if (status == Io::ok) return -1;
    refuse(c, c.failure_text() + " before the handshake completed", false);
    return -2;
  }
  if (frame->type != Type::hello) {
    refuse(c,
           "malformed handshake: expected a hello, got message type " +
               std::to_string(static_cast<int>(frame->type)),
           true);
    return -2;
  }
  wire::Hello hello;
  try {
    hello = wire::decode_hello(frame->payload);
  } catch (const wire::MalformedFrame& e) {
    refuse(c, "malformed hello: " + std::string(e.what()), true);
    return -2;
  }
  return judge_hello(c, hello);
}

int SideChannelImpl::judge_hello(Conn& c, const wire::Hello& hello) {
  if (hello.version != wire::kVersion) {
    refuse(c,
           "side-channel protocol version " + std::to_string(hello.version) + ", rank 0 speaks " +
               std::to_string(wire::kVersion),
           true);
    return -2;
  }
  // Authenticate before looking at anything else the stranger claims.
  if (hello.nonce.size() != wire::kNonceBytes ||
      !wire::macs_equal(hello.mac, wire::peer_proof(config_.secret, c.hub_nonce, hello.nonce,
                                                    hello.rank, hello.size))) {
    refuse(c, "authentication failed (wrong secret)", true);
    return -2;
  }
  const auto n = static_cast<std::uint32_t>(config_.size);
  if (hello.size != n) {
    refuse(c,
           "rank " + std::to_string(hello.rank) + " says the job has " +
               std::to_string(hello.size) + " ranks, rank 0 expects " + std::to_string(n),
           true);
    return -2;
  }
  if (hello.rank == 0 || hello.rank >= n) {
    refuse(c, "rank " + std::to_string(hello.rank) + " is outside 1.." + std::to_string(n - 1),
           true);
    return -2;
  }
  const auto r = static_cast<int>(hello.rank);
  if (conns_[hello.rank]) {
    refuse(c, "rank " + std::to_string(r) + " has joined already as " + describe(r), true);
    return -2;
  }
  members_[hello.rank] = Member{hello.pid, hello.host};
  c.rank = r;
  c.max_payload = wire::kMaxPayload;
  c.queue(Type::welcome,
          wire::encode(wire::Welcome{
              static_cast<std::uint64_t>(::getpid()), host_,
              wire::root_proof(config_.secret, c.hub_nonce, hello.nonce, hello.rank, hello.size)}));
  // Every frame after the welcome is sealed.
  c.session.emplace(
      wire::session_key(config_.secret, c.hub_nonce, hello.nonce, hello.rank, hello.size),
      wire::Direction::hub_to_peer);
  bool progress = false;
  if (c.write_some(progress) != Io::ok) {
    members_[hello.rank] = Member{};
    refuse(c, "connection failed during the handshake: " + c.failure_text(), false);
    return -2;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Join: other ranks

void SideChannelImpl::peer_join() {
  const net::HostPort where = net::parse_host_port(config_.root_address, "root address", false);
  root_address_ = net::format_host_port(where.host, where.port);
  const std::string me = "bootstrap: rank " + std::to_string(config_.rank);
  const auto deadline = Clock::now() + timeout();
  std::string last_error = "no attempt";
  auto backoff = milliseconds(20);
  for (;;) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(where.port);
    const int gai = ::getaddrinfo(where.host.c_str(), port.c_str(), &hints, &found);
    if (gai == 0) {
      std::unique_ptr<addrinfo, AddrinfoDeleter> guard(found);
      for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
        net::Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                            ai->ai_protocol));
        if (!fd.valid()) {
          last_error = net::errno_text(errno);
          continue;
        }
        set_nodelay(fd.get());
        if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
          if (errno != EINPROGRESS) {
            last_error = net::errno_text(errno);
            continue;
          }
          std::vector<pollfd> fds{pollfd{fd.get(), POLLOUT, 0}};
          if (poll_fds(fds, net::poll_ms(deadline)) <= 0) {
            last_error = "connect did not complete in time";
            continue;
          }
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            last_error = net::errno_text(err);
            continue;
          }
        }
        // Connecting to an unused port of the ephemeral range can, rarely, connect the socket
        // to itself (TCP simultaneous open); that is nobody.
        if (net::local_address(fd.get()) == net::remote_address(fd.get())) {
          last_error = "connected to itself (nobody listens there yet)";
          continue;
        }
        if (try_handshake(std::move(fd), deadline, last_error)) {
          wait_ready();
          return;
        }
      }
    } else if (gai == EAI_AGAIN) {
      last_error = ::gai_strerror(gai);
    } else {
      throw Error(ErrorKind::runtime, me + " cannot resolve rank 0's host '" + where.host +
                                          "': " + ::gai_strerror(gai));
    }
    if (Clock::now() + backoff >= deadline) {
      throw Error(ErrorKind::timeout, me + " could not join rank 0 at " + root_address_ +
                                          " within " + ms_text(timeout()) +
                                          " (last error: " + last_error + ")");
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, milliseconds(500));
  }
}

std::optional<wire::Frame> SideChannelImpl::wait_frame(Conn& c, Clock::time_point deadline) {
  for (;;) {
    if (auto f = c.next_frame()) return f;
    bool progress = false;
    if (c.has_output() && c.write_some(progress) != Io::ok) return std::nullopt;
    std::vector<pollfd> fds{
        pollfd{c.fd.get(), static_cast<short>(POLLIN | (c.has_output() ? POLLOUT : 0)), 0}};
    const int ms = net::poll_ms(deadline);
    if (ms == 0 || poll_fds(fds, ms) <= 0) return std::nullopt;
    if (c.has_output() && c.write_some(progress) != Io::ok) return std::nullopt;
    const Io status = c.read_some(progress);
    if (auto f = c.next_frame()) return f;
    if (status != Io::ok) return std::nullopt;
  }
}

bool SideChannelImpl::try_handshake(net::Fd fd, Clock::time_point deadline,
                                    std::string& last_error) {
  const std::string me = "bootstrap: rank " + std::to_string(config_.rank);
  auto c = std::make_unique<Conn>();
  c->fd = std::move(fd);
  c->rank = 0;
  c->address = net::remote_address(c->fd.get());
  const std::string at = " at " + c->address;
  try {
    auto frame = wait_frame(*c, deadline);
    if (!frame) {
      last_error = "rank 0" + at + " did not send its challenge (" + c->failure_text() + ")";
      return false;
    }
    if (frame->type != Type::challenge) {
      throw Error(ErrorKind::runtime,
                  me + ": the process" + at + " does not speak the fabricbench side channel");
    }
    const wire::Challenge challenge = wire::decode_challenge(frame->payload);
    if (challenge.version != wire::kVersion) {
      throw Error(ErrorKind::runtime, me + ": rank 0" + at + " speaks side-channel protocol " +
                                          std::to_string(challenge.version) + ", this rank " +
                                          std::to_string(wire::kVersion));
    }
    if (challenge.nonce.size() != wire::kNonceBytes) {
      throw Error(ErrorKind::runtime, me + ": rank 0" + at + " sent a malformed challenge");
    }
    const auto rank = static_cast<std::uint32_t>(config_.rank);
    const auto size = static_cast<std::uint32_t>(config_.size);
    wire::Hello hello;
    hello.rank = rank;
    hello.size = size;
    hello.pid = static_cast<std::uint64_t>(::getpid());
    hello.host = host_;
    hello.nonce = wire::random_bytes(wire::kNonceBytes);
    hello.mac = wire::peer_proof(config_.secret, challenge.nonce, hello.nonce, rank, size);
    c->queue(Type::hello, wire::encode(hello));
    frame = wait_frame(*c, deadline);
    if (!frame) {
      last_error = "rank 0" + at + " did not answer the handshake (" + c->failure_text() + ")";
      return false;
    }
    if (frame->type == Type::reject) {
      throw Error(ErrorKind::runtime,
                  me + " was refused by rank 0" + at + ": " + wire::decode_reject(frame->payload));
    }
    if (frame->type != Type::welcome) {
      throw Error(ErrorKind::runtime, me + ": unexpected message type " +
                                          std::to_string(static_cast<int>(frame->type)) +
                                          " from rank 0" + at + " during the handshake");
    }
    const wire::Welcome welcome = wire::decode_welcome(frame->payload);
    if (!wire::macs_equal(welcome.mac, wire::root_proof(config_.secret, challenge.nonce,
                                                        hello.nonce, rank, size))) {
      throw Error(ErrorKind::runtime,
                  me + ": authentication failed: the process" + at +
                      " does not prove it knows the job's secret (an impostor or another job's "
                      "rank 0); not talking to it");
    }
    members_[0] = Member{welcome.pid, welcome.host};
    // Every frame after the welcome is sealed.
    c->session.emplace(wire::session_key(config_.secret, challenge.nonce, hello.nonce, rank, size),
                       wire::Direction::peer_to_hub);
  } catch (const wire::MalformedFrame& e) {
    throw Error(ErrorKind::runtime, me + ": malformed handshake from the process" + at + ": " +
                                        e.what() + " (not a fabricbench side channel?)");
  }
  c->max_payload = wire::kMaxPayload;
  conns_.clear();
  conns_.push_back(std::move(c));
  return true;
}

void SideChannelImpl::wait_ready() {
  Conn& hub = *conns_[0];
  const std::string what = "while the ranks were joining";
  const auto wait = timeout() + hub_grace(timeout());
  auto deadline = Clock::now() + wait;
  bool ready = false;
  const auto on_frame = [&](Conn& c, const wire::Frame& f) -> bool {
    if (f.type != Type::ready) control_frame(c, f, what);
    std::vector<wire::Member> table;
    try {
      table = wire::decode_ready(f.payload);
    } catch (const wire::MalformedFrame& e) {
      malformed(c, what, e.what());
    }
    if (table.size() != members_.size()) {
      fail(ErrorKind::runtime,
           describe(0) + " reports " + std::to_string(table.size()) + " ranks, this rank expects " +
               std::to_string(members_.size()),
           true);
    }
    for (std::size_t r = 0; r < table.size(); ++r) {
      if (static_cast<int>(r) != config_.rank) members_[r] = Member{table[r].pid, table[r].host};
    }
    ready = true;
    return false;
  };
  // The ready frame may have arrived with the welcome and already sit in the buffer: the
  // handshake read both at once when this rank was the last to join. Poll would never fire.
  try {
    while (!ready) {
      auto f = hub.next_frame();
      if (!f) break;
      on_frame(hub, *f);
    }
  } catch (const ForgedFrame&) {
    forged(hub, what);
  } catch (const wire::MalformedFrame& e) {
    malformed(hub, what, e.what());
  }
  while (!ready) {
    const int ms = net::poll_ms(deadline);
    if (ms == 0) {
      fail(ErrorKind::timeout,
           "rank " + std::to_string(config_.rank) + " joined " + describe(0) +
               " but did not hear that every rank had joined within " +
               ms_text(std::chrono::duration_cast<milliseconds>(wait)),
           true);
    }
    std::vector<pollfd> fds{pollfd{wake_read_.get(), POLLIN, 0}, pollfd{hub.fd.get(), POLLIN, 0}};
    if (poll_fds(fds, ms) < 0) {
      fail(ErrorKind::runtime, "bootstrap: poll failed: " + net::errno_text(errno), true);
    }
    if (fds[0].revents != 0) check_wake();
    if (fds[1].revents == 0) continue;
    bool progress = false;
    pump_in(hub, what, on_frame, progress);
    if (progress) deadline = Clock::now() + wait;
  }
}

// ---------------------------------------------------------------------------------------------
// Collectives

std::string SideChannelImpl::run_collective(Op op, int root, const std::string& data) {
  std::lock_guard lock(mu_);
  if (error_) throw *error_;
  const std::string what = op_name(op, static_cast<std::uint32_t>(root < 0 ? 0 : root));
  if (root < 0 || root >= config_.size) {
    fail(ErrorKind::usage,
         "bootstrap: " + describe(config_.rank) + " called broadcast from rank " +
             std::to_string(root) + ", outside 0.." + std::to_string(config_.size - 1),
         true);
  }
  if (data.size() > wire::kMaxPayload / 2) {
    fail(ErrorKind::usage,
         "bootstrap: " + describe(config_.rank) + " passed " + std::to_string(data.size()) +
             " bytes to " + what + ", more than the side channel carries",
         true);
  }
  ++seq_;
  const auto r = static_cast<std::uint32_t>(root);
  if (config_.size == 1) {
    std::vector<std::optional<std::string>> got{data};
    return result_body(op, r, got);
  }
  return is_hub() ? hub_collective(op, r, data) : peer_collective(op, r, data);
}

std::string SideChannelImpl::result_body(Op op, std::uint32_t root,
                                         std::vector<std::optional<std::string>>& got) {
  wire::Writer w;
  switch (op) {
    case Op::barrier:
      break;
    case Op::allgather:
    case Op::gather: {
      std::uint64_t total = 0;
      for (const auto& g : got) total += g->size() + 8;
      if (total > wire::kMaxPayload - 64) {
        fail(ErrorKind::runtime,
             "bootstrap: the allgather result of " + std::to_string(total) +
                 " bytes exceeds what the side channel carries",
             true);
      }
      w.u32(static_cast<std::uint32_t>(got.size()));
      for (const auto& g : got) w.bytes(*g);
      break;
    }
    case Op::broadcast:
      w.bytes(*got[root]);
      break;
  }
  return w.take();
}

std::string SideChannelImpl::hub_collective(Op op, std::uint32_t root, const std::string& data) {
  const std::string what = "during " + op_name(op, root);
  const auto n = static_cast<std::size_t>(config_.size);
  std::vector<std::optional<std::string>> got(n);
  got[0] = data;
  std::size_t missing = n - 1;
  const auto on_frame = [&](Conn& c, wire::Frame& f) -> bool {
    if (f.type != Type::contrib) control_frame(c, f, what);
    wire::Contrib m = wire::decode_contrib(f.payload);
    if (m.seq != seq_ || m.op != op || (op == Op::broadcast && m.root != root)) {
      fail(ErrorKind::runtime,
           "collective mismatch: " + describe(c.rank) + " called " + op_name(m.op, m.root) +
               " (collective #" + std::to_string(m.seq) + ") while rank 0 called " +
               op_name(op, root) + " (collective #" + std::to_string(seq_) + ")",
           true);
    }
    auto& slot = got[static_cast<std::size_t>(c.rank)];
    if (slot) {
      fail(ErrorKind::runtime, describe(c.rank) + " contributed twice " + what, true);
    }
    slot = std::move(m.data);
    --missing;
    return true;
  };

  // Frames that arrived before this collective began (a contribution, or an abort).
  for (std::size_t r = 1; r < n; ++r) {
    Conn& c = *conns_[r];
    try {
      while (auto f = c.next_frame()) on_frame(c, *f);
    } catch (const ForgedFrame&) {
      forged(c, what);
    } catch (const wire::MalformedFrame& e) {
      malformed(c, what, e.what());
    }
  }

  auto deadline = Clock::now() + timeout();
  while (missing > 0) {
    std::vector<pollfd> fds{pollfd{wake_read_.get(), POLLIN, 0}};
    for (std::size_t r = 1; r < n; ++r) {
      const Conn& c = *conns_[r];
      fds.push_back(
          pollfd{c.fd.get(), static_cast<short>(POLLIN | (c.has_output() ? POLLOUT : 0)), 0});
    }
    const int ms = net::poll_ms(deadline);
    if (ms == 0) {
      std::vector<int> silent;
      for (std::size_t r = 1; r < n; ++r) {
        if (!got[r]) silent.push_back(static_cast<int>(r));
      }
      fail(ErrorKind::timeout,
           describe_list(silent) + " did not answer within " + ms_text(timeout()) + " " + what,
           true);
    }
    if (poll_fds(fds, ms) < 0) {
      fail(ErrorKind::runtime, "bootstrap: poll failed: " + net::errno_text(errno), true);
    }
    if (fds[0].revents != 0) check_wake();
    for (std::size_t r = 1; r < n; ++r) {
      if (fds[r].revents == 0) continue;
      Conn& c = *conns_[r];
      bool wrote = false;
      if (c.has_output() && c.write_some(wrote) != Io::ok) broken(c, what);
      bool progress = false;
      pump_in(c, what, on_frame, progress);
      if (progress) deadline = Clock::now() + timeout();
    }
  }

  std::string body = result_body(op, root, got);
  wire::Writer header;
  header.u64(seq_).u8(static_cast<std::uint8_t>(op));
  std::string payload = header.take();
  if (op != Op::gather) payload += body;  // a gather's result stays on rank 0
  const auto head = std::make_shared<const std::string>(wire::sealed_head(Type::result, payload));
  payload.clear();
  for (std::size_t r = 1; r < n; ++r) conns_[r]->queue_sealed(Type::result, head);
  hub_flush(what);
  return body;
}

void SideChannelImpl::hub_flush(const std::string& what) {
  auto deadline = Clock::now() + timeout();
  for (;;) {
    std::vector<pollfd> fds{pollfd{wake_read_.get(), POLLIN, 0}};
    std::vector<Conn*> who{nullptr};
    for (auto& c : conns_) {
      if (c && c->has_output()) {
        fds.push_back(pollfd{c->fd.get(), POLLOUT, 0});
        who.push_back(c.get());
      }
    }
    if (who.size() == 1) return;
    const int ms = net::poll_ms(deadline);
    if (ms == 0) {
      std::vector<int> slow;
      for (std::size_t i = 1; i < who.size(); ++i) slow.push_back(who[i]->rank);
      fail(ErrorKind::timeout,
           describe_list(slow) + " did not take rank 0's answer within " + ms_text(timeout()) +
               " " + what,
           true);
    }
    if (poll_fds(fds, ms) < 0) {
      fail(ErrorKind::runtime, "bootstrap: poll failed: " + net::errno_text(errno), true);
    }
    if (fds[0].revents != 0) check_wake();
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      bool progress = false;
      if (who[i]->write_some(progress) != Io::ok) broken(*who[i], what);
      if (progress) deadline = Clock::now() + timeout();
    }
  }
}

std::string SideChannelImpl::peer_collective(Op op, std::uint32_t root, const std::string& data) {
  Conn& hub = *conns_[0];
  const std::string what = "during " + op_name(op, root);
  hub.queue(Type::contrib, wire::encode(wire::Contrib{seq_, op, root, data}));
  const auto wait = timeout() + hub_grace(timeout());
  auto deadline = Clock::now() + wait;
  std::optional<std::string> result;
  const auto on_frame = [&](Conn& c, const wire::Frame& f) -> bool {
    if (f.type != Type::result) control_frame(c, f, what);
    wire::Reader r(f.payload);
    const std::uint64_t seq = r.u64();
    const std::uint8_t got_op = r.u8();
    if (seq != seq_ || got_op != static_cast<std::uint8_t>(op)) {
      fail(ErrorKind::runtime,
           "collective mismatch: " + describe(0) + " answered collective #" + std::to_string(seq) +
               " while " + describe(config_.rank) + " waits in " + op_name(op, root) +
               " (collective #" + std::to_string(seq_) + ")",
           true);
    }
    result = r.rest();
    return false;
  };
  try {
    while (!result) {
      auto f = hub.next_frame();
      if (!f) break;
      on_frame(hub, *f);
    }
  } catch (const ForgedFrame&) {
    forged(hub, what);
  } catch (const wire::MalformedFrame& e) {
    malformed(hub, what, e.what());
  }
  while (!result) {
    const int ms = net::poll_ms(deadline);
    if (ms == 0) {
      fail(ErrorKind::timeout,
           describe(0) + " did not answer " + describe(config_.rank) + " within " +
               ms_text(std::chrono::duration_cast<milliseconds>(wait)) + " " + what,
           true);
    }
    std::vector<pollfd> fds{
        pollfd{wake_read_.get(), POLLIN, 0},
        pollfd{hub.fd.get(), static_cast<short>(POLLIN | (hub.has_output() ? POLLOUT : 0)), 0}};
    if (poll_fds(fds, ms) < 0) {
      fail(ErrorKind::runtime, "bootstrap: poll failed: " + net::errno_text(errno), true);
    }
    if (fds[0].revents != 0) check_wake();
    if (fds[1].revents == 0) continue;
    bool wrote = false;
    if (hub.has_output() && hub.write_some(wrote) != Io::ok) broken(hub, what);
    bool progress = false;
    pump_in(hub, what, on_frame, progress);
    if (progress || wrote) deadline = Clock::now() + wait;
  }
  return *result;
}

}  // namespace

std::unique_ptr<SideChannel> open_side_channel(const SideChannelConfig& config) {
  return std::make_unique<SideChannelImpl>(config);
}

std::unique_ptr<Bootstrap> connect_side_channel(const SideChannelConfig& config) {
  return open_side_channel(config);
}

std::string generate_secret() {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string raw = wire::random_bytes(32);
  std::string out;
  out.reserve(raw.size() * 2);
  for (const char ch : raw) {
    const auto b = static_cast<unsigned char>(ch);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0x0f]);
  }
  return out;
}

}  // namespace fabricbench::bootstrap
