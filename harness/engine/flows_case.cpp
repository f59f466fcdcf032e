#include "harness/engine/flows_case.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "harness/engine/bootstrap_exchange.hpp"
#include "harness/engine/case_setup.hpp"
#include "harness/engine/pattern_case.hpp"
#include "harness/engine/rank_results.hpp"
#include "harness/pattern/flows.hpp"
#include "results/diff.hpp"

namespace fabricbench::engine {
namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;
using pattern::Flow;
using pattern::Step;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One flow of this rank in a step.
struct LocalFlow {
  Flow flow;
  int peer = 0;       // the other end
  int slot = 0;       // this rank's slice of the buffers
  int peer_slot = 0;  // the peer's slice for the same flow
};

std::vector<LocalFlow> local_flows(const Step& step, int me, int n) {
  const auto slots = pattern::flow_slots(step, n);
  std::vector<LocalFlow> out;
  for (std::size_t i = 0; i < step.size(); ++i) {
    const Flow& f = step[i];
    if (f.from == me) out.push_back({f, f.to, slots[i].at_sender, slots[i].at_receiver});
    if (f.to == me) out.push_back({f, f.from, slots[i].at_receiver, slots[i].at_sender});
  }
  return out;
}

std::vector<int> peers_of(const std::vector<LocalFlow>& flows) {
  std::vector<int> peers;
  for (const auto& f : flows) peers.push_back(f.peer);
  std::sort(peers.begin(), peers.end());
  peers.erase(std::unique(peers.begin(), peers.end()), peers.end());
  return peers;
}

// Slice `index` of `bytes` bytes: the same registration (keys unchanged), a narrower view.
transport::MemoryRegion slice(const transport::MemoryRegion& r, int index, std::size_t bytes) {
  transport::MemoryRegion out = r;
  out.buffer.addr =
      static_cast<std::byte*>(r.buffer.addr) + static_cast<std::size_t>(index) * bytes;
  out.buffer.length = bytes;
  return out;
}

transport::RemoteRegion slice(const transport::RemoteRegion& r, int index, std::size_t bytes) {
  return {r.addr + static_cast<std::uint64_t>(index) * bytes, r.key, bytes};
}

// Median of the finite values; NaN when there is none.
double finite_median(const std::vector<double>& values) {
  std::vector<double> finite;
  for (const double v : values) {
    if (std::isfinite(v)) finite.push_back(v);
  }
  return finite.empty() ? kNaN : results::diff::median(std::move(finite));
}

// The sum of a step's flow figures; NaN when one of them has none (NaN adds up to NaN).
double aggregate(const std::vector<double>& flows) {
  double sum = 0;
  for (const double v : flows) sum += v;
  return sum;
}

// One flow's workload and context on this rank.
struct FlowRun {
  FlowRun(const suites::Params& p, int me, int peer, bool sender) : ctx{p, me, peer, sender} {}
  std::unique_ptr<suites::Workload> workload;
  suites::Context ctx;
  suites::RankResult result;
};

class FlowsCase {
 public:
  FlowsCase(RunState& run, std::size_t index)
      : run_(run),
        c_(run.exp.cases[index]),
        index_(index),
        params_(to_params(c_, run.exp, run.registry)),
        incast_(c_.map.pattern == "incast"),
        steps_(incast_ ? run.size() : run.size() - 1) {}

  bool run() {
    result_ = open_case(run_, index_);
    const StepOutcome o = agreed_step(run_, c_, result_, [this] { set_up(); });
    if (o != StepOutcome::go_on) return o != StepOutcome::failed;
    try {
      regions_ = gather_regions(run_.bs, setup_);
      measure();
    } catch (const Error& e) {
      record_rank_failure(run_, c_, result_, e);
      return false;
    }
    finish();
    return true;
  }

 private:
  bool root() const { return run_.writer != nullptr; }
  int n() const { return run_.size(); }
  Step step(int s) const {
    return incast_ ? pattern::incast_step(n(), s) : pattern::shift_step(n(), s + 1);
  }

  // Buffers for the most flows a rank runs at once: the incast target's n - 1, a shift's 2.
  void set_up() {
    if (n() >= 2) sets_ = incast_ ? n() - 1 : 2;
    prepare(setup_, c_, params_, run_.registry, n(), sets_);
    if (setup_.staging != nullptr) {
      throw Error(ErrorKind::unavailable,
                  "pattern " + c_.map.pattern + ": memory " + c_.memory + " is staged by " +
                      c_.transport + " through host buffers, which cannot be split per flow");
    }
  }

  // Every step once per repetition; a flow's figure is the median over the repetitions.
  void measure() {
    samples_.assign(static_cast<std::size_t>(steps_), {});
    sums_.assign(static_cast<std::size_t>(steps_), {});
    for (int rep = 0; rep < c_.repetitions; ++rep) {
      for (int s = 0; s < steps_; ++s) {
        const auto figures = measure_step(step(s));
        if (root()) keep(static_cast<std::size_t>(s), figures);
      }
      if (run_.observer) run_.observer->on_repetition(c_, rep + 1);
    }
  }

  void keep(std::size_t s, const std::vector<double>& figures) {
    auto& flows = samples_[s];
    flows.resize(figures.size());
    for (std::size_t f = 0; f < figures.size(); ++f) flows[f].push_back(figures[f]);
    sums_[s].push_back(aggregate(figures));
  }

  // One step on every rank: connect to the peers of this rank's flows, a workload per flow, a
  // barrier, the flows at once, every rank's per-flow results to rank 0, then the workloads and
  // the endpoints closed (in that order). Rank 0 gets each flow's figure, in the step's order.
  // Where a pair has flows both ways, every pair gets 2 x connections (connect is collective
  // with one count) and flow s -> r takes the first half when s < r, the second otherwise.
  std::vector<double> measure_step(const Step& step) {
    const auto mine = local_flows(step, run_.rank(), n());
    const auto peers = peers_of(mine);
    const bool halves = pattern::both_ways(step);
    BootstrapExchange exchange(run_.bs);
    setup_.endpoints =
        setup_.transport->connect(exchange, peers, (halves ? 2 : 1) * c_.connections);
    for (const auto& ep : setup_.endpoints) check_queue_depth(c_, params_, setup_, *ep);
    std::vector<std::unique_ptr<FlowRun>> runs;
    for (const auto& f : mine) runs.push_back(make_run(f, peers, halves));
    run_.bs.barrier();
    run_all(runs);
    json results = json::array();
    for (const auto& r : runs) results.push_back(serialize(r->result, nullptr));
    runs.clear();
    const auto gathered = run_.bs.gather(results.dump());
    setup_.endpoints.clear();
    if (!root()) return {};
    return figures(step, gathered);
  }

  std::unique_ptr<FlowRun> make_run(const LocalFlow& f, const std::vector<int>& peers,
                                    bool halves) {
    const int me = run_.rank();
    const int peer = f.peer;
    auto r = std::make_unique<FlowRun>(params_, me, peer, f.flow.from == me);
    r->workload = setup_.suite->descriptor.make();
    r->ctx.stop_requested = &stop_;
    const auto conns = static_cast<std::size_t>(c_.connections);
    const auto at = static_cast<std::size_t>(std::lower_bound(peers.begin(), peers.end(), peer) -
                                             peers.begin());
    const std::size_t first =
        halves ? at * 2 * conns + (f.flow.from < f.flow.to ? 0 : conns) : at * conns;
    for (std::size_t e = first; e < first + conns; ++e) {
      r->ctx.endpoints.push_back(setup_.endpoints[e].get());
    }
    const std::size_t send_bytes = setup_.send_buffer.length / static_cast<std::size_t>(sets_);
    const std::size_t recv_bytes = setup_.recv_buffer.length / static_cast<std::size_t>(sets_);
    r->ctx.memory = {slice(setup_.send_region, f.slot, send_bytes),
                     slice(setup_.recv_region, f.slot, recv_bytes)};
    const RankRegions& theirs = regions_[static_cast<std::size_t>(peer)];
    r->ctx.peer_send = slice(theirs.send, f.peer_slot, send_bytes);
    r->ctx.peer_recv = slice(theirs.recv, f.peer_slot, recv_bytes);
    return r;
  }

  // Every flow in a thread of its own; the first error (in time) is rethrown after all have
  // ended. A failed flow stops the others (as an interrupt would), so the error surfaces now
  // rather than after the peer timeout.
  void run_all(std::vector<std::unique_ptr<FlowRun>>& runs) {
    stop_ = false;
    std::mutex mutex;
    std::condition_variable done;
    std::size_t running = runs.size();
    std::exception_ptr first;
    const auto body = [&](FlowRun* r) {
      try {
        r->result = r->workload->run(r->ctx);
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!first) first = std::current_exception();
        stop_ = true;
      }
      std::lock_guard lock(mutex);
      --running;
      done.notify_all();
    };
    std::vector<std::thread> threads;
    try {
      for (auto& r : runs) threads.emplace_back(body, r.get());
    } catch (const std::system_error& e) {
      std::lock_guard lock(mutex);
      running -= runs.size() - threads.size();
      if (!first) {
        first = std::make_exception_ptr(
            Error(ErrorKind::runtime, std::string("cannot start a thread per flow: ") + e.what()));
      }
      stop_ = true;
    }
    wait_for(mutex, done, running);
    for (auto& t : threads) t.join();
    if (first) std::rethrow_exception(first);
  }

  // Until every flow has ended; an interrupt of the run stops them.
  void wait_for(std::mutex& mutex, std::condition_variable& done, const std::size_t& running) {
    std::unique_lock lock(mutex);
    while (running > 0) {
      done.wait_for(lock, std::chrono::milliseconds(10));
      if (run_.stop_requested()) stop_ = true;
    }
  }

  // Rank 0: each flow of the step merged from its sender's and its receiver's results.
  std::vector<double> figures(const Step& step, const std::vector<std::string>& gathered) const {
    std::vector<json> per_rank;
    for (const auto& text : gathered) per_rank.push_back(json::parse(text));
    const auto slots = pattern::flow_slots(step, n());
    std::vector<double> out;
    for (std::size_t i = 0; i < step.size(); ++i) {
      const auto& from = per_rank[static_cast<std::size_t>(step[i].from)];
      const auto& to = per_rank[static_cast<std::size_t>(step[i].to)];
      const auto rep =
          merge(0,
                {from.at(static_cast<std::size_t>(slots[i].at_sender)).get<std::string>(),
                 to.at(static_cast<std::size_t>(slots[i].at_receiver)).get<std::string>()},
                true);
      out.push_back(pattern_figure(rep, true));
    }
    return out;
  }

  json step_json(int s, const std::vector<double>& values, std::vector<double>& matrix) const {
    const Step flows = step(s);
    json list = json::array();
    for (std::size_t f = 0; f < flows.size(); ++f) {
      list.push_back(json::array({flows[f].from, flows[f].to, number_or_null(values[f])}));
      const auto cell = static_cast<std::size_t>(flows[f].from) * static_cast<std::size_t>(n()) +
                        static_cast<std::size_t>(flows[f].to);
      matrix[cell] = values[f];
    }
    json per_rep = json::array();
    for (const double v : sums_[static_cast<std::size_t>(s)]) per_rep.push_back(number_or_null(v));
    json out = incast_ ? json{{"target", s}} : json{{"shift", s + 1}};
    out["flows"] = std::move(list);
    out["aggregate"] = number_or_null(aggregate(values));
    out["aggregate_per_repetition"] = std::move(per_rep);
    return out;
  }

  json map_json() const {
    const auto size = static_cast<std::size_t>(n());
    std::vector<double> matrix(size * size, kNaN);
    json steps = json::array();
    json incast = json::array();
    for (int s = 0; s < steps_; ++s) {
      std::vector<double> values;
      for (const auto& v : samples_[static_cast<std::size_t>(s)])
        values.push_back(finite_median(v));
      steps.push_back(step_json(s, values, matrix));
      if (incast_) incast.push_back(steps.back()["aggregate"]);
    }
    double best = kNaN;
    json rows = json::array();
    for (std::size_t a = 0; a < size; ++a) {
      json row = json::array();
      for (std::size_t b = 0; b < size; ++b) {
        const double v = matrix[a * size + b];
        row.push_back(number_or_null(v));
        if (std::isfinite(v) && v > 0 && (std::isnan(best) || v > best)) best = v;
      }
      rows.push_back(std::move(row));
    }
    json out = {{"pattern", c_.map.pattern},
                {"metric", "bandwidth"},
                {"unit", "GB/s"},
                {"directed", true},
                {"nodes", nodes_json(run_)},
                {"steps", steps},
                {"repetitions", c_.repetitions},
                {"matrix", rows},
                {"reference", number_or_null(best)}};
    if (incast_) out["incast_bandwidth"] = std::move(incast);
    return out;
  }

  void finish() {
    result_.finished_ns = core::wall_clock_ns();
    gather_case_facts(run_, c_, setup_, result_);
    if (!root()) return;
    results::summarize_case(result_);
    result_.summary["map"] = map_json();
    record_case(run_, c_, result_);
  }

  RunState& run_;
  const spec::Case& c_;
  std::size_t index_;
  const suites::Params params_;
  const bool incast_;
  const int steps_;
  int sets_ = 1;
  CaseSetup setup_;
  std::vector<RankRegions> regions_;
  std::atomic<bool> stop_{false};
  results::CaseResult result_;
  std::vector<std::vector<std::vector<double>>> samples_;  // rank 0: [step][flow][repetition]
  std::vector<std::vector<double>> sums_;                  // rank 0: [step][repetition]
};

}  // namespace

bool is_flows_case(const RunState& run, std::size_t index) {
  const std::string& p = run.exp.cases[index].map.pattern;
  return p == "incast" || p == "shift";
}

bool run_flows_case(RunState& run, std::size_t index) {
  return FlowsCase(run, index).run();
}

}  // namespace fabricbench::engine
