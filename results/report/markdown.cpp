// `fabricbench report --markdown`: one table per run (case, status, headline figures).
#include "results/char_escape.hpp"
#include "results/json_read.hpp"
#include "results/report.hpp"
#include "results/report/case_row.hpp"
#include "results/report/context.hpp"
#include "results/report/format.hpp"

namespace fabricbench::results::report {

using detail::member;
using detail::text_at;
using nlohmann::json;

namespace {

std::string md_cell(const std::string& s) {
  return detail::escape_chars(
      s, {{'|', "\\|"}, {'\n', " "}, {'\r', " "}, {'<', "&lt;"}, {'>', "&gt;"}});
}

// "GPU PCIe link below its maximum: ..." for rank 0's GPUs flagged pcie_degraded; "" if none.
std::string degraded_links_line(const json& ranks) {
  if (!ranks.is_array() || ranks.empty()) return {};
  std::string line;
  for (const auto& dev : member(member(ranks[0], "gpus"), "devices")) {
    if (!detail::flag_at(dev, "pcie_degraded")) continue;
    line += (line.empty() ? "" : "; ") + text_at(dev, "bus_id") + ": " +
            text_at(dev, "pcie_degraded_reason");
  }
  return line.empty() ? line : "GPU PCIe link below its maximum: " + md_cell(line) + "\n\n";
}

}  // namespace

std::string render_markdown(const std::vector<RunDocument>& runs) {
  const auto names = run_names(runs);
  std::string out = "# fabricbench report\n";
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const RunDocument& d = runs[r];
    out += "\n## Run " + md_cell(names[r]) + " (" + to_string(d.status) + ")\n\n";
    std::string host;
    const json& ranks = member(d.envelope, "ranks");
    if (ranks.is_array() && !ranks.empty()) {
      host = text_at(ranks[0], "hostname");
      const std::string kernel = text_at(member(ranks[0], "kernel"), "release");
      if (!kernel.empty()) host += ", kernel " + kernel;
    }
    out += "fabricbench " + md_cell(d.tool_version) + " (" + md_cell(d.tool_revision) + "), " +
           md_cell(d.launcher) + " launcher, " + std::to_string(d.ranks) + " rank(s)";
    if (!host.empty()) out += ", host " + md_cell(host);
    out += ", started " + wall_time(d.started_ns);
    if (!d.interrupted_case.empty()) out += ", interrupted in " + md_cell(d.interrupted_case);
    out += ".\n\n";
    out += degraded_links_line(ranks);
    out += "| case | suite | transport | status | reps | p50 (µs) | p99 (µs) | Gb/s | notes |\n";
    out += "|---|---|---|---|---:|---:|---:|---:|---|\n";
    for (const auto& c : d.cases) {
      const Row row = case_row(c);
      out += "| " + md_cell(row.id) + " | " + md_cell(row.suite) + " | " + md_cell(row.transport) +
             " | " + md_cell(row.status) + " | " + row.reps + " | " + row.p50_us + " | " +
             row.p99_us + " | " + row.gbps + " | " + md_cell(row.notes) + " |\n";
    }
    if (d.cases.empty()) out += "| (no cases) | | | | | | | | |\n";
  }
  return out;
}

}  // namespace fabricbench::results::report
