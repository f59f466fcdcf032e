// `fabricbench openmetrics` (results/openmetrics.hpp): the golden exposition of the diff tests'
// BASE run, label escaping, unit conversions and the exposition's structure.
#include "results/openmetrics.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <sstream>
#include <string>

#include "tests/diff/synthetic.hpp"

namespace fabricbench::results::openmetrics {
namespace {

namespace dt = difftest;

// Regenerate after an intended change, and review the difference:
// FABRICBENCH_UPDATE_GOLDEN=1 build/<preset>/tests/history/history_tests
// --gtest_filter='OpenMetrics.Golden*' The diff tests' NEW run: every kind of case (latency,
// bandwidth, regime, fault, failed).
TEST(OpenMetrics, GoldenFile) {
  const std::string text = render(dt::golden_new());
  const std::string path = dt::source_dir() + "/tests/history/golden/golden_new.om";
  const char* update = std::getenv("FABRICBENCH_UPDATE_GOLDEN");
  if (update != nullptr && *update != '\0') dt::write_text(path, text);
  EXPECT_EQ(text, dt::read_text(path)) << "actual:\n" << text;
}

TEST(OpenMetrics, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  RunDocument d = dt::golden_base();
  d.cases.resize(1);
  d.cases[0].id = "odd \"case\"\\1";
  const std::string text = render(d);
  EXPECT_NE(text.find("case=\"odd \\\"case\\\"\\\\1\""), std::string::npos) << text;
}

TEST(OpenMetrics, ConvertsToBaseUnits) {
  RunDocument d = dt::golden_base();
  d.cases.resize(2);  // lat.pingpong.tcp.64B (p50 1000..1040 ns), bw.stream.tcp.1MiB (9.0..9.4)
  const std::string text = render(d);
  // Median of the repetitions' p50: 1020 ns (within the histogram's bucket).
  const auto at = text.find("fabricbench_latency_p50_seconds{case=\"lat.pingpong.tcp.64B\"");
  ASSERT_NE(at, std::string::npos) << text;
  const double p50 = std::stod(text.substr(text.find("} ", at) + 2));
  EXPECT_NEAR(p50, 1020e-9, 1020e-9 * 0.004);
  EXPECT_NE(text.find("fabricbench_bandwidth_bits_per_second{case=\"bw.stream.tcp.1MiB\","
                      "suite=\"stream\",transport=\"tcp\",run_id=\"20261123T100000Z-golden-base\"} "
                      "9200000000\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("fabricbench_message_rate_messages_per_second{case=\"bw.stream.tcp.1MiB\""),
            std::string::npos);
}

// Every sample belongs to the family declared last; families are declared once with TYPE,
// UNIT (a suffix of the name) and HELP; the text ends with "# EOF".
TEST(OpenMetrics, Structure) {
  const std::string text = render(dt::golden_base());
  ASSERT_GE(text.size(), 6u);
  EXPECT_EQ(text.substr(text.size() - 6), "# EOF\n");
  std::istringstream in(text);
  std::string line;
  std::string family;
  std::set<std::string> seen;
  int samples = 0;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line == "# EOF") {
      EXPECT_FALSE(std::getline(in, line)) << "text after # EOF";
      break;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(seen.insert(family).second) << "family declared twice: " << family;
      EXPECT_EQ(line.substr(line.size() - 6), " gauge");
      continue;
    }
    if (line.rfind("# UNIT ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      const std::string unit = line.substr(line.rfind(' ') + 1);
      EXPECT_EQ(name, family);
      EXPECT_EQ(name.substr(name.size() - unit.size() - 1), "_" + unit);
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) {
      EXPECT_EQ(line.substr(7, family.size() + 1), family + " ");
      continue;
    }
    ASSERT_NE(line[0], '#') << line;
    EXPECT_EQ(line.substr(0, family.size() + 1), family + "{") << line;
    EXPECT_EQ(line.find("NaN"), std::string::npos);
    ++samples;
  }
  EXPECT_GT(samples, 20);
  EXPECT_TRUE(seen.count("fabricbench_regime_queue_age_p99_seconds"));
  EXPECT_TRUE(seen.count("fabricbench_fault_stall_seconds"));
}

}  // namespace
}  // namespace fabricbench::results::openmetrics
