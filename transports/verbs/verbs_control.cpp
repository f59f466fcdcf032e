#include "transports/verbs/verbs_control.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "transports/api/wire.hpp"

namespace fabricbench::transport::verbs {
namespace {

using core::Error;
using core::ErrorKind;

constexpr std::uint32_t kMagic = 0x4b564246;  // "FBVK"
constexpr std::uint16_t kVersion = 1;
constexpr std::uint16_t kHello = 0;
constexpr std::uint16_t kAck = 1;
constexpr std::uint16_t kTime = 2;
constexpr std::uint64_t kStrangerNs = 2'000'000'000;  // an accepted socket must say hello by then

using wire::Hello;
using wire::HelloBytes;
using wire::random_token;

constexpr wire::HelloCodec kHellos{kMagic, kVersion};

// The IPv4 address to listen on: the device's netdev's, else the first non-loopback one that is
// up, else loopback.
in_addr listen_address(const std::string& netdev) {
  in_addr out{};
  out.s_addr = htonl(INADDR_LOOPBACK);
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  bool found = false;
  for (int pass = 0; pass < 2 && !found; ++pass) {
    for (ifaddrs* a = list; a != nullptr && !found; a = a->ifa_next) {
      if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
      if (pass == 0 && (netdev.empty() || netdev != a->ifa_name)) continue;
      if (pass == 1 && ((a->ifa_flags & IFF_LOOPBACK) != 0 || (a->ifa_flags & IFF_UP) == 0)) {
        continue;
      }
      sockaddr_in v4{};
      std::memcpy(&v4, a->ifa_addr, sizeof v4);
      out = v4.sin_addr;
      found = true;
    }
  }
  ::freeifaddrs(list);
  return out;
}

std::uint64_t wall_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t remaining(std::uint64_t deadline) {
  const std::uint64_t now = core::now_ns();
  return now >= deadline ? 0 : deadline - now;
}

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_fd(int fd, short events, std::uint64_t deadline) {
  while (true) {
    const std::uint64_t left = remaining(deadline);
    if (left == 0) return false;
    pollfd p{fd, events, 0};
    const int rc =
        ::poll(&p, 1, static_cast<int>(std::min<std::uint64_t>(left / 1'000'000 + 1, 1'000'000)));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

bool read_exact(int fd, HelloBytes& b, std::uint64_t deadline) {
  std::size_t got = 0;
  while (got < b.size()) {
    const ssize_t r = ::recv(fd, b.data() + got, b.size() - got, MSG_DONTWAIT);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
    } else if (r == 0) {
      return false;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_fd(fd, POLLIN, deadline)) return false;
    } else {
      return false;
    }
  }
  return true;
}

bool write_exact(int fd, const HelloBytes& b, std::uint64_t deadline) {
  std::size_t sent = 0;
  while (sent < b.size()) {
    const ssize_t w = ::send(fd, b.data() + sent, b.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      sent += static_cast<std::size_t>(w);
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_fd(fd, POLLOUT, deadline)) return false;
    } else {
      return false;
    }
  }
  return true;
}

// The hello a connector (rank `me`, token `mine`) sends on connection `index` to `peer`.
Hello hello_to(int me, std::uint64_t mine, const ControlPeer& peer, std::size_t index) {
  return Hello{kHello, static_cast<std::uint32_t>(me), static_cast<std::uint32_t>(index),
               peer.token, mine};
}

void set_nodelay(int fd) {
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

ControlListener::ControlListener(const Device& device) : token_(random_token()) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    throw Error(ErrorKind::runtime, "verbs: control socket: " + errno_text(errno));
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr = listen_address(device.netdev);
  a.sin_port = 0;
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
  address_ = text;
  socklen_t len = sizeof a;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 128) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw Error(ErrorKind::runtime,
                "verbs: control listener on " + address_ + ": " + errno_text(err));
  }
  port_ = ntohs(a.sin_port);
}

ControlListener::~ControlListener() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

// The steps of ControlListener::connect_all for one call: the sockets by slot (peer position * n
// + connection index) and the deadline every wait is bounded by. A failure closes every socket
// made so far and throws core::Error(runtime) naming the peer.
class ControlSetup {
 public:
  ControlSetup(int listener, std::uint64_t token, int me, const std::vector<ControlPeer>& peers,
               int n, std::uint64_t deadline)
      : listener_(listener),
        token_(token),
        me_(me),
        peers_(peers),
        n_(static_cast<std::size_t>(n)),
        deadline_(deadline),
        fds_(peers.size() * n_, -1) {}

  // Connects to the higher ranks and says hello (the listener's backlog takes it at once).
  void connect_to_higher_ranks() {
    for (std::size_t i = 0; i < peers_.size(); ++i) {
      const ControlPeer& p = peers_[i];
      if (p.rank < me_) continue;
      for (std::size_t k = 0; k < n_; ++k) {
        const int fd = connect_to(p, i * n_ + k);
        if (!write_exact(fd, kHellos.encode(hello_to(me_, token_, p, k)), deadline_)) {
          fail(p, "sending the hello failed");
        }
      }
    }
  }

  // Accepts the lower ranks' connections and answers their hellos; drops what does not know
  // both tokens.
  void accept_lower_ranks() {
    std::size_t expected = 0;
    for (const ControlPeer& p : peers_) {
      if (p.rank < me_) expected += n_;
    }
    while (expected > 0) {
      if (!wait_fd(listener_, POLLIN, deadline_)) fail_missing_connection();
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) continue;
      Hello h;
      const std::size_t slot = admit(fd, h);
      if (slot == fds_.size()) {
        ::close(fd);
        continue;
      }
      fds_[slot] = fd;
      if (!write_exact(fd, kHellos.encode(wire::answer(h, kAck, me_)), deadline_)) {
        fail(peers_[slot / n_], "sending the ack failed");
      }
      --expected;
    }
  }

  // The higher ranks' acks to this rank's hellos.
  void check_acks() {
    for (std::size_t i = 0; i < peers_.size(); ++i) {
      const ControlPeer& p = peers_[i];
      if (p.rank < me_) continue;
      for (std::size_t k = 0; k < n_; ++k) {
        HelloBytes b{};
        Hello h;
        if (!read_exact(fds_[i * n_ + k], b, deadline_) || !kHellos.decode(b, h) ||
            !wire::answers(h, hello_to(me_, token_, p, k), kAck, p.rank)) {
          fail(p, "no valid ack for index " + std::to_string(k));
        }
      }
    }
  }

  void set_nodelay_all() const {
    for (const int fd : fds_) set_nodelay(fd);
  }

  // Connectors probe (all first, so nobody waits on a probe not yet sent), acceptors answer,
  // connectors read the answers. The caller owns the sockets from here on.
  std::vector<ControlConnection> measure_clocks() {
    std::vector<ControlConnection> out(fds_.size());
    std::vector<std::uint64_t> sent(fds_.size(), 0);
    for (std::size_t i = 0; i < fds_.size(); ++i) {
      out[i].fd = fds_[i];
      if (peers_[i / n_].rank < me_) continue;
      sent[i] = send_probe(i);
    }
    for (std::size_t i = 0; i < fds_.size(); ++i) {
      if (peers_[i / n_].rank > me_) continue;
      answer_probe(i);
    }
    for (std::size_t i = 0; i < fds_.size(); ++i) {
      if (peers_[i / n_].rank < me_) continue;
      read_answer(i, sent[i], out[i]);
    }
    return out;
  }

 private:
  [[noreturn]] void fail(const ControlPeer& p, const std::string& what) {
    for (int& fd : fds_) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
    throw Error(ErrorKind::runtime, "verbs: control connection with rank " +
                                        std::to_string(p.rank) + " (" + p.address + ":" +
                                        std::to_string(p.port) + "): " + what);
  }

  // The listener waited in vain: names the first connection of a lower rank still missing.
  void fail_missing_connection() {
    for (std::size_t i = 0; i < peers_.size(); ++i) {
      for (std::size_t k = 0; k < n_; ++k) {
        if (peers_[i].rank < me_ && fds_[i * n_ + k] < 0) {
          fail(peers_[i], "no connection for index " + std::to_string(k) + " in time");
        }
      }
    }
  }

  // A connected socket to `p`, kept in `slot`.
  int connect_to(const ControlPeer& p, std::size_t slot) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(p, "socket: " + errno_text(errno));
    fds_[slot] = fd;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(p.port));
    if (::inet_pton(AF_INET, p.address.c_str(), &a.sin_addr) != 1) fail(p, "bad address");
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
      fail(p, "connect: " + errno_text(errno));
    }
    if (!wait_fd(fd, POLLOUT, deadline_)) fail(p, "connect timed out");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) fail(p, "connect: " + errno_text(err));
    return fd;
  }

  // Reads an accepted socket's hello (a stranger gets kStrangerNs at most). The slot it fills,
  // or fds_.size() when it is not a lower peer's hello for a connection still open.
  std::size_t admit(int fd, Hello& h) const {
    HelloBytes b{};
    const std::uint64_t until = std::min(deadline_, core::now_ns() + kStrangerNs);
    std::size_t slot = fds_.size();
    if (read_exact(fd, b, until) && kHellos.decode(b, h) &&
        wire::is_hello_for(h, kHello, me_, n_, token_)) {
      for (std::size_t i = 0; i < peers_.size(); ++i) {
        if (peers_[i].rank == static_cast<int>(h.rank) && peers_[i].token == h.connector_token &&
            fds_[i * n_ + h.index] < 0) {
          slot = i * n_ + h.index;
        }
      }
    }
    return slot;
  }

  // The time probe: the hello's magic and version, kind kTime, the sender's CLOCK_REALTIME at
  // byte 8 and the answerer's at byte 16.
  std::uint64_t send_probe(std::size_t i) {
    HelloBytes b{};
    wire::put_le(b.data() + 0, 4, kMagic);
    wire::put_le(b.data() + 4, 2, kVersion);
    wire::put_le(b.data() + 6, 2, kTime);
    const std::uint64_t sent = wall_ns();
    wire::put_le(b.data() + 8, 8, sent);
    if (!write_exact(fds_[i], b, deadline_)) fail(peers_[i / n_], "sending the time probe failed");
    return sent;
  }

  void answer_probe(std::size_t i) {
    HelloBytes b{};
    if (!read_exact(fds_[i], b, deadline_) || wire::get_le(b.data() + 0, 4) != kMagic ||
        wire::get_le(b.data() + 6, 2) != kTime) {
      fail(peers_[i / n_], "no time probe");
    }
    wire::put_le(b.data() + 16, 8, wall_ns());
    if (!write_exact(fds_[i], b, deadline_)) {
      fail(peers_[i / n_], "answering the time probe failed");
    }
  }

  void read_answer(std::size_t i, std::uint64_t sent, ControlConnection& out) {
    HelloBytes b{};
    if (!read_exact(fds_[i], b, deadline_) || wire::get_le(b.data() + 0, 4) != kMagic ||
        wire::get_le(b.data() + 6, 2) != kTime || wire::get_le(b.data() + 8, 8) != sent) {
      fail(peers_[i / n_], "no answer to the time probe");
    }
    const std::uint64_t back = wall_ns();
    const std::uint64_t theirs = wire::get_le(b.data() + 16, 8);
    const std::uint64_t rtt = back >= sent ? back - sent : 0;
    out.clock_known = true;
    out.peer_clock_offset_ns =
        static_cast<std::int64_t>(theirs) - static_cast<std::int64_t>(sent + rtt / 2);
    out.clock_error_ns = rtt / 2;
  }

  const int listener_;
  const std::uint64_t token_;
  const int me_;
  const std::vector<ControlPeer>& peers_;
  const std::size_t n_;
  const std::uint64_t deadline_;
  std::vector<int> fds_;
};

}  // namespace

std::vector<ControlConnection> ControlListener::connect_all(int me,
                                                            const std::vector<ControlPeer>& peers,
                                                            int n, std::uint64_t timeout_ns) {
  ControlSetup setup(fd_, token_, me, peers, n, core::now_ns() + timeout_ns);
  setup.connect_to_higher_ranks();
  setup.accept_lower_ranks();
  setup.check_acks();
  setup.set_nodelay_all();
  return setup.measure_clocks();
}

}  // namespace fabricbench::transport::verbs
