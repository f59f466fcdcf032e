#pragma once
// `fabricbench diff BASE NEW`: compares two run documents case by case (docs/DIFF.md).
//
// Cases are matched by identity (suite, transport and the resolved parameters less the fields
// that do not change what is measured). Every metric of a matched case is decided from its
// per-repetition values by a two-sided Mann-Whitney U test (alpha) combined with a minimum
// relative change of the medians (threshold): improved, regressed or unchanged. The envelopes of
// the two runs are flattened to path -> value and their differences listed beside the verdicts.
// diff.cpp holds the statistics and the comparison, diff_render.cpp the outputs.
#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/run_document.hpp"

namespace fabricbench::results::diff {

// ---- Statistics -------------------------------------------------------------------------------

struct MannWhitneyResult {
  double u = 0;        // U of the first sample: pairs (a, b) with a > b, plus half the ties
  double p_value = 1;  // two-sided
  bool exact = false;  // exact permutation distribution (else normal approximation)
};

// Samples up to this size (both) get the exact distribution of the rank sum, conditional on the
// tie pattern (midranks); larger ones the normal approximation with tie and continuity
// correction.
inline constexpr std::size_t kExactMaxSampleSize = 20;

// Two-sided Mann-Whitney U test of a against b. Throws std::invalid_argument when either sample
// is empty or holds a non-finite value.
MannWhitneyResult mann_whitney_u(std::span<const double> a, std::span<const double> b);

// The smallest two-sided p-value the test can give for sample sizes n1, n2 (2 / C(n1+n2, n1),
// at most 1): when it is above alpha no data can be significant.
double smallest_p_value(std::size_t n1, std::size_t n2);

// Median (the mean of the two middle values for an even count). Requires a non-empty sample.
double median(std::vector<double> values);

// ---- Metrics ----------------------------------------------------------------------------------

enum class Direction { lower_is_better, higher_is_better };
const char* to_string(Direction d) noexcept;  // "lower" | "higher"

struct MetricDef {
  const char* name;  // as in outputs and in the thresholds file
  Direction direction;
  const char* source;  // where each repetition's value comes from (docs)
};
// Every metric diff knows, in output order.
const std::vector<MetricDef>& metric_table();
const MetricDef* find_metric(const std::string& name) noexcept;

// One value per repetition (repetitions without the figure are left out), per metric name, for
// the metrics this case has. A regime case's histogram lat_p99_ns is left out: the headline's
// regime.lat_p99_ns is the same figure.
std::map<std::string, std::vector<double>> metric_values(const CaseResult& c);

// ---- Options ----------------------------------------------------------------------------------

struct Options {
  double alpha = 0.05;                           // significance level of the U test
  double threshold_pct = 5.0;                    // minimum |relative change of medians|, percent
  std::map<std::string, double> thresholds_pct;  // per-metric overrides (metric name -> percent)
  std::size_t min_repetitions = 3;               // fewer on either side: "too few repetitions"
  bool allow_few = false;                        // then decide on the effect size alone
  std::vector<std::string> ignore_params;        // extra dotted params keys left out of identity
  std::vector<std::string> ignore_envelope;      // extra glob patterns of envelope paths to ignore
  // BASE values that replace those of BASE's repetitions, per BASE case id and metric name: a
  // baseline's pooled values (results/baseline.hpp). Cases not in it use their repetitions.
  std::map<std::string, std::map<std::string, std::vector<double>>> base_values;

  double threshold_for(const std::string& metric) const;
};

// Reads a thresholds file (YAML mapping: metric name -> percent, a number or "7.5%"; the key
// `default` sets the default) into options. Throws core::Error(config) naming the file.
void load_thresholds_file(const std::string& path, Options& options);

// ---- Comparison -------------------------------------------------------------------------------

enum class Verdict { improved, regressed, unchanged, added, missing, not_comparable };
// "improved", "regressed", "unchanged", "new", "missing", "not_comparable"
const char* to_string(Verdict v) noexcept;

struct MetricDiff {
  std::string name;
  Direction direction = Direction::lower_is_better;
  std::vector<double> base_values;  // one per repetition
  std::vector<double> new_values;
  std::optional<double> base_median;
  std::optional<double> new_median;
  // (new - base) / |base| of the medians; +-infinity when base is 0 and new is not.
  std::optional<double> change;
  std::optional<MannWhitneyResult> test;  // absent when a side has no values
  double threshold_pct = 0;
  Verdict verdict = Verdict::not_comparable;
  std::string warning;  // e.g. "too few repetitions to decide ..."; empty when none
};

// Decides one metric from the two samples (either may be empty: not_comparable).
MetricDiff compare_metric(const std::string& name, Direction direction,
                          std::vector<double> base_values, std::vector<double> new_values,
                          const Options& options);

// The metric of wrong results (collective cases): whenever NEW has any, the metric is regressed,
// whatever the test and the thresholds say, also for a case only in NEW (docs/DIFF.md).
inline constexpr const char* kWrongMetric = "collective.wrong";
// Applies that rule to a compared collective.wrong (improved when only BASE had wrong results,
// unchanged when neither had); the warning says why.
void judge_wrong_results(MetricDiff& m);

struct CaseDiff {
  std::string id;       // NEW's id, or BASE's for a missing case
  std::string base_id;  // empty when only in NEW
  std::string new_id;   // empty when only in BASE
  std::string suite;
  std::string transport;
  // added / missing / not_comparable for the case as a whole; for compared cases the worst of
  // the metrics: regressed > improved > unchanged.
  Verdict verdict = Verdict::not_comparable;
  std::string note;  // why not comparable, how it was matched, ...
  std::vector<MetricDiff> metrics;
};

struct EnvelopeDifference {
  std::string path;                    // flattened path, e.g. "kernel.release", "nics[eth0].mtu"
  std::optional<nlohmann::json> base;  // absent: the path is not in BASE
  std::optional<nlohmann::json> next;  // absent: the path is not in NEW
  std::vector<int> ranks;              // the ranks where the values are these
  bool all_ranks = false;              // every rank of both runs
};

// Paths of envelope facts that change from run to run without changing the host (pids, the CPU
// a thread happened to be on, launcher job ids and ports): glob patterns ('*' any characters,
// '?' one).
const std::vector<std::string>& default_envelope_ignores();

// A rank's envelope flattened to path -> value: object keys joined with '.', elements of arrays
// of objects named by their "name", "id", "bus_id", "port" or "index" ("nics[eth0].mtu"),
// other arrays (lists of numbers or strings) kept whole as one value.
std::map<std::string, nlohmann::json> flatten_envelope(const nlohmann::json& rank_envelope);

// Differences between doc.envelope.ranks[i] of both runs, grouped across ranks. A different
// number of ranks is reported as the path "ranks" with the two counts.
std::vector<EnvelopeDifference> diff_envelopes(const nlohmann::json& base_envelope,
                                               const nlohmann::json& new_envelope,
                                               const std::vector<std::string>& extra_ignores = {});

bool glob_match(std::string_view pattern, std::string_view text) noexcept;

// Params keys left out of a case's identity by default: repetitions (more repetitions measure
// the same thing), id, group and varied (names and how the matrix was written, not settings).
const std::vector<std::string>& default_ignored_params();

// The canonical identity of a case: suite, transport and params less the ignored keys.
std::string case_identity(const CaseResult& c, const std::vector<std::string>& extra_ignores = {});

struct RunInfo {
  std::string label;  // as given on the command line
  std::string run_id;
  std::string tool_version;
  std::string tool_revision;
  std::string status;
  int ranks = 0;
  std::size_t cases = 0;
};

struct Counts {
  // Metrics of compared cases.
  std::size_t improved = 0;
  std::size_t regressed = 0;
  std::size_t unchanged = 0;
  std::size_t warnings = 0;  // metrics with a warning (mostly: too few repetitions)
  std::size_t metrics_not_comparable = 0;
  // Cases.
  std::size_t compared = 0;
  std::size_t added = 0;
  std::size_t missing = 0;
  std::size_t not_comparable = 0;
};

struct DiffResult {
  RunInfo base;
  RunInfo next;
  Options options;
  std::vector<CaseDiff> cases;
  std::vector<EnvelopeDifference> envelope;
  std::vector<std::string> notes;  // about the runs as a whole (e.g. "BASE run is interrupted")

  Counts counts() const;
  bool has_regression() const;
};

DiffResult diff_runs(const RunDocument& base, const RunDocument& next, const Options& options,
                     const std::string& base_label = "BASE", const std::string& new_label = "NEW");

// Reads a run document for diff (a run.json or a run directory). Any problem (unreadable,
// not JSON, truncated, another schema or version, invalid content) is a core::Error(config)
// whose message names the role ("BASE"/"NEW") and the file.
RunDocument read_for_diff(const std::string& path, const std::string& role);

// ---- Outputs (diff_render.cpp) ----------------------------------------------------------------

enum class Format { table, markdown, json, junit };
Format parse_format(const std::string& text);  // throws core::Error(usage)

nlohmann::json to_json(const DiffResult& d);
std::string render(const DiffResult& d, Format format);
// One line: counts and the verdict ("no regression" / "N regression(s)").
std::string summary_line(const DiffResult& d);

}  // namespace fabricbench::results::diff
