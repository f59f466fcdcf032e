#include "transports/api/wire.hpp"

#include <random>

#include "core/clock.hpp"

namespace fabricbench::transport::wire {

HelloBytes encode_hello(std::uint32_t magic, std::uint16_t version, const Hello& h) noexcept {
  HelloBytes b{};
  put_le(b.data(), 4, magic);
  put_le(b.data() + 4, 2, version);
  put_le(b.data() + 6, 2, h.kind);
  put_le(b.data() + 8, 4, h.rank);
  put_le(b.data() + 12, 4, h.index);
  put_le(b.data() + 16, 8, h.acceptor_token);
  put_le(b.data() + 24, 8, h.connector_token);
  return b;
}

bool decode_hello(const HelloBytes& b, std::uint32_t magic, std::uint16_t version,
                  Hello& h) noexcept {
  if (get_le(b.data(), 4) != magic || get_le(b.data() + 4, 2) != version) return false;
  h.kind = static_cast<std::uint16_t>(get_le(b.data() + 6, 2));
  h.rank = static_cast<std::uint32_t>(get_le(b.data() + 8, 4));
  h.index = static_cast<std::uint32_t>(get_le(b.data() + 12, 4));
  h.acceptor_token = get_le(b.data() + 16, 8);
  h.connector_token = get_le(b.data() + 24, 8);
  return true;
}

bool is_hello_for(const Hello& h, std::uint16_t kind, int me, std::size_t connections,
                  std::uint64_t token) noexcept {
  return h.kind == kind && h.rank < static_cast<std::uint32_t>(me) && h.index < connections &&
         h.acceptor_token == token;
}

Hello answer(const Hello& hello, std::uint16_t kind, int me) noexcept {
  return Hello{kind, static_cast<std::uint32_t>(me), hello.index, hello.acceptor_token,
               hello.connector_token};
}

bool answers(const Hello& reply, const Hello& sent, std::uint16_t kind, int peer) noexcept {
  return reply.kind == kind && reply.rank == static_cast<std::uint32_t>(peer) &&
         reply.index == sent.index && reply.acceptor_token == sent.acceptor_token &&
         reply.connector_token == sent.connector_token;
}

std::uint64_t random_token() {
  std::random_device device;
  const std::uint64_t hi = device();
  const std::uint64_t lo = device();
  return (hi << 32) ^ lo ^ (core::now_ns() * 0x9e3779b97f4a7c15ULL);
}

}  // namespace fabricbench::transport::wire
