#include "harness/bootstrap/wire.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <climits>
#include <memory>

#include "core/error.hpp"

namespace fabricbench::bootstrap::wire {

namespace {

std::uint64_t load_be(std::string_view in, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  }
  return v;
}

void store_be(std::string& out, std::uint64_t v, std::size_t n) {
  for (std::size_t i = n; i > 0; --i) {
    out.push_back(static_cast<char>((v >> (8 * (i - 1))) & 0xff));
  }
}

bool known_type(std::uint8_t t) {
  return t >= static_cast<std::uint8_t>(Type::challenge) &&
         t <= static_cast<std::uint8_t>(Type::bye);
}

std::string proof(std::string_view label, std::string_view secret, std::string_view hub_nonce,
                  std::string_view peer_nonce, std::uint32_t rank, std::uint32_t size) {
  Writer w;
  w.bytes("fabricbench-side-channel/")
      .bytes(label)
      .u32(kVersion)
      .bytes(hub_nonce)
      .bytes(peer_nonce);
  w.u32(rank).u32(size);
  return hmac_sha256(secret, w.take());
}

[[noreturn]] void hmac_failed() {
  throw core::Error(core::ErrorKind::runtime, "bootstrap: HMAC-SHA256 failed (OpenSSL)");
}

struct MacDeleter {
  void operator()(EVP_MAC* mac) const noexcept { EVP_MAC_free(mac); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }
};
using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

EVP_MAC* hmac_algorithm() {
  static const std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) hmac_failed();
  return mac.get();
}

void mac_update(EVP_MAC_CTX* ctx, std::string_view data) {
  if (EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    hmac_failed();
  }
}

std::string_view direction_label(Direction d) {
  return d == Direction::hub_to_peer ? "hub to peer" : "peer to hub";
}

}  // namespace

std::string encode_frame(Type type, std::string_view payload) {
  std::string out;
  out.reserve(kHeaderBytes + payload.size());
  store_be(out, kMagic, 4);
  out.push_back(static_cast<char>(type));
  store_be(out, payload.size(), 8);
  out.append(payload);
  return out;
}

std::optional<std::uint64_t> peek_payload_length(const std::string& buf, std::size_t pos) {
  if (buf.size() < pos || buf.size() - pos < kHeaderBytes) return std::nullopt;
  return load_be(std::string_view(buf).substr(pos + 5, 8), 8);
}

std::optional<Frame> take_frame(const std::string& buf, std::size_t& pos,
                                std::uint64_t max_payload) {
  const std::string_view view(buf);
  if (view.size() < pos) return std::nullopt;
  const std::size_t avail = view.size() - pos;
  // Check the magic as soon as its bytes are there, so garbage is refused early.
  const std::size_t magic_bytes = avail < 4 ? avail : 4;
  for (std::size_t i = 0; i < magic_bytes; ++i) {
    const auto expected = static_cast<unsigned char>((kMagic >> (8 * (3 - i))) & 0xff);
    if (static_cast<unsigned char>(view[pos + i]) != expected) {
      throw MalformedFrame("bad frame magic (not a fabricbench side channel)");
    }
  }
  if (avail < kHeaderBytes) return std::nullopt;
  const auto type = static_cast<std::uint8_t>(view[pos + 4]);
  if (!known_type(type)) {
    throw MalformedFrame("unknown frame type " + std::to_string(type));
  }
  const std::uint64_t length = load_be(view.substr(pos + 5, 8), 8);
  if (length > max_payload) {
    throw MalformedFrame("frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                         std::to_string(max_payload));
  }
  if (avail - kHeaderBytes < length) return std::nullopt;
  Frame frame{static_cast<Type>(type),
              std::string(view.substr(pos + kHeaderBytes, static_cast<std::size_t>(length)))};
  pos += kHeaderBytes + static_cast<std::size_t>(length);
  return frame;
}

Writer& Writer::u8(std::uint8_t v) {
  out_.push_back(static_cast<char>(v));
  return *this;
}
Writer& Writer::u32(std::uint32_t v) {
  store_be(out_, v, 4);
  return *this;
}
Writer& Writer::u64(std::uint64_t v) {
  store_be(out_, v, 8);
  return *this;
}
Writer& Writer::bytes(std::string_view v) {
  store_be(out_, v.size(), 8);
  out_.append(v);
  return *this;
}

std::string_view Reader::need(std::size_t n) {
  if (in_.size() - pos_ < n) throw MalformedFrame("truncated message");
  const std::string_view out = in_.substr(pos_, n);
  pos_ += n;
  return out;
}
std::uint8_t Reader::u8() {
  return static_cast<std::uint8_t>(load_be(need(1), 1));
}
std::uint32_t Reader::u32() {
  return static_cast<std::uint32_t>(load_be(need(4), 4));
}
std::uint64_t Reader::u64() {
  return load_be(need(8), 8);
}
std::string Reader::bytes() {
  const std::uint64_t n = u64();
  if (n > in_.size() - pos_) throw MalformedFrame("truncated message");
  return std::string(need(static_cast<std::size_t>(n)));
}
std::string Reader::rest() {
  return std::string(need(in_.size() - pos_));
}
void Reader::expect_done() const {
  if (!done()) throw MalformedFrame("trailing bytes in message");
}

std::string encode(const Challenge& m) {
  return Writer().u32(m.version).bytes(m.nonce).take();
}
std::string encode(const Hello& m) {
  return Writer()
      .u32(m.version)
      .u32(m.rank)
      .u32(m.size)
      .u64(m.pid)
      .bytes(m.host)
      .bytes(m.nonce)
      .bytes(m.mac)
      .take();
}
std::string encode(const Welcome& m) {
  return Writer().u64(m.pid).bytes(m.host).bytes(m.mac).take();
}
std::string encode_reject(std::string_view reason) {
  return Writer().bytes(reason).take();
}
std::string encode_ready(const std::vector<Member>& members) {
  Writer w;
  w.u32(static_cast<std::uint32_t>(members.size()));
  for (const auto& m : members) w.u64(m.pid).bytes(m.host);
  return w.take();
}
std::string encode(const Contrib& m) {
  return Writer().u64(m.seq).u8(static_cast<std::uint8_t>(m.op)).u32(m.root).bytes(m.data).take();
}
std::string encode(const Abort& m) {
  return Writer().u8(m.kind).bytes(m.message).take();
}

Challenge decode_challenge(std::string_view payload) {
  Reader r(payload);
  Challenge m;
  m.version = r.u32();
  m.nonce = r.bytes();
  r.expect_done();
  return m;
}
Hello decode_hello(std::string_view payload) {
  Reader r(payload);
  Hello m;
  m.version = r.u32();
  m.rank = r.u32();
  m.size = r.u32();
  m.pid = r.u64();
  m.host = r.bytes();
  m.nonce = r.bytes();
  m.mac = r.bytes();
  r.expect_done();
  return m;
}
Welcome decode_welcome(std::string_view payload) {
  Reader r(payload);
  Welcome m;
  m.pid = r.u64();
  m.host = r.bytes();
  m.mac = r.bytes();
  r.expect_done();
  return m;
}
std::string decode_reject(std::string_view payload) {
  Reader r(payload);
  std::string reason = r.bytes();
  r.expect_done();
  return reason;
}
std::vector<Member> decode_ready(std::string_view payload) {
  Reader r(payload);
  const std::uint32_t n = r.u32();
  std::vector<Member> members;
  for (std::uint32_t i = 0; i < n; ++i) {
    Member m;
    m.pid = r.u64();
    m.host = r.bytes();
    members.push_back(std::move(m));
  }
  r.expect_done();
  return members;
}
Contrib decode_contrib(std::string_view payload) {
  Reader r(payload);
  Contrib m;
  m.seq = r.u64();
  const std::uint8_t op = r.u8();
  if (op < static_cast<std::uint8_t>(Op::barrier) || op > static_cast<std::uint8_t>(Op::gather)) {
    throw MalformedFrame("unknown collective " + std::to_string(op));
  }
  m.op = static_cast<Op>(op);
  m.root = r.u32();
  m.data = r.bytes();
  r.expect_done();
  return m;
}
Abort decode_abort(std::string_view payload) {
  Reader r(payload);
  Abort m;
  m.kind = r.u8();
  m.message = r.bytes();
  r.expect_done();
  return m;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (n > static_cast<std::size_t>(INT_MAX) ||
      RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw core::Error(core::ErrorKind::runtime,
                      "bootstrap: the OpenSSL random generator failed (RAND_bytes)");
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (key.size() > static_cast<std::size_t>(INT_MAX) ||
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
           &mac_len) == nullptr) {
    throw core::Error(core::ErrorKind::runtime, "bootstrap: HMAC-SHA256 failed (OpenSSL)");
  }
  return std::string(reinterpret_cast<const char*>(mac), mac_len);
}

bool macs_equal(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string peer_proof(std::string_view secret, std::string_view hub_nonce,
                       std::string_view peer_nonce, std::uint32_t rank, std::uint32_t size) {
  return proof("peer", secret, hub_nonce, peer_nonce, rank, size);
}
std::string root_proof(std::string_view secret, std::string_view hub_nonce,
                       std::string_view peer_nonce, std::uint32_t rank, std::uint32_t size) {
  return proof("root", secret, hub_nonce, peer_nonce, rank, size);
}

std::string session_key(std::string_view secret, std::string_view hub_nonce,
                        std::string_view peer_nonce, std::uint32_t rank, std::uint32_t size) {
  return proof("session", secret, hub_nonce, peer_nonce, rank, size);
}

struct FrameKey::Impl {
  MacCtx keyed;  // initialised with the key; copied for each frame
};

FrameKey::FrameKey(std::string_view key) : impl_(std::make_unique<Impl>()) {
  impl_->keyed.reset(EVP_MAC_CTX_new(hmac_algorithm()));
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  if (!impl_->keyed ||
      EVP_MAC_init(impl_->keyed.get(), reinterpret_cast<const unsigned char*>(key.data()),
                   key.size(), params) != 1) {
    hmac_failed();
  }
}
FrameKey::~FrameKey() = default;
FrameKey::FrameKey(FrameKey&&) noexcept = default;
FrameKey& FrameKey::operator=(FrameKey&&) noexcept = default;

std::string FrameKey::mac(Direction direction, std::uint64_t seq, Type type,
                          std::string_view payload) const {
  const MacCtx ctx(EVP_MAC_CTX_dup(impl_->keyed.get()));
  if (!ctx) hmac_failed();
  std::string prefix = Writer().bytes(direction_label(direction)).u64(seq).take();
  prefix.push_back(static_cast<char>(type));
  mac_update(ctx.get(), prefix);
  mac_update(ctx.get(), payload);
  std::string out(kMacBytes, '\0');
  std::size_t len = 0;
  if (EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, out.size()) !=
          1 ||
      len != kMacBytes) {
    hmac_failed();
  }
  return out;
}

std::string sealed_head(Type type, std::string_view payload) {
  std::string out;
  out.reserve(kHeaderBytes + payload.size() + kMacBytes);
  store_be(out, kMagic, 4);
  out.push_back(static_cast<char>(type));
  store_be(out, payload.size() + kMacBytes, 8);
  out.append(payload);
  return out;
}

std::string seal_frame(const FrameKey& key, Direction direction, std::uint64_t seq, Type type,
                       std::string_view payload) {
  std::string out = sealed_head(type, payload);
  out += key.mac(direction, seq, type, payload);
  return out;
}

bool open_frame(const FrameKey& key, Direction direction, std::uint64_t seq, Frame& frame) {
  if (frame.payload.size() < kMacBytes) return false;
  const std::size_t body = frame.payload.size() - kMacBytes;
  const std::string_view view(frame.payload);
  if (!macs_equal(view.substr(body), key.mac(direction, seq, frame.type, view.substr(0, body)))) {
    return false;
  }
  frame.payload.resize(body);
  return true;
}

Session::Session(std::string_view key, Direction sending)
    : key_(key),
      sending_(sending),
      receiving_(sending == Direction::hub_to_peer ? Direction::peer_to_hub
                                                   : Direction::hub_to_peer) {}

std::string Session::seal(Type type, std::string_view payload) {
  std::string out = seal_frame(key_, sending_, sent_, type, payload);
  ++sent_;
  return out;
}

std::string Session::trailer(Type type, std::string_view payload) {
  std::string out = key_.mac(sending_, sent_, type, payload);
  ++sent_;
  return out;
}

bool Session::open(Frame& frame) {
  if (!open_frame(key_, receiving_, received_, frame)) return false;
  ++received_;
  return true;
}

}  // namespace fabricbench::bootstrap::wire
