#pragma once
// `fabricbench history add|list|show`: run documents stored in SQLite, trends of one metric over
// the stored runs and change-point detection over them (docs/HISTORY.md "History").
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/run_document.hpp"

struct sqlite3;

namespace fabricbench::results::history {

inline constexpr const char* kDefaultDatabase = "fabricbench-history.sqlite";
// PRAGMA application_id of a history database ("FBHS") and its schema version (user_version).
inline constexpr std::int32_t kApplicationId = 0x46424853;
inline constexpr int kSchemaVersion = 1;

// ---- Change points ----------------------------------------------------------------------------

// Binary segmentation. Within a segment (at least 2 x min_segment points):
//  1. test: every split leaving at least min_segment points a side is scored by the normalized
//     Mann-Whitney statistic of left against right, |U - n1 n2 / 2| (continuity-corrected) over
//     its tie-corrected standard deviation; the p-value of the largest score comes from a
//     permutation test (the segment's ranks shuffled `permutations` times, fixed seed), so the
//     scan over many splits is accounted for exactly under "no change";
//  2. locate: the split minimizing the sum of absolute deviations from each side's median;
//  3. report it when p < alpha and the medians of the two sides differ by at least
//     min_shift_pct percent of the left median; then search both sides again.
struct ChangePointOptions {
  double alpha = 0.01;
  double min_shift_pct = 5.0;
  std::size_t min_segment = 3;
  std::size_t permutations = 999;
  std::uint64_t seed = 0x66616272696362ULL;  // any fixed value: results are reproducible
};

struct ChangePoint {
  std::size_t index = 0;     // first point of the new level (the run where the shift began)
  double before_median = 0;  // median of the segment's points before `index`
  double after_median = 0;   // ... from `index` on
  double change = 0;         // (after - before) / |before|; +-inf from a zero median
  double z = 0;              // the segment's largest normalized Mann-Whitney statistic
  double p_value = 1;        // its permutation p-value
  std::size_t splits = 0;    // splits scanned in the segment
};

// Change points in ascending order of index. Throws std::invalid_argument for non-finite values
// or min_segment 0.
std::vector<ChangePoint> detect_change_points(std::span<const double> series,
                                              const ChangePointOptions& options = {});

// ---- The database -----------------------------------------------------------------------------

// A run document ready to store: its text as read, the parsed document and where it came from.
struct StoredInput {
  std::string source;
  std::string text;
  RunDocument doc;
};

// Reads a run document (run.json or run directory) for `history add`: core::Error(config) for
// anything unreadable, not JSON or invalid, naming the file.
StoredInput read_input(const std::string& path);

// The indexed header of a run document, as stored.
std::string experiment_of(const RunDocument& doc);  // config.resolved.name, else config.path
std::string host_of(const RunDocument& doc);        // distinct hostnames of the ranks, ","-joined

struct RunRow {
  std::int64_t id = 0;  // history id (SQLite rowid)
  std::string run_id;
  std::uint64_t started_ns = 0;
  std::string experiment;
  std::string status;
  std::string host;
  std::string tool_version;
  std::size_t cases = 0;
};

enum class AddOutcome { added, unchanged, updated };
const char* to_string(AddOutcome o) noexcept;

struct AddResult {
  std::int64_t id = 0;
  std::string run_id;
  std::string source;
  AddOutcome outcome = AddOutcome::added;
};

struct SeriesPoint {
  std::int64_t history_id = 0;
  std::string run_id;
  std::uint64_t started_ns = 0;
  std::string case_id;  // the case's id in that run
  double median = 0;    // median of the run's repetitions of the metric
  int n = 0;            // repetitions with a value
};

struct CaseSeries {
  std::string case_id;  // of the latest run
  std::string identity;
  std::string suite;
  std::string transport;
  std::vector<SeriesPoint> points;  // by started time, then history id
  std::vector<ChangePoint> change_points;
};

struct ShowQuery {
  std::string metric;
  std::string case_filter;  // exact case id if one matches, else a substring of case ids
  std::string experiment;   // empty: all
  ChangePointOptions change_points;
};

class Database {
 public:
  // Opens (create: creates when missing) and checks the schema. core::Error(config) when the
  // file is not SQLite, not a history database, of a newer schema, or (create false) missing.
  Database(const std::string& path, bool create);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Stores runs in one transaction: new run ids are added; a run id already stored with the
  // same text is unchanged; with other text (e.g. the run was still running) it is replaced.
  std::vector<AddResult> add(const std::vector<StoredInput>& inputs);
  std::vector<RunRow> list(const std::string& experiment = {});
  // Series of one metric per case identity (cases with the metric in at least one run).
  std::vector<CaseSeries> show(const ShowQuery& query);
  std::optional<std::string> document(const std::string& run_id);

 private:
  void exec(const char* sql);
  std::string path_;
  sqlite3* db_ = nullptr;
};

// ---- Outputs ----------------------------------------------------------------------------------

enum class Format { table, json };
Format parse_format(const std::string& text);  // throws core::Error(usage)

std::string render_list(const std::vector<RunRow>& rows, Format format);
std::string render_show(const ShowQuery& query, const std::vector<CaseSeries>& series,
                        Format format);
nlohmann::json show_to_json(const ShowQuery& query, const std::vector<CaseSeries>& series);

}  // namespace fabricbench::results::history
