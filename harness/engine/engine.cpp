#include "harness/engine/engine.hpp"

#include <openssl/rand.h>
#include <sys/resource.h>

#include <ctime>
#include <filesystem>
#include <memory>
#include <utility>

#include "core/clock.hpp"
#include "core/version.hpp"
#include "harness/engine/case_run.hpp"
#include "harness/envelope/envelope.hpp"

namespace fabricbench::engine {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

namespace {

// This process's peak resident set (getrusage), KiB.
std::uint64_t max_rss_kib() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<std::uint64_t>(u.ru_maxrss);
}

// Descriptors this process holds open now (ci/soak.sh watches them across runs).
std::uint64_t open_fds() {
  std::error_code ec;
  std::uint64_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n > 0 ? n - 1 : 0;  // less the iterator's own
}

// Rank 0's record of the harness's own cost (docs/PERFORMANCE.md, "The harness at scale"):
// joining the side channel, checking the plan, gathering the envelopes, its peak memory and the
// descriptors it holds.
json harness_event(const char* kind, json detail) {
  detail["max_rss_kib"] = max_rss_kib();
  detail["open_fds"] = open_fds();
  return {{"t_ns", core::wall_clock_ns()}, {"rank", 0}, {"kind", kind}, {"detail", detail}};
}

std::string make_run_id(const std::string& name) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  unsigned char rnd[2] = {0, 0};
  RAND_bytes(rnd, sizeof rnd);
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%02x%02x", rnd[0], rnd[1]);
  return std::string(stamp) + "-" + name + "-" + suffix;
}

// Same tool, same plan, on every rank, before anything is measured.
void check_same_plan(bootstrap::Bootstrap& bs, const spec::Experiment& exp) {
  const std::string identity =
      std::string(core::kVersion) + " (" + core::kRevision + "), plan digest " + exp.digest;
  const auto identities = bs.allgather(identity);
  for (int r = 1; r < bs.size(); ++r) {
    if (identities[static_cast<std::size_t>(r)] != identities[0]) {
      throw Error(ErrorKind::config, "ranks disagree: rank " + std::to_string(r) +
                                         " runs fabricbench " +
                                         identities[static_cast<std::size_t>(r)] +
                                         "; rank 0 runs fabricbench " + identities[0]);
    }
  }
}

// Rank 0: the run document (plan, every rank's envelope) and its writer; each rank's host name
// into run.hostnames.
std::unique_ptr<results::RunWriter> open_document(RunState& run, const std::string& run_id,
                                                  const std::vector<std::string>& envelopes) {
  const spec::Experiment& exp = run.exp;
  results::RunDocument doc;
  doc.run_id = run_id;
  doc.tool_version = core::kVersion;
  doc.tool_revision = core::kRevision;
  doc.started_ns = core::wall_clock_ns();
  doc.launcher = run.bs.launcher();
  doc.ranks = run.size();
  doc.config = {{"path", exp.source_path},
                {"text", exp.source_text},
                {"overrides", exp.overrides},
                {"resolved", exp.resolved},
                {"digest", exp.digest}};
  json ranks = json::array();
  for (const auto& e : envelopes) {
    ranks.push_back(json::parse(e));
    const json& host = ranks.back().contains("hostname") ? ranks.back()["hostname"] : json();
    run.hostnames.push_back(host.is_string() ? host.get<std::string>() : std::string());
  }
  doc.envelope = {{"ranks", ranks}};
  doc.events = json::array();
  const RunOptions& options = run.options;
  const std::string dir =
      options.output_dir.empty() ? options.output_root + "/" + run_id : options.output_dir;
  return std::make_unique<results::RunWriter>(dir, std::move(doc));
}

}  // namespace

RunOutcome run_experiment(bootstrap::Bootstrap& bs, const spec::Experiment& exp,
                          const Registry& registry, const RunOptions& options, Observer* observer) {
  const bool root = bs.rank() == 0;
  const std::uint64_t t0 = core::now_ns();
  check_same_plan(bs, exp);
  const std::uint64_t t1 = core::now_ns();
  const auto envelopes = bs.gather(envelope::capture({bs.rank(), bs.size(), bs.launcher()}).dump());
  const std::uint64_t t2 = core::now_ns();
  const std::string run_id = bs.broadcast(0, root ? make_run_id(exp.name) : std::string());

  RunState run{bs, exp, registry, options, observer};
  std::unique_ptr<results::RunWriter> writer;
  if (root) {
    std::uint64_t envelope_bytes = 0;
    for (const auto& e : envelopes) envelope_bytes += e.size();
    writer = open_document(run, run_id, envelopes);
    run.writer = writer.get();
    writer->document().events.push_back(
        harness_event("harness.start", {{"ranks", bs.size()},
                                        {"join_ns", bs.join_ns()},
                                        {"plan_check_ns", t1 - t0},
                                        {"envelopes_ns", t2 - t1},
                                        {"envelope_bytes", envelope_bytes}}));
    run.outcome.run_dir = writer->dir();
    if (observer) observer->on_run_start(writer->document(), writer->dir());
  }
  for (std::size_t index = 0; index < exp.cases.size(); ++index) {
    if (run.stop_requested()) {
      run.final_status = results::RunStatus::interrupted;
      if (writer) writer->set_current_case(exp.cases[index].id);
      break;
    }
    if (!run_case(run, index)) break;
  }
  if (writer) {
    writer->document().events.push_back(harness_event("harness.end", json::object()));
    writer->finish(run.final_status);
    if (observer) observer->on_run_done(writer->document(), writer->dir());
  }
  RunOutcome outcome = std::move(run.outcome);
  if (run.final_status == results::RunStatus::interrupted &&
      outcome.exit_code == core::ExitCode::ok) {
    outcome.exit_code = core::ExitCode::run_failed;
    outcome.error = "interrupted";
  }
  return outcome;
}

}  // namespace fabricbench::engine
