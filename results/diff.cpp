// `fabricbench diff`: matching, metrics, the Mann-Whitney U test and the envelope difference
// (docs/DIFF.md).
#include "results/diff.hpp"
#include "results/map_diff.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <set>
#include <stdexcept>
#include <tuple>
#include <utility>

#include <fmt/core.h>
#include <yaml-cpp/yaml.h>

#include "core/error.hpp"
#include "results/config_error.hpp"
#include "results/json_read.hpp"

namespace fabricbench::results::diff {

using detail::config_error;
using detail::member;
using detail::number_at;
using nlohmann::json;

// ---- Statistics -------------------------------------------------------------------------------

double median(std::vector<double> values) {
  if (values.empty()) throw std::invalid_argument("median of an empty sample");
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  if (n % 2 == 1) return values[n / 2];
  return (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

double smallest_p_value(std::size_t n1, std::size_t n2) {
  if (n1 == 0 || n2 == 0) return 1.0;
  // C(n1 + n2, n1), computed as a running product (exact in double for the sizes that matter).
  double combinations = 1.0;
  const std::size_t k = std::min(n1, n2);
  const std::size_t n = n1 + n2;
  for (std::size_t i = 1; i <= k; ++i) {
    combinations = combinations * static_cast<double>(n - k + i) / static_cast<double>(i);
  }
  return std::min(1.0, 2.0 / combinations);
}

MannWhitneyResult mann_whitney_u(std::span<const double> a, std::span<const double> b) {
  if (a.empty() || b.empty()) throw std::invalid_argument("Mann-Whitney U: empty sample");
  const std::size_t n1 = a.size();
  const std::size_t n2 = b.size();
  const std::size_t n = n1 + n2;
  std::vector<std::pair<double, int>> pooled;  // (value, sample: 0 = a, 1 = b)
  pooled.reserve(n);
  for (double v : a) pooled.emplace_back(v, 0);
  for (double v : b) pooled.emplace_back(v, 1);
  for (const auto& [v, s] : pooled) {
    if (!std::isfinite(v)) throw std::invalid_argument("Mann-Whitney U: non-finite value");
  }
  std::sort(pooled.begin(), pooled.end());

  // Midranks, doubled so that they are integers: a tie group at positions i+1..j gets
  // (i+1+j)/2, doubled i+1+j. tie_term = sum over groups of t^3 - t.
  std::vector<std::size_t> rank2(n);
  double tie_term = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && pooled[j].first == pooled[i].first) ++j;
    for (std::size_t k = i; k < j; ++k) rank2[k] = i + 1 + j;
    const double t = static_cast<double>(j - i);
    tie_term += t * t * t - t;
    i = j;
  }
  std::size_t r1_2 = 0;  // doubled rank sum of a
  for (std::size_t k = 0; k < n; ++k) {
    if (pooled[k].second == 0) r1_2 += rank2[k];
  }
  const double dn1 = static_cast<double>(n1);
  const double dn2 = static_cast<double>(n2);
  MannWhitneyResult out;
  out.u = static_cast<double>(r1_2) / 2.0 - dn1 * (dn1 + 1.0) / 2.0;

  if (n1 <= kExactMaxSampleSize && n2 <= kExactMaxSampleSize) {
    // Exact permutation distribution of the (doubled) rank sum of n1 items drawn from the n
    // pooled midranks: ways[k][s] = number of k-subsets of the items seen so far summing to s.
    const std::size_t max_sum = n * (n + 1);  // sum of all doubled ranks
    std::vector<std::vector<double>> ways(n1 + 1, std::vector<double>(max_sum + 1, 0.0));
    ways[0][0] = 1.0;
    std::size_t seen_sum = 0;
    for (std::size_t item = 0; item < n; ++item) {
      const std::size_t r = rank2[item];
      seen_sum += r;
      for (std::size_t k = std::min(item + 1, n1); k >= 1; --k) {
        auto& to = ways[k];
        const auto& from = ways[k - 1];
        for (std::size_t s = seen_sum; s >= r; --s) {
          to[s] += from[s - r];
          if (s == r) break;
        }
      }
    }
    double total = 0;
    double at_most = 0;
    double at_least = 0;
    for (std::size_t s = 0; s <= max_sum; ++s) {
      const double w = ways[n1][s];
      total += w;
      if (s <= r1_2) at_most += w;
      if (s >= r1_2) at_least += w;
    }
    out.exact = true;
    out.p_value = std::min(1.0, 2.0 * std::min(at_most, at_least) / total);
    return out;
  }

  // Normal approximation: mean n1 n2 / 2, variance with the tie correction, continuity 0.5.
  const double dn = static_cast<double>(n);
  const double mean = dn1 * dn2 / 2.0;
  const double variance = dn1 * dn2 / 12.0 * ((dn + 1.0) - tie_term / (dn * (dn - 1.0)));
  out.exact = false;
  if (!(variance > 0)) {
    out.p_value = 1.0;  // every value equal
    return out;
  }
  const double z = std::max(0.0, (std::abs(out.u - mean) - 0.5) / std::sqrt(variance));
  out.p_value = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
  return out;
}

// ---- Metrics ----------------------------------------------------------------------------------

const char* to_string(Direction d) noexcept {
  return d == Direction::lower_is_better ? "lower" : "higher";
}

const std::vector<MetricDef>& metric_table() {
  static const std::vector<MetricDef> table = {
      {"lat_p50_ns", Direction::lower_is_better, "p50 of repetitions[].latency.histogram"},
      {"lat_p99_ns", Direction::lower_is_better,
       "p99 of repetitions[].latency.histogram (not for regime cases: see regime.lat_p99_ns)"},
      {"bw_gbps", Direction::higher_is_better, "repetitions[].bw_gbps"},
      {"msg_rate_mops", Direction::higher_is_better, "repetitions[].msg_rate_mops"},
      {"regime.lat_p99_ns", Direction::lower_is_better, "repetitions[].regime.headline.lat_p99_ns"},
      {"regime.queue_age_p99_ns", Direction::lower_is_better,
       "repetitions[].regime.headline.queue_age_p99_ns"},
      {"regime.goodput_ops_per_s", Direction::higher_is_better,
       "repetitions[].regime.headline.goodput_ops_per_s"},
      {"regime.sustainable_rate_ops_per_s", Direction::higher_is_better,
       "repetitions[].regime.headline.sustainable_rate_ops_per_s"},
      {"fault.ttr90_from_clear_ns", Direction::lower_is_better,
       "repetitions[].fault.recovery.ttr90_from_clear_ns"},
      {"fault.stall_ns", Direction::lower_is_better, "repetitions[].fault.recovery.stall_ns"},
      {"collective.time_us", Direction::lower_is_better,
       "repetitions[].collective.out_of_place.time_us"},
      {"collective.algbw_gbytes_per_s", Direction::higher_is_better,
       "repetitions[].collective.out_of_place.algbw_gbytes_per_s"},
      {"collective.busbw_gbytes_per_s", Direction::higher_is_better,
       "repetitions[].collective.out_of_place.busbw_gbytes_per_s"},
      {"collective.in_place.time_us", Direction::lower_is_better,
       "repetitions[].collective.in_place.time_us"},
      {"collective.in_place.busbw_gbytes_per_s", Direction::higher_is_better,
       "repetitions[].collective.in_place.busbw_gbytes_per_s"},
      {"collective.wrong", Direction::lower_is_better,
       "repetitions[].collective.{out_of_place,in_place}.wrong, summed (any in NEW: regressed)"},
  };
  return table;
}

const MetricDef* find_metric(const std::string& name) noexcept {
  for (const auto& m : metric_table()) {
    if (name == m.name) return &m;
  }
  return nullptr;
}

namespace {

// A collective repetition's figures; collective.wrong is the sum over the placements that were
// checked (absent when neither was).
template <typename Add>
void add_collective_values(const json& collective, Add& add) {
  const json& oop = member(collective, "out_of_place");
  const json& ip = member(collective, "in_place");
  add("collective.time_us", number_at(oop, "time_us"));
  add("collective.algbw_gbytes_per_s", number_at(oop, "algbw_gbytes_per_s"));
  add("collective.busbw_gbytes_per_s", number_at(oop, "busbw_gbytes_per_s"));
  add("collective.in_place.time_us", number_at(ip, "time_us"));
  add("collective.in_place.busbw_gbytes_per_s", number_at(ip, "busbw_gbytes_per_s"));
  const auto a = number_at(oop, "wrong");
  const auto b = number_at(ip, "wrong");
  if (a || b) add("collective.wrong", a.value_or(0) + b.value_or(0));
}

}  // namespace

std::map<std::string, std::vector<double>> metric_values(const CaseResult& c) {
  std::map<std::string, std::vector<double>> out;
  auto add = [&](const char* name, std::optional<double> v) {
    if (v) out[name].push_back(*v);
  };
  for (const auto& rep : c.repetitions) {
    const bool regime = rep.regime.is_object();
    if (rep.latency.count() > 0) {
      add("lat_p50_ns", static_cast<double>(rep.latency.percentile(50.0)));
      if (!regime) add("lat_p99_ns", static_cast<double>(rep.latency.percentile(99.0)));
    }
    if (rep.bw_gbps && std::isfinite(*rep.bw_gbps)) add("bw_gbps", *rep.bw_gbps);
    if (rep.msg_rate_mops && std::isfinite(*rep.msg_rate_mops)) {
      add("msg_rate_mops", *rep.msg_rate_mops);
    }
    if (regime) {
      const json& headline = member(rep.regime, "headline");
      add("regime.lat_p99_ns", number_at(headline, "lat_p99_ns"));
      add("regime.queue_age_p99_ns", number_at(headline, "queue_age_p99_ns"));
      add("regime.goodput_ops_per_s", number_at(headline, "goodput_ops_per_s"));
      add("regime.sustainable_rate_ops_per_s", number_at(headline, "sustainable_rate_ops_per_s"));
    }
    if (rep.fault.is_object()) {
      const json& recovery = member(rep.fault, "recovery");
      add("fault.ttr90_from_clear_ns", number_at(recovery, "ttr90_from_clear_ns"));
      add("fault.stall_ns", number_at(recovery, "stall_ns"));
    }
    if (rep.collective.is_object()) add_collective_values(rep.collective, add);
  }
  return out;
}

// ---- Options ----------------------------------------------------------------------------------

double Options::threshold_for(const std::string& metric) const {
  const auto it = thresholds_pct.find(metric);
  return it == thresholds_pct.end() ? threshold_pct : it->second;
}

namespace {

std::string known_metric_names() {
  std::string names = "default";
  for (const auto& m : metric_table()) {
    names += ", ";
    names += m.name;
  }
  return names + ", map";
}

}  // namespace

void load_thresholds_file(const std::string& path, Options& options) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    config_error("thresholds file " + path + ": cannot be read");
  } catch (const YAML::Exception& e) {
    config_error("thresholds file " + path + ": not valid YAML: " + e.what());
  }
  if (root.IsNull()) return;  // empty file: nothing to override
  if (!root.IsMap()) {
    config_error("thresholds file " + path +
                 ": expected a mapping of metric name to percent, e.g. \"lat_p99_ns: 10\"");
  }
  for (const auto& entry : root) {
    const std::string where =
        fmt::format("thresholds file {}:{}:{}", path, entry.first.Mark().line + 1,
                    entry.first.Mark().column + 1);
    if (!entry.first.IsScalar()) config_error(where + ": a key must be a metric name");
    const std::string key = entry.first.Scalar();
    if (key != "default" && key != "map" && find_metric(key) == nullptr) {
      config_error(where + ": unknown metric \"" + key + "\" (known: " + known_metric_names() +
                   ")");
    }
    if (!entry.second.IsScalar()) {
      config_error(where + ": " + key + ": expected a percent such as 10 or \"7.5%\"");
    }
    std::string text = entry.second.Scalar();
    if (!text.empty() && text.back() == '%') text.pop_back();
    double pct = 0;
    std::size_t used = 0;
    try {
      pct = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size() || !std::isfinite(pct) || pct < 0 || pct > 1000) {
      config_error(where + ": " + key + ": expected a percent between 0 and 1000, got \"" +
                   entry.second.Scalar() + "\"");
    }
    if (key == "default") {
      options.threshold_pct = pct;
    } else {
      options.thresholds_pct[key] = pct;
    }
  }
}

// ---- Comparison -------------------------------------------------------------------------------

const char* to_string(Verdict v) noexcept {
  switch (v) {
    case Verdict::improved:
      return "improved";
    case Verdict::regressed:
      return "regressed";
    case Verdict::unchanged:
      return "unchanged";
    case Verdict::added:
      return "new";
    case Verdict::missing:
      return "missing";
    case Verdict::not_comparable:
      return "not_comparable";
  }
  return "?";
}

MetricDiff compare_metric(const std::string& name, Direction direction,
                          std::vector<double> base_values, std::vector<double> new_values,
                          const Options& options) {
  MetricDiff m;
  m.name = name;
  m.direction = direction;
  m.base_values = std::move(base_values);
  m.new_values = std::move(new_values);
  m.threshold_pct = options.threshold_for(name);
  if (!m.base_values.empty()) m.base_median = median(m.base_values);
  if (!m.new_values.empty()) m.new_median = median(m.new_values);
  if (!m.base_median || !m.new_median) {
    m.verdict = Verdict::not_comparable;
    m.warning = !m.base_median && !m.new_median ? "no values"
                : !m.base_median                ? "only in NEW"
                                                : "only in BASE";
    return m;
  }
  const double b = *m.base_median;
  const double n = *m.new_median;
  if (b == 0) {
    m.change = n == 0 ? 0.0
                      : (n > 0 ? std::numeric_limits<double>::infinity()
                               : -std::numeric_limits<double>::infinity());
  } else {
    m.change = (n - b) / std::abs(b);
  }
  m.test = mann_whitney_u(m.base_values, m.new_values);

  const double change = *m.change;
  const bool worse = direction == Direction::lower_is_better ? change > 0 : change < 0;
  const bool large = std::abs(change) * 100.0 > m.threshold_pct;
  const Verdict moved = worse ? Verdict::regressed : Verdict::improved;

  const std::size_t n1 = m.base_values.size();
  const std::size_t n2 = m.new_values.size();
  const double smallest = smallest_p_value(n1, n2);
  const bool few = n1 < options.min_repetitions || n2 < options.min_repetitions;
  if (few || smallest >= options.alpha) {
    m.warning = few ? fmt::format("too few repetitions to decide (BASE {}, NEW {}; at least {})",
                                  n1, n2, options.min_repetitions)
                    : fmt::format(
                          "too few repetitions to decide (BASE {}, NEW {}: the smallest possible "
                          "p is {:.3g}, not below alpha {:g})",
                          n1, n2, smallest, options.alpha);
    if (options.allow_few) {
      m.verdict = large ? moved : Verdict::unchanged;
      m.warning += "; decided on the effect size alone (--allow-few)";
    } else {
      m.verdict = Verdict::unchanged;
    }
    return m;
  }
  m.verdict = (m.test->p_value < options.alpha && large) ? moved : Verdict::unchanged;
  return m;
}

namespace {

double sum_of(const std::vector<double>& values) {
  double total = 0;
  for (double v : values) total += v;
  return total;
}

std::size_t count_positive(const std::vector<double>& values) {
  return static_cast<std::size_t>(
      std::count_if(values.begin(), values.end(), [](double v) { return v > 0; }));
}

}  // namespace

void judge_wrong_results(MetricDiff& m) {
  if (m.new_values.empty()) return;  // NEW did not check its results: nothing to say
  const double new_total = sum_of(m.new_values);
  const double base_total = sum_of(m.base_values);
  if (new_total > 0) {
    m.verdict = Verdict::regressed;
    m.warning = fmt::format(
        "NEW has {:g} wrong element(s) in {} of {} repetition(s): wrong results are a regression "
        "whatever the statistics and thresholds say (a collective that returns wrong data is "
        "broken however fast it is, and one wrong repetition is enough to show it)",
        new_total, count_positive(m.new_values), m.new_values.size());
  } else if (base_total > 0) {
    m.verdict = Verdict::improved;
    m.warning = fmt::format("NEW has no wrong elements; BASE had {:g}", base_total);
  } else if (!m.base_values.empty()) {
    m.verdict = Verdict::unchanged;
    m.warning.clear();  // no wrong elements on either side: the repetition count does not matter
  }
}

// ---- Envelope ---------------------------------------------------------------------------------

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

const std::vector<std::string>& default_envelope_ignores() {
  static const std::vector<std::string> ignores = {
      // The process and where its thread happened to run when the envelope was captured.
      "pid",
      "placement.cpu",
      "cpu.frequency_cpu",
      "cpu.frequency_khz.cur",
      // GPU figures of the moment: clocks now, ECC counts since the driver loaded, and the PCIe
      // generation (GPUs lower it when idle) with the degraded flag that follows it; the
      // width, the maxima and the aggregate ECC counts are compared.
      "gpus.devices[*].clocks_mhz.sm",
      "gpus.devices[*].clocks_mhz.memory",
      "gpus.devices[*].ecc_errors.volatile_*",
      "gpus.devices[*].pcie.generation",
      "gpus.devices[*].pcie_degraded",
      "gpus.devices[*].pcie_degraded_reason",
      // Reasons for facts recorded as null: the facts themselves are compared; the reasons name
      // the CPU the capture ran on.
      "unavailable.*",
      // Launcher bookkeeping: job ids, session directories, rendezvous addresses and ports.
      "environment.FABRICBENCH_ROOT",
      "environment.OMPI_ARGV",
      "environment.OMPI_FILE_LOCATION",
      "environment.OMPI_MCA_ess_base_jobid",
      "environment.OMPI_MCA_initial_wdir",
      "environment.OMPI_MCA_orte_hnp_uri",
      "environment.OMPI_MCA_orte_local_daemon_uri",
      "environment.OMPI_MCA_orte_jobfam_session_dir",
      "environment.OMPI_MCA_orte_top_session_dir",
      "environment.OMPI_MCA_orte_precondition_transports",
      "environment.PMIX_DSTORE_*",
      "environment.PMIX_ID",
      "environment.PMIX_NAMESPACE",
      "environment.PMIX_SERVER_TMPDIR",
      "environment.PMIX_SERVER_URI*",
      "environment.PMIX_SYSTEM_TMPDIR",
      "environment.SLURM_JOB_ID",
      "environment.SLURM_JOBID",
      "environment.SLURM_STEP_ID",
      "environment.SLURM_STEPID",
      "environment.SLURM_TASK_PID",
      "environment.SLURM_JOB_START_TIME",
      "environment.SLURM_JOB_END_TIME",
      "environment.SLURM_SRUN_COMM_PORT",
      "environment.SLURM_STEP_LAUNCHER_PORT",
  };
  return ignores;
}

namespace {

std::string join_key(const std::string& path, const std::string& key) {
  if (path.empty()) return key;
  std::string out = path;
  out += '.';
  out += key;
  return out;
}

std::string scalar_text(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// The field that names the elements of an array of objects, or "" when none does uniquely.
std::string element_key(const json& array) {
  for (const char* key : {"name", "id", "bus_id", "port", "index"}) {
    std::set<std::string> seen;
    bool ok = true;
    for (const auto& e : array) {
      const auto it = e.find(key);
      if (it == e.end() || !(it->is_string() || it->is_number()) ||
          !seen.insert(scalar_text(*it)).second) {
        ok = false;
        break;
      }
    }
    if (ok) return key;
  }
  return {};
}

void flatten(const json& v, const std::string& path, std::map<std::string, json>& out) {
  if (v.is_object() && !v.empty()) {
    for (const auto& [key, value] : v.items()) flatten(value, join_key(path, key), out);
    return;
  }
  if (v.is_array() && !v.empty() &&
      std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_object(); })) {
    const std::string key = element_key(v);
    for (std::size_t i = 0; i < v.size(); ++i) {
      std::string p = path;
      p += '[';
      p += key.empty() ? std::to_string(i) : scalar_text(v[i][key]);
      p += ']';
      flatten(v[i], p, out);
    }
    return;
  }
  out[path] = v;
}

bool ignored(const std::string& path, const std::vector<std::string>& extra) {
  for (const auto& pattern : default_envelope_ignores()) {
    if (glob_match(pattern, path)) return true;
  }
  for (const auto& pattern : extra) {
    if (glob_match(pattern, path)) return true;
  }
  return false;
}

const json& ranks_of(const json& envelope) {
  static const json empty = json::array();
  const json& r = member(envelope, "ranks");
  return r.is_array() ? r : empty;
}

}  // namespace

std::map<std::string, json> flatten_envelope(const json& rank_envelope) {
  std::map<std::string, json> out;
  flatten(rank_envelope, "", out);
  return out;
}

std::vector<EnvelopeDifference> diff_envelopes(const json& base_envelope, const json& new_envelope,
                                               const std::vector<std::string>& extra_ignores) {
  const json& base_ranks = ranks_of(base_envelope);
  const json& new_ranks = ranks_of(new_envelope);
  std::vector<EnvelopeDifference> out;
  if (base_ranks.size() != new_ranks.size()) {
    EnvelopeDifference d;
    d.path = "ranks";
    d.base = base_ranks.size();
    d.next = new_ranks.size();
    d.all_ranks = true;
    out.push_back(std::move(d));
  }
  const std::size_t common = std::min(base_ranks.size(), new_ranks.size());
  // (path, BASE value, NEW value) -> ranks; "\x01" marks an absent value.
  std::map<std::tuple<std::string, std::string, std::string>, EnvelopeDifference> groups;
  for (std::size_t r = 0; r < common; ++r) {
    const auto a = flatten_envelope(base_ranks[r]);
    const auto b = flatten_envelope(new_ranks[r]);
    std::set<std::string> paths;
    for (const auto& [p, v] : a) paths.insert(p);
    for (const auto& [p, v] : b) paths.insert(p);
    for (const auto& p : paths) {
      if (ignored(p, extra_ignores)) continue;
      const auto ia = a.find(p);
      const auto ib = b.find(p);
      const bool in_a = ia != a.end();
      const bool in_b = ib != b.end();
      if (in_a && in_b && ia->second == ib->second) continue;
      const std::string ka = in_a ? ia->second.dump() : "\x01";
      const std::string kb = in_b ? ib->second.dump() : "\x01";
      auto& d = groups[{p, ka, kb}];
      if (d.ranks.empty()) {
        d.path = p;
        if (in_a) d.base = ia->second;
        if (in_b) d.next = ib->second;
      }
      d.ranks.push_back(static_cast<int>(r));
    }
  }
  for (auto& [key, d] : groups) {
    d.all_ranks = base_ranks.size() == new_ranks.size() && d.ranks.size() == common;
    out.push_back(std::move(d));
  }
  return out;
}

// ---- Matching ---------------------------------------------------------------------------------

const std::vector<std::string>& default_ignored_params() {
  static const std::vector<std::string> keys = {"repetitions", "id", "group", "varied"};
  return keys;
}

namespace {

void erase_dotted(json& obj, const std::string& dotted) {
  json* at = &obj;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = dotted.find('.', start);
    const std::string key = dotted.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!at->is_object()) return;
    if (dot == std::string::npos) {
      at->erase(key);
      return;
    }
    const auto it = at->find(key);
    if (it == at->end()) return;
    at = &*it;
    start = dot + 1;
  }
}

json identity_params(const CaseResult& c, const std::vector<std::string>& extra) {
  json p = c.params.is_object() ? c.params : json{{"id", c.id}};
  if (!c.params.is_object()) return p;  // no parameters recorded: the id is all there is
  for (const auto& k : default_ignored_params()) erase_dotted(p, k);
  for (const auto& k : extra) erase_dotted(p, k);
  return p;
}

// The identity-relevant parameter paths whose values differ between two cases.
std::vector<std::string> differing_params(const CaseResult& a, const CaseResult& b,
                                          const std::vector<std::string>& extra) {
  std::map<std::string, json> fa;
  std::map<std::string, json> fb;
  flatten(identity_params(a, extra), "", fa);
  flatten(identity_params(b, extra), "", fb);
  std::vector<std::string> out;
  if (a.suite != b.suite) out.push_back("suite");
  if (a.transport != b.transport) out.push_back("transport");
  std::set<std::string> paths;
  for (const auto& [p, v] : fa) paths.insert(p);
  for (const auto& [p, v] : fb) paths.insert(p);
  for (const auto& p : paths) {
    const auto ia = fa.find(p);
    const auto ib = fb.find(p);
    if (ia == fa.end() || ib == fb.end() || ia->second != ib->second) {
      if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    }
  }
  return out;
}

std::string join_list(const std::vector<std::string>& items, std::size_t most) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < most; ++i) {
    if (i > 0) out += ", ";
    out += items[i];
  }
  if (items.size() > most) out += fmt::format(" and {} more", items.size() - most);
  return out;
}

std::string why_not_ok(const CaseResult& c, const char* role) {
  if (c.status == CaseStatus::skipped) {
    return fmt::format("skipped in {}{}{}", role, c.skip_reason.empty() ? "" : ": ", c.skip_reason);
  }
  std::string out = fmt::format("failed in {}", role);
  if (!c.errors.empty()) {
    const auto& e = c.errors.front();
    out += fmt::format(" (rank {} {}: {})", e.rank, e.kind, e.message);
  }
  return out;
}

CaseDiff compare_case(const CaseResult& b, const CaseResult& n, const Options& options) {
  CaseDiff cd;
  cd.id = n.id;
  cd.base_id = b.id;
  cd.new_id = n.id;
  cd.suite = n.suite;
  cd.transport = n.transport;
  std::vector<std::string> notes;
  if (b.id != n.id) notes.push_back("matched by parameters; BASE id " + b.id);
  if (b.status != CaseStatus::ok || n.status != CaseStatus::ok) {
    if (b.status != CaseStatus::ok) notes.push_back(why_not_ok(b, "BASE"));
    if (n.status != CaseStatus::ok) notes.push_back(why_not_ok(n, "NEW"));
    cd.verdict = Verdict::not_comparable;
    cd.note = join_list(notes, notes.size());
    return cd;
  }
  const auto pooled = options.base_values.find(b.id);
  auto base_values = pooled == options.base_values.end() ? metric_values(b) : pooled->second;
  auto new_values = metric_values(n);
  for (const auto& def : metric_table()) {
    const auto ib = base_values.find(def.name);
    const auto in = new_values.find(def.name);
    if (ib == base_values.end() && in == new_values.end()) continue;
    std::vector<double> bv = ib == base_values.end() ? std::vector<double>{} : ib->second;
    std::vector<double> nv = in == new_values.end() ? std::vector<double>{} : in->second;
    const std::size_t nb = bv.size();
    const std::size_t nn = nv.size();
    MetricDiff m = compare_metric(def.name, def.direction, std::move(bv), std::move(nv), options);
    if (m.name == kWrongMetric) judge_wrong_results(m);
    // Repetitions without the figure (e.g. a recovery that never reached 90%: null) are left
    // out of the test; say so, since they may be the interesting ones.
    std::vector<std::string> gaps;
    if (nb > 0 && nb < b.repetitions.size()) {
      gaps.push_back(fmt::format("BASE: {} of {} repetitions without a value",
                                 b.repetitions.size() - nb, b.repetitions.size()));
    }
    if (nn > 0 && nn < n.repetitions.size()) {
      gaps.push_back(fmt::format("NEW: {} of {} repetitions without a value",
                                 n.repetitions.size() - nn, n.repetitions.size()));
    }
    for (const auto& g : gaps) {
      if (!m.warning.empty()) m.warning += "; ";
      m.warning += g;
    }
    cd.metrics.push_back(std::move(m));
  }
  if (b.summary.is_object() && n.summary.is_object() && b.summary.contains("map") &&
      n.summary.contains("map")) {
    for (auto& m : compare_maps(b.summary["map"], n.summary["map"], options)) {
      cd.metrics.push_back(std::move(m));
    }
  }
  auto any = [&](Verdict v) {
    return std::any_of(cd.metrics.begin(), cd.metrics.end(),
                       [v](const MetricDiff& m) { return m.verdict == v; });
  };
  if (any(Verdict::regressed)) {
    cd.verdict = Verdict::regressed;
  } else if (any(Verdict::improved)) {
    cd.verdict = Verdict::improved;
  } else if (any(Verdict::unchanged)) {
    cd.verdict = Verdict::unchanged;
  } else {
    cd.verdict = Verdict::not_comparable;
    notes.push_back(cd.metrics.empty() ? "no metrics measured"
                                       : "no metric measured on both sides");
  }
  cd.note = join_list(notes, notes.size());
  return cd;
}

RunInfo run_info(const RunDocument& d, const std::string& label) {
  RunInfo info;
  info.label = label;
  info.run_id = d.run_id;
  info.tool_version = d.tool_version;
  info.tool_revision = d.tool_revision;
  info.status = to_string(d.status);
  info.ranks = d.ranks;
  info.cases = d.cases.size();
  return info;
}

}  // namespace

std::string case_identity(const CaseResult& c, const std::vector<std::string>& extra_ignores) {
  return json{
      {"suite", c.suite}, {"transport", c.transport}, {"params", identity_params(c, extra_ignores)}}
      .dump();
}

namespace {

constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

// Which case of the other run each case is paired with (kNone: none).
struct Matching {
  std::vector<std::size_t> base;  // per BASE case, its NEW case
  std::vector<std::size_t> next;  // per NEW case, its BASE case
};

// Pairs the cases of BASE and NEW of the same identity: first those with the same id, then the
// others in order (a renamed case).
Matching match_cases(const RunDocument& base, const RunDocument& next, const Options& options) {
  std::vector<std::string> base_ids;
  std::vector<std::string> new_ids;
  for (const auto& c : base.cases) base_ids.push_back(case_identity(c, options.ignore_params));
  for (const auto& c : next.cases) new_ids.push_back(case_identity(c, options.ignore_params));
  Matching m{std::vector<std::size_t>(base.cases.size(), kNone),
             std::vector<std::size_t>(next.cases.size(), kNone)};
  for (const bool same_id : {true, false}) {
    for (std::size_t j = 0; j < next.cases.size(); ++j) {
      if (m.next[j] != kNone) continue;
      for (std::size_t i = 0; i < base.cases.size(); ++i) {
        if (m.base[i] != kNone || base_ids[i] != new_ids[j]) continue;
        if (same_id && base.cases[i].id != next.cases[j].id) continue;
        m.base[i] = j;
        m.next[j] = i;
        break;
      }
    }
  }
  return m;
}

// The unpaired case of `cases` with this id, or nullptr.
const CaseResult* same_id_unmatched(const std::vector<CaseResult>& cases,
                                    const std::vector<std::size_t>& match, const std::string& id) {
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (match[i] == kNone && cases[i].id == id) return &cases[i];
  }
  return nullptr;
}

// A case of one run only: new (only in NEW) or missing (only in BASE). An unpaired case of the
// same id in the other run is named in the note with the parameters that differ.
CaseDiff one_sided(const CaseResult& c, bool only_in_new, const std::vector<CaseResult>& other,
                   const std::vector<std::size_t>& other_match, const Options& options) {
  CaseDiff cd;
  cd.id = c.id;
  (only_in_new ? cd.new_id : cd.base_id) = c.id;
  cd.suite = c.suite;
  cd.transport = c.transport;
  cd.verdict = only_in_new ? Verdict::added : Verdict::missing;
  cd.note = only_in_new ? "only in NEW" : "only in BASE";
  if (only_in_new && c.status == CaseStatus::ok) {
    // Nothing to compare a new case with, but wrong results need no comparison.
    auto values = metric_values(c);
    const auto wrong = values.find(kWrongMetric);
    if (wrong != values.end() && sum_of(wrong->second) > 0) {
      MetricDiff m = compare_metric(kWrongMetric, Direction::lower_is_better, {},
                                    std::move(wrong->second), options);
      judge_wrong_results(m);
      cd.metrics.push_back(std::move(m));
    }
  }
  if (const CaseResult* o = same_id_unmatched(other, other_match, c.id)) {
    const CaseResult& b = only_in_new ? *o : c;
    const CaseResult& n = only_in_new ? c : *o;
    cd.note = std::string(only_in_new ? "BASE" : "NEW") + " has this id with other parameters: " +
              join_list(differing_params(b, n, options.ignore_params), 6);
  }
  return cd;
}

}  // namespace

DiffResult diff_runs(const RunDocument& base, const RunDocument& next, const Options& options,
                     const std::string& base_label, const std::string& new_label) {
  DiffResult r;
  r.base = run_info(base, base_label);
  r.next = run_info(next, new_label);
  r.options = options;
  if (base.status != RunStatus::complete) {
    r.notes.push_back(fmt::format("BASE run is {}: it may lack cases", to_string(base.status)));
  }
  if (next.status != RunStatus::complete) {
    r.notes.push_back(fmt::format("NEW run is {}: it may lack cases", to_string(next.status)));
  }
  const Matching m = match_cases(base, next, options);
  for (std::size_t j = 0; j < next.cases.size(); ++j) {
    if (m.next[j] != kNone) {
      r.cases.push_back(compare_case(base.cases[m.next[j]], next.cases[j], options));
    } else {
      r.cases.push_back(one_sided(next.cases[j], true, base.cases, m.base, options));
    }
  }
  for (std::size_t i = 0; i < base.cases.size(); ++i) {
    if (m.base[i] == kNone) {
      r.cases.push_back(one_sided(base.cases[i], false, next.cases, m.next, options));
    }
  }
  r.envelope = diff_envelopes(base.envelope, next.envelope, options.ignore_envelope);
  return r;
}

Counts DiffResult::counts() const {
  Counts c;
  for (const auto& cd : cases) {
    switch (cd.verdict) {
      case Verdict::added:
        ++c.added;
        break;
      case Verdict::missing:
        ++c.missing;
        break;
      case Verdict::not_comparable:
        ++c.not_comparable;
        break;
      default:
        ++c.compared;
        break;
    }
    for (const auto& m : cd.metrics) {
      if (!m.warning.empty()) ++c.warnings;
      switch (m.verdict) {
        case Verdict::improved:
          ++c.improved;
          break;
        case Verdict::regressed:
          ++c.regressed;
          break;
        case Verdict::unchanged:
          ++c.unchanged;
          break;
        default:
          ++c.metrics_not_comparable;
          break;
      }
    }
  }
  return c;
}

bool DiffResult::has_regression() const {
  return counts().regressed > 0;
}

RunDocument read_for_diff(const std::string& path, const std::string& role) {
  try {
    return read_run_document(path);
  } catch (const core::Error& e) {
    config_error(role + " run document: " + e.what());
  } catch (const std::exception& e) {
    config_error(role + " run document " + path + ": " + e.what());
  }
}

}  // namespace fabricbench::results::diff
