// Who may join: the per-job secret keeps strangers out and impostor roots away; garbage on the
// listening port does not disturb the real ranks.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.hpp"
#include "harness/bootstrap/net.hpp"
#include "harness/bootstrap/side_channel.hpp"
#include "harness/bootstrap/wire.hpp"
#include "tests/bootstrap/test_support.hpp"

namespace fabricbench::bootstrap {
namespace {

using namespace std::chrono_literals;

void set_io_timeout(int fd, std::chrono::seconds limit) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(limit.count());
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A blocking client socket with 5 s send/receive timeouts.
net::Fd raw_connect(const std::string& address) {
  const net::HostPort where = net::parse_host_port(address, "address", false);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(where.port);
  if (::getaddrinfo(where.host.c_str(), port.c_str(), &hints, &found) != 0) return net::Fd();
  net::Fd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  set_io_timeout(fd.get(), 5s);
  if (::connect(fd.get(), found->ai_addr, found->ai_addrlen) != 0) fd.reset();
  ::freeaddrinfo(found);
  return fd;
}

void send_all(int fd, const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

// True when the other side closed (or reset) the connection within the socket's timeout.
bool closed_by_peer(int fd) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

// The next frame from a blocking socket, or nullopt at EOF/timeout.
std::optional<wire::Frame> read_frame(int fd, std::string& buf) {
  for (;;) {
    std::size_t pos = 0;
    if (auto f = wire::take_frame(buf, pos, wire::kMaxPayload)) {
      buf.erase(0, pos);
      return f;
    }
    char chunk[4096];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return std::nullopt;
    buf.append(chunk, static_cast<std::size_t>(n));
  }
}

// A fake rank 0's side of the handshake up to the peer's hello: accepts one connection, sends a
// challenge, reads the hello. nullopt when nobody connects or the peer goes away first.
struct FakeHub {
  net::Fd conn;
  std::string nonce;
  wire::Hello hello;
  std::string buf;  // what was read past the hello
};
std::optional<FakeHub> accept_hello(int listener) {
  FakeHub h;
  h.conn.reset(::accept(listener, nullptr, nullptr));
  if (!h.conn.valid()) return std::nullopt;
  set_io_timeout(h.conn.get(), 5s);
  h.nonce = wire::random_bytes(wire::kNonceBytes);
  send_all(h.conn.get(), wire::encode_frame(wire::Type::challenge, wire::encode(wire::Challenge{
                                                                       wire::kVersion, h.nonce})));
  const auto frame = read_frame(h.conn.get(), h.buf);
  if (!frame) return std::nullopt;
  h.hello = wire::decode_hello(frame->payload);
  return h;
}

// A peer's hello for `rank` of `size`, proven with `secret` against rank 0's challenge.
wire::Hello proven_hello(const std::string& secret, const std::string& challenge_nonce,
                         std::uint32_t rank, std::uint32_t size, const std::string& host,
                         std::uint32_t version = wire::kVersion) {
  wire::Hello hello;
  hello.version = version;
  hello.rank = rank;
  hello.size = size;
  hello.pid = 1;
  hello.host = host;
  hello.nonce = wire::random_bytes(wire::kNonceBytes);
  hello.mac = wire::peer_proof(secret, challenge_nonce, hello.nonce, rank, size);
  return hello;
}

// Plays a peer by hand: "welcome", "reject: <reason>" or "closed".
std::string raw_handshake(const std::string& address, const std::string& secret, std::uint32_t rank,
                          std::uint32_t size, std::uint32_t version = wire::kVersion) {
  net::Fd fd = raw_connect(address);
  if (!fd.valid()) return "connect failed";
  std::string buf;
  const auto challenge_frame = read_frame(fd.get(), buf);
  if (!challenge_frame || challenge_frame->type != wire::Type::challenge) return "no challenge";
  const auto challenge = wire::decode_challenge(challenge_frame->payload);
  const wire::Hello hello = proven_hello(secret, challenge.nonce, rank, size, "stranger", version);
  send_all(fd.get(), wire::encode_frame(wire::Type::hello, wire::encode(hello)));
  const auto answer = read_frame(fd.get(), buf);
  if (!answer) return "closed";
  if (answer->type == wire::Type::reject) return "reject: " + wire::decode_reject(answer->payload);
  if (answer->type == wire::Type::welcome) return "welcome";
  return "unexpected";
}

struct Ranks {
  net::Fd listener = net::listen_on(net::HostPort{"127.0.0.1", 0});
  std::string address = net::local_address(listener.get());
  std::string secret = generate_secret();

  SideChannelConfig config(int rank, int size, std::chrono::milliseconds timeout) {
    SideChannelConfig c;
    c.rank = rank;
    c.size = size;
    c.root_address = address;
    c.secret = secret;
    c.options.timeout = timeout;
    if (rank == 0) c.listen_fd = listener.release();
    return c;
  }
};

bool any_reason(const std::vector<RefusedConnection>& refused, const std::string& text) {
  for (const auto& r : refused) {
    if (r.reason.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string all_reasons(const std::vector<RefusedConnection>& refused) {
  std::string out;
  for (const auto& r : refused) out += r.peer + ": " + r.reason + "\n";
  return out;
}

TEST(Authentication, StrangersAreRefusedWhileTheRealRankJoins) {
  Ranks ranks;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RefusedConnection> seen;
  std::vector<RefusedConnection> refused_at_end;
  std::vector<std::string> root_all;
  std::string root_error;
  std::thread root([&] {
    auto config = ranks.config(0, 2, 10s);
    config.on_refused = [&](const RefusedConnection& r) {
      std::lock_guard lock(mu);
      seen.push_back(r);
      cv.notify_all();
    };
    try {
      auto b = open_side_channel(config);
      b->barrier();
      root_all = b->allgather("root");
      refused_at_end = b->refused_connections();
    } catch (const core::Error& e) {
      root_error = e.what();
    }
  });

  // 1. Connect and close at once.
  { net::Fd fd = raw_connect(ranks.address); }
  // 2. Garbage: an HTTP request.
  {
    net::Fd fd = raw_connect(ranks.address);
    send_all(fd.get(), "GET / HTTP/1.0\r\n\r\n");
    EXPECT_TRUE(closed_by_peer(fd.get())) << "rank 0 keeps talking to an HTTP client";
  }
  // 3. A well-formed header announcing a 1 GiB hello.
  {
    net::Fd fd = raw_connect(ranks.address);
    std::string header = wire::encode_frame(wire::Type::hello, "");
    header[5] = 0x00;
    header[9] = 0x40;  // length 2^30
    send_all(fd.get(), header);
    EXPECT_TRUE(closed_by_peer(fd.get()));
  }
  // 4. The wrong secret, through the real client.
  {
    SideChannelConfig stranger;
    stranger.rank = 1;
    stranger.size = 2;
    stranger.root_address = ranks.address;
    stranger.secret = "not the job's secret";
    stranger.options.timeout = 5s;
    try {
      open_side_channel(stranger);
      ADD_FAILURE() << "a rank with the wrong secret joined";
    } catch (const core::Error& e) {
      EXPECT_EQ(e.kind(), core::ErrorKind::runtime);
      EXPECT_NE(std::string(e.what()).find("authentication failed"), std::string::npos) << e.what();
    }
  }
  // 5. The right secret but a rank outside the job, and the wrong job size.
  EXPECT_EQ(raw_handshake(ranks.address, ranks.secret, 5, 2), "reject: rank 5 is outside 1..1");
  EXPECT_NE(raw_handshake(ranks.address, ranks.secret, 1, 3).find("says the job has 3 ranks"),
            std::string::npos);
  // 6. Another protocol version, and version 1 (frames not sealed after the handshake).
  EXPECT_NE(raw_handshake(ranks.address, ranks.secret, 1, 2, 99).find("protocol version 99"),
            std::string::npos);
  EXPECT_EQ(raw_handshake(ranks.address, ranks.secret, 1, 2, 1),
            "reject: side-channel protocol version 1, rank 0 speaks 2");
  // 7. A wrong secret by hand: the stranger learns nothing but "authentication failed".
  EXPECT_EQ(raw_handshake(ranks.address, "guess", 1, 2),
            "reject: authentication failed (wrong secret)");

  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 10s, [&] { return seen.size() >= 9; });
    EXPECT_EQ(seen.size(), 9u) << all_reasons(seen);
  }

  std::vector<std::string> peer_all;
  std::thread peer([&] {
    try {
      auto b = open_side_channel(ranks.config(1, 2, 10s));
      b->barrier();
      peer_all = b->allgather("peer");
    } catch (const core::Error& e) {
      ADD_FAILURE() << "the genuine rank 1 failed: " << e.what();
    }
  });
  root.join();
  peer.join();
  EXPECT_EQ(root_error, "");
  const std::vector<std::string> expected{"root", "peer"};
  EXPECT_EQ(root_all, expected);
  EXPECT_EQ(peer_all, expected);
  EXPECT_EQ(refused_at_end.size(), 9u) << all_reasons(refused_at_end);
  EXPECT_TRUE(any_reason(refused_at_end, "before the handshake")) << all_reasons(refused_at_end);
  EXPECT_TRUE(any_reason(refused_at_end, "bad frame magic")) << all_reasons(refused_at_end);
  EXPECT_TRUE(any_reason(refused_at_end, "exceeds the limit")) << all_reasons(refused_at_end);
  EXPECT_TRUE(any_reason(refused_at_end, "authentication failed")) << all_reasons(refused_at_end);
  for (const auto& r : refused_at_end) EXPECT_NE(r.peer.find("127.0.0.1:"), std::string::npos);
}

TEST(Authentication, PeerRefusesAnImpostorRoot) {
  net::Fd listener = net::listen_on(net::HostPort{"127.0.0.1", 0});
  set_io_timeout(listener.get(), 5s);  // bounds accept()
  const std::string address = net::local_address(listener.get());
  std::string hello_rank;
  bool peer_hung_up = false;
  std::thread impostor([&] {
    auto hub = accept_hello(listener.get());
    if (!hub) return;
    const net::Fd& c = hub->conn;
    const std::string& nonce = hub->nonce;
    const wire::Hello& hello = hub->hello;
    hello_rank = std::to_string(hello.rank);
    // Admits anyone, but cannot compute the proof without the secret.
    const std::string proof =
        wire::root_proof("the impostor's guess", nonce, hello.nonce, hello.rank, hello.size);
    send_all(c.get(), wire::encode_frame(wire::Type::welcome,
                                         wire::encode(wire::Welcome{4242, "evil", proof})));
    peer_hung_up = closed_by_peer(c.get());
  });
  SideChannelConfig config;
  config.rank = 1;
  config.size = 2;
  config.root_address = address;
  config.secret = generate_secret();
  config.options.timeout = 3s;
  try {
    open_side_channel(config);
    ADD_FAILURE() << "the peer accepted an impostor root";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::runtime);
    EXPECT_NE(std::string(e.what()).find("authentication failed"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("does not prove it knows"), std::string::npos) << e.what();
  }
  impostor.join();
  EXPECT_EQ(hello_rank, "1");
  EXPECT_TRUE(peer_hung_up);
}

TEST(Authentication, RankTakenTwiceIsRefusedOnce) {
  Ranks ranks;
  std::string errors[2];
  const auto run = [&](int rank) {
    try {
      open_side_channel(ranks.config(rank, 3, 10s))->barrier();
    } catch (const core::Error& e) {
      ADD_FAILURE() << "rank " << rank << ": " << e.what();
    }
  };
  std::thread root(run, 0);
  std::thread first([&] {
    try {
      open_side_channel(ranks.config(1, 3, 10s))->barrier();
    } catch (const core::Error& e) {
      errors[0] = e.what();
    }
  });
  std::thread second([&] {
    try {
      open_side_channel(ranks.config(1, 3, 10s))->barrier();
    } catch (const core::Error& e) {
      errors[1] = e.what();
    }
  });
  // Rank 2 only once one of the two rank 1s has been refused: otherwise rank 0 may be complete
  // (and stop listening) before the second rank 1 knocks.
  const auto start = std::chrono::steady_clock::now();
  while (errors[0].empty() && errors[1].empty() && std::chrono::steady_clock::now() - start < 10s) {
    std::this_thread::sleep_for(10ms);
  }
  std::thread last(run, 2);
  root.join();
  first.join();
  second.join();
  last.join();
  const std::string& refused = errors[0].empty() ? errors[1] : errors[0];
  EXPECT_TRUE(errors[0].empty() != errors[1].empty()) << errors[0] << " / " << errors[1];
  EXPECT_NE(refused.find("rank 1 has joined already as rank 1 ("), std::string::npos) << refused;
}

TEST(Addresses, PeerReachesRankZeroOverIpv6) {
  net::Fd listener;
  try {
    listener = net::listen_on(net::HostPort{"::1", 0});
  } catch (const core::Error& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  const std::string address = net::local_address(listener.get());
  ASSERT_EQ(address.rfind("[::1]:", 0), 0u) << address;
  const std::string secret = generate_secret();
  std::vector<std::string> got;
  std::thread root([&] {
    SideChannelConfig c;
    c.rank = 0;
    c.size = 2;
    c.listen_fd = listener.release();
    c.secret = secret;
    c.options.timeout = 5s;
    got = open_side_channel(c)->allgather("zero");
  });
  SideChannelConfig c;
  c.rank = 1;
  c.size = 2;
  c.root_address = address;
  c.secret = secret;
  c.options.timeout = 5s;
  const auto mine = open_side_channel(c)->allgather("one");
  root.join();
  const std::vector<std::string> expected{"zero", "one"};
  EXPECT_EQ(mine, expected);
  EXPECT_EQ(got, expected);
}

// Rank 0 binds "127.0.0.1:port" itself; the peer finds it by name, and retries until rank 0
// listens (it starts later).
TEST(Addresses, RankZeroBindsItsAddressAndThePeerResolvesANameAndRetries) {
  std::uint16_t port = 0;
  {
    net::Fd probe = net::listen_on(net::HostPort{"127.0.0.1", 0});
    port = net::local_port(probe.get());
  }
  const std::string secret = generate_secret();
  std::vector<std::string> peer_got;
  std::thread peer([&] {
    SideChannelConfig c;
    c.rank = 1;
    c.size = 2;
    c.root_address = "localhost:" + std::to_string(port);
    c.secret = secret;
    c.options.timeout = 10s;
    peer_got = open_side_channel(c)->allgather("one");
  });
  std::this_thread::sleep_for(300ms);  // the peer knocks on a closed port first
  SideChannelConfig c;
  c.rank = 0;
  c.size = 2;
  c.root_address = "127.0.0.1:" + std::to_string(port);
  c.secret = secret;
  c.options.timeout = 10s;
  const auto got = open_side_channel(c)->allgather("zero");
  peer.join();
  const std::vector<std::string> expected{"zero", "one"};
  EXPECT_EQ(got, expected);
  EXPECT_EQ(peer_got, expected);
}

TEST(Config, BadConfigurationsAreUsageErrors) {
  const auto kind_of = [](SideChannelConfig c) {
    try {
      open_side_channel(c);
    } catch (const core::Error& e) {
      return e.kind();
    }
    return core::ErrorKind::config;  // "did not throw"
  };
  SideChannelConfig good;
  good.rank = 1;
  good.size = 2;
  good.root_address = "127.0.0.1:1";
  good.secret = "s";
  good.options.timeout = 100ms;

  auto c = good;
  c.secret = "";
  EXPECT_EQ(kind_of(c), core::ErrorKind::usage);
  c = good;
  c.rank = 2;
  EXPECT_EQ(kind_of(c), core::ErrorKind::usage);
  c = good;
  c.size = 0;
  EXPECT_EQ(kind_of(c), core::ErrorKind::usage);
  c = good;
  c.options.timeout = 0ms;
  EXPECT_EQ(kind_of(c), core::ErrorKind::usage);
  for (const char* bad :
       {"127.0.0.1", "::1:5000", "[::1]5000", "host:", "host:70000", ":5000", "host:0", "[::1"}) {
    c = good;
    c.root_address = bad;
    EXPECT_EQ(kind_of(c), core::ErrorKind::usage) << bad;
  }
}

}  // namespace
}  // namespace fabricbench::bootstrap

namespace fabricbench::bootstrap {
namespace {

// The last rank to join may read the root's "welcome" and "ready" in one recv (seen between
// two emulated guests): the ready frame then sits in the peer's buffer, and the peer must take
// it from there instead of waiting on the socket until its timeout.
TEST(Join, ReadyArrivingWithTheWelcomeIsNotMissed) {
  net::Fd listener = net::listen_on(net::HostPort{"127.0.0.1", 0});
  set_io_timeout(listener.get(), 5s);
  const std::string address = net::local_address(listener.get());
  const std::string secret = generate_secret();
  std::thread root([&] {
    auto hub = accept_hello(listener.get());
    if (!hub) return;
    const net::Fd& c = hub->conn;
    const std::string& nonce = hub->nonce;
    const wire::Hello& hello = hub->hello;
    const std::string proof = wire::root_proof(secret, nonce, hello.nonce, hello.rank, hello.size);
    // Welcome and ready (sealed, as every frame after the welcome) in a single send.
    wire::Session session(wire::session_key(secret, nonce, hello.nonce, hello.rank, hello.size),
                          wire::Direction::hub_to_peer);
    const std::vector<wire::Member> table = {{1111, "root-host"}, {hello.pid, hello.host}};
    send_all(c.get(), wire::encode_frame(wire::Type::welcome,
                                         wire::encode(wire::Welcome{1111, "root-host", proof})) +
                          session.seal(wire::Type::ready, wire::encode_ready(table)));
    closed_by_peer(c.get());  // hold the connection until the peer is done
  });
  SideChannelConfig config;
  config.rank = 1;
  config.size = 2;
  config.root_address = address;
  config.secret = secret;
  // A missed ready frame shows up as a timeout error after this.
  config.options.timeout = 3s;
  std::unique_ptr<SideChannel> channel;
  try {
    channel = open_side_channel(config);
  } catch (const core::Error& e) {
    ADD_FAILURE() << "joining failed: " << e.what();
  }
  EXPECT_NE(channel, nullptr);
  channel.reset();
  root.join();
}

}  // namespace
}  // namespace fabricbench::bootstrap

// Every frame after the handshake is sealed (wire.hpp): a forged, replayed or corrupted frame
// fails every rank, naming the connection it came in on.
namespace fabricbench::bootstrap {
namespace {

// Plays rank `rank` by hand with the job's secret: the real handshake, then frames of the test's
// choosing.
struct RawPeer {
  net::Fd fd;
  std::string buf;
  std::optional<wire::Session> session;
  std::string error;

  // True once rank 0 welcomed it and proved it knows the secret.
  bool join(const std::string& address, const std::string& secret, std::uint32_t rank,
            std::uint32_t size) {
    fd = raw_connect(address);
    if (!fd.valid()) return fail("connect failed");
    const auto challenge_frame = read_frame(fd.get(), buf);
    if (!challenge_frame || challenge_frame->type != wire::Type::challenge) {
      return fail("no challenge");
    }
    const auto challenge = wire::decode_challenge(challenge_frame->payload);
    const wire::Hello hello = proven_hello(secret, challenge.nonce, rank, size, "raw-peer");
    send_all(fd.get(), wire::encode_frame(wire::Type::hello, wire::encode(hello)));
    const auto answer = read_frame(fd.get(), buf);
    if (!answer || answer->type != wire::Type::welcome) return fail("not welcomed");
    const auto welcome = wire::decode_welcome(answer->payload);
    if (welcome.mac != wire::root_proof(secret, challenge.nonce, hello.nonce, rank, size)) {
      return fail("rank 0's proof is wrong");
    }
    session.emplace(wire::session_key(secret, challenge.nonce, hello.nonce, rank, size),
                    wire::Direction::peer_to_hub);
    return true;
  }

  // The next frame from rank 0, verified; nullopt at EOF, after 5 s, or when it does not verify.
  std::optional<wire::Frame> receive() {
    auto f = read_frame(fd.get(), buf);
    if (!f || !session->open(*f)) return std::nullopt;
    return f;
  }

  bool fail(const std::string& why) {
    error = why;
    return false;
  }
};

struct Outcome {
  std::string error;  // empty: no error
  core::ErrorKind kind = core::ErrorKind::config;
  std::vector<std::vector<std::string>> results;  // of each allgather that completed
};

// Runs rank `rank` of a job of `size` through `rounds` allgathers.
Outcome allgathers(Ranks& ranks, int rank, int size, int rounds) {
  Outcome out;
  try {
    auto b = open_side_channel(ranks.config(rank, size, 10s));
    for (int i = 0; i < rounds; ++i) {
      out.results.push_back(b->allgather("rank" + std::to_string(rank) + "-" + std::to_string(i)));
    }
  } catch (const core::Error& e) {
    out.error = e.what();
    out.kind = e.kind();
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(FrameAuthentication, ForgedContributionFailsEveryRankNamingItsSender) {
  Ranks ranks;
  Outcome zero;
  Outcome one;
  std::thread root([&] { zero = allgathers(ranks, 0, 3, 1); });
  std::thread other([&] { one = allgathers(ranks, 1, 3, 1); });
  RawPeer two;
  std::string abort_message;
  if (two.join(ranks.address, ranks.secret, 2, 3)) {
    const auto ready = two.receive();
    EXPECT_TRUE(ready && ready->type == wire::Type::ready);
    // A well-formed contribution to collective #1 whose MAC is wrong in one bit.
    std::string frame = two.session->seal(
        wire::Type::contrib, wire::encode(wire::Contrib{1, wire::Op::allgather, 0, "rkey-forged"}));
    frame.back() = static_cast<char>(frame.back() ^ 1);
    send_all(two.fd.get(), frame);
    // Rank 0's verdict reaches the connection it came in on too (sealed).
    if (const auto f = two.receive(); f && f->type == wire::Type::abort) {
      abort_message = wire::decode_abort(f->payload).message;
    }
  } else {
    ADD_FAILURE() << "the raw rank 2 did not join: " << two.error;
  }
  root.join();
  other.join();
  const std::string verdict =
      "rank 2 (raw-peer, pid 1): side-channel frame failed authentication (forged, replayed or "
      "corrupted) during allgather";
  EXPECT_EQ(zero.error, verdict);
  EXPECT_EQ(zero.kind, core::ErrorKind::peer_lost);
  EXPECT_TRUE(zero.results.empty()) << "rank 0 completed the allgather with a forged frame";
  EXPECT_EQ(one.error, verdict);
  EXPECT_EQ(one.kind, core::ErrorKind::peer_lost);
  EXPECT_EQ(abort_message, verdict);
}

TEST(FrameAuthentication, ReplayedFrameFailsEveryRankNamingItsSender) {
  Ranks ranks;
  Outcome zero;
  Outcome one;
  std::thread root([&] { zero = allgathers(ranks, 0, 3, 2); });
  std::thread other([&] { one = allgathers(ranks, 1, 3, 2); });
  RawPeer two;
  if (two.join(ranks.address, ranks.secret, 2, 3)) {
    const auto ready = two.receive();
    EXPECT_TRUE(ready && ready->type == wire::Type::ready);
    // A genuine contribution to collective #1, captured...
    const std::string first = two.session->seal(
        wire::Type::contrib, wire::encode(wire::Contrib{1, wire::Op::allgather, 0, "rkey-A"}));
    send_all(two.fd.get(), first);
    const auto result = two.receive();
    EXPECT_TRUE(result && result->type == wire::Type::result &&
                contains(result->payload, "rkey-A"));
    // ... and played again as the contribution to collective #2.
    send_all(two.fd.get(), first);
    two.receive();  // rank 0's abort; waiting for it keeps the connection open until then
  } else {
    ADD_FAILURE() << "the raw rank 2 did not join: " << two.error;
  }
  root.join();
  other.join();
  // The genuine frame went through: the first allgather completed everywhere.
  const std::vector<std::string> expected{"rank0-0", "rank1-0", "rkey-A"};
  ASSERT_EQ(zero.results.size(), 1u) << zero.error;
  EXPECT_EQ(zero.results[0], expected);
  ASSERT_EQ(one.results.size(), 1u) << one.error;
  EXPECT_EQ(one.results[0], expected);
  const std::string verdict =
      "rank 2 (raw-peer, pid 1): side-channel frame failed authentication (forged, replayed or "
      "corrupted) during allgather";
  EXPECT_EQ(zero.error, verdict);
  EXPECT_EQ(zero.kind, core::ErrorKind::peer_lost);
  EXPECT_EQ(one.error, verdict);
  EXPECT_EQ(one.kind, core::ErrorKind::peer_lost);
}

// A fake rank 0 that knows the secret completes the handshake, then sends rank 1 a frame that
// someone on the path could have made: a result with a wrong MAC, or an abort that is not sealed.
TEST(FrameAuthentication, PeerRejectsAForgedFrameFromRankZero) {
  for (const bool unsealed_abort : {false, true}) {
    SCOPED_TRACE(unsealed_abort ? "unsealed abort" : "result with a wrong MAC");
    net::Fd listener = net::listen_on(net::HostPort{"127.0.0.1", 0});
    set_io_timeout(listener.get(), 5s);
    const std::string address = net::local_address(listener.get());
    const std::string secret = generate_secret();
    bool contrib_verified = false;
    std::string abort_seen;
    std::thread hub([&] {
      auto fake = accept_hello(listener.get());
      if (!fake) return;
      const net::Fd& c = fake->conn;
      const std::string& nonce = fake->nonce;
      std::string& buf = fake->buf;
      const wire::Hello& hello = fake->hello;
      const std::string proof =
          wire::root_proof(secret, nonce, hello.nonce, hello.rank, hello.size);
      send_all(c.get(), wire::encode_frame(wire::Type::welcome,
                                           wire::encode(wire::Welcome{1111, "fake-root", proof})));
      wire::Session session(wire::session_key(secret, nonce, hello.nonce, hello.rank, hello.size),
                            wire::Direction::hub_to_peer);
      const std::vector<wire::Member> table = {{1111, "fake-root"}, {hello.pid, hello.host}};
      send_all(c.get(), session.seal(wire::Type::ready, wire::encode_ready(table)));
      auto f = read_frame(c.get(), buf);
      if (!f || !session.open(*f) || f->type != wire::Type::contrib) return;
      contrib_verified = wire::decode_contrib(f->payload).op == wire::Op::barrier;
      if (unsealed_abort) {
        send_all(c.get(), wire::encode_frame(wire::Type::abort,
                                             wire::encode(wire::Abort{
                                                 static_cast<std::uint8_t>(core::ErrorKind::usage),
                                                 "stop the benchmark, says someone on the path"})));
      } else {
        wire::Writer result;
        result.u64(1).u8(static_cast<std::uint8_t>(wire::Op::barrier));
        std::string frame = session.seal(wire::Type::result, result.take());
        frame.back() = static_cast<char>(frame.back() ^ 0x80);
        send_all(c.get(), frame);
      }
      // Rank 1 tells rank 0 why it gives up, sealed.
      f = read_frame(c.get(), buf);
      if (f && session.open(*f) && f->type == wire::Type::abort) {
        abort_seen = wire::decode_abort(f->payload).message;
      }
    });
    SideChannelConfig config;
    config.rank = 1;
    config.size = 2;
    config.root_address = address;
    config.secret = secret;
    config.options.timeout = 3s;
    std::string error;
    auto kind = core::ErrorKind::config;
    try {
      auto channel = open_side_channel(config);
      channel->barrier();
      ADD_FAILURE() << "rank 1 took the forged frame";
    } catch (const core::Error& e) {
      error = e.what();
      kind = e.kind();
    }
    hub.join();
    EXPECT_TRUE(contrib_verified) << "rank 1's contribution did not verify at the fake root";
    const std::string verdict = "rank 0 (fake-root, pid 1111): side-channel frame to rank 1 (";
    EXPECT_EQ(error.rfind(verdict, 0), 0u) << error;
    EXPECT_TRUE(contains(error,
                         "failed authentication (forged, replayed or corrupted) during "
                         "barrier"))
        << error;
    EXPECT_EQ(kind, core::ErrorKind::peer_lost) << error;
    EXPECT_EQ(abort_seen, error);
  }
}

}  // namespace
}  // namespace fabricbench::bootstrap

// Handshake slots are fair per source address, and what rank 0 keeps of refused connections is
// bounded.
namespace fabricbench::bootstrap {
namespace {

// A blocking connection to `address` (IPv4) from `source` (any 127/8 address on Linux loopback).
net::Fd connect_from(const std::string& source, const std::string& address) {
  const net::HostPort where = net::parse_host_port(address, "address", false);
  net::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  set_io_timeout(fd.get(), 5s);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(where.port);
  if (::inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
      ::inet_pton(AF_INET, where.host.c_str(), &to.sin_addr) != 1 ||
      ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    fd.reset();
  }
  return fd;
}

// Counts on_refused calls and lets the test wait for them.
struct RefusedCounter {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RefusedConnection> seen;

  std::function<void(const RefusedConnection&)> callback() {
    return [this](const RefusedConnection& r) {
      const std::lock_guard lock(mu);
      seen.push_back(r);
      cv.notify_all();
    };
  }
  std::size_t wait_for(std::size_t count, std::chrono::milliseconds limit) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, limit, [&] { return seen.size() >= count; });
    return seen.size();
  }
};

// 200 connections from 127.0.0.2 and 127.0.0.3 that send nothing or half a header hold the
// handshake slots; the real rank 1 comes from 127.0.0.1. Rank 0's timeout is 20 s, so it drops
// an unfinished handshake only after 10 s; rank 1 gives up after 5 s. With one first-come table
// rank 1 is refused until it gives up; with fair slots it evicts a flooder and joins.
TEST(HandshakeSlots, AFloodFromOtherAddressesCannotKeepARankOut) {
  constexpr std::size_t kFlood = 200;
  constexpr std::size_t kSlots = 64;  // kMaxPendingHandshakes
  Ranks ranks;
  RefusedCounter counter;
  Outcome zero;
  std::vector<RefusedConnection> refused;
  std::thread root([&] {
    auto config = ranks.config(0, 2, 20s);
    config.on_refused = counter.callback();
    try {
      auto b = open_side_channel(config);
      zero.results.push_back(b->allgather("zero"));
      refused = b->refused_connections();
    } catch (const core::Error& e) {
      zero.error = e.what();
    }
  });
  std::vector<net::Fd> flood;
  for (std::size_t i = 0; i < kFlood; ++i) {
    flood.push_back(connect_from(i % 2 == 0 ? "127.0.0.2" : "127.0.0.3", ranks.address));
    if (!flood.back().valid()) {
      ADD_FAILURE() << "flood connection " << i << " failed: " << net::errno_text(errno);
      break;
    }
    if (i % 4 < 2) send_all(flood.back().get(), "FBSC\x06");  // the start of a header, no more
  }
  // Every flooder has been accepted once all but a table's worth have been turned away.
  EXPECT_EQ(counter.wait_for(kFlood - kSlots, 10s), kFlood - kSlots);

  std::vector<std::string> mine;
  std::string error;
  try {
    auto config = ranks.config(1, 2, 5s);
    auto b = open_side_channel(config);
    mine = b->allgather("one");
  } catch (const core::Error& e) {
    error = e.what();
  }
  root.join();
  EXPECT_EQ(error, "");
  EXPECT_EQ(zero.error, "");
  const std::vector<std::string> expected{"zero", "one"};
  EXPECT_EQ(mine, expected);
  ASSERT_EQ(zero.results.size(), 1u);
  EXPECT_EQ(zero.results[0], expected);
  // Every flooder refused (turned away, evicted, or closed once the ranks had joined), one of
  // them for rank 1; rank 1 itself never.
  EXPECT_EQ(refused.size(), kFlood) << all_reasons(refused);
  EXPECT_TRUE(any_reason(refused, "evicted while handshaking")) << all_reasons(refused);
  for (const auto& r : refused) {
    EXPECT_TRUE(r.peer.rfind("127.0.0.2:", 0) == 0 || r.peer.rfind("127.0.0.3:", 0) == 0)
        << r.peer << ": " << r.reason;
  }
}

// 1100 connections that send garbage: rank 0 lists the first 1000 and counts the rest.
TEST(HandshakeSlots, RefusedConnectionsStayBoundedUnderAFlood) {
  constexpr std::size_t kFlood = 1100;
  constexpr std::size_t kListed = 1000;
  Ranks ranks;
  RefusedCounter counter;
  std::vector<RefusedConnection> refused;
  std::string root_error;
  std::thread root([&] {
    auto config = ranks.config(0, 2, 20s);
    config.on_refused = counter.callback();
    try {
      auto b = open_side_channel(config);
      b->barrier();
      refused = b->refused_connections();
    } catch (const core::Error& e) {
      root_error = e.what();
    }
  });
  std::size_t closed = 0;
  for (std::size_t i = 0; i < kFlood; ++i) {
    const net::Fd fd = connect_from("127.0.0.2", ranks.address);
    if (!fd.valid()) break;
    send_all(fd.get(), "GET / HTTP/1.0\r\n\r\n");
    if (closed_by_peer(fd.get())) ++closed;  // refused by now
  }
  EXPECT_EQ(closed, kFlood);
  std::string error;
  try {
    open_side_channel(ranks.config(1, 2, 10s))->barrier();
  } catch (const core::Error& e) {
    error = e.what();
  }
  root.join();
  EXPECT_EQ(error, "");
  EXPECT_EQ(root_error, "");
  ASSERT_EQ(refused.size(), kListed + 1);
  for (std::size_t i = 0; i < kListed; ++i) {
    EXPECT_TRUE(contains(refused[i].reason, "bad frame magic")) << refused[i].reason;
  }
  EXPECT_EQ(refused.back().peer, "");
  EXPECT_EQ(refused.back().reason, "and 100 more refused");
  // on_refused: the first 1000 as they happened, then the count once the ranks had joined.
  EXPECT_EQ(counter.wait_for(kListed + 1, 1s), kListed + 1);
  const std::lock_guard lock(counter.mu);
  EXPECT_EQ(counter.seen.back().reason, "and 100 more refused");
}

}  // namespace
}  // namespace fabricbench::bootstrap
