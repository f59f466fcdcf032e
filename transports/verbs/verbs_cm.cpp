#include "transports/verbs/verbs_cm.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <rdma/rdma_cma.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "transports/api/deadline.hpp"
#include "transports/api/wire.hpp"

namespace fabricbench::transport::verbs {
namespace {

using core::Error;
using core::ErrorKind;

constexpr std::uint32_t kMagic = 0x43564246;  // "FBVC"
constexpr std::uint16_t kVersion = 1;
constexpr std::size_t kPrivateBytes = 40;
constexpr int kMaxResolveMs = 5000;

struct Private {
  std::uint32_t rank = 0;
  std::uint32_t index = 0;
  std::uint64_t token = 0;
  std::uint64_t scratch_addr = 0;
  std::uint32_t scratch_rkey = 0;
};
using PrivateBytes = std::array<std::uint8_t, kPrivateBytes>;

PrivateBytes encode(const Private& p) {
  PrivateBytes b{};
  wire::put_le(b.data() + 0, 4, kMagic);
  wire::put_le(b.data() + 4, 2, kVersion);
  wire::put_le(b.data() + 8, 4, p.rank);
  wire::put_le(b.data() + 12, 4, p.index);
  wire::put_le(b.data() + 16, 8, p.token);
  wire::put_le(b.data() + 24, 8, p.scratch_addr);
  wire::put_le(b.data() + 32, 4, p.scratch_rkey);
  return b;
}

bool decode(const std::vector<std::uint8_t>& b, Private& p) {
  if (b.size() < kPrivateBytes) return false;
  if (wire::get_le(b.data() + 0, 4) != kMagic || wire::get_le(b.data() + 4, 2) != kVersion)
    return false;
  p.rank = static_cast<std::uint32_t>(wire::get_le(b.data() + 8, 4));
  p.index = static_cast<std::uint32_t>(wire::get_le(b.data() + 12, 4));
  p.token = wire::get_le(b.data() + 16, 8);
  p.scratch_addr = wire::get_le(b.data() + 24, 8);
  p.scratch_rkey = static_cast<std::uint32_t>(wire::get_le(b.data() + 32, 4));
  return true;
}

std::string status_text(int status) {
  if (status < 0) return errno_text(-status);
  return "status " + std::to_string(status);
}

// The first IPv4 address of `netdev`, else its first IPv6 address.
sockaddr_storage netdev_address(const std::string& netdev, const std::string& device) {
  if (netdev.empty()) {
    throw Error(ErrorKind::config, "verbs: use_rdma_cm needs the IP address of " + device +
                                       "'s netdev, but no netdev backs it (give netdev)");
  }
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    throw Error(ErrorKind::runtime, "verbs: getifaddrs: " + errno_text(errno));
  }
  sockaddr_storage v4{};
  sockaddr_storage v6{};
  bool have4 = false;
  bool have6 = false;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || netdev != a->ifa_name) continue;
    if (a->ifa_addr->sa_family == AF_INET && !have4) {
      std::memcpy(&v4, a->ifa_addr, sizeof(sockaddr_in));
      have4 = true;
    } else if (a->ifa_addr->sa_family == AF_INET6 && !have6) {
      std::memcpy(&v6, a->ifa_addr, sizeof(sockaddr_in6));
      have6 = true;
    }
  }
  ::freeifaddrs(list);
  if (!have4 && !have6) {
    throw Error(ErrorKind::config,
                "verbs: use_rdma_cm: netdev " + netdev + " (of " + device + ") has no IP address");
  }
  return have4 ? v4 : v6;
}

std::string address_text(const sockaddr_storage& a) {
  char text[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    sockaddr_in v4{};
    std::memcpy(&v4, &a, sizeof v4);
    ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
  } else {
    sockaddr_in6 v6{};
    std::memcpy(&v6, &a, sizeof v6);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
  }
  return text;
}

sockaddr_storage parse_address(const std::string& text, int port, int peer) {
  sockaddr_storage out{};
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  if (::inet_pton(AF_INET, text.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<std::uint16_t>(port));
    std::memcpy(&out, &v4, sizeof v4);
  } else if (::inet_pton(AF_INET6, text.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(static_cast<std::uint16_t>(port));
    std::memcpy(&out, &v6, sizeof v6);
  } else {
    throw Error(ErrorKind::runtime, "verbs: rank " + std::to_string(peer) +
                                        " published an unparsable rdma_cm address '" + text + "'");
  }
  return out;
}

sockaddr* as_sockaddr(sockaddr_storage& a) noexcept {
  return reinterpret_cast<sockaddr*>(&a);
}

}  // namespace

// ---- the session: event channel, listener, and the watcher thread after connecting ----

class CmSession {
 public:
  CmSession(std::shared_ptr<Device> device, const Options& options)
      : device_(std::move(device)), options_(options) {
    token_ = wire::random_token();
    local_ = netdev_address(device_->netdev, device_->name);
    address_ = address_text(local_);
    channel_ = rdma_create_event_channel();
    if (channel_ == nullptr) {
      throw Error(ErrorKind::runtime, "verbs: rdma_create_event_channel: " + errno_text(errno));
    }
    try {
      const int flags = ::fcntl(channel_->fd, F_GETFL);
      if (flags < 0 || ::fcntl(channel_->fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        throw Error(ErrorKind::runtime, "verbs: rdma_cm event channel: " + errno_text(errno));
      }
      if (rdma_create_id(channel_, &listen_, nullptr, RDMA_PS_TCP) != 0) {
        throw Error(ErrorKind::runtime, "verbs: rdma_create_id: " + errno_text(errno));
      }
      sockaddr_storage bind_to = local_;
      if (rdma_bind_addr(listen_, as_sockaddr(bind_to)) != 0) {
        throw Error(ErrorKind::runtime, "verbs: rdma_bind_addr(" + address_ + ") on " +
                                            device_->netdev + ": " + errno_text(errno));
      }
      if (listen_->verbs == nullptr ||
          device_->name != ibv_get_device_name(listen_->verbs->device)) {
        throw Error(
            ErrorKind::config,
            "verbs: rdma_cm binds " + address_ + " (" + device_->netdev + ") to device " +
                (listen_->verbs != nullptr ? ibv_get_device_name(listen_->verbs->device) : "none") +
                ", not the selected " + device_->name);
      }
      if (rdma_listen(listen_, 64) != 0) {
        throw Error(ErrorKind::runtime,
                    "verbs: rdma_listen on " + address_ + ": " + errno_text(errno));
      }
      port_ = ntohs(rdma_get_src_port(listen_));
    } catch (...) {
      if (listen_ != nullptr) rdma_destroy_id(listen_);
      rdma_destroy_event_channel(channel_);
      throw;
    }
  }

  ~CmSession() {
    if (thread_.joinable()) {
      const std::uint64_t one = 1;
      [[maybe_unused]] const ssize_t w = ::write(stop_fd_, &one, sizeof one);
      thread_.join();
    }
    if (stop_fd_ >= 0) ::close(stop_fd_);
    rdma_destroy_id(listen_);
    rdma_destroy_event_channel(channel_);  // every connection id was destroyed before
  }
  CmSession(const CmSession&) = delete;
  CmSession& operator=(const CmSession&) = delete;

  void watch(rdma_cm_id* id, int peer, int index, const std::shared_ptr<Fault>& fault) {
    std::lock_guard lock(mutex_);
    watched_.push_back(Watched{id, peer, index, fault});
  }

  void start_watching() {
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) throw Error(ErrorKind::runtime, "verbs: eventfd: " + errno_text(errno));
    thread_ = std::thread([this] { watch_loop(); });
  }

  std::vector<std::unique_ptr<VerbsEndpoint>> connect_all(const std::shared_ptr<CmSession>& self,
                                                          int me, const std::vector<CmPeer>& peers,
                                                          int n, QpKind kind);

  std::shared_ptr<Device> device_;
  Options options_;
  sockaddr_storage local_{};
  std::string address_;
  int port_ = 0;
  std::uint64_t token_ = 0;
  rdma_event_channel* channel_ = nullptr;
  rdma_cm_id* listen_ = nullptr;

 private:
  struct Watched {
    rdma_cm_id* id;
    int peer;
    int index;
    std::weak_ptr<Fault> fault;
  };

  void watch_loop() {
    while (true) {
      pollfd fds[2] = {{channel_->fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if ((fds[1].revents & POLLIN) != 0) return;
      while (true) {
        rdma_cm_event* event = nullptr;
        if (rdma_get_cm_event(channel_, &event) != 0) break;
        const rdma_cm_event_type type = event->event;
        rdma_cm_id* id = event->id;
        rdma_ack_cm_event(event);
        if (type == RDMA_CM_EVENT_CONNECT_REQUEST) {  // after connect: nobody is expected
          rdma_reject(id, nullptr, 0);
          rdma_destroy_id(id);
          continue;
        }
        if (type != RDMA_CM_EVENT_DISCONNECTED && type != RDMA_CM_EVENT_DEVICE_REMOVAL) continue;
        std::lock_guard lock(mutex_);
        for (const Watched& w : watched_) {
          if (w.id != id) continue;
          if (const auto fault = w.fault.lock()) {
            fault->raise(ErrorKind::peer_lost, "rank " + std::to_string(w.peer) +
                                                   " closed connection " + std::to_string(w.index) +
                                                   " (" + rdma_event_str(type) + ")");
          }
        }
      }
    }
  }

  std::mutex mutex_;
  std::vector<Watched> watched_;
  int stop_fd_ = -1;
  std::thread thread_;
};

// ---- connecting: one CmSession::connect_all ----

// A connection per (peer, index), grouped by peer in the caller's order. The lower rank of each
// pair resolves the address and the route and connects; the higher rank accepts a request whose
// private data carries its token. Every wait is bounded by connect_timeout_ns.
class CmConnect {
 public:
  CmConnect(CmSession& session, int me, const std::vector<CmPeer>& peers, int n, QpKind kind)
      : session_(session),
        me_(me),
        peers_(peers),
        n_(n),
        kind_(kind),
        total_(peers.size() * static_cast<std::size_t>(n)),
        conns_(total_),
        endpoints_(total_),
        deadline_(deadline_after(session.options_.connect_timeout_ns)) {}

  // Active side: the lower rank of each pair creates an id per connection and resolves the
  // peer's address; the passive side records what it waits for.
  void start() {
    for (std::size_t i = 0; i < peers_.size(); ++i) {
      for (int k = 0; k < n_; ++k) {
        Conn& c = conns_[i * static_cast<std::size_t>(n_) + static_cast<std::size_t>(k)];
        c.peer = peers_[i].rank;
        c.index = k;
        c.peer_token = peers_[i].token;
        if (c.peer < me_) {
          c.stage = "waiting for its connection request";
          continue;
        }
        c.active = true;
        resolve_address(c, peers_[i]);
      }
    }
  }

  // Handles the event channel's events until every connection is established.
  void wait_established() {
    while (done_ < total_) {
      const std::uint64_t now = core::now_ns();
      if (now >= deadline_) throw timeout_error();
      pollfd p{session_.channel_->fd, POLLIN, 0};
      const auto wait_ms =
          static_cast<int>(std::min<std::uint64_t>((deadline_ - now) / 1'000'000 + 1, 100));
      if (::poll(&p, 1, wait_ms) <= 0) continue;
      rdma_cm_event* event = nullptr;
      if (rdma_get_cm_event(session_.channel_, &event) != 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
        throw Error(ErrorKind::runtime, "verbs: rdma_get_cm_event: " + errno_text(errno));
      }
      const Event e = take(event);
      if (e.type == RDMA_CM_EVENT_CONNECT_REQUEST) {
        on_connect_request(e);
        continue;
      }
      auto* c = static_cast<Conn*>(e.id->context);
      if (c == nullptr || c->done) continue;  // the listener's own events; late duplicates
      on_event(*c, e);
    }
  }

  // After a failure: the endpoints (and the ids they own) and every id no endpoint owns.
  void destroy() noexcept {
    endpoints_.clear();  // destroys the ids they own
    for (Conn& c : conns_) {
      if (c.id != nullptr && !c.owned) rdma_destroy_id(c.id);
    }
  }

  // The established endpoints, each watched for disconnects and keeping `self` (its event
  // channel) alive.
  std::vector<std::unique_ptr<VerbsEndpoint>> hand_over(const std::shared_ptr<CmSession>& self) {
    for (std::size_t slot = 0; slot < total_; ++slot) {
      session_.watch(conns_[slot].id, conns_[slot].peer, conns_[slot].index,
                     endpoints_[slot]->fault());
      endpoints_[slot]->keep_alive(self);
    }
    return std::move(endpoints_);
  }

 private:
  struct Conn {
    int peer = -1;
    int index = 0;
    std::uint64_t peer_token = 0;
    bool active = false;
    rdma_cm_id* id = nullptr;
    bool owned = false;  // by the endpoint in the same slot
    const char* stage = "not started";
    bool done = false;
  };
  // What an event said, copied so that it is acknowledged at once.
  struct Event {
    rdma_cm_event_type type;
    rdma_cm_id* id;
    int status;
    std::vector<std::uint8_t> data;  // private data
  };

  static Event take(rdma_cm_event* event) {
    Event e{event->event, event->id, event->status, {}};
    if (event->param.conn.private_data != nullptr) {
      const auto* b = static_cast<const std::uint8_t*>(event->param.conn.private_data);
      e.data.assign(b, b + event->param.conn.private_data_len);
    }
    rdma_ack_cm_event(event);  // acknowledged at once: destroying an id waits for its acks
    return e;
  }

  static std::string name(const Conn& c) {
    return "connection " + std::to_string(c.index) + " to rank " + std::to_string(c.peer);
  }

  int resolve_ms() const {
    const std::uint64_t now = core::now_ns();
    const std::uint64_t left_ms = now >= deadline_ ? 1 : (deadline_ - now) / 1'000'000 + 1;
    return static_cast<int>(std::min<std::uint64_t>(left_ms, kMaxResolveMs));
  }

  void resolve_address(Conn& c, const CmPeer& peer) {
    if (rdma_create_id(session_.channel_, &c.id, &c, RDMA_PS_TCP) != 0) {
      c.id = nullptr;
      throw Error(ErrorKind::runtime,
                  "verbs: rdma_create_id for " + name(c) + ": " + errno_text(errno));
    }
    sockaddr_storage src = session_.local_;
    sockaddr_storage dst = parse_address(peer.address, peer.port, c.peer);
    if (rdma_resolve_addr(c.id, as_sockaddr(src), as_sockaddr(dst), resolve_ms()) != 0) {
      throw Error(ErrorKind::runtime, "verbs: rdma_resolve_addr to " + peer.address + " for " +
                                          name(c) + ": " + errno_text(errno));
    }
    c.stage = "resolving the address";
  }

  // The connection parameters of slot `c` with its endpoint's QP; `bytes` holds the private data.
  rdma_conn_param param_for(const Conn& c, const VerbsEndpoint& ep, PrivateBytes& bytes) const {
    const Device& device = *session_.device_;
    bytes = encode(Private{static_cast<std::uint32_t>(me_), static_cast<std::uint32_t>(c.index),
                           c.peer_token, device.scratch_addr(), device.scratch()->rkey});
    rdma_conn_param param{};
    param.private_data = bytes.data();
    param.private_data_len = static_cast<std::uint8_t>(bytes.size());
    param.responder_resources = device.max_dest_rd_atomic;
    param.initiator_depth = device.max_rd_atomic;
    param.retry_count = device.retry_count;
    param.rnr_retry_count = session_.options_.rnr_retry;
    param.flow_control = 1;
    param.qp_num = ep.qp_num();
    return param;
  }

  void check_device(const Conn& c, rdma_cm_id* id) const {
    const std::string& selected = session_.device_->name;
    const char* got = id->verbs != nullptr ? ibv_get_device_name(id->verbs->device) : "none";
    if (selected != got) {
      throw Error(ErrorKind::config, "verbs: rdma_cm routes " + name(c) + " through device " + got +
                                         ", not the selected " + selected);
    }
  }

  void make_endpoint(std::size_t slot) {
    Conn& c = conns_[slot];
    c.owned = true;  // the endpoint owns the id from here on, also if it throws
    endpoints_[slot] = std::make_unique<VerbsEndpoint>(session_.device_, session_.options_, kind_,
                                                       c.peer, c.index, 0, c.id);
  }

  // Passive side: a request carrying this rank's token from a lower peer's connection not yet
  // made is accepted; a stranger or a duplicate is rejected.
  void on_connect_request(const Event& e) {
    Private pd;
    std::size_t slot = total_;
    if (decode(e.data, pd) && pd.token == session_.token_ && static_cast<int>(pd.rank) < me_ &&
        pd.index < static_cast<std::uint32_t>(n_)) {
      for (std::size_t i = 0; i < peers_.size(); ++i) {
        if (peers_[i].rank == static_cast<int>(pd.rank)) {
          slot = i * static_cast<std::size_t>(n_) + pd.index;
        }
      }
    }
    if (slot == total_ || conns_[slot].id != nullptr) {
      rdma_reject(e.id, nullptr, 0);  // a stranger or a duplicate
      rdma_destroy_id(e.id);
      return;
    }
    Conn& c = conns_[slot];
    c.id = e.id;
    e.id->context = &c;
    check_device(c, e.id);
    make_endpoint(slot);
    RemoteQp remote;
    remote.scratch_addr = pd.scratch_addr;
    remote.scratch_rkey = pd.scratch_rkey;
    endpoints_[slot]->connect_by_cm(remote);
    PrivateBytes bytes;
    rdma_conn_param param = param_for(c, *endpoints_[slot], bytes);
    if (rdma_accept(e.id, &param) != 0) {
      throw Error(ErrorKind::runtime,
                  "verbs: rdma_accept of " + name(c) + ": " + errno_text(errno));
    }
    c.stage = "accepted, waiting for RDMA_CM_EVENT_ESTABLISHED";
  }

  // An event of connection `c` (active: address, route, response; passive: established).
  void on_event(Conn& c, const Event& e) {
    const std::size_t slot = static_cast<std::size_t>(&c - conns_.data());
    switch (e.type) {
      case RDMA_CM_EVENT_ADDR_RESOLVED:
        if (rdma_resolve_route(e.id, resolve_ms()) != 0) {
          throw Error(ErrorKind::runtime,
                      "verbs: rdma_resolve_route for " + name(c) + ": " + errno_text(errno));
        }
        c.stage = "resolving the route";
        break;
      case RDMA_CM_EVENT_ROUTE_RESOLVED:
        on_route_resolved(c, slot, e.id);
        break;
      case RDMA_CM_EVENT_CONNECT_RESPONSE:
        on_connect_response(c, slot, e);
        break;
      case RDMA_CM_EVENT_ESTABLISHED:
        established(c);
        break;
      case RDMA_CM_EVENT_TIMEWAIT_EXIT:
      case RDMA_CM_EVENT_ADDR_CHANGE:
        break;
      default:
        throw Error(
            e.type == RDMA_CM_EVENT_DISCONNECTED ? ErrorKind::peer_lost : ErrorKind::runtime,
            "verbs: rdma_cm " + name(c) + " failed while " + c.stage + ": " +
                rdma_event_str(e.type) + " (" + status_text(e.status) + ")");
    }
  }

  void on_route_resolved(Conn& c, std::size_t slot, rdma_cm_id* id) {
    check_device(c, id);
    make_endpoint(slot);
    PrivateBytes bytes;
    rdma_conn_param param = param_for(c, *endpoints_[slot], bytes);
    if (rdma_connect(id, &param) != 0) {
      throw Error(ErrorKind::runtime,
                  "verbs: rdma_connect for " + name(c) + ": " + errno_text(errno));
    }
    c.stage = "connecting";
  }

  void on_connect_response(Conn& c, std::size_t slot, const Event& e) {
    Private pd;
    if (!decode(e.data, pd) || pd.token != session_.token_ || static_cast<int>(pd.rank) != c.peer ||
        static_cast<int>(pd.index) != c.index) {
      throw Error(ErrorKind::runtime, "verbs: the answer to " + name(c) +
                                          " did not come from that rank's connection " +
                                          std::to_string(c.index) + " (private data mismatch)");
    }
    RemoteQp remote;
    remote.scratch_addr = pd.scratch_addr;
    remote.scratch_rkey = pd.scratch_rkey;
    endpoints_[slot]->connect_by_cm(remote);
    if (rdma_establish(e.id) != 0) {
      throw Error(ErrorKind::runtime,
                  "verbs: rdma_establish for " + name(c) + ": " + errno_text(errno));
    }
    established(c);
  }

  void established(Conn& c) {
    c.done = true;
    c.stage = "established";
    ++done_;
  }

  Error timeout_error() const {
    std::string pending;
    for (const Conn& c : conns_) {
      if (c.done) continue;
      if (!pending.empty()) pending += ", ";
      pending += name(c) + " (" + c.stage + ")";
    }
    return Error(ErrorKind::timeout,
                 "verbs: rdma_cm connect timed out after " +
                     std::to_string(session_.options_.connect_timeout_ns / 1'000'000) +
                     " ms; pending: " + pending);
  }

  CmSession& session_;
  const int me_;
  const std::vector<CmPeer>& peers_;
  const int n_;
  const QpKind kind_;
  const std::size_t total_;
  std::vector<Conn> conns_;
  std::vector<std::unique_ptr<VerbsEndpoint>> endpoints_;
  const std::uint64_t deadline_;
  std::size_t done_ = 0;
};

std::vector<std::unique_ptr<VerbsEndpoint>> CmSession::connect_all(
    const std::shared_ptr<CmSession>& self, int me, const std::vector<CmPeer>& peers, int n,
    QpKind kind) {
  CmConnect connect(*this, me, peers, n, kind);
  try {
    connect.start();
    connect.wait_established();
  } catch (...) {
    connect.destroy();
    throw;
  }
  std::vector<std::unique_ptr<VerbsEndpoint>> endpoints = connect.hand_over(self);
  start_watching();
  return endpoints;
}

// ---- CmListener ----

CmListener::CmListener(std::shared_ptr<Device> device, const Options& options)
    : session_(std::make_shared<CmSession>(std::move(device), options)) {}

CmListener::~CmListener() = default;

const std::string& CmListener::address() const noexcept {
  return session_->address_;
}
int CmListener::port() const noexcept {
  return session_->port_;
}
std::uint64_t CmListener::token() const noexcept {
  return session_->token_;
}

std::vector<std::unique_ptr<VerbsEndpoint>> CmListener::connect_all(
    int me, const std::vector<CmPeer>& peers, int n, QpKind kind) {
  return session_->connect_all(session_, me, peers, n, kind);
}

}  // namespace fabricbench::transport::verbs
