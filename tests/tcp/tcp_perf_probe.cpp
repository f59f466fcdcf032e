// Manual efficiency probe for the TCP transport (not a test; built on request only):
//   tcp_perf_probe pingpong [iterations] [size]     busy-poll ping-pong, half-RTT percentiles
//   tcp_perf_probe stream [seconds] [size] [window] [blocking] one-way stream, Gb/s
// Compare with `sockperf ping-pong --tcp --nonblocked` and `iperf3` run on the same host at the
// same time (ci/compare-tcp.sh style). Two ranks are two threads with the in-process bootstrap.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "harness/engine/bootstrap_exchange.hpp"
#include "tests/contract/inproc_bootstrap.hpp"
#include "transports/api/memory.hpp"
#include "transports/tcp/tcp_transport.hpp"

namespace tb = fabricbench;
using tb::transport::Completion;
using tb::transport::WorkRequest;

namespace {

struct Setup {
  std::unique_ptr<tb::transport::Transport> transport;
  std::vector<std::unique_ptr<tb::transport::Endpoint>> endpoints;
  std::unique_ptr<tb::transport::MemoryProvider> memory =
      tb::transport::make_memory_provider("host");
};

Setup open(tb::bootstrap::Bootstrap& b,
           tb::transport::CompletionMode mode = tb::transport::CompletionMode::busy_poll) {
  Setup s;
  tb::transport::tcp::Options o;
  o.completion = mode;
  s.transport = tb::transport::tcp::make_tcp_transport(o);
  tb::engine::BootstrapExchange exchange(b);
  s.endpoints = s.transport->connect(exchange, {1 - b.rank()}, 1);
  return s;
}

std::size_t drain(tb::transport::Endpoint& ep, std::size_t want, Completion* out) {
  std::size_t got = 0;
  while (got < want) got += ep.poll(std::span<Completion>(out + got, 64));
  return got;
}

void pingpong(long iterations, std::size_t size) {
  std::vector<std::uint64_t> rtt(static_cast<std::size_t>(iterations));
  const auto errors = tb::testkit::run_ranks(2, [&](tb::bootstrap::Bootstrap& b) {
    Setup s = open(b);
    auto& ep = *s.endpoints[0];
    tb::transport::OwnedBuffer buf(*s.memory, 2 * size + 64);
    const auto region = s.transport->register_memory(buf.get());
    WorkRequest send{};
    send.op = tb::transport::Op::send;
    send.local = &region;
    send.length = size;
    send.signaled = false;  // like sockperf: only the reply matters
    WorkRequest recv{};
    recv.op = tb::transport::Op::recv;
    recv.local = &region;
    recv.offset = size + 64;
    recv.length = size;
    Completion out[64];
    ep.post(recv);
    b.barrier();
    const long warmup = iterations / 10;
    for (long i = -warmup; i < iterations; ++i) {
      if (b.rank() == 0) {
        const std::uint64_t t0 = tb::core::now_ns();
        ep.post(send);
        drain(ep, 1, out);
        ep.post(recv);
        if (i >= 0) rtt[static_cast<std::size_t>(i)] = tb::core::now_ns() - t0;
      } else {
        drain(ep, 1, out);
        ep.post(recv);
        ep.post(send);
      }
    }
    b.barrier();
  });
  for (const auto& e : errors) {
    if (!e.empty()) std::fprintf(stderr, "error: %s\n", e.c_str());
  }
  std::sort(rtt.begin(), rtt.end());
  auto pct = [&](double p) {
    return static_cast<double>(
               rtt[static_cast<std::size_t>(p * static_cast<double>(rtt.size() - 1))]) /
           2000.0;
  };
  std::printf("pingpong size=%zu iterations=%ld half-rtt us: p50=%.3f p90=%.3f p99=%.3f avg=%.3f\n",
              size, iterations, pct(0.5), pct(0.9), pct(0.99), [&] {
                double sum = 0;
                for (auto v : rtt) sum += static_cast<double>(v);
                return sum / static_cast<double>(rtt.size()) / 2000.0;
              }());
}

// Baseline: the same ping-pong on a plain non-blocking TCP socket pair with send()/recv(), as
// sockperf --nonblocked does it, on the same threads: the transport's own cost is the difference.
void raw_pingpong(long iterations, std::size_t size) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(listener, 1);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  const int c = ::socket(AF_INET, SOCK_STREAM, 0);
  ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
  const int s = ::accept(listener, nullptr, nullptr);
  ::close(listener);
  const int one = 1;
  for (const int fd : {c, s}) {
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
  }
  std::vector<std::uint64_t> rtt(static_cast<std::size_t>(iterations));
  const long warmup = iterations / 10;
  auto recv_all = [size](int fd, char* buf) {
    std::size_t got = 0;
    while (got < size) {
      const ssize_t n = ::recv(fd, buf + got, size - got, 0);
      if (n > 0) got += static_cast<std::size_t>(n);
    }
  };
  std::thread server([&] {
    std::vector<char> buf(size);
    for (long i = -warmup; i < iterations; ++i) {
      recv_all(s, buf.data());
      ::send(s, buf.data(), size, MSG_NOSIGNAL);
    }
  });
  std::vector<char> buf(size);
  for (long i = -warmup; i < iterations; ++i) {
    const std::uint64_t t0 = tb::core::now_ns();
    ::send(c, buf.data(), size, MSG_NOSIGNAL);
    recv_all(c, buf.data());
    if (i >= 0) rtt[static_cast<std::size_t>(i)] = tb::core::now_ns() - t0;
  }
  server.join();
  ::close(c);
  ::close(s);
  std::sort(rtt.begin(), rtt.end());
  std::printf("raw-pingpong size=%zu iterations=%ld half-rtt us: p50=%.3f p90=%.3f\n", size,
              iterations, static_cast<double>(rtt[rtt.size() / 2]) / 2000.0,
              static_cast<double>(rtt[rtt.size() * 9 / 10]) / 2000.0);
}

void stream(double seconds, std::size_t size, std::size_t window, bool blocking) {
  double gbps = 0;
  const auto errors = tb::testkit::run_ranks(2, [&](tb::bootstrap::Bootstrap& b) {
    Setup s = open(b, blocking ? tb::transport::CompletionMode::blocking
                               : tb::transport::CompletionMode::busy_poll);
    auto& ep = *s.endpoints[0];
    tb::transport::OwnedBuffer buf(*s.memory, size * window);
    const auto region = s.transport->register_memory(buf.get());
    WorkRequest r{};
    r.local = &region;
    r.length = size;
    Completion out[64];
    std::uint64_t stop_flag = 0;
    if (b.rank() == 1) {
      r.op = tb::transport::Op::recv;
      for (std::size_t i = 0; i < window; ++i) {
        r.offset = i * size;
        r.wr_id = i;
        ep.post(r);
      }
    }
    b.barrier();
    const std::uint64_t start = tb::core::now_ns();
    const auto end = start + static_cast<std::uint64_t>(seconds * 1e9);
    std::uint64_t messages = 0;
    if (b.rank() == 0) {
      r.op = tb::transport::Op::send;
      std::size_t inflight = 0;
      std::uint64_t posted = 0;
      bool stopping = false;
      while (true) {
        while (!stopping && inflight < window) {
          r.offset = (posted % window) * size;
          r.imm = 0;
          if (tb::core::now_ns() >= end) {
            r.imm = 1;  // last message
            stopping = true;
          }
          ep.post(r);
          ++posted;
          ++inflight;
        }
        const std::size_t n = ep.wait(std::span<Completion>(out), 1'000'000'000);
        inflight -= n;
        messages += n;
        if (stopping && inflight == 0) break;
      }
    } else {
      while (stop_flag == 0) {
        const std::size_t n = ep.wait(std::span<Completion>(out), 1'000'000'000);
        for (std::size_t i = 0; i < n; ++i) {
          ++messages;
          if (out[i].imm == 1) stop_flag = 1;
          r.offset = out[i].wr_id * size;
          r.wr_id = out[i].wr_id;
          ep.post(r);
        }
      }
      const double elapsed = static_cast<double>(tb::core::now_ns() - start) / 1e9;
      gbps = static_cast<double>(messages * size) * 8 / elapsed / 1e9;
    }
    b.barrier();
  });
  for (const auto& e : errors) {
    if (!e.empty()) std::fprintf(stderr, "error: %s\n", e.c_str());
  }
  std::printf("stream size=%zu window=%zu seconds=%.1f receiver Gb/s=%.2f\n", size, window, seconds,
              gbps);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "pingpong";
  if (mode == "pingpong") {
    pingpong(argc > 2 ? std::atol(argv[2]) : 200000,
             argc > 3 ? static_cast<std::size_t>(std::atol(argv[3])) : 64);
  } else if (mode == "raw-pingpong") {
    raw_pingpong(argc > 2 ? std::atol(argv[2]) : 200000,
                 argc > 3 ? static_cast<std::size_t>(std::atol(argv[3])) : 64);
  } else if (mode == "stream") {
    stream(argc > 2 ? std::atof(argv[2]) : 5.0,
           argc > 3 ? static_cast<std::size_t>(std::atol(argv[3])) : 128 * 1024,
           argc > 4 ? static_cast<std::size_t>(std::atol(argv[4])) : 16,
           argc > 5 && std::string(argv[5]) == "blocking");
  } else {
    std::fprintf(stderr,
                 "usage: tcp_perf_probe pingpong|raw-pingpong [iterations] [size] | stream "
                 "[seconds] [size] [window]\n");
    return 2;
  }
  return 0;
}
