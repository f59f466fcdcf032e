// Golden-file tests of every diff output: the fixed BASE / NEW pair of synthetic.cpp rendered as
// table, Markdown, JSON and JUnit XML, compared byte for byte with tests/diff/golden/.
//
// After an intended change of an output, regenerate the files and review them:
//   FABRICBENCH_UPDATE_GOLDEN=1 build/<preset>/tests/diff/diff_tests --gtest_filter='DiffGolden.*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "results/diff.hpp"
#include "tests/diff/synthetic.hpp"

namespace fabricbench::results::diff {
namespace {

using nlohmann::json;

DiffResult golden_diff() {
  Options o;
  o.thresholds_pct["lat_p99_ns"] = 10;  // shows an override in the header
  return diff_runs(difftest::golden_base(), difftest::golden_new(), o, "runs/base",
                   "runs/new/run.json");
}

void check_golden(Format format, const std::string& name) {
  const std::string path = difftest::source_dir() + "/tests/diff/golden/" + name;
  const std::string rendered = render(golden_diff(), format);
  const char* update = std::getenv("FABRICBENCH_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    difftest::write_text(path, rendered);
    GTEST_SKIP() << "regenerated " << path;
  }
  std::string expected;
  try {
    expected = difftest::read_text(path);
  } catch (const std::exception& e) {
    FAIL() << e.what() << " (FABRICBENCH_UPDATE_GOLDEN=1 creates it)";
  }
  EXPECT_EQ(rendered, expected) << "differs from " << path
                                << "; if intended, regenerate with FABRICBENCH_UPDATE_GOLDEN=1";
}

TEST(DiffGolden, Table) {
  check_golden(Format::table, "diff.txt");
}
TEST(DiffGolden, Markdown) {
  check_golden(Format::markdown, "diff.md");
}
TEST(DiffGolden, Json) {
  check_golden(Format::json, "diff.json");
}
TEST(DiffGolden, Junit) {
  check_golden(Format::junit, "diff.xml");
}

TEST(DiffRender, JsonHasVerdictsCountsAndEnvelope) {
  const json j = json::parse(render(golden_diff(), Format::json));
  EXPECT_EQ(j["schema"], "fabricbench.diff");
  EXPECT_EQ(j["regression"], true);
  EXPECT_EQ(j["counts"]["cases_new"], 2);
  EXPECT_EQ(j["cases"][0]["id"], "lat.pingpong.tcp.64B");
  EXPECT_EQ(j["cases"][0]["metrics"][0]["verdict"], "regressed");
  EXPECT_EQ(j["cases"][0]["metrics"][0]["test"]["method"], "exact");
  ASSERT_EQ(j["envelope"].size(), 2u);
  EXPECT_EQ(j["envelope"][0]["path"], "kernel.release");
  EXPECT_EQ(j["envelope"][1]["path"], "nics[eth0].mtu");
}

TEST(DiffRender, JunitFailsRegressedMetricsOnly) {
  const DiffResult d = golden_diff();
  const std::string xml = render(d, Format::junit);
  std::size_t failures = 0;
  for (std::size_t at = xml.find("<failure "); at != std::string::npos;
       at = xml.find("<failure ", at + 1)) {
    ++failures;
  }
  EXPECT_EQ(failures, d.counts().regressed);
  EXPECT_NE(xml.find("failures=\"" + std::to_string(failures) + "\""), std::string::npos);
  EXPECT_NE(xml.find("classname=\"lat.pingpong.tcp.64B\" name=\"lat_p50_ns\""), std::string::npos);
}

TEST(DiffRender, ParseFormat) {
  EXPECT_EQ(parse_format("table"), Format::table);
  EXPECT_EQ(parse_format("markdown"), Format::markdown);
  EXPECT_EQ(parse_format("md"), Format::markdown);
  EXPECT_EQ(parse_format("json"), Format::json);
  EXPECT_EQ(parse_format("junit"), Format::junit);
  EXPECT_THROW(parse_format("html"), core::Error);
}

}  // namespace
}  // namespace fabricbench::results::diff
