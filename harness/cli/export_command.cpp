// `fabricbench export` (export_command.hpp).
#include "harness/cli/export_command.hpp"

#include <cstdio>
#include <exception>

#include <fmt/core.h>

#include "core/error.hpp"
#include "results/history.hpp"
#include "results/nccl_tests_json.hpp"
#include "results/run_document.hpp"

namespace fabricbench::cli {

void add_export_command(CLI::App& app, ExportCommand& c) {
  c.app = app.add_subcommand(
      "export", "A run's collective cases in another tool's format (nccl-tests -J JSON)");
  c.app->add_option("--format", c.format, "nccl-tests (the JSON of nccl-tests -J, version 3)")
      ->required()
      ->check(CLI::IsMember({"nccl-tests"}));
  c.app->add_option("RUN", c.run, "run.json or run directory")->required();
  c.app->add_option("-o,--output", c.output, "write atomically to this file (default: stdout)");
  c.app->add_option("--collective", c.collective,
                    "only this collective (an nccl-tests document holds one)");
  c.app->add_option("--backend", c.backend, "only cases of this backend (nccl, mpi, ...)");
  c.app->footer(
      "Exit codes: 0 written; 2 unreadable input, not a run document, no completed collective "
      "case, or a selection that is not one collective on one backend (nothing written).");
}

int run_export_command(const ExportCommand& c) {
  try {
    const results::RunDocument doc = results::history::read_input(c.run).doc;
    const std::string text =
        results::nccl_tests::render(doc, results::nccl_tests::Selection{c.collective, c.backend});
    if (c.output.empty() || c.output == "-") {
      fmt::print("{}", text);
    } else {
      results::write_file_atomic(c.output, text);
      fmt::print("nccl-tests JSON of run {} written to {}\n", doc.run_id, c.output);
    }
    return 0;
  } catch (const core::Error& e) {
    fmt::print(stderr, "fabricbench export: {}\n", e.what());
    return static_cast<int>(core::exit_code_for(e.kind()));
  } catch (const std::exception& e) {
    fmt::print(stderr, "fabricbench export: {}\n", e.what());
    return static_cast<int>(core::ExitCode::run_failed);
  }
}

}  // namespace fabricbench::cli
