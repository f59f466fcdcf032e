#pragma once
// `fabricbench export --format nccl-tests RUN [-o FILE] [--collective C] [--backend B]`: a run's
// collective cases in another tool's output format (docs/RESULTS.md "nccl-tests JSON").
#include <string>

#include <CLI/CLI.hpp>

namespace fabricbench::cli {

struct ExportCommand {
  CLI::App* app = nullptr;
  std::string format = "nccl-tests";
  std::string run;
  std::string output;
  std::string collective;
  std::string backend;
  bool parsed() const { return app != nullptr && app->parsed(); }
};

// Declares the subcommand on `app`; `c` must outlive the parse.
void add_export_command(CLI::App& app, ExportCommand& c);

// Runs it: 0 written; 2 (core::ExitCode::usage) when RUN cannot be read, is not a run document,
// has no completed collective case, or the selection is not one collective on one backend;
// nothing is written then (the output file is replaced atomically, only on success).
int run_export_command(const ExportCommand& c);

}  // namespace fabricbench::cli
