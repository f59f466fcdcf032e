// The run document's JSON form: exact round trip, strict reading, case summaries.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/error.hpp"
#include "results/run_document.hpp"
#include "tests/results/test_support.hpp"

namespace fabricbench::results {
namespace {

using nlohmann::json;
using testing::reader_error;
using testing::sample_document;

TEST(RunDocumentJson, RoundTripIsExact) {
  const RunDocument doc = sample_document();
  const json first = to_json(doc);
  const RunDocument back = run_document_from_json(json::parse(first.dump()));
  EXPECT_EQ(to_json(back), first);

  EXPECT_EQ(back.run_id, doc.run_id);
  EXPECT_EQ(back.status, RunStatus::complete);
  EXPECT_EQ(back.started_ns, doc.started_ns);
  EXPECT_EQ(back.finished_ns, doc.finished_ns);
  EXPECT_EQ(back.config, doc.config);
  EXPECT_EQ(back.envelope, doc.envelope);
  EXPECT_EQ(back.events, doc.events);
  ASSERT_EQ(back.cases.size(), 2u);
  EXPECT_EQ(back.cases[1].status, CaseStatus::failed);
  ASSERT_EQ(back.cases[1].errors.size(), 1u);
  EXPECT_EQ(back.cases[1].errors[0].rank, 1);
  EXPECT_EQ(back.cases[1].errors[0].kind, "peer_lost");
  EXPECT_EQ(back.cases[1].repetitions[2].bw_gbps, doc.cases[1].repetitions[2].bw_gbps);
  EXPECT_FALSE(back.cases[0].repetitions[0].bw_gbps.has_value());

  for (std::size_t c = 0; c < doc.cases.size(); ++c) {
    ASSERT_EQ(back.cases[c].repetitions.size(), doc.cases[c].repetitions.size());
    for (std::size_t r = 0; r < doc.cases[c].repetitions.size(); ++r) {
      const auto& a = doc.cases[c].repetitions[r];
      const auto& b = back.cases[c].repetitions[r];
      EXPECT_EQ(a.latency, b.latency) << "case " << c << " rep " << r;
      EXPECT_EQ(a.latency.count(), b.latency.count());
      EXPECT_EQ(a.latency.sum(), b.latency.sum());
      EXPECT_EQ(a.latency.sum_of_squares(), b.latency.sum_of_squares());
      for (double p : {0.0, 1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
        EXPECT_EQ(a.latency.percentile(p), b.latency.percentile(p)) << "p" << p;
      }
      ASSERT_EQ(a.intervals.size(), b.intervals.size());
      for (std::size_t i = 0; i < a.intervals.size(); ++i) {
        EXPECT_EQ(a.intervals[i].bytes, b.intervals[i].bytes);
        EXPECT_EQ(a.intervals[i].lat_p50_ns, b.intervals[i].lat_p50_ns);
        EXPECT_EQ(a.intervals[i].lat_p99_ns, b.intervals[i].lat_p99_ns);
      }
    }
  }
}

TEST(RunDocumentJson, LayoutNamesUnitsAndTimestamps) {
  RunDocument doc = sample_document();
  doc.started_ns = 1'795'428'900'123'987'654ULL;  // 2026-11-23T10:15:00.123Z
  const json j = to_json(doc);
  EXPECT_EQ(j["schema"], "fabricbench.run");
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["run"]["started_at"], "2026-11-23T10:15:00.123Z");
  EXPECT_EQ(j["run"]["started_ns"], doc.started_ns);
  EXPECT_TRUE(j["run"]["interrupted_case"].is_null());
  EXPECT_EQ(j["tool"]["name"], "fabricbench");
  const json& rep = j["cases"][0]["repetitions"][0];
  EXPECT_TRUE(rep["latency"]["lat_p99_ns"].is_number_unsigned());
  EXPECT_EQ(rep["latency"]["histogram"]["unit"], "ns");
  EXPECT_EQ(rep["latency"]["histogram"]["sub_bucket_bits"], 8);
  EXPECT_EQ(rep["latency"]["histogram"]["bins"][0].size(), 3u);
  EXPECT_FALSE(rep.contains("bw_gbps"));  // latency-only suite: absent, not 0
  // Interval without latency samples: null percentiles.
  EXPECT_TRUE(rep["intervals"][2]["lat_p50_ns"].is_null());
  EXPECT_EQ(rep["intervals"][2]["latency_count"], 0);
  // Stream repetitions: no latency recorded -> summary values null, histogram empty.
  const json& srep = j["cases"][1]["repetitions"][0];
  EXPECT_EQ(srep["latency"]["count"], 0);
  EXPECT_TRUE(srep["latency"]["lat_p50_ns"].is_null());
  EXPECT_TRUE(srep["latency"]["histogram"]["bins"].empty());
  EXPECT_TRUE(srep["bw_gbps"].is_number());

  RunDocument running = testing::sample_header();
  const json r = to_json(running);
  EXPECT_EQ(r["run"]["status"], "running");
  EXPECT_TRUE(r["run"]["finished_at"].is_null());
  EXPECT_TRUE(r["run"]["finished_ns"].is_null());
  EXPECT_EQ(run_document_from_json(r).finished_ns, 0u);
}

TEST(RunDocumentJson, Rfc3339Formatting) {
  EXPECT_EQ(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(1'795'428'900'999'999'999ULL), "2026-11-23T10:15:00.999Z");
  EXPECT_EQ(format_rfc3339_ms(1'795'428'900'007'000'000ULL), "2026-11-23T10:15:00.007Z");
}

TEST(RunDocumentJson, NonFiniteFigureIsRefusedWithContext) {
  CaseResult c = testing::stream_case();
  c.repetitions[1].bw_gbps = std::nan("");
  c.summary = nullptr;  // recomputed from the repetitions
  try {
    to_json(c);
    FAIL() << "a NaN bandwidth was written";
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bw_gbps"), std::string::npos) << e.what();
  }
}

TEST(RunDocumentReader, MissingFieldNamesItsPath) {
  json j = to_json(sample_document());
  j["run"].erase("status");
  const std::string msg = reader_error(j);
  EXPECT_NE(msg.find("run.status"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;

  json k = to_json(sample_document());
  k["cases"][1]["repetitions"][0]["latency"].erase("histogram");
  const std::string msg2 = reader_error(k);
  EXPECT_NE(msg2.find("cases[1].repetitions[0].latency.histogram"), std::string::npos) << msg2;
}

TEST(RunDocumentReader, WrongTypeNamesPathAndValue) {
  json j = to_json(sample_document());
  j["cases"][1]["repetitions"][0]["bytes"] = "lots";
  const std::string msg = reader_error(j);
  EXPECT_NE(msg.find("cases[1].repetitions[0].bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("non-negative integer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lots"), std::string::npos) << msg;

  json k = to_json(sample_document());
  k["cases"][0]["repetitions"][1]["intervals"][0]["start_ns"] = -5;
  EXPECT_NE(reader_error(k).find("cases[0].repetitions[1].intervals[0].start_ns"),
            std::string::npos);

  json s = to_json(sample_document());
  s["cases"][0]["status"] = "great";
  EXPECT_NE(reader_error(s).find("cases[0].status"), std::string::npos);

  json e = to_json(sample_document());
  e["events"][0]["t_ns"] = 1.5;
  EXPECT_NE(reader_error(e).find("events[0].t_ns"), std::string::npos);

  EXPECT_NE(reader_error(json::array()).find("expected an object"), std::string::npos);
}

TEST(RunDocumentReader, RejectsNewerVersionAndOtherSchemas) {
  json j = to_json(sample_document());
  j["schema_version"] = 2;
  const std::string msg = reader_error(j);
  EXPECT_NE(msg.find("written by a newer fabricbench"), std::string::npos) << msg;

  json k = to_json(sample_document());
  k["schema"] = "fabricbench.baseline";
  EXPECT_NE(reader_error(k).find("fabricbench.baseline"), std::string::npos);

  json z = to_json(sample_document());
  z["schema_version"] = 0;
  EXPECT_NE(reader_error(z).find("schema_version"), std::string::npos);
}

TEST(RunDocumentReader, UnknownFieldsAreIgnored) {
  // Additive changes keep version 1: an older reader must accept a field it does not know.
  json j = to_json(sample_document());
  j["run"]["host_count"] = 1;
  j["cases"][0]["repetitions"][0]["retransmits"] = 3;
  EXPECT_NO_THROW(run_document_from_json(j));
}

TEST(RunDocumentReader, HistogramConsistencyIsChecked) {
  json j = to_json(sample_document());
  json& h = j["cases"][0]["repetitions"][0]["latency"]["histogram"];
  h["count"] = h["count"].get<std::uint64_t>() + 1;
  EXPECT_NE(reader_error(j).find("bins hold"), std::string::npos);

  json k = to_json(sample_document());
  json& hk = k["cases"][0]["repetitions"][0]["latency"]["histogram"];
  // A bin whose bounds are not a bucket of this bucketing (300..302 straddles no bucket edge).
  hk["bins"].push_back(json::array({300, 302, 1}));
  hk["count"] = hk["count"].get<std::uint64_t>() + 1;
  EXPECT_NE(reader_error(k).find("cases[0].repetitions[0].latency.histogram.bins"),
            std::string::npos);

  json u = to_json(sample_document());
  u["cases"][0]["repetitions"][0]["latency"]["histogram"]["unit"] = "us";
  EXPECT_NE(reader_error(u).find("\"ns\""), std::string::npos);

  json b = to_json(sample_document());
  b["cases"][0]["repetitions"][0]["latency"]["histogram"]["sub_bucket_bits"] = 7;
  EXPECT_NE(reader_error(b).find("sub_bucket_bits"), std::string::npos);
}

TEST(RunDocumentReader, SkippedCaseNeedsReason) {
  RunDocument doc = testing::sample_header();
  CaseResult c;
  c.id = "pingpong.verbs.64B";
  c.suite = "pingpong";
  c.transport = "verbs";
  c.status = CaseStatus::skipped;
  c.skip_reason = "no RDMA device";
  summarize_case(c);
  doc.cases.push_back(c);
  json j = to_json(doc);
  EXPECT_EQ(run_document_from_json(j).cases[0].skip_reason, "no RDMA device");
  j["cases"][0].erase("skip_reason");
  EXPECT_NE(reader_error(j).find("cases[0].skip_reason"), std::string::npos);
}

TEST(SummarizeCase, LatencyFromMergedHistogramAndBandwidthMedians) {
  CaseResult c;
  const double gbps[] = {10.0, 40.0, 20.0, 30.0};
  for (int i = 0; i < 4; ++i) {
    Repetition r;
    r.index = i;
    r.bw_gbps = gbps[i];
    r.bw_gibps = gbps[i] / 8.0;
    r.msg_rate_mops = static_cast<double>(i + 1);
    c.repetitions.push_back(std::move(r));
  }
  // Latencies below 256 ns are recorded exactly: rep 0 holds 1..100, rep 1 holds 101..200.
  for (std::uint64_t v = 1; v <= 100; ++v) c.repetitions[0].latency.record(v);
  for (std::uint64_t v = 101; v <= 200; ++v) c.repetitions[1].latency.record(v);
  summarize_case(c);
  const json& s = c.summary;
  EXPECT_EQ(s["repetitions"], 4);
  EXPECT_EQ(s["count"], 200);
  EXPECT_EQ(s["lat_min_ns"], 1);
  EXPECT_EQ(s["lat_max_ns"], 200);
  EXPECT_DOUBLE_EQ(s["lat_mean_ns"].get<double>(), 100.5);
  EXPECT_NEAR(s["lat_stdev_ns"].get<double>(), std::sqrt((200.0 * 200.0 - 1.0) / 12.0), 1e-9);
  EXPECT_EQ(s["lat_p50_ns"], 100);  // nearest rank 100 of 200
  EXPECT_EQ(s["lat_p90_ns"], 180);
  EXPECT_EQ(s["lat_p99_ns"], 198);
  EXPECT_EQ(s["lat_p999_ns"], 200);  // rank ceil(199.8) = 200
  // Per-repetition p50s are 50 and 150 (reps 2 and 3 recorded no latency): median 100.
  EXPECT_DOUBLE_EQ(s["lat_p50_ns_median_of_reps"].get<double>(), 100.0);
  // Even count: the mean of the two middle values (20 and 30).
  EXPECT_DOUBLE_EQ(s["bw_gbps_median"].get<double>(), 25.0);
  EXPECT_DOUBLE_EQ(s["bw_gbps_min"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(s["bw_gbps_max"].get<double>(), 40.0);
  EXPECT_DOUBLE_EQ(s["bw_gibps_median"].get<double>(), 25.0 / 8.0);
  EXPECT_DOUBLE_EQ(s["msg_rate_mops_median"].get<double>(), 2.5);
}

TEST(SummarizeCase, OddCountAndLatencyOnlyAndEmpty) {
  CaseResult c;
  for (double g : {3.0, 1.0, 2.0}) {
    Repetition r;
    r.bw_gbps = g;
    c.repetitions.push_back(std::move(r));
  }
  summarize_case(c);
  EXPECT_DOUBLE_EQ(c.summary["bw_gbps_median"].get<double>(), 2.0);
  EXPECT_FALSE(c.summary.contains("bw_gibps_median"));  // not measured: absent
  EXPECT_EQ(c.summary["count"], 0);
  EXPECT_TRUE(c.summary["lat_p99_ns"].is_null());
  EXPECT_TRUE(c.summary["lat_p50_ns_median_of_reps"].is_null());

  CaseResult lat;
  Repetition r;
  r.latency.record(1000);
  lat.repetitions.push_back(std::move(r));
  summarize_case(lat);
  EXPECT_FALSE(lat.summary.contains("bw_gbps_median"));
  EXPECT_EQ(lat.summary["count"], 1);

  CaseResult none;
  summarize_case(none);
  EXPECT_EQ(none.summary["repetitions"], 0);
  EXPECT_TRUE(none.summary["lat_min_ns"].is_null());
}

}  // namespace
}  // namespace fabricbench::results
