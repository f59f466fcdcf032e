// The run document's JSON form (docs/RESULTS.md, results/schema/run-v1.schema.json).
#include "results/run_document.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <stdexcept>

#include "core/error.hpp"
#include "results/json_read.hpp"

namespace fabricbench::results {

using detail::ObjectReader;
using nlohmann::json;

namespace {

constexpr const char* kToolName = "fabricbench";

// Non-finite doubles have no JSON form (nlohmann would write null): refuse them with context.
double finite(double v, const std::string& what) {
  if (!std::isfinite(v)) {
    throw core::Error(core::ErrorKind::runtime, "run document: " + what +
                                                    " is not a finite number (" +
                                                    std::to_string(v) + "); refusing to write it");
  }
  return v;
}

json optional_string(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

json object_or_empty(const json& j) {
  return j.is_null() ? json::object() : j;
}
json array_or_empty(const json& j) {
  return j.is_null() ? json::array() : j;
}

// Median of an even count is the mean of the two middle values.
double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  if (n % 2 == 1) return values[n / 2];
  return (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

CaseStatus case_status_from(const std::string& s, const std::string& path) {
  if (s == "ok") return CaseStatus::ok;
  if (s == "failed") return CaseStatus::failed;
  if (s == "skipped") return CaseStatus::skipped;
  detail::fail(path, "unknown case status \"" + s + "\" (expected ok, failed or skipped)");
}

RunStatus run_status_from(const std::string& s, const std::string& path) {
  if (s == "running") return RunStatus::running;
  if (s == "complete") return RunStatus::complete;
  if (s == "interrupted") return RunStatus::interrupted;
  if (s == "failed") return RunStatus::failed;
  detail::fail(
      path, "unknown run status \"" + s + "\" (expected running, complete, interrupted or failed)");
}

// Latency summary keys every summary object carries (null values when nothing was recorded).
constexpr const char* kSummaryNumberKeys[] = {"lat_min_ns",  "lat_mean_ns", "lat_stdev_ns",
                                              "lat_p50_ns",  "lat_p90_ns",  "lat_p99_ns",
                                              "lat_p999_ns", "lat_max_ns"};

void check_summary_keys(const ObjectReader& r) {
  r.u64("count");
  for (const char* key : kSummaryNumberKeys) r.number_or_null(key);
}

stats::Histogram histogram_from_json_at(const json& j, const std::string& path) {
  const ObjectReader r(j, path);
  const std::string unit = r.string("unit");
  if (unit != "ns") detail::fail(r.path_of("unit"), "expected \"ns\", got \"" + unit + "\"");
  const int bits = r.i32("sub_bucket_bits");
  if (bits != stats::Histogram::kSubBucketBits) {
    detail::fail(r.path_of("sub_bucket_bits"),
                 "histogram has " + std::to_string(bits) +
                     " sub-bucket bits; this build reads only " +
                     std::to_string(stats::Histogram::kSubBucketBits));
  }
  const std::uint64_t count = r.u64("count");
  const std::uint64_t min = r.u64("min");
  const std::uint64_t max = r.u64("max");
  const double sum = r.number("sum");
  const double sum_sq = r.number("sum_sq");
  const json& bins_json = r.array("bins");
  std::vector<stats::Histogram::Bin> bins;
  bins.reserve(bins_json.size());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < bins_json.size(); ++i) {
    const std::string bin_path = detail::index_path(r.path_of("bins"), i);
    const json& b = bins_json[i];
    if (!b.is_array() || b.size() != 3) {
      detail::fail(bin_path, "expected [lowest, highest, count], got " + detail::describe_value(b));
    }
    stats::Histogram::Bin bin{detail::as_u64(b[0], bin_path + "[0]"),
                              detail::as_u64(b[1], bin_path + "[1]"),
                              detail::as_u64(b[2], bin_path + "[2]")};
    if (bin.lowest > bin.highest) detail::fail(bin_path, "lowest is above highest");
    if (bin.count == 0) detail::fail(bin_path, "a stored bin must have a non-zero count");
    total += bin.count;
    bins.push_back(bin);
  }
  if (total != count) {
    detail::fail(r.path_of("count"), "is " + std::to_string(count) + " but the bins hold " +
                                         std::to_string(total) + " values");
  }
  if (count > 0 && min > max) detail::fail(r.path_of("min"), "is above max");
  try {
    return stats::Histogram::from_bins(bins, min, max, sum, sum_sq);
  } catch (const std::invalid_argument& e) {
    detail::fail(r.path_of("bins"), e.what());
  }
}

// The figures every reader of a collective repetition relies on (the rest is free-form).
void check_collective(const json& j, const std::string& path) {
  const ObjectReader r(j, path);
  if (r.string("collective").empty()) detail::fail(r.path_of("collective"), "must not be empty");
  r.string("type");
  if (r.i32("ranks") < 1) detail::fail(r.path_of("ranks"), "must be at least 1");
  r.u64("size_bytes");
  for (const char* placement : kCollectivePlacements) {
    const json* p = r.optional(placement);
    if (p == nullptr || p->is_null()) continue;
    const ObjectReader figures(*p, r.path_of(placement));
    for (const char* key : {"time_us", "algbw_gbytes_per_s", "busbw_gbytes_per_s"}) {
      figures.number(key);
    }
    if (const json* wrong = figures.optional("wrong"); wrong && !wrong->is_null()) {
      detail::as_u64(*wrong, figures.path_of("wrong"));
    }
  }
}

// The figures every reader of a copy repetition relies on (the rest is free-form).
void check_copy(const json& j, const std::string& path) {
  const ObjectReader r(j, path);
  if (r.string("copy").empty()) detail::fail(r.path_of("copy"), "must not be empty");
  r.u64("size_bytes");
  if (r.i32("ranks") < 1) detail::fail(r.path_of("ranks"), "must be at least 1");
  if (r.number("gbytes_per_s") < 0) detail::fail(r.path_of("gbytes_per_s"), "must not be negative");
  const json& per_rank = r.array("per_rank");
  for (std::size_t i = 0; i < per_rank.size(); ++i) {
    const ObjectReader f(per_rank[i], detail::index_path(r.path_of("per_rank"), i));
    f.u64("bytes");
    f.u64("elapsed_ns");
    f.number("gbytes_per_s");
  }
}

// Each rail's traffic and its share of the repetition's bandwidth.
void check_rails(const json& j, const std::string& path) {
  if (!j.is_array() || j.empty()) detail::fail(path, "must be a non-empty array");
  for (std::size_t i = 0; i < j.size(); ++i) {
    const ObjectReader f(j[i], detail::index_path(path, i));
    if (f.string("rail").empty()) detail::fail(f.path_of("rail"), "must not be empty");
    f.u64("bytes");
    f.u64("requests");
    const double share = f.number("share");
    if (share < 0 || share > 1) detail::fail(f.path_of("share"), "must be between 0 and 1");
    f.number_or_null("bw_gbps");
  }
}

json repetition_to_json(const Repetition& r, const std::string& where) {
  json latency = summary_to_json(stats::summarize(r.latency));
  latency["histogram"] = histogram_to_json(r.latency);
  json intervals = json::array();
  for (const auto& p : r.intervals) {
    intervals.push_back({{"start_ns", p.start_ns},
                         {"length_ns", p.length_ns},
                         {"bytes", p.bytes},
                         {"ops", p.ops},
                         {"latency_count", p.latency_count},
                         {"lat_p50_ns", p.lat_p50_ns ? json(*p.lat_p50_ns) : json(nullptr)},
                         {"lat_p99_ns", p.lat_p99_ns ? json(*p.lat_p99_ns) : json(nullptr)}});
  }
  json out = {
      {"index", r.index}, {"elapsed_ns", r.elapsed_ns},    {"bytes", r.bytes},
      {"ops", r.ops},     {"latency", std::move(latency)}, {"intervals", std::move(intervals)}};
  if (r.bw_gbps) out["bw_gbps"] = finite(*r.bw_gbps, where + ".bw_gbps");
  if (r.bw_gibps) out["bw_gibps"] = finite(*r.bw_gibps, where + ".bw_gibps");
  if (r.msg_rate_mops) out["msg_rate_mops"] = finite(*r.msg_rate_mops, where + ".msg_rate_mops");
  if (!r.regime.is_null()) out["regime"] = r.regime;
  if (!r.fault.is_null()) out["fault"] = r.fault;
  if (!r.collective.is_null()) out["collective"] = r.collective;
  if (!r.copy.is_null()) out["copy"] = r.copy;
  if (!r.rails.is_null()) out["rails"] = r.rails;
  return out;
}

Repetition repetition_from_json(const json& j, const std::string& path) {
  const ObjectReader r(j, path);
  Repetition rep;
  rep.index = r.i32("index");
  if (rep.index < 0) detail::fail(r.path_of("index"), "must not be negative");
  rep.elapsed_ns = r.u64("elapsed_ns");
  rep.bytes = r.u64("bytes");
  rep.ops = r.u64("ops");
  rep.bw_gbps = r.optional_number("bw_gbps");
  rep.bw_gibps = r.optional_number("bw_gibps");
  rep.msg_rate_mops = r.optional_number("msg_rate_mops");
  const ObjectReader latency(r.object("latency"), r.path_of("latency"));
  check_summary_keys(latency);
  rep.latency = histogram_from_json_at(latency.required("histogram"), latency.path_of("histogram"));
  if (latency.u64("count") != rep.latency.count()) {
    detail::fail(latency.path_of("count"), "does not match the histogram's count");
  }
  const json& intervals = r.array("intervals");
  for (std::size_t i = 0; i < intervals.size(); ++i) {
    const ObjectReader p(intervals[i], detail::index_path(r.path_of("intervals"), i));
    stats::IntervalPoint point;
    point.start_ns = p.u64("start_ns");
    point.length_ns = p.u64("length_ns");
    point.bytes = p.u64("bytes");
    point.ops = p.u64("ops");
    point.latency_count = p.u64("latency_count");
    point.lat_p50_ns = p.u64_or_null("lat_p50_ns");
    point.lat_p99_ns = p.u64_or_null("lat_p99_ns");
    rep.intervals.push_back(point);
  }
  if (const json* regime = r.optional("regime")) {
    if (!regime->is_object()) detail::fail(r.path_of("regime"), "must be an object");
    rep.regime = *regime;
  }
  if (const json* fault = r.optional("fault")) {
    if (!fault->is_object()) detail::fail(r.path_of("fault"), "must be an object");
    rep.fault = *fault;
  }
  if (const json* collective = r.optional("collective"); collective && !collective->is_null()) {
    if (!collective->is_object()) detail::fail(r.path_of("collective"), "must be an object");
    check_collective(*collective, r.path_of("collective"));
    rep.collective = *collective;
  }
  if (const json* copy = r.optional("copy"); copy && !copy->is_null()) {
    if (!copy->is_object()) detail::fail(r.path_of("copy"), "must be an object");
    check_copy(*copy, r.path_of("copy"));
    rep.copy = *copy;
  }
  if (const json* rails = r.optional("rails"); rails && !rails->is_null()) {
    check_rails(*rails, r.path_of("rails"));
    rep.rails = *rails;
  }
  return rep;
}

json case_to_json_at(const CaseResult& c, const std::string& where) {
  json reps = json::array();
  for (std::size_t i = 0; i < c.repetitions.size(); ++i) {
    reps.push_back(
        repetition_to_json(c.repetitions[i], detail::index_path(where + ".repetitions", i)));
  }
  json errors = json::array();
  for (const auto& e : c.errors) {
    errors.push_back({{"rank", e.rank}, {"kind", e.kind}, {"message", e.message}});
  }
  json summary = c.summary;
  if (!summary.is_object()) {
    CaseResult copy;
    copy.repetitions = c.repetitions;
    summarize_case(copy);
    summary = std::move(copy.summary);
  }
  json out = {{"id", c.id},
              {"suite", c.suite},
              {"transport", c.transport},
              {"params", object_or_empty(c.params)},
              {"status", to_string(c.status)},
              {"started_ns", c.started_ns},
              {"finished_ns", c.finished_ns},
              {"summary", std::move(summary)},
              {"repetitions", std::move(reps)},
              {"errors", std::move(errors)},
              {"endpoints", array_or_empty(c.endpoints)}};
  if (!c.skip_reason.empty() || c.status == CaseStatus::skipped) out["skip_reason"] = c.skip_reason;
  if (c.memory.is_array()) out["memory"] = c.memory;
  return out;
}

CaseResult case_from_json_at(const json& j, const std::string& path) {
  const ObjectReader r(j, path);
  CaseResult c;
  c.id = r.string("id");
  if (c.id.empty()) detail::fail(r.path_of("id"), "must not be empty");
  c.suite = r.string("suite");
  c.transport = r.string("transport");
  c.params = r.object("params");
  c.status = case_status_from(r.string("status"), r.path_of("status"));
  if (c.status == CaseStatus::skipped) {
    c.skip_reason = r.string("skip_reason");
  } else if (const json* s = r.optional("skip_reason")) {
    c.skip_reason = detail::as_string(*s, r.path_of("skip_reason"));
  }
  c.started_ns = r.u64("started_ns");
  c.finished_ns = r.u64("finished_ns");
  const ObjectReader summary(r.object("summary"), r.path_of("summary"));
  summary.i32("repetitions");
  check_summary_keys(summary);
  for (const char* key : {"bw_gbps_median", "bw_gbps_min", "bw_gbps_max", "bw_gibps_median",
                          "msg_rate_mops_median"}) {
    summary.optional_number(key);
  }
  summary.number_or_null("lat_p50_ns_median_of_reps");
  c.summary = summary.value();
  const json& reps = r.array("repetitions");
  for (std::size_t i = 0; i < reps.size(); ++i) {
    c.repetitions.push_back(
        repetition_from_json(reps[i], detail::index_path(r.path_of("repetitions"), i)));
  }
  const json& errors = r.array("errors");
  for (std::size_t i = 0; i < errors.size(); ++i) {
    const ObjectReader e(errors[i], detail::index_path(r.path_of("errors"), i));
    CaseError err;
    err.rank = e.i32("rank");
    if (err.rank < -1) detail::fail(e.path_of("rank"), "must be a rank or -1 (harness)");
    err.kind = e.string("kind");
    err.message = e.string("message");
    c.errors.push_back(std::move(err));
  }
  const json& endpoints = r.array("endpoints");
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    detail::as_string(endpoints[i], detail::index_path(r.path_of("endpoints"), i));
  }
  c.endpoints = endpoints;
  if (const json* memory = r.optional("memory")) {  // absent before schema 1.x's GPU memory
    if (!memory->is_array()) detail::fail(r.path_of("memory"), "must be an array (one per rank)");
    for (std::size_t i = 0; i < memory->size(); ++i) {
      const ObjectReader m((*memory)[i], detail::index_path(r.path_of("memory"), i));
      m.string("provider");
    }
    c.memory = *memory;
  }
  return c;
}

// Median, min and max of a sample (null when empty).
json spread(const std::vector<double>& values, const std::string& what) {
  if (values.empty()) return nullptr;
  return {{"median", finite(median(values), what + " median")},
          {"min", finite(*std::min_element(values.begin(), values.end()), what + " min")},
          {"max", finite(*std::max_element(values.begin(), values.end()), what + " max")}};
}

// summary.collective: what the case is (from its first collective repetition) and, per
// placement, the spread of each figure over the repetitions and the wrong elements summed.
json collective_summary(const CaseResult& c) {
  json out;
  for (const auto& r : c.repetitions) {
    if (!r.collective.is_object()) continue;
    if (out.is_null()) {
      out = json::object();
      for (const char* key : {"collective", "type", "redop", "root", "ranks", "size_bytes", "count",
                              "bus_factor", "combine", "regime"}) {
        const auto it = r.collective.find(key);
        out[key] = it == r.collective.end() ? json(nullptr) : *it;
      }
    }
  }
  constexpr const char* kFigures[] = {"time_us", "algbw_gbytes_per_s", "busbw_gbytes_per_s"};
  for (const char* placement : kCollectivePlacements) {
    std::map<std::string, std::vector<double>> values;
    std::uint64_t wrong = 0;
    bool checked = false;
    for (const auto& r : c.repetitions) {
      if (!r.collective.is_object()) continue;
      const auto p = r.collective.find(placement);
      if (p == r.collective.end() || !p->is_object()) continue;
      for (const char* key : kFigures) {
        const auto v = p->find(key);
        if (v != p->end() && v->is_number()) values[key].push_back(v->get<double>());
      }
      const auto w = p->find("wrong");
      if (w != p->end() && w->is_number_integer() && w->get<std::int64_t>() >= 0) {
        wrong += w->get<std::uint64_t>();
        checked = true;
      }
    }
    if (values.empty() && !checked) {
      out[placement] = nullptr;
      continue;
    }
    json figures = json::object();
    for (const char* key : kFigures) {
      figures[key] = spread(values[key], std::string(placement) + "." + key);
    }
    figures["wrong"] = checked ? json(wrong) : json(nullptr);
    out[placement] = std::move(figures);
  }
  return out;
}

}  // namespace

const char* to_string(CaseStatus s) noexcept {
  switch (s) {
    case CaseStatus::ok:
      return "ok";
    case CaseStatus::failed:
      return "failed";
    case CaseStatus::skipped:
      return "skipped";
  }
  return "unknown";
}

const char* to_string(RunStatus s) noexcept {
  switch (s) {
    case RunStatus::running:
      return "running";
    case RunStatus::complete:
      return "complete";
    case RunStatus::interrupted:
      return "interrupted";
    case RunStatus::failed:
      return "failed";
  }
  return "unknown";
}

std::string format_rfc3339_ms(std::uint64_t wall_ns) {
  const auto secs = static_cast<std::time_t>(wall_ns / 1'000'000'000ULL);
  const auto ms = static_cast<unsigned>((wall_ns / 1'000'000ULL) % 1000ULL);
  std::tm tm{};
  if (gmtime_r(&secs, &tm) == nullptr) {
    throw core::Error(core::ErrorKind::runtime,
                      "cannot format wall-clock time " + std::to_string(wall_ns) + " ns");
  }
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  out += '.';
  out += static_cast<char>('0' + ms / 100);
  out += static_cast<char>('0' + (ms / 10) % 10);
  out += static_cast<char>('0' + ms % 10);
  out += 'Z';
  return out;
}

json summary_to_json(const stats::Summary& s) {
  json out = {{"count", s.count}};
  if (s.count == 0) {
    for (const char* key : kSummaryNumberKeys) out[key] = nullptr;
    return out;
  }
  out["lat_min_ns"] = s.min;
  out["lat_mean_ns"] = finite(s.mean, "lat_mean_ns");
  out["lat_stdev_ns"] = finite(s.stdev, "lat_stdev_ns");
  out["lat_p50_ns"] = s.p50;
  out["lat_p90_ns"] = s.p90;
  out["lat_p99_ns"] = s.p99;
  out["lat_p999_ns"] = s.p999;
  out["lat_max_ns"] = s.max;
  return out;
}

json histogram_to_json(const stats::Histogram& h) {
  json bins = json::array();
  for (const auto& b : h.bins()) bins.push_back(json::array({b.lowest, b.highest, b.count}));
  return {{"unit", "ns"},
          {"sub_bucket_bits", stats::Histogram::kSubBucketBits},
          {"count", h.count()},
          {"min", h.min()},
          {"max", h.max()},
          {"sum", finite(h.sum(), "histogram sum")},
          {"sum_sq", finite(h.sum_of_squares(), "histogram sum_sq")},
          {"bins", std::move(bins)}};
}

stats::Histogram histogram_from_json(const json& j) {
  return histogram_from_json_at(j, "histogram");
}

void summarize_case(CaseResult& c) {
  stats::Histogram merged;
  std::vector<double> gbps;
  std::vector<double> gibps;
  std::vector<double> mops;
  std::vector<double> p50s;
  for (const auto& r : c.repetitions) {
    merged.merge(r.latency);
    if (r.bw_gbps) gbps.push_back(*r.bw_gbps);
    if (r.bw_gibps) gibps.push_back(*r.bw_gibps);
    if (r.msg_rate_mops) mops.push_back(*r.msg_rate_mops);
    if (r.latency.count() > 0) p50s.push_back(static_cast<double>(r.latency.percentile(50.0)));
  }
  json s = summary_to_json(stats::summarize(merged));
  s["repetitions"] = static_cast<int>(c.repetitions.size());
  s["lat_p50_ns_median_of_reps"] = p50s.empty() ? json(nullptr) : json(median(p50s));
  if (!gbps.empty()) {
    s["bw_gbps_median"] = finite(median(gbps), "bw_gbps_median");
    s["bw_gbps_min"] = finite(*std::min_element(gbps.begin(), gbps.end()), "bw_gbps_min");
    s["bw_gbps_max"] = finite(*std::max_element(gbps.begin(), gbps.end()), "bw_gbps_max");
  }
  if (!gibps.empty()) s["bw_gibps_median"] = finite(median(gibps), "bw_gibps_median");
  if (!mops.empty()) s["msg_rate_mops_median"] = finite(median(mops), "msg_rate_mops_median");
  // Regimes: the kind, and the median across repetitions of each figure of regime.headline
  // (null when no repetition has it).
  json regime;
  std::map<std::string, std::vector<double>> headline;
  std::vector<std::string> order;
  for (const auto& r : c.repetitions) {
    if (!r.regime.is_object()) continue;
    if (regime.is_null()) regime = {{"kind", r.regime.value("kind", "")}};
    const auto h = r.regime.find("headline");
    if (h == r.regime.end() || !h->is_object()) continue;
    for (const auto& [key, value] : h->items()) {
      if (!headline.contains(key)) order.push_back(key);
      auto& values = headline[key];
      if (value.is_number()) values.push_back(value.get<double>());
    }
  }
  if (!regime.is_null()) {
    json medians = json::object();
    for (const auto& key : order) {
      const auto& values = headline[key];
      medians[key] = values.empty() ? json(nullptr) : json(finite(median(values), key));
    }
    regime["headline_median"] = std::move(medians);
    s["regime"] = std::move(regime);
  }
  if (is_collective(c)) s["collective"] = collective_summary(c);
  c.summary = std::move(s);
}

const json& summary_collective(const CaseResult& c) {
  static const json none;
  const auto it = c.summary.find("collective");
  return it == c.summary.end() ? none : *it;
}

bool is_collective(const CaseResult& c) {
  return std::any_of(c.repetitions.begin(), c.repetitions.end(),
                     [](const Repetition& r) { return r.collective.is_object(); });
}

json to_json(const CaseResult& c) {
  return case_to_json_at(c, "case " + c.id);
}

CaseResult case_result_from_json(const json& j) {
  return case_from_json_at(j, "case");
}

json to_json(const RunDocument& d) {
  json cases = json::array();
  for (const auto& c : d.cases) cases.push_back(case_to_json_at(c, "case " + c.id));
  const bool finished = d.finished_ns != 0;
  json run = {{"id", d.run_id},
              {"status", to_string(d.status)},
              {"started_at", format_rfc3339_ms(d.started_ns)},
              {"started_ns", d.started_ns},
              {"finished_at", finished ? json(format_rfc3339_ms(d.finished_ns)) : json(nullptr)},
              {"finished_ns", finished ? json(d.finished_ns) : json(nullptr)},
              {"interrupted_case", optional_string(d.interrupted_case)},
              {"launcher", d.launcher},
              {"ranks", d.ranks}};
  return {
      {"schema", kSchemaName},
      {"schema_version", kSchemaVersion},
      {"run", std::move(run)},
      {"tool", {{"name", kToolName}, {"version", d.tool_version}, {"revision", d.tool_revision}}},
      {"config", object_or_empty(d.config)},
      {"envelope", object_or_empty(d.envelope)},
      {"cases", std::move(cases)},
      {"events", array_or_empty(d.events)}};
}

RunDocument run_document_from_json(const json& j) {
  const ObjectReader top(j, "");
  const std::string schema = top.string("schema");
  if (schema != kSchemaName) {
    detail::fail("schema", "this is a \"" + schema + "\" document, not a \"" +
                               std::string(kSchemaName) + "\" run document");
  }
  const int version = top.i32("schema_version");
  if (version > kSchemaVersion) {
    detail::fail("schema_version",
                 "version " + std::to_string(version) +
                     " was written by a newer fabricbench; this build reads up to version " +
                     std::to_string(kSchemaVersion));
  }
  if (version < 1) detail::fail("schema_version", "must be at least 1");

  RunDocument d;
  const ObjectReader run(top.object("run"), "run");
  d.run_id = run.string("id");
  if (d.run_id.empty()) detail::fail("run.id", "must not be empty");
  d.status = run_status_from(run.string("status"), "run.status");
  run.string("started_at");
  d.started_ns = run.u64("started_ns");
  run.string_or_null("finished_at");
  d.finished_ns = run.u64_or_null("finished_ns").value_or(0);
  d.interrupted_case = run.string_or_null("interrupted_case");
  d.launcher = run.string("launcher");
  d.ranks = run.i32("ranks");
  if (d.ranks < 0) detail::fail("run.ranks", "must not be negative");

  const ObjectReader tool(top.object("tool"), "tool");
  tool.string("name");
  d.tool_version = tool.string("version");
  d.tool_revision = tool.string("revision");

  d.config = top.object("config");
  d.envelope = top.object("envelope");

  const json& cases = top.array("cases");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    d.cases.push_back(case_from_json_at(cases[i], detail::index_path("cases", i)));
  }

  const json& events = top.array("events");
  for (std::size_t i = 0; i < events.size(); ++i) {
    const ObjectReader e(events[i], detail::index_path("events", i));
    e.u64("t_ns");
    e.i32("rank");
    e.string("kind");
    if (const json* detail_value = e.optional("detail")) {
      if (!detail_value->is_string() && !detail_value->is_object()) {
        detail::fail(e.path_of("detail"), "expected a string or an object, got " +
                                              detail::describe_value(*detail_value));
      }
    }
  }
  d.events = events;
  return d;
}

}  // namespace fabricbench::results
