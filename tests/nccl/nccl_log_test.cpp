// NCCL's debug lines -> what it chose (transports/nccl/nccl_log.hpp).
#include "transports/nccl/nccl_log.hpp"

#include <gtest/gtest.h>

namespace {

using namespace fabricbench::transport::nccl;

TEST(NcclLog, ParsesTheLineOfNccl228) {
  const auto t = parse_tuning_line(
      "gpu01:4242:4250 [0] NCCL INFO AllReduce: 1048576 Bytes -> Algo Ring proto LL128 "
      "channel{Lo..Hi}={0..1}");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->collective, "AllReduce");
  EXPECT_EQ(t->bytes, 1048576u);
  EXPECT_EQ(t->algorithm, "Ring");
  EXPECT_EQ(t->protocol, "LL128");
  EXPECT_EQ(t->channel_lo, 0);
  EXPECT_EQ(t->channel_hi, 1);
  EXPECT_EQ(t->channels(), 2);
}

TEST(NcclLog, MapsNumericAlgorithmAndProtocol) {
  const auto t = parse_tuning_line(
      "h:1:2 [3] NCCL INFO ReduceScatter: 8 Bytes -> Algo 6 proto 0 channel{Lo..Hi}={4..4}");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->algorithm, "PAT");
  EXPECT_EQ(t->protocol, "LL");
  EXPECT_EQ(t->channels(), 1);
  EXPECT_EQ(algorithm_name(4), "NVLS");
  EXPECT_EQ(protocol_name(2), "Simple");
  EXPECT_EQ(algorithm_name(9), "?");
}

TEST(NcclLog, IgnoresOtherLines) {
  EXPECT_FALSE(parse_tuning_line("h:1:2 [0] NCCL INFO Channel 00/32 : 0 1").has_value());
  EXPECT_FALSE(parse_tuning_line("h:1:2 [0] NCCL INFO AllReduce: x Bytes -> Algo Ring proto LL "
                                 "channel{Lo..Hi}={0..1}")
                   .has_value());
  EXPECT_FALSE(parse_tuning_line("").has_value());
}

TEST(NcclLog, SummarisesByCollectiveAndSize) {
  const std::string log =
      "h:1:2 [0] NCCL INFO NCCL_DEBUG_SUBSYS set by environment to TUNING\n"
      "h:1:2 [0] NCCL INFO AllReduce: 1024 Bytes -> Algo Tree proto LL channel{Lo..Hi}={0..3}\n"
      "h:1:2 [0] NCCL INFO AllReduce: 1024 Bytes -> Algo Tree proto LL channel{Lo..Hi}={0..3}\n"
      "h:1:2 [0] NCCL INFO AllReduce: 1024 Bytes -> Algo Ring proto LL channel{Lo..Hi}={0..3}\n"
      "h:1:2 [0] NCCL INFO AllGather: 4096 Bytes -> Algo NVLS proto Simple "
      "channel{Lo..Hi}={0..15}\n"
      "h:1:2 [0] some.cc:12 NCCL WARN Cuda failure 'out of memory'\n"
      "h:1:2 [0] NCCL INFO Broadcast: 8 Bytes -> Algo Ring proto LL channel{Lo..Hi}={0..0}";
  const auto s = summarize_tuning(log);
  ASSERT_TRUE(s.contains("AllReduce"));
  const auto& ar = s["AllReduce"]["1024"];
  ASSERT_EQ(ar.size(), 2u);
  EXPECT_EQ(ar[0]["algorithm"], "Tree");
  EXPECT_EQ(ar[0]["calls"], 2);
  EXPECT_EQ(ar[0]["channels"], 4);
  EXPECT_EQ(ar[1]["algorithm"], "Ring");
  EXPECT_EQ(ar[1]["calls"], 1);
  EXPECT_EQ(s["AllGather"]["4096"][0]["protocol"], "Simple");
  EXPECT_EQ(s["AllGather"]["4096"][0]["channels"], 16);
  EXPECT_EQ(s["Broadcast"]["8"][0]["channels"], 1);  // last line without a newline
  const auto w = warnings_in(log);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "Cuda failure 'out of memory'");
  EXPECT_TRUE(summarize_tuning("").empty());
}

}  // namespace
