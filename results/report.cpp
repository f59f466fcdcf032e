// `fabricbench report`: HTML (inline CSS + SVG) and markdown from run documents (docs/REPORT.md).
// The SVG charts: results/report/svg.hpp.
#include "results/report.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/units.hpp"
#include "core/version.hpp"
#include "results/json_read.hpp"

namespace fabricbench::results::report {

using detail::member;
using detail::number_at;
using detail::text_at;
using detail::text_of;
using nlohmann::json;

// ------------------------------------------------------------------------------------------
// Reading the documents
// ------------------------------------------------------------------------------------------

RunDocument read_for_report(const std::string& path) {
  try {
    return read_run_document(path);
  } catch (const core::Error& e) {
    const std::string what = e.what();
    // The reader's messages name the file (run.json inside a directory); keep them as they are.
    if (what.find(path) != std::string::npos) throw core::Error(core::ErrorKind::config, what);
    throw core::Error(core::ErrorKind::config, path + ": " + what);
  } catch (const std::exception& e) {
    throw core::Error(core::ErrorKind::config, path + ": " + e.what());
  }
}

// ------------------------------------------------------------------------------------------
// Report
// ------------------------------------------------------------------------------------------
namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                    "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
constexpr std::size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);
constexpr svg::Marker kMarkers[] = {svg::Marker::circle, svg::Marker::square, svg::Marker::triangle,
                                    svg::Marker::diamond};
constexpr const char* kDashes[] = {"", "6 3", "2 2", "8 3 2 3"};
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Plain numbers for tables: integers above 1000, else 4 significant digits.
std::string format_number(double v) {
  if (!std::isfinite(v)) return "-";
  if (std::abs(v) >= 1000) return fmt::format("{:.0f}", v);
  return fmt::format("{:.4g}", v);
}

std::string format_us(std::optional<double> ns) {
  return ns ? format_number(*ns / 1000.0) : "-";
}

// Three significant digits in the largest unit that keeps the number at least 1: "450ms",
// "1.23s", "28.3Âµs" ("us" written as the micro sign).
std::string format_duration(std::optional<double> ns) {
  if (!ns || !std::isfinite(*ns)) return "-";
  const double a = std::abs(*ns);
  if (a == 0) return "0";
  if (a < 1e3) return fmt::format("{:.3g}ns", *ns);
  if (a < 1e6) return fmt::format("{:.3g}\xC2\xB5s", *ns / 1e3);
  if (a < 1e9) return fmt::format("{:.3g}ms", *ns / 1e6);
  return fmt::format("{:.3g}s", *ns / 1e9);
}

std::string format_bytes_approx(std::optional<double> bytes) {
  if (!bytes) return "-";
  const double b = *bytes;
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.3g} GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt::format("{:.3g} MiB", b / (1024.0 * 1024));
  if (b >= 1024.0) return fmt::format("{:.3g} KiB", b / 1024.0);
  return fmt::format("{:.0f} B", b);
}

// Operations per second with three significant digits: "943/s", "50.7k/s", "1.2M/s".
std::string format_rate(std::optional<double> ops) {
  if (!ops || !std::isfinite(*ops)) return "-";
  if (*ops == 0) return "0/s";
  const double digits = std::floor(std::log10(std::abs(*ops)));
  const double unit = std::pow(10.0, digits - 2);
  return svg::format_tick(std::round(*ops / unit) * unit, svg::TickFormat::number) + "/s";
}

bool has_regime(const CaseResult& c) {
  return std::any_of(c.repetitions.begin(), c.repetitions.end(),
                     [](const Repetition& r) { return r.regime.is_object(); });
}

bool has_fault(const CaseResult& c) {
  return std::any_of(c.repetitions.begin(), c.repetitions.end(),
                     [](const Repetition& r) { return r.fault.is_object(); });
}

bool has_intervals(const CaseResult& c) {
  return std::any_of(c.repetitions.begin(), c.repetitions.end(),
                     [](const Repetition& r) { return !r.intervals.empty(); });
}

std::string regime_kind(const CaseResult& c) {
  for (const auto& r : c.repetitions) {
    if (r.regime.is_object()) return text_at(r.regime, "kind");
  }
  return text_at(member(c.params, "regime"), "kind");
}

std::optional<std::uint64_t> message_size(const CaseResult& c) {
  const json& v = member(c.params, "message_size_bytes");
  if (v.is_number_unsigned() || v.is_number_integer()) {
    const auto s = v.get<std::int64_t>();
    if (s >= 0) return static_cast<std::uint64_t>(s);
  }
  return std::nullopt;
}

// The case's group and transport plus every varied parameter but the message size: one line of
// a size plot.
std::string size_series_key(const CaseResult& c) {
  std::string group = text_at(c.params, "group");
  if (group.empty()) group = c.id.substr(0, c.id.find('.'));
  std::string key = group;
  key += '/';
  key += c.transport;
  const json& varied = member(c.params, "varied");
  if (varied.is_array()) {
    for (const auto& v : varied) {
      const std::string k = text_at(v, "key");
      if (k == "message_size" || k.empty()) continue;
      key += ' ';
      key += k;
      key += '=';
      key += text_at(v, "value");
    }
  }
  return key;
}

stats::Histogram merged_latency(const CaseResult& c) {
  stats::Histogram h;
  for (const auto& r : c.repetitions) h.merge(r.latency);
  return h;
}

// ---- runs, styles, case union ----

struct Context {
  const std::vector<RunDocument>& runs;
  std::vector<std::string> names;  // unique run labels (run ids)
  bool multi() const { return runs.size() > 1; }
  std::string label(std::size_t run, const std::string& what) const {
    if (!multi()) return what;
    if (what.empty()) return names[run];
    std::string out = names[run];
    out += " \xC2\xB7 ";  // middle dot
    out += what;
    return out;
  }
  // Several runs: the run's color, the k-th series of the run gets the k-th marker.
  // One run: the k-th color.
  void style(svg::Series& s, std::size_t run, std::size_t k) const {
    if (multi()) {
      s.color = kPalette[run % kPaletteSize];
      s.marker = kMarkers[k % 4];
    } else {
      s.color = kPalette[k % kPaletteSize];
      s.marker = kMarkers[(k / kPaletteSize) % 4];
    }
  }
  // Lines without markers (time series, CDFs): several runs: the run's color, the k-th line of
  // the run the k-th dash pattern. One run: the k-th color, solid.
  void style_line(svg::Series& s, std::size_t run, std::size_t k) const {
    s.marker = svg::Marker::none;
    if (multi()) {
      s.color = kPalette[run % kPaletteSize];
      s.dash = kDashes[k % 4];
    } else {
      s.color = kPalette[k % kPaletteSize];
      s.dash = kDashes[(k / kPaletteSize) % 4];
    }
  }
};

std::vector<std::string> run_names(const std::vector<RunDocument>& runs) {
  std::vector<std::string> names;
  std::map<std::string, int> seen;
  for (const auto& r : runs) {
    const int n = ++seen[r.run_id];
    names.push_back(n == 1 ? r.run_id : r.run_id + " (" + std::to_string(n) + ")");
  }
  return names;
}

struct CaseRef {
  std::size_t run;
  const CaseResult* c;
};
struct CaseGroup {
  std::string id;
  std::vector<CaseRef> refs;
};

std::vector<CaseGroup> union_cases(const std::vector<RunDocument>& runs) {
  std::vector<CaseGroup> groups;
  std::map<std::string, std::size_t> index;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    for (const auto& c : runs[r].cases) {
      auto [it, inserted] = index.emplace(c.id, groups.size());
      if (inserted) groups.push_back({c.id, {}});
      groups[it->second].refs.push_back({r, &c});
    }
  }
  return groups;
}

// ---- headline figures (HTML case tables and markdown) ----

struct Row {
  std::string id, suite, transport, status, reps, p50_us, p99_us, gbps, notes;
};

std::string regime_notes(const CaseResult& c) {
  const std::string kind = regime_kind(c);
  const json& h = member(member(c.summary, "regime"), "headline_median");
  std::string out = "regime " + kind;
  if (kind == "search") {
    const auto s = number_at(h, "sustainable_rate_ops_per_s");
    out += ": sustainable " + format_rate(s);
    if (const auto g = number_at(h, "sustainable_rate_gbps"))
      out += fmt::format(" ({:.3g} Gb/s)", *g);
    return out;
  }
  std::vector<std::string> parts;
  if (const auto v = number_at(h, "offered_ops_per_s"))
    parts.push_back("offered " + format_rate(v));
  if (const auto v = number_at(h, "goodput_ops_per_s"))
    parts.push_back("goodput " + format_rate(v));
  if (const auto v = number_at(h, "queue_age_p99_ns"))
    parts.push_back("queue-age p99 " + format_duration(v));
  if (kind == "overload") {
    const json& d = member(h, "drain_ns");
    parts.push_back("drain " +
                    (d.is_number() ? format_duration(d.get<double>()) : std::string("never")));
    if (const auto v = number_at(h, "peak_backlog_ops"))
      parts.push_back("peak backlog " + format_number(*v));
  }
  if (const auto v = number_at(h, "deadline_misses"); v && *v > 0) {
    parts.push_back("deadline misses " + format_number(*v));
  }
  if (const auto v = number_at(h, "refused_ops"); v && *v > 0)
    parts.push_back("refused " + format_number(*v));
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? ": " : ", ") + parts[i];
  return out;
}

std::string fault_notes(const CaseResult& c) {
  std::string kind;
  std::map<std::string, int> outcomes;
  for (const auto& r : c.repetitions) {
    if (!r.fault.is_object()) continue;
    if (kind.empty()) kind = text_at(r.fault, "kind");
    ++outcomes[text_at(r.fault, "outcome")];
  }
  std::string out = "fault " + kind + ":";
  for (const auto& [o, n] : outcomes) out += fmt::format(" {} x{}", o.empty() ? "?" : o, n);
  // Medians over repetitions from the summary when present, else from the repetitions.
  const json& metrics = member(member(c.summary, "recovery"), "metrics");
  auto median = [&](const char* key) -> std::optional<double> {
    if (metrics.is_object()) return number_at(member(metrics, key), "median");
    std::vector<double> v;
    for (const auto& r : c.repetitions) {
      if (const auto x = number_at(member(r.fault, "recovery"), key)) v.push_back(*x);
    }
    if (v.empty()) return std::nullopt;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  out += "; stall " + format_duration(median("stall_ns"));
  out += ", ttr90 from clear " + format_duration(median("ttr90_from_clear_ns"));
  out += ", deficit " + format_bytes_approx(median("deficit_bytes"));
  return out;
}

Row case_row(const CaseResult& c) {
  Row row;
  row.id = c.id;
  row.suite = c.suite;
  row.transport = c.transport;
  row.status = to_string(c.status);
  row.reps = std::to_string(c.repetitions.size());
  row.p50_us = format_us(number_at(c.summary, "lat_p50_ns"));
  row.p99_us = format_us(number_at(c.summary, "lat_p99_ns"));
  const auto bw = number_at(c.summary, "bw_gbps_median");
  row.gbps = bw ? fmt::format("{:.4g}", *bw) : "-";
  std::vector<std::string> notes;
  if (c.status == CaseStatus::skipped) notes.push_back("skipped: " + c.skip_reason);
  for (const auto& e : c.errors) {
    notes.push_back("error (rank " + std::to_string(e.rank) + ", " + e.kind + "): " + e.message);
    if (notes.size() >= 3) break;
  }
  if (has_regime(c)) notes.push_back(regime_notes(c));
  if (has_fault(c)) notes.push_back(fault_notes(c));
  for (std::size_t i = 0; i < notes.size(); ++i) {
    if (i > 0) row.notes += "; ";
    row.notes += notes[i];
  }
  return row;
}

// ---- HTML building blocks ----

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

std::string status_span(const std::string& status) {
  return "<span class=\"status status-" + html_escape(status) + "\">" + html_escape(status) +
         "</span>";
}

void kv_row(std::string& out, const std::string& key, const std::string& value_html) {
  out += "<tr><th>" + html_escape(key) + "</th><td>" + value_html + "</td></tr>";
}

std::string wall_time(std::uint64_t ns) {
  if (ns == 0) return "-";
  try {
    return format_rfc3339_ms(ns);
  } catch (const core::Error&) {
    return std::to_string(ns) + " ns";
  }
}

void run_section(std::string& out, const Context& ctx, std::size_t r) {
  const RunDocument& d = ctx.runs[r];
  out += "<h3 id=\"run-" + std::to_string(r) + "\">";
  if (ctx.multi()) {
    out += "<span class=\"swatch\" style=\"background:" + std::string(kPalette[r % kPaletteSize]) +
           "\"></span>";
  }
  out += "Run <code>" + html_escape(d.run_id) + "</code> " + status_span(to_string(d.status)) +
         "</h3>";
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

// The envelope of rank 0 (host, kernel, CPU, NICs, RDMA devices, libraries) as a table.
void envelope_section(std::string& out, const Context& ctx, std::size_t r) {
  const RunDocument& d = ctx.runs[r];
  out += "<h3>Envelope of <code>" + html_escape(ctx.names[r]) + "</code> (rank 0)</h3>";
  const json& ranks = member(d.envelope, "ranks");
  if (!ranks.is_array() || ranks.empty() || !ranks[0].is_object()) {
    out += "<p class=\"note\">no envelope recorded</p>";
    return;
  }
  const json& e = ranks[0];
  out += "<table class=\"kv envelope\" data-run=\"" + html_escape(d.run_id) + "\">";
  kv_row(out, "host", html_escape(text_at(e, "hostname")));
  std::set<std::string> hosts;
  for (const auto& rank : ranks) hosts.insert(text_at(rank, "hostname"));
  if (ranks.size() > 1) {
    std::string all;
    for (const auto& h : hosts) all += (all.empty() ? "" : ", ") + h;
    kv_row(out, "hosts of all ranks",
           html_escape(fmt::format("{} rank(s): {}", ranks.size(), all)));
  }
  kv_row(out, "OS", html_escape(text_at(e, "os_release")));
  const json& kernel = member(e, "kernel");
  kv_row(out, "kernel",
         html_escape(text_at(kernel, "release") + " " + text_at(kernel, "machine") + " " +
                     text_at(kernel, "version")));
  if (!text_at(kernel, "cmdline").empty())
    kv_row(out, "kernel cmdline", "<code>" + html_escape(text_at(kernel, "cmdline")) + "</code>");
  const json& cpu = member(e, "cpu");
  std::string cpu_text = text_at(cpu, "model");
  if (const auto n = number_at(cpu, "cores_online"))
    cpu_text += fmt::format(", {:.0f} cores online", *n);
  if (const auto n = number_at(cpu, "sockets")) cpu_text += fmt::format(", {:.0f} socket(s)", *n);
  if (!text_at(cpu, "governor").empty()) cpu_text += ", governor " + text_at(cpu, "governor");
  if (const auto f = number_at(member(cpu, "frequency_khz"), "max"))
    cpu_text += fmt::format(", max {:.0f} MHz", *f / 1000);
  kv_row(out, "CPU", html_escape(cpu_text));
  const json& placement = member(e, "placement");
  if (placement.is_object()) {
    kv_row(out, "placement",
           html_escape("cpu " + text_at(placement, "cpu") + ", NUMA node " +
                       text_at(placement, "numa_node") + ", affinity " +
                       text_at(placement, "affinity")));
  }
  const json& memory = member(e, "memory");
  if (memory.is_object()) {
    std::string m = format_bytes_approx(number_at(memory, "total_bytes"));
    if (!text_at(memory, "thp_enabled").empty()) m += ", THP " + text_at(memory, "thp_enabled");
    kv_row(out, "memory", html_escape(m));
  }
  const json& nics = member(e, "nics");
  std::string nic_html;
  if (nics.is_array()) {
    for (const auto& n : nics) {
      std::string line = text_at(n, "name");
      if (!text_at(n, "driver").empty()) line += " (" + text_at(n, "driver") + ")";
      if (!text_at(n, "mtu").empty()) line += ", MTU " + text_at(n, "mtu");
      if (const auto s = number_at(n, "speed_mbps")) line += fmt::format(", {:.0f} Mb/s", *s);
      if (!text_at(n, "operstate").empty()) line += ", " + text_at(n, "operstate");
      const json& addrs = member(n, "addresses");
      if (addrs.is_array() && !addrs.empty()) {
        line += ",";
        for (const auto& a : addrs) line += " " + text_of(a);
      }
      nic_html += "<div>" + html_escape(line) + "</div>";
    }
  }
  kv_row(out, "NICs", nic_html.empty() ? "-" : nic_html);
  const json& rdma = member(e, "rdma_devices");
  std::string rdma_html;
  if (member(rdma, "available").is_boolean() && member(rdma, "available").get<bool>()) {
    for (const auto& dev : member(rdma, "devices")) {
      std::string line = text_at(dev, "name");
      if (!text_at(dev, "fw_ver").empty()) line += ", fw " + text_at(dev, "fw_ver");
      if (!text_at(dev, "node_guid").empty()) line += ", GUID " + text_at(dev, "node_guid");
      for (const auto& p : member(dev, "ports")) {
        line += "; port " + text_at(p, "port") + " " + text_at(p, "state") + " " +
                text_at(p, "link_layer");
        if (!text_at(p, "active_mtu").empty()) line += " MTU " + text_at(p, "active_mtu");
      }
      rdma_html += "<div>" + html_escape(line) + "</div>";
    }
    if (rdma_html.empty()) rdma_html = "none";
  } else if (rdma.is_object()) {
    rdma_html = "unavailable: " + html_escape(text_at(rdma, "reason"));
  }
  kv_row(out, "RDMA devices", rdma_html.empty() ? "-" : rdma_html);
  const json& gpus = member(e, "gpus");
  if (gpus.is_object()) {
    std::string g;
    if (member(gpus, "available").is_boolean() && member(gpus, "available").get<bool>()) {
      g = "driver " + text_at(gpus, "driver_version");
      for (const auto& dev : member(gpus, "devices"))
        g += "; " + text_at(dev, "model") + " " + text_at(dev, "bus_id");
    } else {
      g = "unavailable: " + text_at(gpus, "reason");
    }
    kv_row(out, "GPUs", html_escape(g));
  }
  const json& libs = member(e, "libraries");
  std::string lib_html;
  if (libs.is_object()) {
    for (const auto& [name, version] : libs.items()) {
      lib_html += "<div><code>" + html_escape(name) + "</code> " +
                  html_escape(version.is_null() ? std::string("(not found)") : text_of(version)) +
                  "</div>";
    }
  }
  kv_row(out, "libraries", lib_html.empty() ? "-" : lib_html);
  out += "</table>";
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

// ---- size plots ----

std::string size_plots(const Context& ctx) {
  std::string out;
  svg::Plot bw;
  bw.id = "plot-bw-size";
  bw.title = "Bandwidth vs message size (stream, median over repetitions)";
  bw.x = {"message size", true, 2, svg::TickFormat::bytes, {}, {}, false};
  bw.y = {"bandwidth (Gb/s)", false, 10, svg::TickFormat::number, {}, {}, true};
  svg::Plot lat;
  lat.id = "plot-lat-size";
  lat.title = "Latency vs message size (pingpong, p50 solid, p99 dashed)";
  lat.x = {"message size", true, 2, svg::TickFormat::bytes, {}, {}, false};
  lat.y = {"one-way latency (\xC2\xB5s)", true, 10, svg::TickFormat::number, {}, {}, false};

  for (std::size_t r = 0; r < ctx.runs.size(); ++r) {
    std::map<std::string, std::vector<svg::Point>> bw_lines, p50_lines, p99_lines;
    std::vector<std::string> bw_order, lat_order;
    for (const auto& c : ctx.runs[r].cases) {
      if (c.status != CaseStatus::ok || has_regime(c) || has_fault(c)) continue;
      const auto size = message_size(c);
      if (!size || *size == 0) continue;
      const std::string key = size_series_key(c);
      const auto x = static_cast<double>(*size);
      const std::string tip_head = c.id + "\n" + core::format_size(*size);
      if (c.suite == "stream") {
        const auto med = number_at(c.summary, "bw_gbps_median");
        if (!med) continue;
        if (!bw_lines.contains(key)) bw_order.push_back(key);
        svg::Point p{x, *med, number_at(c.summary, "bw_gbps_min"),
                     number_at(c.summary, "bw_gbps_max"),
                     tip_head + fmt::format(": {:.4g} Gb/s", *med)};
        bw_lines[key].push_back(std::move(p));
      } else if (c.suite == "pingpong") {
        const auto p50 = number_at(c.summary, "lat_p50_ns");
        const auto p99 = number_at(c.summary, "lat_p99_ns");
        if (!p50 && !p99) continue;
        if (!p50_lines.contains(key)) lat_order.push_back(key);
        p50_lines[key].push_back({x,
                                  p50 ? *p50 / 1000 : kNaN,
                                  {},
                                  {},
                                  tip_head + ": p50 " + format_us(p50) + " \xC2\xB5s"});
        p99_lines[key].push_back({x,
                                  p99 ? *p99 / 1000 : kNaN,
                                  {},
                                  {},
                                  tip_head + ": p99 " + format_us(p99) + " \xC2\xB5s"});
      }
    }
    auto by_x = [](const svg::Point& a, const svg::Point& b) { return a.x < b.x; };
    for (std::size_t k = 0; k < bw_order.size(); ++k) {
      svg::Series s;
      s.label = ctx.label(r, bw_order[k]);
      ctx.style(s, r, k);
      s.points = std::move(bw_lines[bw_order[k]]);
      std::stable_sort(s.points.begin(), s.points.end(), by_x);
      bw.series.push_back(std::move(s));
    }
    for (std::size_t k = 0; k < lat_order.size(); ++k) {
      svg::Series s50;
      s50.label = ctx.label(r, lat_order[k] + " p50");
      ctx.style(s50, r, k);
      s50.points = std::move(p50_lines[lat_order[k]]);
      std::stable_sort(s50.points.begin(), s50.points.end(), by_x);
      svg::Series s99 = s50;
      s99.label = ctx.label(r, lat_order[k] + " p99");
      s99.dash = "6 3";
      s99.filled = false;
      s99.points = std::move(p99_lines[lat_order[k]]);
      std::stable_sort(s99.points.begin(), s99.points.end(), by_x);
      lat.series.push_back(std::move(s50));
      lat.series.push_back(std::move(s99));
    }
  }
  out += "<h2 id=\"bandwidth\">Bandwidth vs message size</h2>";
  if (bw.series.empty()) {
    out += "<p class=\"note\">No closed-loop stream case with a bandwidth.</p>";
  } else {
    out += figure(bw, "",
                  "Median <code>bw_gbps</code> over the repetitions (10<sup>9</sup> bit/s); the "
                  "bars span the repetitions' minimum and maximum. One line per case group, "
                  "transport and varied parameter.");
  }
  out += "<h2 id=\"latency\">Latency vs message size</h2>";
  if (lat.series.empty()) {
    out += "<p class=\"note\">No closed-loop pingpong case with latencies.</p>";
  } else {
    out += figure(lat, "",
                  "p50 and p99 of the latency histogram merged over the repetitions; pingpong "
                  "latency is one-way (RTT/2) except for read and atomics.");
  }
  return out;
}

// ---- CDFs ----

std::string cdf_plots(const Context& ctx, const std::vector<CaseGroup>& groups) {
  std::string out = "<h2 id=\"cdf\">Latency distributions</h2><div class=\"figs\">";
  int shown = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    svg::Plot plot;
    plot.id = "plot-cdf-" + std::to_string(g);
    plot.title = "Latency CDF: " + groups[g].id;
    plot.x = {"latency (\xC2\xB5s)", true, 10, svg::TickFormat::number, {}, {}, false};
    plot.y = {
        "fraction of samples \xE2\x89\xA4 x", false, 10, svg::TickFormat::number, 0.0, 1.0, false};
    plot.height = 300;
    plot.width = 570;
    std::string caption;
    std::map<std::size_t, std::size_t> per_run;
    for (const auto& ref : groups[g].refs) {
      const stats::Histogram h = merged_latency(*ref.c);
      if (h.count() == 0) continue;
      svg::Series s;
      s.label = ctx.label(ref.run, fmt::format("{} samples", h.count()));
      ctx.style_line(s, ref.run, per_run[ref.run]++);
      const double total = static_cast<double>(h.count());
      std::uint64_t cum = 0;
      // A step per bucket: flat between buckets, rising across each bucket's value range
      // (clamped to the exact min and max). 0 ns has no place on the log axis: drawn at 1 ns.
      auto at = [&](std::uint64_t v) {
        const std::uint64_t clamped = std::min(std::max(v, h.min()), h.max());
        return static_cast<double>(std::max<std::uint64_t>(clamped, 1)) / 1000;
      };
      for (const auto& b : h.bins()) {
        s.points.push_back({at(b.lowest), static_cast<double>(cum) / total, {}, {}, ""});
        cum += b.count;
        s.points.push_back({at(b.highest), static_cast<double>(cum) / total, {}, {}, ""});
      }
      const auto sm = stats::summarize(h);
      caption += "<div>" + html_escape(ctx.label(ref.run, "")) + (ctx.multi() ? ": " : "") +
                 html_escape(fmt::format("p50 {} \xC2\xB5s, p99 {} \xC2\xB5s, p99.9 {} \xC2\xB5s, "
                                         "max {} \xC2\xB5s, {} samples",
                                         format_us(static_cast<double>(sm.p50)),
                                         format_us(static_cast<double>(sm.p99)),
                                         format_us(static_cast<double>(sm.p999)),
                                         format_us(static_cast<double>(sm.max)), sm.count)) +
                 "</div>";
      plot.series.push_back(std::move(s));
    }
    if (plot.series.empty()) continue;
    plot.hlines.push_back({0.5, "", "#999999", "2 3"});
    plot.hlines.push_back({0.99, "", "#999999", "2 3"});
    const bool regime = has_regime(*groups[g].refs.front().c);
    caption += regime ? "<div>Regime latency: from the intended issue time to the confirmation "
                        "(whole round trips, not halved).</div>"
                      : "";
    caption +=
        "<div>Histogram merged over the repetitions; each step is a histogram bucket "
        "(values within 0.39%). Dotted lines: p50 and p99.</div>";
    out += figure(plot, groups[g].id, caption);
    ++shown;
  }
  out += "</div>";
  if (shown == 0) out += "<p class=\"note\">No case recorded latency samples.</p>";
  return out;
}

// ---- interval time series ----

double bin_mid_s(std::uint64_t start_ns, std::uint64_t length_ns) {
  return (static_cast<double>(start_ns) + static_cast<double>(length_ns) / 2) / 1e9;
}

std::string interval_plots(const Context& ctx, const std::vector<CaseGroup>& groups) {
  std::string out = "<h2 id=\"intervals\">Interval series (duration mode)</h2>";
  int shown = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const CaseGroup& group = groups[g];
    bool any = false;
    for (const auto& ref : group.refs) {
      any = any || (has_intervals(*ref.c) && !has_fault(*ref.c));
    }
    if (!any) continue;
    const bool stream = group.refs.front().c->suite == "stream";
    svg::Plot tput;
    tput.id = "plot-intervals-tput-" + std::to_string(g);
    tput.title = (stream ? "Throughput per bin: " : "Operations per bin: ") + group.id;
    tput.x = {"time since the start of the measured phase (s)",
              false,
              10,
              svg::TickFormat::number,
              {},
              {},
              true};
    tput.y = {stream ? "throughput (Gb/s)" : "operations/s",
              false,
              10,
              svg::TickFormat::number,
              {},
              {},
              true};
    tput.height = 300;
    tput.width = 570;
    svg::Plot lat;
    lat.id = "plot-intervals-lat-" + std::to_string(g);
    lat.title = "Latency p99 per bin: " + group.id;
    lat.x = tput.x;
    lat.y = {"latency p99 (\xC2\xB5s)", true, 10, svg::TickFormat::number, {}, {}, false};
    lat.height = 300;
    lat.width = 570;
    bool any_latency = false;
    std::map<std::size_t, std::size_t> per_run;
    for (const auto& ref : group.refs) {
      if (has_fault(*ref.c)) continue;
      for (const auto& rep : ref.c->repetitions) {
        if (rep.intervals.empty()) continue;
        svg::Series s;
        s.label = ctx.label(ref.run, "rep " + std::to_string(rep.index));
        ctx.style_line(s, ref.run, per_run[ref.run]++);
        svg::Series l = s;
        for (const auto& p : rep.intervals) {
          if (p.length_ns == 0) continue;
          const double x = bin_mid_s(p.start_ns, p.length_ns);
          const double len = static_cast<double>(p.length_ns);
          const double y = stream ? static_cast<double>(p.bytes) * 8 / len
                                  : static_cast<double>(p.ops) * 1e9 / len;
          s.points.push_back({x, y, {}, {}, ""});
          if (p.lat_p99_ns) any_latency = true;
          l.points.push_back(
              {x, p.lat_p99_ns ? static_cast<double>(*p.lat_p99_ns) / 1000 : kNaN, {}, {}, ""});
        }
        if (s.points.size() == 1) s.marker = svg::Marker::circle;
        if (l.points.size() == 1) l.marker = svg::Marker::circle;
        tput.series.push_back(std::move(s));
        lat.series.push_back(std::move(l));
      }
    }
    out += "<div class=\"figs\">";
    out += figure(tput, group.id,
                  stream ? "Payload bytes per bin &times; 8 / bin length, plotted at the bin's "
                           "middle; idle bins are zeros, not gaps."
                         : "Operations per bin / bin length, plotted at the bin's middle.");
    if (any_latency) {
      out += figure(lat, group.id,
                    "p99 of the latency samples in each bin (gaps: bins without samples).");
    }
    out += "</div>";
    ++shown;
  }
  if (shown == 0) out += "<p class=\"note\">No duration-mode case with an interval series.</p>";
  return out;
}

// ---- recovery curves ----

std::string recovery_plots(const Context& ctx, const std::vector<CaseGroup>& groups) {
  std::string out = "<h2 id=\"recovery\">Recovery curves</h2>";
  int shown = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const CaseGroup& group = groups[g];
    bool any = false;
    for (const auto& ref : group.refs) any = any || has_fault(*ref.c);
    if (!any) continue;
    svg::Plot plot;
    plot.id = "plot-recovery-" + std::to_string(g);
    plot.title = "Recovery: " + group.id;
    plot.x = {"time since the start of the measured phase (s)",
              false,
              10,
              svg::TickFormat::number,
              {},
              {},
              true};
    plot.y = {"throughput per bin (Gb/s)", false, 10, svg::TickFormat::number, {}, {}, true};
    std::string table =
        "<table "
        "class=\"recovery\"><thead><tr><th>run</th><th>rep</th><th>fault</th><th>outcome</th>"
        "<th>window</th><th>baseline</th><th>stall</th><th>first byte after clear</th>"
        "<th>ttr90 / ttr99 from clear</th><th>ttr90 / ttr99 from start</th><th>deficit</th>"
        "<th>detect (link / error)</th></tr></thead><tbody>";
    std::map<std::size_t, std::size_t> per_run;
    for (const auto& ref : group.refs) {
      bool first_band = true;
      bool first_base = true;
      for (const auto& rep : ref.c->repetitions) {
        if (!rep.fault.is_object()) continue;
        const json& f = rep.fault;
        const json& rec = member(f, "recovery");
        svg::Series s;
        s.label = ctx.label(ref.run, "rep " + std::to_string(rep.index));
        ctx.style_line(s, ref.run, per_run[ref.run]++);
        for (const auto& p : rep.intervals) {
          if (p.length_ns == 0) continue;
          s.points.push_back({bin_mid_s(p.start_ns, p.length_ns),
                              static_cast<double>(p.bytes) * 8 / static_cast<double>(p.length_ns),
                              {},
                              {},
                              ""});
        }
        // A regime's curve: its measured phase's bins (bytes confirmed per bin).
        const json& bins = member(member(rep.regime, "phase"), "intervals");
        for (std::size_t i = 0; rep.intervals.empty() && bins.is_array() && i < bins.size(); ++i) {
          const auto b0 = number_at(bins[i], "start_ns");
          const auto len = number_at(bins[i], "length_ns");
          const auto bytes = number_at(bins[i], "completed_bytes");
          if (!b0 || !len || !bytes || *len <= 0) continue;
          s.points.push_back(
              {bin_mid_s(static_cast<std::uint64_t>(*b0), static_cast<std::uint64_t>(*len)),
               *bytes * 8 / *len,
               {},
               {},
               ""});
        }
        const auto start = number_at(f, "start_ns");
        const auto clear = number_at(f, "clear_ns");
        if (start && clear) {
          svg::Band b;
          b.x0 = *start / 1e9;
          b.x1 = std::max(*clear, *start) / 1e9;
          b.label = first_band ? ctx.label(ref.run, "fault window " + text_at(f, "kind")) : "";
          b.css_class = "band fault-window";
          b.color = ctx.multi() ? kPalette[ref.run % kPaletteSize] : "#d62728";
          plot.bands.push_back(std::move(b));
          first_band = false;
        }
        if (const auto base = number_at(rec, "baseline_gbps")) {
          plot.hlines.push_back(
              {*base, first_base ? ctx.label(ref.run, "baseline") : "", s.color, "6 3"});
          first_base = false;
        }
        const std::string window =
            start && clear ? format_duration(start) + " \xE2\x80\x93 " + format_duration(clear)
                           : "not injected";
        const auto base = number_at(rec, "baseline_gbps");
        table += "<tr><td>" + html_escape(ctx.names[ref.run]) + "</td><td class=\"num\">" +
                 std::to_string(rep.index) + "</td><td>" +
                 html_escape(text_at(f, "kind") + " (" + text_at(f, "backend") + ")") +
                 "</td><td>" + html_escape(text_at(f, "outcome")) +
                 (text_at(f, "error").empty() ? "" : "<br>" + html_escape(text_at(f, "error"))) +
                 "</td><td>" + html_escape(window) + "</td><td>" +
                 html_escape(base ? fmt::format("{:.4g} Gb/s", *base) : "-") + "</td><td>" +
                 html_escape(format_duration(number_at(rec, "stall_ns"))) + "</td><td>" +
                 html_escape(format_duration(number_at(rec, "first_byte_after_clear_ns"))) +
                 "</td><td>" +
                 html_escape(format_duration(number_at(rec, "ttr90_from_clear_ns")) + " / " +
                             format_duration(number_at(rec, "ttr99_from_clear_ns"))) +
                 "</td><td>" +
                 html_escape(format_duration(number_at(rec, "ttr90_from_start_ns")) + " / " +
                             format_duration(number_at(rec, "ttr99_from_start_ns"))) +
                 "</td><td>" + html_escape(format_bytes_approx(number_at(rec, "deficit_bytes"))) +
                 "</td><td>" +
                 html_escape(format_duration(number_at(rec, "detect_link_ns")) + " / " +
                             format_duration(number_at(rec, "detect_error_ns"))) +
                 "</td></tr>";
        plot.series.push_back(std::move(s));
      }
    }
    table += "</tbody></table>";
    out += figure(plot, group.id,
                  "Payload bytes per bin &times; 8 / bin length. Shaded: the fault window from the "
                  "first inject to the last clear; dashed: the baseline (median bytes per bin "
                  "before the fault). Metrics per repetition (METHODOLOGY.md \"Faults and "
                  "recovery\"; '-': never within the run):" +
                      table);
    ++shown;
  }
  if (shown == 0) out += "<p class=\"note\">No case with a fault.</p>";
  return out;
}

// ---- regimes ----

std::string load_key(const CaseResult& c) {
  const auto size = message_size(c);
  std::string key = c.suite;
  key += " over ";
  key += c.transport;
  key += ", ";
  key += size ? core::format_size(*size) : std::string("?");
  return key;
}

std::string regime_plots(const Context& ctx, const std::vector<CaseGroup>& groups) {
  std::string out = "<h2 id=\"regimes\">Regimes</h2>";
  // Latency vs offered load, one plot per workload (suite, transport, size, mix).
  std::vector<std::string> order;
  std::map<std::string, std::vector<CaseRef>> by_workload;
  for (const auto& group : groups) {
    for (const auto& ref : group.refs) {
      if (!has_regime(*ref.c)) continue;
      const std::string key = load_key(*ref.c);
      if (!by_workload.contains(key)) order.push_back(key);
      by_workload[key].push_back(ref);
    }
  }
  if (order.empty()) {
    out += "<p class=\"note\">No case ran a floor, realistic, overload or search regime.</p>";
    return out;
  }
  out += "<h3>Latency vs offered load</h3>";
  for (std::size_t w = 0; w < order.size(); ++w) {
    svg::Plot plot;
    plot.id = "plot-load-" + std::to_string(w);
    plot.title = "Latency vs offered load: " + order[w];
    plot.x = {
        "offered rate per pair (operations/s)", false, 10, svg::TickFormat::number, {}, {}, true};
    plot.y = {"latency / queue age (\xC2\xB5s)", true, 10, svg::TickFormat::number, {}, {}, false};
    plot.height = 360;
    std::string caption;
    for (std::size_t r = 0; r < ctx.runs.size(); ++r) {
      std::vector<svg::Point> p50, p99, pass, fail;
      std::set<std::string> searches;
      std::set<double> bounds;
      for (const auto& ref : by_workload[order[w]]) {
        if (ref.run != r) continue;
        const CaseResult& c = *ref.c;
        for (const auto& rep : c.repetitions) {
          const json& rg = rep.regime;
          if (!rg.is_object()) continue;
          const std::string kind = text_at(rg, "kind");
          const json& h = member(rg, "headline");
          const std::string what = c.id + " rep " + std::to_string(rep.index);
          if (kind == "floor" || kind == "realistic") {
            const double x =
                kind == "floor" ? 0.0 : number_at(member(rg, "rate"), "ops_per_s").value_or(kNaN);
            if (!std::isfinite(x)) continue;
            const auto a = number_at(h, "lat_p50_ns");
            const auto b = number_at(h, "lat_p99_ns");
            const std::string at =
                kind == "floor" ? " (floor: zero load)" : " at " + format_rate(x);
            p50.push_back({x,
                           a ? *a / 1000 : kNaN,
                           {},
                           {},
                           what + at + ": p50 " + format_us(a) + " \xC2\xB5s"});
            p99.push_back({x,
                           b ? *b / 1000 : kNaN,
                           {},
                           {},
                           what + at + ": p99 " + format_us(b) + " \xC2\xB5s"});
          }
          const json& search = member(rg, "search");
          if (search.is_object()) {
            const std::string found_by = text_at(search, "found_by");
            if (!searches.insert(found_by).second) continue;
            if (const auto bound = number_at(search, "queue_age_bound_ns")) bounds.insert(*bound);
            const auto rate = number_at(search, "sustainable_rate_ops_per_s");
            caption +=
                "<div>" + html_escape(ctx.label(r, "search by " + found_by)) + ": " +
                html_escape(fmt::format(
                    "sustainable {} ({}), {} probe(s), {}", format_rate(rate),
                    member(search, "converged").is_boolean() &&
                            member(search, "converged").get<bool>()
                        ? "converged"
                        : "not converged",
                    member(search, "probes").is_array() ? member(search, "probes").size() : 0,
                    "queue-age bound " +
                        format_duration(number_at(search, "queue_age_bound_ns")))) +
                "</div>";
            for (const auto& probe : member(search, "probes")) {
              const auto x = number_at(probe, "rate_ops_per_s");
              const auto y = number_at(probe, "age_p99_ns");
              if (!x || !y) continue;
              const bool ok = member(probe, "sustainable").is_boolean() &&
                              member(probe, "sustainable").get<bool>();
              (ok ? pass : fail)
                  .push_back(
                      {*x,
                       std::max(*y, 1.0) / 1000,
                       {},
                       {},
                       fmt::format("probe at {}: {}", format_rate(x), text_at(probe, "reason"))});
            }
          }
        }
      }
      auto by_x = [](const svg::Point& a, const svg::Point& b) { return a.x < b.x; };
      std::stable_sort(p50.begin(), p50.end(), by_x);
      std::stable_sort(p99.begin(), p99.end(), by_x);
      if (!p50.empty()) {
        svg::Series s;
        s.label = ctx.label(r, "latency p50");
        ctx.style(s, r, 0);
        s.points = std::move(p50);
        plot.series.push_back(std::move(s));
        svg::Series s99;
        s99.label = ctx.label(r, "latency p99");
        ctx.style(s99, r, 1);
        s99.dash = "6 3";
        s99.points = std::move(p99);
        plot.series.push_back(std::move(s99));
      }
      if (!pass.empty()) {
        svg::Series s;
        s.label = ctx.label(r, "probe queue-age p99: sustainable");
        ctx.style(s, r, 2);
        s.line = false;
        s.marker = svg::Marker::circle;
        s.css_class = "probe-pass";
        s.points = std::move(pass);
        plot.series.push_back(std::move(s));
      }
      if (!fail.empty()) {
        svg::Series s;
        s.label = ctx.label(r, "probe queue-age p99: not sustainable");
        ctx.style(s, r, 3);
        s.line = false;
        s.marker = svg::Marker::cross;
        s.css_class = "probe-fail";
        s.points = std::move(fail);
        plot.series.push_back(std::move(s));
      }
      for (const double b : bounds) {
        plot.hlines.push_back({b / 1000, ctx.label(r, "queue-age bound " + format_duration(b)),
                               ctx.multi() ? kPalette[r % kPaletteSize] : "#999999", "2 3"});
      }
    }
    caption +=
        "<div>Latency from the intended issue time to the confirmation (not halved). Floor at "
        "offered rate 0 (one operation in flight), realistic cases at their offered rate. "
        "Search probes: queue-age p99 at the probed rate, filled circles sustainable, crosses "
        "not (hover for the reason).</div>";
    out += figure(plot, "", caption);
  }

  // Per-bin series of each regime case with a measured phase.
  out += "<h3>Regime interval series</h3>";
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const CaseGroup& group = groups[g];
    bool any = false;
    for (const auto& ref : group.refs) {
      for (const auto& rep : ref.c->repetitions) {
        any = any || member(member(rep.regime, "phase"), "intervals").is_array();
      }
    }
    if (!any) continue;
    svg::Plot rate;
    rate.id = "plot-regime-rate-" + std::to_string(g);
    rate.title = "Operations per bin: " + group.id;
    rate.x = {"time since the start of the measured phase (s)",
              false,
              10,
              svg::TickFormat::number,
              {},
              {},
              true};
    rate.y = {"operations/s", false, 10, svg::TickFormat::number, {}, {}, true};
    rate.height = 300;
    rate.width = 570;
    svg::Plot lat;
    lat.id = "plot-regime-lat-" + std::to_string(g);
    lat.title = "Latency and queue age per bin: " + group.id;
    lat.x = rate.x;
    lat.y = {"\xC2\xB5s", true, 10, svg::TickFormat::number, {}, {}, false};
    lat.height = 300;
    lat.width = 570;
    std::size_t k = 0;
    std::string caption;
    for (const auto& ref : group.refs) {
      for (const auto& rep : ref.c->repetitions) {
        const json& phase = member(rep.regime, "phase");
        const json& bins = member(phase, "intervals");
        if (!bins.is_array()) continue;
        const std::string tag = ctx.runs.size() > 1 || ref.c->repetitions.size() > 1
                                    ? ctx.label(ref.run, "rep " + std::to_string(rep.index)) + " "
                                    : "";
        svg::Series offered, completed, refused, p99, age;
        offered.label = tag + "offered";
        completed.label = tag + "completed";
        refused.label = tag + "refused";
        p99.label = tag + "latency p99";
        age.label = tag + "queue-age p99";
        ctx.style(offered, ref.run, k);
        ctx.style(completed, ref.run, k + 1);
        ctx.style(refused, ref.run, k + 2);
        ctx.style(p99, ref.run, k);
        ctx.style(age, ref.run, k + 1);
        k += 3;
        for (svg::Series* s : {&offered, &completed, &refused, &p99, &age})
          s->marker = svg::Marker::none;
        completed.dash = "6 3";
        refused.dash = "2 2";
        age.dash = "6 3";
        bool any_refused = false;
        for (const auto& b : bins) {
          const auto start = number_at(b, "start_ns");
          const auto len = number_at(b, "length_ns");
          if (!start || !len || *len <= 0) continue;
          const double x = (*start + *len / 2) / 1e9;
          auto per_s = [&](const char* key) { return number_at(b, key).value_or(0) * 1e9 / *len; };
          offered.points.push_back({x, per_s("offered_ops"), {}, {}, ""});
          completed.points.push_back({x, per_s("completed_ops"), {}, {}, ""});
          const double ref_ops = per_s("refused_ops");
          any_refused = any_refused || ref_ops > 0;
          refused.points.push_back({x, ref_ops, {}, {}, ""});
          const auto lp = number_at(b, "lat_p99_ns");
          const auto ap = number_at(b, "age_p99_ns");
          p99.points.push_back({x, lp ? *lp / 1000 : kNaN, {}, {}, ""});
          age.points.push_back({x, ap ? std::max(*ap, 1.0) / 1000 : kNaN, {}, {}, ""});
        }
        rate.series.push_back(std::move(offered));
        rate.series.push_back(std::move(completed));
        if (any_refused) rate.series.push_back(std::move(refused));
        lat.series.push_back(std::move(p99));
        lat.series.push_back(std::move(age));
        const json& ov = member(rep.regime, "overload");
        if (ov.is_object()) {
          const auto before = number_at(ov, "before_ns");
          const auto during = number_at(ov, "during_ns");
          if (before && during) {
            svg::Band b;
            b.x0 = *before / 1e9;
            b.x1 = (*before + *during) / 1e9;
            b.label = ctx.label(ref.run,
                                fmt::format("overload x{:g}", number_at(ov, "factor").value_or(0)));
            b.css_class = "band overload-window";
            b.color = "#ff7f0e";
            rate.bands.push_back(b);
            lat.bands.push_back(b);
          }
          caption +=
              "<div>" + html_escape(ctx.label(ref.run, "rep " + std::to_string(rep.index))) + ": " +
              html_escape(fmt::format(
                  "drain {}, peak backlog {}, peak queue age {}, goodput during {}, "
                  "recovery {} (excess {})",
                  member(ov, "drain_ns").is_number() ? format_duration(number_at(ov, "drain_ns"))
                                                     : "never",
                  format_number(number_at(ov, "peak_backlog_ops").value_or(kNaN)),
                  format_duration(number_at(ov, "peak_age_ns")),
                  format_rate(number_at(ov, "goodput_during_ops_per_s")),
                  format_rate(number_at(ov, "recovery_ops_per_s")),
                  format_rate(number_at(ov, "recovery_excess_ops_per_s")))) +
              "</div>";
        }
        if (const auto deadline = number_at(rep.regime, "deadline_ns")) {
          lat.hlines.push_back(
              {*deadline / 1000, ctx.label(ref.run, "deadline"), "#d62728", "2 3"});
        }
        const auto length = number_at(phase, "length_ns");
        if (length) {
          caption += "<div>" + html_escape(ctx.label(ref.run, "rep " + std::to_string(rep.index))) +
                     ": " +
                     html_escape(fmt::format(
                         "{} regime, arrivals stop at {}; bins after that hold the drain.",
                         text_at(rep.regime, "kind"), format_duration(length))) +
                     "</div>";
        }
      }
    }
    out += "<div class=\"figs\">";
    out += figure(rate, group.id, caption);
    out += figure(lat, group.id,
                  "Latency p99 of the confirmations in each bin; queue-age p99: the age of the "
                  "oldest unconfirmed operation, sampled every sample_interval.");
    out += "</div>";
  }
  return out;
}

}  // namespace

std::string render_html(const std::vector<RunDocument>& runs, const Options& options) {
  const Context ctx{runs, run_names(runs)};
  const auto groups = union_cases(runs);
  const std::string title = options.title.empty() ? "fabricbench report" : options.title;
  std::string out;
  out.reserve(1 << 16);
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
  for (std::size_t r = 0; r < runs.size(); ++r) {
    if (r > 0) ids += ", ";
    ids += "<code>" + html_escape(ctx.names[r]) + "</code>";
  }
  out += fmt::format(
      "{} run(s): {}; {} distinct case(s). Written by fabricbench {}; "
      "self-contained (no scripts, no external resources).",
      runs.size(), ids, groups.size(), html_escape(core::kVersion));
  out +=
      "</p>\n<nav><ul><li><a href=\"#runs\">Runs</a></li><li><a href=\"#envelope\">Envelope</a>"
      "</li><li><a href=\"#bandwidth\">Bandwidth</a></li><li><a href=\"#latency\">Latency</a></li>"
      "<li><a href=\"#cdf\">Distributions</a></li><li><a href=\"#intervals\">Intervals</a></li>"
      "<li><a href=\"#recovery\">Recovery</a></li><li><a href=\"#regimes\">Regimes</a></li>"
      "</ul></nav>\n";
  out += "<section>\n<h2 id=\"runs\">Runs</h2>\n";
  for (std::size_t r = 0; r < runs.size(); ++r) run_section(out, ctx, r);
  out += "</section>\n<section>\n<h2 id=\"envelope\">Envelope</h2>\n";
  for (std::size_t r = 0; r < runs.size(); ++r) envelope_section(out, ctx, r);
  out += "</section>\n<section>\n";
  out += size_plots(ctx);
  out += "\n</section>\n<section>\n";
  out += cdf_plots(ctx, groups);
  out += "\n</section>\n<section>\n";
  out += interval_plots(ctx, groups);
  out += "\n</section>\n<section>\n";
  out += recovery_plots(ctx, groups);
  out += "\n</section>\n<section>\n";
  out += regime_plots(ctx, groups);
  out +=
      "\n</section>\n<footer><p class=\"note\">Definitions: docs/METHODOLOGY.md and "
      "docs/RESULTS.md of fabricbench; this report: docs/REPORT.md.</p></footer>\n"
      "</body>\n</html>\n";
  return out;
}

namespace {

std::string md_cell(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    switch (ch) {
      case '|':
        out += "\\|";
        break;
      case '\n':
      case '\r':
        out += ' ';
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += ch;
    }
  }
  return out;
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
