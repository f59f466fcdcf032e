#include "suites/pingpong/pingpong.hpp"

#include <array>

#include "harness/core/error.hpp"
#include "suites/api/measure.hpp"

namespace fabricbench::suites {
namespace {

using transport::Completion;
using transport::Op;
using transport::WorkRequest;

class PingPong final : public Workload {
 public:
  std::string name() const override { return "pingpong"; }
  int send_slots(const Params&) const override { return 1; }
  int recv_slots(const Params&) const override { return 1; }
  bool reports_bandwidth() const override { return false; }

  RankResult run(Context& ctx) override {
    return ctx.initiator ? run_initiator(ctx) : run_responder(ctx);
  }

 private:
  static WorkRequest send_request(const Context& ctx, std::uint32_t tag) {
    WorkRequest wr;
    wr.op = Op::send;
    wr.wr_id = 1;
    wr.local = &ctx.memory.send;
    wr.length = ctx.params.message_size;
    wr.imm = tag;
    // The reply proves the send left this rank, so its completion is not needed.
    wr.signaled = false;
    return wr;
  }
  static WorkRequest recv_request(const Context& ctx) {
    WorkRequest wr;
    wr.op = Op::recv;
    wr.wr_id = 2;
    wr.local = &ctx.memory.recv;
    wr.length = ctx.params.message_size;
    return wr;
  }

  // Waits for the receive completion; returns its tag.
  static std::uint32_t await_recv(Completer& completer, std::size_t expect_bytes, int peer) {
    std::array<Completion, 8> out{};
    for (;;) {
      const std::size_t n = completer.next(0, out);
      for (std::size_t i = 0; i < n; ++i) {
        if (out[i].op != Op::recv) continue;
        if (out[i].bytes != expect_bytes) {
          throw core::Error(core::ErrorKind::runtime, "pingpong: rank " + std::to_string(peer) +
                                                          " sent " + std::to_string(out[i].bytes) +
                                                          " bytes, expected " +
                                                          std::to_string(expect_bytes));
        }
        return out[i].imm;
      }
    }
  }

  static RankResult run_initiator(Context& ctx) {
    const Params& p = ctx.params;
    transport::Endpoint& ep = *ctx.endpoints.at(0);
    Completer completer(ctx);
    RankResult result;
    result.measured = true;
    stats::IntervalSeries series(p.interval_ns);
    const WorkRequest recv = recv_request(ctx);
    void* send_data = ctx.memory.send.buffer.addr;
    const void* recv_data = ctx.memory.recv.buffer.addr;

    const std::uint64_t phase_start = core::now_ns();
    std::uint64_t measure_start = 0;
    std::uint64_t measure_end = 0;
    bool measuring = false;
    std::uint64_t sequence = 0;
    std::uint64_t measured = 0;
    for (bool last = false; !last; ++sequence) {
      const std::uint64_t t0 = core::now_ns();
      if (!measuring) {
        const bool warm_done =
            p.duration_mode ? t0 - phase_start >= p.warmup_ns : sequence >= p.warmup_iterations;
        if (warm_done) {
          measuring = true;
          measure_start = t0;
        }
      }
      if (measuring) {
        last = p.duration_mode ? (t0 - measure_start >= p.duration_ns && measured > 0)
                               : measured + 1 >= p.iterations;
      }
      const std::uint32_t tag = (last ? kTagLast : 0u) | (measuring ? 0u : kTagWarmup);
      if (p.verify) stamp_pattern(send_data, p.message_size, sequence);
      post_or_throw(ep, recv);
      post_or_throw(ep, send_request(ctx, tag));
      await_recv(completer, p.message_size, ctx.peer);
      const std::uint64_t t1 = core::now_ns();
      if (p.verify) verify_pattern(recv_data, p.message_size, sequence, ctx.peer);
      if (measuring) {
        const std::uint64_t one_way = (t1 - t0) / 2;
        result.latency.record(one_way);
        ++measured;
        if (p.duration_mode) {
          series.add(t1 - measure_start, 2 * p.message_size, 1);
          series.add_latency(t1 - measure_start, one_way);
        }
        measure_end = t1;
      }
    }
    result.elapsed_ns = measure_end - measure_start;
    result.ops = measured;
    result.bytes = measured * 2 * p.message_size;
    if (p.duration_mode) result.intervals = series.points(result.elapsed_ns);
    return result;
  }

  static RankResult run_responder(Context& ctx) {
    const Params& p = ctx.params;
    transport::Endpoint& ep = *ctx.endpoints.at(0);
    Completer completer(ctx);
    const WorkRequest recv = recv_request(ctx);
    void* send_data = ctx.memory.send.buffer.addr;
    const void* recv_data = ctx.memory.recv.buffer.addr;
    post_or_throw(ep, recv);
    for (std::uint64_t sequence = 0;; ++sequence) {
      const std::uint32_t tag = await_recv(completer, p.message_size, ctx.peer);
      const bool last = (tag & kTagLast) != 0;
      if (p.verify) {
        verify_pattern(recv_data, p.message_size, sequence, ctx.peer);
        stamp_pattern(send_data, p.message_size, sequence);
      }
      // Post the next receive before replying, so the next ping always finds a buffer.
      if (!last) post_or_throw(ep, recv);
      WorkRequest reply = send_request(ctx, tag);
      // The last reply must have left before the endpoint is reused or torn down.
      reply.signaled = last;
      post_or_throw(ep, reply);
      if (last) break;
    }
    std::array<Completion, 8> out{};
    for (bool sent = false; !sent;) {
      const std::size_t n = completer.next(0, out);
      for (std::size_t i = 0; i < n; ++i) sent = sent || out[i].op == Op::send;
    }
    return RankResult{};
  }
};

}  // namespace

std::unique_ptr<Workload> make_pingpong() {
  return std::make_unique<PingPong>();
}

}  // namespace fabricbench::suites
