// The side channel's frames, proofs and address parsing.
#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "harness/bootstrap/net.hpp"
#include "harness/bootstrap/side_channel.hpp"
#include "harness/bootstrap/wire.hpp"

namespace fabricbench::bootstrap {
namespace {

std::string hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

TEST(Wire, HmacMatchesRfc4231) {
  EXPECT_EQ(hex(wire::hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Wire, ProofsDependOnEveryInput) {
  const std::string hub(32, 'h');
  const std::string peer(32, 'p');
  const std::string base = wire::peer_proof("secret", hub, peer, 1, 4);
  EXPECT_EQ(base, wire::peer_proof("secret", hub, peer, 1, 4));
  EXPECT_NE(base, wire::peer_proof("secreT", hub, peer, 1, 4));
  EXPECT_NE(base, wire::peer_proof("secret", std::string(32, 'x'), peer, 1, 4));
  EXPECT_NE(base, wire::peer_proof("secret", hub, std::string(32, 'x'), 1, 4));
  EXPECT_NE(base, wire::peer_proof("secret", hub, peer, 2, 4));
  EXPECT_NE(base, wire::peer_proof("secret", hub, peer, 1, 5));
  // The root's proof is not the peer's answer reflected back.
  EXPECT_NE(base, wire::root_proof("secret", hub, peer, 1, 4));
  EXPECT_TRUE(wire::macs_equal(base, base));
  EXPECT_FALSE(wire::macs_equal(base, base.substr(1)));
}

TEST(Wire, FramesArriveWholeOrNotAtAll) {
  const std::string payload("a\0b", 3);
  const std::string bytes =
      wire::encode_frame(wire::Type::contrib, payload) + wire::encode_frame(wire::Type::bye, "");
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    const std::string part = bytes.substr(0, cut);
    std::size_t pos = 0;
    const auto first = wire::take_frame(part, pos, 100);
    if (cut < wire::kHeaderBytes + payload.size()) {
      EXPECT_FALSE(first) << cut;
      EXPECT_EQ(pos, 0u);
    } else {
      ASSERT_TRUE(first);
      EXPECT_EQ(first->type, wire::Type::contrib);
      EXPECT_EQ(first->payload, payload);
    }
  }
  std::size_t pos = 0;
  EXPECT_TRUE(wire::take_frame(bytes, pos, 100));
  const auto second = wire::take_frame(bytes, pos, 100);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->type, wire::Type::bye);
  EXPECT_EQ(pos, bytes.size());
}

TEST(Wire, MalformedFramesAreRejectedEarly) {
  std::size_t pos = 0;
  EXPECT_THROW(wire::take_frame("G", pos, 100), wire::MalformedFrame) << "one bad byte suffices";
  std::string bad_type = wire::encode_frame(wire::Type::bye, "");
  bad_type[4] = 42;
  pos = 0;
  EXPECT_THROW(wire::take_frame(bad_type, pos, 100), wire::MalformedFrame);
  pos = 0;
  EXPECT_THROW(
      wire::take_frame(wire::encode_frame(wire::Type::hello, std::string(101, 'x')), pos, 100),
      wire::MalformedFrame);
  EXPECT_THROW(wire::decode_hello("short"), wire::MalformedFrame);
  EXPECT_THROW(wire::decode_reject(wire::encode_reject("x") + "trailing"), wire::MalformedFrame);
}

TEST(Wire, MessagesRoundTrip) {
  wire::Hello hello;
  hello.rank = 3;
  hello.size = 8;
  hello.pid = 1234;
  hello.host = "node-7";
  hello.nonce = std::string(32, '\0');
  hello.mac = std::string(32, '\xff');
  const auto back = wire::decode_hello(wire::encode(hello));
  EXPECT_EQ(back.rank, 3u);
  EXPECT_EQ(back.size, 8u);
  EXPECT_EQ(back.pid, 1234u);
  EXPECT_EQ(back.host, "node-7");
  EXPECT_EQ(back.nonce, hello.nonce);
  EXPECT_EQ(back.mac, hello.mac);
  const auto members = wire::decode_ready(wire::encode_ready({{1, "a"}, {2, "b"}}));
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[1].host, "b");
  const auto contrib =
      wire::decode_contrib(wire::encode(wire::Contrib{7, wire::Op::broadcast, 2, "data"}));
  EXPECT_EQ(contrib.seq, 7u);
  EXPECT_EQ(contrib.op, wire::Op::broadcast);
  EXPECT_EQ(contrib.root, 2u);
  EXPECT_EQ(contrib.data, "data");
}

TEST(Addresses, ParsesHostAndPort) {
  auto hp = net::parse_host_port("127.0.0.1:5000", "X", false);
  EXPECT_EQ(hp.host, "127.0.0.1");
  EXPECT_EQ(hp.port, 5000);
  hp = net::parse_host_port("[::1]:6000", "X", false);
  EXPECT_EQ(hp.host, "::1");
  EXPECT_EQ(hp.port, 6000);
  hp = net::parse_host_port("node-a.cluster:1", "X", false);
  EXPECT_EQ(hp.host, "node-a.cluster");
  EXPECT_EQ(net::parse_host_port("h:0", "X", true).port, 0);
  EXPECT_EQ(net::format_host_port("::1", 5), "[::1]:5");
  EXPECT_EQ(net::format_host_port("10.0.0.1", 5), "10.0.0.1:5");
  try {
    net::parse_host_port("oops", "FABRICBENCH_ROOT", false);
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::usage);
    EXPECT_NE(std::string(e.what()).find("FABRICBENCH_ROOT='oops'"), std::string::npos);
  }
}

TEST(Secrets, AreFreshHex) {
  const std::string a = generate_secret();
  const std::string b = generate_secret();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace fabricbench::bootstrap
