#pragma once
// The transports' small set-up messages (internal to transports/): little-endian fields, and the
// 32-byte hello that matches a connection to (rank, connection index) with both sides' random
// tokens, so a stranger that does not know them is never admitted (tcp connections, the verbs
// transport's control connections).
//
// Hello layout: u32 magic, u16 version, u16 kind, u32 rank (the sender's), u32 index,
// u64 acceptor_token, u64 connector_token. Each user has its own magic and kinds.
#include <array>
#include <cstddef>
#include <cstdint>

namespace fabricbench::transport::wire {

// `width` (1..8) bytes of v at b, least significant first. Byte: std::byte or an 8-bit integer.
template <class Byte>
void put_le(Byte* b, std::size_t width, std::uint64_t v) noexcept {
  for (std::size_t i = 0; i < width; ++i) b[i] = static_cast<Byte>((v >> (8 * i)) & 0xff);
}
template <class Byte>
std::uint64_t get_le(const Byte* b, std::size_t width) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) v |= static_cast<std::uint64_t>(b[i]) << (8 * i);
  return v;
}

inline constexpr std::size_t kHelloBytes = 32;
using HelloBytes = std::array<std::byte, kHelloBytes>;

struct Hello {
  std::uint16_t kind = 0;
  std::uint32_t rank = 0;   // the sender's rank
  std::uint32_t index = 0;  // connection index within the pair
  std::uint64_t acceptor_token = 0;
  std::uint64_t connector_token = 0;
};

HelloBytes encode_hello(std::uint32_t magic, std::uint16_t version, const Hello& h) noexcept;
// False when the magic or version differ (not this protocol); the kind is the caller's to check.
bool decode_hello(const HelloBytes& b, std::uint32_t magic, std::uint16_t version,
                  Hello& h) noexcept;

// One user's hellos: encode_hello / decode_hello with its magic and version.
struct HelloCodec {
  std::uint32_t magic = 0;
  std::uint16_t version = 0;
  HelloBytes encode(const Hello& h) const noexcept { return encode_hello(magic, version, h); }
  bool decode(const HelloBytes& b, Hello& h) const noexcept {
    return decode_hello(b, magic, version, h);
  }
};

// Whether an acceptor of rank `me` may admit `h`: of `kind`, from a lower rank, for a connection
// index below `connections`, naming `token` (the acceptor's own) as the acceptor's token. Which
// peer sent it, and whether its connector token is that peer's, is the caller's to check.
bool is_hello_for(const Hello& h, std::uint16_t kind, int me, std::size_t connections,
                  std::uint64_t token) noexcept;
// The acceptor's (rank `me`) answer to an admitted `hello`: `kind`, the same index and tokens.
Hello answer(const Hello& hello, std::uint16_t kind, int me) noexcept;
// Whether `reply` is rank `peer`'s answer of `kind` to the hello `sent` to it.
bool answers(const Hello& reply, const Hello& sent, std::uint16_t kind, int peer) noexcept;

// 64 unpredictable bits for a token (std::random_device, mixed with the monotonic clock).
std::uint64_t random_token();

}  // namespace fabricbench::transport::wire
