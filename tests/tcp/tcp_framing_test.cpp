// The TCP endpoint's receive path against a raw peer that writes frames byte for byte: the
// whole-frame fast path (one whole small frame at the start of a read) and the general path
// (partial frames, frames queued behind it, bad headers) must deliver and refuse alike.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "transports/tcp/tcp_endpoint.hpp"

namespace fabricbench::transport::tcp {
namespace {

// A frame as the wire carries it: length, tag, flags, reserved (little-endian), then the payload.
std::vector<std::uint8_t> frame(const std::vector<std::uint8_t>& payload, std::uint32_t tag,
                                std::uint32_t flags = 0) {
  std::vector<std::uint8_t> out(kHeaderBytes);
  const std::array<std::uint32_t, 4> header = {static_cast<std::uint32_t>(payload.size()), tag,
                                               flags, 0};
  for (std::size_t i = 0; i < header.size(); ++i) {
    for (std::size_t b = 0; b < 4; ++b) out[i * 4 + b] = (header[i] >> (8 * b)) & 0xff;
  }
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<std::uint8_t> bytes(std::size_t n, std::uint8_t seed) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(seed + i * 7);
  return out;
}

// One endpoint on one end of a stream socket pair; the test writes raw bytes on the other.
class Framing : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2] = {-1, -1};
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    raw_ = UniqueFd(fds[1]);
    EndpointInfo info;
    info.peer = 1;
    info.local = "local";
    info.remote = "raw";
    Options options;
    options.queue_depth = 8;
    ep_ = std::make_unique<TcpEndpoint>(UniqueFd(fds[0]), info, options);
    region_.buffer.addr = memory_.data();
    region_.buffer.length = memory_.size();
  }

  void write_raw(const std::vector<std::uint8_t>& data) {
    ASSERT_EQ(::write(raw_.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }

  void post_recv(std::size_t offset, std::size_t capacity, std::uint64_t wr_id) {
    WorkRequest r;
    r.op = Op::recv;
    r.wr_id = wr_id;
    r.local = &region_;
    r.offset = offset;
    r.length = capacity;
    ASSERT_TRUE(ep_->post(r));
  }

  // The next completion, in order (polls until one comes, bounded).
  Completion next() {
    std::array<Completion, 4> out{};
    for (int i = 0; i < 100000 && taken_.empty(); ++i) {
      const std::size_t n = ep_->poll(out);
      taken_.insert(taken_.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
    }
    if (taken_.empty()) {
      ADD_FAILURE() << "no completion";
      return Completion{};
    }
    const Completion c = taken_.front();
    taken_.erase(taken_.begin());
    return c;
  }

  // Polls until the endpoint throws; returns the message ("" when it never did).
  std::string error() {
    std::array<Completion, 4> out{};
    try {
      for (int i = 0; i < 100000; ++i) ep_->poll(out);
    } catch (const core::Error& e) {
      return e.what();
    }
    return "";
  }

  bool received(std::size_t offset, const std::vector<std::uint8_t>& want) const {
    return std::memcmp(memory_.data() + offset, want.data(), want.size()) == 0;
  }

  UniqueFd raw_;
  std::unique_ptr<TcpEndpoint> ep_;
  std::vector<Completion> taken_;  // polled, not yet returned by next()
  std::array<std::uint8_t, 4096> memory_{};
  MemoryRegion region_;
};

TEST_F(Framing, AWholeFrameAndTheFramesBehindItInOneRead) {
  const auto a = bytes(64, 1);
  const auto b = bytes(10, 2);
  std::vector<std::uint8_t> wire = frame(a, 11);
  const auto empty = frame({}, 12);
  const auto fb = frame(b, 13);
  wire.insert(wire.end(), empty.begin(), empty.end());
  wire.insert(wire.end(), fb.begin(), fb.end());
  write_raw(wire);  // all three in the socket before the first read
  post_recv(0, 64, 1);
  Completion c = next();
  EXPECT_EQ(c.wr_id, 1u);
  EXPECT_EQ(c.bytes, 64u);
  EXPECT_EQ(c.imm, 11u);
  EXPECT_TRUE(received(0, a));
  post_recv(100, 0, 2);  // a zero-byte receive takes the zero-byte frame
  post_recv(200, 16, 3);
  c = next();
  EXPECT_EQ(c.wr_id, 2u);
  EXPECT_EQ(c.bytes, 0u);
  EXPECT_EQ(c.imm, 12u);
  c = next();
  EXPECT_EQ(c.wr_id, 3u);
  EXPECT_EQ(c.bytes, 10u);
  EXPECT_EQ(c.imm, 13u);
  EXPECT_TRUE(received(200, b));
}

TEST_F(Framing, AFrameSplitAcrossReadsIsDeliveredWhole) {
  const auto a = bytes(64, 5);
  const auto wire = frame(a, 21);
  post_recv(0, 64, 1);
  std::array<Completion, 4> out{};
  // Header in two pieces, then the payload in two: nothing completes until the last byte.
  for (const auto& [from, to] : std::vector<std::pair<std::size_t, std::size_t>>{
           {0, 7}, {7, kHeaderBytes}, {kHeaderBytes, 40}}) {
    write_raw(std::vector<std::uint8_t>(wire.begin() + static_cast<std::ptrdiff_t>(from),
                                        wire.begin() + static_cast<std::ptrdiff_t>(to)));
    for (int i = 0; i < 100; ++i) ASSERT_EQ(ep_->poll(out), 0u);
  }
  write_raw(std::vector<std::uint8_t>(wire.begin() + 40, wire.end()));
  const Completion c = next();
  EXPECT_EQ(c.bytes, 64u);
  EXPECT_EQ(c.imm, 21u);
  EXPECT_TRUE(received(0, a));
}

TEST_F(Framing, AWholeFrameWithFlagsSetIsACorruptHeader) {
  write_raw(frame(bytes(8, 3), 1, /*flags=*/4));
  post_recv(0, 64, 1);
  const std::string message = error();
  EXPECT_NE(message.find("corrupt frame header from rank 1 (raw)"), std::string::npos) << message;
  EXPECT_NE(message.find("flags 4"), std::string::npos) << message;
}

TEST_F(Framing, AWholeFrameLargerThanTheReceiveIsRefused) {
  write_raw(frame(bytes(64, 4), 1));
  post_recv(0, 32, 7);
  const std::string message = error();
  EXPECT_NE(message.find("message of 64 bytes from rank 1 (raw) does not fit the posted receive "
                         "buffer of 32 bytes (wr_id 7)"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace fabricbench::transport::tcp
