#pragma once
// `fabricbench baseline RUN... -o FILE`: a baseline document pooled from several run documents
// (docs/HISTORY.md "Baselines"). Per case identity (diff::case_identity) and metric
// (diff::metric_table), the repetition values of every run, less outliers (median +- k sigma,
// sigma from the MAD), and the hardware identity of the runs' hosts, so that `fabricbench diff
// BASELINE NEW` can compare NEW against the pooled values and refuse other hardware.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/diff.hpp"
#include "results/run_document.hpp"

namespace fabricbench::results::baseline {

inline constexpr const char* kSchemaName = "fabricbench.baseline";
inline constexpr int kSchemaVersion = 1;

// ---- Outlier rejection ------------------------------------------------------------------------

// A value v of a pooled sample is kept when |v - median| <= max(k * sigma, min_relative *
// |median|), sigma = 1.4826 * MAD (the median absolute deviation from the median; 1.4826 makes it
// the standard deviation for normal data). When the MAD is 0 (more than half the values equal)
// sigma falls back to 1.2533 * the mean absolute deviation from the median. Samples of fewer than
// min_values values are kept whole.
struct OutlierRule {
  double k = 3.0;
  double min_relative = 0.01;  // never reject within 1% of the median (histogram resolution)
  std::size_t min_values = 3;
};

inline constexpr double kMadScale = 1.4826;
inline constexpr double kMeanAbsScale = 1.2533;

struct Pooled {
  std::vector<double> kept;           // in input order
  std::vector<std::size_t> rejected;  // indexes into the input
  double median = 0;                  // of the whole sample
  double sigma = 0;                   // MAD-based (or mean-absolute-deviation) sigma
  double low = 0;                     // kept band [low, high]
  double high = 0;
};

// Requires a non-empty sample of finite values (std::invalid_argument otherwise).
Pooled reject_outliers(const std::vector<double>& values, const OutlierRule& rule = {});

// ---- Hardware identity ------------------------------------------------------------------------

// The hardware of one rank's host, from its envelope: {machine (kernel.machine), cpu: {model,
// sockets}, nics: [{name, driver}] of the NICs with a device driver (physical ones; virtual
// interfaces have none), rdma: [{name, vendor_id, vendor_part_id, fw_ver, link_layers}], gpus:
// [model, ...] sorted}. Facts that were not captured are null. The hostname is not part of it.
nlohmann::json host_hardware(const nlohmann::json& rank_envelope);
// A run's hardware identity: {"hosts": [...]}, the distinct host_hardware of its ranks, sorted.
nlohmann::json hardware_identity(const nlohmann::json& envelope);
// "path: A vs B" for every flattened path where two identities differ; empty when equal.
std::vector<std::string> hardware_differences(const nlohmann::json& a, const nlohmann::json& b,
                                              const std::string& a_name, const std::string& b_name);

// ---- The baseline document --------------------------------------------------------------------

struct SourceRun {
  std::string run_id;
  std::uint64_t started_ns = 0;
  std::string status;
  std::string tool_version;
  std::string tool_revision;
  std::string source;  // path as given
};

struct Rejected {
  std::string run_id;
  double value = 0;
};

struct PooledMetric {
  std::string name;
  std::vector<double> values;  // kept values: the BASE sample of a diff
  std::vector<Rejected> rejected;
  double median = 0;  // of the kept values
  double sigma = 0;
  double low = 0;
  double high = 0;
};

struct BaselineCase {
  std::string id;  // the id in the first run that has the case
  std::string suite;
  std::string transport;
  nlohmann::json params;              // resolved params of that run's case (diff matches on them)
  std::string identity;               // diff::case_identity
  std::vector<std::string> runs;      // run ids whose repetitions are pooled (ok cases only)
  std::vector<PooledMetric> metrics;  // diff::metric_table order
};

struct Baseline {
  std::vector<SourceRun> runs;
  OutlierRule rule;
  nlohmann::json hardware;  // hardware_identity, equal for every run
  int ranks = 0;
  nlohmann::json envelope;  // of the first run (diff lists envelope differences against it)
  std::vector<BaselineCase> cases;
  std::vector<std::string> notes;
  std::size_t rejected_count() const;
};

// Pools the runs (labels: the paths, for messages). Throws core::Error(config) when there are
// no runs, a run id is given twice, or the runs' hardware identities differ (naming both runs
// and the differing facts).
Baseline build_baseline(const std::vector<RunDocument>& runs,
                        const std::vector<std::string>& labels, const OutlierRule& rule = {});

nlohmann::json to_json(const Baseline& b);
Baseline baseline_from_json(const nlohmann::json& j);  // throws core::Error(config)
bool is_baseline_json(const nlohmann::json& j) noexcept;

// When `path` is a regular file holding a baseline document, reads it (a malformed baseline is
// a core::Error(config) naming the role and the file); otherwise nullopt (a run document or a
// run directory, or an unreadable path: read_for_diff then says why).
std::optional<Baseline> read_if_baseline(const std::string& path, const std::string& role);

// A run document standing for the baseline as diff's BASE: one ok case per baseline case
// (params, no repetitions), the first run's envelope, status complete.
RunDocument as_run_document(const Baseline& b);

// `fabricbench diff BASELINE NEW`: refuses (core::Error(config), exit 2) when NEW's hardware
// identity differs from the baseline's, unless `force` (then a note lists the differences).
// The BASE sample of every metric is the baseline's pooled values.
diff::DiffResult diff_against_baseline(const Baseline& b, const RunDocument& next,
                                       diff::Options options, bool force,
                                       const std::string& base_label = "BASE",
                                       const std::string& new_label = "NEW");

// Summary lines for the CLI: counts and every rejected value.
std::string describe(const Baseline& b);

}  // namespace fabricbench::results::baseline
