#include "harness/engine/map_case.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "harness/engine/bootstrap_exchange.hpp"
#include "harness/engine/case_setup.hpp"
#include "harness/engine/flows_case.hpp"
#include "harness/engine/pattern_case.hpp"
#include "harness/engine/rank_results.hpp"
#include "harness/pattern/pattern.hpp"
#include "results/diff.hpp"

namespace fabricbench::engine {
namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;
using pattern::Pair;
using pattern::Round;

json pairs_json(const std::vector<Pair>& pairs) {
  json out = json::array();
  for (const auto& p : pairs) out.push_back(json::array({p.a, p.b}));
  return out;
}

json rounds_to_json(const std::vector<Round>& rounds) {
  json out = json::array();
  for (const auto& round : rounds) out.push_back(pairs_json(round));
  return out;
}

std::vector<Round> rounds_from_json(const json& j) {
  std::vector<Round> out;
  for (const auto& r : j) {
    Round round;
    for (const auto& p : r) round.push_back(Pair{p.at(0).get<int>(), p.at(1).get<int>()});
    out.push_back(std::move(round));
  }
  return out;
}

// n x n, null where not measured.
json matrix_json(const pattern::Matrix& m) {
  json out = json::array();
  for (int a = 0; a < m.size(); ++a) {
    json row = json::array();
    for (int b = 0; b < m.size(); ++b) {
      row.push_back(m.measured(a, b) ? json(m.at(a, b)) : json(nullptr));
    }
    out.push_back(std::move(row));
  }
  return out;
}

class MapCase {
 public:
  MapCase(RunState& run, std::size_t index)
      : run_(run),
        c_(run.exp.cases[index]),
        index_(index),
        params_(to_params(c_, run.exp, run.registry)) {
    thresholds_.latency_factor = c_.map.latency_factor;
    thresholds_.bandwidth_fraction = c_.map.bandwidth_fraction;
    thresholds_.node_fraction = c_.map.node_fraction;
    thresholds_.partners_per_node = c_.map.retest_partners;
  }

  bool run() {
    result_ = open_case(run_, index_);
    const StepOutcome o = agreed_step(
        run_, c_, result_, [this] { prepare(setup_, c_, params_, run_.registry, run_.size()); });
    if (o != StepOutcome::go_on) return o != StepOutcome::failed;
    try {
      measure_map();
      retest();
    } catch (const Error& e) {
      record_rank_failure(run_, c_, result_, e);
      return false;
    }
    finish();
    return true;
  }

 private:
  bool root() const { return run_.writer != nullptr; }
  bool bandwidth() const { return setup_.suite->descriptor.reports_bandwidth; }
  pattern::Metric metric() const {
    return bandwidth() ? pattern::Metric::bandwidth : pattern::Metric::latency;
  }

  // Every pair once per repetition, in the circle method's rounds; a pair's figure is the median
  // over the repetitions.
  void measure_map() {
    const auto rounds = pattern::circle_rounds(run_.size());
    std::map<std::pair<int, int>, std::vector<double>> samples;
    for (int rep = 0; rep < c_.repetitions; ++rep) {
      for (const auto& round : rounds) {
        for (const auto& [pair, value] : measure_round(round)) {
          samples[{pair.a, pair.b}].push_back(value);
        }
      }
      if (run_.observer) run_.observer->on_repetition(c_, rep + 1);
    }
    rounds_ = static_cast<int>(rounds.size());
    first_ = pattern::Matrix(run_.size());
    // Each pair has a figure from every repetition, so none is empty.
    for (const auto& [pair, values] : samples) {
      first_.set(pair.first, pair.second, results::diff::median(values));
    }
  }

  // Rank 0 judges the map and plans the retests; every rank runs them; rank 0 classifies.
  void retest() {
    std::string plan_text;
    if (root()) {
      judgement_ = pattern::judge(first_, metric(), thresholds_);
      plan_ = pattern::plan_retests(run_.size(), judgement_, thresholds_);
      plan_text = rounds_to_json(plan_.rounds).dump();
    }
    const auto rounds = rounds_from_json(json::parse(run_.bs.broadcast(0, plan_text)));
    retest_ = pattern::Matrix(run_.size());
    for (const auto& round : rounds) {
      for (const auto& [pair, value] : measure_round(round)) retest_.set(pair.a, pair.b, value);
    }
    bool clean = true;
    if (root()) {
      verdict_ = pattern::classify(first_, judgement_, retest_, thresholds_, node_names(run_));
      clean = verdict_.clean();
    }
    clean_ = run_.bs.broadcast(0, std::string(1, clean ? '1' : '0')) == "1";
  }

  // One round on every rank: its partner (or none: a bye), a fresh workload and endpoints, a
  // barrier, the workload, every rank's result to rank 0, then the workload and the endpoints
  // closed (in that order: a workload may keep state on its endpoints). Rank 0 gets the figure of
  // each pair of the round.
  std::vector<std::pair<Pair, double>> measure_round(const Round& round) {
    const int me = run_.rank();
    const int peer = pattern::partner(round, me);
    setup_.workload = setup_.suite->descriptor.make();
    BootstrapExchange exchange(run_.bs);
    setup_.endpoints = setup_.transport->connect(
        exchange, peer >= 0 ? std::vector<int>{peer} : std::vector<int>{}, c_.connections);
    suites::Context ctx{params_, me, std::max(peer, 0), peer > me};
    ctx.stop_requested = run_.options.stop_requested;
    for (auto& ep : setup_.endpoints) {
      ctx.endpoints.push_back(ep.get());
      check_queue_depth(c_, params_, setup_, *ep);
    }
    ctx.memory = {setup_.send_region, setup_.recv_region};
    exchange_regions(run_.bs, setup_, ctx, peer >= 0);
    run_.bs.barrier();
    suites::RankResult mine;
    if (peer >= 0) mine = setup_.workload->run(ctx);
    const auto gathered = run_.bs.gather(serialize(mine, nullptr));
    setup_.workload.reset();
    setup_.endpoints.clear();
    std::vector<std::pair<Pair, double>> out;
    if (!root()) return out;
    for (const auto& p : round) {
      const auto rep = merge(
          0, {gathered[static_cast<std::size_t>(p.a)], gathered[static_cast<std::size_t>(p.b)]},
          bandwidth());
      out.emplace_back(p, figure(rep));
    }
    return out;
  }

  double figure(const results::Repetition& rep) const { return pattern_figure(rep, bandwidth()); }

  json map_json() const {
    json findings = json::array();
    for (const auto& f : verdict_.findings) {
      findings.push_back({{"kind", f.kind}, {"nodes", f.nodes}, {"evidence", f.evidence}});
    }
    return {
        {"pattern", c_.map.pattern},
        {"metric", bandwidth() ? "bandwidth" : "latency"},
        {"unit", bandwidth() ? "GB/s" : "us"},
        {"nodes", nodes_json(run_)},
        {"rounds", rounds_},
        {"repetitions", c_.repetitions},
        {"thresholds", to_json(c_.map)},
        {"reference", number_or_null(judgement_.reference)},
        {"limit", number_or_null(judgement_.limit)},
        {"matrix", matrix_json(first_)},
        {"suspects",
         {{"pairs", pairs_json(judgement_.suspect_pairs)}, {"nodes", judgement_.suspect_nodes}}},
        {"retest", {{"rounds", plan_.rounds.size()}, {"matrix", matrix_json(retest_)}}},
        {"verdict",
         {{"clean", verdict_.clean()},
          {"bad_nodes", verdict_.bad_nodes},
          {"bad_links", pairs_json(verdict_.bad_links)},
          {"noise", pairs_json(verdict_.noise)},
          {"findings", findings}}},
    };
  }

  void finish() {
    result_.finished_ns = core::wall_clock_ns();
    gather_case_facts(run_, c_, setup_, result_);
    if (!clean_ && run_.outcome.exit_code == core::ExitCode::ok) {
      run_.outcome.exit_code = core::ExitCode::map_found_bad;
      run_.outcome.error = c_.id + ": the all-pairs map names a bad node or link";
    }
    if (!root()) return;
    results::summarize_case(result_);
    result_.summary["map"] = map_json();
    record_case(run_, c_, result_);
  }

  RunState& run_;
  const spec::Case& c_;
  std::size_t index_;
  const suites::Params params_;
  pattern::Thresholds thresholds_;
  CaseSetup setup_;
  results::CaseResult result_;
  int rounds_ = 0;
  pattern::Matrix first_{1};
  pattern::Matrix retest_{1};
  pattern::Judgement judgement_{};  // rank 0
  pattern::RetestPlan plan_;        // rank 0
  pattern::Verdict verdict_;        // rank 0
  bool clean_ = true;
};

}  // namespace

bool is_map_case(const RunState& run, std::size_t index) {
  return run.exp.cases[index].map.pattern != "pairs";
}

bool run_map_case(RunState& run, std::size_t index) {
  if (is_flows_case(run, index)) return run_flows_case(run, index);
  return MapCase(run, index).run();
}

}  // namespace fabricbench::engine
