#include "transports/tcp/tcp_transport.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "transports/api/deadline.hpp"
#include "transports/api/pairing.hpp"
#include "transports/api/wire.hpp"
#include "transports/tcp/socket_util.hpp"
#include "transports/tcp/tcp_endpoint.hpp"

namespace fabricbench::transport::tcp {
namespace {

using core::Error;
using core::ErrorKind;

constexpr const char* kRecordVersion = "fbtcp1";
constexpr std::uint32_t kHelloMagic = 0x43544246;  // "FBTC"
constexpr std::uint16_t kHelloVersion = 1;
constexpr std::uint16_t kKindHello = 0;
constexpr std::uint16_t kKindAck = 1;
constexpr std::uint16_t kKindRehello = 2;  // a reconnect (Rejoiner): hello + received count
constexpr std::uint16_t kKindReack = 3;
constexpr std::size_t kHelloBytes = wire::kHelloBytes;
constexpr std::size_t kRehelloBytes = 48;

// ---- the 32-byte connection hello (transports/api/wire.hpp) ----

using wire::Hello;
using wire::HelloBytes;
using wire::random_token;

constexpr wire::HelloCodec kHellos{kHelloMagic, kHelloVersion};

// ---- small helpers ----

std::string ms_text(std::uint64_t ns) {
  return std::to_string(ns / 1'000'000) + " ms";
}

std::string hex64(std::uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kDigits[v & 0xf];
    v >>= 4;
  }
  return out;
}

void set_int_option(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
    throw Error(ErrorKind::runtime,
                std::string("tcp: setsockopt(") + what + ") failed: " + errno_text(errno));
  }
}

// What each rank published through the allgather.
struct Record {
  bool ok = false;
  std::string error;  // when !ok
  ErrorKind error_kind = ErrorKind::runtime;
  std::uint64_t token = 0;
  int connections = 0;
  std::string address;  // "addr:port" or "-"
  std::vector<int> peers;
};

// This rank's side of the pairing the ranks agreed on: who it is, its token, its peers in order,
// every rank's record and the connections per peer.
struct Pairing {
  int me = 0;
  std::uint64_t token = 0;
  const std::vector<int>& peers;
  const std::vector<Record>& records;
  int connections_per_peer = 1;
};

std::string format_record(std::uint64_t token, int connections, const std::string& address,
                          const std::vector<int>& peers) {
  return std::string(kRecordVersion) + " ok " + hex64(token) + " " + std::to_string(connections) +
         " " + address + " " + join_peers(peers);
}

bool parse_record(const std::string& text, Record& out) {
  std::istringstream in(text);
  std::string version;
  std::string status;
  if (!(in >> version >> status) || version != kRecordVersion) return false;
  if (status == "error") {
    int kind = 0;
    in >> kind;
    out.ok = false;
    out.error_kind = static_cast<ErrorKind>(kind);
    std::getline(in >> std::ws, out.error);
    return true;
  }
  std::string token;
  std::string peers;
  if (status != "ok" || !(in >> token >> out.connections >> out.address >> peers)) return false;
  out.ok = true;
  try {
    out.token = std::stoull(token, nullptr, 16);
    out.peers = parse_peers(peers);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// Non-blocking transfer of a fixed-size handshake buffer.
enum class Io { progress, would_block, closed, error };
Io step(int fd, HelloBytes& buffer, std::size_t& done, bool writing, int& err) {
  while (done < kHelloBytes) {
    const ssize_t n =
        writing ? ::send(fd, buffer.data() + done, kHelloBytes - done, MSG_NOSIGNAL | MSG_DONTWAIT)
                : ::recv(fd, buffer.data() + done, kHelloBytes - done, MSG_DONTWAIT);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0 && !writing) return Io::closed;
    err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) return Io::would_block;
    return Io::error;
  }
  return Io::progress;
}

// ---- sockets ----

UniqueFd open_socket(const Options& options, int family) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    throw Error(ErrorKind::runtime, "tcp: socket() failed: " + errno_text(errno));
  }
  // Buffer sizes before connect/listen, so the window scale is negotiated for them.
  if (options.sndbuf != 0) {
    set_int_option(fd.get(), SOL_SOCKET, SO_SNDBUF, static_cast<int>(options.sndbuf), "SO_SNDBUF");
  }
  if (options.rcvbuf != 0) {
    set_int_option(fd.get(), SOL_SOCKET, SO_RCVBUF, static_cast<int>(options.rcvbuf), "SO_RCVBUF");
  }
  set_int_option(fd.get(), IPPROTO_TCP, TCP_NODELAY, options.nodelay ? 1 : 0, "TCP_NODELAY");
  return fd;
}

// SO_BINDTODEVICE to the local interface, if any. Returns the note for describe(): the name, or
// name(not-bound:reason) where it is not permitted (the address binding alone then selects the
// interface). Throws core::Error(config) for other failures.
std::string bind_device(int fd, const LocalAddress& local) {
  if (local.interface.empty()) return {};
  const std::string& name = local.interface;
  if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name.c_str(),
                   static_cast<socklen_t>(name.size())) == 0) {
    return name;
  }
  const int err = errno;
  if (err == EPERM || err == EACCES) {
    std::string note = name + "(not-bound:" + errno_text(err) + ")";
    std::replace(note.begin(), note.end(), ' ', '_');
    return note;
  }
  throw Error(ErrorKind::config, "tcp: SO_BINDTODEVICE " + name + " failed: " + errno_text(err));
}

// Binds a connecting socket to the local address when it must leave by a chosen interface.
// Returns errno (0 on success or when nothing was needed).
int bind_source(int fd, const LocalAddress& local, const SockAddr& target) {
  if (target.family() != local.address.family() ||
      (local.interface.empty() && local.address.is_loopback())) {
    return 0;
  }
  SockAddr source = local.address;
  return ::bind(fd, source.get(), source.length) == 0 ? 0 : errno;
}

// The options every data connection gets (accepted sockets inherit the listener's; applied
// again so every socket is explicit), and the liveness bound of Options::user_timeout_ns.
void configure_data_socket(int fd, const Options& options) {
  if (options.sndbuf != 0) {
    set_int_option(fd, SOL_SOCKET, SO_SNDBUF, static_cast<int>(options.sndbuf), "SO_SNDBUF");
  }
  if (options.rcvbuf != 0) {
    set_int_option(fd, SOL_SOCKET, SO_RCVBUF, static_cast<int>(options.rcvbuf), "SO_RCVBUF");
  }
  set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, options.nodelay ? 1 : 0, "TCP_NODELAY");
  if (options.user_timeout_ns != 0) {
    const auto ms = std::min<std::uint64_t>(
        std::max<std::uint64_t>(options.user_timeout_ns / 1'000'000, 1), INT_MAX);
    set_int_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(ms), "TCP_USER_TIMEOUT");
    const int probe_s = static_cast<int>(std::max<std::uint64_t>(1, ms / 3000));
    set_int_option(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
    set_int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, probe_s, "TCP_KEEPIDLE");
    set_int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, probe_s, "TCP_KEEPINTVL");
    set_int_option(fd, IPPROTO_TCP, TCP_KEEPCNT, 3, "TCP_KEEPCNT");
  }
}

// ---- connection events ----

struct EventSink {
  std::mutex mutex;
  std::vector<ConnectionEvent> events;
};

// ---- reconnecting (Options::reconnect) ----

using RehelloBytes = std::array<std::byte, kRehelloBytes>;

RehelloBytes encode_rehello(const Hello& h, std::uint64_t received) {
  RehelloBytes out{};
  const HelloBytes head = kHellos.encode(h);
  std::copy(head.begin(), head.end(), out.begin());
  wire::put_le(out.data() + kHelloBytes, 8, received);
  return out;
}

bool decode_rehello(const RehelloBytes& in, Hello& h, std::uint64_t& received) {
  HelloBytes head{};
  std::copy(in.begin(), in.begin() + kHelloBytes, head.begin());
  if (!kHellos.decode(head, h)) return false;
  received = wire::get_le(in.data() + kHelloBytes, 8);
  return true;
}

// Sends or receives the rest of a 48-byte re-hello, waiting at most `timeout_ms` in total.
bool transfer(int fd, std::byte* data, std::size_t& done, bool writing, int timeout_ms) {
  const std::uint64_t deadline =
      core::now_ns() + static_cast<std::uint64_t>(timeout_ms) * 1'000'000;
  while (done < kRehelloBytes) {
    const ssize_t n =
        writing ? ::send(fd, data + done, kRehelloBytes - done, MSG_NOSIGNAL | MSG_DONTWAIT)
                : ::recv(fd, data + done, kRehelloBytes - done, MSG_DONTWAIT);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0 && !writing) return false;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    const std::uint64_t now = core::now_ns();
    if (now >= deadline) return false;
    pollfd p{fd, static_cast<short>(writing ? POLLOUT : POLLIN), 0};
    ::poll(&p, 1, static_cast<int>((deadline - now + 999'999) / 1'000'000));
  }
  return true;
}

class RejoinHub final : public Rejoiner {
 public:
  struct Peer {
    SockAddr address;
    std::uint64_t token = 0;
  };

  RejoinHub(Options options, LocalAddress local, UniqueFd listener, int me, std::uint64_t token,
            std::map<int, Peer> peers, int connections, std::shared_ptr<EventSink> sink)
      : options_(std::move(options)),
        local_(std::move(local)),
        listener_(std::move(listener)),
        me_(me),
        token_(token),
        peers_(std::move(peers)),
        connections_(connections),
        sink_(std::move(sink)) {}

  std::optional<Joined> reconnect(int peer, int index, std::uint64_t received,
                                  std::uint64_t& attempts) override {
    std::lock_guard lock(mutex_);
    const auto it = peers_.find(peer);
    if (it == peers_.end()) return std::nullopt;
    Attempt& a = attempts_[{peer, index}];
    const Hello sent{kKindRehello, static_cast<std::uint32_t>(me_),
                     static_cast<std::uint32_t>(index), it->second.token, token_};
    const std::uint64_t now = core::now_ns();
    if (!a.fd.valid()) {
      if (now < a.next_try_ns) return std::nullopt;
      a = Attempt{};
      a.fd = open_socket(options_, it->second.address.family());
      (void)bind_device(a.fd.get(), local_);
      if (bind_source(a.fd.get(), local_, it->second.address) != 0 ||
          (::connect(a.fd.get(), it->second.address.get(), it->second.address.length) != 0 &&
           errno != EINPROGRESS)) {
        a.fd.reset();  // e.g. ENETUNREACH while the link is down: try again shortly
        a.next_try_ns = now + kRetryPauseNs;
        ++attempts;
        return std::nullopt;
      }
      ++attempts;
      a.started_ns = now;
      a.out = encode_rehello(sent, received);
    }
    const auto give_up = [&](std::uint64_t pause) {
      a.fd.reset();
      a.next_try_ns = now + pause;
      return std::nullopt;
    };
    if (!a.connected) {
      pollfd p{a.fd.get(), POLLOUT, 0};
      if (::poll(&p, 1, 0) <= 0) {
        // A SYN lost to the fault is retransmitted by the kernel only after 1 s; start over
        // sooner so the connection is back soon after the link is.
        if (now - a.started_ns > kAttemptNs) return give_up(0);
        return std::nullopt;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(a.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return give_up(kRetryPauseNs);
      a.connected = true;
    }
    if (a.out_done < kRehelloBytes && !transfer(a.fd.get(), a.out.data(), a.out_done, true, 0)) {
      if (a.out_done < kRehelloBytes && now - a.started_ns > kHandshakeNs)
        return give_up(kRetryPauseNs);
      return std::nullopt;
    }
    if (!transfer(a.fd.get(), a.in.data(), a.in_got, false, 0)) {
      // Closed, failed, or not answered yet.
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(a.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || now - a.started_ns > kHandshakeNs) return give_up(kRetryPauseNs);
      pollfd p{a.fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0)
        return give_up(kRetryPauseNs);
      return std::nullopt;
    }
    Hello ack;
    std::uint64_t peer_received = 0;
    if (!decode_rehello(a.in, ack, peer_received) || !wire::answers(ack, sent, kKindReack, peer)) {
      return give_up(kRetryPauseNs);  // not our peer's answer
    }
    Joined joined{std::move(a.fd), peer_received};
    attempts_.erase({peer, index});
    return joined;
  }

  std::optional<Joined> take(int peer, int index, std::uint64_t received) override {
    std::lock_guard lock(mutex_);
    pump_locked();
    const auto it = offers_.find({peer, index});
    if (it == offers_.end()) return std::nullopt;
    Joined joined{std::move(it->second.fd), it->second.peer_received};
    offers_.erase(it);
    offer_count_.store(offers_.size(), std::memory_order_release);
    const auto peer_it = peers_.find(peer);
    RehelloBytes ack =
        encode_rehello(Hello{kKindReack, static_cast<std::uint32_t>(me_),
                             static_cast<std::uint32_t>(index), token_, peer_it->second.token},
                       received);
    std::size_t done = 0;
    if (!transfer(joined.fd.get(), ack.data(), done, true, 100)) return std::nullopt;
    return joined;
  }

  bool offers_waiting() const noexcept override {
    return offer_count_.load(std::memory_order_acquire) != 0;
  }

  void pump() override {
    std::lock_guard lock(mutex_);
    pump_locked();
  }

  int listener_fd() const noexcept override { return listener_.get(); }

  void forget(int peer, int index) noexcept override {
    std::lock_guard lock(mutex_);
    attempts_.erase({peer, index});
    offers_.erase({peer, index});
    offer_count_.store(offers_.size(), std::memory_order_release);
  }

  void configure(int fd) const override { configure_data_socket(fd, options_); }

  void record(ConnectionEvent event) override {
    std::lock_guard lock(sink_->mutex);
    sink_->events.push_back(std::move(event));
  }

 private:
  static constexpr std::uint64_t kRetryPauseNs = 100'000'000;
  static constexpr std::uint64_t kAttemptNs = 250'000'000;
  static constexpr std::uint64_t kHandshakeNs = 1'000'000'000;

  struct Attempt {
    UniqueFd fd;
    std::uint64_t started_ns = 0;
    std::uint64_t next_try_ns = 0;
    bool connected = false;
    RehelloBytes out{};
    std::size_t out_done = 0;
    RehelloBytes in{};
    std::size_t in_got = 0;
  };
  struct Offer {
    UniqueFd fd;
    std::uint64_t peer_received = 0;
  };

  // Accepts what waits on the listener and reads each one's re-hello (a reconnecting peer
  // sends it right after the TCP handshake: waited for at most 100 ms). A stranger, a replay
  // with the wrong tokens or anything else is closed, never admitted.
  void pump_locked() {
    while (true) {
      UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!fd.valid()) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // EAGAIN, or an error the next pump meets again
      }
      RehelloBytes in{};
      std::size_t got = 0;
      if (!transfer(fd.get(), in.data(), got, false, 100)) continue;
      Hello h;
      std::uint64_t peer_received = 0;
      if (!decode_rehello(in, h, peer_received) ||
          !wire::is_hello_for(h, kKindRehello, me_, static_cast<std::size_t>(connections_),
                              token_)) {
        continue;
      }
      const auto peer = peers_.find(static_cast<int>(h.rank));
      if (peer == peers_.end() || h.connector_token != peer->second.token) {
        continue;
      }
      // The newest attempt of a connection wins (an older one was abandoned by the peer).
      offers_[{peer->first, static_cast<int>(h.index)}] = Offer{std::move(fd), peer_received};
      offer_count_.store(offers_.size(), std::memory_order_release);
    }
  }

  const Options options_;
  const LocalAddress local_;
  const UniqueFd listener_;
  const int me_;
  const std::uint64_t token_;
  const std::map<int, Peer> peers_;
  const int connections_;
  const std::shared_ptr<EventSink> sink_;
  std::mutex mutex_;
  std::map<std::pair<int, int>, Attempt> attempts_;
  std::map<std::pair<int, int>, Offer> offers_;
  std::atomic<std::size_t> offer_count_{0};
};

// ---- connecting (Transport::connect) ----

// Check what the others published against what this rank expects: records indexed by rank (this
// rank's own and unrelated ranks' left empty or as published).
std::vector<Record> check_records(const std::vector<std::string>& all, int me, int size,
                                  const std::vector<int>& peers, int connections_per_peer) {
  std::vector<Record> records(static_cast<std::size_t>(size));
  for (int r = 0; r < size; ++r) {
    if (r == me) continue;
    const bool related = std::find(peers.begin(), peers.end(), r) != peers.end();
    Record& rec = records[static_cast<std::size_t>(r)];
    const bool parsed = static_cast<std::size_t>(r) < all.size() && parse_record(all[r], rec);
    if (!parsed) {
      if (!related) continue;
      throw unrecognised_record("tcp", r, static_cast<std::size_t>(r) < all.size() ? all[r] : "");
    }
    if (!rec.ok) {
      if (!related) continue;
      throw peer_failed("tcp", r, "set up its listener", rec.error_kind, rec.error);
    }
    check_pairing("tcp", me, r, peers, connections_per_peer, rec.peers, rec.connections);
  }
  return records;
}

// Every connection of this rank opened and matched to (peer, connection index). The lower rank of
// each pair connects and sends a hello; the higher rank accepts, admits a hello that carries both
// ranks' tokens (anything else is closed and counted, never admitted) and answers with an ack the
// connector checks likewise. connect_timeout_ns bounds it all (waiting for slower ranks to reach
// the exchange is the exchange's). Throws core::Error naming the peer.
class Handshakes {
 public:
  Handshakes(const Options& options, const LocalAddress& local, std::string& device_note,
             const Pairing& pairing, int listener)
      : options_(options),
        local_(local),
        device_note_(device_note),
        me_(pairing.me),
        token_(pairing.token),
        peers_(pairing.peers),
        records_(pairing.records),
        n_(static_cast<std::size_t>(pairing.connections_per_peer)),
        total_(pairing.peers.size() * n_),
        listener_(listener),
        deadline_(deadline_after(options.connect_timeout_ns)),
        slots_(total_) {
    pending_.reserve(total_ + 16);
    connect_to_higher_ranks();
  }

  // The connected sockets by slot: peer position * connections_per_peer + connection index.
  std::vector<UniqueFd> run() {
    while (established_ < total_) {
      const bool want_accept = accepted_identified_ < expected_incoming_;
      if (!wait_for_events(want_accept)) continue;
      // Existing sockets first (indices stay valid), then new accepts.
      advance_ready(want_accept ? 1 : 0);
      if (want_accept && (fds_[0].revents & POLLIN) != 0) accept_waiting();
    }
    return std::move(slots_);
  }

  // Accepted sockets closed as strangers, replays or duplicates.
  std::size_t rejected() const noexcept { return rejected_; }

 private:
  enum class Stage { connecting, send_hello, await_ack, await_hello, send_ack };
  struct Pending {
    UniqueFd fd;
    Stage stage;
    std::size_t slot;  // peer position * n + index; for accepted sockets known after the hello
    Hello hello{};     // the hello sent (connecting sockets)
    HelloBytes out{};
    std::size_t out_done = 0;
    HelloBytes in{};
    std::size_t in_got = 0;
  };
  enum class Outcome { waiting, done, drop };

  const std::string& peer_address(std::size_t pos) const {
    return records_[static_cast<std::size_t>(peers_[pos])].address;
  }
  std::string who(std::size_t slot) const {
    const std::size_t pos = slot / n_;
    return "rank " + std::to_string(peers_[pos]) + " (" + peer_address(pos) + ")";
  }

  // Starts the non-blocking connects to the higher ranks (n each) and counts the connections the
  // lower ranks will make.
  void connect_to_higher_ranks() {
    for (std::size_t pos = 0; pos < peers_.size(); ++pos) {
      const int p = peers_[pos];
      if (p < me_) {
        expected_incoming_ += n_;
        continue;
      }
      SockAddr target;
      if (!parse_endpoint(peer_address(pos), target)) {
        throw Error(ErrorKind::runtime, "tcp: rank " + std::to_string(p) +
                                            " advertised an unusable address '" +
                                            peer_address(pos) + "'");
      }
      for (std::size_t i = 0; i < n_; ++i) start_connect(target, pos, i);
    }
  }

  void start_connect(const SockAddr& target, std::size_t pos, std::size_t i) {
    const int p = peers_[pos];
    Pending c{open_socket(options_, target.family()), Stage::connecting, pos * n_ + i};
    device_note_ = bind_device(c.fd.get(), local_);
    if (const int err = bind_source(c.fd.get(), local_, target); err != 0) {
      throw Error(ErrorKind::runtime, "tcp: cannot bind to " + local_.address.to_string(false) +
                                          " to connect to " + who(c.slot) + ": " + errno_text(err));
    }
    c.hello = Hello{kKindHello, static_cast<std::uint32_t>(me_), static_cast<std::uint32_t>(i),
                    records_[static_cast<std::size_t>(p)].token, token_};
    c.out = kHellos.encode(c.hello);
    if (::connect(c.fd.get(), target.get(), target.length) != 0 && errno != EINPROGRESS) {
      throw Error(ErrorKind::runtime, "tcp: rank " + std::to_string(me_) +
                                          " could not connect to " + who(c.slot) + ": " +
                                          errno_text(errno));
    }
    pending_.push_back(std::move(c));
  }

  // Polls the listener (when connections are still expected) and every pending socket, bounded
  // by the deadline and by 1 s. False when nothing is ready (or poll was interrupted).
  bool wait_for_events(bool want_accept) {
    const std::uint64_t now = core::now_ns();
    if (now >= deadline_) throw timeout_error();
    fds_.clear();
    if (want_accept) fds_.push_back(pollfd{listener_, POLLIN, 0});
    for (const auto& c : pending_) {
      const short events =
          (c.stage == Stage::await_ack || c.stage == Stage::await_hello) ? POLLIN : POLLOUT;
      fds_.push_back(pollfd{c.fd.get(), events, 0});
    }
    const auto wait_ms =
        static_cast<int>(std::min<std::uint64_t>((deadline_ - now + 999'999) / 1'000'000, 1000));
    const int rc = ::poll(fds_.data(), fds_.size(), wait_ms);
    if (rc < 0) {
      if (errno == EINTR) return false;
      throw Error(ErrorKind::runtime,
                  "tcp: poll() during connection setup failed: " + errno_text(errno));
    }
    return rc != 0;
  }

  // Moves every pending socket that poll() reported on by one stage; `first` is the index of
  // the first pending socket's pollfd.
  void advance_ready(std::size_t first) {
    for (std::size_t k = 0; k < pending_.size(); ++k) {
      Pending& c = pending_[k];
      if (fds_[first + k].revents == 0) continue;
      const Outcome outcome = advance(c);
      if (outcome == Outcome::drop) {
        ++rejected_;
        c.fd.reset();
      } else if (outcome == Outcome::done) {
        slots_[c.slot] = std::move(c.fd);
        ++established_;
      }
    }
    pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                  [](const Pending& c) { return !c.fd.valid(); }),
                   pending_.end());
  }

  Outcome advance(Pending& c) {
    switch (c.stage) {
      case Stage::connecting:
        check_connected(c);
        c.stage = Stage::send_hello;
        [[fallthrough]];
      case Stage::send_hello:
        if (sent(c, "sending the handshake to ")) c.stage = Stage::await_ack;
        return Outcome::waiting;
      case Stage::await_ack:
        return await_ack(c);
      case Stage::await_hello:
        if (const Outcome outcome = await_hello(c); c.stage != Stage::send_ack) return outcome;
        [[fallthrough]];
      case Stage::send_ack:
        return sent(c, "answering the handshake of ") ? Outcome::done : Outcome::waiting;
    }
    return Outcome::waiting;
  }

  void check_connected(const Pending& c) const {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      throw Error(ErrorKind::runtime, "tcp: rank " + std::to_string(me_) +
                                          " could not connect to " + who(c.slot) + " (connection " +
                                          std::to_string(c.slot % n_) + "): " + errno_text(err));
    }
  }

  // Sends more of c.out; true once all of it is sent. Throws core::Error(peer_lost)
  // "tcp: <what><who> failed: <errno text>".
  bool sent(Pending& c, const char* what) const {
    int err = 0;
    const Io io = step(c.fd.get(), c.out, c.out_done, true, err);
    if (io == Io::error) {
      throw Error(ErrorKind::peer_lost,
                  "tcp: " + std::string(what) + who(c.slot) + " failed: " + errno_text(err));
    }
    return io == Io::progress;
  }

  // Connector: the acceptor's ack, checked against the hello sent.
  Outcome await_ack(Pending& c) const {
    int err = 0;
    const Io io = step(c.fd.get(), c.in, c.in_got, false, err);
    if (io == Io::closed || io == Io::error) {
      throw Error(ErrorKind::peer_lost,
                  "tcp: " + who(c.slot) + " closed connection " + std::to_string(c.slot % n_) +
                      " during the handshake" +
                      (io == Io::error ? ": " + errno_text(err) : std::string()) +
                      " (it did not accept this rank's hello: another job?)");
    }
    if (io != Io::progress) return Outcome::waiting;
    Hello ack;
    if (!kHellos.decode(c.in, ack) || !wire::answers(ack, c.hello, kKindAck, peers_[c.slot / n_])) {
      throw Error(ErrorKind::runtime, "tcp: " + who(c.slot) +
                                          " answered the handshake with an unexpected "
                                          "reply (not a fabricbench tcp endpoint of this "
                                          "job?)");
    }
    return Outcome::done;
  }

  // Acceptor: the connector's hello. Admitted, the socket takes its slot and moves on to
  // send_ack; a stranger, a replay or a duplicate is dropped.
  Outcome await_hello(Pending& c) {
    int err = 0;
    const Io io = step(c.fd.get(), c.in, c.in_got, false, err);
    if (io == Io::closed || io == Io::error) return Outcome::drop;
    if (io != Io::progress) return Outcome::waiting;
    Hello hello;
    const bool valid =
        kHellos.decode(c.in, hello) && wire::is_hello_for(hello, kKindHello, me_, n_, token_);
    std::size_t pos = peers_.size();
    if (valid) {
      pos = static_cast<std::size_t>(
          std::find(peers_.begin(), peers_.end(), static_cast<int>(hello.rank)) - peers_.begin());
    }
    if (pos == peers_.size() || hello.connector_token != records_[hello.rank].token ||
        slots_[pos * n_ + hello.index].valid() ||
        std::any_of(pending_.begin(), pending_.end(), [&](const Pending& o) {
          return &o != &c && o.stage == Stage::send_ack && o.slot == pos * n_ + hello.index;
        })) {
      return Outcome::drop;  // a stranger, a replay or a duplicate: close it, never admit it
    }
    c.slot = pos * n_ + hello.index;
    c.out = kHellos.encode(wire::answer(hello, kKindAck, me_));
    c.stage = Stage::send_ack;
    ++accepted_identified_;
    return Outcome::waiting;
  }

  // Takes every connection waiting on the listener; each must say hello before it is admitted.
  void accept_waiting() {
    while (true) {
      UniqueFd fd(::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!fd.valid()) {
        const int err = errno;
        if (err == EINTR || err == ECONNABORTED) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) break;
        throw Error(ErrorKind::runtime, "tcp: accept() failed: " + errno_text(err));
      }
      // Bound what unidentified sockets may hold open.
      if (pending_.size() >= total_ + 64) {
        ++rejected_;
        continue;
      }
      pending_.push_back(Pending{std::move(fd), Stage::await_hello, total_});
    }
  }

  // What is missing, per peer, when the deadline passes.
  Error timeout_error() const {
    std::string missing;
    for (std::size_t pos = 0; pos < peers_.size(); ++pos) {
      std::size_t have = 0;
      for (std::size_t i = 0; i < n_; ++i) have += slots_[pos * n_ + i].valid() ? 1 : 0;
      if (have == n_) continue;
      std::string state;
      if (peers_[pos] < me_) {
        state = "waiting for it to connect";
      } else {
        state = "no handshake reply";
        for (const auto& c : pending_) {
          if (c.slot / n_ == pos && c.stage == Stage::connecting) state = "TCP connect pending";
        }
      }
      if (!missing.empty()) missing += "; ";
      missing += who(pos * n_) + ": " + std::to_string(have) + " of " + std::to_string(n_) +
                 " connections, " + state;
    }
    return Error(ErrorKind::timeout, "tcp: rank " + std::to_string(me_) + " timed out after " +
                                         ms_text(options_.connect_timeout_ns) +
                                         " setting up connections: " + missing);
  }

  const Options& options_;
  const LocalAddress& local_;
  std::string& device_note_;
  const int me_;
  const std::uint64_t token_;
  const std::vector<int>& peers_;
  const std::vector<Record>& records_;
  const std::size_t n_;
  const std::size_t total_;
  const int listener_;
  const std::uint64_t deadline_;
  std::vector<UniqueFd> slots_;
  std::vector<Pending> pending_;
  std::vector<pollfd> fds_;
  std::size_t expected_incoming_ = 0;
  std::size_t accepted_identified_ = 0;
  std::size_t established_ = 0;
  std::size_t rejected_ = 0;
};

// ---- the transport ----

class TcpTransport final : public Transport, public ConnectionEventSource {
 public:
  explicit TcpTransport(const Options& options)
      : options_(options),
        local_(resolve_local_address(options.address, options.interface, options.family)),
        follow_side_channel_((options.address.empty() || options.address == "auto") &&
                             options.interface.empty()) {
    if (options.queue_depth == 0) {
      throw Error(ErrorKind::config, "tcp: queue_depth must be at least 1");
    }
    if (options.queue_depth > (std::size_t{1} << 24)) {
      throw Error(ErrorKind::config, "tcp: queue_depth " + std::to_string(options.queue_depth) +
                                         " is larger than the limit of 16777216");
    }
    if (options.sndbuf > INT_MAX || options.rcvbuf > INT_MAX) {
      throw Error(ErrorKind::config,
                  "tcp: sndbuf/rcvbuf must be at most " + std::to_string(INT_MAX) + " bytes");
    }
  }

  std::string name() const override { return "tcp"; }

  Capabilities capabilities() const override {
    Capabilities c;
    c.send_recv = true;
    c.busy_poll = true;
    c.blocking = true;
    c.max_message_size = kMaxMessageBytes;
    return c;
  }

  MemoryRegion register_memory(const Buffer& buffer) override {
    if (!buffer.traits.cpu_addressable) {
      // The engine stages such memory through page-locked host buffers before it gets here
      // (transports/api/staging.hpp); a caller that does not must not hand it over.
      throw Error(ErrorKind::runtime, "tcp: sockets need CPU-addressable memory, not " +
                                          describe(buffer.traits) + " (stage it)");
    }
    MemoryRegion region;
    region.buffer = buffer;
    region.registration = "none (sockets read host memory)";
    return region;
  }

  void deregister_memory(MemoryRegion& region) noexcept override { region = MemoryRegion{}; }

  std::vector<std::unique_ptr<Endpoint>> connect(Exchange& exchange, const std::vector<int>& peers,
                                                 int connections_per_peer) override;

  std::vector<ConnectionEvent> drain_connection_events() override {
    std::lock_guard lock(sink_->mutex);
    return std::exchange(sink_->events, {});
  }

 private:
  UniqueFd open_listener(std::size_t peer_count, int connections_per_peer, std::string& advertised);
  std::shared_ptr<Rejoiner> make_rejoiner(UniqueFd listener, int me, std::uint64_t token,
                                          const std::vector<int>& peers,
                                          const std::vector<Record>& records,
                                          int connections_per_peer) const;
  std::vector<std::unique_ptr<Endpoint>> wrap(std::vector<UniqueFd> slots, int me,
                                              const std::vector<int>& peers,
                                              int connections_per_peer, std::size_t rejected,
                                              const std::shared_ptr<Rejoiner>& rejoiner) const;

  void follow_side_channel(const Exchange& exchange);

  Options options_;
  LocalAddress local_;
  // address auto without an interface: bind where the side channel reaches the other ranks.
  bool follow_side_channel_;
  std::string device_note_;
  std::shared_ptr<EventSink> sink_ = std::make_shared<EventSink>();
};

std::vector<std::unique_ptr<Endpoint>> TcpTransport::connect(Exchange& exchange,
                                                             const std::vector<int>& peers,
                                                             int connections_per_peer) {
  const int me = exchange.rank();
  const int size = exchange.size();

  // A failure to check the arguments or open the listener still takes part in the allgather (as
  // an error record), so the other ranks fail at once, not after a timeout.
  std::string local_error;
  ErrorKind local_error_kind = ErrorKind::config;
  UniqueFd listener;
  std::string advertised = "-";
  try {
    check_peers("tcp", me, size, peers, connections_per_peer);
    if (follow_side_channel_) follow_side_channel(exchange);
    if (!peers.empty()) listener = open_listener(peers.size(), connections_per_peer, advertised);
  } catch (const Error& e) {
    local_error = e.what();
    local_error_kind = e.kind();
  }

  const std::uint64_t token = random_token();
  const std::vector<std::string> all = exchange.allgather(
      local_error.empty() ? format_record(token, connections_per_peer, advertised, peers)
                          : format_error_record(kRecordVersion, local_error_kind, local_error));
  if (!local_error.empty()) throw Error(local_error_kind, local_error);

  const std::vector<Record> records = check_records(all, me, size, peers, connections_per_peer);
  if (peers.empty()) return {};

  Handshakes handshakes(options_, local_, device_note_,
                        Pairing{me, token, peers, records, connections_per_peer}, listener.get());
  std::vector<UniqueFd> slots = handshakes.run();
  // With reconnect the listener stays open: a peer whose connection broke reconnects to it.
  std::shared_ptr<Rejoiner> rejoiner;
  if (options_.reconnect) {
    rejoiner = make_rejoiner(std::move(listener), me, token, peers, records, connections_per_peer);
  } else {
    listener.reset();
  }
  return wrap(std::move(slots), me, peers, connections_per_peer, handshakes.rejected(), rejoiner);
}

// address auto: the address this host's side channel uses (a loopback one when every rank runs
// here), so that data connections cross the same network the ranks already reached each other on.
void TcpTransport::follow_side_channel(const Exchange& exchange) {
  const std::string via = exchange.local_address();
  if (via.empty()) return;  // keeps 127.0.0.1 (::1)
  try {
    local_ = resolve_local_address(via, "", options_.family);
  } catch (const Error& e) {
    throw Error(ErrorKind::config, "tcp: address auto follows the side channel's address " + via +
                                       ", which cannot be used here (" + e.what() +
                                       "); set tcp.address or tcp.interface");
  }
}

// Binds and listens on the local address; `advertised` becomes the "addr:port" peers connect to.
UniqueFd TcpTransport::open_listener(std::size_t peer_count, int connections_per_peer,
                                     std::string& advertised) {
  UniqueFd listener = open_socket(options_, local_.address.family());
  device_note_ = bind_device(listener.get(), local_);
  SockAddr bind_to = local_.address;
  if (::bind(listener.get(), bind_to.get(), bind_to.length) != 0) {
    const int err = errno;
    throw Error(
        err == EADDRNOTAVAIL ? ErrorKind::config : ErrorKind::runtime,
        "tcp: cannot bind listener to " + bind_to.to_string(false) + ": " + errno_text(err));
  }
  const int backlog =
      std::clamp(connections_per_peer * static_cast<int>(peer_count) + 16, 16, 4096);
  if (::listen(listener.get(), backlog) != 0) {
    throw Error(ErrorKind::runtime, "tcp: listen() failed: " + errno_text(errno));
  }
  SockAddr bound;
  bound.length = sizeof bound.storage;
  ::getsockname(listener.get(), bound.get(), &bound.length);
  advertised = bound.to_string();
  return listener;
}

std::shared_ptr<Rejoiner> TcpTransport::make_rejoiner(UniqueFd listener, int me,
                                                      std::uint64_t token,
                                                      const std::vector<int>& peers,
                                                      const std::vector<Record>& records,
                                                      int connections_per_peer) const {
  std::map<int, RejoinHub::Peer> known;
  for (const int p : peers) {
    RejoinHub::Peer peer;
    peer.token = records[static_cast<std::size_t>(p)].token;
    if (!parse_endpoint(records[static_cast<std::size_t>(p)].address, peer.address)) continue;
    known.emplace(p, std::move(peer));
  }
  return std::make_shared<RejoinHub>(options_, local_, std::move(listener), me, token,
                                     std::move(known), connections_per_peer, sink_);
}

// The connected sockets as endpoints, slot by slot (grouped by peer in `peers` order).
std::vector<std::unique_ptr<Endpoint>> TcpTransport::wrap(
    std::vector<UniqueFd> slots, int me, const std::vector<int>& peers, int connections_per_peer,
    std::size_t rejected, const std::shared_ptr<Rejoiner>& rejoiner) const {
  const auto n = static_cast<std::size_t>(connections_per_peer);
  std::vector<std::unique_ptr<Endpoint>> endpoints;
  endpoints.reserve(slots.size());
  for (std::size_t s = 0; s < slots.size(); ++s) {
    const int fd = slots[s].get();
    configure_data_socket(fd, options_);
    EndpointInfo info;
    info.peer = peers[s / n];
    info.connector = peers[s / n] > me;
    info.index = static_cast<int>(s % n);
    info.local = local_name(fd);
    info.remote = peer_name(fd);
    info.device = device_note_;
    info.rejected_handshakes = peers[s / n] < me ? rejected : 0;
    endpoints.push_back(
        std::make_unique<TcpEndpoint>(std::move(slots[s]), info, options_, rejoiner));
  }
  return endpoints;
}

}  // namespace

std::unique_ptr<Transport> make_tcp_transport(const Options& options) {
  return std::make_unique<TcpTransport>(options);
}

}  // namespace fabricbench::transport::tcp
