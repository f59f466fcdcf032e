// `fabricbench history`: the SQLite store, the series of one metric and change-point detection
// (docs/HISTORY.md "History").
#include "results/history.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <fmt/core.h>

#include "core/error.hpp"
#include "results/config_error.hpp"
#include "results/diff.hpp"
#include "results/json_read.hpp"

namespace fabricbench::results::history {

namespace fs = std::filesystem;
using detail::config_error;
using detail::member;
using nlohmann::json;

// ---- Change points ----------------------------------------------------------------------------

namespace {

// The scan over one segment: midranks of its points and, per allowed split k (left size), the
// mean and standard deviation of the left sample's U under no change.
struct Scan {
  std::vector<double> rank;
  std::size_t min_segment = 0;
  std::vector<double> mean;  // index k - min_segment
  std::vector<double> sd;

  Scan(std::span<const double> x, std::size_t min_seg) : rank(x.size()), min_segment(min_seg) {
    const std::size_t m = x.size();
    std::vector<std::size_t> order(m);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
    double tie_term = 0;
    for (std::size_t i = 0; i < m;) {
      std::size_t j = i;
      while (j < m && x[order[j]] == x[order[i]]) ++j;
      const double mid = static_cast<double>(i + 1 + j) / 2.0;  // ranks i+1 .. j
      for (std::size_t t = i; t < j; ++t) rank[order[t]] = mid;
      const double t = static_cast<double>(j - i);
      tie_term += t * t * t - t;
      i = j;
    }
    const double dm = static_cast<double>(m);
    const double tie_factor = (dm + 1.0) - tie_term / (dm * (dm - 1.0));
    for (std::size_t k = min_segment; k + min_segment <= m; ++k) {
      const double n1 = static_cast<double>(k);
      const double n2 = dm - n1;
      mean.push_back(n1 * n2 / 2.0);
      sd.push_back(std::sqrt(std::max(0.0, n1 * n2 / 12.0 * tie_factor)));
    }
  }

  std::size_t splits() const { return mean.size(); }

  // The largest normalized |U - mean| over the splits of `ranks` (an arrangement of `rank`),
  // and the split (left size) where it is (the first of equals).
  std::pair<double, std::size_t> max_z(const std::vector<double>& ranks) const {
    double best = -1;
    std::size_t at = 0;
    double r1 = 0;
    for (std::size_t k = 1; k + min_segment <= ranks.size(); ++k) {
      r1 += ranks[k - 1];
      if (k < min_segment) continue;
      const std::size_t i = k - min_segment;
      const double n1 = static_cast<double>(k);
      const double u = r1 - n1 * (n1 + 1.0) / 2.0;
      const double z = sd[i] > 0 ? std::max(0.0, std::abs(u - mean[i]) - 0.5) / sd[i] : 0.0;
      if (z > best) {
        best = z;
        at = k;
      }
    }
    return {best, at};
  }
};

double relative_change(double before, double after) {
  if (before == 0) {
    return after == 0 ? 0.0
                      : (after > 0 ? std::numeric_limits<double>::infinity()
                                   : -std::numeric_limits<double>::infinity());
  }
  return (after - before) / std::abs(before);
}

// Permutation p-value of the observed maximum: the share of random rearrangements of the
// segment's ranks whose maximum is at least as large ((1 + count) / (1 + permutations)). Stops
// early once the p-value cannot fall below alpha (then it is a lower bound). Deterministic: its
// own Fisher-Yates shuffle on a fixed-seed mt19937_64.
double permutation_p_value(const Scan& scan, double observed, const ChangePointOptions& options,
                           std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> ranks = scan.rank;
  const double limit = options.alpha * static_cast<double>(options.permutations + 1);
  std::size_t count = 0;
  for (std::size_t done = 0; done < options.permutations; ++done) {
    for (std::size_t i = ranks.size() - 1; i > 0; --i) {
      std::swap(ranks[i], ranks[rng() % (i + 1)]);
    }
    if (scan.max_z(ranks).first >= observed - 1e-9) ++count;
    if (static_cast<double>(count + 1) > limit) break;  // p >= alpha whatever follows
  }
  return std::min(1.0,
                  static_cast<double>(count + 1) / static_cast<double>(options.permutations + 1));
}

// Sum of |v - median| over a sample (destroys its order).
double absolute_deviation(std::vector<double> v) {
  const double m = diff::median(v);
  double sum = 0;
  for (double e : v) sum += std::abs(e - m);
  return sum;
}

// Where the level changes: the split (left size, each side >= min_segment) minimizing the sum
// of absolute deviations from each side's median (the L1 analogue of least squares: it weighs
// the size of differences, which ranks do not, and is not pulled by single outliers). The
// first of equals.
std::size_t l1_split(std::span<const double> x, std::size_t min_segment) {
  std::size_t best_k = min_segment;
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t k = min_segment; k + min_segment <= x.size(); ++k) {
    const double cost = absolute_deviation(std::vector<double>(x.begin(), x.begin() + k)) +
                        absolute_deviation(std::vector<double>(x.begin() + k, x.end()));
    if (cost < best) {
      best = cost;
      best_k = k;
    }
  }
  return best_k;
}

void segment(std::span<const double> x, std::size_t offset, const ChangePointOptions& options,
             std::vector<ChangePoint>& out) {
  if (x.size() < 2 * options.min_segment) return;
  const Scan scan(x, options.min_segment);
  const double z = scan.max_z(scan.rank).first;
  if (!(z > 0)) return;  // every value equal
  const std::size_t k = l1_split(x, options.min_segment);
  ChangePoint cp;
  cp.index = offset + k;
  cp.z = z;
  cp.splits = scan.splits();
  const auto left = x.subspan(0, k);
  const auto right = x.subspan(k);
  cp.before_median = diff::median(std::vector<double>(left.begin(), left.end()));
  cp.after_median = diff::median(std::vector<double>(right.begin(), right.end()));
  cp.change = relative_change(cp.before_median, cp.after_median);
  // The effect size first: it is cheap, and a shift too small to report needs no test.
  if (std::abs(cp.change) * 100.0 < options.min_shift_pct) return;
  cp.p_value = permutation_p_value(scan, z, options,
                                   options.seed ^ (offset * 0x9e3779b97f4a7c15ULL) ^ x.size());
  if (!(cp.p_value < options.alpha)) return;
  out.push_back(cp);
  segment(left, offset, options, out);
  segment(right, offset + k, options, out);
}

}  // namespace

std::vector<ChangePoint> detect_change_points(std::span<const double> series,
                                              const ChangePointOptions& options) {
  if (options.min_segment == 0) throw std::invalid_argument("change points: min_segment 0");
  for (double v : series) {
    if (!std::isfinite(v)) throw std::invalid_argument("change points: non-finite value");
  }
  std::vector<ChangePoint> out;
  segment(series, 0, options, out);
  std::sort(out.begin(), out.end(),
            [](const ChangePoint& a, const ChangePoint& b) { return a.index < b.index; });
  return out;
}

// ---- Inputs -----------------------------------------------------------------------------------

StoredInput read_input(const std::string& path) {
  std::string file = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) file = (fs::path(path) / kDocumentFileName).string();
  std::ifstream in(file, std::ios::binary);
  if (!in) config_error("run document " + file + ": cannot be read");
  std::ostringstream ss;
  ss << in.rdbuf();
  StoredInput out;
  out.source = path;
  out.text = ss.str();
  const json j = detail::parse_bounded(out.text, "run document " + file);
  try {
    out.doc = run_document_from_json(j);
  } catch (const core::Error& e) {
    config_error("run document " + file + ": " + e.what());
  }
  return out;
}

std::string experiment_of(const RunDocument& doc) {
  const json& name = member(member(doc.config, "resolved"), "name");
  if (name.is_string() && !name.get<std::string>().empty()) return name.get<std::string>();
  const json& path = member(doc.config, "path");
  if (path.is_string() && !path.get<std::string>().empty()) return path.get<std::string>();
  return "unknown";
}

std::string host_of(const RunDocument& doc) {
  std::vector<std::string> hosts;
  const json& ranks = member(doc.envelope, "ranks");
  if (ranks.is_array()) {
    for (const auto& r : ranks) {
      const json& h = member(r, "hostname");
      if (!h.is_string()) continue;
      const std::string name = h.get<std::string>();
      if (std::find(hosts.begin(), hosts.end(), name) == hosts.end()) hosts.push_back(name);
    }
  }
  if (hosts.empty()) return "unknown";
  std::string out;
  for (const auto& h : hosts) {
    if (!out.empty()) out += ',';
    out += h;
  }
  return out;
}

const char* to_string(AddOutcome o) noexcept {
  switch (o) {
    case AddOutcome::added:
      return "added";
    case AddOutcome::unchanged:
      return "unchanged";
    case AddOutcome::updated:
      return "updated";
  }
  return "?";
}

// ---- SQLite -----------------------------------------------------------------------------------

namespace {

[[noreturn]] void sqlite_error(sqlite3* db, int rc, const std::string& path,
                               const std::string& what) {
  const int primary = rc & 0xff;
  const std::string message =
      fmt::format("history database {}: {} ({})", path,
                  db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc), what);
  // A file that is not a database, or a damaged one, is bad input (exit 2); anything else
  // (locked, I/O, full disk) a run-time failure (exit 1).
  const bool input = primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT ||
                     primary == SQLITE_SCHEMA || primary == SQLITE_FORMAT;
  throw core::Error(input ? core::ErrorKind::config : core::ErrorKind::runtime, message);
}

class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    const int rc = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
    if (rc != SQLITE_OK) sqlite_error(db, rc, path, "preparing a statement");
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, const std::string& v) {
    check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    check(sqlite3_bind_int64(s_, i, v));
    return *this;
  }
  Stmt& bind(int i, double v) {
    check(sqlite3_bind_double(s_, i, v));
    return *this;
  }
  // true: a row; false: done.
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite_error(db_, rc, path_, "running a statement");
  }
  void run() {
    while (step()) {
    }
  }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  std::int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  double dbl(int col) const { return sqlite3_column_double(s_, col); }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(s_, col);
    return p == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(p),
                                      static_cast<std::size_t>(sqlite3_column_bytes(s_, col)));
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) sqlite_error(db_, rc, path_, "binding a value");
  }
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* s_ = nullptr;
};

constexpr const char* kSchema = R"sql(
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY,
  run_id        TEXT    NOT NULL UNIQUE,
  started_ns    INTEGER NOT NULL,
  started_at    TEXT    NOT NULL,
  experiment    TEXT    NOT NULL,
  status        TEXT    NOT NULL,
  host          TEXT    NOT NULL,
  tool_version  TEXT    NOT NULL,
  tool_revision TEXT    NOT NULL,
  document      TEXT    NOT NULL
);
CREATE INDEX runs_by_started ON runs (started_ns);
CREATE INDEX runs_by_experiment ON runs (experiment, started_ns);
CREATE INDEX runs_by_status ON runs (status);
CREATE INDEX runs_by_host ON runs (host);
CREATE TABLE cases (
  run       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  case_id   TEXT    NOT NULL,
  identity  TEXT    NOT NULL,
  suite     TEXT    NOT NULL,
  transport TEXT    NOT NULL,
  status    TEXT    NOT NULL,
  PRIMARY KEY (run, case_id)
);
CREATE INDEX cases_by_identity ON cases (identity);
CREATE TABLE metrics (
  run     INTEGER NOT NULL,
  case_id TEXT    NOT NULL,
  metric  TEXT    NOT NULL,
  median  REAL    NOT NULL,
  n       INTEGER NOT NULL,
  PRIMARY KEY (run, case_id, metric),
  FOREIGN KEY (run, case_id) REFERENCES cases (run, case_id) ON DELETE CASCADE
);
CREATE INDEX metrics_by_metric ON metrics (metric, run);
)sql";

}  // namespace

Database::Database(const std::string& path, bool create) : path_(path) {
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  if (!create && !exists) {
    config_error("history database " + path +
                 ": does not exist (`fabricbench history add RUN... --db " + path +
                 "` creates it)");
  }
  if (exists && fs::is_directory(path, ec))
    config_error("history database " + path + ": is a directory");
  const int flags = create ? (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) : SQLITE_OPEN_READONLY;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    config_error("history database " + path + ": cannot open: " + message);
  }
  try {
    sqlite3_busy_timeout(db_, 10'000);
    std::int64_t app_id = 0;
    std::int64_t version = 0;
    std::int64_t tables = 0;
    {
      Stmt s(db_, path_, "PRAGMA application_id");
      if (s.step()) app_id = s.i64(0);
    }
    {
      Stmt s(db_, path_, "PRAGMA user_version");
      if (s.step()) version = s.i64(0);
    }
    {
      Stmt s(db_, path_, "SELECT count(*) FROM sqlite_master");
      if (s.step()) tables = s.i64(0);
    }
    if (app_id == kApplicationId) {
      if (version > kSchemaVersion) {
        config_error(
            fmt::format("history database {}: schema version {} was written by a newer "
                        "fabricbench (this one reads {})",
                        path, version, kSchemaVersion));
      }
    } else if (app_id == 0 && tables == 0) {
      if (!create) config_error("history database " + path + ": empty (no runs added yet)");
      exec("BEGIN IMMEDIATE");
      try {
        exec(kSchema);
        exec(fmt::format("PRAGMA application_id = {}", kApplicationId).c_str());
        exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion).c_str());
        exec("COMMIT");
      } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
    } else {
      config_error("history database " + path +
                   ": an SQLite database, but not a fabricbench history (application_id " +
                   std::to_string(app_id) + ")");
    }
    exec("PRAGMA foreign_keys = ON");
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Database::~Database() {
  if (db_ != nullptr) sqlite3_close(db_);
}

void Database::exec(const char* sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    const std::string message = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    const int primary = rc & 0xff;
    const bool input = primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT;
    throw core::Error(input ? core::ErrorKind::config : core::ErrorKind::runtime,
                      "history database " + path_ + ": " + message);
  }
}

std::vector<AddResult> Database::add(const std::vector<StoredInput>& inputs) {
  std::vector<AddResult> out;
  exec("BEGIN IMMEDIATE");
  try {
    Stmt find(db_, path_, "SELECT id, document FROM runs WHERE run_id = ?1");
    Stmt insert(
        db_, path_,
        "INSERT INTO runs (run_id, started_ns, started_at, experiment, status, host, "
        "tool_version, tool_revision, document) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    Stmt update(db_, path_,
                "UPDATE runs SET run_id = ?1, started_ns = ?2, started_at = ?3, experiment = ?4, "
                "status = ?5, host = ?6, tool_version = ?7, tool_revision = ?8, document = ?9 "
                "WHERE id = ?10");
    Stmt drop_metrics(db_, path_, "DELETE FROM metrics WHERE run = ?1");
    Stmt drop_cases(db_, path_, "DELETE FROM cases WHERE run = ?1");
    Stmt add_case(db_, path_,
                  "INSERT OR IGNORE INTO cases (run, case_id, identity, suite, transport, status) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    Stmt add_metric(db_, path_,
                    "INSERT OR IGNORE INTO metrics (run, case_id, metric, median, n) "
                    "VALUES (?1, ?2, ?3, ?4, ?5)");
    for (const auto& input : inputs) {
      const RunDocument& d = input.doc;
      AddResult r;
      r.run_id = d.run_id;
      r.source = input.source;
      find.reset();
      find.bind(1, d.run_id);
      std::optional<std::int64_t> existing;
      bool same_text = false;
      if (find.step()) {
        existing = find.i64(0);
        same_text = find.text(1) == input.text;
      }
      find.reset();
      if (existing) {
        if (same_text) {
          r.id = *existing;
          r.outcome = AddOutcome::unchanged;
          out.push_back(std::move(r));
          continue;
        }
      }
      Stmt& s = existing ? update : insert;
      s.reset();
      s.bind(1, d.run_id)
          .bind(2, static_cast<std::int64_t>(d.started_ns))
          .bind(3, format_rfc3339_ms(d.started_ns))
          .bind(4, experiment_of(d))
          .bind(5, std::string(to_string(d.status)))
          .bind(6, host_of(d))
          .bind(7, d.tool_version)
          .bind(8, d.tool_revision)
          .bind(9, input.text);
      if (existing) {
        s.bind(10, *existing);
        s.run();
        r.id = *existing;
        r.outcome = AddOutcome::updated;
        drop_metrics.reset();
        drop_metrics.bind(1, r.id).run();
        drop_cases.reset();
        drop_cases.bind(1, r.id).run();
      } else {
        s.run();
        r.id = sqlite3_last_insert_rowid(db_);
        r.outcome = AddOutcome::added;
      }
      for (const CaseResult& c : d.cases) {
        add_case.reset();
        add_case.bind(1, r.id)
            .bind(2, c.id)
            .bind(3, diff::case_identity(c))
            .bind(4, c.suite)
            .bind(5, c.transport)
            .bind(6, std::string(to_string(c.status)))
            .run();
        if (c.status != CaseStatus::ok) continue;
        for (const auto& [metric, values] : diff::metric_values(c)) {
          if (values.empty()) continue;
          add_metric.reset();
          add_metric.bind(1, r.id)
              .bind(2, c.id)
              .bind(3, metric)
              .bind(4, diff::median(values))
              .bind(5, static_cast<std::int64_t>(values.size()))
              .run();
        }
      }
      out.push_back(std::move(r));
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return out;
}

std::vector<RunRow> Database::list(const std::string& experiment) {
  Stmt s(db_, path_,
         "SELECT r.id, r.run_id, r.started_ns, r.experiment, r.status, r.host, r.tool_version, "
         "(SELECT count(*) FROM cases c WHERE c.run = r.id) FROM runs r "
         "WHERE ?1 = '' OR r.experiment = ?1 ORDER BY r.started_ns, r.id");
  s.bind(1, experiment);
  std::vector<RunRow> out;
  while (s.step()) {
    RunRow r;
    r.id = s.i64(0);
    r.run_id = s.text(1);
    r.started_ns = static_cast<std::uint64_t>(s.i64(2));
    r.experiment = s.text(3);
    r.status = s.text(4);
    r.host = s.text(5);
    r.tool_version = s.text(6);
    r.cases = static_cast<std::size_t>(s.i64(7));
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<std::string> Database::document(const std::string& run_id) {
  Stmt s(db_, path_, "SELECT document FROM runs WHERE run_id = ?1");
  s.bind(1, run_id);
  if (s.step()) return s.text(0);
  return std::nullopt;
}

std::vector<CaseSeries> Database::show(const ShowQuery& query) {
  if (diff::find_metric(query.metric) == nullptr) {
    std::string known;
    for (const auto& m : diff::metric_table()) {
      if (!known.empty()) known += ", ";
      known += m.name;
    }
    throw core::Error(core::ErrorKind::usage,
                      "unknown metric \"" + query.metric + "\" (known: " + known + ")");
  }
  Stmt s(db_, path_,
         "SELECT r.id, r.run_id, r.started_ns, c.case_id, c.identity, c.suite, c.transport, "
         "m.median, m.n FROM metrics m "
         "JOIN cases c ON c.run = m.run AND c.case_id = m.case_id "
         "JOIN runs r ON r.id = m.run "
         "WHERE m.metric = ?1 AND (?2 = '' OR r.experiment = ?2) "
         "ORDER BY r.started_ns, r.id, c.case_id");
  s.bind(1, query.metric).bind(2, query.experiment);
  std::vector<CaseSeries> series;
  std::map<std::string, std::size_t> by_identity;
  while (s.step()) {
    SeriesPoint p;
    p.history_id = s.i64(0);
    p.run_id = s.text(1);
    p.started_ns = static_cast<std::uint64_t>(s.i64(2));
    p.case_id = s.text(3);
    const std::string identity = s.text(4);
    p.median = s.dbl(7);
    p.n = static_cast<int>(s.i64(8));
    auto [it, inserted] = by_identity.emplace(identity, series.size());
    if (inserted) {
      CaseSeries cs;
      cs.identity = identity;
      series.push_back(std::move(cs));
    }
    CaseSeries& cs = series[it->second];
    cs.case_id = p.case_id;  // ends as the latest run's id
    cs.suite = s.text(5);
    cs.transport = s.text(6);
    cs.points.push_back(std::move(p));
  }

  if (!query.case_filter.empty()) {
    auto has = [&](const CaseSeries& cs, bool exact) {
      return std::any_of(cs.points.begin(), cs.points.end(), [&](const SeriesPoint& p) {
        return exact ? p.case_id == query.case_filter
                     : p.case_id.find(query.case_filter) != std::string::npos;
      });
    };
    const bool exact = std::any_of(series.begin(), series.end(),
                                   [&](const CaseSeries& cs) { return has(cs, true); });
    std::vector<CaseSeries> kept;
    for (auto& cs : series) {
      if (has(cs, exact)) kept.push_back(std::move(cs));
    }
    if (kept.empty()) {
      config_error(
          fmt::format("no stored case with metric {} matches \"{}\" (by id or part of one)",
                      query.metric, query.case_filter));
    }
    series = std::move(kept);
  }
  for (auto& cs : series) {
    std::vector<double> medians;
    for (const auto& p : cs.points) medians.push_back(p.median);
    cs.change_points = detect_change_points(medians, query.change_points);
  }
  return series;
}

// ---- Outputs ----------------------------------------------------------------------------------

Format parse_format(const std::string& text) {
  if (text == "table") return Format::table;
  if (text == "json") return Format::json;
  throw core::Error(core::ErrorKind::usage, "unknown format \"" + text + "\" (table or json)");
}

namespace {

// Left-aligned columns, two spaces apart; `right` marks right-aligned columns.
std::string render_table(const std::vector<std::vector<std::string>>& rows,
                         const std::vector<bool>& right) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = " ";
    for (std::size_t i = 0; i < row.size(); ++i) {
      const bool r = i < right.size() && right[i];
      const std::size_t pad = width[i] - row[i].size();
      line += ' ';
      if (r) line.append(pad, ' ');
      line += row[i];
      if (!r) line.append(pad, ' ');
      line += ' ';
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

std::string format_value(double v) {
  return fmt::format("{:.6g}", v);
}

std::string format_change(double change) {
  if (!std::isfinite(change)) return change > 0 ? "+inf" : "-inf";
  return fmt::format("{:+.1f}%", change * 100.0);
}

json change_pct_json(double change) {
  if (!std::isfinite(change)) return nullptr;
  return std::round(change * 1e6) / 1e4;
}

json round_sig(double v) {
  if (!std::isfinite(v)) return nullptr;
  return std::stod(fmt::format("{:.6g}", v));
}

}  // namespace

std::string render_list(const std::vector<RunRow>& rows, Format format) {
  if (format == Format::json) {
    json runs = json::array();
    for (const auto& r : rows) {
      runs.push_back({{"id", r.id},
                      {"run_id", r.run_id},
                      {"started_ns", r.started_ns},
                      {"started_at", format_rfc3339_ms(r.started_ns)},
                      {"experiment", r.experiment},
                      {"status", r.status},
                      {"host", r.host},
                      {"tool_version", r.tool_version},
                      {"cases", r.cases}});
    }
    return json{{"schema", "fabricbench.history.runs"}, {"schema_version", 1}, {"runs", runs}}.dump(
               2) +
           "\n";
  }
  if (rows.empty()) return "no runs stored\n";
  std::vector<std::vector<std::string>> table = {
      {"id", "started", "experiment", "status", "host", "cases", "run"}};
  for (const auto& r : rows) {
    table.push_back({std::to_string(r.id), format_rfc3339_ms(r.started_ns), r.experiment, r.status,
                     r.host, std::to_string(r.cases), r.run_id});
  }
  return render_table(table, {true, false, false, false, false, true, false}) +
         fmt::format("{} run(s)\n", rows.size());
}

json show_to_json(const ShowQuery& query, const std::vector<CaseSeries>& series) {
  const diff::MetricDef* def = diff::find_metric(query.metric);
  json cases = json::array();
  for (const auto& cs : series) {
    json points = json::array();
    for (const auto& p : cs.points) {
      points.push_back({{"history_id", p.history_id},
                        {"run_id", p.run_id},
                        {"started_ns", p.started_ns},
                        {"started_at", format_rfc3339_ms(p.started_ns)},
                        {"case_id", p.case_id},
                        {"median", p.median},
                        {"n", p.n}});
    }
    json cps = json::array();
    for (const auto& cp : cs.change_points) {
      const SeriesPoint& at = cs.points[cp.index];
      cps.push_back({{"index", cp.index},
                     {"history_id", at.history_id},
                     {"run_id", at.run_id},
                     {"started_at", format_rfc3339_ms(at.started_ns)},
                     {"before_median", cp.before_median},
                     {"after_median", cp.after_median},
                     {"change_pct", change_pct_json(cp.change)},
                     {"z", round_sig(cp.z)},
                     {"p_value", round_sig(cp.p_value)}});
    }
    cases.push_back({{"case_id", cs.case_id},
                     {"identity", cs.identity},
                     {"suite", cs.suite},
                     {"transport", cs.transport},
                     {"points", std::move(points)},
                     {"change_points", std::move(cps)}});
  }
  return {{"schema", "fabricbench.history.series"},
          {"schema_version", 1},
          {"metric", query.metric},
          {"better", def != nullptr ? diff::to_string(def->direction) : "?"},
          {"case_filter", query.case_filter},
          {"experiment", query.experiment},
          {"change_points",
           {{"method", "binary_segmentation_mann_whitney_permutation"},
            {"alpha", query.change_points.alpha},
            {"permutations", query.change_points.permutations},
            {"min_shift_pct", query.change_points.min_shift_pct},
            {"min_segment", query.change_points.min_segment}}},
          {"cases", std::move(cases)}};
}

std::string render_show(const ShowQuery& query, const std::vector<CaseSeries>& series,
                        Format format) {
  if (format == Format::json) return show_to_json(query, series).dump(2) + "\n";
  const diff::MetricDef* def = diff::find_metric(query.metric);
  std::string out = fmt::format(
      "{} ({} is better): per run, the median of its repetitions\n"
      "change points: binary segmentation, Mann-Whitney scan, permutation p < {:g}, shift >= "
      "{:g}%, >= {} runs a side\n",
      query.metric, def != nullptr ? diff::to_string(def->direction) : "?",
      query.change_points.alpha, query.change_points.min_shift_pct,
      query.change_points.min_segment);
  if (series.empty()) {
    out += fmt::format("no stored run has {}\n", query.metric);
    return out;
  }
  for (const auto& cs : series) {
    out += fmt::format("\ncase {} ({} over {}): {} run(s), {} change point(s)\n", cs.case_id,
                       cs.suite, cs.transport, cs.points.size(), cs.change_points.size());
    std::vector<std::vector<std::string>> table = {
        {"id", "started", "run", "reps", "median", "shift"}};
    for (std::size_t i = 0; i < cs.points.size(); ++i) {
      const auto& p = cs.points[i];
      std::string note;
      for (const auto& cp : cs.change_points) {
        if (cp.index == i) {
          note = fmt::format("<- {} from {} (p {:.2g})", format_change(cp.change),
                             format_value(cp.before_median), cp.p_value);
        }
      }
      std::string run = p.run_id;
      if (p.case_id != cs.case_id) {
        run += " (as ";
        run += p.case_id;
        run += ')';
      }
      table.push_back({std::to_string(p.history_id), format_rfc3339_ms(p.started_ns), run,
                       std::to_string(p.n), format_value(p.median), note});
    }
    out += render_table(table, {true, false, false, true, true, false});
    for (const auto& cp : cs.change_points) {
      const auto& at = cs.points[cp.index];
      out += fmt::format("shift began at run {} (id {}, {}): {} -> {} ({}), p {:.2g}\n", at.run_id,
                         at.history_id, format_rfc3339_ms(at.started_ns),
                         format_value(cp.before_median), format_value(cp.after_median),
                         format_change(cp.change), cp.p_value);
    }
  }
  return out;
}

}  // namespace fabricbench::results::history
