// detail::plan_root_qdisc on tc's JSON: the root qdisc a tc fault replaces is deleted (kernel
// default), saved and rebuilt, or refused. The tbf, fifo, pfifo_fast, htb and ingress outputs were
// captured from iproute2 6.1 (`tc -j -r`, `tc -j -d`, `tc -j filter show`); this kernel has no
// netem, fq_codel or sfq, so theirs are written from iproute2 6.1's printers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/faults/detail.hpp"

namespace fabricbench::faults::detail {
namespace {

using Args = std::vector<std::string>;
using Action = RootQdiscPlan::Action;

// tc qdisc add dev va root handle 8001: tbf rate 16mbit burst 32kbit latency 50ms
const std::string kTbfRaw =
    R"([{"kind":"tbf","handle":"8001:","root":true,"refcnt":3,"options":{"rate":2000000,)"
    R"("burst":4096,"burst_raw":"7d00","lat":50000,"limit":104096}}])";
const std::string kTbfDetails =
    R"([{"kind":"tbf","handle":"8001:","root":true,"refcnt":3,"options":{"rate":2000000,)"
    R"("burst":"4Kb/1","mpu":0,"lat":50000,"linklayer":"ethernet"}}])";

TEST(RootQdiscPlan, TheKernelsDefaultRootIsDeleted) {
  const std::string noqueue =
      R"([{"kind":"noqueue","handle":"0:","root":true,"refcnt":2,"options":{}}])";
  const std::string mq =
      R"([{"kind":"mq","handle":"0:","root":true,"options":{}},)"
      R"({"kind":"fq_codel","handle":"0:","parent":":1","options":{"limit":10240}}])";
  for (const auto& shown : {noqueue, mq, std::string("[]")}) {
    EXPECT_TRUE(root_qdisc_is_default(shown)) << shown;
    const auto plan = plan_root_qdisc(shown, shown, "[]");
    EXPECT_EQ(plan.action, Action::delete_root) << shown;
    EXPECT_TRUE(plan.args.empty());
  }
  EXPECT_FALSE(root_qdisc_is_default(kTbfRaw));
  EXPECT_FALSE(root_qdisc_is_default("qdisc noqueue 0: root refcnt 2"));  // not JSON
}

TEST(RootQdiscPlan, AConfiguredTbfIsRebuiltWithItsHandleBurstAndLimit) {
  const auto plan = plan_root_qdisc(kTbfRaw, kTbfDetails, "[]");
  ASSERT_EQ(plan.action, Action::restore) << plan.why;
  EXPECT_EQ(plan.what, "tbf 8001:");
  EXPECT_EQ(plan.args, (Args{"handle", "8001:", "tbf", "rate", "16000000bit", "burst", "4096",
                             "limit", "104096"}));
}

// The kernel keeps the burst in ticks and tc prints it truncated to bytes (3333 shows as 3332):
// the bytes passed back are those that give the same ticks. Captured: rate 17.3mbit burst 3333
// limit 30001, then mpu 64, an ATM link layer and an overhead.
TEST(RootQdiscPlan, TbfBurstComesBackInTheKernelsTicksAndDetailsAreKept) {
  const std::string raw =
      R"([{"kind":"tbf","handle":"8001:","root":true,"options":{"rate":2162500,"burst":3332,)"
      R"("burst_raw":"5e12","lat":12332,"limit":30001,"overhead":10,"linklayer":"atm"}}])";
  const std::string details =
      R"([{"kind":"tbf","handle":"8001:","root":true,"options":{"rate":2162500,)"
      R"("burst":"3332b/1","mpu":64,"lat":12332,"overhead":10,"linklayer":"atm"}}])";
  const auto plan = plan_root_qdisc(raw, details, "");
  ASSERT_EQ(plan.action, Action::restore) << plan.why;
  EXPECT_EQ(plan.args, (Args{"handle", "8001:", "tbf", "rate", "17300000bit", "burst", "3333",
                             "limit", "30001", "mpu", "64", "overhead", "10", "linklayer", "atm"}));
  // Ticks no byte count gives (the psched clock is not the one assumed): refused, not guessed.
  std::string odd = raw;
  odd.replace(odd.find("5e12"), 4, "5e10");
  const auto refused = plan_root_qdisc(odd, details, "");
  EXPECT_EQ(refused.action, Action::refuse);
  EXPECT_NE(refused.why.find("ticks"), std::string::npos) << refused.why;
}

TEST(RootQdiscPlan, FifosAndPfifoFastAreRebuilt) {
  auto plan = plan_root_qdisc(
      R"([{"kind":"pfifo","handle":"9:","root":true,"refcnt":3,"options":{"limit":100}}])", "[]",
      "[]");
  EXPECT_EQ(plan.args, (Args{"handle", "9:", "pfifo", "limit", "100"})) << plan.why;
  plan = plan_root_qdisc(
      R"([{"kind":"bfifo","handle":"9:","root":true,"refcnt":3,"options":{"limit":10000}}])", "[]",
      "[]");
  EXPECT_EQ(plan.args, (Args{"handle", "9:", "bfifo", "limit", "10000"})) << plan.why;
  plan = plan_root_qdisc(
      R"([{"kind":"pfifo_fast","handle":"9:","root":true,"refcnt":3,"options":{"bands":3,)"
      R"("priomap":[1,2,2,2,1,2,0,0,1,1,1,1,1,1,1,1],"multiqueue":false}}])",
      "[]", "[]");
  EXPECT_EQ(plan.args, (Args{"handle", "9:", "pfifo_fast"})) << plan.why;
}

TEST(RootQdiscPlan, FqCodelNetemAndSfqAreRebuilt) {
  auto plan = plan_root_qdisc(
      R"([{"kind":"fq_codel","handle":"5:","root":true,"options":{"limit":10240,"flows":1024,)"
      R"("quantum":1514,"target":4999,"interval":99999,"memory_limit":33554432,"drop_batch":64}}])",
      "[]", "[]");
  EXPECT_EQ(plan.args, (Args{"handle", "5:", "fq_codel", "limit", "10240", "flows", "1024",
                             "quantum", "1514", "target", "4999us", "interval", "99999us",
                             "memory_limit", "33554432", "drop_batch", "64", "noecn"}))
      << plan.why;
  plan = plan_root_qdisc(
      R"([{"kind":"netem","handle":"6:","root":true,"options":{"limit":1000,"delay":{"delay":0.01,)"
      R"("jitter":0,"correlation":0},"loss-random":{"loss":0.005,"correlation":0},"ecn":false,)"
      R"("gap":0}}])",
      "[]", "[]");
  EXPECT_EQ(plan.args, (Args{"handle", "6:", "netem", "limit", "1000", "delay", "10000us", "loss",
                             "random", "0.5%"}))
      << plan.why;
  const std::string sfq =
      R"([{"kind":"sfq","handle":"7:","root":true,"options":{"limit":127,"quantum":1514,)"
      R"("depth":127,"flows":128,"divisor":1024,"perturb":10}}])";
  plan = plan_root_qdisc(sfq, sfq, "[]");
  EXPECT_EQ(plan.args, (Args{"handle", "7:", "sfq", "limit", "127", "quantum", "1514", "depth",
                             "127", "flows", "128", "divisor", "1024", "perturb", "10"}))
      << plan.why;
}

// What would be lost by a rebuild is refused, saying why: an option not known, a jitter whose
// distribution tc does not show, a peak rate tc leaves out of its JSON.
TEST(RootQdiscPlan, OptionsThatCannotBeRebuiltAreRefused) {
  const auto unknown =
      plan_root_qdisc(R"([{"kind":"fq_codel","handle":"5:","root":true,"options":{"limit":10240,)"
                      R"("ce_threshold_selector":1,"ce_threshold_mask":255}}])",
                      "[]", "[]");
  EXPECT_EQ(unknown.action, Action::refuse);
  EXPECT_NE(unknown.why.find("'ce_threshold_mask' is not rebuilt"), std::string::npos)
      << unknown.why;
  const auto jitter = plan_root_qdisc(
      R"([{"kind":"netem","handle":"6:","root":true,"options":{"limit":1000,"delay":{"delay":0.01,)"
      R"("jitter":0.002,"correlation":0},"ecn":false,"gap":0}}])",
      "[]", "[]");
  EXPECT_EQ(jitter.action, Action::refuse);
  EXPECT_NE(jitter.why.find("jitter"), std::string::npos) << jitter.why;
  // Captured: tbf rate 16mbit burst 32kbit limit 30000 peakrate 20mbit mtu 1600.
  const auto peak = plan_root_qdisc(
      R"([{"kind":"tbf","handle":"8001:","root":true,"options":{"rate":2000000,"burst":4096,)"
      R"("burst_raw":"7d00","minburst":1600,"mtu_raw":"2710","lat":12952,"limit":30000}}])",
      "[]", "[]");
  EXPECT_EQ(peak.action, Action::refuse);
  EXPECT_NE(peak.why.find("peak rate"), std::string::npos) << peak.why;
  // tbf shown without -r has no raw burst: refused rather than rebuilt from rounded bytes.
  const auto cooked = plan_root_qdisc(
      R"([{"kind":"tbf","handle":"8001:","root":true,"options":{"rate":2000000,"burst":4096,)"
      R"("lat":50000}}])",
      "[]", "[]");
  EXPECT_EQ(cooked.action, Action::refuse);
  EXPECT_EQ(plan_root_qdisc("not json", "[]", "[]").action, Action::refuse);
}

// Captured: htb 1: with class 1:10, a u32 filter and pfifo 10: under it, and ingress beside.
TEST(RootQdiscPlan, TreesAreRefusedNamingTheKind) {
  const std::string htb =
      R"([{"kind":"htb","handle":"1:","root":true,"refcnt":3,"options":{"r2q":10,)"
      R"("default":"0x10","direct_packets_stat":0,"direct_qlen":1000}},)"
      R"({"kind":"pfifo","handle":"10:","parent":"1:10","options":{"limit":1000}},)"
      R"({"kind":"ingress","handle":"ffff:","parent":"ffff:fff1","options":{}}])";
  auto plan = plan_root_qdisc(htb, htb, "[]");
  EXPECT_EQ(plan.action, Action::refuse);
  EXPECT_EQ(plan.what, "htb 1:");
  EXPECT_NE(plan.why.find("qdisc tree (pfifo 10: under 1:10); trees are not saved"),
            std::string::npos)
      << plan.why;
  // htb alone (its classes are not qdiscs): a kind that is not rebuilt.
  plan = plan_root_qdisc(
      R"([{"kind":"htb","handle":"1:","root":true,"options":{"r2q":10,"default":"0x10"}}])", "[]",
      "[]");
  EXPECT_EQ(plan.action, Action::refuse);
  EXPECT_NE(plan.why.find("htb is not a kind this can rebuild"), std::string::npos) << plan.why;
  EXPECT_NE(plan.why.find("trees are not saved"), std::string::npos) << plan.why;
  // A tbf with a child qdisc, and a pfifo with a filter: trees too.
  plan = plan_root_qdisc(
      R"([{"kind":"tbf","handle":"1:","root":true,"refcnt":3,"options":{"rate":1250000,)"
      R"("burst":10240,"burst_raw":"1f400","lat":10000,"limit":22740}},)"
      R"({"kind":"pfifo","handle":"10:","parent":"1:1","options":{"limit":5}}])",
      "[]", "[]");
  EXPECT_EQ(plan.action, Action::refuse);
  EXPECT_NE(plan.why.find("trees are not saved"), std::string::npos) << plan.why;
  plan =
      plan_root_qdisc(R"([{"kind":"pfifo","handle":"1:","root":true,"options":{"limit":5}}])", "[]",
                      R"([{"parent":"1:","protocol":"ip","pref":1,"kind":"u32","chain":0}])");
  EXPECT_EQ(plan.action, Action::refuse);
  EXPECT_NE(plan.why.find("filters"), std::string::npos) << plan.why;
  // ingress beside a configured pfifo is not part of the root's tree.
  plan = plan_root_qdisc(
      R"([{"kind":"pfifo","handle":"863c:","root":true,"refcnt":3,"options":{"limit":10}},)"
      R"({"kind":"ingress","handle":"ffff:","parent":"ffff:fff1","options":{}}])",
      "[]", "[]");
  EXPECT_EQ(plan.action, Action::restore) << plan.why;
}

}  // namespace
}  // namespace fabricbench::faults::detail
