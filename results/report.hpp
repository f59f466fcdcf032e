#pragma once
// `fabricbench report`: one self-contained HTML file (inline CSS and SVG, no scripts, no external
// resources) and an optional markdown summary from one or more run documents (docs/REPORT.md).
//
// The plots are drawn by a small SVG helper (namespace svg: results/report/svg.hpp). Every text
// that reaches the HTML (ids, envelope facts, labels) goes through html_escape.
#include <string>
#include <vector>

#include "results/report/svg.hpp"
#include "results/run_document.hpp"

namespace fabricbench::results::report {

struct Options {
  std::string title;  // default: "fabricbench report"
};

// Reads a run document (run.json or run directory) for the report. Any failure is a
// core::Error of kind config whose message names the file.
RunDocument read_for_report(const std::string& path);

// The HTML report of `runs` (overlaid; each run one color when there are several).
std::string render_html(const std::vector<RunDocument>& runs, const Options& options = {});

// Markdown summary: one table per run (case, status, headline figures).
std::string render_markdown(const std::vector<RunDocument>& runs);

}  // namespace fabricbench::results::report
