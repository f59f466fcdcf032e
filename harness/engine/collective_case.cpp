#include "harness/engine/collective_case.hpp"

#include <cstdlib>
#include <functional>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/units.hpp"
#include "harness/engine/bootstrap_exchange.hpp"
#include "harness/engine/case_setup.hpp"
#include "harness/engine/fault_run.hpp"
#include "harness/engine/progress_watch.hpp"

namespace fabricbench::engine {
namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

suites::CollectiveParams collective_params(const spec::Case& c, const spec::Experiment& e,
                                           const suites::Descriptor& suite) {
  suites::CollectiveParams p;
  if (suite.configure_collective) suite.configure_collective(c.suite_settings, p);
  p.size = c.message_size;
  p.iterations = c.iterations;
  p.warmup_iterations = c.warmup_iterations;
  p.regime = c.regime.kind;
  p.peer_timeout_ns = e.peer_timeout_ns;
  if (p.regime == "realistic") {
    if (c.regime.rate.unit != spec::Rate::Unit::ops_per_s) {
      throw Error(ErrorKind::config,
                  "a collective case's realistic regime takes its rate in collectives per second "
                  "(regime.rate: 100/s), not " +
                      (c.regime.rate.text.empty() ? std::string("nothing") : c.regime.rate.text));
    }
    p.rate_per_s = c.regime.rate.value;
    p.poisson = c.regime.arrival == "poisson";
    p.regime_seed = c.regime.seed;
    p.deadline_ns = c.regime.deadline_ns;
    if (c.mode == spec::Mode::duration) {
      p.interval_ns = c.interval_ns;  // the completions series (a fault's recovery curve)
      // Every rank issues the same number: the schedule's, over the duration (and the warm-up).
      const auto at_rate = [&](std::uint64_t ns) {
        return static_cast<std::uint64_t>(p.rate_per_s * static_cast<double>(ns) / 1e9);
      };
      p.iterations = at_rate(c.duration_ns);
      p.warmup_iterations = at_rate(c.warmup_ns);
    }
  }
  return p;
}

// "all_reduce float32 sum, 1MiB"
std::string what_of(const suites::CollectiveParams& p) {
  std::string out = std::string(to_string(p.collective)) + " " + std::string(to_string(p.type));
  if (transport::reduces(p.collective)) out += " " + std::string(to_string(p.op));
  return out + ", " + core::format_size(p.size);
}

class CollectiveCase {
 public:
  CollectiveCase(RunState& run, std::size_t index)
      : run_(run), c_(run.exp.cases[index]), index_(index) {}

  bool run() {
    result_ = open_case(run_, index_);
    if (!step([this] { prepare(); })) return done_ok_;
    if (!step([this] { connect(); })) return done_ok_;
    try {
      for (int rep = 0; rep < c_.repetitions; ++rep) repetition(rep);
    } catch (const Error& e) {
      fail(e);
      return false;
    }
    result_.finished_ns = core::wall_clock_ns();
    if (run_.writer) {
      results::summarize_case(result_);
      if (c_.fault.active()) result_.summary["recovery"] = recovery_spread(result_.repetitions);
      add_case();
    }
    return true;
  }

 private:
  // A local step, then every rank agrees; false when the case is over (done_ok_ says whether
  // the run goes on).
  bool step(const std::function<void()>& local_step) {
    const StepOutcome o = agreed_step(run_, c_, result_, local_step);
    done_ok_ = o != StepOutcome::failed;
    return o == StepOutcome::go_on;
  }

  void prepare() {
    const auto* suite = run_.registry.suite(c_.suite);
    entry_ = run_.registry.collective(c_.transport);
    if (suite == nullptr || !suite->descriptor.make_collective || entry_ == nullptr) {
      throw Error(ErrorKind::config, "case " + c_.id + ": suite " + c_.suite + " with backend " +
                                         c_.transport + " is not a collective case of this build");
    }
    const auto& d = entry_->descriptor;
    if (auto why = d.unavailable_reason ? d.unavailable_reason() : std::nullopt) {
      throw Error(ErrorKind::unavailable, c_.transport + ": " + *why);
    }
    if (auto why = d.launcher_refusal ? d.launcher_refusal(run_.bs.launcher()) : std::nullopt) {
      throw Error(ErrorKind::unavailable, c_.transport + ": " + *why);
    }
    if (!d.make) throw Error(ErrorKind::unavailable, c_.transport + ": not built into this binary");
    const auto* memory = run_.registry.memory_provider(d.memory);
    if (memory == nullptr || !memory->make) {
      throw Error(ErrorKind::unavailable,
                  c_.transport + ": its memory provider '" + d.memory + "' is not built");
    }
    params_ = collective_params(c_, run_.exp, suite->descriptor);
    workload_ = suite->descriptor.make_collective();
    provider_ = memory->make(core::Settings(memory->keys));
    // Rank 0 causes the fault: its completions make the recovery curve (one clock).
    if (c_.fault.active() && run_.rank() == 0) {
      faults::Watchdog* dog = nullptr;
      if (run_.exp.injector.backend != "netns") {
        if (!run_.watchdog) run_.watchdog = faults::Watchdog::start();
        dog = run_.watchdog.get();
      }
      faults_ = std::make_unique<CaseFaults>(run_.exp, c_, dog);
    }
  }

  void connect() {
    BootstrapExchange exchange(run_.bs);
    transport::CommunicatorParams common;
    common.timeout_ns = run_.exp.peer_timeout_ns;
    common.launcher = run_.bs.launcher();
    comm_ = entry_->descriptor.make(c_.transport_settings, common, exchange);
    if (auto why = workload_->unsupported(*comm_, params_)) {
      throw Error(ErrorKind::unavailable, c_.transport + ": " + *why);
    }
    const std::uint64_t bytes = workload_->buffer_bytes(params_, run_.size());
    send_.emplace(*provider_, bytes);
    recv_.emplace(*provider_, bytes);
    result_.endpoints = run_.bs.gather(
        fmt::format("{} rank {} of {}", comm_->name(), comm_->rank(), comm_->size()));
  }

  void repetition(int rep) {
    run_.bs.barrier();
    json mine;
    {
      ProgressWatch watch(run_.bs, run_.exp.peer_timeout_ns, what_of(params_), run_.hostnames,
                          run_.options.stop_requested, [this](const Error& e) { abandon(e); });
      if (faults_) {
        watch.on_measuring([this, rep](std::uint64_t t0) {
          if (!faults_->running()) faults_->begin(rep, t0);
        });
      }
      mine = workload_->run(*comm_, params_, send_->get(), recv_->get(), watch);
      watch.finish();
    }
    const json fault_record = faults_ && faults_->running() ? faults_->end() : json(nullptr);
    const auto gathered = run_.bs.gather(mine.dump());
    std::string failure;
    if (run_.writer) {
      std::vector<json> per_rank;
      per_rank.reserve(gathered.size());
      for (const auto& g : gathered) per_rank.push_back(json::parse(g));
      suites::CollectiveMerged m = workload_->merge(params_, per_rank);
      results::Repetition r;
      r.index = rep;
      r.elapsed_ns = m.elapsed_ns;
      r.ops = m.ops;
      r.latency = std::move(m.latency);
      r.collective = std::move(m.collective);
      r.regime = std::move(m.regime);
      r.intervals = std::move(m.intervals);
      if (!fault_record.is_null()) record_fault(r, fault_record, m.measure_start_ns);
      result_.repetitions.push_back(std::move(r));
      failure = m.failure;
      if (run_.observer) run_.observer->on_repetition(c_, rep + 1);
    }
    failure = run_.bs.broadcast(0, failure);
    if (!failure.empty()) {
      throw Error(ErrorKind::runtime, "wrong results: " + failure);
    }
  }

  // Rank 0 (the injecting rank): the fault's evidence as events and its recovery metrics from
  // the repetition's busbw curve. A collective has no transport events of its own.
  void record_fault(results::Repetition& r, const json& record, std::uint64_t measure_start) {
    for (const auto& e : fault_events(record)) {
      run_.writer->document().events.push_back(tagged_event(e, 0, c_.id, r.index));
    }
    const std::vector<bool> same_clock(static_cast<std::size_t>(run_.size()), false);
    r.fault = fault_summary(c_, r, record, measure_start, json::array(), same_clock);
  }

  // On the progress watch's thread, while this rank's own thread is stuck inside a collective that
  // will not return (a blocking backend waiting for a lost rank): record the failure as fail()
  // does, finish the document (rank 0) or let rank 0 finish it (the others), and end the process.
  [[noreturn]] void abandon(const Error& e) {
    fail(e);
    if (run_.writer) {
      run_.writer->finish(run_.final_status);
      if (run_.observer) run_.observer->on_run_done(run_.writer->document(), run_.writer->dir());
    } else {
      run_.bs.wait_for_root_to_finish();
    }
    if (run_.options.on_stuck) run_.options.on_stuck(run_.rank(), run_.outcome.error);
    std::_Exit(static_cast<int>(core::ExitCode::run_failed));
  }

  void fail(const Error& e) {
    if (faults_ && faults_->running()) {
      const json record = faults_->end();  // cleared before anything else
      if (run_.writer) {
        for (const auto& ev : fault_events(record)) {
          run_.writer->document().events.push_back(tagged_event(ev, 0, c_.id, std::nullopt));
        }
      }
    }
    if (comm_) comm_->abort();
    record_rank_failure(run_, c_, result_, e);
  }

  void add_case() { record_case(run_, c_, result_); }

  RunState& run_;
  const spec::Case& c_;
  std::size_t index_;
  const CollectiveEntry* entry_ = nullptr;
  suites::CollectiveParams params_;
  std::unique_ptr<suites::CollectiveWorkload> workload_;
  std::unique_ptr<transport::MemoryProvider> provider_;
  std::optional<transport::OwnedBuffer> send_;
  std::optional<transport::OwnedBuffer> recv_;
  std::unique_ptr<transport::Communicator> comm_;  // destroyed before the buffers it used
  std::unique_ptr<CaseFaults> faults_;             // rank 0 of a case with a fault
  results::CaseResult result_;
  bool done_ok_ = true;
};

}  // namespace

bool is_collective_case(const RunState& run, std::size_t index) {
  const auto* suite = run.registry.suite(run.exp.cases[index].suite);
  return suite != nullptr && static_cast<bool>(suite->descriptor.make_collective);
}

bool run_collective_case(RunState& run, std::size_t index) {
  return CollectiveCase(run, index).run();
}

}  // namespace fabricbench::engine
