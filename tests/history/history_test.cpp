// The history store (results/history.hpp): add / list / show on a temporary SQLite database,
// idempotent adds, trends with change points, and corrupt inputs.
#include "results/history.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "tests/diff/synthetic.hpp"

namespace fabricbench::results::history {
namespace {

using nlohmann::json;
namespace dt = difftest;

constexpr std::uint64_t kDay = 86'400'000'000'000ULL;

std::string fmt_id(int i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "202611%02dT020000Z-nightly-%04d", 1 + i % 28, i);
  return buf;
}

// Run `i` of a nightly series: a latency case whose level is `p50_ns`, a bandwidth case and a
// failed case; started i days after the first.
RunDocument nightly(int i, std::uint64_t p50_ns, double gbps) {
  RunDocument d = dt::make_document(fmt_id(i), dt::envelope("6.1.0-18-amd64", 1500, 1000 + i));
  d.started_ns += static_cast<std::uint64_t>(i) * kDay;
  d.config["resolved"] = {{"name", "nightly"}};
  CaseResult lat = dt::make_case("lat.pingpong.tcp.64B", "pingpong", 64);
  CaseResult bw = dt::make_case("bw.stream.tcp.1MiB", "stream", 1048576);
  for (int r = 0; r < 3; ++r) {
    lat.repetitions.push_back(dt::latency_rep(r, p50_ns + 4 * static_cast<std::uint64_t>(r)));
    bw.repetitions.push_back(dt::bandwidth_rep(r, gbps + 0.01 * r, 1.0));
  }
  summarize_case(lat);
  summarize_case(bw);
  CaseResult failed = dt::make_case("bad.pingpong.tcp.8B", "pingpong", 8);
  failed.status = CaseStatus::failed;
  failed.errors.push_back({1, "peer_lost", "gone"});
  d.cases = {lat, bw, failed};
  return d;
}

class History : public ::testing::Test {
 protected:
  dt::TempDir dir;
  std::string db_path;

  void SetUp() override { db_path = dir.file("h.sqlite"); }

  // Writes the document to <dir>/<name>/run.json and reads it back as `history add` does.
  StoredInput input(const RunDocument& d, const std::string& name) {
    std::filesystem::create_directories(dir.file(name));
    dt::write_text(dir.file(name) + "/run.json", to_json(d).dump() + "\n");
    return read_input(dir.file(name));
  }
};

TEST_F(History, AddListAndIdempotentAdd) {
  Database db(db_path, true);
  const auto first =
      db.add({input(nightly(0, 1000, 9.0), "r0"), input(nightly(1, 1000, 9.0), "r1")});
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].outcome, AddOutcome::added);
  EXPECT_EQ(first[1].id, 2);

  // The same run again: nothing changes.
  const auto again = db.add({input(nightly(0, 1000, 9.0), "r0-copy")});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].outcome, AddOutcome::unchanged);
  EXPECT_EQ(again[0].id, 1);

  const auto rows = db.list();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, 1);
  EXPECT_EQ(rows[0].run_id, fmt_id(0));
  EXPECT_EQ(rows[0].experiment, "nightly");
  EXPECT_EQ(rows[0].status, "complete");
  EXPECT_EQ(rows[0].host, "node1");
  EXPECT_EQ(rows[0].cases, 3u);
  EXPECT_EQ(rows[1].started_ns - rows[0].started_ns, kDay);
  EXPECT_TRUE(db.list("other").empty());

  // The same run id with another document (a run recovered or finished later): replaced in
  // place, same history id, metrics rebuilt.
  RunDocument changed = nightly(1, 2000, 9.0);
  changed.status = RunStatus::interrupted;
  const auto updated = db.add({input(changed, "r1b")});
  EXPECT_EQ(updated[0].outcome, AddOutcome::updated);
  EXPECT_EQ(updated[0].id, 2);
  const auto after = db.list();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1].status, "interrupted");
  ShowQuery q;
  q.metric = "lat_p50_ns";
  const auto series = db.show(q);
  ASSERT_EQ(series.size(), 1u);
  ASSERT_EQ(series[0].points.size(), 2u);
  EXPECT_NEAR(series[0].points[1].median, 2004, 2004 * 0.004);

  // The stored text is the file as read.
  EXPECT_EQ(*db.document(fmt_id(0)), to_json(nightly(0, 1000, 9.0)).dump() + "\n");
  EXPECT_FALSE(db.document("nope").has_value());

  const std::string table = render_list(db.list(), Format::table);
  EXPECT_NE(table.find("nightly"), std::string::npos) << table;
  EXPECT_NE(table.find("2 run(s)"), std::string::npos) << table;
  const json j = json::parse(render_list(db.list(), Format::json));
  EXPECT_EQ(j["runs"].size(), 2u);
  EXPECT_EQ(j["runs"][1]["status"], "interrupted");
}

TEST_F(History, ReopenedDatabaseKeepsRuns) {
  { Database(db_path, true).add({input(nightly(0, 1000, 9.0), "r0")}); }
  Database ro(db_path, false);
  EXPECT_EQ(ro.list().size(), 1u);
}

TEST_F(History, ShowFindsTheRunWhereAShiftBegan) {
  Database db(db_path, true);
  std::vector<StoredInput> inputs;
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0.0, 0.01);
  // 20 nights: latency 1000 ns until night 11, then 1150 (+15%); bandwidth flat.
  for (int i = 0; i < 20; ++i) {
    const double level = i < 11 ? 1000.0 : 1150.0;
    inputs.push_back(input(
        nightly(i, static_cast<std::uint64_t>(level * (1 + noise(rng))), 9.0 * (1 + noise(rng))),
        "r" + std::to_string(i)));
  }
  // Added out of order: the series follows the start times.
  std::reverse(inputs.begin(), inputs.end());
  db.add(inputs);

  ShowQuery q;
  q.metric = "lat_p50_ns";
  q.case_filter = "pingpong";  // a substring
  auto series = db.show(q);
  ASSERT_EQ(series.size(), 1u);  // the failed case has no metrics
  const CaseSeries& s = series[0];
  EXPECT_EQ(s.case_id, "lat.pingpong.tcp.64B");
  ASSERT_EQ(s.points.size(), 20u);
  EXPECT_EQ(s.points[0].run_id, fmt_id(0));
  EXPECT_EQ(s.points[0].n, 3);
  ASSERT_EQ(s.change_points.size(), 1u);
  EXPECT_EQ(s.change_points[0].index, 11u);
  EXPECT_EQ(s.points[s.change_points[0].index].run_id, fmt_id(11));

  const std::string table = render_show(q, series, Format::table);
  EXPECT_NE(table.find("shift began at run " + fmt_id(11)), std::string::npos) << table;
  const json j = json::parse(render_show(q, series, Format::json));
  EXPECT_EQ(j["metric"], "lat_p50_ns");
  EXPECT_EQ(j["better"], "lower");
  ASSERT_EQ(j["cases"][0]["change_points"].size(), 1u);
  EXPECT_EQ(j["cases"][0]["change_points"][0]["run_id"], fmt_id(11));
  EXPECT_EQ(j["cases"][0]["points"].size(), 20u);

  // Bandwidth: flat, no change point. Exact id match; experiment filter.
  q.metric = "bw_gbps";
  q.case_filter = "bw.stream.tcp.1MiB";
  series = db.show(q);
  ASSERT_EQ(series.size(), 1u);
  EXPECT_TRUE(series[0].change_points.empty());
  q.case_filter.clear();
  q.experiment = "other";
  EXPECT_TRUE(db.show(q).empty());
}

TEST_F(History, ShowErrors) {
  Database db(db_path, true);
  db.add({input(nightly(0, 1000, 9.0), "r0")});
  ShowQuery q;
  q.metric = "lat_p5_ns";
  try {
    db.show(q);
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::usage);
    EXPECT_NE(std::string(e.what()).find("known: lat_p50_ns"), std::string::npos);
  }
  q.metric = "lat_p50_ns";
  q.case_filter = "nothing-like-it";
  EXPECT_THROW(db.show(q), core::Error);
  // A metric no case has: empty, not an error.
  q.case_filter.clear();
  q.metric = "fault.stall_ns";
  EXPECT_TRUE(db.show(q).empty());
  EXPECT_NE(render_show(q, {}, Format::table).find("no stored run has fault.stall_ns"),
            std::string::npos);
}

TEST_F(History, CorruptInputsAreConfigErrors) {
  auto expect_config = [](auto&& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no error, expected " << needle;
    } catch (const core::Error& e) {
      EXPECT_EQ(core::exit_code_for(e.kind()), core::ExitCode::usage) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const std::string bad = dir.file("bad.json");
  dt::write_text(bad, "{\"schema\": \"fabricbench.run\", \"schema_ver");
  expect_config([&] { read_input(bad); }, "not valid JSON");
  json j = to_json(nightly(0, 1000, 9.0));
  j["cases"][0]["repetitions"][0]["bytes"] = "lots";
  dt::write_text(bad, j.dump());
  expect_config([&] { read_input(bad); }, "cases[0].repetitions[0].bytes");
  expect_config([&] { read_input(dir.file("missing.json")); }, "cannot be read");

  // Not a database at all.
  const std::string junk = dir.file("junk.sqlite");
  dt::write_text(junk, std::string(4096, 'x'));
  expect_config([&] { Database(junk, true); }, "not a database");
  // Another application's SQLite database.
  const std::string foreign = dir.file("foreign.sqlite");
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(foreign.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE t (x)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);
  }
  expect_config([&] { Database(foreign, true); }, "not a fabricbench history");
  // list / show never create one.
  expect_config([&] { Database(dir.file("nope.sqlite"), false); }, "does not exist");
  const std::string empty = dir.file("empty.sqlite");
  dt::write_text(empty, "");
  expect_config([&] { Database(empty, false); }, "empty");
  // A newer schema.
  { Database made(dir.file("newer.sqlite"), true); }
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(dir.file("newer.sqlite").c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version = 9", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);
  }
  expect_config([&] { Database(dir.file("newer.sqlite"), true); }, "newer fabricbench");
}

}  // namespace
}  // namespace fabricbench::results::history
