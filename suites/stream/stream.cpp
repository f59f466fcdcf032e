#include "suites/stream/stream.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "suites/api/measure.hpp"

namespace fabricbench::suites {
namespace {

using transport::Completion;
using transport::Op;
using transport::WorkRequest;

constexpr std::uint64_t kNoLimit = ~0ULL;

// Slots of an endpoint's region that messages use: one per message in flight (`count`), or the
// first only with `buffers: shared` (perftest's *_bw tests reuse one buffer for messages over
// 2 KiB). The regions keep their full size either way.
std::uint64_t slots_in_use(const Params& p, std::uint64_t count) {
  return p.shared_buffers ? 1 : count;
}

// Signal one operation in this many (at most the window, or the sender would stall).
std::uint64_t moderation_for(const Params& p) {
  return std::clamp<std::uint64_t>(p.cq_moderation, 1, static_cast<std::uint64_t>(p.window));
}

// Per endpoint, over all repetitions of a case. Receives stay posted across repetitions; send
// slots run on like receive slots, so that with write_imm the slot a sender writes is the slot
// its peer's next receive completion names.
struct EndpointCounts {
  std::vector<std::uint64_t> recv_posted;
  std::vector<std::uint64_t> recv_completed;
  std::vector<std::uint64_t> send_posted;
  std::vector<std::uint64_t> send_done;

  void fit(std::size_t conns) {
    if (recv_posted.size() == conns) return;
    recv_posted.assign(conns, 0);
    recv_completed.assign(conns, 0);
    send_posted.assign(conns, 0);
    send_done.assign(conns, 0);
  }
};

// One repetition of a two-sided stream (send, write_imm) on one rank. The sender keeps `window`
// messages in flight per endpoint, the last one of each endpoint flagged; the receiver keeps
// its receives topped up and counts the measured arrivals, from the first (which opens the
// interval) to the last. With direction bidir a rank is both.
class TwoSidedRun {
 public:
  TwoSidedRun(Context& ctx, EndpointCounts& counts, std::uint64_t rwindow)
      : ctx_(ctx),
        p_(ctx.params),
        n_(counts),
        conns_(ctx.endpoints.size()),
        sender_(ctx.initiator || p_.bidirectional),
        moderation_(moderation_for(p_)),
        receiver_(!ctx.initiator || p_.bidirectional),
        window_(static_cast<std::uint64_t>(p_.window)),
        rwindow_(rwindow),
        sslots_(slots_in_use(p_, window_)),
        rslots_(slots_in_use(p_, rwindow_)),
        completer_(ctx),
        recv_seen_(conns_, 0),
        recv_open_(receiver_ ? conns_ : 0),
        series_(p_.interval_ns),
        total_(sender_ ? kNoLimit : 0) {
    result_.measured = receiver_;
    if (sender_ && !p_.duration_mode) total_ = p_.warmup_iterations + p_.iterations;
  }

  RankResult run() {
    if (receiver_) {  // receives stay posted across repetitions: top each endpoint up to rwindow
      for (std::size_t e = 0; e < conns_; ++e) {
        while (n_.recv_posted[e] - n_.recv_completed[e] < rwindow_) post_recv(e);
      }
    }
    phase_start_ = core::now_ns();
    while (next_ < total_ || inflight_ > 0 || recv_open_ > 0) {
      post_sends();
      if (inflight_ == 0 && recv_open_ == 0 && next_ >= total_) break;
      std::size_t e = 0;
      const std::size_t n = completer_.next_any(out_, &e);
      const std::uint64_t now = core::now_ns();
      for (std::size_t i = 0; i < n; ++i) on_completion(e, out_[i], now);
    }
    if (receiver_) {
      result_.elapsed_ns = last_ns_ - first_ns_;
      result_.measure_start_ns = first_ns_;
      if (p_.duration_mode) result_.intervals = series_.points(result_.elapsed_ns);
    }
    return std::move(result_);
  }

 private:
  void post_recv(std::size_t e) {
    WorkRequest wr;
    wr.op = Op::recv;
    wr.local = &ctx_.memory.recv;
    wr.offset = (e * rwindow_ + n_.recv_posted[e] % rslots_) * p_.message_size;
    wr.length = p_.message_size;
    wr.wr_id = n_.recv_posted[e];
    post_or_throw(*ctx_.endpoints[e], wr);
    ++n_.recv_posted[e];
  }

  // Posts as many sends as the windows allow.
  void post_sends() {
    while (next_ < total_) {
      const std::size_t e = next_ % conns_;
      if (n_.send_posted[e] - n_.send_done[e] >= window_) break;
      advance_phase();
      post_send(e);
    }
  }

  // Before each send: ends the warm-up, and in duration mode the measured phase.
  void advance_phase() {
    if (!measuring_) {
      const std::uint64_t now = core::now_ns();
      if (p_.duration_mode ? now - phase_start_ >= p_.warmup_ns : next_ >= p_.warmup_iterations) {
        measuring_ = true;
        measure_start_ = now;
      }
    } else if (p_.duration_mode && total_ == kNoLimit &&
               core::now_ns() - measure_start_ >= p_.duration_ns) {
      total_ = next_ + conns_;  // one final, flagged message on every endpoint
    }
  }

  void post_send(std::size_t e) {
    const bool last = next_ + conns_ >= total_;
    const std::size_t offset = (e * window_ + n_.send_posted[e] % sslots_) * p_.message_size;
    const std::uint32_t tag = (last ? kTagLast : 0u) | (measuring_ ? 0u : kTagWarmup);
    // Completion moderation: one signaled send in `moderation` (and every endpoint's last),
    // as perftest's --cq-mod; a completion retires every earlier send of its endpoint.
    WorkRequest wr = make_request(ctx_, p_.op, offset, p_.message_size, tag,
                                  last || (n_.send_posted[e] + 1) % moderation_ == 0);
    wr.wr_id = n_.send_posted[e] + 1;
    if (p_.verify) stamp_pattern(ctx_.memory.send.buffer, wr.offset, p_.message_size, next_);
    post_or_throw(*ctx_.endpoints[e], wr);
    ++n_.send_posted[e];
    ++inflight_;
    ++next_;
  }

  void on_completion(std::size_t e, const Completion& c, std::uint64_t now) {
    if (c.op == Op::send) {
      inflight_ -= c.wr_id - n_.send_done[e];
      n_.send_done[e] = c.wr_id;
      return;
    }
    if (c.op == Op::recv) on_receive(e, c, now);
  }

  void on_receive(std::size_t e, const Completion& c, std::uint64_t now) {
    if (p_.op == Op::send && c.bytes != p_.message_size) {
      throw core::Error(core::ErrorKind::runtime, "stream: rank " + std::to_string(ctx_.peer) +
                                                      " sent " + std::to_string(c.bytes) +
                                                      " bytes, expected " +
                                                      std::to_string(p_.message_size));
    }
    // send lands in the receive's own slot; write_imm where the sender aimed it (the
    // sender's slot layout, which the receive count reproduces).
    const std::uint64_t k = n_.recv_completed[e];
    const std::uint64_t slot =
        p_.op == Op::send ? e * rwindow_ + k % rslots_ : e * window_ + k % sslots_;
    ++n_.recv_completed[e];
    const std::uint64_t sequence = recv_seen_[e] * conns_ + e;
    ++recv_seen_[e];
    if (p_.verify) {
      verify_pattern(ctx_.memory.recv.buffer, slot * p_.message_size, p_.message_size, sequence,
                     ctx_.peer);
    }
    if ((c.imm & kTagWarmup) == 0) count_arrival(now);
    if ((c.imm & kTagLast) != 0) {
      --recv_open_;
    } else {
      post_recv(e);
    }
  }

  // A measured message arrived at `now`.
  void count_arrival(std::uint64_t now) {
    const std::uint64_t bytes = p_.message_size;
    if (!counting_) {
      // The first measured arrival opens the interval; its bytes arrived before it.
      counting_ = true;
      first_ns_ = now;
    } else {
      result_.bytes += bytes;
      ++result_.ops;
      if (p_.duration_mode) series_.add(now - first_ns_, bytes, 1);
    }
    last_ns_ = now;
  }

  Context& ctx_;
  const Params& p_;
  EndpointCounts& n_;
  const std::size_t conns_;
  const bool sender_;
  const std::uint64_t moderation_;
  const bool receiver_;
  const std::uint64_t window_;
  const std::uint64_t rwindow_;
  const std::uint64_t sslots_;  // send slots in use per endpoint (1 with shared buffers)
  const std::uint64_t rslots_;  // receive slots in use per endpoint
  Completer completer_;
  std::array<Completion, 64> out_{};

  // Receiver state.
  std::vector<std::uint64_t> recv_seen_;  // this repetition, per endpoint
  std::size_t recv_open_;                 // endpoints whose last message has not arrived
  RankResult result_;
  stats::IntervalSeries series_;
  std::uint64_t first_ns_ = 0;
  std::uint64_t last_ns_ = 0;
  bool counting_ = false;

  // Sender state.
  std::uint64_t next_ = 0;  // global message sequence
  std::uint64_t total_;     // messages to send, once known
  std::uint64_t phase_start_ = 0;
  std::uint64_t measure_start_ = 0;
  bool measuring_ = false;
  std::uint64_t inflight_ = 0;
};

class Stream final : public Workload {
 public:
  std::string name() const override { return "stream"; }
  int send_slots(const Params& p) const override { return p.window; }
  // Twice the sender's window: a receive consumed by one message is reposted only after its
  // completion is seen, and a receiver that runs dry makes a verbs sender back off (RNR).
  int recv_slots(const Params& p) const override { return 2 * p.window; }

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
    counts_.fit(ctx.endpoints.size());
    return TwoSidedRun(ctx, counts_, static_cast<std::uint64_t>(recv_slots(ctx.params))).run();
  }

 private:
  // One-sided ops (write, read, atomics; perftest's *_bw): the active side keeps `window`
  // operations in flight per endpoint and counts its own completions, from the post of the
  // first measured operation (on an idle pipeline: the warm-up drains first) to the completion
  // of the last. The passive side's CPU takes no part; it only waits for heartbeats and the
  // final message on endpoint 0.
  static RankResult one_sided_active(Context& ctx) {
    const Params& p = ctx.params;
    const std::size_t conns = ctx.endpoints.size();
    const auto window = static_cast<std::uint64_t>(p.window);
    const std::uint64_t slots = slots_in_use(p, window);
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
          // The measured phase starts on an idle pipeline, as perftest's *_bw start their clock
          // at the first post on an idle queue pair: warm-up operations still in flight would
          // take link time inside the measured interval without being counted (10 of the 200
          // operations of the perftest comparison: 5% of its bandwidth). Every warm-up operation
          // is signaled, so the drain always ends.
          if (inflight > 0) break;
          first_measured = next;
          measure_start = now;
        }
        if (p.duration_mode && total == kNoLimit && first_measured != kNoLimit &&
            now - measure_start >= p.duration_ns && next > first_measured) {
          total = next + conns;  // one final, signaled operation on every endpoint
        }
        // Completion moderation as in the two-sided sender; the wr_id is the endpoint's count.
        const bool last = next + conns >= total;
        const std::size_t offset = (e * window + posted[e] % slots) * p.message_size;
        const bool warmup = first_measured == kNoLimit;
        WorkRequest wr = make_request(ctx, p.op, offset, p.message_size, 0,
                                      last || warmup || (posted[e] + 1) % moderation == 0);
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
            const std::size_t slot = (e * window + j % slots) * p.message_size;
            verify_pattern(ctx.memory.recv.buffer, slot, p.message_size, 0, ctx.peer);
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

  EndpointCounts counts_;  // two-sided
};

}  // namespace

std::unique_ptr<Workload> make_stream() {
  return std::make_unique<Stream>();
}

}  // namespace fabricbench::suites
