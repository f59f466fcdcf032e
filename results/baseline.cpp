// `fabricbench baseline`: pooling, outlier rejection, hardware identity and the diff against a
// baseline (docs/HISTORY.md "Baselines").
#include "results/baseline.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/version.hpp"
#include "results/config_error.hpp"
#include "results/json_read.hpp"

namespace fabricbench::results::baseline {

namespace fs = std::filesystem;
using detail::config_error;
using detail::flag_at;
using detail::member;
using nlohmann::json;

namespace {

// A fact as recorded (strings and numbers), else null.
json fact(const json& v) {
  return v.is_string() || v.is_number() || v.is_boolean() ? v : json(nullptr);
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    out += items[i];
  }
  return out;
}

}  // namespace

// ---- Outlier rejection ------------------------------------------------------------------------

Pooled reject_outliers(const std::vector<double>& values, const OutlierRule& rule) {
  if (values.empty()) throw std::invalid_argument("reject_outliers: empty sample");
  for (double v : values) {
    if (!std::isfinite(v)) throw std::invalid_argument("reject_outliers: non-finite value");
  }
  Pooled p;
  p.median = diff::median(values);
  std::vector<double> deviations;
  deviations.reserve(values.size());
  for (double v : values) deviations.push_back(std::abs(v - p.median));
  p.sigma = kMadScale * diff::median(deviations);
  if (p.sigma == 0) {
    double sum = 0;
    for (double d : deviations) sum += d;
    p.sigma = kMeanAbsScale * sum / static_cast<double>(deviations.size());
  }
  if (values.size() < rule.min_values) {
    p.low = *std::min_element(values.begin(), values.end());
    p.high = *std::max_element(values.begin(), values.end());
  } else {
    const double half = std::max(rule.k * p.sigma, rule.min_relative * std::abs(p.median));
    p.low = p.median - half;
    p.high = p.median + half;
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] >= p.low && values[i] <= p.high) {
      p.kept.push_back(values[i]);
    } else {
      p.rejected.push_back(i);
    }
  }
  return p;
}

// ---- Hardware identity ------------------------------------------------------------------------

json host_hardware(const json& rank_envelope) {
  const json& cpu = member(rank_envelope, "cpu");
  json hw = {
      {"machine", fact(member(member(rank_envelope, "kernel"), "machine"))},
      {"cpu", {{"model", fact(member(cpu, "model"))}, {"sockets", fact(member(cpu, "sockets"))}}}};

  json nics = json::array();
  if (const json& list = member(rank_envelope, "nics"); list.is_array()) {
    for (const auto& n : list) {
      const json& driver = member(n, "driver");
      if (!driver.is_string()) continue;  // virtual interface (no device driver)
      nics.push_back({{"name", fact(member(n, "name"))}, {"driver", driver}});
    }
  }
  std::sort(nics.begin(), nics.end(),
            [](const json& a, const json& b) { return a.dump() < b.dump(); });
  hw["nics"] = std::move(nics);

  json rdma = json::array();
  const json& rdma_devices = member(rank_envelope, "rdma_devices");
  if (flag_at(rdma_devices, "available")) {
    if (const json& list = member(rdma_devices, "devices"); list.is_array()) {
      for (const auto& d : list) {
        json link_layers = json::array();
        if (const json& ports = member(d, "ports"); ports.is_array()) {
          for (const auto& port : ports) link_layers.push_back(fact(member(port, "link_layer")));
        }
        rdma.push_back({{"name", fact(member(d, "name"))},
                        {"vendor_id", fact(member(d, "vendor_id"))},
                        {"vendor_part_id", fact(member(d, "vendor_part_id"))},
                        {"fw_ver", fact(member(d, "fw_ver"))},
                        {"link_layers", std::move(link_layers)}});
      }
    }
  }
  std::sort(rdma.begin(), rdma.end(),
            [](const json& a, const json& b) { return a.dump() < b.dump(); });
  hw["rdma"] = std::move(rdma);

  std::vector<std::string> models;
  const json& gpus = member(rank_envelope, "gpus");
  if (flag_at(gpus, "available")) {
    if (const json& list = member(gpus, "devices"); list.is_array()) {
      for (const auto& g : list) {
        const json& model = member(g, "model");
        models.push_back(model.is_string() ? model.get<std::string>() : "(unknown)");
      }
    }
  }
  std::sort(models.begin(), models.end());
  hw["gpus"] = models;
  return hw;
}

json hardware_identity(const json& envelope) {
  std::set<std::string> hosts;
  std::map<std::string, json> by_text;
  if (const json& ranks = member(envelope, "ranks"); ranks.is_array()) {
    for (const auto& r : ranks) {
      json h = host_hardware(r);
      std::string text = h.dump();
      by_text.emplace(text, std::move(h));
    }
  }
  json out = json::array();
  for (auto& [text, h] : by_text) out.push_back(std::move(h));
  return json{{"hosts", std::move(out)}};
}

std::vector<std::string> hardware_differences(const json& a, const json& b,
                                              const std::string& a_name,
                                              const std::string& b_name) {
  const auto fa = diff::flatten_envelope(a);
  const auto fb = diff::flatten_envelope(b);
  std::set<std::string> paths;
  for (const auto& [p, v] : fa) paths.insert(p);
  for (const auto& [p, v] : fb) paths.insert(p);
  std::vector<std::string> out;
  for (const auto& p : paths) {
    const auto ia = fa.find(p);
    const auto ib = fb.find(p);
    const bool in_a = ia != fa.end();
    const bool in_b = ib != fb.end();
    if (in_a && in_b && ia->second == ib->second) continue;
    out.push_back(fmt::format("{}: {} ({}) vs {} ({})", p, in_a ? ia->second.dump() : "(absent)",
                              a_name, in_b ? ib->second.dump() : "(absent)", b_name));
  }
  return out;
}

// ---- Building ---------------------------------------------------------------------------------

std::size_t Baseline::rejected_count() const {
  std::size_t n = 0;
  for (const auto& c : cases) {
    for (const auto& m : c.metrics) n += m.rejected.size();
  }
  return n;
}

Baseline build_baseline(const std::vector<RunDocument>& runs,
                        const std::vector<std::string>& labels, const OutlierRule& rule) {
  if (runs.empty()) config_error("no run documents given");
  auto label_of = [&](std::size_t i) { return i < labels.size() ? labels[i] : runs[i].run_id; };
  Baseline b;
  b.rule = rule;
  std::set<std::string> seen_ids;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const RunDocument& r = runs[i];
    if (!seen_ids.insert(r.run_id).second) {
      config_error(
          fmt::format("run {} is given twice ({}): its repetitions would count "
                      "double",
                      r.run_id, label_of(i)));
    }
    SourceRun s;
    s.run_id = r.run_id;
    s.started_ns = r.started_ns;
    s.status = to_string(r.status);
    s.tool_version = r.tool_version;
    s.tool_revision = r.tool_revision;
    s.source = label_of(i);
    b.runs.push_back(std::move(s));
    if (r.status != RunStatus::complete) {
      b.notes.push_back(
          fmt::format("run {} is {}: it may lack cases", r.run_id, to_string(r.status)));
    }
  }

  b.hardware = hardware_identity(runs[0].envelope);
  for (std::size_t i = 1; i < runs.size(); ++i) {
    const json hw = hardware_identity(runs[i].envelope);
    const auto diffs = hardware_differences(b.hardware, hw, runs[0].run_id, runs[i].run_id);
    if (!diffs.empty()) {
      config_error(
          fmt::format("{} ({}) was measured on other hardware than {} ({}): {}; a baseline pools "
                      "runs of one hardware configuration",
                      runs[i].run_id, label_of(i), runs[0].run_id, label_of(0), join(diffs, "; ")));
    }
  }
  b.ranks = runs[0].ranks;
  b.envelope = runs[0].envelope;

  // identity -> case index; per case: metric -> (value, run id) in run order.
  std::map<std::string, std::size_t> index;
  std::vector<std::map<std::string, std::vector<std::pair<double, std::string>>>> values;
  for (const RunDocument& r : runs) {
    for (const CaseResult& c : r.cases) {
      if (c.status != CaseStatus::ok) {
        b.notes.push_back(
            fmt::format("case {} is {} in run {}: left out", c.id, to_string(c.status), r.run_id));
        continue;
      }
      const std::string identity = diff::case_identity(c);
      auto [it, inserted] = index.emplace(identity, b.cases.size());
      if (inserted) {
        BaselineCase bc;
        bc.id = c.id;
        bc.suite = c.suite;
        bc.transport = c.transport;
        bc.params = c.params;
        bc.identity = identity;
        b.cases.push_back(std::move(bc));
        values.emplace_back();
      }
      BaselineCase& bc = b.cases[it->second];
      if (std::find(bc.runs.begin(), bc.runs.end(), r.run_id) == bc.runs.end()) {
        bc.runs.push_back(r.run_id);
      }
      for (auto& [metric, vs] : diff::metric_values(c)) {
        auto& pool = values[it->second][metric];
        for (double v : vs) pool.emplace_back(v, r.run_id);
      }
    }
  }

  for (std::size_t i = 0; i < b.cases.size(); ++i) {
    for (const auto& def : diff::metric_table()) {
      const auto it = values[i].find(def.name);
      if (it == values[i].end() || it->second.empty()) continue;
      std::vector<double> sample;
      for (const auto& [v, run] : it->second) sample.push_back(v);
      const Pooled p = reject_outliers(sample, rule);
      PooledMetric m;
      m.name = def.name;
      m.values = p.kept;
      for (std::size_t r : p.rejected) m.rejected.push_back({it->second[r].second, sample[r]});
      m.median = diff::median(p.kept);
      m.sigma = p.sigma;
      m.low = p.low;
      m.high = p.high;
      b.cases[i].metrics.push_back(std::move(m));
    }
  }
  return b;
}

// ---- JSON -------------------------------------------------------------------------------------

json to_json(const Baseline& b) {
  json runs = json::array();
  for (const auto& r : b.runs) {
    runs.push_back({{"run_id", r.run_id},
                    {"started_ns", r.started_ns},
                    {"started_at", format_rfc3339_ms(r.started_ns)},
                    {"status", r.status},
                    {"tool_version", r.tool_version},
                    {"tool_revision", r.tool_revision},
                    {"source", r.source}});
  }
  json cases = json::array();
  for (const auto& c : b.cases) {
    json metrics = json::object();
    for (const auto& m : c.metrics) {
      json rejected = json::array();
      for (const auto& r : m.rejected)
        rejected.push_back({{"run_id", r.run_id}, {"value", r.value}});
      metrics[m.name] = {{"values", m.values}, {"median", m.median}, {"sigma", m.sigma},
                         {"low", m.low},       {"high", m.high},     {"rejected", rejected}};
    }
    cases.push_back({{"id", c.id},
                     {"suite", c.suite},
                     {"transport", c.transport},
                     {"identity", c.identity},
                     {"params", c.params},
                     {"runs", c.runs},
                     {"metrics", std::move(metrics)}});
  }
  return {{"schema", kSchemaName},
          {"schema_version", kSchemaVersion},
          {"tool",
           {{"name", "fabricbench"}, {"version", core::kVersion}, {"revision", core::kRevision}}},
          {"runs", std::move(runs)},
          {"outlier_rule",
           {{"method", "median_mad"},
            {"k", b.rule.k},
            {"mad_scale", kMadScale},
            {"mean_abs_scale", kMeanAbsScale},
            {"min_relative", b.rule.min_relative},
            {"min_values", b.rule.min_values}}},
          {"hardware", b.hardware},
          {"ranks", b.ranks},
          {"envelope", b.envelope},
          {"cases", std::move(cases)},
          {"notes", b.notes}};
}

bool is_baseline_json(const json& j) noexcept {
  return j.is_object() && member(j, "schema") == json(kSchemaName);
}

namespace {

// Strict reading with the JSON path in every message ("cases[2].metrics.bw_gbps.values[0]: ...").
struct Reader {
  [[noreturn]] static void fail(const std::string& path, const std::string& what) {
    std::string message = path.empty() ? std::string("document") : path;
    message += ": ";
    message += what;
    config_error(message);
  }
  static std::string child(const std::string& path, const char* key) {
    std::string out = path;
    if (!out.empty()) out += '.';
    out += key;
    return out;
  }
  static const json& req(const json& obj, const char* key, const std::string& path) {
    if (!obj.is_object()) fail(path, "expected an object");
    const auto it = obj.find(key);
    if (it == obj.end()) fail(child(path, key), "missing required field");
    return *it;
  }
  static std::string str(const json& obj, const char* key, const std::string& path) {
    const json& v = req(obj, key, path);
    if (!v.is_string()) fail(child(path, key), "expected a string");
    return v.get<std::string>();
  }
  static double num(const json& v, const std::string& path) {
    if (!v.is_number()) fail(path, "expected a number");
    return v.get<double>();
  }
  static std::uint64_t u64(const json& obj, const char* key, const std::string& path) {
    const json& v = req(obj, key, path);
    if (!v.is_number_unsigned()) fail(child(path, key), "expected a non-negative integer");
    return v.get<std::uint64_t>();
  }
  static const json& arr(const json& obj, const char* key, const std::string& path) {
    const json& v = req(obj, key, path);
    if (!v.is_array()) fail(child(path, key), "expected an array");
    return v;
  }
};

}  // namespace

Baseline baseline_from_json(const json& j) {
  using R = Reader;
  if (!is_baseline_json(j))
    config_error("not a baseline document (schema is not \"fabricbench.baseline\")");
  const json& version = R::req(j, "schema_version", "");
  if (!version.is_number_integer()) R::fail("schema_version", "expected an integer");
  if (version.get<int>() > kSchemaVersion) {
    config_error(
        fmt::format("schema_version {} was written by a newer fabricbench (this one reads {})",
                    version.get<int>(), kSchemaVersion));
  }
  Baseline b;
  const json& runs = R::arr(j, "runs", "");
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::string p = fmt::format("runs[{}]", i);
    SourceRun s;
    s.run_id = R::str(runs[i], "run_id", p);
    s.started_ns = R::u64(runs[i], "started_ns", p);
    s.status = R::str(runs[i], "status", p);
    s.tool_version = R::str(runs[i], "tool_version", p);
    s.tool_revision = R::str(runs[i], "tool_revision", p);
    s.source = R::str(runs[i], "source", p);
    b.runs.push_back(std::move(s));
  }
  if (b.runs.empty()) R::fail("runs", "no runs");
  const json& rule = R::req(j, "outlier_rule", "");
  b.rule.k = R::num(R::req(rule, "k", "outlier_rule"), "outlier_rule.k");
  b.rule.min_relative =
      R::num(R::req(rule, "min_relative", "outlier_rule"), "outlier_rule.min_relative");
  b.rule.min_values = R::u64(rule, "min_values", "outlier_rule");
  b.hardware = R::req(j, "hardware", "");
  if (!b.hardware.is_object() || !member(b.hardware, "hosts").is_array()) {
    R::fail("hardware", "expected {\"hosts\": [...]}");
  }
  const json& ranks = R::req(j, "ranks", "");
  if (!ranks.is_number_integer()) R::fail("ranks", "expected an integer");
  b.ranks = ranks.get<int>();
  b.envelope = R::req(j, "envelope", "");
  const json& cases = R::arr(j, "cases", "");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string p = fmt::format("cases[{}]", i);
    const json& c = cases[i];
    BaselineCase bc;
    bc.id = R::str(c, "id", p);
    bc.suite = R::str(c, "suite", p);
    bc.transport = R::str(c, "transport", p);
    bc.identity = R::str(c, "identity", p);
    bc.params = R::req(c, "params", p);
    for (const auto& r : R::arr(c, "runs", p)) {
      if (!r.is_string()) R::fail(p + ".runs", "expected strings");
      bc.runs.push_back(r.get<std::string>());
    }
    const json& metrics = R::req(c, "metrics", p);
    if (!metrics.is_object()) R::fail(p + ".metrics", "expected an object");
    for (const auto& def : diff::metric_table()) {
      const auto it = metrics.find(def.name);
      if (it == metrics.end()) continue;
      const std::string mp = p + ".metrics." + def.name;
      PooledMetric m;
      m.name = def.name;
      const json& vs = R::arr(*it, "values", mp);
      for (std::size_t k = 0; k < vs.size(); ++k)
        m.values.push_back(R::num(vs[k], fmt::format("{}.values[{}]", mp, k)));
      if (m.values.empty()) R::fail(mp + ".values", "empty");
      m.median = R::num(R::req(*it, "median", mp), mp + ".median");
      m.sigma = R::num(R::req(*it, "sigma", mp), mp + ".sigma");
      m.low = R::num(R::req(*it, "low", mp), mp + ".low");
      m.high = R::num(R::req(*it, "high", mp), mp + ".high");
      const json& rejected = R::arr(*it, "rejected", mp);
      for (std::size_t k = 0; k < rejected.size(); ++k) {
        const std::string rp = fmt::format("{}.rejected[{}]", mp, k);
        m.rejected.push_back({R::str(rejected[k], "run_id", rp),
                              R::num(R::req(rejected[k], "value", rp), rp + ".value")});
      }
      bc.metrics.push_back(std::move(m));
    }
    for (const auto& [name, v] : metrics.items()) {
      if (diff::find_metric(name) == nullptr)
        R::fail(p + ".metrics", "unknown metric \"" + name + "\"");
    }
    b.cases.push_back(std::move(bc));
  }
  if (const auto it = j.find("notes"); it != j.end() && it->is_array()) {
    for (const auto& n : *it) {
      if (n.is_string()) b.notes.push_back(n.get<std::string>());
    }
  }
  return b;
}

std::optional<Baseline> read_if_baseline(const std::string& path, const std::string& role) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  // Cheap test before a full parse: a document without the schema name is not a baseline.
  if (text.find(kSchemaName) == std::string::npos) return std::nullopt;
  json j;
  try {
    j = detail::parse_bounded(text, path);
  } catch (const core::Error&) {
    return std::nullopt;  // read_for_diff reports it
  }
  if (!is_baseline_json(j)) return std::nullopt;
  try {
    return baseline_from_json(j);
  } catch (const core::Error& e) {
    config_error(role + " baseline " + path + ": " + e.what());
  }
}

// ---- As a diff BASE ---------------------------------------------------------------------------

RunDocument as_run_document(const Baseline& b) {
  RunDocument d;
  const std::string first = b.runs.empty() ? std::string() : b.runs.front().run_id;
  d.run_id = b.runs.size() == 1
                 ? fmt::format("baseline of 1 run ({})", first)
                 : fmt::format("baseline of {} runs ({} .. {})", b.runs.size(), first,
                               b.runs.empty() ? std::string() : b.runs.back().run_id);
  std::vector<std::string> versions;
  std::vector<std::string> revisions;
  for (const auto& r : b.runs) {
    if (std::find(versions.begin(), versions.end(), r.tool_version) == versions.end()) {
      versions.push_back(r.tool_version);
    }
    if (std::find(revisions.begin(), revisions.end(), r.tool_revision) == revisions.end()) {
      revisions.push_back(r.tool_revision);
    }
  }
  d.tool_version = join(versions, "/");
  d.tool_revision = join(revisions, "/");
  d.started_ns = b.runs.empty() ? 0 : b.runs.front().started_ns;
  d.finished_ns = d.started_ns;
  d.status = RunStatus::complete;
  d.launcher = "baseline";
  d.ranks = b.ranks;
  d.config = json::object();
  d.envelope = b.envelope;
  d.events = json::array();
  std::set<std::string> ids;
  for (const auto& bc : b.cases) {
    CaseResult c;
    c.id = bc.id;
    for (int n = 2; !ids.insert(c.id).second; ++n) c.id = fmt::format("{} ({})", bc.id, n);
    c.suite = bc.suite;
    c.transport = bc.transport;
    c.params = bc.params;
    c.status = CaseStatus::ok;
    c.endpoints = json::array();
    d.cases.push_back(std::move(c));
  }
  return d;
}

diff::DiffResult diff_against_baseline(const Baseline& b, const RunDocument& next,
                                       diff::Options options, bool force,
                                       const std::string& base_label,
                                       const std::string& new_label) {
  const auto differences =
      hardware_differences(b.hardware, hardware_identity(next.envelope), "baseline", "NEW");
  if (!differences.empty() && !force) {
    config_error(fmt::format(
        "NEW run {} was measured on other hardware than the baseline {}: {}; --force compares "
        "anyway",
        next.run_id, base_label, join(differences, "; ")));
  }
  const RunDocument base = as_run_document(b);
  options.base_values.clear();
  for (std::size_t i = 0; i < b.cases.size(); ++i) {
    auto& values = options.base_values[base.cases[i].id];
    for (const auto& m : b.cases[i].metrics) values[m.name] = m.values;
  }
  diff::DiffResult r = diff::diff_runs(base, next, options, base_label, new_label);
  std::vector<std::string> notes;
  notes.push_back(fmt::format(
      "BASE is a baseline of {} run(s): each metric's BASE values are the pooled repetitions of "
      "those runs less {} outlier(s) (|v - median| > max({:g} sigma, {:g}% of the median), sigma = "
      "1.4826 MAD)",
      b.runs.size(), b.rejected_count(), b.rule.k, b.rule.min_relative * 100.0));
  if (!differences.empty()) {
    notes.push_back("hardware differs from the baseline's (compared anyway: --force): " +
                    join(differences, "; "));
  }
  r.notes.insert(r.notes.begin(), notes.begin(), notes.end());
  return r;
}

std::string describe(const Baseline& b) {
  std::size_t metrics = 0;
  std::size_t values = 0;
  for (const auto& c : b.cases) {
    metrics += c.metrics.size();
    for (const auto& m : c.metrics) values += m.values.size() + m.rejected.size();
  }
  std::string out = fmt::format(
      "baseline of {} run(s), {} case(s), {} metric(s): {} value(s) pooled, {} rejected as "
      "outliers (|v - median| > max({:g} sigma, {:g}% of the median))\n",
      b.runs.size(), b.cases.size(), metrics, values, b.rejected_count(), b.rule.k,
      b.rule.min_relative * 100.0);
  for (const auto& r : b.runs)
    out += fmt::format("  run {} ({}, {})\n", r.run_id, r.status, r.source);
  for (const auto& c : b.cases) {
    for (const auto& m : c.metrics) {
      for (const auto& r : m.rejected) {
        out += fmt::format("  rejected: {} {} = {:g} (run {}; kept {:g} .. {:g})\n", c.id, m.name,
                           r.value, r.run_id, m.low, m.high);
      }
    }
  }
  out += fmt::format("  hardware: {} host configuration(s)\n", member(b.hardware, "hosts").size());
  for (const auto& n : b.notes) out += "  note: " + n + "\n";
  return out;
}

}  // namespace fabricbench::results::baseline
