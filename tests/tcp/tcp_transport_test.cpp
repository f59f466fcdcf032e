// TCP-specific behaviour: options as applied, address selection, IPv6, clear errors for bad
// addresses and broken setups, the handshake refusing strangers, backpressure, and framing
// under partial reads/writes. The generic rules are in tests/contract.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "tests/contract/transport_testkit.hpp"
#include "transports/tcp/tcp_transport.hpp"

namespace fabricbench::testkit {
namespace {

using transport::Completion;
using transport::CompletionMode;
using transport::Endpoint;
using transport::tcp::make_tcp_transport;
using transport::tcp::Options;

Options loopback(CompletionMode mode = CompletionMode::busy_poll) {
  Options o;
  o.completion = mode;
  o.connect_timeout_ns = 20'000'000'000ULL;
  return o;
}

TransportMaker with(const Options& o) {
  return [o](int) { return make_tcp_transport(o); };
}

// "key=value" out of a describe() string. (No std::regex: both ranks' threads call this, and
// libstdc++'s regex compiler writes the shared ctype<char>::narrow cache unsynchronised, which
// ThreadSanitizer rightly reports.)
std::string field(const std::string& text, const std::string& key) {
  const std::string wanted = key + "=";
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find(' ', at), text.size());
    if (text.compare(at, wanted.size(), wanted) == 0 && end - at >= wanted.size()) {
      return text.substr(at + wanted.size(), end - at - wanted.size());
    }
    at = end + 1;
  }
  return {};
}

// A side channel that lets the test see or rewrite what the transport exchanges.
class SpyExchange final : public transport::Exchange {
 public:
  SpyExchange(bootstrap::Bootstrap& inner,
              std::function<void(std::vector<std::string>&)> on_allgather,
              std::string local_address = {})
      : inner_(inner),
        on_allgather_(std::move(on_allgather)),
        local_address_(std::move(local_address)) {}
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  std::vector<std::string> allgather(const std::string& mine) override {
    auto all = inner_.allgather(mine);
    if (on_allgather_) on_allgather_(all);
    return all;
  }
  std::string local_address() const override { return local_address_; }

 private:
  bootstrap::Bootstrap& inner_;
  std::function<void(std::vector<std::string>&)> on_allgather_;
  std::string local_address_;
};

// The fields of a transport record: "fbtcp1 ok <token> <n> <addr:port> <peers>".
struct RecordFields {
  std::string token;
  std::string address;
  int port = 0;
};
RecordFields parse_record(const std::string& record) {
  const std::regex re(R"(^fbtcp1 ok ([0-9a-f]+) \d+ (\S+):(\d+) \S+$)");
  std::smatch m;
  if (!std::regex_match(record, m, re)) {
    throw std::runtime_error("test: unexpected record " + record);
  }
  return {m[1].str(), m[2].str(), std::stoi(m[3].str())};
}

int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(std::string("test: connect failed: ") + std::strerror(err));
  }
  return fd;
}

// A listening socket on 127.0.0.1 that never accepts; returns its fd and port.
std::pair<int, int> silent_listener() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  ::listen(fd, 8);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return {fd, ntohs(a.sin_port)};
}

// True when the other end closed `fd` (EOF or reset) within the limit.
bool closed_by_peer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(kWaitLimit.count())) <= 0) return false;
  char buf[64];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
    // Data from the transport would mean the stranger was answered: not closed.
    return false;
  }
}

// One message each way on every endpoint; imm = rank << 8 | connection index.
void exchange_one(RankSide& s) {
  RegisteredBuffer buf(s.transport, 2 * 1024 * s.endpoints.size());
  for (std::size_t i = 0; i < s.endpoints.size(); ++i) {
    ASSERT_TRUE(s.endpoints[i]->post(recv_request(buf, i * 2048, 1024, i)));
  }
  s.bootstrap.barrier();
  for (std::size_t i = 0; i < s.endpoints.size(); ++i) {
    fill_pattern(buf.data() + i * 2048 + 1024, 1000, static_cast<std::uint32_t>(s.rank));
    ASSERT_TRUE(s.endpoints[i]->post(
        send_request(buf, i * 2048 + 1024, 1000, i,
                     static_cast<std::uint32_t>(s.rank << 8) | static_cast<std::uint32_t>(i % 2))));
  }
  for (std::size_t i = 0; i < s.endpoints.size(); ++i) {
    Drain d(*s.endpoints[i]);
    d.until(1, 1);
    const int peer = s.endpoints[i]->peer();
    EXPECT_EQ(d.recvs[0].imm,
              static_cast<std::uint32_t>(peer << 8) | static_cast<std::uint32_t>(i % 2));
    EXPECT_EQ(pattern_mismatch(buf.data() + i * 2048, 1000, static_cast<std::uint32_t>(peer)),
              1000u);
  }
}

// ---- options ----

TEST(TcpTransport, OptionsAppliedAndReportedInDescribe) {
  Options o = loopback(CompletionMode::blocking);
  o.nodelay = true;
  o.sndbuf = 64 * 1024;
  o.rcvbuf = 128 * 1024;
  o.queue_depth = 77;
  std::vector<std::string> seen(2);
  run_pair(with(o), 1, [&](RankSide& s) {
    const std::string d = s.endpoints[0]->describe();
    seen[static_cast<std::size_t>(s.rank)] = d;
    EXPECT_EQ(field(d, "nodelay"), "on") << d;
    EXPECT_EQ(field(d, "completion"), "blocking") << d;
    EXPECT_EQ(field(d, "sndbuf_requested"), "65536") << d;
    EXPECT_EQ(field(d, "rcvbuf_requested"), "131072") << d;
    // The value getsockopt reports (Linux doubles the request for bookkeeping).
    EXPECT_GE(std::stoull(field(d, "sndbuf")), 65536u) << d;
    EXPECT_GE(std::stoull(field(d, "rcvbuf")), 131072u) << d;
    EXPECT_EQ(field(d, "queue_depth"), "77") << d;
    EXPECT_EQ(s.endpoints[0]->queue_depth(), 77u);
    EXPECT_EQ(field(d, "peer"), std::to_string(s.peer)) << d;
  });
  // Each side's local address is the other side's remote one.
  EXPECT_EQ(field(seen[0], "local"), field(seen[1], "remote"));
  EXPECT_EQ(field(seen[1], "local"), field(seen[0], "remote"));
  EXPECT_TRUE(field(seen[0], "local").starts_with("127.0.0.1:")) << seen[0];
}

TEST(TcpTransport, NagleAndDefaultBuffersReported) {
  Options o = loopback();
  o.nodelay = false;
  run_pair(with(o), 1, [&](RankSide& s) {
    const std::string d = s.endpoints[0]->describe();
    EXPECT_EQ(field(d, "nodelay"), "off") << d;
    EXPECT_EQ(field(d, "sndbuf_requested"), "default") << d;
    EXPECT_GT(std::stoull(field(d, "sndbuf")), 0u) << d;
    EXPECT_EQ(field(d, "completion"), "busy_poll") << d;
    exchange_one(s);
  });
}

// ---- addresses ----

TEST(TcpTransport, Ipv6LoopbackWorks) {
  if (const auto why = ipv6_loopback_unavailable(); !why.empty()) GTEST_SKIP() << why;
  Options o = loopback();
  o.address = "::1";  // family auto: inferred from the address
  run_pair(with(o), 2, [&](RankSide& s) {
    for (const auto& ep : s.endpoints) {
      EXPECT_TRUE(field(ep->describe(), "local").starts_with("[::1]:")) << ep->describe();
      EXPECT_TRUE(field(ep->describe(), "remote").starts_with("[::1]:")) << ep->describe();
    }
    exchange_one(s);
  });
}

TEST(TcpTransport, AutoAddressPicksLoopbackOfFamily) {
  Options o = loopback();
  o.address = "auto";
  run_pair(with(o), 1, [&](RankSide& s) {
    EXPECT_TRUE(field(s.endpoints[0]->describe(), "local").starts_with("127.0.0.1:"));
  });
  // A host name resolves (from /etc/hosts, no DNS) to an address of the family asked for.
  o.address = "localhost";
  o.family = "ipv4";
  run_pair(with(o), 1, [&](RankSide& s) {
    EXPECT_TRUE(field(s.endpoints[0]->describe(), "local").starts_with("127.0.0.1:"));
  });
  if (const auto why = ipv6_loopback_unavailable(); !why.empty()) GTEST_SKIP() << why;
  o.address = "auto";
  o.family = "ipv6";
  run_pair(with(o), 1, [&](RankSide& s) {
    EXPECT_TRUE(field(s.endpoints[0]->describe(), "local").starts_with("[::1]:"));
    exchange_one(s);
  });
}

// address auto without an interface binds where the side channel reaches the other ranks (here
// 127.0.0.2, another loopback address, standing for a host's fabric address); a literal address
// or an interface wins over it; an address of the wrong family is a config error saying what to
// set.
TEST(TcpTransport, AutoAddressFollowsTheSideChannel) {
  // Rank 1 listens where its side channel runs and rank 0 connects there: rank 0's remote end
  // and rank 1's local end are that address (a loopback source is left to the kernel).
  std::vector<std::string> described(2);
  const auto connect_via = [&](const Options& o, const std::string& via) {
    return run_ranks(2, [&](bootstrap::Bootstrap& b) {
      SpyExchange spy(b, nullptr, via);
      auto t = make_tcp_transport(o);
      auto eps = t->connect(spy, {1 - b.rank()}, 1);
      ASSERT_EQ(eps.size(), 1u);
      described[static_cast<std::size_t>(b.rank())] = eps[0]->describe();
      auto side = RankSide{b.rank(), 1 - b.rank(), b, *t, std::move(eps)};
      exchange_one(side);
      b.barrier();
    });
  };
  const auto listening_at = [&](const std::string& address) {
    EXPECT_TRUE(field(described[0], "remote").starts_with(address + ":")) << described[0];
    EXPECT_TRUE(field(described[1], "local").starts_with(address + ":")) << described[1];
  };
  Options o = loopback();
  o.address = "auto";
  auto errors = connect_via(o, "127.0.0.2");
  for (std::size_t r = 0; r < 2; ++r) EXPECT_EQ(errors[r], "") << "rank " << r;
  listening_at("127.0.0.2");
  o.address = "127.0.0.1";
  errors = connect_via(o, "127.0.0.2");
  for (std::size_t r = 0; r < 2; ++r) EXPECT_EQ(errors[r], "") << "rank " << r;
  listening_at("127.0.0.1");
  o.address = "auto";
  o.family = "ipv6";
  errors = connect_via(o, "127.0.0.2");
  for (std::size_t r = 0; r < 2; ++r) {
    EXPECT_NE(errors[r].find("address auto follows the side channel's address 127.0.0.2"),
              std::string::npos)
        << errors[r];
    EXPECT_NE(errors[r].find("set tcp.address or tcp.interface"), std::string::npos) << errors[r];
  }
}

TEST(TcpTransport, InterfaceGivesItsAddressAndDevice) {
  Options o = loopback();
  o.address = "auto";
  o.interface = "lo";
  o.family = "ipv4";
  run_pair(with(o), 1, [&](RankSide& s) {
    const std::string d = s.endpoints[0]->describe();
    EXPECT_TRUE(field(d, "local").starts_with("127.0.0.1:")) << d;
    // Bound with SO_BINDTODEVICE, or saying why not.
    EXPECT_TRUE(field(d, "device").starts_with("lo")) << d;
    exchange_one(s);
  });
}

TEST(TcpTransport, BadOptionsGiveClearErrors) {
  struct Case {
    std::string address, interface, family;
    std::string expect;
  };
  const Case cases[] = {
      {"999.1.2.3", "", "auto", "'999.1.2.3' is not a valid IPv4 or IPv6 address"},
      {"::1", "", "ipv4", "is ipv6 but family is ipv4"},
      {"127.0.0.1", "", "ipv5", "unknown family 'ipv5'"},
      {"auto", "fbnosuch0", "auto", "interface 'fbnosuch0' does not exist"},
      {"0.0.0.0", "", "auto", "wildcard"},
      {"127.0.0.1", "lo", "ipv6", "is ipv4 but family is ipv6"},
  };
  for (const Case& c : cases) {
    Options o;
    o.address = c.address;
    o.interface = c.interface;
    o.family = c.family;
    try {
      make_tcp_transport(o);
      ADD_FAILURE() << "no error for address " << c.address;
    } catch (const core::Error& e) {
      EXPECT_EQ(e.kind(), core::ErrorKind::config) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.expect), std::string::npos) << e.what();
    }
  }
  Options zero;
  zero.queue_depth = 0;
  EXPECT_THROW(make_tcp_transport(zero), core::Error);
}

TEST(TcpTransport, AddressNotOnThisHostFailsFastOnBothRanks) {
  // 198.51.100.1 (TEST-NET-2) is on no interface here: bind fails, no packet is sent.
  const auto errors = run_ranks(2, [](bootstrap::Bootstrap& b) {
    Options o = loopback();
    if (b.rank() == 1) o.address = "198.51.100.1";
    auto t = make_tcp_transport(o);
    engine::BootstrapExchange exchange(b);
    t->connect(exchange, {1 - b.rank()}, 1);
  });
  EXPECT_NE(errors[1].find("cannot bind listener to 198.51.100.1"), std::string::npos) << errors[1];
  // The healthy rank learns it through the exchange, not by timing out.
  EXPECT_NE(errors[0].find("peer rank 1 failed to set up its listener"), std::string::npos)
      << errors[0];
}

// ---- setup failures name the peer ----

TEST(TcpTransport, HandshakeTimeoutNamesThePeer) {
  const auto [silent_fd, silent_port] = silent_listener();
  const auto errors = run_ranks(2, [&, port = silent_port](bootstrap::Bootstrap& b) {
    Options o = loopback();
    o.connect_timeout_ns = 300'000'000;
    // Rank 0 is pointed at a socket that accepts the TCP connection but never answers.
    SpyExchange spy(b, [&](std::vector<std::string>& all) {
      if (b.rank() == 0) {
        const RecordFields r = parse_record(all[1]);
        const auto at = all[1].find(r.address + ":" + std::to_string(r.port));
        all[1].replace(at, r.address.size() + 1 + std::to_string(r.port).size(),
                       "127.0.0.1:" + std::to_string(port));
      }
    });
    auto t = make_tcp_transport(o);
    t->connect(spy, {1 - b.rank()}, 1);
  });
  ::close(silent_fd);
  const std::string silent = "rank 1 (127.0.0.1:" + std::to_string(silent_port) + ")";
  EXPECT_NE(errors[0].find("timed out"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find(silent), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("no handshake reply"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("timed out"), std::string::npos) << errors[1];
  EXPECT_NE(errors[1].find("rank 0"), std::string::npos) << errors[1];
  EXPECT_NE(errors[1].find("waiting for it to connect"), std::string::npos) << errors[1];
}

TEST(TcpTransport, ConnectionRefusedNamesThePeer) {
  const auto [fd, closed_port] = silent_listener();
  ::close(fd);  // nothing listens there now
  const auto errors = run_ranks(2, [&, port = closed_port](bootstrap::Bootstrap& b) {
    Options o = loopback();
    o.connect_timeout_ns = 300'000'000;
    SpyExchange spy(b, [&](std::vector<std::string>& all) {
      if (b.rank() == 0) {
        const RecordFields r = parse_record(all[1]);
        const auto at = all[1].find(r.address + ":" + std::to_string(r.port));
        all[1].replace(at, r.address.size() + 1 + std::to_string(r.port).size(),
                       "127.0.0.1:" + std::to_string(port));
      }
    });
    auto t = make_tcp_transport(o);
    t->connect(spy, {1 - b.rank()}, 1);
  });
  const std::string target = "rank 1 (127.0.0.1:" + std::to_string(closed_port) + ")";
  EXPECT_NE(errors[0].find(target), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("Connection refused"), std::string::npos) << errors[0];
  EXPECT_FALSE(errors[1].empty());
}

TEST(TcpTransport, MismatchedSetupsAreConfigErrorsOnBothRanks) {
  auto errors = run_ranks(2, [](bootstrap::Bootstrap& b) {
    auto t = make_tcp_transport(loopback());
    engine::BootstrapExchange exchange(b);
    t->connect(exchange, {1 - b.rank()}, b.rank() == 0 ? 1 : 2);
  });
  for (const auto& e : errors) {
    EXPECT_NE(e.find("connections_per_peer differs"), std::string::npos) << e;
  }
  errors = run_ranks(2, [](bootstrap::Bootstrap& b) {
    auto t = make_tcp_transport(loopback());
    engine::BootstrapExchange exchange(b);
    t->connect(exchange, b.rank() == 0 ? std::vector<int>{1} : std::vector<int>{}, 1);
  });
  for (const auto& e : errors) {
    EXPECT_NE(e.find("not symmetric: rank 0 lists rank 1 but rank 1 does not list rank 0"),
              std::string::npos)
        << e;
  }
  errors = run_ranks(2, [](bootstrap::Bootstrap& b) {
    auto t = make_tcp_transport(loopback());
    engine::BootstrapExchange exchange(b);
    t->connect(exchange, {b.rank()}, 1);
  });
  EXPECT_NE(errors[0].find("was given peer 0"), std::string::npos) << errors[0];
}

// ---- the handshake ----

TEST(TcpTransport, StrangersAreRejectedAndDoNotDisturbSetup) {
  // Before rank 0 connects, four strangers reach rank 1's listener: garbage, a well-formed hello
  // without the job's tokens, one with rank 1's token (as seen in the exchange) but not rank 0's,
  // and one that connects and stays silent. None may be admitted or delay the real connection.
  std::vector<int> strangers;
  std::string rank1_description;
  const auto errors = run_ranks(2, [&](bootstrap::Bootstrap& b) {
    SpyExchange spy(b, [&](std::vector<std::string>& all) {
      if (b.rank() != 0) return;
      const RecordFields r = parse_record(all[1]);
      std::array<std::uint8_t, 32> hello{};
      const std::uint8_t head[] = {'F', 'B', 'T', 'C', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
      std::memcpy(hello.data(), head, sizeof head);  // hello from rank 0, connection 0
      std::array<std::uint8_t, 32> garbage{};
      garbage.fill(0x5a);
      std::array<std::uint8_t, 32> knows_acceptor = hello;
      const std::uint64_t token = std::stoull(r.token, nullptr, 16);
      for (int i = 0; i < 8; ++i)
        knows_acceptor[16 + i] = static_cast<std::uint8_t>(token >> (8 * i));
      for (const auto* bytes : {&garbage, &hello, &knows_acceptor}) {
        const int fd = connect_loopback(r.port);
        ASSERT_EQ(::send(fd, bytes->data(), bytes->size(), MSG_NOSIGNAL), 32);
        strangers.push_back(fd);
      }
      strangers.push_back(connect_loopback(r.port));  // silent
    });
    auto t = make_tcp_transport(loopback());
    auto eps = t->connect(spy, {1 - b.rank()}, 1);
    ASSERT_EQ(eps.size(), 1u);
    if (b.rank() == 1) rank1_description = eps[0]->describe();
    auto side = RankSide{b.rank(), 1 - b.rank(), b, *t, std::move(eps)};
    exchange_one(side);
    b.barrier();
  });
  for (std::size_t r = 0; r < errors.size(); ++r) EXPECT_EQ(errors[r], "") << "rank " << r;
  EXPECT_EQ(field(rank1_description, "rejected_handshakes"), "3") << rank1_description;
  ASSERT_EQ(strangers.size(), 4u);
  for (std::size_t i = 0; i < strangers.size(); ++i) {
    EXPECT_TRUE(closed_by_peer(strangers[i])) << "stranger " << i << " was not closed";
    ::close(strangers[i]);
  }
}

// ---- several peers ----

TEST(TcpTransport, ThreeRanksEndpointsGroupedByPeerInGivenOrder) {
  const auto errors = run_ranks(3, [](bootstrap::Bootstrap& b) {
    std::vector<int> peers;
    for (int r = 2; r >= 0; --r) {
      if (r != b.rank()) peers.push_back(r);  // descending: not the natural order
    }
    auto t = make_tcp_transport(loopback(CompletionMode::blocking));
    engine::BootstrapExchange exchange(b);
    RankSide side{b.rank(), -1, b, *t, t->connect(exchange, peers, 2)};
    ASSERT_EQ(side.endpoints.size(), 4u);
    for (std::size_t i = 0; i < 4; ++i) {
      EXPECT_EQ(side.endpoints[i]->peer(), peers[i / 2]);
      EXPECT_EQ(field(side.endpoints[i]->describe(), "connection"), std::to_string(i % 2));
    }
    // imm carries (rank, connection index): checks both sides agree on which is which.
    exchange_one(side);
    b.barrier();
  });
  for (std::size_t r = 0; r < errors.size(); ++r) EXPECT_EQ(errors[r], "") << "rank " << r;
}

// ---- data path ----

TEST(TcpTransport, NoPostedRecvMeansBackpressureNotBuffering) {
  // Small socket buffers cannot hold 32 MiB: while rank 1 posts no receive, most of rank 0's
  // sends stay incomplete (and post() still never blocks); once it posts, all complete intact.
  Options o = loopback();
  o.sndbuf = 64 * 1024;
  o.rcvbuf = 64 * 1024;
  constexpr std::size_t kCount = 32;
  constexpr std::size_t kSize = 1 << 20;
  run_pair(with(o), 1, [&](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    RegisteredBuffer buf(s.transport, kCount * kSize);
    Drain d(ep);
    if (s.rank == 0) {
      for (std::size_t i = 0; i < kCount; ++i) {
        fill_pattern(buf.data() + i * kSize, kSize, static_cast<std::uint32_t>(i));
        ASSERT_TRUE(ep.post(send_request(buf, i * kSize, kSize, i)));
      }
      for (int i = 0; i < 20; ++i) d.once(10'000'000);
      EXPECT_LT(d.sends.size(), kCount / 2) << "sends completed with no receiver reading";
    }
    s.bootstrap.barrier();
    if (s.rank == 0) {
      d.until(kCount, 0);
      return;
    }
    for (std::size_t i = 0; i < kCount; ++i) {
      ASSERT_TRUE(ep.post(recv_request(buf, i * kSize, kSize, i)));
    }
    d.until(0, kCount);
    for (std::size_t i = 0; i < kCount; ++i) {
      ASSERT_EQ(pattern_mismatch(buf.data() + i * kSize, kSize, static_cast<std::uint32_t>(i)),
                kSize)
          << "message " << i;
    }
  });
}

TEST(TcpTransport, LargeMessagesThroughTinySocketBuffers) {
  // Forces many partial writes and reads of one frame, in both directions at once.
  Options o = loopback(CompletionMode::blocking);
  o.sndbuf = 4096;
  o.rcvbuf = 4096;
  run_pair(with(o), 1, [&](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    constexpr std::size_t kSize = 3 * 1024 * 1024 + 17;
    RegisteredBuffer out(s.transport, kSize);
    RegisteredBuffer in(s.transport, kSize);
    fill_pattern(out.data(), kSize, static_cast<std::uint32_t>(s.rank + 5));
    ASSERT_TRUE(ep.post(recv_request(in, 0, kSize, 1)));
    ASSERT_TRUE(ep.post(send_request(out, 0, kSize, 2, 0xabc)));
    Drain d(ep);
    d.until(1, 1);
    EXPECT_EQ(d.recvs[0].bytes, kSize);
    EXPECT_EQ(d.recvs[0].imm, 0xabcu);
    EXPECT_EQ(pattern_mismatch(in.data(), kSize, static_cast<std::uint32_t>(s.peer + 5)), kSize);
  });
}

TEST(TcpTransport, SmallMessagesQueuedBeforeRecvsArePosted) {
  // Rank 0's 500 small frames sit in the socket before rank 1 posts one receive at a time:
  // they are taken many per read and parsed across polls without loss or reordering.
  constexpr std::size_t kCount = 500;
  auto size_of = [](std::size_t i) { return (i * 13) % 101; };
  run_pair(with(loopback()), 1, [&](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    RegisteredBuffer buf(s.transport, kCount * 128);
    Drain d(ep);
    if (s.rank == 0) {
      for (std::size_t i = 0; i < kCount; ++i) {
        fill_pattern(buf.data() + i * 128, size_of(i), static_cast<std::uint32_t>(i));
        ASSERT_TRUE(
            ep.post(send_request(buf, i * 128, size_of(i), i, static_cast<std::uint32_t>(i))));
      }
      d.until(kCount, 0);
      s.bootstrap.barrier();
      return;
    }
    s.bootstrap.barrier();
    for (std::size_t i = 0; i < kCount; ++i) {
      // Capacity varies (at least the message size) to show only the length matters.
      ASSERT_TRUE(ep.post(recv_request(buf, i * 128, size_of(i) + i % 3, i)));
      d.until(0, i + 1);
      ASSERT_EQ(d.recvs[i].imm, i);
      ASSERT_EQ(d.recvs[i].bytes, size_of(i));
      ASSERT_EQ(pattern_mismatch(buf.data() + i * 128, size_of(i), static_cast<std::uint32_t>(i)),
                size_of(i));
    }
  });
}

TEST(TcpTransport, UnsignaledSendsDeliverWithoutCompletions) {
  run_pair(with(loopback()), 1, [&](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    RegisteredBuffer buf(s.transport, 64);
    Drain d(ep);
    if (s.rank == 1) {
      for (std::size_t i = 0; i < 11; ++i) ASSERT_TRUE(ep.post(recv_request(buf, 0, 64, i)));
    }
    s.bootstrap.barrier();
    if (s.rank == 0) {
      // Ten unsignaled sends, then a signaled one: only the last reports a completion.
      for (std::size_t i = 0; i < 10; ++i) {
        auto r = send_request(buf, 0, 8, i, static_cast<std::uint32_t>(i));
        r.signaled = false;
        ASSERT_TRUE(ep.post(r));
      }
      ASSERT_TRUE(ep.post(send_request(buf, 0, 8, 10, 10)));
      d.until(1, 0);
      EXPECT_EQ(d.sends.size(), 1u);
      EXPECT_EQ(d.sends[0].wr_id, 10u);
      EXPECT_EQ(d.once(10'000'000), 0u);
    } else {
      d.until(0, 11);
      for (std::size_t i = 0; i < 11; ++i) EXPECT_EQ(d.recvs[i].imm, i);
    }
  });
}

TEST(TcpTransport, InvalidRequestsAreRejected) {
  run_pair(with(loopback()), 1, [&](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    RegisteredBuffer buf(s.transport, 64);
    EXPECT_THROW(ep.post(send_request(buf, 60, 8, 1)), core::Error);  // past the region
    EXPECT_THROW(ep.post(recv_request(buf, 65, 0, 1)), core::Error);  // offset past the end
    auto huge = send_request(buf, 0, 8, 1);
    huge.length = (std::size_t{1} << 30) + 1;
    EXPECT_THROW(ep.post(huge), core::Error);
    auto no_region = recv_request(buf, 0, 8, 1);
    no_region.local = nullptr;
    EXPECT_THROW(ep.post(no_region), core::Error);
    transport::Buffer device{buf.data(), 64, {}, nullptr};
    device.traits.cpu_addressable = false;
    device.traits.device = true;
    try {
      s.transport.register_memory(device);
      ADD_FAILURE() << "memory the CPU cannot address registered with sockets";
    } catch (const core::Error& e) {
      EXPECT_NE(std::string(e.what()).find("GPU memory (stage it)"), std::string::npos) << e.what();
    }
    // An empty message needs no region at all.
    if (s.rank == 1) {
      no_region.length = 0;
      ASSERT_TRUE(ep.post(no_region));
    }
    s.bootstrap.barrier();
    Drain d(ep);
    if (s.rank == 0) {
      auto empty = send_request(buf, 0, 0, 3, 33);
      empty.local = nullptr;
      ASSERT_TRUE(ep.post(empty));
      d.until(1, 0);
    } else {
      d.until(0, 1);
      EXPECT_EQ(d.recvs[0].bytes, 0u);
      EXPECT_EQ(d.recvs[0].imm, 33u);
    }
  });
}

// ---- on_break: reconnect ----

// Shuts down (both ways) this process's socket whose local and peer names are those of `ep`'s
// describe(): the connection breaks as if the peer's kernel had reset it.
void break_connection(const Endpoint& ep) {
  const std::string d = ep.describe();
  const std::string local = field(d, "local");
  const std::string remote = field(d, "remote");
  for (int fd = 3; fd < 4096; ++fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || a.sin_family != AF_INET)
      continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    if (std::string(text) + ":" + std::to_string(ntohs(a.sin_port)) != local) continue;
    sockaddr_in b{};
    len = sizeof b;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&b), &len) != 0) continue;
    ::inet_ntop(AF_INET, &b.sin_addr, text, sizeof text);
    if (std::string(text) + ":" + std::to_string(ntohs(b.sin_port)) != remote) continue;
    ::shutdown(fd, SHUT_RDWR);
    return;
  }
  throw std::runtime_error("test: no socket matches " + d);
}

class TcpReconnect : public ::testing::TestWithParam<CompletionMode> {};

// Rank 0 (the connector) sends 40 messages, rank 1's side of the connection is shut down, then
// rank 0 sends 40 more: both sides report the break and the reconnect, nothing is lost (every
// message of the first half had arrived before the break), and the second half arrives intact
// and in order on the new connection.
TEST_P(TcpReconnect, ABrokenConnectionIsReestablishedAndCarriesOn) {
  Options o = loopback(GetParam());
  o.reconnect = true;
  o.reconnect_timeout_ns = 20'000'000'000ULL;
  constexpr std::size_t kHalf = 40;
  constexpr std::size_t kSize = 1000;
  std::vector<std::vector<transport::ConnectionEvent>> events(2);
  run_pair(with(o), 1, [&](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    EXPECT_EQ(field(ep.describe(), "on_break"), "reconnect") << ep.describe();
    RegisteredBuffer buf(s.transport, 2 * kHalf * kSize + kSize);
    Drain d(ep);
    const auto send_half = [&](std::size_t first) {
      for (std::size_t i = first; i < first + kHalf; ++i) {
        fill_pattern(buf.data() + i * kSize, kSize, static_cast<std::uint32_t>(i));
        while (!ep.post(send_request(buf, i * kSize, kSize, i, static_cast<std::uint32_t>(i)))) {
          d.once(1'000'000);
        }
      }
      d.until(first + kHalf, 0);
    };
    const auto receive_half = [&](std::size_t first) {
      for (std::size_t i = first; i < first + kHalf; ++i) {
        ASSERT_TRUE(ep.post(recv_request(buf, i * kSize, kSize, i)));
      }
      d.until(0, first + kHalf);
      for (std::size_t i = first; i < first + kHalf; ++i) {
        EXPECT_EQ(d.recvs[i].imm, i);
        EXPECT_EQ(pattern_mismatch(buf.data() + i * kSize, kSize, static_cast<std::uint32_t>(i)),
                  kSize)
            << "message " << i;
      }
    };
    if (s.rank == 0) {
      // A receive posted, so rank 0 reads the connection and meets the break.
      ASSERT_TRUE(ep.post(recv_request(buf, 2 * kHalf * kSize, kSize, 999)));
      send_half(0);
      s.bootstrap.barrier();  // rank 1 has all of the first half
      s.bootstrap.barrier();  // rank 1 broke its side
      // Meet the break and reconnect before sending more: a message written into the dead
      // connection before the break is noticed would be lost (and counted as such).
      auto* source = dynamic_cast<transport::ConnectionEventSource*>(&s.transport);
      ASSERT_NE(source, nullptr);
      const std::uint64_t deadline = core::now_ns() + 10'000'000'000ULL;
      while (events[0].size() < 2 && core::now_ns() < deadline) {
        d.once(10'000'000);
        for (auto& e : source->drain_connection_events()) events[0].push_back(std::move(e));
      }
      send_half(kHalf);
    } else {
      receive_half(0);
      s.bootstrap.barrier();
      break_connection(ep);
      s.bootstrap.barrier();
      receive_half(kHalf);
    }
    s.bootstrap.barrier();
    auto* source = dynamic_cast<transport::ConnectionEventSource*>(&s.transport);
    ASSERT_NE(source, nullptr);
    for (auto& e : source->drain_connection_events()) {
      events[static_cast<std::size_t>(s.rank)].push_back(std::move(e));
    }
  });
  for (int rank = 0; rank < 2; ++rank) {
    const auto& ev = events[static_cast<std::size_t>(rank)];
    ASSERT_EQ(ev.size(), 2u) << "rank " << rank;
    EXPECT_EQ(ev[0].kind, "connection.broken");
    EXPECT_EQ(ev[1].kind, "connection.reconnected");
    EXPECT_EQ(ev[1].role, rank == 0 ? "connector" : "acceptor");
    EXPECT_EQ(ev[1].peer, 1 - rank);
    EXPECT_EQ(ev[1].lost_messages, 0u) << "rank " << rank;
    EXPECT_FALSE(ev[0].cause.empty());
    EXPECT_GE(ev[1].mono_ns, ev[0].mono_ns);
    EXPECT_GT(ev[1].wall_ns, 0u);
  }
}

// The peer's side stops answering (its endpoint never polls again): the connector's reconnect
// gives up after reconnect_timeout with peer_lost naming the cause and the timeout, and says so
// in a connection.reconnect_failed event; it does not hang.
TEST_P(TcpReconnect, GivesUpAfterTheReconnectTimeout) {
  Options o = loopback(GetParam());
  o.reconnect = true;
  o.reconnect_timeout_ns = 500'000'000ULL;
  run_pair(with(o), 1, [&](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    RegisteredBuffer buf(s.transport, 4096);
    if (s.rank == 1) {
      break_connection(ep);
      s.bootstrap.barrier();
      s.bootstrap.barrier();  // until rank 0 has given up; this side never polls
      return;
    }
    ASSERT_TRUE(ep.post(recv_request(buf, 0, 1024, 1)));
    s.bootstrap.barrier();
    const core::Error e = expect_error_from_wait(ep);
    s.bootstrap.barrier();
    EXPECT_EQ(e.kind(), core::ErrorKind::peer_lost);
    EXPECT_NE(std::string(e.what()).find("not re-established within 500 ms"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("closed by peer"), std::string::npos) << e.what();
    auto* source = dynamic_cast<transport::ConnectionEventSource*>(&s.transport);
    ASSERT_NE(source, nullptr);
    const auto ev = source->drain_connection_events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[1].kind, "connection.reconnect_failed");
    EXPECT_GE(ev[1].outage_ns, 500'000'000u);
    EXPECT_GE(ev[1].attempts, 1u);
  });
}

INSTANTIATE_TEST_SUITE_P(Modes, TcpReconnect,
                         ::testing::Values(CompletionMode::busy_poll, CompletionMode::blocking),
                         [](const auto& param_info) {
                           return param_info.param == CompletionMode::busy_poll ? "busy_poll"
                                                                                : "blocking";
                         });

// Without reconnect nothing is kept or reported: a transport still offers the (empty) events.
TEST(TcpReconnect, OffByDefault) {
  run_pair(with(loopback()), 1, [&](RankSide& s) {
    EXPECT_EQ(field(s.endpoints[0]->describe(), "on_break"), "") << s.endpoints[0]->describe();
    auto* source = dynamic_cast<transport::ConnectionEventSource*>(&s.transport);
    ASSERT_NE(source, nullptr);
    EXPECT_TRUE(source->drain_connection_events().empty());
  });
}

}  // namespace
}  // namespace fabricbench::testkit
