#pragma once
// `fabricbench recover DIR`: completes the run document of a run that was killed before it
// finished (run.json still "running", or only journal.jsonl left): every case the journal holds,
// status "interrupted", a "recovered" event (results::recover_from_journal). Writes DIR/run.json
// atomically; a finished run is left as it is.
#include <string>

#include <CLI/CLI.hpp>

namespace fabricbench::cli {

struct RecoverCommand {
  CLI::App* app = nullptr;
  std::string dir;
  bool parsed() const { return app != nullptr && app->parsed(); }
};

// Declares the subcommand on `app`; `c` must outlive the parse.
void add_recover_command(CLI::App& app, RecoverCommand& c);

// 0 written (or nothing to do); 2 when DIR is not a run directory or its files are malformed
// (nothing written then).
int run_recover_command(const RecoverCommand& c);

}  // namespace fabricbench::cli
