#include "suites/pingpong/pingpong.hpp"

#include <array>

#include "core/error.hpp"
#include "suites/api/measure.hpp"

namespace fabricbench::suites {
namespace {

using transport::Completion;
using transport::Op;
using transport::WorkRequest;

// One iteration of the initiator, timed: its sample is t1 - t0 (halved for a round trip).
struct Sample {
  std::uint64_t t0 = 0;
  std::uint64_t t1 = 0;
};

class PingPong final : public Workload {
 public:
  std::string name() const override { return "pingpong"; }
  std::optional<std::string> unsupported(const Params& p,
                                         const transport::MemoryTraits& memory) const override {
    if (p.op == Op::write && !memory.cpu_addressable) {
      return "RDMA WRITE ping-pong polls the receive buffer with the CPU (as ib_write_lat does), "
             "which cannot poll " +
             transport::describe(memory) + "; use op: send or write_imm";
    }
    return std::nullopt;
  }
  int send_slots(const Params&) const override { return 1; }
  int recv_slots(const Params&) const override { return 1; }

  RankResult run(Context& ctx) override {
    switch (ctx.params.op) {
      case Op::send:
      case Op::write_imm:
        return ctx.initiator ? two_sided_initiator(ctx) : two_sided_responder(ctx);
      case Op::write:
        return ctx.initiator ? write_initiator(ctx) : write_responder(ctx);
      case Op::read:
      case Op::fetch_add:
      case Op::compare_swap:
        return ctx.initiator ? one_sided_initiator(ctx) : run_passive(ctx);
      case Op::recv:
        break;
    }
    throw core::Error(core::ErrorKind::config, "pingpong cannot issue op 'recv'");
  }

 private:
  // The measurement loop shared by every initiator: warm-up, measured phase (iterations or
  // duration), the last-iteration flag, samples and the interval series. `iterate(sequence,
  // tag)` performs one iteration and returns its timestamps; `halve` makes the sample RTT/2.
  template <typename Iterate>
  static RankResult measure(const Context& ctx, bool halve, std::uint64_t bytes_per_op,
                            Iterate&& iterate) {
    const Params& p = ctx.params;
    RankResult result;
    result.measured = true;
    stats::IntervalSeries series(p.interval_ns);
    const std::uint64_t phase_start = core::now_ns();
    std::uint64_t measure_start = 0;
    std::uint64_t measure_end = 0;
    bool measuring = false;
    std::uint64_t measured = 0;
    for (std::uint64_t sequence = 0, last = 0; last == 0; ++sequence) {
      if (!measuring) {  // the warm-up reads the clock per iteration, the measured phase does not
        const std::uint64_t now = core::now_ns();
        const bool warm_done =
            p.duration_mode ? now - phase_start >= p.warmup_ns : sequence >= p.warmup_iterations;
        if (warm_done) {
          measuring = true;
          measure_start = now;
        }
      }
      if (measuring) {
        // Duration mode: the previous sample's end (measure_end) is "now" for the end-of-phase
        // check, so a measured iteration reads the clock only for its own two timestamps.
        last = p.duration_mode ? (measured > 0 && measure_end - measure_start >= p.duration_ns)
                               : measured + 1 >= p.iterations;
      }
      const std::uint32_t tag = (last != 0 ? kTagLast : 0u) | (measuring ? 0u : kTagWarmup);
      const Sample s = iterate(sequence, tag);
      if (!measuring) continue;
      const std::uint64_t latency = halve ? (s.t1 - s.t0) / 2 : s.t1 - s.t0;
      result.latency.record(latency);
      ++measured;
      if (p.duration_mode) {
        series.add(s.t1 - measure_start, bytes_per_op, 1);
        series.add_latency(s.t1 - measure_start, latency);
      }
      measure_end = s.t1;
    }
    result.elapsed_ns = measure_end - measure_start;
    result.measure_start_ns = measure_start;
    result.ops = measured;
    result.bytes = measured * bytes_per_op;
    if (p.duration_mode) result.intervals = series.points(result.elapsed_ns);
    return result;
  }

  static WorkRequest recv_request(const Context& ctx) {
    return make_request(ctx, Op::recv, 0, ctx.params.message_size, 0, true);
  }

  // Waits for the receive completion; returns its tag.
  static std::uint32_t await_recv(Completer& completer, std::size_t expect_bytes, int peer,
                                  bool check_bytes) {
    std::array<Completion, 8> out{};
    for (;;) {
      const std::size_t n = completer.next(0, out);
      for (std::size_t i = 0; i < n; ++i) {
        if (out[i].op != Op::recv) continue;
        if (check_bytes && out[i].bytes != expect_bytes) {
          throw core::Error(core::ErrorKind::runtime, "pingpong: rank " + std::to_string(peer) +
                                                          " sent " + std::to_string(out[i].bytes) +
                                                          " bytes, expected " +
                                                          std::to_string(expect_bytes));
        }
        return out[i].imm;
      }
    }
  }

  static void await_send_completion(Completer& completer) {
    std::array<Completion, 8> out{};
    for (bool sent = false; !sent;) {
      const std::size_t n = completer.next(0, out);
      for (std::size_t i = 0; i < n; ++i) sent = sent || out[i].op != Op::recv;
    }
  }

  // --- send / write_imm: the responder's CPU receives each message and answers it ----------

  static RankResult two_sided_initiator(Context& ctx) {
    const Params& p = ctx.params;
    transport::Endpoint& ep = *ctx.endpoints.at(0);
    Completer completer(ctx);
    const WorkRequest recv = recv_request(ctx);
    // write_imm carries no length for the receiver to check (the data goes to an address).
    const bool check_bytes = p.op == Op::send;
    // The reply proves the request left this rank, so its completion is not needed. Built once:
    // only its tag changes per iteration.
    WorkRequest request = make_request(ctx, p.op, 0, p.message_size, 0, false);
    return measure(ctx, true, 2 * p.message_size, [&](std::uint64_t sequence, std::uint32_t tag) {
      if (p.verify) stamp_pattern(ctx.memory.send.buffer, 0, p.message_size, sequence);
      request.imm = tag;
      // The reply's receive is posted before the clock starts, as perftest's latency tests
      // replenish theirs before stamping the send: the sample is send -> reply.
      post_or_throw(ep, recv);
      Sample s;
      s.t0 = core::now_ns();
      post_or_throw(ep, request);
      await_recv(completer, p.message_size, ctx.peer, check_bytes);
      s.t1 = core::now_ns();
      if (p.verify) verify_pattern(ctx.memory.recv.buffer, 0, p.message_size, sequence, ctx.peer);
      return s;
    });
  }

  static RankResult two_sided_responder(Context& ctx) {
    const Params& p = ctx.params;
    transport::Endpoint& ep = *ctx.endpoints.at(0);
    Completer completer(ctx);
    const WorkRequest recv = recv_request(ctx);
    const bool check_bytes = p.op == Op::send;
    WorkRequest reply = make_request(ctx, p.op, 0, p.message_size, 0, false);  // tag set per reply
    post_or_throw(ep, recv);
    for (std::uint64_t sequence = 0;; ++sequence) {
      const std::uint32_t tag = await_recv(completer, p.message_size, ctx.peer, check_bytes);
      const bool last = (tag & kTagLast) != 0;
      if (p.verify) {
        verify_pattern(ctx.memory.recv.buffer, 0, p.message_size, sequence, ctx.peer);
        stamp_pattern(ctx.memory.send.buffer, 0, p.message_size, sequence);
      }
      // Post the next receive before replying, so the next request always finds a buffer.
      if (!last) post_or_throw(ep, recv);
      // The last reply must have left before the endpoint is reused or torn down.
      reply.imm = tag;
      reply.signaled = last;
      post_or_throw(ep, reply);
      if (last) break;
    }
    await_send_completion(completer);
    return RankResult{};
  }

  // --- write: RDMA WRITE both ways, each side polls the last byte of its buffer -------------
  // (perftest's ib_write_lat). The last byte is a marker that changes every iteration:
  // 1 + (sequence mod 127), with the top bit set on the last iteration. The sequence runs on
  // across repetitions so a marker left from the previous repetition never matches.

  static std::uint8_t marker(std::uint64_t sequence, bool last) {
    return static_cast<std::uint8_t>((1 + sequence % 127) | (last ? 0x80 : 0));
  }

  // Spins until the marker for `sequence` arrives in our receive buffer; returns it.
  std::uint8_t await_marker(Context& ctx, Completer& completer, std::uint64_t sequence) {
    const auto* flag = static_cast<volatile std::uint8_t*>(ctx.memory.recv.buffer.addr) +
                       ctx.params.message_size - 1;
    const std::uint8_t want = marker(sequence, false);
    std::array<Completion, 8> out{};
    for (;;) {
      const std::uint8_t got = *flag;
      if ((got & 0x7f) == want) {
        completer.progress();
        return got;
      }
      // Reap forced-signalled writes and surface completion errors.
      ctx.endpoints[0]->poll(out);
      completer.idle();
    }
  }

  void post_write(Context& ctx, std::uint64_t sequence, bool last, bool signaled) {
    const Params& p = ctx.params;
    auto* data = static_cast<std::uint8_t*>(ctx.memory.send.buffer.addr);
    if (p.verify) stamp_pattern(data, p.message_size - 1, sequence);
    data[p.message_size - 1] = marker(sequence, last);
    post_or_throw(*ctx.endpoints[0], make_request(ctx, Op::write, 0, p.message_size, 0, signaled));
  }

  RankResult write_initiator(Context& ctx) {
    const Params& p = ctx.params;
    Completer completer(ctx);
    const std::uint64_t base = write_sequence_;
    RankResult r =
        measure(ctx, true, 2 * p.message_size, [&](std::uint64_t sequence, std::uint32_t tag) {
          const std::uint64_t seq = base + sequence;
          Sample s;
          s.t0 = core::now_ns();
          post_write(ctx, seq, (tag & kTagLast) != 0, false);
          await_marker(ctx, completer, seq);
          s.t1 = core::now_ns();
          if (p.verify) {
            verify_pattern(ctx.memory.recv.buffer.addr, p.message_size - 1, seq, ctx.peer);
          }
          ++write_sequence_;
          return s;
        });
    return r;
  }

  RankResult write_responder(Context& ctx) {
    const Params& p = ctx.params;
    Completer completer(ctx);
    for (;;) {
      const std::uint64_t seq = write_sequence_++;
      const std::uint8_t got = await_marker(ctx, completer, seq);
      const bool last = (got & 0x80) != 0;
      if (p.verify) {
        verify_pattern(ctx.memory.recv.buffer.addr, p.message_size - 1, seq, ctx.peer);
      }
      post_write(ctx, seq, last, last);
      if (last) break;
    }
    await_send_completion(completer);
    return RankResult{};
  }

  // --- read and atomics: one-sided, the initiator times each operation to its completion ----
  // (perftest's ib_read_lat / ib_atomic_lat: the operation is itself a round trip, so the
  // sample is NOT halved). The passive side only answers heartbeats and the final message.

  static RankResult one_sided_initiator(Context& ctx) {
    const Params& p = ctx.params;
    transport::Endpoint& ep = *ctx.endpoints.at(0);
    Completer completer(ctx);
    const std::uint64_t heartbeat_ns = heartbeat_interval_ns(p);
    std::uint64_t last_heartbeat = core::now_ns();
    std::array<Completion, 8> out{};
    RankResult r = measure(ctx, false, p.message_size, [&](std::uint64_t, std::uint32_t) {
      Sample s;
      s.t0 = core::now_ns();
      post_or_throw(ep, make_request(ctx, p.op, 0, p.message_size, 0, true));
      for (bool done = false; !done;) {
        const std::size_t n = completer.next(0, out);
        for (std::size_t i = 0; i < n; ++i) done = done || out[i].op == p.op;
      }
      s.t1 = core::now_ns();
      if (p.verify && p.op == Op::read) {
        verify_pattern(ctx.memory.recv.buffer, 0, p.message_size, 0, ctx.peer);
      }
      if (s.t1 - last_heartbeat >= heartbeat_ns) {
        post_control(ctx, 0, kTagHeartbeat, false);
        last_heartbeat = s.t1;
      }
      return s;
    });
    post_control(ctx, 0, kTagLast, true);
    await_send_completion(completer);
    return r;
  }

  std::uint64_t write_sequence_ = 0;  // RDMA write ping-pong markers, across repetitions
};

}  // namespace

std::unique_ptr<Workload> make_pingpong() {
  return std::make_unique<PingPong>();
}

}  // namespace fabricbench::suites
