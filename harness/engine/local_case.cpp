#include "harness/engine/local_case.hpp"

#include <functional>
#include <optional>
#include <utility>

#include "core/clock.hpp"
#include "harness/engine/case_setup.hpp"

namespace fabricbench::engine {
namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

class LocalCase {
 public:
  LocalCase(RunState& run, std::size_t index)
      : run_(run), c_(run.exp.cases[index]), index_(index) {}

  bool run() {
    result_ = open_case(run_, index_);
    if (!step([this] { prepare(); })) return done_ok_;
    try {
      result_.endpoints = run_.bs.gather("rank " + std::to_string(run_.rank()) + " alone");
      for (int rep = 0; rep < c_.repetitions; ++rep) repetition(rep);
    } catch (const Error& e) {
      record_rank_failure(run_, c_, result_, e);
      return false;
    }
    result_.finished_ns = core::wall_clock_ns();
    if (run_.writer) {
      results::summarize_case(result_);
      record_case(run_, c_, result_);
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
    if (suite == nullptr || !suite->descriptor.make_local) {
      throw Error(ErrorKind::config,
                  "case " + c_.id + ": suite " + c_.suite + " is not a local suite of this build");
    }
    params_.size = c_.message_size;
    params_.iterations = c_.iterations;
    params_.warmup_iterations = c_.warmup_iterations;
    params_.rank = run_.rank();
    params_.ranks = run_.size();
    workload_ = suite->descriptor.make_local(c_.suite_settings);
    workload_->prepare(params_);
  }

  void repetition(int rep) {
    run_.bs.barrier();
    const json mine = workload_->run(params_);
    const auto gathered = run_.bs.gather(mine.dump());
    if (!run_.writer) return;
    std::vector<json> per_rank;
    per_rank.reserve(gathered.size());
    for (const auto& g : gathered) per_rank.push_back(json::parse(g));
    suites::LocalMerged m = workload_->merge(params_, per_rank);
    results::Repetition r;
    r.index = rep;
    r.elapsed_ns = m.elapsed_ns;
    r.bytes = m.bytes;
    r.ops = m.ops;
    if (m.elapsed_ns > 0) {
      const double ns = static_cast<double>(m.elapsed_ns);
      r.bw_gbps = static_cast<double>(m.bytes) * 8.0 / ns;
      r.bw_gibps = static_cast<double>(m.bytes) * 1e9 / ns / static_cast<double>(1ULL << 30);
      r.msg_rate_mops = static_cast<double>(m.ops) * 1e3 / ns;
    }
    r.copy = std::move(m.figures);
    result_.repetitions.push_back(std::move(r));
    if (run_.observer) run_.observer->on_repetition(c_, rep + 1);
  }

  RunState& run_;
  const spec::Case& c_;
  std::size_t index_;
  suites::LocalParams params_;
  std::unique_ptr<suites::LocalWorkload> workload_;
  results::CaseResult result_;
  bool done_ok_ = true;
};

}  // namespace

bool is_local_case(const RunState& run, std::size_t index) {
  const auto* suite = run.registry.suite(run.exp.cases[index].suite);
  return suite != nullptr && static_cast<bool>(suite->descriptor.make_local);
}

bool run_local_case(RunState& run, std::size_t index) {
  return LocalCase(run, index).run();
}

}  // namespace fabricbench::engine
