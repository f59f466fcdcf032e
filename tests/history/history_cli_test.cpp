// End to end through the binary: `fabricbench baseline`, `diff BASELINE NEW`, `history` and
// `openmetrics` exit codes and outputs on synthetic run documents.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "results/run_document.hpp"
#include "tests/cli/process.hpp"
#include "tests/diff/synthetic.hpp"

namespace fabricbench::results {
namespace {

using nlohmann::json;
namespace dt = difftest;

RunDocument nightly(const std::string& id, int day, double center_ns, std::mt19937_64& rng) {
  RunDocument d = dt::make_document(id, dt::envelope("6.1.0-18-amd64", 1500, 1000 + day));
  d.started_ns += static_cast<std::uint64_t>(day) * 86'400'000'000'000ULL;
  d.config["resolved"] = {{"name", "cli-nightly"}};
  CaseResult lat = dt::make_case("lat.pingpong.tcp.64B", "pingpong", 64);
  for (int i = 0; i < 5; ++i) {
    lat.repetitions.push_back(dt::noisy_rep(i, center_ns, 10.0, 0.01, rng));
    lat.repetitions.back().bw_gbps.reset();
    lat.repetitions.back().msg_rate_mops.reset();
  }
  summarize_case(lat);
  d.cases = {lat};
  return d;
}

class HistoryCli : public ::testing::Test {
 protected:
  dt::TempDir dir;
  std::mt19937_64 rng{11};

  std::string write(const RunDocument& d, const std::string& name) {
    const std::string path = dir.file(name);
    dt::write_text(path, to_json(d).dump() + "\n");
    return path;
  }

  fbtest::Result fb(std::vector<std::string> args) {
    args.insert(args.begin(), FABRICBENCH_BINARY);
    return fbtest::run_process(args, std::filesystem::path(dir.path()) / "proc",
                               std::chrono::seconds(60));
  }
};

TEST_F(HistoryCli, BaselineAndDiffAgainstIt) {
  const std::string r1 = write(nightly("r1", 0, 10000, rng), "r1.json");
  const std::string r2 = write(nightly("r2", 1, 10000, rng), "r2.json");
  const std::string r3 = write(nightly("r3", 2, 10000, rng), "r3.json");
  const std::string bl = dir.file("baseline.json");
  const auto made = fb({"baseline", r1, r2, r3, "-o", bl});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_NE(made.out.find("baseline of 3 run(s)"), std::string::npos) << made.out;
  EXPECT_EQ(json::parse(dt::read_text(bl))["schema"], "fabricbench.baseline");

  const std::string same = write(nightly("same", 3, 10000, rng), "same.json");
  const std::string slow = write(nightly("slow", 4, 11000, rng), "slow.json");
  const auto ok = fb({"diff", bl, same});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("BASE is a baseline of 3 run(s)"), std::string::npos) << ok.out;
  const auto regressed = fb({"diff", bl, slow, "--format", "json"});
  EXPECT_EQ(regressed.exit_code, 3) << regressed.out << regressed.err;
  EXPECT_EQ(json::parse(regressed.out)["cases"][0]["metrics"][0]["base"]["n"], 15);

  // NEW on another CPU: refused (2) with the reason, compared with --force.
  RunDocument other = nightly("other", 5, 10000, rng);
  for (auto& r : other.envelope["ranks"]) r["cpu"]["model"] = "Intel Xeon Gold 6338";
  const std::string o = write(other, "other.json");
  const auto refused = fb({"diff", bl, o});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("other hardware than the baseline"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("cpu.model"), std::string::npos) << refused.err;
  const auto forced = fb({"diff", bl, o, "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;

  // Runs of different hardware cannot make one baseline; corrupt input is exit 2.
  const auto mixed = fb({"baseline", r1, o, "-o", dir.file("mixed.json")});
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_NE(mixed.err.find("measured on other hardware"), std::string::npos) << mixed.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("mixed.json")));
  dt::write_text(dir.file("torn.json"), dt::read_text(r1).substr(0, 100));
  EXPECT_EQ(fb({"baseline", r1, dir.file("torn.json"), "-o", dir.file("x.json")}).exit_code, 2);
  json broken = json::parse(dt::read_text(bl));
  broken["cases"] = "none";
  dt::write_text(dir.file("broken-baseline.json"), broken.dump());
  const auto bad_base = fb({"diff", dir.file("broken-baseline.json"), same});
  EXPECT_EQ(bad_base.exit_code, 2);
  EXPECT_NE(bad_base.err.find("BASE baseline"), std::string::npos) << bad_base.err;
}

TEST_F(HistoryCli, HistoryAddListShow) {
  const std::string db = dir.file("h.sqlite");
  std::vector<std::string> runs;
  for (int day = 0; day < 18; ++day) {
    const double level = day < 10 ? 10000 : 11500;
    runs.push_back(write(nightly("night-" + std::to_string(100 + day), day, level, rng),
                         "n" + std::to_string(day) + ".json"));
  }
  std::vector<std::string> add = {"history", "add"};
  add.insert(add.end(), runs.begin(), runs.end());
  add.insert(add.end(), {"--db", db});
  const auto added = fb(add);
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_NE(added.out.find("18 run(s) in " + db), std::string::npos) << added.out;
  // Twice: idempotent.
  const auto again = fb(add);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("unchanged night-100"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("18 run(s) in"), std::string::npos) << again.out;

  const auto list = fb({"history", "list", "--db", db});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("cli-nightly"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("night-117"), std::string::npos);

  const auto show = fb({"history", "show", "lat_p50_ns", "--case", "pingpong", "--db", db});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("shift began at run night-110"), std::string::npos) << show.out;
  const auto js = fb({"history", "show", "lat_p50_ns", "--db", db, "--format", "json"});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  EXPECT_EQ(json::parse(js.out)["cases"][0]["change_points"][0]["run_id"], "night-110");

  // Errors: corrupt input stores nothing; unknown metric; no database.
  dt::write_text(dir.file("junk.json"), "not json");
  const auto junk =
      fb({"history", "add", runs[0], dir.file("junk.json"), "--db", dir.file("other.sqlite")});
  EXPECT_EQ(junk.exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir.file("other.sqlite")));
  EXPECT_EQ(fb({"history", "show", "lat_p5", "--db", db}).exit_code, 2);
  EXPECT_EQ(fb({"history", "list", "--db", dir.file("none.sqlite")}).exit_code, 2);
  dt::write_text(dir.file("garbage.sqlite"), std::string(2048, 'g'));
  const auto garbage = fb({"history", "list", "--db", dir.file("garbage.sqlite")});
  EXPECT_EQ(garbage.exit_code, 2);
  EXPECT_NE(garbage.err.find("not a database"), std::string::npos) << garbage.err;
}

TEST_F(HistoryCli, OpenMetrics) {
  const std::string run = write(dt::golden_new(), "run.json");
  const auto out = fb({"openmetrics", run});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, dt::read_text(dt::source_dir() + "/tests/history/golden/golden_new.om"));
  const std::string prom = dir.file("textfile/fabricbench.prom");
  std::filesystem::create_directories(dir.file("textfile"));
  const auto written = fb({"openmetrics", run, "-o", prom});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  EXPECT_EQ(dt::read_text(prom), out.out);
  dt::write_text(dir.file("bad.json"), "{}");
  EXPECT_EQ(fb({"openmetrics", dir.file("bad.json")}).exit_code, 2);
}

}  // namespace
}  // namespace fabricbench::results
