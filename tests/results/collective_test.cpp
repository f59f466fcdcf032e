// Repetition::collective (docs/RESULTS.md "Collectives"): the JSON round trip, summary.collective,
// the reader's checks, and the schema accepting a collective run.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "core/error.hpp"
#include "results/run_document.hpp"
#include "tests/results/collective_synthetic.hpp"
#include "tests/results/test_support.hpp"

namespace fabricbench::results {
namespace {

using nlohmann::json;
namespace ct = collectivetest;
using testing::reader_error;

TEST(CollectiveJson, RoundTripKeepsTheFiguresAndOmitsNull) {
  const RunDocument doc = ct::collective_document("20261123T100000Z-coll");
  const json first = to_json(doc);
  const RunDocument back = run_document_from_json(json::parse(first.dump()));
  EXPECT_EQ(to_json(back), first);
  ASSERT_EQ(back.cases.size(), doc.cases.size());
  const Repetition& a = doc.cases[0].repetitions[1];
  const Repetition& b = back.cases[0].repetitions[1];
  EXPECT_EQ(b.collective, a.collective);
  EXPECT_EQ(b.collective["out_of_place"]["busbw_gbytes_per_s"].get<double>(),
            a.collective["out_of_place"]["busbw_gbytes_per_s"].get<double>());
  EXPECT_EQ(b.collective["redop"], "sum");
  EXPECT_TRUE(back.cases[2].repetitions[0].collective["redop"].is_null());  // all_gather
  // A case without collective figures has no key at all, and reads back null.
  const json& pingpong = first["cases"].back()["repetitions"][0];
  EXPECT_FALSE(pingpong.contains("collective")) << pingpong.dump();
  EXPECT_TRUE(back.cases.back().repetitions[0].collective.is_null());
  EXPECT_FALSE(is_collective(back.cases.back()));
  EXPECT_TRUE(is_collective(back.cases[0]));
  // An explicit null reads as no collective.
  json j = first;
  j["cases"].back()["repetitions"][0]["collective"] = nullptr;
  EXPECT_TRUE(run_document_from_json(j).cases.back().repetitions[0].collective.is_null());
}

TEST(CollectiveJson, SummaryHasMedianMinMaxPerPlacementAndSumsWrong) {
  // Times 10, 12, 11, 40 us: median 11.5, min 10, max 40; in-place 1.1x.
  CaseResult c = ct::collective_case("ar", "all_reduce", "nccl", 1 << 20, {10, 12, 11, 40}, 3);
  const json& s = c.summary.at("collective");
  EXPECT_EQ(s.at("collective"), "all_reduce");
  EXPECT_EQ(s.at("ranks"), 4);
  EXPECT_EQ(s.at("size_bytes"), 1 << 20);
  const json& oop = s.at("out_of_place");
  EXPECT_DOUBLE_EQ(oop["time_us"]["median"].get<double>(), 11.5);
  EXPECT_DOUBLE_EQ(oop["time_us"]["min"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(oop["time_us"]["max"].get<double>(), 40.0);
  // algbw = 1 MiB / t: the fastest repetition has the largest.
  EXPECT_NEAR(oop["algbw_gbytes_per_s"]["max"].get<double>(), 1048576.0 / 10 / 1e3, 1e-9);
  EXPECT_NEAR(oop["busbw_gbytes_per_s"]["min"].get<double>(), 1048576.0 / 40 / 1e3 * 1.5, 1e-9);
  EXPECT_EQ(oop["wrong"], 12);  // 3 per repetition, 4 repetitions
  const json& ip = s.at("in_place");
  EXPECT_NEAR(ip["time_us"]["median"].get<double>(), 11.5 * 1.1, 1e-9);
  EXPECT_EQ(ip["wrong"], 12);

  // in_place not run: null; wrong not checked: null.
  Repetition r = ct::collective_rep(0, "broadcast", 4096, 8.0, std::nullopt, 0);
  r.collective["out_of_place"]["wrong"] = nullptr;
  CaseResult b;
  b.id = "bc";
  b.repetitions.push_back(r);
  summarize_case(b);
  EXPECT_TRUE(b.summary["collective"]["in_place"].is_null());
  EXPECT_TRUE(b.summary["collective"]["out_of_place"]["wrong"].is_null());
  EXPECT_DOUBLE_EQ(b.summary["collective"]["out_of_place"]["time_us"]["median"].get<double>(), 8.0);
  // Not a collective case: no summary.collective.
  CaseResult plain = testing::pingpong_case();
  summarize_case(plain);
  EXPECT_FALSE(plain.summary.contains("collective"));
}

TEST(CollectiveJson, ReaderNamesTheBadField) {
  const json good = to_json(ct::collective_document("r"));
  json j = good;
  j["cases"][0]["repetitions"][0]["collective"] = "all_reduce";
  EXPECT_NE(reader_error(j).find("cases[0].repetitions[0].collective: must be an object"),
            std::string::npos);
  j = good;
  j["cases"][0]["repetitions"][1]["collective"]["out_of_place"]["busbw_gbytes_per_s"] = "fast";
  EXPECT_NE(reader_error(j).find("collective.out_of_place.busbw_gbytes_per_s"), std::string::npos);
  j = good;
  j["cases"][0]["repetitions"][0]["collective"]["in_place"]["wrong"] = -1;
  EXPECT_NE(reader_error(j).find("collective.in_place.wrong"), std::string::npos);
  j = good;
  j["cases"][0]["repetitions"][0]["collective"].erase("ranks");
  EXPECT_NE(reader_error(j).find("collective.ranks"), std::string::npos);
}

// Exit status and output (stdout and stderr) of a shell command.
std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, out};
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(CollectiveJson, SchemaAcceptsACollectiveRunAndRejectsABadOne) {
  if (std::system("python3 -c 'import jsonschema' 2>/dev/null") != 0) {
    GTEST_SKIP() << "python3 with the jsonschema module is not available";
  }
  const char* env = std::getenv("FABRICBENCH_SOURCE_DIR");
  const std::string src = env != nullptr ? env : FABRICBENCH_TEST_SOURCE_DIR;
  testing::TempDir tmp;
  json j = to_json(ct::collective_document("20261123T100000Z-coll"));
  const std::string good = tmp.file("good.json");
  testing::write_file(good, j.dump());
  j["cases"][0]["repetitions"][0]["collective"]["combine"] = "median";  // not a combine rule
  const std::string bad = tmp.file("bad.json");
  testing::write_file(bad, j.dump());
  const std::string cmd =
      "python3 '" + src + "/ci/validate-run.py' '" + src + "/results/schema/run-v1.schema.json' ";
  const auto [good_rc, good_out] = run(cmd + "'" + good + "'");
  EXPECT_EQ(good_rc, 0) << good_out;
  const auto [bad_rc, bad_out] = run(cmd + "'" + bad + "'");
  EXPECT_EQ(bad_rc, 1) << bad_out;
  EXPECT_NE(bad_out.find("combine"), std::string::npos) << bad_out;
}

}  // namespace
}  // namespace fabricbench::results
