// The "Runs" section: each run's facts and its case table.
#include <map>

#include <fmt/core.h>

#include "results/json_read.hpp"
#include "results/report/case_row.hpp"
#include "results/report/format.hpp"
#include "results/report/html.hpp"
#include "results/report/sections.hpp"

namespace fabricbench::results::report {

using detail::text_at;

namespace {

// The run's facts as a key-value table.
void run_facts(std::string& out, const RunDocument& d) {
  out += "<table class=\"kv run-table\">";
  kv_row(out, "run id", "<code>" + html_escape(d.run_id) + "</code>");
  kv_row(out, "status", status_span(to_string(d.status)));
  if (!d.interrupted_case.empty()) {
    kv_row(out, "interrupted case", "<code>" + html_escape(d.interrupted_case) + "</code>");
  }
  kv_row(out, "started", html_escape(wall_time(d.started_ns)));
  kv_row(out, "finished", html_escape(wall_time(d.finished_ns)));
  if (d.finished_ns > d.started_ns && d.started_ns != 0) {
    kv_row(out, "duration",
           html_escape(format_duration(static_cast<double>(d.finished_ns - d.started_ns))));
  }
  kv_row(out, "tool",
         html_escape("fabricbench " + d.tool_version + " (revision " + d.tool_revision + ")"));
  kv_row(out, "launcher, ranks", html_escape(d.launcher + ", " + std::to_string(d.ranks)));
  kv_row(out, "experiment", "<code>" + html_escape(text_at(d.config, "path")) + "</code>");
  const std::string digest = text_at(d.config, "digest");
  if (!digest.empty()) kv_row(out, "plan digest", "<code>" + html_escape(digest) + "</code>");
  std::map<std::string, int> by_status;
  for (const auto& c : d.cases) ++by_status[to_string(c.status)];
  std::string counts = std::to_string(d.cases.size());
  for (const auto& [s, n] : by_status) counts += fmt::format(", {} {}", n, s);
  kv_row(out, "cases", html_escape(counts));
  out += "</table>";
}

void case_table(std::string& out, const RunDocument& d) {
  out +=
      "<table class=\"cases\"><thead><tr><th>case</th><th>suite</th><th>transport</th>"
      "<th>status</th><th>reps</th><th>p50 (&micro;s)</th><th>p99 (&micro;s)</th>"
      "<th>Gb/s (median)</th><th>notes</th></tr></thead><tbody>";
  for (const auto& c : d.cases) {
    const Row row = case_row(c);
    out += "<tr><td><code>" + html_escape(row.id) + "</code></td><td>" + html_escape(row.suite) +
           "</td><td>" + html_escape(row.transport) + "</td><td>" + status_span(row.status) +
           "</td><td class=\"num\">" + html_escape(row.reps) + "</td><td class=\"num\">" +
           html_escape(row.p50_us) + "</td><td class=\"num\">" + html_escape(row.p99_us) +
           "</td><td class=\"num\">" + html_escape(row.gbps) + "</td><td>" +
           html_escape(row.notes) + "</td></tr>";
  }
  if (d.cases.empty()) out += "<tr><td colspan=\"9\" class=\"note\">no cases</td></tr>";
  out += "</tbody></table>";
}

}  // namespace

void run_section(std::string& out, const Context& ctx, std::size_t r) {
  const RunDocument& d = ctx.runs[r];
  out += "<h3 id=\"run-" + std::to_string(r) + "\">";
  if (ctx.multi()) {
    out += "<span class=\"swatch\" style=\"background:" + std::string(kPalette[r % kPaletteSize]) +
           "\"></span>";
  }
  out += "Run <code>" + html_escape(d.run_id) + "</code> " + status_span(to_string(d.status)) +
         "</h3>";
  run_facts(out, d);
  case_table(out, d);
}

}  // namespace fabricbench::results::report
