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

#include "core/error.hpp"
#include "core/version.hpp"
#include "harness/bootstrap/launchers.hpp"
#include "harness/cli/console.hpp"
#include "harness/cli/export_command.hpp"
#include "harness/cli/placement_step.hpp"
#include "harness/cli/recover_command.hpp"
#include "harness/cli/registry.hpp"
#include "harness/engine/engine.hpp"
#include "harness/envelope/envelope.hpp"
#include "harness/faults/injector.hpp"
#include "harness/spec/loader.hpp"
#include "results/baseline.hpp"
#include "results/diff.hpp"
#include "results/history.hpp"
#include "results/openmetrics.hpp"
#include "results/report.hpp"
#include "results/run_document.hpp"
#include "transports/api/memory.hpp"

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
    "3 `diff` found a regression; 4 an all-pairs map (pattern: all_pairs) named a bad node or "
    "link.";

std::string version_string() {
  return fmt::format("fabricbench {} (revision {})", fb::core::kVersion, fb::core::kRevision);
}

// Loads an experiment against the backends of `registry`; on error prints every diagnostic and
// returns nullopt.
std::optional<fb::spec::Experiment> load(const std::string& path,
                                         const std::vector<std::string>& sets,
                                         const fb::engine::Registry& registry) {
  try {
    return fb::spec::load_experiment_file(path, registry.catalog(), sets);
  } catch (const fb::spec::ConfigError& e) {
    for (const auto& d : e.diagnostics()) fmt::print(stderr, "{}\n", d.to_string());
    fmt::print(stderr, "fabricbench: {} error(s) in {}; nothing was run\n", e.diagnostics().size(),
               path);
  }
  return std::nullopt;
}

int cmd_validate(const std::string& path, const std::vector<std::string>& sets) {
  const auto exp = load(path, sets, fb::cli::make_registry());
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

// What a memory provider's memory can do, for `list`.
std::string traits_text(const fb::transport::MemoryTraits& t) {
  std::string out = t.cpu_addressable ? "CPU-addressable" : "not CPU-addressable";
  if (t.page_locked) out += ", page-locked";
  if (t.dmabuf) out += ", exported as a dma-buf (verbs: ibv_reg_dmabuf_mr)";
  if (!t.cpu_addressable)
    out += "; verbs registers it, sockets stage it through page-locked memory";
  return out;
}

int cmd_list() {
  const auto registry = fb::cli::make_registry();
  fmt::print("transports:\n");
  for (const auto& t : registry.transports) {
    if (!t.built()) continue;  // listed with the components below
    const auto& d = t.descriptor;
    const auto why = d.unavailable_reason ? d.unavailable_reason() : std::nullopt;
    fmt::print("  {:<8} built, {}  {}\n", d.name, why ? "unavailable here: " + *why : "available",
               d.description);
  }
  fmt::print("collective backends:\n");
  for (const auto& c : registry.collectives) {
    const auto& d = c.descriptor;
    const auto why = d.unavailable_reason ? d.unavailable_reason() : std::nullopt;
    fmt::print("  {:<8} {}, {}  {}\n", d.name, c.built() ? "built" : "not built",
               why ? "unavailable here: " + *why : "available", d.description);
  }
  fmt::print("memory providers:\n");
  for (const auto& m : registry.memory) {
    const auto why = m.unavailable_reason ? m.unavailable_reason() : std::nullopt;
    fmt::print("  {:<12} {}  {}; {}\n", m.name, why ? "unavailable here: " + *why : "available",
               m.description, traits_text(m.traits));
  }
  fmt::print("suites:\n");
  for (const auto& s : registry.suites) {
    fmt::print("  {:<10} {}\n", s.descriptor.name, s.descriptor.description);
  }
  fmt::print("components:\n");
  for (const auto& c : fb::cli::components()) {
    fmt::print("  {:<16} {:<10} {}\n", c.name, c.built ? "built" : "not built", c.detail);
  }
  for (const auto& t : registry.transports) {
    if (t.built()) continue;
    const auto& why = t.descriptor.unavailable_reason;
    fmt::print("  {:<16} {:<10} {}\n", "transport " + t.name(), "not built",
               why ? why().value_or("") : std::string());
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
  const auto registry = fb::cli::make_registry();
  const auto exp = load(path, sets, registry);
  if (!exp) return static_cast<int>(fb::core::ExitCode::usage);
  const std::string launcher =
      exp->launcher == "auto" ? fb::bootstrap::detect_launcher() : exp->launcher;
  fb::bootstrap::Options bopts;
  bopts.timeout = std::chrono::milliseconds(exp->peer_timeout_ns / 1'000'000);
  bopts.on_rank_error = [](int rank, const std::string& what) {
    fmt::print(stderr, "rank {}: {}\n", rank, what);
  };
  fb::engine::RunOptions ropts;
  ropts.output_dir = output;
  ropts.stop_requested = &g_stop;
  ropts.on_stuck = [](int rank, const std::string& error) {
    fmt::print(stderr, "fabricbench: rank {}: {} (this rank was stuck inside the collective)\n",
               rank, error);
    std::fflush(stdout);
    std::fflush(stderr);
  };

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
      const fb::engine::TransportEntry* t = registry.transport(c.transport);
      const auto& refusal = t != nullptr ? t->descriptor.namespace_refusal : nullptr;
      if (auto why = refusal ? refusal(c.transport_settings, exp->injector.target) : std::nullopt) {
        fmt::print(stderr, "fabricbench: {}: case {}: {}\n", path, c.id, *why);
        return static_cast<int>(fb::core::ExitCode::usage);
      }
    }
    try {
      netns_watchdog = fb::faults::Watchdog::start();
      netns = fb::faults::NetnsFabric::create(*netns_watchdog, 1500,
                                              exp->injector.link_rate_bits_per_s);
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
    auto console = bs.rank() == 0 ? fb::cli::make_console(stdout, stderr, registry) : nullptr;
    try {
      // Bound once, before the engine captures the envelope and allocates buffers.
      fb::cli::place_rank(bs, *exp, stderr);
      const auto outcome = fb::engine::run_experiment(bs, *exp, registry, ropts, console.get());
      if (!outcome.fault_evidence.empty()) {
        fmt::print(stderr, "fabricbench: rank {}: fault record {}\n", bs.rank(),
                   outcome.fault_evidence);
      }
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
    auto bs = launcher == "mpi"     ? fb::bootstrap::make_mpi_bootstrap(bopts)
              : launcher == "slurm" ? fb::bootstrap::make_slurm_bootstrap(bopts)
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
  bool force = false;  // BASE is a baseline of other hardware: compare anyway
};

// `fabricbench diff BASE NEW`: 0 no regression, 3 a regression, 2 unreadable input or bad options.
int cmd_diff(DiffArgs args) {
  namespace diff = fb::results::diff;
  try {
    const diff::Format format = diff::parse_format(args.format);
    if (!args.thresholds.empty()) diff::load_thresholds_file(args.thresholds, args.options);
    // BASE may be a baseline (`fabricbench baseline`): its pooled values are the BASE sample.
    namespace baseline = fb::results::baseline;
    const auto pooled = baseline::read_if_baseline(args.base, "BASE");
    const auto base = pooled ? fb::results::RunDocument{} : diff::read_for_diff(args.base, "BASE");
    const auto next = diff::read_for_diff(args.next, "NEW");
    const auto result = pooled ? baseline::diff_against_baseline(*pooled, next, args.options,
                                                                 args.force, args.base, args.next)
                               : diff::diff_runs(base, next, args.options, args.base, args.next);
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

struct ReportArgs {
  std::vector<std::string> runs;
  std::string html;
  std::string markdown;
};

// `fabricbench report RUN... -o report.html [--markdown FILE]`: 0 written, 2 unreadable input,
// bad options or an output that cannot be written.
int cmd_report(const ReportArgs& args) {
  namespace report = fb::results::report;
  try {
    std::vector<fb::results::RunDocument> runs;
    for (const auto& path : args.runs) runs.push_back(report::read_for_report(path));
    std::size_t cases = 0;
    for (const auto& r : runs) cases += r.cases.size();
    const std::vector<std::pair<std::string, std::string>> outputs = {
        {args.html, report::render_html(runs)},
        {args.markdown, args.markdown.empty() ? std::string() : report::render_markdown(runs)}};
    for (const auto& [path, text] : outputs) {
      if (path.empty()) continue;
      try {
        fb::results::write_file_atomic(path, text);
      } catch (const fb::core::Error& e) {
        fmt::print(stderr, "fabricbench report: {}: {}\n", path, e.what());
        return static_cast<int>(fb::core::ExitCode::usage);
      }
      fmt::print("report of {} run(s), {} case(s) written to {}\n", runs.size(), cases, path);
    }
    return 0;
  } catch (const fb::core::Error& e) {
    fmt::print(stderr, "fabricbench report: {}\n", e.what());
    return static_cast<int>(fb::core::exit_code_for(e.kind()));
  }
}

// ---- baseline, history, openmetrics (docs/HISTORY.md) -----------------------------------------

int fail(const char* command, const fb::core::Error& e) {
  fmt::print(stderr, "fabricbench {}: {}\n", command, e.what());
  return static_cast<int>(fb::core::exit_code_for(e.kind()));
}

struct BaselineArgs {
  std::vector<std::string> runs;
  std::string output;
  fb::results::baseline::OutlierRule rule;
  double min_relative_pct = 1.0;
};

// `fabricbench baseline RUN... -o FILE`: 0 written; 2 unreadable input or runs of other hardware.
int cmd_baseline(BaselineArgs args) {
  namespace baseline = fb::results::baseline;
  try {
    std::vector<fb::results::RunDocument> runs;
    for (const auto& path : args.runs) runs.push_back(fb::results::history::read_input(path).doc);
    args.rule.min_relative = args.min_relative_pct / 100.0;
    const auto b = baseline::build_baseline(runs, args.runs, args.rule);
    fb::results::write_file_atomic(args.output, baseline::to_json(b).dump(1) + "\n");
    fmt::print("{}written to {}\n", baseline::describe(b), args.output);
    return 0;
  } catch (const fb::core::Error& e) {
    return fail("baseline", e);
  }
}

struct HistoryArgs {
  std::string db = fb::results::history::kDefaultDatabase;
  std::vector<std::string> runs;
  std::string format = "table";
  std::string experiment;
  fb::results::history::ShowQuery query;
};

// `fabricbench history add RUN... [--db FILE]`: every document is read first; any unreadable
// one stores nothing (exit 2).
int cmd_history_add(const HistoryArgs& args) {
  namespace history = fb::results::history;
  try {
    std::vector<history::StoredInput> inputs;
    for (const auto& path : args.runs) inputs.push_back(history::read_input(path));
    history::Database db(args.db, true);
    for (const auto& r : db.add(inputs)) {
      fmt::print("{:<9} {} (id {}) from {}\n", history::to_string(r.outcome), r.run_id, r.id,
                 r.source);
    }
    fmt::print("{} run(s) in {}\n", db.list().size(), args.db);
    return 0;
  } catch (const fb::core::Error& e) {
    return fail("history add", e);
  }
}

int cmd_history_list(const HistoryArgs& args) {
  namespace history = fb::results::history;
  try {
    history::Database db(args.db, false);
    fmt::print("{}",
               history::render_list(db.list(args.experiment), history::parse_format(args.format)));
    return 0;
  } catch (const fb::core::Error& e) {
    return fail("history list", e);
  }
}

int cmd_history_show(HistoryArgs args) {
  namespace history = fb::results::history;
  try {
    args.query.experiment = args.experiment;
    const auto format = history::parse_format(args.format);
    history::Database db(args.db, false);
    fmt::print("{}", history::render_show(args.query, db.show(args.query), format));
    return 0;
  } catch (const fb::core::Error& e) {
    return fail("history show", e);
  }
}

// `fabricbench openmetrics RUN [-o FILE]`: the exposition on stdout or written atomically.
int cmd_openmetrics(const std::string& run, const std::string& out) {
  try {
    const auto doc = fb::results::history::read_input(run).doc;
    const std::string text = fb::results::openmetrics::render(doc);
    if (out.empty() || out == "-") {
      fmt::print("{}", text);
    } else {
      fb::results::write_file_atomic(out, text);
      fmt::print("openmetrics of run {} written to {}\n", doc.run_id, out);
    }
    return 0;
  } catch (const fb::core::Error& e) {
    return fail("openmetrics", e);
  }
}

// The command line's arguments and subcommands.
struct Commands {
  std::string config;
  std::string output;
  std::vector<std::string> sets;
  DiffArgs diff_args;
  ReportArgs report_args;
  BaselineArgs baseline_args;
  HistoryArgs history_args;
  std::string openmetrics_run;
  std::string openmetrics_output;
  CLI::App* run = nullptr;
  CLI::App* validate = nullptr;
  CLI::App* list = nullptr;
  CLI::App* env = nullptr;
  CLI::App* diff = nullptr;
  CLI::App* report = nullptr;
  CLI::App* baseline = nullptr;
  CLI::App* history_add = nullptr;
  CLI::App* history_list = nullptr;
  CLI::App* history_show = nullptr;
  CLI::App* openmetrics = nullptr;
};

// run, validate, list, envelope.
void add_run_commands(CLI::App& app, Commands& c) {
  c.run = app.add_subcommand("run", "Run an experiment file and write its run document");
  c.run->add_option("CONFIG", c.config, "experiment file (YAML, docs/CONFIG.md)")->required();
  c.run->add_option("-o,--output", c.output,
                    "directory for this run's documents (default fabricbench-runs/<run id>)");
  c.run->add_option("--set", c.sets, "override a key: --set defaults.repetitions=5 (repeatable)")
      ->take_all();
  c.run->footer(
      "Launcher: `launcher` in the file, or detected: under mpirun or srun --mpi=pmix/pmi2 ranks "
      "use MPI (mpi), under plain srun Slurm's variables (slurm), with "
      "FABRICBENCH_RANK/SIZE/ROOT/SECRET the env launcher, otherwise `ranks` are forked here.\n"
      "Placement: `placement: auto` in the file binds each rank's CPUs and memory to the NUMA "
      "node of its NIC or GPU (hwloc; `explicit` by hand, `none` the default); the envelope "
      "records it (placement.binding).\n" +
      std::string(kExitCodes));

  c.validate = app.add_subcommand("validate", "Check an experiment file; report every error");
  c.validate->add_option("CONFIG", c.config, "experiment file (YAML)")->required();
  c.validate->add_option("--set", c.sets, "override a key as `run` would (repeatable)")->take_all();

  c.list = app.add_subcommand(
      "list", "List transports, suites and launchers built in, and why any cannot run here");
  c.env = app.add_subcommand("envelope", "Print this host's experiment envelope as JSON");
}

void add_diff_command(CLI::App& app, Commands& c) {
  c.diff = app.add_subcommand(
      "diff", "Compare two run documents case by case: improved, regressed or unchanged");
  c.diff->add_option("BASE", c.diff_args.base, "the reference run (run.json or run directory)")
      ->required();
  c.diff->add_option("NEW", c.diff_args.next, "the run to judge (run.json or run directory)")
      ->required();
  c.diff->add_option("--format", c.diff_args.format, "table (default), markdown, json or junit")
      ->check(CLI::IsMember({"table", "markdown", "md", "json", "junit"}));
  c.diff->add_option("-o,--output", c.diff_args.output,
                     "write the report to this file (stdout gets the summary line)");
  c.diff
      ->add_option("--alpha", c.diff_args.options.alpha,
                   "significance level of the two-sided Mann-Whitney U test (default 0.05)")
      ->check(CLI::Range(1e-9, 0.5));
  c.diff
      ->add_option("--threshold", c.diff_args.options.threshold_pct,
                   "minimum change of the medians, percent, to call a difference (default 5)")
      ->check(CLI::Range(0.0, 1000.0));
  c.diff->add_option("--thresholds", c.diff_args.thresholds,
                     "YAML file of per-metric thresholds: `lat_p99_ns: 10` (percent; `default`)");
  c.diff
      ->add_option("--min-repetitions", c.diff_args.options.min_repetitions,
                   "fewer repetitions on a side cannot decide (default 3)")
      ->check(CLI::Range(1, 1000000));
  c.diff->add_flag("--allow-few", c.diff_args.options.allow_few,
                   "with too few repetitions, decide on the effect size alone");
  c.diff
      ->add_option("--ignore-param", c.diff_args.options.ignore_params,
                   "leave a params key (dotted, e.g. tcp.address) out of case matching "
                   "(repeatable)")
      ->allow_extra_args(false);
  c.diff
      ->add_option("--ignore-envelope", c.diff_args.options.ignore_envelope,
                   "ignore envelope paths matching this glob, e.g. 'nics[*].addresses' "
                   "(repeatable)")
      ->allow_extra_args(false);
  c.diff->footer(
      "BASE may be a run or a baseline (fabricbench baseline). Cases match by suite, transport "
      "and resolved parameters (docs/DIFF.md). A metric regresses when the U test is "
      "significant and its median moved by more than the threshold in the worse direction.\n"
      "Exit codes: 0 no regression; 2 unreadable, corrupt or wrong-version input, a baseline of "
      "other hardware (without --force), or bad options; 3 at least one regression.");
  c.diff->add_flag("--force", c.diff_args.force,
                   "with a baseline as BASE: compare even when NEW ran on other hardware");
}

// report, baseline, openmetrics (docs/REPORT.md, docs/HISTORY.md).
void add_results_commands(CLI::App& app, Commands& c) {
  c.report = app.add_subcommand(
      "report", "Write one self-contained HTML report (SVG plots) of one or more run documents");
  c.report->add_option("RUN", c.report_args.runs, "run.json or run directory (several: overlaid)")
      ->required();
  c.report->add_option("-o,--output", c.report_args.html, "the HTML file to write")->required();
  c.report->add_option("--markdown", c.report_args.markdown,
                       "also write a markdown summary (one table per run) to this file");
  c.report->footer(
      "Plots: bandwidth and latency vs message size, latency CDFs, interval series, recovery "
      "curves, latency vs offered load (docs/REPORT.md).\nExit codes: 0 written; 2 unreadable "
      "or corrupt input, bad options, or an output that cannot be written.");

  c.baseline = app.add_subcommand(
      "baseline", "Pool several run documents into a baseline for `diff` (docs/HISTORY.md)");
  c.baseline->add_option("RUN", c.baseline_args.runs, "run.json or run directory (several)")
      ->required();
  c.baseline->add_option("-o,--output", c.baseline_args.output, "the baseline file to write")
      ->required();
  c.baseline
      ->add_option("--outlier-k", c.baseline_args.rule.k,
                   "reject values beyond median +- K MAD-sigmas (default 3)")
      ->check(CLI::Range(1.0, 100.0));
  c.baseline
      ->add_option("--outlier-floor", c.baseline_args.min_relative_pct,
                   "never reject within this percent of the median (default 1)")
      ->check(CLI::Range(0.0, 100.0));
  c.baseline->footer(
      "Runs must share one hardware identity (CPU model, NICs and drivers, RDMA devices and "
      "firmware, GPU models). `fabricbench diff BASELINE NEW` then compares NEW against the "
      "pooled values and refuses other hardware unless --force.\nExit codes: 0 written; 2 "
      "unreadable or corrupt input, runs of different hardware, or bad options.");

  c.openmetrics = app.add_subcommand(
      "openmetrics", "A run's headline figures as OpenMetrics text (node_exporter textfile)");
  c.openmetrics->add_option("RUN", c.openmetrics_run, "run.json or run directory")->required();
  c.openmetrics->add_option("-o,--output", c.openmetrics_output,
                            "write atomically to this file (e.g. <textfile dir>/fabricbench.prom)");
  c.openmetrics->footer("Exit codes: 0 written; 2 unreadable or corrupt input.");
}

void add_history_commands(CLI::App& app, Commands& c) {
  auto* history = app.add_subcommand(
      "history", "Store run documents in SQLite; list them; trend one metric with change points");
  history->require_subcommand(1);
  history->footer("Exit codes: 0 ok; 2 unreadable or corrupt input or database, bad options.");
  c.history_add = history->add_subcommand("add", "Store run documents (idempotent)");
  c.history_add->add_option("RUN", c.history_args.runs, "run.json or run directory")->required();
  c.history_list = history->add_subcommand("list", "List the stored runs");
  c.history_show = history->add_subcommand(
      "show", "Trend of one metric over the stored runs, with the runs where a shift began");
  c.history_show->add_option("METRIC", c.history_args.query.metric, "e.g. lat_p99_ns, bw_gbps")
      ->required();
  c.history_show->add_option("--case", c.history_args.query.case_filter,
                             "a case id, or part of case ids");
  c.history_show
      ->add_option("--alpha", c.history_args.query.change_points.alpha,
                   "significance of a change point (permutation test; default 0.01)")
      ->check(CLI::Range(1e-6, 0.5));
  c.history_show
      ->add_option("--min-shift", c.history_args.query.change_points.min_shift_pct,
                   "smallest shift of the medians reported, percent (default 5)")
      ->check(CLI::Range(0.0, 1000.0));
  c.history_show
      ->add_option("--min-segment", c.history_args.query.change_points.min_segment,
                   "fewest runs on each side of a change point (default 3)")
      ->check(CLI::Range(1, 100000));
  for (auto* sub : {c.history_add, c.history_list, c.history_show}) {
    sub->add_option("--db", c.history_args.db,
                    "the history database (default ./fabricbench-history.sqlite)");
  }
  for (auto* sub : {c.history_list, c.history_show}) {
    sub->add_option("--format", c.history_args.format, "table (default) or json")
        ->check(CLI::IsMember({"table", "json"}));
    sub->add_option("--experiment", c.history_args.experiment, "only runs of this experiment");
  }
}

int dispatch(Commands& c) {
  if (c.run->parsed()) return cmd_run(c.config, c.sets, c.output);
  if (c.validate->parsed()) return cmd_validate(c.config, c.sets);
  if (c.list->parsed()) return cmd_list();
  if (c.env->parsed()) return cmd_envelope();
  if (c.diff->parsed()) return cmd_diff(std::move(c.diff_args));
  if (c.report->parsed()) return cmd_report(c.report_args);
  if (c.baseline->parsed()) return cmd_baseline(std::move(c.baseline_args));
  if (c.history_add->parsed()) return cmd_history_add(c.history_args);
  if (c.history_list->parsed()) return cmd_history_list(c.history_args);
  if (c.history_show->parsed()) return cmd_history_show(std::move(c.history_args));
  if (c.openmetrics->parsed()) return cmd_openmetrics(c.openmetrics_run, c.openmetrics_output);
  return static_cast<int>(fb::core::ExitCode::usage);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fabricbench: benchmarks for the fabrics that feed GPU clusters: TCP, InfiniBand/RoCE verbs "
      "(GPU memory through dma-buf or nvidia-peermem: GPUDirect RDMA), MPI and NCCL collectives, "
      "host/GPU copies. Runs declarative YAML experiments on one host "
      "(forked ranks) or across nodes (mpirun, srun, or FABRICBENCH_* variables) in closed-loop, "
      "floor, realistic (open-loop) and overload regimes, optionally with injected link faults, "
      "and writes one self-describing run document per run.",
      "fabricbench"};
  app.set_version_flag("--version", version_string());
  app.require_subcommand(1);
  app.footer(kExitCodes);

  Commands c;
  add_run_commands(app, c);
  add_diff_command(app, c);
  add_results_commands(app, c);
  add_history_commands(app, c);
  fb::cli::ExportCommand export_command;
  fb::cli::add_export_command(app, export_command);
  fb::cli::RecoverCommand recover_command;
  fb::cli::add_recover_command(app, recover_command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(fb::core::ExitCode::usage);
  }
  if (export_command.parsed()) return fb::cli::run_export_command(export_command);
  if (recover_command.parsed()) return fb::cli::run_recover_command(recover_command);
  return dispatch(c);
}
