#include "harness/engine/open_loop.hpp"

#include <sys/prctl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <span>
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
// Blocking completion mode: the longest single sleep (the loop's watchdog and interrupt checks
// run between sleeps).
constexpr std::uint64_t kMaxSleepNs = 1'000'000;
// Blocking completion mode, a closed loop (floor, the search's estimate): the longest single sleep.
// It waits for a completion (the operations in flight are the only work), so queue samples do not
// bound it (a sample is stamped when it is actually taken), and it is long enough for a
// transport to sleep in its receive call itself (tcp: from 20 ms).
constexpr std::uint64_t kMaxClosedSleepNs = 50'000'000;

int streams_per_endpoint(int streams, int connections) {
  return (streams + connections - 1) / connections;
}

}  // namespace

std::uint64_t blocking_sleep_ns(std::optional<std::uint64_t> to_arrival, std::uint64_t to_sample,
                                std::uint64_t spin_ns, std::uint64_t cap_ns) {
  std::uint64_t sleep = std::min(cap_ns, to_sample);
  if (to_arrival) sleep = std::min(sleep, *to_arrival > spin_ns ? *to_arrival - spin_ns : 0);
  return sleep;
}

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
  // After a phase: polls until every send counted in sends_out has completed.
  void drain_sends(std::vector<std::uint64_t>& sends_out, std::span<Completion> out);

  class Generator;  // one phase of generate()
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

// One phase of the generator: the streams' arrivals and backlogs, the operations in flight on
// each endpoint (in posting order), and what the phase records. run() is the loop; each pass
// takes the arrivals (open) or refills (closed), posts what the streams and endpoints can take,
// reaps completions, samples the queue, keeps a one-sided peer informed, and checks the
// watchdog, the interrupt and the drain bound.
class OpenLoopSession::State::Generator {
 public:
  Generator(State& state, const PhasePlan& plan);
  regime::PhaseResult run();

 private:
  void make_streams();
  std::uint64_t next_size(Stream& st) { return st.mix ? st.mix->next() : p_.message_size; }
  bool arrive(std::uint64_t t);
  bool refill(std::uint64_t t);
  void post_ready();
  // Takes the completions of every endpoint; true when there were any. `now` receives the
  // clock read after the last endpoint's completions, or 0 when the pass ended without one.
  bool reap(std::uint64_t& now);
  std::size_t wait_until_due(std::size_t e);
  void on_completion(std::size_t e, const Completion& c, std::uint64_t done_t);
  void confirm(std::size_t e, std::uint64_t now_t);
  void sample_queue(std::uint64_t t);
  void heartbeat(std::uint64_t now);
  void check_alive(std::uint64_t now, std::uint64_t t, bool progress);
  void send_last();

  State& s_;
  const PhasePlan& plan_;
  const suites::Params& p_;
  // Blocking completions and a sleeping generator (not regime.generator: spin): idle waits sleep.
  const bool sleeps_;
  const std::uint64_t warm_;
  const std::uint64_t end_t_;  // arrivals stop here (phase time)
  const std::uint64_t drain_limit_;
  const std::uint64_t heartbeat_ns_;
  regime::PhaseRecorder rec_;
  std::vector<Stream> streams_;
  std::vector<std::deque<InFlight>> fifo_;
  std::vector<std::uint64_t> sends_out_;  // posted send-queue entries not completed
  std::vector<std::size_t> sq_limit_;
  std::uint64_t start_ = 0;
  std::uint64_t last_progress_ = 0;
  std::uint64_t next_sample_ = 0;
  std::uint64_t last_heartbeat_ = 0;
  std::uint64_t confirmed_measured_ = 0;
  std::uint64_t waiting_total_ = 0;
  std::uint64_t in_flight_total_ = 0;
  std::array<Completion, 32> out_{};
  std::uint32_t passes_ = 0;
};

namespace {

// A stream's share of the pair's rate profile, in phase time: the warm-up (if any) at the first
// step's rate, then the plan's steps.
std::vector<regime::RateStep> stream_profile(const PhasePlan& plan, std::uint64_t warm) {
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
  return profile;
}

}  // namespace

OpenLoopSession::State::Generator::Generator(State& state, const PhasePlan& plan)
    : s_(state),
      plan_(plan),
      p_(state.ctx.params),
      sleeps_(p_.completion == transport::CompletionMode::blocking && !plan.spin),
      warm_(plan.closed ? 0 : plan.warmup_ns),
      end_t_(warm_ + plan.length_ns),
      drain_limit_(std::max(kMinDrainLimitNs, 4 * plan.length_ns)),
      heartbeat_ns_(suites::heartbeat_interval_ns(p_)),
      rec_(plan.bin_ns, plan.deadline_ns),
      fifo_(state.conns),
      sends_out_(state.conns, 0),
      sq_limit_(state.conns) {
  make_streams();
  for (std::size_t e = 0; e < s_.conns; ++e) {
    // Leave room for the two control messages (heartbeat, last).
    sq_limit_[e] =
        s_.ctx.endpoints[e]->queue_depth() > 2 ? s_.ctx.endpoints[e]->queue_depth() - 2 : 1;
  }
}

void OpenLoopSession::State::Generator::make_streams() {
  streams_.resize(static_cast<std::size_t>(plan_.streams));
  for (std::size_t s = 0; s < streams_.size(); ++s) {
    Stream& st = streams_[s];
    st.endpoint = s % s_.conns;
    if (!plan_.mix.empty()) {
      st.mix.emplace(plan_.mix, regime::derive_seed(plan_.seed, plan_.pair, 1000 + s));
    }
    if (!plan_.closed) {
      st.schedule.emplace(plan_.arrival, stream_profile(plan_, warm_),
                          regime::derive_seed(plan_.seed, plan_.pair, s));
      st.next_t = st.schedule->next();
    }
  }
}

regime::PhaseResult OpenLoopSession::State::Generator::run() {
  if (s_.two_sided) s_.top_up_receives();
  start_ = core::now_ns();
  s_.measure_start = start_ + warm_;
  last_progress_ = start_;
  next_sample_ = warm_;
  last_heartbeat_ = start_;
  // The clock is read once per pass where it can be: the time taken after the reap (by reap()
  // itself when its last endpoint had completions) is also the next pass's start, unless the
  // pass slept after it (docs/PERFORMANCE.md, "The harness's cost per operation").
  std::uint64_t now = start_;
  for (;;) {
    std::uint64_t t = now - start_;
    const bool arrivals_done = plan_.closed ? refill(t) : arrive(t);
    post_ready();
    std::uint64_t reaped = 0;
    const bool progress = reap(reaped);
    now = reaped != 0 ? reaped : core::now_ns();
    t = now - start_;
    if (progress) last_progress_ = now;
    sample_queue(t);
    heartbeat(now);
    if (arrivals_done && waiting_total_ == 0 && in_flight_total_ == 0) break;
    check_alive(now, t, progress);
    if (!progress && sleeps_ && s_.conns > 1) {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      now = core::now_ns();
    }
  }
  const std::uint64_t measured_end = core::now_ns() - start_;
  send_last();
  s_.drain_sends(sends_out_, out_);
  // A closed loop stops at its length or operation count; it measured until its last confirmation.
  return rec_.finish(plan_.closed ? measured_end : plan_.length_ns);
}

// Open: the arrivals due by phase time t join their stream's backlog (refused when it is full).
// True once the arrivals have stopped.
bool OpenLoopSession::State::Generator::arrive(std::uint64_t t) {
  for (auto& st : streams_) {
    while (st.next_t <= t && st.next_t < end_t_) {
      const std::uint64_t size = next_size(st);
      const bool measured = st.next_t >= warm_;
      if (measured) rec_.offered(st.next_t - warm_, size);
      if (st.backlog.size() >= plan_.backlog) {
        if (measured) rec_.refused(st.next_t - warm_, size);
      } else {
        st.backlog.push_back({st.next_t, size});
        ++waiting_total_;
      }
      st.next_t = st.schedule->next();
    }
  }
  return t >= end_t_;
}

// Closed: every stream with room for another operation gets one, until the phase's length or
// operation count is reached. True once it is.
bool OpenLoopSession::State::Generator::refill(std::uint64_t t) {
  const bool stop =
      t >= end_t_ || (plan_.max_ops > 0 &&
                      confirmed_measured_ + in_flight_total_ + waiting_total_ >= plan_.max_ops);
  if (!stop) {
    for (auto& st : streams_) {
      if (st.backlog.empty() && st.in_flight < plan_.inflight) {
        // Offered when posted (post_ready): a closed loop's operation is intended at the moment
        // it is posted, so it has no queueing.
        st.backlog.push_back({t, next_size(st)});
        ++waiting_total_;
      }
    }
  }
  return stop;
}

// Posts what the streams and endpoints can take.
void OpenLoopSession::State::Generator::post_ready() {
  for (std::size_t s = 0; s < streams_.size(); ++s) {
    Stream& st = streams_[s];
    const std::size_t e = st.endpoint;
    while (!st.backlog.empty() && st.in_flight < plan_.inflight && sends_out_[e] < sq_limit_[e]) {
      const Waiting w = st.backlog.front();
      const std::uint64_t seq = s_.data_count[e];
      const std::size_t slot = (e * s_.send_slots + seq % s_.send_slots) * s_.slot_bytes();
      WorkRequest wr = suites::make_request(s_.ctx, p_.op, slot, w.size, 0, true);
      if (suites::is_atomic(p_.op)) wr.remote_offset = e * s_.send_slots * s_.slot_bytes();
      wr.wr_id = seq;
      const std::uint64_t posted_t = core::now_ns() - start_;
      if (!s_.ctx.endpoints[e]->post(wr)) break;  // the endpoint is full: backpressure
      const std::uint64_t intended = plan_.closed ? posted_t : w.intended;
      if (plan_.closed) rec_.offered(posted_t, w.size);
      st.backlog.pop_front();
      --waiting_total_;
      ++st.in_flight;
      ++in_flight_total_;
      ++sends_out_[e];
      ++s_.data_count[e];
      fifo_[e].push_back(
          {seq, static_cast<int>(s), intended, std::max(posted_t, intended), w.size});
    }
  }
}

bool OpenLoopSession::State::Generator::reap(std::uint64_t& now) {
  bool progress = false;
  now = 0;
  for (std::size_t e = 0; e < s_.conns; ++e) {
    // Blocking with one endpoint: wait() makes the same progress as poll() before it sleeps, so
    // a poll() first would only add a read call that finds nothing.
    const std::size_t n =
        sleeps_ && s_.conns == 1 ? wait_until_due(e) : s_.ctx.endpoints[e]->poll(out_);
    if (n == 0) {
      now = 0;  // the time read for an earlier endpoint is no longer the pass's end
      continue;
    }
    progress = true;
    now = core::now_ns();
    const std::uint64_t done_t = now - start_;
    for (std::size_t i = 0; i < n; ++i) on_completion(e, out_[i], done_t);
  }
  return progress;
}

// Blocking mode, one endpoint: sleeps in the transport until a completion, or until shortly
// before the next arrival, or until the next sample (blocking_sleep_ns); the last kSpinNs before
// an arrival are polled. A closed loop sleeps until a completion (at most kMaxClosedSleepNs).
// Returns the completions taken (the endpoint's progress as poll() would make it, in either
// case).
std::size_t OpenLoopSession::State::Generator::wait_until_due(std::size_t e) {
  const bool awaited = in_flight_total_ > 0 || sends_out_[e] > 0;
  if (plan_.closed) {
    return awaited ? s_.ctx.endpoints[e]->wait(out_, kMaxClosedSleepNs)
                   : s_.ctx.endpoints[e]->poll(out_);
  }
  const std::uint64_t now_t = core::now_ns() - start_;
  std::optional<std::uint64_t> to_arrival;
  for (const auto& st : streams_) {
    if (!plan_.closed && st.next_t < end_t_) {
      const std::uint64_t to = st.next_t > now_t ? st.next_t - now_t : 0;
      to_arrival = to_arrival ? std::min(*to_arrival, to) : to;
    }
  }
  const std::uint64_t to_sample = next_sample_ > now_t ? next_sample_ - now_t : 0;
  const std::uint64_t sleep = blocking_sleep_ns(to_arrival, to_sample, kSpinNs, kMaxSleepNs);
  if (sleep > 0) return s_.ctx.endpoints[e]->wait(out_, sleep);
  // Spinning up to an arrival with nothing in flight and no send outstanding: no completion can
  // come, so spin on the clock without a read call per pass.
  if (!awaited) return 0;
  return s_.ctx.endpoints[e]->poll(out_);
}

void OpenLoopSession::State::Generator::on_completion(std::size_t e, const Completion& c,
                                                      std::uint64_t done_t) {
  if (c.op == Op::recv) {
    ++s_.recv_done[e];
    if (s_.two_sided) s_.post_recv(e);
    if ((c.imm & kTagAck) == 0) return;
    if (s_.echo) {
      if (!fifo_[e].empty()) confirm(e, done_t);
    } else {
      const std::uint32_t count = (c.imm >> kCountShift) & kCountMask;
      while (!fifo_[e].empty() && acked(count, fifo_[e].front().seq)) confirm(e, done_t);
    }
    return;
  }
  if (sends_out_[e] > 0) --sends_out_[e];
  if (c.wr_id == kControlId) return;
  if (!s_.two_sided && !fifo_[e].empty() && fifo_[e].front().seq == c.wr_id) confirm(e, done_t);
}

// The oldest operation in flight on endpoint e is confirmed at phase time now_t.
void OpenLoopSession::State::Generator::confirm(std::size_t e, std::uint64_t now_t) {
  InFlight op = fifo_[e].front();
  fifo_[e].pop_front();
  --streams_[static_cast<std::size_t>(op.stream)].in_flight;
  --in_flight_total_;
  if (op.intended >= warm_) {
    rec_.completed(op.intended - warm_, op.posted - warm_, now_t - warm_, op.size);
    ++confirmed_measured_;
  }
}

// Queue samples, when one is due (recorded in the measured window only).
void OpenLoopSession::State::Generator::sample_queue(std::uint64_t t) {
  if (t < next_sample_) return;
  if (t >= warm_ && t < end_t_) {
    std::uint64_t oldest = t;
    for (const auto& st : streams_) {
      if (!st.backlog.empty()) oldest = std::min(oldest, st.backlog.front().intended);
    }
    for (const auto& f : fifo_) {
      if (!f.empty()) oldest = std::min(oldest, f.front().intended);
    }
    rec_.sample_queue(t - warm_, waiting_total_, in_flight_total_,
                      waiting_total_ + in_flight_total_ > 0 ? t - oldest : 0);
  }
  next_sample_ += plan_.sample_interval_ns;
  if (next_sample_ <= t) {  // fell behind (descheduled): skip, do not burst samples
    next_sample_ = t + plan_.sample_interval_ns;
  }
}

// One-sided: the passive side sees no completions; keep it informed that we are alive.
void OpenLoopSession::State::Generator::heartbeat(std::uint64_t now) {
  if (!s_.two_sided && now - last_heartbeat_ >= heartbeat_ns_ && sends_out_[0] < sq_limit_[0] + 1) {
    if (s_.ctx.endpoints[0]->post(suites::control_request(s_.ctx, suites::kTagHeartbeat, true))) {
      ++sends_out_[0];
    }
    last_heartbeat_ = now;
  }
}

// Watchdog, interrupt, drain bound.
void OpenLoopSession::State::Generator::check_alive(std::uint64_t now, std::uint64_t t,
                                                    bool progress) {
  // Every 256 passes, and after every pass that took nothing (which may have slept).
  if (++passes_ % 256 == 0 || !progress) s_.check_stop();
  if (in_flight_total_ > 0 && now - last_progress_ > p_.peer_timeout_ns) {
    s_.lost(now - last_progress_);
  }
  if (t > end_t_ + drain_limit_) {
    throw Error(ErrorKind::runtime, "open loop: the queue did not drain within " +
                                        std::to_string(drain_limit_ / 1'000'000'000) +
                                        " s after the arrivals stopped (" +
                                        std::to_string(waiting_total_) + " waiting, " +
                                        std::to_string(in_flight_total_) + " in flight)");
  }
}

// Tells the responder the phase is over.
void OpenLoopSession::State::Generator::send_last() {
  for (std::size_t e = 0; e < s_.conns; ++e) {
    if (!s_.two_sided && e > 0) continue;  // the passive side listens on endpoint 0 only
    suites::post_control(s_.ctx, e, suites::kTagLast, true);
    ++sends_out_[e];
  }
}

std::optional<regime::PhaseResult> OpenLoopSession::State::generate(const PhasePlan& plan) {
  const TimerSlack slack;
  Generator generator(*this, plan);
  return generator.run();
}

// Every send posted must have completed before the next phase or the teardown (receives that
// complete meanwhile are counted and reposted).
void OpenLoopSession::State::drain_sends(std::vector<std::uint64_t>& sends_out,
                                         std::span<Completion> out) {
  std::uint64_t last_progress = core::now_ns();
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
    if (now - last_progress > ctx.params.peer_timeout_ns) lost(now - last_progress);
    check_stop();
    if (!progress) std::this_thread::yield();
  }
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
      WorkRequest wr = suites::control_request(
          ctx, kTagAck | (static_cast<std::uint32_t>(data_count[e] & kCountMask) << kCountShift),
          true);
      wr.wr_id = kAckId;
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
  drain_sends(sends_out, out);
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
