#include "harness/engine/pattern_case.hpp"

#include <cmath>
#include <cstddef>
#include <limits>

namespace fabricbench::engine {

using nlohmann::json;

std::vector<std::string> node_names(const RunState& run) {
  std::vector<std::string> out;
  for (int r = 0; r < run.size(); ++r) {
    const auto i = static_cast<std::size_t>(r);
    const bool known = i < run.hostnames.size() && !run.hostnames[i].empty();
    out.push_back(known ? run.hostnames[i] : "rank " + std::to_string(r));
  }
  return out;
}

json nodes_json(const RunState& run) {
  json nodes = json::array();
  const auto labels = node_names(run);
  for (int r = 0; r < run.size(); ++r) {
    nodes.push_back({{"rank", r}, {"host", labels[static_cast<std::size_t>(r)]}});
  }
  return nodes;
}

double pattern_figure(const results::Repetition& rep, bool bandwidth) {
  if (bandwidth) return rep.bw_gbps ? *rep.bw_gbps / 8 : std::numeric_limits<double>::quiet_NaN();
  if (rep.latency.count() == 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(rep.latency.percentile(50)) / 1000.0;
}

json number_or_null(double x) {
  return std::isfinite(x) ? json(x) : json(nullptr);
}

void gather_case_facts(RunState& run, const spec::Case& c, CaseSetup& setup,
                       results::CaseResult& result) {
  const auto all_events = run.bs.gather(drain_events(setup).dump());
  const auto all_memory = run.bs.gather(memory_facts(setup).dump());
  if (run.writer == nullptr) return;
  result.memory = json::array();
  for (int r = 0; r < run.size(); ++r) {
    for (const auto& e : json::parse(all_events[static_cast<std::size_t>(r)])) {
      run.writer->document().events.push_back(tagged_event(e, r, c.id, std::nullopt));
    }
    result.memory.push_back(json::parse(all_memory[static_cast<std::size_t>(r)]));
  }
}

}  // namespace fabricbench::engine
