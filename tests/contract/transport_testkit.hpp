#pragma once
// Helpers shared by the transport contract suite and the per-transport tests: data patterns,
// registered host buffers, a bounded completion drain and a two-rank in-process harness.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "harness/engine/bootstrap_exchange.hpp"
#include "tests/contract/inproc_bootstrap.hpp"
#include "transports/api/memory.hpp"
#include "transports/api/transport.hpp"

namespace fabricbench::testkit {

// Every wait in the tests is bounded by this; it is a hang guard, never a performance bound.
inline constexpr std::chrono::milliseconds kWaitLimit{20'000};

inline std::byte pattern_byte(std::size_t i, std::uint32_t seed) noexcept {
  const std::uint32_t x = static_cast<std::uint32_t>(i) * 2654435761u + seed * 40503u + seed;
  return static_cast<std::byte>((x >> 13) ^ (x >> 24));
}

inline void fill_pattern(std::byte* p, std::size_t n, std::uint32_t seed) noexcept {
  for (std::size_t i = 0; i < n; ++i) p[i] = pattern_byte(i, seed);
}

// Index of the first byte that differs from the pattern, or n when all match.
inline std::size_t pattern_mismatch(const std::byte* p, std::size_t n,
                                    std::uint32_t seed) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    if (p[i] != pattern_byte(i, seed)) return i;
  }
  return n;
}

// A host buffer registered with one transport, deregistered on destruction.
class RegisteredBuffer {
 public:
  RegisteredBuffer(transport::Transport& t, std::size_t bytes)
      : provider_(transport::make_memory_provider("host")),
        owned_(std::make_unique<transport::OwnedBuffer>(*provider_, bytes)),
        transport_(&t),
        region_(t.register_memory(owned_->get())) {}
  ~RegisteredBuffer() { transport_->deregister_memory(region_); }
  RegisteredBuffer(const RegisteredBuffer&) = delete;
  RegisteredBuffer& operator=(const RegisteredBuffer&) = delete;

  std::byte* data() const noexcept { return static_cast<std::byte*>(owned_->get().addr); }
  std::size_t size() const noexcept { return owned_->get().length; }
  const transport::MemoryRegion* region() const noexcept { return &region_; }

 private:
  std::unique_ptr<transport::MemoryProvider> provider_;
  std::unique_ptr<transport::OwnedBuffer> owned_;
  transport::Transport* transport_;
  transport::MemoryRegion region_;
};

inline transport::WorkRequest send_request(const RegisteredBuffer& b, std::size_t offset,
                                           std::size_t length, std::uint64_t wr_id,
                                           std::uint32_t imm = 0) {
  transport::WorkRequest r;
  r.op = transport::Op::send;
  r.wr_id = wr_id;
  r.local = b.region();
  r.offset = offset;
  r.length = length;
  r.imm = imm;
  return r;
}

inline transport::WorkRequest recv_request(const RegisteredBuffer& b, std::size_t offset,
                                           std::size_t length, std::uint64_t wr_id) {
  transport::WorkRequest r;
  r.op = transport::Op::recv;
  r.wr_id = wr_id;
  r.local = b.region();
  r.offset = offset;
  r.length = length;
  return r;
}

// Collects completions from one endpoint, bounded in time.
class Drain {
 public:
  explicit Drain(transport::Endpoint& ep) : ep_(&ep) {}

  // Waits until at least `sends` send and `recvs` recv completions were seen in total. Throws
  // std::runtime_error when kWaitLimit passes first; transport errors propagate.
  void until(std::size_t want_sends, std::size_t want_recvs,
             std::chrono::milliseconds limit = kWaitLimit) {
    const std::uint64_t deadline =
        core::now_ns() + static_cast<std::uint64_t>(limit.count()) * 1'000'000ULL;
    while (sends.size() < want_sends || recvs.size() < want_recvs) {
      once(50'000'000);
      if (core::now_ns() > deadline) {
        throw std::runtime_error(
            "test: timed out waiting for completions: " + std::to_string(sends.size()) + "/" +
            std::to_string(want_sends) + " sends, " + std::to_string(recvs.size()) + "/" +
            std::to_string(want_recvs) + " recvs");
      }
    }
  }

  // One wait(); returns how many completions it gave.
  std::size_t once(std::uint64_t timeout_ns) {
    transport::Completion out[32];
    const std::size_t n = ep_->wait(std::span<transport::Completion>(out), timeout_ns);
    for (std::size_t i = 0; i < n; ++i) {
      (out[i].op == transport::Op::recv ? recvs : sends).push_back(out[i]);
    }
    return n;
  }

  std::vector<transport::Completion> sends;
  std::vector<transport::Completion> recvs;

 private:
  transport::Endpoint* ep_;
};

// Keeps calling wait() on `ep` until it throws core::Error (returned) or kWaitLimit passes
// (std::runtime_error).
inline core::Error expect_error_from_wait(transport::Endpoint& ep,
                                          std::chrono::milliseconds limit = kWaitLimit) {
  const std::uint64_t deadline =
      core::now_ns() + static_cast<std::uint64_t>(limit.count()) * 1'000'000ULL;
  transport::Completion out[8];
  while (core::now_ns() < deadline) {
    try {
      ep.wait(std::span<transport::Completion>(out), 50'000'000);
    } catch (const core::Error& e) {
      return e;
    }
  }
  throw std::runtime_error("test: the endpoint reported no error within the time limit");
}

// Empty when a socket can bind ::1 here, else why not (containers often have no IPv6 loopback).
inline std::string ipv6_loopback_unavailable() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket(AF_INET6): ") + std::strerror(errno);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  const int err = errno;
  ::close(fd);
  return rc == 0 ? std::string() : std::string("bind [::1]: ") + std::strerror(err);
}

// One rank of a two-rank test.
struct RankSide {
  int rank = 0;
  int peer = 0;
  bootstrap::Bootstrap& bootstrap;
  transport::Transport& transport;
  std::vector<std::unique_ptr<transport::Endpoint>> endpoints;
};

using TransportMaker = std::function<std::unique_ptr<transport::Transport>(int rank)>;

// Runs two ranks as two threads: each makes its transport, connects `connections` endpoints to
// the other, runs body, then meets the other at a barrier before tearing down. Failures of
// either rank (exceptions) are reported as test failures naming the rank.
inline void run_pair(const TransportMaker& make, int connections,
                     const std::function<void(RankSide&)>& body) {
  const auto errors = run_ranks(2, [&](bootstrap::Bootstrap& bootstrap) {
    const int rank = bootstrap.rank();
    auto t = make(rank);
    RankSide side{rank, 1 - rank, bootstrap, *t, {}};
    engine::BootstrapExchange exchange(bootstrap);
    side.endpoints = t->connect(exchange, {side.peer}, connections);
    if (side.endpoints.size() != static_cast<std::size_t>(connections)) {
      throw std::runtime_error("connect returned " + std::to_string(side.endpoints.size()) +
                               " endpoints, expected " + std::to_string(connections));
    }
    body(side);
    bootstrap.barrier();
  });
  for (std::size_t r = 0; r < errors.size(); ++r) {
    if (!errors[r].empty()) ADD_FAILURE() << "rank " << r << ": " << errors[r];
  }
}

}  // namespace fabricbench::testkit
