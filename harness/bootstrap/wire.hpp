#pragma once
// The side channel's wire format (internal to harness/bootstrap; tests include it to play an
// impostor or a stranger). Nothing here touches a socket.
//
// Frame: magic "FBSC" (u32) | type (u8) | payload length (u64) | payload. Integers big-endian.
// Before a connection is authenticated its frames may carry at most kMaxHandshakePayload bytes,
// so a stranger cannot make rank 0 allocate memory.
//
// Handshake (rank 0 is the hub):
//   hub  -> peer  challenge {version, hub nonce}
//   peer -> hub   hello     {version, rank, size, pid, host, peer nonce,
//                            HMAC(secret, "peer" | version | hub nonce | peer nonce | rank | size)}
//   hub  -> peer  welcome   {pid, host,
//                            HMAC(secret, "root" | version | hub nonce | peer nonce | rank | size)}
//              or reject    {reason}
//   hub  -> peers ready     {pid and host of every rank}       once every rank has joined
// Collectives: every rank sends contrib {seq, op, root, data} to the hub, the hub answers
// result {seq, op, body}. abort {kind, message} fails the receiver; bye announces a clean close.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fabricbench::bootstrap::wire {

inline constexpr std::uint32_t kMagic = 0x46425343;  // "FBSC"
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::size_t kHeaderBytes = 13;
inline constexpr std::size_t kNonceBytes = 32;
inline constexpr std::size_t kMacBytes = 32;
inline constexpr std::uint64_t kMaxHandshakePayload = 4096;
inline constexpr std::uint64_t kMaxPayload = std::uint64_t{1} << 31;  // 2 GiB

enum class Type : std::uint8_t {
  challenge = 1,
  hello = 2,
  welcome = 3,
  reject = 4,
  ready = 5,
  contrib = 6,
  result = 7,
  abort = 8,
  bye = 9,
};

// The collective a contrib/result frame belongs to.
enum class Op : std::uint8_t { barrier = 1, allgather = 2, broadcast = 3, gather = 4 };

// A frame or payload that does not parse (bad magic, unknown type, too long, truncated).
class MalformedFrame : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Frame {
  Type type{};
  std::string payload;
};

// Header + payload, ready to send.
std::string encode_frame(Type type, std::string_view payload);

// Takes one complete frame from buf[pos...], advancing pos; std::nullopt when more bytes are
// needed. Throws MalformedFrame.
std::optional<Frame> take_frame(const std::string& buf, std::size_t& pos,
                                std::uint64_t max_payload);
// The payload length a complete header at buf[pos...] announces (to reserve memory), if any.
std::optional<std::uint64_t> peek_payload_length(const std::string& buf, std::size_t pos);

class Writer {
 public:
  Writer& u8(std::uint8_t v);
  Writer& u32(std::uint32_t v);
  Writer& u64(std::uint64_t v);
  Writer& bytes(std::string_view v);  // u64 length + bytes
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::uint8_t u8();
  std::uint32_t u32();
  std::uint64_t u64();
  std::string bytes();
  std::string rest();  // everything not read yet
  bool done() const noexcept { return pos_ == in_.size(); }
  void expect_done() const;  // throws MalformedFrame on trailing bytes

 private:
  std::string_view need(std::size_t n);
  std::string_view in_;
  std::size_t pos_ = 0;
};

struct Challenge {
  std::uint32_t version = kVersion;
  std::string nonce;
};
struct Hello {
  std::uint32_t version = kVersion;
  std::uint32_t rank = 0;
  std::uint32_t size = 0;
  std::uint64_t pid = 0;
  std::string host;
  std::string nonce;
  std::string mac;
};
struct Welcome {
  std::uint64_t pid = 0;
  std::string host;
  std::string mac;
};
struct Member {
  std::uint64_t pid = 0;
  std::string host;
};
struct Contrib {
  std::uint64_t seq = 0;
  Op op = Op::barrier;
  std::uint32_t root = 0;
  std::string data;
};
struct Abort {
  std::uint8_t kind = 0;  // core::ErrorKind as a number
  std::string message;
};

std::string encode(const Challenge& m);
std::string encode(const Hello& m);
std::string encode(const Welcome& m);
std::string encode_reject(std::string_view reason);
std::string encode_ready(const std::vector<Member>& members);
std::string encode(const Contrib& m);
std::string encode(const Abort& m);

Challenge decode_challenge(std::string_view payload);
Hello decode_hello(std::string_view payload);
Welcome decode_welcome(std::string_view payload);
std::string decode_reject(std::string_view payload);
std::vector<Member> decode_ready(std::string_view payload);
Contrib decode_contrib(std::string_view payload);
Abort decode_abort(std::string_view payload);

// OpenSSL: cryptographically random bytes; throws core::Error(runtime) when the RNG fails.
std::string random_bytes(std::size_t n);
std::string hmac_sha256(std::string_view key, std::string_view data);
// Constant-time comparison (CRYPTO_memcmp); false when lengths differ.
bool macs_equal(std::string_view a, std::string_view b) noexcept;

// The proofs of the handshake (see the top of this file).
std::string peer_proof(std::string_view secret, std::string_view hub_nonce,
                       std::string_view peer_nonce, std::uint32_t rank, std::uint32_t size);
std::string root_proof(std::string_view secret, std::string_view hub_nonce,
                       std::string_view peer_nonce, std::uint32_t rank, std::uint32_t size);

}  // namespace fabricbench::bootstrap::wire
