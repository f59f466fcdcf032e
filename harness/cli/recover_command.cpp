// `fabricbench recover` (recover_command.hpp).
#include "harness/cli/recover_command.hpp"

#include <cstdio>
#include <exception>
#include <filesystem>

#include <fmt/core.h>

#include "core/error.hpp"
#include "results/run_document.hpp"

namespace fabricbench::cli {

void add_recover_command(CLI::App& app, RecoverCommand& c) {
  c.app = app.add_subcommand(
      "recover", "Complete the run document of a run that was killed, from its journal");
  c.app->add_option("DIR", c.dir, "the run directory (run.json and/or journal.jsonl)")->required();
  c.app->footer(
      "A run killed by SIGKILL, the OOM killer or a lost node leaves run.json \"running\" (or "
      "only journal.jsonl). This writes the document every reader accepts: the cases the journal "
      "holds, status \"interrupted\", and a \"recovered\" event.\nExit codes: 0 written (or the "
      "run had finished: nothing to do); 2 not a run directory, or a malformed journal.");
}

int run_recover_command(const RecoverCommand& c) {
  try {
    const auto path = (std::filesystem::path(c.dir) / results::kDocumentFileName).string();
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      const auto current = results::read_run_document(path);
      if (current.status != results::RunStatus::running) {
        fmt::print("run {} in {} is {}; nothing to recover\n", current.run_id, c.dir,
                   results::to_string(current.status));
        return 0;
      }
    }
    const results::RunDocument doc = results::recover_from_journal(c.dir);
    results::write_file_atomic(path, results::document_text(doc));
    fmt::print("run {}: {} case(s) recovered, document written to {}\n", doc.run_id,
               doc.cases.size(), path);
    return 0;
  } catch (const core::Error& e) {
    fmt::print(stderr, "fabricbench recover: {}\n", e.what());
    return static_cast<int>(core::exit_code_for(e.kind()));
  } catch (const std::exception& e) {
    fmt::print(stderr, "fabricbench recover: {}\n", e.what());
    return static_cast<int>(core::ExitCode::usage);
  }
}

}  // namespace fabricbench::cli
