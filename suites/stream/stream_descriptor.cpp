// The stream suite's keys (docs/CONFIG.md "Case keys": direction, window), their checks and
// traits.
#include "suites/stream/stream.hpp"

#include <string>

namespace fabricbench::suites {
namespace {

std::vector<core::KeyDecl> keys() {
  return {
      // Schema 1 plans carry direction and window in every case (core::PlanScope).
      core::choice_key("direction", {"uni", "bidir"}, "uni",
                       "uni: rank 0 sends, rank 1 receives; bidir: both send at once.")
          .in_every_case(),
      core::count_key("window", 1, 4096, 64, "Messages in flight per connection.").in_every_case(),
      core::choice_key("buffers", {"distinct", "shared"}, "distinct",
                       "distinct: each message in flight has its own slot of the buffers; "
                       "shared: every message of a connection uses the same slot, as perftest's "
                       "bandwidth tests do for messages over 2 KiB."),
  };
}

std::vector<core::KeyProblem> buffer_problems(const core::Settings& own, const core::CaseFacts& c) {
  if (own.text("buffers") != "shared") return {};
  core::KeyProblem p;
  p.defaults_too = false;
  if (c.verify) {
    p.at = {"buffers", "verify"};
    p.message =
        "verify checks every message's own bytes, which messages sharing one buffer "
        "overwrite: it needs buffers distinct, not shared";
    return {p};
  }
  if (c.regime_kind != "closed") {
    p.at = {"buffers", "regime.kind"};
    p.message = "regime " + c.regime_kind +
                " lays out its own buffer slots; buffers applies to the suite's own closed loop "
                "only (regime closed)";
    return {p};
  }
  return {};
}

std::vector<core::KeyProblem> check(const core::Settings& own, const core::CaseFacts& c) {
  auto problems = buffer_problems(own, c);
  if (!problems.empty()) return problems;
  if (own.text("direction") != "bidir") return {};
  core::KeyProblem p;
  p.defaults_too = false;
  if (c.pattern == "incast" || c.pattern == "shift") {
    p.at = {"direction", "pattern"};
    p.message = "pattern " + c.pattern +
                " measures directed flows, each counted by its receiver: it needs direction uni, "
                "not bidir (shift already sends both ways across every pair)";
    return {p};
  }
  if (!c.open_loop) return {};
  p.at = {"direction", "regime.kind"};
  p.message = "regime " + c.regime_kind +
              " offers open-loop arrivals one way, from rank 0 to rank 1: it needs direction "
              "uni, not bidir";
  return {p};
}

}  // namespace

Descriptor stream_descriptor() {
  Descriptor d;
  d.name = "stream";
  d.description = "uni/bidirectional bandwidth with a window of messages in flight";
  d.keys = keys();
  d.check = check;
  d.make = make_stream;
  d.configure = [](const core::Settings& own, Params& p) {
    p.bidirectional = own.text("direction") == "bidir";
    p.window = static_cast<int>(own.integer("window"));
    p.shared_buffers = own.text("buffers") == "shared";
  };
  d.describe = [](const core::Settings& own) {
    return std::string(own.text("direction") == "bidir" ? "bidirectional (sum of both directions)"
                                                        : "unidirectional") +
           ", window " + std::to_string(own.integer("window")) +
           (own.text("buffers") == "shared" ? ", shared buffers" : "");
  };
  d.reports_bandwidth = true;
  d.echoes_requests = false;
  d.counted_by_receiver = true;
  return d;
}

}  // namespace fabricbench::suites
