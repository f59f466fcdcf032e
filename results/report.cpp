// `fabricbench report`: reading the documents and the HTML page (docs/REPORT.md). The page's
// sections are in results/report/ (sections.hpp), its plots drawn by results/report/svg.hpp.
#include "results/report.hpp"

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/version.hpp"
#include "results/config_error.hpp"
#include "results/report/context.hpp"
#include "results/report/sections.hpp"

namespace fabricbench::results::report {

using detail::config_error;

RunDocument read_for_report(const std::string& path) {
  try {
    return read_run_document(path);
  } catch (const core::Error& e) {
    const std::string what = e.what();
    // The reader's messages name the file (run.json inside a directory); keep them as they are.
    if (what.find(path) != std::string::npos) config_error(what);
    config_error(path + ": " + what);
  } catch (const std::exception& e) {
    config_error(path + ": " + e.what());
  }
}

namespace {

const char* kCss = R"css(
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 24px auto; max-width: 1180px; padding: 0 16px; color: #1d1d1f; background: #fafafa; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 6px 18px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.88em; background: #fff; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { width: 11em; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.95em; }
.status { display: inline-block; padding: 0 6px; border-radius: 3px; font-weight: 600; }
.status-complete, .status-ok { background: #dff3e0; color: #1b5e20; }
.status-running, .status-skipped { background: #fff4d6; color: #7a5200; }
.status-interrupted, .status-failed { background: #fde2e1; color: #8e1b16; }
figure { margin: 12px 0 24px; background: #fff; border: 1px solid #e2e2e2; padding: 8px; }
figcaption { font-size: 0.85em; color: #333; margin-top: 4px; }
svg.plot { max-width: 100%; height: auto; display: block;
           font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.note { color: #666; font-style: italic; }
.figs { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.figs figure { flex: 1 1 540px; max-width: 100%; margin: 0 0 12px; box-sizing: border-box; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; }
)css";

// The page up to the sections: head, title, what the report holds, navigation.
void page_head(std::string& out, const std::string& title, const Context& ctx,
               std::size_t case_count) {
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  out += html_escape(title);
  out += "</title>\n<style>";
  out += kCss;
  out += "</style>\n</head>\n<body>\n<h1>";
  out += html_escape(title);
  out += "</h1>\n<p>";
  std::string ids;
  for (std::size_t r = 0; r < ctx.runs.size(); ++r) {
    if (r > 0) ids += ", ";
    ids += "<code>" + html_escape(ctx.names[r]) + "</code>";
  }
  out += fmt::format(
      "{} run(s): {}; {} distinct case(s). Written by fabricbench {}; "
      "self-contained (no scripts, no external resources).",
      ctx.runs.size(), ids, case_count, html_escape(core::kVersion));
  out +=
      "</p>\n<nav><ul><li><a href=\"#runs\">Runs</a></li><li><a href=\"#envelope\">Envelope</a>"
      "</li><li><a href=\"#bandwidth\">Bandwidth</a></li><li><a href=\"#latency\">Latency</a></li>"
      "<li><a href=\"#collectives\">Collectives</a></li>"
      "<li><a href=\"#cdf\">Distributions</a></li><li><a href=\"#intervals\">Intervals</a></li>"
      "<li><a href=\"#recovery\">Recovery</a></li><li><a href=\"#regimes\">Regimes</a></li>"
      "<li><a href=\"#maps\">Fabric maps</a></li></ul></nav>\n";
}

}  // namespace

std::string render_html(const std::vector<RunDocument>& runs, const Options& options) {
  const Context ctx{runs, run_names(runs)};
  const auto groups = union_cases(runs);
  const std::string title = options.title.empty() ? "fabricbench report" : options.title;
  std::string out;
  out.reserve(1 << 16);
  page_head(out, title, ctx, groups.size());
  out += "<section>\n<h2 id=\"runs\">Runs</h2>\n";
  for (std::size_t r = 0; r < runs.size(); ++r) run_section(out, ctx, r);
  out += "</section>\n<section>\n<h2 id=\"envelope\">Envelope</h2>\n";
  for (std::size_t r = 0; r < runs.size(); ++r) envelope_section(out, ctx, r);
  out += "</section>\n<section>\n";
  out += size_plots(ctx);
  out += "\n</section>\n<section>\n";
  out += collective_plots(ctx);
  out += "\n</section>\n<section>\n";
  out += cdf_plots(ctx, groups);
  out += "\n</section>\n<section>\n";
  out += interval_plots(ctx, groups);
  out += "\n</section>\n<section>\n";
  out += recovery_plots(ctx, groups);
  out += "\n</section>\n<section>\n";
  out += regime_plots(ctx, groups);
  out += "\n</section>\n<section>\n";
  out += map_plots(ctx, groups);
  out +=
      "\n</section>\n<footer><p class=\"note\">Definitions: docs/METHODOLOGY.md and "
      "docs/RESULTS.md of fabricbench; this report: docs/REPORT.md.</p></footer>\n"
      "</body>\n</html>\n";
  return out;
}

}  // namespace fabricbench::results::report
