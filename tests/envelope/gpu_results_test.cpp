// The GPU section in the results tools: `fabricbench diff` lists a different driver version or
// PCIe width as an envelope difference, not the figures that change from run to run (clocks
// now, volatile ECC counts, the idle generation); the report names a degraded link.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "harness/envelope/gpus.hpp"
#include "results/diff.hpp"
#include "results/report.hpp"
#include "results/run_document.hpp"

namespace {

using fabricbench::results::diff::diff_envelopes;
using nlohmann::json;

json envelope_with_fake_gpus() {
  const json gpus = fabricbench::envelope::capture_gpus(
      [](const std::string&, const std::string&) {}, FAKE_NVML_PATH);
  return json{{"ranks", json::array({{{"hostname", "h1"}, {"gpus", gpus}}})}};
}

json& gpu(json& envelope, const std::string& bus_id) {
  for (json& d : envelope["ranks"][0]["gpus"]["devices"]) {
    if (d["bus_id"] == bus_id) return d;
  }
  throw std::runtime_error("no GPU " + bus_id);
}

std::vector<std::string> paths(const json& a, const json& b) {
  std::vector<std::string> out;
  for (const auto& d : diff_envelopes(a, b)) out.push_back(d.path);
  return out;
}

TEST(GpuEnvelopeDiff, SameEnvelopeNoDifference) {
  const json a = envelope_with_fake_gpus();
  EXPECT_TRUE(paths(a, a).empty());
}

TEST(GpuEnvelopeDiff, DriverVersionAndWidthDiffer) {
  const json a = envelope_with_fake_gpus();
  json b = a;
  b["ranks"][0]["gpus"]["nvml"]["driver_version"] = "555.42.02";
  gpu(b, "0000:5e:00.0")["pcie"]["width"] = 8;
  const auto p = paths(a, b);
  EXPECT_NE(std::find(p.begin(), p.end(), "gpus.nvml.driver_version"), p.end());
  EXPECT_NE(std::find(p.begin(), p.end(), "gpus.devices[0000:5e:00.0].pcie.width"), p.end());
}

TEST(GpuEnvelopeDiff, RunToRunFiguresIgnored) {
  const json a = envelope_with_fake_gpus();
  json b = a;
  json& d = gpu(b, "0000:3b:00.0");
  d["clocks_mhz"]["sm"] = 210;
  d["clocks_mhz"]["memory"] = 405;
  d["ecc_errors"]["volatile_corrected"] = 7;
  d["ecc_errors"]["volatile_uncorrected"] = 7;
  d["pcie"]["generation"] = 1;
  d["pcie_degraded_reason"] = "link at gen1 x8 of gen4 x16; ...";
  EXPECT_TRUE(paths(a, b).empty()) << json(paths(a, b)).dump();
  d["ecc_errors"]["aggregate_uncorrected"] = 99;  // aggregate counts are compared
  EXPECT_EQ(paths(a, b), std::vector<std::string>{
                             "gpus.devices[0000:3b:00.0].ecc_errors.aggregate_uncorrected"});
}

TEST(GpuEnvelopeReport, DegradedLinkNamed) {
  fabricbench::results::RunDocument d;
  d.run_id = "r1";
  d.envelope = envelope_with_fake_gpus();
  const std::string html = fabricbench::results::report::render_html({d});
  EXPECT_NE(html.find("GPU PCIe link below its maximum"), std::string::npos);
  EXPECT_NE(html.find("0000:3b:00.0: link at gen4 x8 of gen4 x16"), std::string::npos);
  const std::string md = fabricbench::results::report::render_markdown({d});
  EXPECT_NE(md.find("GPU PCIe link below its maximum: 0000:3b:00.0: link at gen4 x8 of gen4 x16"),
            std::string::npos)
      << md;
  // Not flagged: no line.
  for (json& g : d.envelope["ranks"][0]["gpus"]["devices"]) g["pcie_degraded"] = false;
  EXPECT_EQ(fabricbench::results::report::render_html({d}).find("GPU PCIe link below"),
            std::string::npos);
  EXPECT_EQ(fabricbench::results::report::render_markdown({d}).find("GPU PCIe link below"),
            std::string::npos);
}

}  // namespace
