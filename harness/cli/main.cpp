// fabricbench: the command line. Parses arguments, loads experiments, picks the launcher and
// prints; everything else lives in the libraries.
#include <sys/prctl.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "harness/bootstrap/launchers.hpp"
#include "harness/cli/table.hpp"
#include "harness/core/error.hpp"
#include "harness/core/version.hpp"
#include "harness/engine/engine.hpp"
#include "harness/envelope/envelope.hpp"
#include "harness/faults/injector.hpp"
#include "harness/spec/loader.hpp"
#include "results/diff.hpp"
#include "results/run_document.hpp"

namespace fb = fabricbench;

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) {
  g_stop.store(true);
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

constexpr const char* kExitCodes =
    "Exit codes: 0 ok; 1 run failed (a case failed, a peer was lost or timed out, "
    "interrupted); 2 usage or experiment-file error (nothing measured, no run document); "
    "3 `diff` found a regression.";

std::string version_string() {
  return fmt::format("fabricbench {} (revision {})", fb::core::kVersion, fb::core::kRevision);
}

// Loads an experiment; on error prints every diagnostic and returns nullopt.
std::optional<fb::spec::Experiment> load(const std::string& path,
                                         const std::vector<std::string>& sets) {
  try {
    return fb::spec::load_experiment_file(path, sets);
  } catch (const fb::spec::ConfigError& e) {
    for (const auto& d : e.diagnostics()) fmt::print(stderr, "{}\n", d.to_string());
    fmt::print(stderr, "fabricbench: {} error(s) in {}; nothing was run\n", e.diagnostics().size(),
               path);
  }
  return std::nullopt;
}

int cmd_validate(const std::string& path, const std::vector<std::string>& sets) {
  const auto exp = load(path, sets);
  if (!exp) return static_cast<int>(fb::core::ExitCode::usage);
  fmt::print("{}: valid (schema {}), experiment '{}', {} case(s), plan digest {}\n", path,
             exp->schema_version, exp->name, exp->cases.size(), exp->digest.substr(0, 16));
  for (const auto& c : exp->cases) {
    fmt::print("  {}  ({} over {}, {} B, {} x {})\n", c.id, c.suite, c.transport, c.message_size,
               c.repetitions,
               c.mode == fb::spec::Mode::duration ? fmt::format("{} ms", c.duration_ns / 1'000'000)
                                                  : fmt::format("{} iterations", c.iterations));
  }
  return 0;
}

int cmd_list() {
  const auto registry = fb::cli::make_registry();
  fmt::print("transports:\n");
  for (const auto& t : registry.transports) {
    const auto why = t.unavailable_reason ? t.unavailable_reason() : std::nullopt;
    fmt::print("  {:<8} built, {}  {}\n", t.name, why ? "unavailable here: " + *why : "available",
               t.description);
  }
  fmt::print("suites:\n");
  for (const auto& s : registry.suites) fmt::print("  {:<8} {}\n", s.name, s.description);
  fmt::print("components:\n");
  for (const auto& c : fb::cli::components()) {
    fmt::print("  {:<16} {:<10} {}\n", c.name, c.built ? "built" : "not built", c.detail);
  }
  fmt::print("launcher detected here: {}\n", fb::bootstrap::detect_launcher());
  return 0;
}

int cmd_envelope() {
  fmt::print("{}\n", fb::envelope::capture({0, 1, "local"}).dump(2));
  return 0;
}

int cmd_run(const std::string& path, const std::vector<std::string>& sets,
            const std::string& output) {
  const auto exp = load(path, sets);
  if (!exp) return static_cast<int>(fb::core::ExitCode::usage);
  const auto registry = fb::cli::make_registry();
  const std::string launcher =
      exp->launcher == "auto" ? fb::bootstrap::detect_launcher() : exp->launcher;
  fb::bootstrap::Options bopts;
  bopts.timeout = std::chrono::milliseconds(exp->peer_timeout_ns / 1'000'000);
  fb::engine::RunOptions ropts;
  ropts.output_dir = output;
  ropts.stop_requested = &g_stop;

  // Injector netns: two namespaces joined by a veth; ranks r < N/2 run in the first, the others
  // in the second. Their side channel stays on the host's loopback (connected before they move).
  // The watchdog removes the namespaces when this process ends, however it ends.
  std::unique_ptr<fb::faults::Watchdog> netns_watchdog;
  std::unique_ptr<fb::faults::NetnsFabric> netns;
  if (exp->injector.backend == "netns") {
    if (launcher != "local") {
      fmt::print(stderr,
                 "fabricbench: {}: injector netns forks the ranks into namespaces itself and "
                 "needs the local launcher (this run's launcher is {})\n",
                 path, launcher);
      return static_cast<int>(fb::core::ExitCode::usage);
    }
    for (const auto& c : exp->cases) {
      if (c.transport == "tcp" && (!c.tcp.address.empty() || c.tcp.interface != "fbd0")) {
        fmt::print(stderr,
                   "fabricbench: {}: case {}: with injector netns the data connections must use "
                   "the veth between the namespaces: set tcp: {{address: \"\", interface: "
                   "fbd0}}\n",
                   path, c.id);
        return static_cast<int>(fb::core::ExitCode::usage);
      }
    }
    try {
      netns_watchdog = fb::faults::Watchdog::start();
      netns = fb::faults::NetnsFabric::create(*netns_watchdog);
    } catch (const fb::core::Error& e) {
      fmt::print(stderr, "fabricbench: injector netns: {}\n", e.what());
      return static_cast<int>(fb::core::exit_code_for(e.kind()));
    }
  }

  auto body = [&](fb::bootstrap::Bootstrap& bs) -> int {
    install_stop_handlers();
    if (netns) netns->enter(bs.rank() < bs.size() / 2 ? 0 : 1);
    // Name the rank's process so `ps`/`top` (and tests) can tell ranks apart: "fabricbench r1".
    const std::string comm = "fabricbench r" + std::to_string(bs.rank());
    prctl(PR_SET_NAME, comm.c_str(), 0, 0, 0);
    auto console = bs.rank() == 0 ? fb::cli::make_console(stdout, stderr) : nullptr;
    try {
      const auto outcome = fb::engine::run_experiment(bs, *exp, registry, ropts, console.get());
      if (outcome.exit_code != fb::core::ExitCode::ok) {
        fmt::print(stderr, "fabricbench: rank {}: {}\n", bs.rank(), outcome.error);
      }
      std::fflush(stdout);
      return static_cast<int>(outcome.exit_code);
    } catch (const fb::core::Error& e) {
      fmt::print(stderr, "fabricbench: rank {}: {}\n", bs.rank(), e.what());
      bs.abort(e.what());
      std::fflush(stdout);
      return static_cast<int>(fb::core::exit_code_for(e.kind()));
    }
  };

  try {
    if (launcher == "local") {
      std::string report;
      const int rc = fb::bootstrap::run_local(exp->ranks, bopts, body, &report);
      if (!report.empty()) fmt::print(stderr, "{}", report);
      return rc;
    }
    auto bs = launcher == "mpi" ? fb::bootstrap::make_mpi_bootstrap(bopts)
                                : fb::bootstrap::make_env_bootstrap(bopts);
    return body(*bs);
  } catch (const fb::core::Error& e) {
    fmt::print(stderr, "fabricbench: {}\n", e.what());
    return static_cast<int>(fb::core::exit_code_for(e.kind()));
  }
}

struct DiffArgs {
  std::string base;
  std::string next;
  std::string format = "table";
  std::string output;
  std::string thresholds;
  fb::results::diff::Options options;
};

// `fabricbench diff BASE NEW`: 0 no regression, 3 a regression, 2 unreadable input or bad options.
int cmd_diff(DiffArgs args) {
  namespace diff = fb::results::diff;
  try {
    const diff::Format format = diff::parse_format(args.format);
    if (!args.thresholds.empty()) diff::load_thresholds_file(args.thresholds, args.options);
    const auto base = diff::read_for_diff(args.base, "BASE");
    const auto next = diff::read_for_diff(args.next, "NEW");
    const auto result = diff::diff_runs(base, next, args.options, args.base, args.next);
    const std::string text = diff::render(result, format);
    if (args.output.empty()) {
      fmt::print("{}", text);
    } else {
      try {
        fb::results::write_file_atomic(args.output, text);
      } catch (const fb::core::Error& e) {
        fmt::print(stderr, "fabricbench diff: -o {}: {}\n", args.output, e.what());
        return static_cast<int>(fb::core::ExitCode::usage);
      }
      fmt::print("{}\n{} written to {}\n", diff::summary_line(result), args.format, args.output);
    }
    std::fflush(stdout);
    return static_cast<int>(result.has_regression() ? fb::core::ExitCode::regression
                                                    : fb::core::ExitCode::ok);
  } catch (const fb::core::Error& e) {
    fmt::print(stderr, "fabricbench diff: {}\n", e.what());
    return static_cast<int>(fb::core::exit_code_for(e.kind()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fabricbench: benchmarks for the fabrics that feed GPU clusters (TCP and InfiniBand/RoCE "
      "verbs now; libfabric and NCCL to come). Runs declarative YAML experiments on one host "
      "(forked ranks) or across nodes (mpirun, srun, or FABRICBENCH_* variables) in closed-loop, "
      "floor, realistic (open-loop) and overload regimes, optionally with injected link faults, "
      "and writes one self-describing run document per run.",
      "fabricbench"};
  app.set_version_flag("--version", version_string());
  app.require_subcommand(1);
  app.footer(kExitCodes);

  std::string config;
  std::string output;
  std::vector<std::string> sets;

  auto* run = app.add_subcommand("run", "Run an experiment file and write its run document");
  run->add_option("CONFIG", config, "experiment file (YAML, docs/CONFIG.md)")->required();
  run->add_option("-o,--output", output,
                  "directory for this run's documents (default fabricbench-runs/<run id>)");
  run->add_option("--set", sets, "override a key: --set defaults.repetitions=5 (repeatable)")
      ->take_all();
  run->footer(
      "Launcher: `launcher` in the file, or detected: under mpirun/srun ranks use MPI, with "
      "FABRICBENCH_RANK/SIZE/ROOT/SECRET the env launcher, otherwise `ranks` are forked here.\n" +
      std::string(kExitCodes));

  auto* validate = app.add_subcommand("validate", "Check an experiment file; report every error");
  validate->add_option("CONFIG", config, "experiment file (YAML)")->required();
  validate->add_option("--set", sets, "override a key as `run` would (repeatable)")->take_all();

  auto* list = app.add_subcommand(
      "list", "List transports, suites and launchers built in, and why any cannot run here");
  auto* env = app.add_subcommand("envelope", "Print this host's experiment envelope as JSON");

  DiffArgs diff_args;
  auto* diff = app.add_subcommand(
      "diff", "Compare two run documents case by case: improved, regressed or unchanged");
  diff->add_option("BASE", diff_args.base, "the reference run (run.json or run directory)")
      ->required();
  diff->add_option("NEW", diff_args.next, "the run to judge (run.json or run directory)")
      ->required();
  diff->add_option("--format", diff_args.format, "table (default), markdown, json or junit")
      ->check(CLI::IsMember({"table", "markdown", "md", "json", "junit"}));
  diff->add_option("-o,--output", diff_args.output,
                   "write the report to this file (stdout gets the summary line)");
  diff->add_option("--alpha", diff_args.options.alpha,
                   "significance level of the two-sided Mann-Whitney U test (default 0.05)")
      ->check(CLI::Range(1e-9, 0.5));
  diff->add_option("--threshold", diff_args.options.threshold_pct,
                   "minimum change of the medians, percent, to call a difference (default 5)")
      ->check(CLI::Range(0.0, 1000.0));
  diff->add_option("--thresholds", diff_args.thresholds,
                   "YAML file of per-metric thresholds: `lat_p99_ns: 10` (percent; `default`)");
  diff->add_option("--min-repetitions", diff_args.options.min_repetitions,
                   "fewer repetitions on a side cannot decide (default 3)")
      ->check(CLI::Range(1, 1000000));
  diff->add_flag("--allow-few", diff_args.options.allow_few,
                 "with too few repetitions, decide on the effect size alone");
  diff->add_option("--ignore-param", diff_args.options.ignore_params,
                   "leave a params key (dotted, e.g. tcp.address) out of case matching "
                   "(repeatable)")
      ->allow_extra_args(false);
  diff->add_option("--ignore-envelope", diff_args.options.ignore_envelope,
                   "ignore envelope paths matching this glob, e.g. 'nics[*].addresses' "
                   "(repeatable)")
      ->allow_extra_args(false);
  diff->footer(
      "Cases match by suite, transport and resolved parameters (docs/DIFF.md). A metric "
      "regresses when the U test is significant and its median moved by more than the "
      "threshold in the worse direction.\nExit codes: 0 no regression; 2 unreadable, corrupt or "
      "wrong-version input, or bad options; 3 at least one regression.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(fb::core::ExitCode::usage);
  }
  if (run->parsed()) return cmd_run(config, sets, output);
  if (validate->parsed()) return cmd_validate(config, sets);
  if (list->parsed()) return cmd_list();
  if (env->parsed()) return cmd_envelope();
  if (diff->parsed()) return cmd_diff(std::move(diff_args));
  return static_cast<int>(fb::core::ExitCode::usage);
}
