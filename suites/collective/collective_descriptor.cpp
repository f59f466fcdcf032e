// The collective suite's keys (docs/CONFIG.md "Collective keys"), their checks and traits.
#include <string>

#include "suites/collective/collective.hpp"

namespace fabricbench::suites {
namespace {

std::vector<std::string> names_of_collectives() {
  std::vector<std::string> out;
  for (const auto c : transport::all_collectives()) out.emplace_back(to_string(c));
  return out;
}
std::vector<std::string> names_of_types() {
  std::vector<std::string> out;
  for (const auto t : transport::all_data_types()) out.emplace_back(to_string(t));
  return out;
}
std::vector<std::string> names_of_ops() {
  std::vector<std::string> out;
  for (const auto o : transport::all_red_ops()) out.emplace_back(to_string(o));
  return out;
}

std::vector<core::KeyDecl> keys() {
  return {
      core::choice_key("collective", names_of_collectives(), "all_reduce",
                       "The collective (sendrecv: to rank+1, from rank-1, as nccl-tests)."),
      core::choice_key("type", names_of_types(), "float32", "Element type (nccl-tests -d)."),
      core::choice_key("redop", names_of_ops(), "sum",
                       "Reduction of all_reduce, reduce_scatter and reduce (nccl-tests -o)."),
      core::count_key("root", 0, 65535, 0,
                      "Root rank of broadcast, reduce, gather and scatter (nccl-tests -r)."),
      core::choice_key("placement", {"both", "out_of_place", "in_place"}, "both",
                       "Out of place, in place (nccl-tests' two column groups) or both."),
      core::choice_key("combine", {"avg", "min", "max", "rank0"}, "avg",
                       "How the ranks' times per collective combine (nccl-tests -a)."),
      core::flag_key("check", true,
                     "Untimed correctness check after the timed runs (#wrong; nccl-tests -c)."),
      core::count_key("seed", 0, 1ULL << 62, 1, "Seed of the check's input values."),
  };
}

std::vector<core::KeyProblem> check(const core::Settings& own, const core::CaseFacts& c) {
  std::vector<core::KeyProblem> out;
  if (c.regime_kind != "closed" && c.regime_kind != "floor" && c.regime_kind != "realistic") {
    out.push_back({{"regime.kind"},
                   "collective cases run in regime closed (back to back, as nccl-tests), floor (a "
                   "barrier between collectives, as IMB and OSU) or realistic (a shared "
                   "schedule); not " +
                       c.regime_kind,
                   true});
  }
  if (c.duration_mode && c.regime_kind != "realistic") {
    out.push_back({{"duration"},
                   "collective cases in regime " + c.regime_kind +
                       " count iterations (every rank must issue the same number of "
                       "collectives); write iterations instead of duration",
                   true});
  }
  // A fault's recovery curve is rank 0's busbw per bin of a shared schedule: regime realistic
  // (every rank issues on time, so a stall shows as a dip and the catch-up after it), one
  // placement (one timed phase).
  if (c.fault && c.regime_kind != "realistic") {
    out.push_back({{"fault"},
                   "a collective case with a fault runs in regime realistic (a shared schedule "
                   "whose busbw per bin is the recovery curve), not " +
                       c.regime_kind,
                   true});
  }
  if (c.fault && own.text("placement") == "both") {
    out.push_back({{"placement"},
                   "a collective case with a fault measures one placement: set placement: "
                   "out_of_place or in_place",
                   true});
  }
  if (c.on_break != "fail") {
    out.push_back(
        {{"on_break"}, "a collective case has no connection of its own to reconnect", true});
  }
  if (c.memory != "host") {
    out.push_back({{"memory"},
                   "a collective case's buffers come from its backend's memory provider (mpi: "
                   "host, nccl: cuda); remove memory",
                   true});
  }
  if (c.verify) {
    out.push_back(
        {{"verify"}, "collective cases check their results with check (on by default)", true});
  }
  return out;
}

std::string describe(const core::Settings& own) {
  std::string out = own.text("collective") + " " + own.text("type");
  const std::string& c = own.text("collective");
  if (c == "all_reduce" || c == "reduce_scatter" || c == "reduce") out += " " + own.text("redop");
  if (c == "broadcast" || c == "reduce" || c == "gather" || c == "scatter") {
    out += ", root " + std::to_string(own.integer("root"));
  }
  return out;
}

void configure_collective(const core::Settings& own, CollectiveParams& p) {
  p.collective = *transport::parse_collective(own.text("collective"));
  p.type = *transport::parse_data_type(own.text("type"));
  p.op = *transport::parse_red_op(own.text("redop"));
  p.root = static_cast<int>(own.integer("root"));
  const std::string& placement = own.text("placement");
  p.out_of_place = placement != "in_place";
  p.in_place = placement != "out_of_place";
  p.combine = own.text("combine");
  p.check = own.flag("check");
  p.seed = static_cast<std::uint64_t>(own.integer("seed"));
}

}  // namespace

Descriptor collective_descriptor() {
  Descriptor d;
  d.name = "collective";
  d.description = "collectives over all ranks (all_reduce, all_gather, ...), nccl-tests' figures";
  d.keys = keys();
  d.check = check;
  d.make_collective = make_collective_workload;
  d.configure_collective = configure_collective;
  d.describe = describe;
  d.reports_bandwidth = true;
  return d;
}

}  // namespace fabricbench::suites
