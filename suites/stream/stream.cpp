#include "suites/stream/stream.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "core/error.hpp"
#include "suites/api/measure.hpp"

namespace fabricbench::suites {
namespace {

using transport::Completion;
using transport::Op;
using transport::WorkRequest;

constexpr std::uint64_t kNoLimit = ~0ULL;

class Stream final : public Workload {
 public:
  std::string name() const override { return "stream"; }
  int send_slots(const Params& p) const override { return p.window; }
  // Twice the sender's window: a receive consumed by one message is reposted only after its
  // completion is seen, and a receiver that runs dry makes a verbs sender back off (RNR).
  int recv_slots(const Params& p) const override { return 2 * p.window; }
  bool reports_bandwidth() const override { return true; }

  RankResult run(Context& ctx) override {
    if (!is_two_sided(ctx.params.op)) {
      if (ctx.params.bidirectional) {
        throw core::Error(core::ErrorKind::config,
                          std::string("stream: direction bidir needs a two-sided op (send or "
                                      "write_imm); op ") +
                              transport::op_name(ctx.params.op) + " is one-sided");
      }
      return ctx.initiator ? one_sided_active(ctx) : run_passive(ctx);
    }
    const Params& p = ctx.params;
    const std::size_t conns = ctx.endpoints.size();
    const bool sender = ctx.initiator || p.bidirectional;
    const std::uint64_t moderation = moderation_for(p);
    const bool receiver = !ctx.initiator || p.bidirectional;
    const auto window = static_cast<std::uint64_t>(p.window);
    const auto rwindow = static_cast<std::uint64_t>(recv_slots(p));
    if (recv_posted_.size() != conns) {
      recv_posted_.assign(conns, 0);
      recv_completed_.assign(conns, 0);
      send_posted_.assign(conns, 0);
      send_done_.assign(conns, 0);
    }
    // Send slots run on across repetitions like receive slots, so that with write_imm the slot
    // a sender writes is the slot its peer's next receive completion names.
    std::vector<std::uint64_t>& send_posted = send_posted_;
    std::vector<std::uint64_t>& send_done = send_done_;

    Completer completer(ctx);
    auto* send_base = static_cast<unsigned char*>(ctx.memory.send.buffer.addr);
    auto* recv_base = static_cast<unsigned char*>(ctx.memory.recv.buffer.addr);

    // Receiver state. Receives stay posted across repetitions: top each endpoint up to rwindow.
    std::vector<std::uint64_t> recv_seen(conns, 0);  // this repetition, per endpoint
    std::vector<bool> recv_last(conns, !receiver);
    std::size_t recv_open = receiver ? conns : 0;
    auto post_recv = [&](std::size_t e) {
      WorkRequest wr;
      wr.op = Op::recv;
      wr.local = &ctx.memory.recv;
      wr.offset = (e * rwindow + recv_posted_[e] % rwindow) * p.message_size;
      wr.length = p.message_size;
      wr.wr_id = recv_posted_[e];
      post_or_throw(*ctx.endpoints[e], wr);
      ++recv_posted_[e];
    };
    if (receiver) {
      for (std::size_t e = 0; e < conns; ++e) {
        while (recv_posted_[e] - recv_completed_[e] < rwindow) post_recv(e);
      }
    }
    RankResult result;
    result.measured = receiver;
    stats::IntervalSeries series(p.interval_ns);
    std::uint64_t first_ns = 0;
    std::uint64_t last_ns = 0;
    bool counting = false;

    // Sender state.
    std::uint64_t next = 0;                       // global message sequence
    std::uint64_t total = sender ? kNoLimit : 0;  // messages to send, once known
    if (sender && !p.duration_mode) total = p.warmup_iterations + p.iterations;
    const std::uint64_t phase_start = core::now_ns();
    std::uint64_t measure_start = 0;
    bool measuring = false;
    std::uint64_t inflight = 0;

    std::array<Completion, 64> out{};
    while (next < total || inflight > 0 || recv_open > 0) {
      // Post as many sends as the windows allow.
      while (next < total) {
        const std::size_t e = next % conns;
        if (send_posted[e] - send_done[e] >= window) break;
        if (!measuring) {
          const std::uint64_t now = core::now_ns();
          if (p.duration_mode ? now - phase_start >= p.warmup_ns : next >= p.warmup_iterations) {
            measuring = true;
            measure_start = now;
          }
        } else if (p.duration_mode && total == kNoLimit &&
                   core::now_ns() - measure_start >= p.duration_ns) {
          total = next + conns;  // one final, flagged message on every endpoint
        }
        const bool last = next + conns >= total;
        const std::size_t offset = (e * window + send_posted[e] % window) * p.message_size;
        const std::uint32_t tag = (last ? kTagLast : 0u) | (measuring ? 0u : kTagWarmup);
        // Completion moderation: one signaled send in `moderation` (and every endpoint's last),
        // as perftest's --cq-mod; a completion retires every earlier send of its endpoint.
        WorkRequest wr = make_request(ctx, p.op, offset, p.message_size, tag,
                                      last || (send_posted[e] + 1) % moderation == 0);
        wr.wr_id = send_posted[e] + 1;
        if (p.verify) stamp_pattern(send_base + wr.offset, p.message_size, next);
        post_or_throw(*ctx.endpoints[e], wr);
        ++send_posted[e];
        ++inflight;
        ++next;
      }
      if (inflight == 0 && recv_open == 0 && next >= total) break;

      std::size_t e = 0;
      const std::size_t n = completer.next_any(out, &e);
      const std::uint64_t now = core::now_ns();
      for (std::size_t i = 0; i < n; ++i) {
        const Completion& c = out[i];
        if (c.op == Op::send) {
          inflight -= c.wr_id - send_done[e];
          send_done[e] = c.wr_id;
          continue;
        }
        if (c.op != Op::recv) continue;
        if (p.op == Op::send && c.bytes != p.message_size) {
          throw core::Error(core::ErrorKind::runtime, "stream: rank " + std::to_string(ctx.peer) +
                                                          " sent " + std::to_string(c.bytes) +
                                                          " bytes, expected " +
                                                          std::to_string(p.message_size));
        }
        // send lands in the receive's own slot; write_imm where the sender aimed it (the
        // sender's slot layout, which the receive count reproduces).
        const std::uint64_t k = recv_completed_[e];
        const std::uint64_t slot =
            p.op == Op::send ? e * rwindow + k % rwindow : e * window + k % window;
        ++recv_completed_[e];
        const std::uint64_t sequence = recv_seen[e] * conns + e;
        ++recv_seen[e];
        if (p.verify) {
          verify_pattern(recv_base + slot * p.message_size, p.message_size, sequence, ctx.peer);
        }
        const std::uint64_t bytes = p.message_size;
        if ((c.imm & kTagWarmup) == 0) {
          if (!counting) {
            // The first measured arrival opens the interval; its bytes arrived before it.
            counting = true;
            first_ns = now;
          } else {
            result.bytes += bytes;
            ++result.ops;
            if (p.duration_mode) series.add(now - first_ns, bytes, 1);
          }
          last_ns = now;
        }
        if ((c.imm & kTagLast) != 0) {
          recv_last[e] = true;
          --recv_open;
        } else {
          post_recv(e);
        }
      }
    }
    if (receiver) {
      result.elapsed_ns = last_ns - first_ns;
      result.measure_start_ns = first_ns;
      if (p.duration_mode) result.intervals = series.points(result.elapsed_ns);
    }
    return result;
  }

 private:
  // Signal one operation in this many (at most the window, or the sender would stall).
  static std::uint64_t moderation_for(const Params& p) {
    return std::clamp<std::uint64_t>(p.cq_moderation, 1, static_cast<std::uint64_t>(p.window));
  }

  // One-sided ops (write, read, atomics; perftest's *_bw): the active side keeps `window`
  // operations in flight per endpoint and counts its own completions, from the post of the
  // first measured operation to the completion of the last. The passive side's CPU takes no
  // part; it only waits for heartbeats and the final message on endpoint 0.
  static RankResult one_sided_active(Context& ctx) {
    const Params& p = ctx.params;
    const std::size_t conns = ctx.endpoints.size();
    const auto window = static_cast<std::uint64_t>(p.window);
    Completer completer(ctx);
    const std::uint64_t heartbeat_ns = heartbeat_interval_ns(p);
    std::vector<std::uint64_t> posted(conns, 0);
    std::vector<std::uint64_t> done(conns, 0);
    const std::uint64_t moderation = moderation_for(p);
    RankResult result;
    result.measured = true;
    stats::IntervalSeries series(p.interval_ns);
    std::uint64_t total = p.duration_mode ? kNoLimit : p.warmup_iterations + p.iterations;
    std::uint64_t next = 0;
    std::uint64_t first_measured = kNoLimit;  // sequence of the first measured operation
    std::uint64_t measure_start = 0;
    std::uint64_t last_done = 0;
    std::uint64_t inflight = 0;
    const std::uint64_t phase_start = core::now_ns();
    std::uint64_t last_heartbeat = phase_start;
    std::array<Completion, 64> out{};
    while (next < total || inflight > 0) {
      while (next < total) {
        const std::size_t e = next % conns;
        if (posted[e] - done[e] >= window) break;
        const std::uint64_t now = core::now_ns();
        if (first_measured == kNoLimit &&
            (p.duration_mode ? now - phase_start >= p.warmup_ns : next >= p.warmup_iterations)) {
          first_measured = next;
          measure_start = now;
        }
        if (p.duration_mode && total == kNoLimit && first_measured != kNoLimit &&
            now - measure_start >= p.duration_ns && next > first_measured) {
          total = next + conns;  // one final, signaled operation on every endpoint
        }
        // Completion moderation as in the two-sided sender; the wr_id is the endpoint's count.
        const bool last = next + conns >= total;
        const std::size_t offset = (e * window + posted[e] % window) * p.message_size;
        WorkRequest wr = make_request(ctx, p.op, offset, p.message_size, 0,
                                      last || (posted[e] + 1) % moderation == 0);
        wr.wr_id = posted[e] + 1;
        post_or_throw(*ctx.endpoints[e], wr);
        ++posted[e];
        ++inflight;
        ++next;
      }
      if (inflight == 0) break;
      std::size_t e = 0;
      const std::size_t n = completer.next_any(out, &e);
      const std::uint64_t now = core::now_ns();
      for (std::size_t i = 0; i < n; ++i) {
        if (out[i].op != p.op) continue;  // heartbeats are unsignaled; nothing else completes
        // Retires the endpoint's operations done[e] .. wr_id - 1 (per-endpoint indices); the
        // global sequence of index j on endpoint e is j * conns + e.
        std::uint64_t counted = 0;
        for (std::uint64_t j = done[e]; j < out[i].wr_id; ++j) {
          if (j * conns + e < first_measured) continue;
          if (p.verify && p.op == Op::read) {
            const std::size_t slot = (e * window + j % window) * p.message_size;
            verify_pattern(static_cast<unsigned char*>(ctx.memory.recv.buffer.addr) + slot,
                           p.message_size, 0, ctx.peer);
          }
          ++counted;
        }
        inflight -= out[i].wr_id - done[e];
        done[e] = out[i].wr_id;
        if (counted == 0) continue;
        result.bytes += counted * p.message_size;
        result.ops += counted;
        last_done = now;
        if (p.duration_mode) series.add(now - measure_start, counted * p.message_size, counted);
      }
      if (now - last_heartbeat >= heartbeat_ns) {
        post_control(ctx, 0, kTagHeartbeat, false);
        last_heartbeat = now;
      }
    }
    post_control(ctx, 0, kTagLast, true);
    for (bool sent = false; !sent;) {
      const std::size_t n = completer.next(0, out);
      for (std::size_t i = 0; i < n; ++i) sent = sent || out[i].op == Op::send;
    }
    result.elapsed_ns = last_done > measure_start ? last_done - measure_start : 0;
    result.measure_start_ns = measure_start;
    if (p.duration_mode) result.intervals = series.points(result.elapsed_ns);
    return result;
  }

  // Per endpoint, over all repetitions of the case.
  std::vector<std::uint64_t> recv_posted_;
  std::vector<std::uint64_t> recv_completed_;
  std::vector<std::uint64_t> send_posted_;
  std::vector<std::uint64_t> send_done_;
};

}  // namespace

std::unique_ptr<Workload> make_stream() {
  return std::make_unique<Stream>();
}

}  // namespace fabricbench::suites
