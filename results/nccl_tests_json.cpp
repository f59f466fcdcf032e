// nccl-tests' JSON output (format version 3) from a run document: see nccl_tests_json.hpp. The
// keys and their order follow nccl-tests' writer (src/util.cu: the preamble, config, results
// rows, out_of_bounds, average_bus_bandwidth, errors, end_time).
#include "results/nccl_tests_json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>

#include <fmt/core.h>

#include "core/error.hpp"
#include "results/config_error.hpp"
#include "results/json_read.hpp"

namespace fabricbench::results::nccl_tests {

using detail::config_error;
using detail::member;
using detail::number_at;
using detail::text_at;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// nccl-tests prints doubles with "%lf": six decimals.
double six_decimals(double v) {
  return std::round(v * 1e6) / 1e6;
}

// nccl-tests' time format ("%Y-%m-%d %H:%M:%S"), here in UTC.
std::string time_text(std::uint64_t wall_ns) {
  const auto secs = static_cast<std::time_t>(wall_ns / 1'000'000'000ULL);
  std::tm tm{};
  if (gmtime_r(&secs, &tm) == nullptr) return {};
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return {buf, n};
}

const json& first_collective(const CaseResult& c) {
  static const json none;
  for (const auto& r : c.repetitions) {
    if (r.collective.is_object()) return r.collective;
  }
  return none;
}

// Whether any repetition checked its data (a wrong count, even 0, in a placement).
bool data_checked(const CaseResult& c) {
  for (const auto& r : c.repetitions) {
    for (const char* p : kCollectivePlacements) {
      if (number_at(member(r.collective, p), "wrong")) return true;
    }
  }
  return false;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

// Counters over the rows, for out_of_bounds and average_bus_bandwidth.
struct Totals {
  int placements_with_wrong = 0;
  double busbw_sum = 0;
  int busbw_count = 0;
};

// {"time", "alg_bw", "bus_bw", "nwrong"} of one placement: medians over the repetitions, nwrong
// summed (null when no repetition checked its data); null when the placement did not run.
ordered_json placement(const CaseResult& c, const char* name, Totals& totals) {
  std::vector<double> time;
  std::vector<double> alg;
  std::vector<double> bus;
  double wrong = 0;
  bool checked = false;
  for (const auto& r : c.repetitions) {
    const json& p = member(r.collective, name);
    const auto t = number_at(p, "time_us");
    const auto a = number_at(p, "algbw_gbytes_per_s");
    const auto b = number_at(p, "busbw_gbytes_per_s");
    if (!t || !a || !b) continue;
    time.push_back(*t);
    alg.push_back(*a);
    bus.push_back(*b);
    if (const auto w = number_at(p, "wrong")) {
      wrong += *w;
      checked = true;
    }
  }
  if (time.empty()) return nullptr;
  const double busbw = median_of(bus);
  totals.busbw_sum += busbw;
  ++totals.busbw_count;
  if (wrong > 0) ++totals.placements_with_wrong;
  ordered_json out;
  out["time"] = six_decimals(median_of(time));
  out["alg_bw"] = six_decimals(median_of(alg));
  out["bus_bw"] = six_decimals(busbw);
  out["nwrong"] = checked ? ordered_json(six_decimals(wrong)) : ordered_json(nullptr);
  return out;
}

// One result row (writeBenchmarkLinePreamble, the two bodies, the terminator).
ordered_json result_row(const CaseResult& c, Totals& totals) {
  const json& coll = first_collective(c);
  const json& redop = member(coll, "redop");
  const auto root = number_at(coll, "root");
  ordered_json row;
  row["size"] = member(coll, "size_bytes");
  row["count"] = member(coll, "count").is_number() ? member(coll, "count") : json(nullptr);
  row["type"] = type_name(text_at(coll, "type"));
  row["redop"] = redop.is_string() ? redop.get<std::string>() : std::string("none");
  row["root"] = fmt::format("{:6d}", root ? static_cast<int>(*root) : -1);
  row["out_of_place"] = placement(c, "out_of_place", totals);
  row["in_place"] = placement(c, "in_place", totals);
  std::uint64_t iterations = 0;
  for (const auto& r : c.repetitions) {
    if (r.collective.is_object()) {
      iterations = r.ops;
      break;
    }
  }
  row["actual_iterations"] = iterations;
  row["experiment_name"] = c.id;
  return row;
}

// "NCCL version code" of a "major.minor.patch" version (major*10000 + minor*100 + patch, the
// code of NCCL 2.9 and later), or null.
ordered_json version_code(const json& backend) {
  for (const char* key : {"nccl_version", "version", "library_version"}) {
    const json& v = member(backend, key);
    if (v.is_number_integer()) return v;
    if (!v.is_string()) continue;
    int major = 0;
    int minor = 0;
    int patch = 0;
    if (std::sscanf(v.get<std::string>().c_str(), "%d.%d.%d", &major, &minor, &patch) == 3) {
      return major * 10000 + minor * 100 + patch;
    }
  }
  return nullptr;
}

ordered_json args_of(const RunDocument& doc) {
  ordered_json args = ordered_json::array({"fabricbench", "run"});
  const std::string path = text_at(doc.config, "path");
  if (!path.empty()) args.push_back(path);
  const json& overrides = member(doc.config, "overrides");
  if (overrides.is_array()) {
    for (const auto& o : overrides) {
      if (!o.is_string()) continue;
      args.push_back("--set");
      args.push_back(o.get<std::string>());
    }
  }
  return args;
}

ordered_json env_of(const RunDocument& doc) {
  ordered_json env = ordered_json::array();
  const json& ranks = member(doc.envelope, "ranks");
  if (!ranks.is_array() || ranks.empty()) return env;
  const json& vars = member(ranks[0], "environment");
  if (!vars.is_object()) return env;
  for (const auto& [k, v] : vars.items()) env.push_back(k + "=" + detail::text_of(v));
  return env;
}

// One device row per rank of the envelope: what nccl-tests' "#  Rank ..." lines hold, as far as
// the envelope knows it (no CUDA device facts: null).
ordered_json devices_of(const RunDocument& doc) {
  ordered_json devices = ordered_json::array();
  const json& ranks = member(doc.envelope, "ranks");
  if (!ranks.is_array()) return devices;
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    const json& r = ranks[i];
    ordered_json d;
    d["rank"] = number_at(r, "rank") ? member(r, "rank") : json(i);
    d["group"] = 0;
    d["pid"] = member(r, "pid").is_number_integer() ? member(r, "pid") : json(nullptr);
    d["hostname"] = member(r, "hostname").is_string() ? member(r, "hostname") : json(nullptr);
    d["device"] = nullptr;
    d["device_hex"] = nullptr;
    d["device_info"] = nullptr;
    devices.push_back(std::move(d));
  }
  return devices;
}

// The size sweep: step_factor when every size is an integer multiple of the previous by one
// factor, else step_bytes when they grow by one step, else step_bytes null.
void add_step(ordered_json& config, const std::vector<std::uint64_t>& sizes) {
  if (sizes.size() >= 2 && sizes[0] > 0 && sizes[1] % sizes[0] == 0 && sizes[1] > sizes[0]) {
    const std::uint64_t factor = sizes[1] / sizes[0];
    bool geometric = true;
    for (std::size_t i = 1; i < sizes.size(); ++i) {
      geometric = geometric && sizes[i] == sizes[i - 1] * factor;
    }
    if (geometric) {
      config["step_factor"] = factor;
      return;
    }
  }
  if (sizes.size() >= 2) {
    const std::uint64_t step = sizes[1] - sizes[0];
    bool arithmetic = step > 0;
    for (std::size_t i = 1; i < sizes.size(); ++i) {
      arithmetic = arithmetic && sizes[i] - sizes[i - 1] == step;
    }
    if (arithmetic) {
      config["step_bytes"] = step;
      return;
    }
  }
  config["step_bytes"] = nullptr;
}

ordered_json config_of(const RunDocument& doc, const std::vector<const CaseResult*>& cases,
                       const std::vector<std::uint64_t>& sizes, bool validated) {
  const json& params = cases.front()->params;
  auto param = [&](const char* key) {
    const json& v = member(params, key);
    return v.is_number_integer() ? ordered_json(v) : ordered_json(nullptr);
  };
  ordered_json config;
  config["nthreads"] = 1;  // one rank per process
  config["ngpus"] = nullptr;
  config["minimum_bytes"] = sizes.front();
  config["maximum_bytes"] = sizes.back();
  add_step(config, sizes);
  config["warmup_iters"] = param("warmup_iterations");
  config["iterations"] = param("iterations");
  config["aggregated_iterations"] = nullptr;
  config["validation"] = validated ? 1 : 0;
  config["graph"] = nullptr;
  config["blocking_collectives"] = nullptr;
  config["per_iter_timing"] = "false";
  config["per_iter_skip"] = 0;
  config["parallel_init"] = nullptr;
  config["devices"] = devices_of(doc);
  return config;
}

std::string group_list(const std::vector<std::pair<std::string, std::string>>& gs) {
  std::string out;
  for (const auto& [collective, backend] : gs) {
    if (!out.empty()) out += ", ";
    out += collective + " on " + backend;
  }
  return out;
}

// The selected ok collective cases, sorted by size (stable); throws when they are not one group.
std::vector<const CaseResult*> select(const RunDocument& doc, const Selection& s) {
  const auto all = groups(doc);
  if (all.empty()) {
    config_error("run " + doc.run_id +
                 " has no collective case that completed: nothing to export in nccl-tests form");
  }
  std::vector<std::pair<std::string, std::string>> chosen;
  for (const auto& g : all) {
    if ((s.collective.empty() || g.first == s.collective) &&
        (s.backend.empty() || g.second == s.backend)) {
      chosen.push_back(g);
    }
  }
  if (chosen.empty()) {
    config_error("run " + doc.run_id + " has no collective case of the selection; it has " +
                 group_list(all));
  }
  if (chosen.size() > 1) {
    config_error("run " + doc.run_id + " has " + std::to_string(chosen.size()) +
                 " collective/backend groups (" + group_list(chosen) +
                 "); an nccl-tests document holds one: choose with --collective and --backend");
  }
  std::vector<const CaseResult*> out;
  for (const auto& c : doc.cases) {
    if (c.status == CaseStatus::ok && is_collective(c) &&
        text_at(first_collective(c), "collective") == chosen[0].first &&
        c.transport == chosen[0].second) {
      out.push_back(&c);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const CaseResult* a, const CaseResult* b) {
    return number_at(first_collective(*a), "size_bytes").value_or(0) <
           number_at(first_collective(*b), "size_bytes").value_or(0);
  });
  return out;
}

}  // namespace

std::string type_name(const std::string& type) {
  static const std::map<std::string, std::string> names = {
      {"float32", "float"}, {"float16", "half"}, {"float64", "double"}, {"fp32", "float"},
      {"fp16", "half"},     {"fp64", "double"},  {"bf16", "bfloat16"}};
  const auto it = names.find(type);
  return it == names.end() ? type : it->second;
}

std::vector<std::pair<std::string, std::string>> groups(const RunDocument& doc) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& c : doc.cases) {
    if (c.status != CaseStatus::ok || !is_collective(c)) continue;
    std::pair<std::string, std::string> g{text_at(first_collective(c), "collective"), c.transport};
    if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(std::move(g));
  }
  return out;
}

ordered_json to_json(const RunDocument& doc, const Selection& selection) {
  const std::vector<const CaseResult*> cases = select(doc, selection);
  std::vector<std::uint64_t> sizes;
  std::uint64_t started = cases.front()->started_ns;
  std::uint64_t finished = cases.front()->finished_ns;
  bool validated = false;
  for (const CaseResult* c : cases) {
    const auto size = number_at(first_collective(*c), "size_bytes");
    sizes.push_back(size ? static_cast<std::uint64_t>(*size) : 0);
    started = std::min(started, c->started_ns);
    finished = std::max(finished, c->finished_ns);
    validated = validated || data_checked(*c);
  }
  Totals totals;
  ordered_json results = ordered_json::array();
  for (const CaseResult* c : cases) results.push_back(result_row(*c, totals));

  ordered_json out;
  out["version"] = kFormatVersion;
  out["start_time"] = time_text(started);
  out["args"] = args_of(doc);
  out["env"] = env_of(doc);
  out["nccl_version"] = version_code(member(first_collective(*cases.front()), "backend"));
  out["config"] = config_of(doc, cases, sizes, validated);
  out["results"] = std::move(results);
  out["out_of_bounds"] = {{"count", totals.placements_with_wrong},
                          {"okay", totals.placements_with_wrong == 0 ? "true" : "false"}};
  const double average =
      totals.busbw_count == 0 ? 0.0 : totals.busbw_sum / static_cast<double>(totals.busbw_count);
  out["average_bus_bandwidth"] = {{"bandwidth", six_decimals(average)}, {"okay", "unchecked"}};
  out["errors"] = ordered_json::array();
  out["end_time"] = time_text(finished);
  return out;
}

std::string render(const RunDocument& doc, const Selection& selection) {
  return to_json(doc, selection).dump(2) + "\n";
}

}  // namespace fabricbench::results::nccl_tests
