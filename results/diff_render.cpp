// `fabricbench diff` outputs: terminal table, Markdown, JSON and JUnit XML (docs/DIFF.md).
// Deterministic: the same DiffResult always renders to the same bytes (golden-file tests).
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "core/error.hpp"
#include "results/char_escape.hpp"
#include "results/diff.hpp"

namespace fabricbench::results::diff {

using nlohmann::json;

Format parse_format(const std::string& text) {
  if (text == "table") return Format::table;
  if (text == "markdown" || text == "md") return Format::markdown;
  if (text == "json") return Format::json;
  if (text == "junit") return Format::junit;
  throw core::Error(core::ErrorKind::usage,
                    "unknown format \"" + text + "\" (expected table, markdown, json or junit)");
}

namespace {

// Plain decimal with about four significant digits; whole numbers of 1000 and up as integers.
std::string format_value(double v) {
  if (std::abs(v) >= 1000) return fmt::format("{:.0f}", v);
  return fmt::format("{:.4g}", v);
}

std::string format_optional(const std::optional<double>& v) {
  return v ? format_value(*v) : "-";
}

std::string format_change(const std::optional<double>& change) {
  if (!change) return "-";
  if (std::isinf(*change)) return *change > 0 ? "+inf%" : "-inf%";
  return fmt::format("{:+.1f}%", *change * 100.0);
}

std::string format_p(const MetricDiff& m) {
  return m.test ? fmt::format("{:.3g}", m.test->p_value) : "-";
}

std::string format_reps(const MetricDiff& m) {
  return fmt::format("{}/{}", m.base_values.size(), m.new_values.size());
}

std::string format_pct(double pct) {
  return fmt::format("{:g}%", pct);
}

std::string describe_run(const RunInfo& r) {
  return fmt::format("run {}, fabricbench {} ({}), {}, {} rank(s), {} case(s)", r.run_id,
                     r.tool_version, r.tool_revision, r.status, r.ranks, r.cases);
}

std::string describe_test(const Options& o) {
  std::string overrides;
  for (const auto& [name, pct] : o.thresholds_pct) {
    if (!overrides.empty()) overrides += ", ";
    overrides += name;
    overrides += ' ';
    overrides += format_pct(pct);
  }
  std::string out =
      fmt::format("two-sided Mann-Whitney U at alpha {:g} and a change of the medians above {}",
                  o.alpha, format_pct(o.threshold_pct));
  if (!overrides.empty()) out += " (" + overrides + ")";
  out += fmt::format("; fewer than {} repetitions a side: {}", o.min_repetitions,
                     o.allow_few ? "decided on the effect size alone" : "not decided");
  return out;
}

std::string envelope_value(const std::optional<json>& v, std::size_t most) {
  if (!v) return "(absent)";
  std::string s = v->is_string() ? v->get<std::string>() : v->dump();
  if (s.size() > most) {
    s.resize(most - 3);
    s += "...";
  }
  return s;
}

std::string envelope_ranks(const EnvelopeDifference& d) {
  if (d.all_ranks) return "all ranks";
  std::string out = d.ranks.size() == 1 ? "rank " : "ranks ";
  for (std::size_t i = 0; i < d.ranks.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(d.ranks[i]);
  }
  return out;
}

std::string joined(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  std::string out = a;
  out += "; ";
  out += b;
  return out;
}

constexpr std::size_t kColumns = 10;
using Row = std::array<std::string, kColumns>;
constexpr std::array<const char*, kColumns> kHeader = {
    "case", "metric", "better", "BASE", "NEW", "change", "p", "reps", "verdict", "note"};
// Right-aligned columns (numbers).
constexpr std::array<bool, kColumns> kRight = {false, false, false, true,  true,
                                               true,  true,  true,  false, false};

// The rows of the verdict table: one per metric, or one per case without metrics.
std::vector<Row> table_rows(const DiffResult& d) {
  std::vector<Row> rows;
  for (const auto& cd : d.cases) {
    if (cd.metrics.empty()) {
      rows.push_back({cd.id, "-", "", "", "", "", "", "", to_string(cd.verdict), cd.note});
      continue;
    }
    bool first = true;
    for (const auto& m : cd.metrics) {
      rows.push_back({first ? cd.id : "", m.name, to_string(m.direction),
                      format_optional(m.base_median), format_optional(m.new_median),
                      format_change(m.change), format_p(m), format_reps(m), to_string(m.verdict),
                      joined(first ? cd.note : "", m.warning)});
      first = false;
    }
  }
  return rows;
}

std::string render_table(const DiffResult& d) {
  std::string out = "fabricbench diff\n";
  out += fmt::format("BASE: {}  {}\n", d.base.label, describe_run(d.base));
  out += fmt::format("NEW:  {}  {}\n", d.next.label, describe_run(d.next));
  out += fmt::format("Test: {}\n", describe_test(d.options));
  for (const auto& n : d.notes) out += fmt::format("Note: {}\n", n);
  out += '\n';

  const auto rows = table_rows(d);
  std::array<std::size_t, kColumns> width{};
  for (std::size_t c = 0; c < kColumns; ++c) width[c] = std::string(kHeader[c]).size();
  for (const auto& r : rows) {
    for (std::size_t c = 0; c < kColumns; ++c) width[c] = std::max(width[c], r[c].size());
  }
  auto line = [&](const Row& r) {
    std::string s;
    for (std::size_t c = 0; c < kColumns; ++c) {
      const bool last = c + 1 == kColumns;
      if (c > 0) s += "  ";
      if (last) {
        s += r[c];
      } else if (kRight[c]) {
        s += fmt::format("{:>{}}", r[c], width[c]);
      } else {
        s += fmt::format("{:<{}}", r[c], width[c]);
      }
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  Row header;
  for (std::size_t c = 0; c < kColumns; ++c) header[c] = kHeader[c];
  out += line(header);
  if (rows.empty()) out += "(no cases)\n";
  for (const auto& r : rows) out += line(r);
  out += '\n';

  if (d.envelope.empty()) {
    out += "Envelope: no differences\n";
  } else {
    out += fmt::format("Envelope: {} difference(s), BASE -> NEW\n", d.envelope.size());
    std::size_t path_width = 0;
    for (const auto& e : d.envelope) path_width = std::max(path_width, e.path.size());
    for (const auto& e : d.envelope) {
      out += fmt::format("  {:<{}}  {} -> {}  ({})\n", e.path, path_width,
                         envelope_value(e.base, 60), envelope_value(e.next, 60), envelope_ranks(e));
    }
  }
  out += '\n';
  out += summary_line(d) + "\n";
  return out;
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    if (c == '\n') {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

std::string render_markdown(const DiffResult& d) {
  std::string out = "# fabricbench diff\n\n";
  out += fmt::format("- **BASE** `{}`: {}\n", d.base.label, md_escape(describe_run(d.base)));
  out += fmt::format("- **NEW** `{}`: {}\n", d.next.label, md_escape(describe_run(d.next)));
  out += fmt::format("- **Test**: {}\n", md_escape(describe_test(d.options)));
  for (const auto& n : d.notes) out += fmt::format("- **Note**: {}\n", md_escape(n));
  out += fmt::format("\n**{}**\n\n", md_escape(summary_line(d)));

  out += "| case | metric | better | BASE | NEW | change | p | reps | verdict | note |\n";
  out += "|---|---|---|---:|---:|---:|---:|---:|---|---|\n";
  for (const auto& r : table_rows(d)) {
    std::string line = "|";
    for (std::size_t c = 0; c < kColumns; ++c) {
      std::string cell = md_escape(r[c]);
      if (c == 0 && !cell.empty()) cell = "`" + cell + "`";
      if (c == 8 && (r[c] == "regressed" || r[c] == "improved")) cell = "**" + cell + "**";
      line += " " + cell + " |";
    }
    out += line + "\n";
  }

  out += "\n## Envelope differences\n\n";
  if (d.envelope.empty()) {
    out += "None.\n";
  } else {
    out += "| path | BASE | NEW | ranks |\n|---|---|---|---|\n";
    for (const auto& e : d.envelope) {
      out += fmt::format("| `{}` | {} | {} | {} |\n", md_escape(e.path),
                         md_escape(envelope_value(e.base, 80)),
                         md_escape(envelope_value(e.next, 80)), envelope_ranks(e));
    }
  }
  return out;
}

double round_significant(double v, int digits) {
  if (v == 0 || !std::isfinite(v)) return v;
  return std::stod(fmt::format("{:.{}g}", v, digits));
}

json run_json(const RunInfo& r) {
  return {{"label", r.label},
          {"run_id", r.run_id},
          {"tool_version", r.tool_version},
          {"tool_revision", r.tool_revision},
          {"status", r.status},
          {"ranks", r.ranks},
          {"cases", r.cases}};
}

json metric_json(const MetricDiff& m) {
  json out = {{"name", m.name},
              {"better", to_string(m.direction)},
              {"verdict", to_string(m.verdict)},
              {"threshold_pct", m.threshold_pct},
              {"base", {{"n", m.base_values.size()}, {"values", m.base_values}}},
              {"new", {{"n", m.new_values.size()}, {"values", m.new_values}}}};
  out["base"]["median"] = m.base_median ? json(*m.base_median) : json(nullptr);
  out["new"]["median"] = m.new_median ? json(*m.new_median) : json(nullptr);
  // Rounded so that the document does not depend on the last bits of floating point.
  out["change_pct"] = (m.change && std::isfinite(*m.change))
                          ? json(std::round(*m.change * 100.0 * 1e4) / 1e4)
                          : json(nullptr);
  if (m.test) {
    out["test"] = {{"method", m.test->exact ? "exact" : "normal"},
                   {"u", m.test->u},
                   {"p_value", round_significant(m.test->p_value, 6)}};
  } else {
    out["test"] = nullptr;
  }
  out["warning"] = m.warning.empty() ? json(nullptr) : json(m.warning);
  return out;
}

std::string xml_escape(const std::string& s) {
  std::string out = detail::escape_chars(
      s, {{'&', "&amp;"}, {'<', "&lt;"}, {'>', "&gt;"}, {'"', "&quot;"}, {'\'', "&apos;"}});
  // Control characters other than tab/newline are not allowed in XML 1.0.
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') c = ' ';
  }
  return out;
}

std::string render_junit(const DiffResult& d) {
  struct TestCase {
    std::string classname;
    std::string name;
    std::string failure;  // message; empty when passing
    std::string failure_text;
    std::string skipped;  // message; empty when not skipped
    std::string out;      // system-out
  };
  std::vector<TestCase> tests;
  for (const auto& cd : d.cases) {
    if (cd.metrics.empty()) {
      TestCase t{cd.id, "case", "", "", "", ""};
      t.skipped = fmt::format("{}: {}", to_string(cd.verdict), cd.note);
      tests.push_back(std::move(t));
      continue;
    }
    for (const auto& m : cd.metrics) {
      TestCase t{cd.id, m.name, "", "", "", ""};
      const std::string detail = fmt::format(
          "BASE median {} ({} repetitions), NEW median {} ({} repetitions), change {}, "
          "p {}, threshold {}, {} is better",
          format_optional(m.base_median), m.base_values.size(), format_optional(m.new_median),
          m.new_values.size(), format_change(m.change), format_p(m), format_pct(m.threshold_pct),
          to_string(m.direction));
      if (m.verdict == Verdict::regressed) {
        t.failure = fmt::format("regressed: {} (p {})", format_change(m.change), format_p(m));
        t.failure_text = detail;
      } else if (m.verdict == Verdict::not_comparable) {
        t.skipped = fmt::format("not_comparable: {}", m.warning);
      } else {
        t.out = fmt::format("{}: {}", to_string(m.verdict), detail);
      }
      if (!m.warning.empty() && m.verdict != Verdict::not_comparable) {
        t.out = joined(t.out, m.warning);
      }
      if (!cd.note.empty()) t.out = joined(t.out, cd.note);
      tests.push_back(std::move(t));
    }
  }
  std::size_t failures = 0;
  std::size_t skipped = 0;
  for (const auto& t : tests) {
    if (!t.failure.empty()) ++failures;
    if (!t.skipped.empty()) ++skipped;
  }

  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(
      "<testsuites name=\"fabricbench diff\" tests=\"{}\" failures=\"{}\" "
      "errors=\"0\" skipped=\"{}\">\n",
      tests.size(), failures, skipped);
  out += fmt::format(
      "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">\n",
      xml_escape(fmt::format("diff {} -> {}", d.base.run_id, d.next.run_id)), tests.size(),
      failures, skipped);
  out += "    <properties>\n";
  auto property = [&](const std::string& name, const std::string& value) {
    out += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", xml_escape(name),
                       xml_escape(value));
  };
  property("base", d.base.label);
  property("base.run", describe_run(d.base));
  property("new", d.next.label);
  property("new.run", describe_run(d.next));
  property("test", describe_test(d.options));
  for (const auto& n : d.notes) property("note", n);
  for (const auto& e : d.envelope) {
    property("envelope." + e.path, fmt::format("{} -> {} ({})", envelope_value(e.base, 200),
                                               envelope_value(e.next, 200), envelope_ranks(e)));
  }
  out += "    </properties>\n";
  for (const auto& t : tests) {
    out += fmt::format("    <testcase classname=\"{}\" name=\"{}\"", xml_escape(t.classname),
                       xml_escape(t.name));
    if (t.failure.empty() && t.skipped.empty() && t.out.empty()) {
      out += "/>\n";
      continue;
    }
    out += ">\n";
    if (!t.failure.empty()) {
      out += fmt::format("      <failure type=\"regressed\" message=\"{}\">{}</failure>\n",
                         xml_escape(t.failure), xml_escape(t.failure_text));
    }
    if (!t.skipped.empty()) {
      out += fmt::format("      <skipped message=\"{}\"/>\n", xml_escape(t.skipped));
    }
    if (!t.out.empty()) {
      out += fmt::format("      <system-out>{}</system-out>\n", xml_escape(t.out));
    }
    out += "    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

}  // namespace

json to_json(const DiffResult& d) {
  const Counts c = d.counts();
  json cases = json::array();
  for (const auto& cd : d.cases) {
    json metrics = json::array();
    for (const auto& m : cd.metrics) metrics.push_back(metric_json(m));
    cases.push_back({{"id", cd.id},
                     {"base_id", cd.base_id.empty() ? json(nullptr) : json(cd.base_id)},
                     {"new_id", cd.new_id.empty() ? json(nullptr) : json(cd.new_id)},
                     {"suite", cd.suite},
                     {"transport", cd.transport},
                     {"verdict", to_string(cd.verdict)},
                     {"note", cd.note.empty() ? json(nullptr) : json(cd.note)},
                     {"metrics", std::move(metrics)}});
  }
  json envelope = json::array();
  for (const auto& e : d.envelope) {
    json item = {{"path", e.path}, {"ranks", e.ranks}, {"all_ranks", e.all_ranks}};
    // A path absent on one side has no "base" / "new" member.
    if (e.base) item["base"] = *e.base;
    if (e.next) item["new"] = *e.next;
    envelope.push_back(std::move(item));
  }
  json thresholds = json::object();
  for (const auto& [name, pct] : d.options.thresholds_pct) thresholds[name] = pct;
  return {{"schema", "fabricbench.diff"},
          {"schema_version", 1},
          {"base", run_json(d.base)},
          {"new", run_json(d.next)},
          {"settings",
           {{"alpha", d.options.alpha},
            {"threshold_pct", d.options.threshold_pct},
            {"thresholds_pct", std::move(thresholds)},
            {"min_repetitions", d.options.min_repetitions},
            {"allow_few", d.options.allow_few},
            {"ignore_params", d.options.ignore_params},
            {"ignore_envelope", d.options.ignore_envelope}}},
          {"notes", d.notes},
          {"cases", std::move(cases)},
          {"envelope", std::move(envelope)},
          {"counts",
           {{"improved", c.improved},
            {"regressed", c.regressed},
            {"unchanged", c.unchanged},
            {"warnings", c.warnings},
            {"metrics_not_comparable", c.metrics_not_comparable},
            {"cases_compared", c.compared},
            {"cases_new", c.added},
            {"cases_missing", c.missing},
            {"cases_not_comparable", c.not_comparable}}},
          {"regression", d.has_regression()}};
}

std::string summary_line(const DiffResult& d) {
  const Counts c = d.counts();
  std::string out = fmt::format("metrics: {} regressed, {} improved, {} unchanged", c.regressed,
                                c.improved, c.unchanged);
  if (c.warnings > 0) out += fmt::format(" ({} with a warning)", c.warnings);
  if (c.metrics_not_comparable > 0) {
    out += fmt::format(", {} not comparable", c.metrics_not_comparable);
  }
  out += fmt::format("; cases: {} compared, {} new, {} missing, {} not comparable", c.compared,
                     c.added, c.missing, c.not_comparable);
  out += fmt::format("; envelope: {} difference(s)", d.envelope.size());
  out += c.regressed > 0 ? " => REGRESSION" : " => no regression";
  return out;
}

std::string render(const DiffResult& d, Format format) {
  switch (format) {
    case Format::table:
      return render_table(d);
    case Format::markdown:
      return render_markdown(d);
    case Format::json:
      return to_json(d).dump(2) + "\n";
    case Format::junit:
      return render_junit(d);
  }
  return {};
}

}  // namespace fabricbench::results::diff
