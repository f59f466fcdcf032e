// Manual efficiency probe for the verbs transport (not a test; built on request only):
//   verbs_perf_probe write_bw [iterations] [size] [window] [cq_mod]   RDMA WRITE stream, MB/s
//   verbs_perf_probe send_lat [iterations] [size] [busy|blocking]     send/recv ping-pong, RTT/2
//   verbs_perf_probe pair_check                                        correctness across hosts
// Two ranks are two threads of this process with the in-process bootstrap, on one device (rxe
// loopback in a Soft-RoCE guest); with FABRICBENCH_RANK set (the env launcher: one rank per
// host, e.g. one per ci/vm guest) this process is one rank and the other runs elsewhere. Compare
// with perftest run the same way in the same guest at the same time (ib_write_bw -s SIZE -n ITER -t
// WINDOW -Q CQ_MOD; ib_send_lat [-e] -s SIZE): the ratio is the figure, never the absolute number
// under emulation.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "harness/bootstrap/launchers.hpp"
#include "harness/engine/bootstrap_exchange.hpp"
#include "tests/contract/inproc_bootstrap.hpp"
#include "transports/api/memory.hpp"
#include "transports/verbs/verbs_transport.hpp"

namespace tb = fabricbench;
using tb::transport::Completion;
using tb::transport::Op;
using tb::transport::WorkRequest;

namespace {

struct Setup {
  std::unique_ptr<tb::transport::Transport> transport;
  std::vector<std::unique_ptr<tb::transport::Endpoint>> endpoints;
  std::unique_ptr<tb::transport::MemoryProvider> memory =
      tb::transport::make_memory_provider("host");
};

// $VERBS_PROBE_TRACE=1: phases with CLOCK_MONOTONIC seconds on stderr.
void trace(const char* what) {
  if (std::getenv("VERBS_PROBE_TRACE") == nullptr) return;
  std::fprintf(stderr, "[%.3f] %s\n", static_cast<double>(tb::core::now_ns()) / 1e9, what);
}

// Two in-process ranks, or this process as one rank of an env-launched pair.
std::vector<std::string> run_pair(const std::function<void(tb::bootstrap::Bootstrap&)>& body) {
  if (std::getenv("FABRICBENCH_RANK") == nullptr) return tb::testkit::run_ranks(2, body);
  try {
    tb::bootstrap::Options options;
    trace("bootstrap");
    auto b = tb::bootstrap::make_env_bootstrap(options);
    trace("bootstrap ready");
    body(*b);
    b->barrier();
  } catch (const std::exception& e) {
    return {e.what()};
  }
  return {};
}

Setup open(tb::bootstrap::Bootstrap& b, tb::transport::CompletionMode mode, std::uint32_t depth,
           std::uint32_t cq_mod) {
  Setup s;
  tb::transport::verbs::Options o;
  if (const char* device = std::getenv("FABRICBENCH_VERBS_DEVICE"); device != nullptr) {
    o.device = device;
  }
  o.completion = mode;
  o.queue_depth = depth;
  o.cq_moderation = cq_mod;
  trace("opening the transport");
  s.transport = tb::transport::verbs::make_verbs_transport(o);
  trace("connecting");
  tb::engine::BootstrapExchange exchange(b);
  s.endpoints = s.transport->connect(exchange, {1 - b.rank()}, 1);
  trace("connected");
  return s;
}

void write_bw(long iterations, std::size_t size, std::uint32_t window, std::uint32_t cq_mod) {
  double seconds = 0;
  const auto errors = run_pair([&](tb::bootstrap::Bootstrap& b) {
    Setup s = open(b, tb::transport::CompletionMode::busy_poll, window, cq_mod);
    auto& ep = *s.endpoints[0];
    tb::transport::OwnedBuffer buf(*s.memory, size);
    auto region = s.transport->register_memory(buf.get());
    std::ostringstream mine;
    mine << reinterpret_cast<std::uintptr_t>(buf.get().addr) << ' ' << region.remote_key;
    const auto all = b.allgather(mine.str());
    tb::transport::RemoteRegion remote;
    std::istringstream(all[static_cast<std::size_t>(1 - b.rank())]) >> remote.addr >> remote.key;
    remote.length = size;
    b.barrier();
    if (b.rank() == 0) {
      Completion out[64];
      long posted = 0;
      long completed_through = -1;  // the last signaled request seen
      const std::uint64_t start = tb::core::now_ns();
      while (completed_through < iterations - 1) {
        while (posted < iterations) {
          WorkRequest w;
          w.op = Op::write;
          w.wr_id = static_cast<std::uint64_t>(posted);
          w.local = &region;
          w.length = size;
          w.remote = remote;
          // Signal every cq_mod-th request and the last one (as ib_write_bw does).
          w.signaled = (posted + 1) % cq_mod == 0 || posted == iterations - 1;
          if (!ep.post(w)) break;
          ++posted;
        }
        const std::size_t n = ep.poll(std::span<Completion>(out));
        for (std::size_t i = 0; i < n; ++i) {
          completed_through = std::max(completed_through, static_cast<long>(out[i].wr_id));
        }
      }
      seconds = static_cast<double>(tb::core::now_ns() - start) / 1e9;
    }
    b.barrier();
    s.transport->deregister_memory(region);
  });
  for (const auto& e : errors) {
    if (!e.empty()) std::fprintf(stderr, "error: %s\n", e.c_str());
  }
  if (seconds == 0) return;  // the other rank of an env-launched pair
  const double bytes = static_cast<double>(size) * static_cast<double>(iterations);
  std::printf("write_bw size=%zu iterations=%ld window=%u cq_mod=%u: %.2f MB/s (%.3f s)\n", size,
              iterations, window, cq_mod, bytes / seconds / 1e6, seconds);
}

void send_lat(long iterations, std::size_t size, tb::transport::CompletionMode mode) {
  std::vector<std::uint64_t> rtt(static_cast<std::size_t>(iterations));
  const auto errors = run_pair([&](tb::bootstrap::Bootstrap& b) {
    Setup s = open(b, mode, 16, 1);
    auto& ep = *s.endpoints[0];
    tb::transport::OwnedBuffer buf(*s.memory, 2 * size + 64);
    auto region = s.transport->register_memory(buf.get());
    auto post_recv = [&] {
      WorkRequest r;
      r.op = Op::recv;
      r.local = &region;
      r.offset = size;
      r.length = size;
      ep.post(r);
    };
    auto send = [&] {
      WorkRequest w;
      w.op = Op::send;
      w.local = &region;
      w.length = size;
      w.signaled = false;  // as ib_send_lat: only the receive is awaited
      while (!ep.post(w)) {
        Completion out[4];
        ep.poll(std::span<Completion>(out));
      }
    };
    auto await_recv = [&] {
      Completion out[4];
      while (true) {
        const std::size_t n = ep.wait(std::span<Completion>(out), 10'000'000'000ULL);
        for (std::size_t i = 0; i < n; ++i) {
          if (out[i].op == Op::recv) return;
        }
      }
    };
    post_recv();
    b.barrier();
    for (long i = 0; i < iterations; ++i) {
      if (b.rank() == 0) {
        const std::uint64_t t0 = tb::core::now_ns();
        send();
        await_recv();
        post_recv();
        rtt[static_cast<std::size_t>(i)] = tb::core::now_ns() - t0;
      } else {
        await_recv();
        post_recv();
        send();
      }
    }
    b.barrier();
    s.transport->deregister_memory(region);
  });
  for (const auto& e : errors) {
    if (!e.empty()) std::fprintf(stderr, "error: %s\n", e.c_str());
  }
  if (std::getenv("FABRICBENCH_RANK") != nullptr &&
      std::string(std::getenv("FABRICBENCH_RANK")) != "0") {
    return;
  }
  std::sort(rtt.begin(), rtt.end());
  auto at = [&](double q) {
    return static_cast<double>(
               rtt[static_cast<std::size_t>(q * static_cast<double>(rtt.size() - 1))]) /
           2e3;
  };
  std::printf("send_lat size=%zu iterations=%ld %s: half-RTT us min %.1f p50 %.1f p99 %.1f\n", size,
              iterations,
              mode == tb::transport::CompletionMode::busy_poll ? "busy_poll" : "blocking", at(0),
              at(0.5), at(0.99));
}

// Correctness across hosts, over the bootstrap exchange and over rdma_cm: send/recv of 1 MiB
// with the tag, RDMA WRITE then READ back, fetch_add; on the second of two connections.
void pair_check() {
  const auto errors = run_pair([&](tb::bootstrap::Bootstrap& b) {
    const int me = b.rank();
    const int peer = 1 - me;
    for (const bool cm : {false, true}) {
      tb::transport::verbs::Options o;
      if (const char* device = std::getenv("FABRICBENCH_VERBS_DEVICE"); device != nullptr) {
        o.device = device;
      }
      o.use_rdma_cm = cm;
      o.connect_timeout_ns = 20'000'000'000ULL;
      auto t = tb::transport::verbs::make_verbs_transport(o);
      tb::engine::BootstrapExchange exchange(b);
      auto eps = t->connect(exchange, {peer}, 2);
      auto& ep = *eps[1];
      auto memory = tb::transport::make_memory_provider("host");
      constexpr std::size_t kBytes = 1 << 20;
      tb::transport::OwnedBuffer src(*memory, kBytes), dst(*memory, kBytes + 64),
          back(*memory, kBytes), target(*memory, kBytes);
      auto rs = t->register_memory(src.get());
      auto rd = t->register_memory(dst.get());
      auto rb = t->register_memory(back.get());
      auto rt = t->register_memory(target.get());
      auto bytes = [](const tb::transport::OwnedBuffer& x) {
        return static_cast<unsigned char*>(x.get().addr);
      };
      auto pattern = [](std::size_t i, int seed) {
        return static_cast<unsigned char>((i * 131 + static_cast<std::size_t>(seed) * 7) >> 3);
      };
      for (std::size_t i = 0; i < kBytes; ++i) bytes(src)[i] = pattern(i, me);
      const auto all =
          b.allgather(std::to_string(reinterpret_cast<std::uintptr_t>(target.get().addr)) + " " +
                      std::to_string(rt.remote_key));
      tb::transport::RemoteRegion remote;
      std::istringstream(all[static_cast<std::size_t>(peer)]) >> remote.addr >> remote.key;
      remote.length = kBytes;
      std::size_t sends = 0, recvs = 0;
      auto await = [&](std::size_t want_sends, std::size_t want_recvs) {
        const std::uint64_t deadline = tb::core::now_ns() + 20'000'000'000ULL;
        Completion out[8];
        while (sends < want_sends || recvs < want_recvs) {
          const std::size_t n = ep.wait(std::span<Completion>(out), 50'000'000);
          for (std::size_t i = 0; i < n; ++i) (out[i].op == Op::recv ? recvs : sends)++;
          if (tb::core::now_ns() > deadline) throw std::runtime_error("pair_check: timed out");
        }
      };
      auto check = [&](bool ok, const std::string& what) {
        if (!ok)
          throw std::runtime_error(std::string("pair_check ") + (cm ? "rdma_cm" : "bootstrap") +
                                   ": " + what);
      };
      WorkRequest r;
      r.op = Op::recv;
      r.wr_id = 1;
      r.local = &rd;
      r.length = kBytes + 64;
      ep.post(r);
      b.barrier();
      WorkRequest w;
      w.op = Op::send;
      w.wr_id = 2;
      w.local = &rs;
      w.length = kBytes;
      w.imm = 0xF00u + static_cast<std::uint32_t>(me);
      ep.post(w);
      Completion out[8];
      std::size_t got_bytes = 0;
      std::uint32_t got_imm = 0;
      {
        const std::uint64_t deadline = tb::core::now_ns() + 20'000'000'000ULL;
        while (sends < 1 || recvs < 1) {
          const std::size_t n = ep.wait(std::span<Completion>(out), 50'000'000);
          for (std::size_t i = 0; i < n; ++i) {
            if (out[i].op == Op::recv) {
              ++recvs;
              got_bytes = out[i].bytes;
              got_imm = out[i].imm;
            } else {
              ++sends;
            }
          }
          check(tb::core::now_ns() < deadline, "send/recv timed out");
        }
      }
      check(got_bytes == kBytes && got_imm == 0xF00u + static_cast<std::uint32_t>(peer),
            "send/recv length or tag");
      for (std::size_t i = 0; i < kBytes; ++i)
        check(bytes(dst)[i] == pattern(i, peer), "send/recv data");
      w = WorkRequest{};
      w.op = Op::write;
      w.wr_id = 3;
      w.local = &rs;
      w.length = kBytes;
      w.remote = remote;
      ep.post(w);
      await(2, 1);
      b.barrier();
      for (std::size_t i = 0; i < kBytes; ++i)
        check(bytes(target)[i] == pattern(i, peer), "write data");
      w.op = Op::read;
      w.wr_id = 4;
      w.local = &rb;
      ep.post(w);
      await(3, 1);
      for (std::size_t i = 0; i < kBytes; ++i) check(bytes(back)[i] == pattern(i, me), "read data");
      b.barrier();
      std::uint64_t before = 0;
      std::memcpy(&before, bytes(target), 8);
      b.barrier();
      w = WorkRequest{};
      w.op = Op::fetch_add;
      w.wr_id = 5;
      w.local = &rb;
      w.length = 8;
      w.remote = remote;
      w.compare_add = 1;
      ep.post(w);
      await(4, 1);
      std::uint64_t old = 0;
      std::memcpy(&old, bytes(back), 8);
      std::uint64_t expect = 0;
      for (std::size_t i = 0; i < 8; ++i) expect |= std::uint64_t{pattern(i, me)} << (8 * i);
      check(old == expect, "fetch_add old value");
      b.barrier();
      std::uint64_t after = 0;
      std::memcpy(&after, bytes(target), 8);
      check(after == before + 1, "fetch_add changed remote memory");
      std::printf("pair_check rank %d %s: OK (send/recv 1 MiB + tag, write, read, fetch_add) %s\n",
                  me, cm ? "rdma_cm" : "bootstrap", ep.describe().c_str());
      std::fflush(stdout);
      b.barrier();
      for (auto* region : {&rs, &rd, &rb, &rt}) t->deregister_memory(*region);
    }
  });
  for (const auto& e : errors) {
    if (!e.empty()) {
      std::fprintf(stderr, "error: %s\n", e.c_str());
      std::exit(1);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "write_bw";
  auto arg = [&](int i, long fallback) { return argc > i ? std::atol(argv[i]) : fallback; };
  if (const auto why = tb::transport::verbs::unavailable_reason()) {
    std::fprintf(stderr, "no RDMA device: %s\n", why->c_str());
    return 77;
  }
  if (what == "write_bw") {
    write_bw(arg(2, 2000), static_cast<std::size_t>(arg(3, 65536)),
             static_cast<std::uint32_t>(arg(4, 128)), static_cast<std::uint32_t>(arg(5, 100)));
  } else if (what == "send_lat") {
    const bool blocking = argc > 4 && std::string(argv[4]) == "blocking";
    send_lat(arg(2, 1000), static_cast<std::size_t>(arg(3, 8)),
             blocking ? tb::transport::CompletionMode::blocking
                      : tb::transport::CompletionMode::busy_poll);
  } else if (what == "pair_check") {
    pair_check();
  } else {
    std::fprintf(stderr, "usage: %s write_bw|send_lat|pair_check [...]\n", argv[0]);
    return 2;
  }
  return 0;
}
