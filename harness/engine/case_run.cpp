#include "harness/engine/case_run.hpp"

#include <chrono>
#include <optional>
#include <utility>

#include "core/clock.hpp"
#include "harness/engine/bootstrap_exchange.hpp"
#include "harness/engine/case_setup.hpp"
#include "harness/engine/collective_case.hpp"
#include "harness/engine/failure_watch.hpp"
#include "harness/engine/fault_run.hpp"
#include "harness/engine/local_case.hpp"
#include "harness/engine/map_case.hpp"
#include "harness/engine/rank_results.hpp"

namespace fabricbench::engine {
namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

class CaseRun {
 public:
  CaseRun(RunState& run, std::size_t index)
      : run_(run),
        c_(run.exp.cases[index]),
        index_(index),
        params_(to_params(c_, run.exp, run.registry)),
        ctx_{params_, run.rank(), peer_of(run.rank(), run.size()), run.rank() < run.size() / 2} {}

  bool run() {
    result_ = open_case(run_, index_);
    if (!set_up()) return !failed_;
    try {
      connect();
      repetitions();
    } catch (const Error& e) {
      fail(e);
      return false;
    } catch (const std::exception& e) {
      // A library's own exception (std::bad_alloc, a recorder's std::invalid_argument) fails the
      // case like any error, so the run document is finished rather than left "running".
      fail(Error(ErrorKind::runtime, std::string("internal error: ") + e.what()));
      return false;
    }
    finish();
    return true;
  }

 private:
  static int peer_of(int rank, int size) {
    const int half = size / 2;
    return rank < half ? rank + half : rank - half;
  }
  bool root() const { return run_.writer != nullptr; }
  int injecting() const {
    return injecting_rank(c_, params_,
                          setup_.suite != nullptr && setup_.suite->descriptor.counted_by_receiver,
                          run_.size());
  }

  // Local set-up, then all ranks agree whether the case can run: a case that cannot run on some
  // rank is skipped (unavailable) or fails (anything else) on every rank alike. False when the
  // case is done (skipped or failed, failed_ set).
  bool set_up() {
    std::optional<Error> local;
    try {
      prepare(setup_, c_, params_, run_.registry, run_.size());
      if (c_.fault.active() && run_.rank() == injecting()) start_faults();
    } catch (const Error& e) {
      local = e;
    }
    const CaseVerdict verdict = agree_on_case(run_.bs, local);
    const std::string& skip_reason = verdict.skip;
    for (const auto& f : verdict.fails) {
      failed_ = true;
      result_.errors.push_back(f);
    }
    if (failed_) {
      record_setup_failure();
      return false;
    }
    if (skip_reason.empty()) return true;
    result_.status = results::CaseStatus::skipped;
    result_.skip_reason = skip_reason;
    result_.finished_ns = core::wall_clock_ns();
    add_case();
    return false;
  }

  void start_faults() {
    faults::Watchdog* dog = nullptr;
    if (run_.exp.injector.backend != "netns") {
      if (!run_.watchdog) run_.watchdog = faults::Watchdog::start();
      dog = run_.watchdog.get();
    }
    setup_.faults = std::make_unique<CaseFaults>(run_.exp, c_, dog);
  }

  void record_setup_failure() {
    result_.status = results::CaseStatus::failed;
    result_.finished_ns = core::wall_clock_ns();
    run_.outcome.exit_code = core::ExitCode::run_failed;
    run_.outcome.error = c_.id + ": " + result_.errors.front().message;
    run_.final_status = results::RunStatus::failed;
    if (run_.writer) {
      add_case();
      run_.writer->set_current_case(c_.id);
    }
  }

  void add_case() { record_case(run_, c_, result_); }

  // Endpoints to the peer, their queues checked, the registered regions exchanged (one-sided
  // ops), and each rank's connections as the transport describes them.
  void connect() {
    ctx_.stop_requested = run_.options.stop_requested;
    BootstrapExchange exchange(run_.bs);
    setup_.endpoints = setup_.transport->connect(exchange, {ctx_.peer}, c_.connections);
    for (auto& ep : setup_.endpoints) {
      ctx_.endpoints.push_back(ep.get());
      check_queue_depth(c_, params_, setup_, *ep);
    }
    ctx_.memory = {setup_.send_region, setup_.recv_region};
    exchange_regions(run_.bs, setup_, ctx_, true);
    std::string described;
    for (auto& ep : setup_.endpoints) {
      described += (described.empty() ? "" : "; ") + ep->describe();
    }
    result_.endpoints = run_.bs.gather(described);  // one line per rank (index = rank)
  }

  void repetitions() {
    std::optional<RegimeRunner> regime;
    if (c_.regime.kind != "closed") {
      const auto& suite = setup_.suite->descriptor;
      regime.emplace(run_.bs, c_, ctx_, suite.echoes_requests, suite.reports_bandwidth,
                     run_.searches);
      regime->set_faults(setup_.faults.get());  // the injecting rank (rank 0) only
    }
    for (int rep = 0; rep < c_.repetitions; ++rep) {
      if (regime) {
        regime_repetition(*regime, rep);
      } else {
        closed_repetition(rep);
      }
    }
  }

  void regime_repetition(RegimeRunner& regime, int rep) {
    auto merged = regime.run_repetition(rep);
    collect_events(rep);
    if (!root() || !merged) return;
    result_.repetitions.push_back(std::move(*merged));
    // A regime's curve is rank 0's (the generator of pair 0), which injects.
    if (c_.fault.active()) {
      fault_records_.emplace_back(regime.fault_record(), regime.fault_measure_start_ns());
    }
    if (run_.observer) run_.observer->on_repetition(c_, rep + 1);
  }

  void closed_repetition(int rep) {
    run_.bs.barrier();
    if (setup_.faults) {
      // The fault timeline counts from the planned start of the measured phase.
      setup_.faults->begin(rep, core::now_ns() + (params_.duration_mode ? params_.warmup_ns : 0));
    }
    const auto rails_before = rail_traffic(setup_);
    suites::RankResult mine = run_watched();
    mine.rails = rail_delta(rails_before, rail_traffic(setup_));
    const json record = setup_.faults ? setup_.faults->end() : json(nullptr);
    const auto gathered = run_.bs.gather(serialize(mine, record));
    collect_events(rep);
    if (!root()) return;
    result_.repetitions.push_back(merge(rep, gathered, setup_.suite->descriptor.reports_bandwidth));
    if (c_.fault.active()) {
      const json r = json::parse(gathered[static_cast<std::size_t>(injecting())]);
      fault_records_.emplace_back(r.at("fault"), r.at("measure_start_ns").get<std::uint64_t>());
    }
    if (run_.observer) run_.observer->on_repetition(c_, rep + 1);
  }

  // The workload under a FailureWatch: a rank lost anywhere ends this repetition at once, and the
  // side channel's verdict, naming that rank, is what fails the case (not this rank's
  // "interrupted").
  suites::RankResult run_watched() {
    const std::atomic<bool>* user_stop = ctx_.stop_requested;
    std::atomic<bool> stop{false};
    ctx_.stop_requested = &stop;
    try {
      FailureWatch watch(run_.bs, user_stop, stop);
      try {
        suites::RankResult mine = setup_.workload->run(ctx_);
        ctx_.stop_requested = user_stop;
        return mine;
      } catch (const Error&) {
        // A lost rank's verdict names it; this rank's own error (its partner, stopped by the
        // abort, closed the connection) would not. The abort reaches every rank at once, so a
        // short wait tells the two apart; otherwise this error is the first and is reported.
        if (!run_.stop_requested() && watch.wait_fired(std::chrono::milliseconds(250))) {
          run_.bs.barrier();  // throws the verdict
        }
        throw;
      }
    } catch (...) {
      ctx_.stop_requested = user_stop;
      throw;
    }
  }

  // Rank 0: every rank's transport events of the repetition, tagged with rank, case and
  // repetition. Drained after each repetition, so events are assigned to their repetition
  // without comparing the wall clocks of different hosts.
  void collect_events(int rep) {
    const auto all = run_.bs.gather(drain_events(setup_).dump());
    if (!run_.writer) return;
    json mine = json::array();
    for (int r = 0; r < run_.size(); ++r) {
      for (auto& e : json::parse(all[static_cast<std::size_t>(r)])) {
        json ev = tagged_event(std::move(e), r, c_.id, rep);
        run_.writer->document().events.push_back(ev);
        mine.push_back(std::move(ev));
      }
    }
    rep_events_.push_back(std::move(mine));
  }

  void add_events(const json& events, int rank) {
    for (const auto& e : events) {
      run_.writer->document().events.push_back(tagged_event(e, rank, c_.id, std::nullopt));
    }
  }

  // Rank 0: each completed repetition's fault: its evidence as events, its recovery metrics from
  // its curve and its repetition's events.
  void summarize_faults() {
    if (!run_.writer || !c_.fault.active()) return;
    const int injector_rank = injecting();
    const auto& hostnames = run_.hostnames;
    // Ranks whose wall clock is the injecting rank's (same host).
    std::vector<bool> same_clock(static_cast<std::size_t>(run_.size()), false);
    for (int r = 0; r < run_.size(); ++r) {
      const auto i = static_cast<std::size_t>(r);
      same_clock[i] = r == injector_rank ||
                      (i < hostnames.size() && !hostnames[i].empty() &&
                       hostnames[i] == hostnames[static_cast<std::size_t>(injector_rank)]);
    }
    for (std::size_t i = 0; i < fault_records_.size() && i < result_.repetitions.size(); ++i) {
      const auto& [record, measure_start] = fault_records_[i];
      if (record.is_null()) continue;
      add_events(fault_events(record), injector_rank);
      result_.repetitions[i].fault =
          fault_summary(c_, result_.repetitions[i], record, measure_start,
                        i < rep_events_.size() ? rep_events_[i] : json::array(), same_clock);
    }
  }

  // A failure during the repetitions: clear a fault still injected and keep its evidence (in the
  // document on rank 0, else in the outcome, since only rank 0 writes), tell the other ranks at
  // once (they may be blocked on this one), record the case and stop the run.
  void fail(const Error& e) {
    const int rank = run_.rank();
    if (setup_.faults && setup_.faults->running()) {
      const json record = setup_.faults->end();
      if (run_.writer) {
        add_events(fault_events(record), rank);
      } else {
        run_.outcome.fault_evidence = record.dump();
      }
    }
    const bool interrupted = run_.stop_requested();
    run_.bs.abort("rank " + std::to_string(rank) + " failed in case " + c_.id + ": " + e.what());
    result_.status = results::CaseStatus::failed;
    result_.errors.push_back({rank, interrupted ? "interrupted" : kind_name(e.kind()), e.what()});
    if (run_.writer) add_events(drain_events(setup_), rank);  // the others may be gone
    if (run_.writer && c_.fault.active()) record_aborted_fault(e);
    result_.finished_ns = core::wall_clock_ns();
    run_.outcome.exit_code = core::ExitCode::run_failed;
    run_.outcome.error = "rank " + std::to_string(rank) + ", case " + c_.id + ": " + e.what();
    run_.final_status = interrupted ? results::RunStatus::interrupted : results::RunStatus::failed;
    if (!run_.writer) return;
    if (!interrupted) add_case();
    run_.writer->set_current_case(c_.id);  // the document names the case the run stopped in
  }

  // The repetitions before the failed one keep their recovery; this one was aborted.
  void record_aborted_fault(const Error& e) {
    summarize_faults();
    results::summarize_case(result_);
    json recovery = recovery_spread(result_.repetitions);
    if (!recovery.is_object())
      recovery = {{"outcomes", json::object()}, {"metrics", json::object()}};
    recovery["outcomes"]["aborted"] = recovery["outcomes"].value("aborted", 0) + 1;
    recovery["aborted"] = {
        {"repetition", result_.repetitions.size()}, {"rank", run_.rank()}, {"error", e.what()}};
    result_.summary["recovery"] = std::move(recovery);
  }

  // Every rank's transport events since the last repetition, the faults' summaries, and the case
  // recorded (rank 0).
  void finish() {
    result_.finished_ns = core::wall_clock_ns();
    const auto all_events = run_.bs.gather(drain_events(setup_).dump());
    const auto all_memory = run_.bs.gather(memory_facts(setup_).dump());
    if (run_.writer) {
      result_.memory = json::array();
      for (int r = 0; r < run_.size(); ++r) {
        add_events(json::parse(all_events[static_cast<std::size_t>(r)]), r);
        result_.memory.push_back(json::parse(all_memory[static_cast<std::size_t>(r)]));
      }
    }
    summarize_faults();
    if (!run_.writer) return;
    results::summarize_case(result_);
    if (c_.fault.active()) result_.summary["recovery"] = recovery_spread(result_.repetitions);
    add_case();
  }

  RunState& run_;
  const spec::Case& c_;
  std::size_t index_;
  const suites::Params params_;
  suites::Context ctx_;
  CaseSetup setup_;
  results::CaseResult result_;
  bool failed_ = false;
  // Rank 0: each repetition's fault record and the injecting rank's measured-phase start.
  std::vector<std::pair<json, std::uint64_t>> fault_records_;
  // Rank 0: each repetition's transport events of every rank.
  std::vector<json> rep_events_;
};

}  // namespace

results::CaseResult open_case(RunState& run, std::size_t index) {
  const spec::Case& c = run.exp.cases[index];
  if (run.observer) run.observer->on_case_start(index, run.exp.cases.size(), c);
  if (run.writer) run.writer->set_current_case(c.id);
  results::CaseResult r;
  r.id = c.id;
  r.suite = c.suite;
  r.transport = c.transport;
  const json& planned = run.exp.resolved;
  if (planned.contains("cases") && planned["cases"].size() > index) {
    r.params = planned["cases"][index];
  }
  r.started_ns = core::wall_clock_ns();
  return r;
}

void record_case(RunState& run, const spec::Case& c, results::CaseResult& result) {
  if (!run.writer) return;
  if (run.observer) run.observer->on_case_done(c, result);
  run.writer->add_case(std::move(result));
}

StepOutcome agreed_step(RunState& run, const spec::Case& c, results::CaseResult& result,
                        const std::function<void()>& local_step) {
  std::optional<Error> local;
  try {
    local_step();
  } catch (const Error& e) {
    local = e;
  }
  const CaseVerdict v = agree_on_case(run.bs, local);
  if (!v.fails.empty()) {
    result.errors = v.fails;
    result.status = results::CaseStatus::failed;
    record_failed_case(run, c, result, c.id + ": " + v.fails.front().message);
    return StepOutcome::failed;
  }
  if (v.skip.empty()) return StepOutcome::go_on;
  result.status = results::CaseStatus::skipped;
  result.skip_reason = v.skip;
  result.finished_ns = core::wall_clock_ns();
  record_case(run, c, result);
  return StepOutcome::skipped;
}

void record_failed_case(RunState& run, const spec::Case& c, results::CaseResult& result,
                        const std::string& error) {
  result.finished_ns = core::wall_clock_ns();
  run.outcome.exit_code = core::ExitCode::run_failed;
  run.outcome.error = error;
  if (run.final_status == results::RunStatus::complete) {
    run.final_status = results::RunStatus::failed;
  }
  if (!run.writer) return;
  results::summarize_case(result);
  record_case(run, c, result);
  run.writer->set_current_case(c.id);
}

void record_rank_failure(RunState& run, const spec::Case& c, results::CaseResult& result,
                         const Error& e) {
  const bool interrupted = run.stop_requested();
  run.bs.abort("rank " + std::to_string(run.rank()) + " failed in case " + c.id + ": " + e.what());
  result.status = results::CaseStatus::failed;
  result.errors.push_back(
      {run.rank(), interrupted ? "interrupted" : kind_name(e.kind()), e.what()});
  run.final_status = interrupted ? results::RunStatus::interrupted : results::RunStatus::failed;
  record_failed_case(run, c, result,
                     "rank " + std::to_string(run.rank()) + ", case " + c.id + ": " + e.what());
}

json tagged_event(json e, int rank, const std::string& case_id, std::optional<int> repetition) {
  e["rank"] = rank;
  e["detail"]["case"] = case_id;
  if (repetition) e["detail"]["repetition"] = *repetition;
  return e;
}

bool run_case(RunState& run, std::size_t index) {
  if (is_collective_case(run, index)) return run_collective_case(run, index);
  if (is_local_case(run, index)) return run_local_case(run, index);
  if (is_map_case(run, index)) return run_map_case(run, index);
  return CaseRun(run, index).run();
}

}  // namespace fabricbench::engine
