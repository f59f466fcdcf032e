// HTML building blocks shared by the report's sections.
#include "results/report/html.hpp"

namespace fabricbench::results::report {

std::string status_span(const std::string& status) {
  return "<span class=\"status status-" + html_escape(status) + "\">" + html_escape(status) +
         "</span>";
}

void kv_row(std::string& out, const std::string& key, const std::string& value_html) {
  out += "<tr><th>" + html_escape(key) + "</th><td>" + value_html + "</td></tr>";
}

std::string figure(const svg::Plot& plot, const std::string& case_id,
                   const std::string& caption_html) {
  std::string out = "<figure id=\"fig-" + plot.id + "\"";
  if (!case_id.empty()) out += " data-case=\"" + html_escape(case_id) + "\"";
  out += ">" + svg::render(plot);
  if (!caption_html.empty()) out += "<figcaption>" + caption_html + "</figcaption>";
  out += "</figure>";
  return out;
}

}  // namespace fabricbench::results::report
