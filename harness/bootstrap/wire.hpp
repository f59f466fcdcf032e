#pragma once
// The side channel's wire format (internal to harness/bootstrap; tests include it to play an
// impostor or a stranger). Nothing here touches a socket.
//
// Frame: magic "FBSC" (u32) | type (u8) | payload length (u64) | payload. Integers big-endian.
// Before a connection is authenticated its frames may carry at most kMaxHandshakePayload bytes,
// so a stranger cannot make rank 0 allocate memory.
//
// Handshake (rank 0 is the hub), frames as above:
//   hub  -> peer  challenge {version, hub nonce}
//   peer -> hub   hello     {version, rank, size, pid, host, peer nonce,
//                            HMAC(secret, "peer" | version | hub nonce | peer nonce | rank | size)}
//   hub  -> peer  welcome   {pid, host,
//                            HMAC(secret, "root" | version | hub nonce | peer nonce | rank | size)}
//              or reject    {reason}
// A version other than kVersion is refused (hub: a reject naming both versions; peer: an error).
//
// Every frame after the welcome is sealed: its payload is followed by a 32-byte MAC trailer,
// and the header's length counts the trailer (take_frame sees payload | MAC; open_frame checks
// and strips it):
//   session key = HMAC(secret, "session" | version | hub nonce | peer nonce | rank | size)
//   trailer     = HMAC(session key, direction | sequence | type | payload)
// direction is "hub to peer" or "peer to hub" and sequence (u64) counts the sealed frames sent
// in that direction on that connection, from 0; it is not on the wire, both ends count it. So a
// forged, altered, replayed, reordered or dropped frame fails verification (the labels "peer",
// "root" and "session" keep the handshake's proofs and the key apart; the session key never
// travels). The side channel treats a frame that fails as a broken connection from its sender.
//   hub  -> peers ready     {pid and host of every rank}       once every rank has joined
// Collectives: every rank sends contrib {seq, op, root, data} to the hub, the hub answers
// result {seq, op, body}. abort {kind, message} fails the receiver; bye announces a clean close.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fabricbench::bootstrap::wire {

inline constexpr std::uint32_t kMagic = 0x46425343;  // "FBSC"
inline constexpr std::uint32_t kVersion = 2;         // 2: sealed frames after the handshake
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

// ---- Sealed frames (after the handshake; see the top of this file) ----

// Which way a sealed frame travels; part of what its MAC covers.
enum class Direction : std::uint8_t { hub_to_peer = 1, peer_to_hub = 2 };

// The connection's session key (never sent).
std::string session_key(std::string_view secret, std::string_view hub_nonce,
                        std::string_view peer_nonce, std::uint32_t rank, std::uint32_t size);

// A session key ready to MAC frames: an HMAC-SHA256 context keyed once and copied per frame.
class FrameKey {
 public:
  explicit FrameKey(std::string_view key);
  ~FrameKey();
  FrameKey(FrameKey&&) noexcept;
  FrameKey& operator=(FrameKey&&) noexcept;
  FrameKey(const FrameKey&) = delete;
  FrameKey& operator=(const FrameKey&) = delete;

  // HMAC(key, direction | seq | type | payload), kMacBytes bytes.
  std::string mac(Direction direction, std::uint64_t seq, Type type,
                  std::string_view payload) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The header (announcing payload plus the MAC trailer) and the payload of a sealed frame: the
// part that is the same for every connection, so one payload may be queued to many of them.
std::string sealed_head(Type type, std::string_view payload);
// sealed_head(type, payload) followed by the trailer: the whole sealed frame.
std::string seal_frame(const FrameKey& key, Direction direction, std::uint64_t seq, Type type,
                       std::string_view payload);
// Checks the MAC trailer of a sealed frame that take_frame returned (constant time) and strips
// it; false, leaving the frame as it was, when the frame is shorter than a MAC or the MAC does
// not match (forged, altered, replayed, reordered, or a frame before it was dropped).
bool open_frame(const FrameKey& key, Direction direction, std::uint64_t seq, Frame& frame);

// Both directions of one connection after the handshake: the key and the two sequence numbers.
class Session {
 public:
  Session(std::string_view key, Direction sending);

  // The next frame this end sends, sealed (counts it).
  std::string seal(Type type, std::string_view payload);
  // The MAC trailer of the next frame this end sends, whose sealed_head is queued separately
  // (counts it).
  std::string trailer(Type type, std::string_view payload);
  // Verifies and strips the next received frame's trailer (open_frame); counts it only when it
  // passes (the side channel gives the connection up at the first failure).
  bool open(Frame& frame);

  std::uint64_t sent() const noexcept { return sent_; }
  std::uint64_t received() const noexcept { return received_; }

 private:
  FrameKey key_;
  Direction sending_;
  Direction receiving_;
  std::uint64_t sent_ = 0;
  std::uint64_t received_ = 0;
};

}  // namespace fabricbench::bootstrap::wire
