#include "harness/engine/open_loop.hpp"

#include <sys/prctl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <string>
#include <thread>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "suites/api/measure.hpp"

namespace fabricbench::engine {

using core::Error;
using core::ErrorKind;
using transport::Completion;
using transport::Op;
using transport::WorkRequest;

namespace {

// imm layout of the open loop's messages: bits 0-2 the workload tags (measure.hpp), bit 3 marks
// an acknowledgement or echo, bits 4-31 the cumulative count of data messages received on the
// connection (mod 2^28).
constexpr std::uint32_t kTagAck = 1u << 3;
constexpr unsigned kCountShift = 4;
constexpr std::uint32_t kCountMask = (1u << 28) - 1;
constexpr std::uint64_t kControlId = ~0ULL;
constexpr std::uint64_t kAckId = ~0ULL - 1;
// A queue that has not drained this long after the arrivals stopped is an error.
constexpr std::uint64_t kMinDrainLimitNs = 60'000'000'000;
// Blocking completion mode: the open loop polls instead of sleeping this close to an arrival.
constexpr std::uint64_t kSpinNs = 50'000;

int streams_per_endpoint(int streams, int connections) {
  return (streams + connections - 1) / connections;
}

}  // namespace

int open_loop_send_slots(int streams, int inflight, int connections) {
  return inflight * streams_per_endpoint(streams, connections);
}

// Every data message in flight may need a receive on either side, plus two control messages
// (heartbeat and last).
int open_loop_recv_slots(int streams, int inflight, int connections) {
  return inflight * streams_per_endpoint(streams, connections) + 2;
}

struct OpenLoopSession::State {
  const suites::Context& ctx;
  bool echo;
  int streams;
  int inflight;
  std::size_t conns;
  std::uint64_t send_slots;  // per endpoint
  std::uint64_t recv_slots;  // per endpoint
  bool two_sided;
  std::vector<std::uint64_t> recv_posted;
  std::vector<std::uint64_t> recv_done;
  std::vector<std::uint64_t> data_count;  // generator: data posted; responder: data received
  std::uint64_t max_size = 0;
  std::uint64_t measure_start = 0;  // generator: mono time of the last phase's measured start

  State(const suites::Context& c, bool e, int s, int i)
      : ctx(c),
        echo(e),
        streams(s),
        inflight(i),
        conns(c.endpoints.size()),
        send_slots(static_cast<std::uint64_t>(
            open_loop_send_slots(s, i, static_cast<int>(c.endpoints.size())))),
        recv_slots(static_cast<std::uint64_t>(
            open_loop_recv_slots(s, i, static_cast<int>(c.endpoints.size())))),
        two_sided(suites::is_two_sided(c.params.op)),
        recv_posted(conns, 0),
        recv_done(conns, 0),
        data_count(conns, 0) {}

  std::size_t slot_bytes() const { return std::max<std::size_t>(ctx.params.message_size, 1); }

  void post_recv(std::size_t e) {
    WorkRequest wr;
    wr.op = Op::recv;
    wr.local = &ctx.memory.recv;
    wr.offset = (e * recv_slots + recv_posted[e] % recv_slots) * slot_bytes();
    wr.length = ctx.params.message_size;
    wr.wr_id = recv_posted[e];
    suites::post_or_throw(*ctx.endpoints[e], wr);
    ++recv_posted[e];
  }

  // Keeps recv_slots receives posted on every endpoint (only for two-sided operations: one-sided
  // ones need a receive only on the passive side, for the control messages).
  void top_up_receives() {
    for (std::size_t e = 0; e < conns; ++e) {
      while (recv_posted[e] - recv_done[e] < recv_slots) post_recv(e);
    }
  }

  void check_stop() const {
    if (ctx.stop_requested != nullptr && ctx.stop_requested->load(std::memory_order_relaxed)) {
      throw Error(ErrorKind::runtime, "interrupted");
    }
  }

  [[noreturn]] void lost(std::uint64_t since_ns) const {
    throw Error(ErrorKind::timeout, "rank " + std::to_string(ctx.peer) +
                                        " stopped answering: no completion for " +
                                        std::to_string(since_ns / 1'000'000) + " ms");
  }

  std::optional<regime::PhaseResult> generate(const PhasePlan& plan);
  void respond();
};

namespace {

struct Waiting {
  std::uint64_t intended;  // phase time (ns since the phase start, warm-up included)
  std::uint64_t size;
};

struct InFlight {
  std::uint64_t seq;  // data message number on its endpoint
  int stream;
  std::uint64_t intended;
  std::uint64_t posted;
  std::uint64_t size;
};

struct Stream {
  std::optional<regime::ArrivalSchedule> schedule;
  std::optional<regime::SizeMix> mix;
  std::uint64_t next_t = 0;
  std::deque<Waiting> backlog;
  int in_flight = 0;
  std::size_t endpoint = 0;
};

// True when count `ack` (mod 2^28) covers data message `seq` (0-based) on the endpoint.
bool acked(std::uint32_t ack, std::uint64_t seq) {
  const std::uint32_t need = static_cast<std::uint32_t>((seq + 1) & kCountMask);
  return ((ack - need) & kCountMask) < (1u << 27);
}

}  // namespace

namespace {
// Blocking waits end at the next arrival; the default 50 us timer slack would make every
// arrival up to 50 us late (counted as queueing). Tighten it for the phase, then restore.
class TimerSlack {
 public:
  TimerSlack() : saved_(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)) {
    if (saved_ > 0) prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  }
  ~TimerSlack() {
    if (saved_ > 0) prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(saved_), 0, 0, 0);
  }
  TimerSlack(const TimerSlack&) = delete;
  TimerSlack& operator=(const TimerSlack&) = delete;

 private:
  int saved_;
};
}  // namespace

std::optional<regime::PhaseResult> OpenLoopSession::State::generate(const PhasePlan& plan) {
  const TimerSlack slack;
  const suites::Params& p = ctx.params;
  const bool blocking = p.completion == transport::CompletionMode::blocking;
  const std::uint64_t warm = plan.closed ? 0 : plan.warmup_ns;
  const std::uint64_t end_t = warm + plan.length_ns;  // arrivals stop here (phase time)
  const std::uint64_t drain_limit = std::max(kMinDrainLimitNs, 4 * plan.length_ns);
  const std::uint64_t heartbeat_ns = std::min<std::uint64_t>(1'000'000'000, p.peer_timeout_ns / 4);
  regime::PhaseRecorder rec(plan.bin_ns, plan.deadline_ns);

  std::vector<Stream> streams_(static_cast<std::size_t>(plan.streams));
  for (std::size_t s = 0; s < streams_.size(); ++s) {
    Stream& st = streams_[s];
    st.endpoint = s % conns;
    if (!plan.mix.empty()) {
      st.mix.emplace(plan.mix, regime::derive_seed(plan.seed, plan.pair, 1000 + s));
    }
    if (!plan.closed) {
      std::vector<regime::RateStep> profile;
      const double share = 1.0 / static_cast<double>(plan.streams);
      if (warm > 0) profile.push_back({0, plan.profile.front().ops_per_s * share});
      for (const auto& step : plan.profile) {
        profile.push_back({step.start_ns + warm, step.ops_per_s * share});
      }
      if (warm > 0 && profile.size() > 1 && profile[1].start_ns == warm &&
          profile[1].ops_per_s == profile[0].ops_per_s) {
        profile.erase(profile.begin() + 1);
      }
      st.schedule.emplace(plan.arrival, std::move(profile),
                          regime::derive_seed(plan.seed, plan.pair, s));
      st.next_t = st.schedule->next();
    }
  }
  auto next_size = [&](Stream& st) { return st.mix ? st.mix->next() : p.message_size; };

  std::vector<std::deque<InFlight>> fifo(conns);
  std::vector<std::uint64_t> sends_out(conns, 0);  // posted send-queue entries not completed
  std::vector<std::size_t> sq_limit(conns);
  for (std::size_t e = 0; e < conns; ++e) {
    // Leave room for the two control messages (heartbeat, last).
    sq_limit[e] = ctx.endpoints[e]->queue_depth() > 2 ? ctx.endpoints[e]->queue_depth() - 2 : 1;
  }
  if (two_sided) top_up_receives();

  const std::uint64_t start = core::now_ns();
  measure_start = start + warm;
  std::uint64_t last_progress = start;
  std::uint64_t next_sample = warm;
  std::uint64_t last_heartbeat = start;
  std::uint64_t confirmed_measured = 0;
  std::uint64_t waiting_total = 0;
  std::uint64_t in_flight_total = 0;
  bool arrivals_done = false;
  std::array<Completion, 32> out{};
  std::uint32_t passes = 0;

  auto confirm = [&](std::size_t e, std::uint64_t now_t) {
    InFlight op = fifo[e].front();
    fifo[e].pop_front();
    --streams_[static_cast<std::size_t>(op.stream)].in_flight;
    --in_flight_total;
    if (op.intended >= warm) {
      rec.completed(op.intended - warm, op.posted - warm, now_t - warm, op.size);
      ++confirmed_measured;
    }
  };

  for (;;) {
    std::uint64_t now = core::now_ns();
    std::uint64_t t = now - start;

    // 1. Arrivals (open) or refills (closed).
    if (!plan.closed) {
      for (auto& st : streams_) {
        while (st.next_t <= t && st.next_t < end_t) {
          const std::uint64_t size = next_size(st);
          const bool measured = st.next_t >= warm;
          if (measured) rec.offered(st.next_t - warm, size);
          if (st.backlog.size() >= plan.backlog) {
            if (measured) rec.refused(st.next_t - warm, size);
          } else {
            st.backlog.push_back({st.next_t, size});
            ++waiting_total;
          }
          st.next_t = st.schedule->next();
        }
      }
      arrivals_done = t >= end_t;
    } else {
      const bool stop =
          t >= end_t || (plan.max_ops > 0 &&
                         confirmed_measured + in_flight_total + waiting_total >= plan.max_ops);
      arrivals_done = stop;
      if (!stop) {
        for (auto& st : streams_) {
          if (st.backlog.empty() && st.in_flight < plan.inflight) {
            // Offered when posted (below): a closed loop's operation is intended at the moment
            // it is posted, so it has no queueing.
            st.backlog.push_back({t, next_size(st)});
            ++waiting_total;
          }
        }
      }
    }

    // 2. Post what the streams and endpoints can take.
    for (std::size_t s = 0; s < streams_.size(); ++s) {
      Stream& st = streams_[s];
      const std::size_t e = st.endpoint;
      while (!st.backlog.empty() && st.in_flight < plan.inflight && sends_out[e] < sq_limit[e]) {
        const Waiting w = st.backlog.front();
        const std::uint64_t seq = data_count[e];
        const std::size_t slot = (e * send_slots + seq % send_slots) * slot_bytes();
        WorkRequest wr = suites::make_request(ctx, p.op, slot, w.size, 0, true);
        if (suites::is_atomic(p.op)) wr.remote_offset = e * send_slots * slot_bytes();
        wr.wr_id = seq;
        const std::uint64_t posted_t = core::now_ns() - start;
        if (!ctx.endpoints[e]->post(wr)) break;  // the endpoint is full: backpressure
        const std::uint64_t intended = plan.closed ? posted_t : w.intended;
        if (plan.closed) rec.offered(posted_t, w.size);
        st.backlog.pop_front();
        --waiting_total;
        ++st.in_flight;
        ++in_flight_total;
        ++sends_out[e];
        ++data_count[e];
        fifo[e].push_back(
            {seq, static_cast<int>(s), intended, std::max(posted_t, intended), w.size});
      }
    }

    // 3. Completions.
    bool progress = false;
    for (std::size_t e = 0; e < conns; ++e) {
      std::size_t n = ctx.endpoints[e]->poll(out);
      if (n == 0 && blocking && conns == 1) {
        // Sleep in the transport until a completion, or until shortly before the next arrival
        // or sample is due; the last kSpinNs are polled, since a sleeping thread wakes late
        // (that lateness would count as queueing).
        const std::uint64_t now_t = core::now_ns() - start;
        std::uint64_t due = 1'000'000;
        for (const auto& st : streams_) {
          if (!plan.closed && st.next_t < end_t) {
            due = std::min(due, st.next_t > now_t ? st.next_t - now_t : 0);
          }
        }
        due = std::min(due, next_sample > now_t ? next_sample - now_t : 0);
        if (due > kSpinNs) n = ctx.endpoints[e]->wait(out, due - kSpinNs);
      }
      if (n == 0) continue;
      progress = true;
      const std::uint64_t done_t = core::now_ns() - start;
      for (std::size_t i = 0; i < n; ++i) {
        const Completion& c = out[i];
        if (c.op == Op::recv) {
          ++recv_done[e];
          if (two_sided) post_recv(e);
          if ((c.imm & kTagAck) == 0) continue;
          if (echo) {
            if (!fifo[e].empty()) confirm(e, done_t);
          } else {
            const std::uint32_t count = (c.imm >> kCountShift) & kCountMask;
            while (!fifo[e].empty() && acked(count, fifo[e].front().seq)) confirm(e, done_t);
          }
          continue;
        }
        if (sends_out[e] > 0) --sends_out[e];
        if (c.wr_id == kControlId) continue;
        if (!two_sided && !fifo[e].empty() && fifo[e].front().seq == c.wr_id) confirm(e, done_t);
      }
    }
    now = core::now_ns();
    t = now - start;
    if (progress) last_progress = now;

    // 4. Queue samples (measured window only).
    if (t >= next_sample) {
      if (t >= warm && t < end_t) {
        std::uint64_t oldest = t;
        for (const auto& st : streams_) {
          if (!st.backlog.empty()) oldest = std::min(oldest, st.backlog.front().intended);
        }
        for (const auto& f : fifo) {
          if (!f.empty()) oldest = std::min(oldest, f.front().intended);
        }
        rec.sample_queue(t - warm, waiting_total, in_flight_total,
                         waiting_total + in_flight_total > 0 ? t - oldest : 0);
      }
      next_sample += plan.sample_interval_ns;
      if (next_sample <= t) {  // fell behind (descheduled): skip, do not burst samples
        next_sample = t + plan.sample_interval_ns;
      }
    }

    // 5. One-sided: the passive side sees no completions; keep it informed that we are alive.
    if (!two_sided && now - last_heartbeat >= heartbeat_ns && sends_out[0] < sq_limit[0] + 1) {
      WorkRequest hb;
      hb.op = Op::send;
      hb.wr_id = kControlId;
      hb.local = &ctx.memory.send;
      hb.length = 0;
      hb.imm = suites::kTagHeartbeat;
      if (ctx.endpoints[0]->post(hb)) ++sends_out[0];
      last_heartbeat = now;
    }

    // 6. Done? Watchdog, interrupt, drain bound.
    if (arrivals_done && waiting_total == 0 && in_flight_total == 0) break;
    if (++passes % 256 == 0) check_stop();
    if (in_flight_total > 0 && now - last_progress > p.peer_timeout_ns) lost(now - last_progress);
    if (t > end_t + drain_limit) {
      throw Error(ErrorKind::runtime, "open loop: the queue did not drain within " +
                                          std::to_string(drain_limit / 1'000'000'000) +
                                          " s after the arrivals stopped (" +
                                          std::to_string(waiting_total) + " waiting, " +
                                          std::to_string(in_flight_total) + " in flight)");
    }
    if (!progress && blocking && conns > 1) {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
  const std::uint64_t measured_end = core::now_ns() - start;

  // Tell the responder the phase is over, and wait until every send has completed.
  for (std::size_t e = 0; e < conns; ++e) {
    if (!two_sided && e > 0) continue;  // the passive side listens on endpoint 0 only
    WorkRequest last;
    last.op = Op::send;
    last.wr_id = kControlId;
    last.local = &ctx.memory.send;
    last.length = 0;
    last.imm = suites::kTagLast;
    suites::post_or_throw(*ctx.endpoints[e], last);
    ++sends_out[e];
  }
  last_progress = core::now_ns();
  for (;;) {
    bool pending = false;
    bool progress = false;
    for (std::size_t e = 0; e < conns; ++e) {
      if (sends_out[e] == 0) continue;
      pending = true;
      const std::size_t n = ctx.endpoints[e]->poll(out);
      for (std::size_t i = 0; i < n; ++i) {
        progress = true;
        if (out[i].op == Op::recv) {
          ++recv_done[e];
          if (two_sided) post_recv(e);
        } else if (sends_out[e] > 0) {
          --sends_out[e];
        }
      }
    }
    if (!pending) break;
    const std::uint64_t now = core::now_ns();
    if (progress) last_progress = now;
    if (now - last_progress > p.peer_timeout_ns) lost(now - last_progress);
    check_stop();
    if (!progress) std::this_thread::yield();
  }
  // A closed loop stops at its length or operation count; it measured until its last confirmation.
  return rec.finish(plan.closed ? measured_end : plan.length_ns);
}

void OpenLoopSession::State::respond() {
  const suites::Params& p = ctx.params;
  suites::Completer completer(ctx);
  if (!two_sided) {
    suites::await_last_message(ctx, completer);
    return;
  }
  top_up_receives();
  std::vector<bool> ended(conns, false);
  std::size_t open = conns;
  std::vector<std::uint64_t> sends_out(conns, 0);
  std::vector<std::deque<std::uint32_t>> echoes(conns);  // sizes still to answer
  std::vector<std::uint64_t> acked_count(conns, 0);
  std::vector<std::size_t> sq_limit(conns);
  for (std::size_t e = 0; e < conns; ++e) {
    sq_limit[e] = std::max<std::size_t>(ctx.endpoints[e]->queue_depth(), 2) - 1;
    acked_count[e] = data_count[e];
  }
  std::array<Completion, 32> out{};
  auto answer = [&](std::size_t e) {
    if (echo) {
      while (!echoes[e].empty() && sends_out[e] < sq_limit[e]) {
        WorkRequest wr = suites::make_request(ctx, p.op, e * send_slots * slot_bytes(),
                                              echoes[e].front(), kTagAck, true);
        wr.wr_id = kAckId;
        if (!ctx.endpoints[e]->post(wr)) break;
        echoes[e].pop_front();
        ++sends_out[e];
      }
    } else if (acked_count[e] != data_count[e] && sends_out[e] < sq_limit[e]) {
      WorkRequest wr;
      wr.op = Op::send;
      wr.wr_id = kAckId;
      wr.local = &ctx.memory.send;
      wr.length = 0;
      wr.imm = kTagAck | (static_cast<std::uint32_t>(data_count[e] & kCountMask) << kCountShift);
      if (ctx.endpoints[e]->post(wr)) {
        ++sends_out[e];
        acked_count[e] = data_count[e];
      }
    }
  };
  for (;;) {
    std::size_t e = 0;
    const std::size_t n = completer.next_any(out, &e);
    for (std::size_t i = 0; i < n; ++i) {
      const Completion& c = out[i];
      if (c.op != Op::recv) {
        if (sends_out[e] > 0) --sends_out[e];
        continue;
      }
      ++recv_done[e];
      if ((c.imm & suites::kTagLast) != 0) {
        if (!ended[e]) --open;
        ended[e] = true;
        post_recv(e);
        continue;
      }
      post_recv(e);
      if ((c.imm & suites::kTagHeartbeat) != 0) continue;
      ++data_count[e];
      if (echo) echoes[e].push_back(c.bytes);
    }
    for (std::size_t k = 0; k < conns; ++k) answer(k);
    bool unanswered = false;
    for (std::size_t k = 0; k < conns; ++k) {
      unanswered = unanswered || (echo ? !echoes[k].empty() : acked_count[k] != data_count[k]);
    }
    if (open == 0 && !unanswered) break;
  }
  // Every answer must have left before the next phase or the teardown.
  std::uint64_t last_progress = core::now_ns();
  for (;;) {
    bool pending = false;
    for (std::size_t e = 0; e < conns; ++e) {
      if (sends_out[e] == 0) continue;
      pending = true;
      const std::size_t n = ctx.endpoints[e]->poll(out);
      for (std::size_t i = 0; i < n; ++i) {
        last_progress = core::now_ns();
        if (out[i].op == Op::recv) {
          ++recv_done[e];
          post_recv(e);
        } else if (sends_out[e] > 0) {
          --sends_out[e];
        }
      }
    }
    if (!pending) break;
    if (core::now_ns() - last_progress > p.peer_timeout_ns) {
      lost(core::now_ns() - last_progress);
    }
    check_stop();
    std::this_thread::yield();
  }
}

OpenLoopSession::OpenLoopSession(const suites::Context& ctx, bool echo, int streams, int inflight)
    : state_(new State(ctx, echo, streams, inflight)) {}

OpenLoopSession::~OpenLoopSession() {
  delete state_;
}

std::uint64_t OpenLoopSession::measure_start_mono_ns() const noexcept {
  return state_->measure_start;
}

std::optional<regime::PhaseResult> OpenLoopSession::run_phase(const PhasePlan& plan) {
  if (plan.streams != state_->streams || plan.inflight != state_->inflight) {
    throw Error(ErrorKind::runtime, "open loop: streams and inflight must not change in a session");
  }
  if (!plan.closed && plan.profile.empty()) {
    throw Error(ErrorKind::runtime, "open loop: no rate profile");
  }
  if (state_->ctx.initiator) return state_->generate(plan);
  state_->respond();
  return std::nullopt;
}

}  // namespace fabricbench::engine
