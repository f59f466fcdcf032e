#pragma once
// Internal to the report: HTML building blocks shared by the sections.
#include <string>

#include "results/report/svg.hpp"

namespace fabricbench::results::report {

// <span class="status status-ok">ok</span>
std::string status_span(const std::string& status);
// A row of a key-value table (<table class="kv">); the value is HTML.
void kv_row(std::string& out, const std::string& key, const std::string& value_html);
// A <figure> with the plot (id "fig-<plot id>", data-case when case_id is not empty) and its
// caption (HTML; none when empty).
std::string figure(const svg::Plot& plot, const std::string& case_id,
                   const std::string& caption_html);

}  // namespace fabricbench::results::report
