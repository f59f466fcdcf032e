// The one-sided stream (write, read; perftest's *_bw) against a scripted endpoint: the measured
// phase starts on an idle pipeline, and it counts exactly the measured operations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "suites/stream/stream.hpp"

namespace fabricbench::suites {
namespace {

using transport::Completion;
using transport::Op;
using transport::WorkRequest;

// Completes each operation kPollsToComplete polls after its post, in order; a signaled one
// yields a completion that retires it and every unsignaled one before it. Records how many of
// the stream's operations were in flight (posted, not yet retired by a completion it was
// given) when each was posted.
class ScriptedEndpoint final : public transport::Endpoint {
 public:
  static constexpr std::uint64_t kPollsToComplete = 3;

  std::vector<std::size_t> in_flight_at_post;  // indexed by the stream's operation sequence

  int peer() const override { return 1; }
  bool post(const WorkRequest& request) override {
    if (request.op == Op::send) {  // heartbeats and the final message (control, zero bytes)
      if (request.signaled) done_.push_back(Completion{request.wr_id, Op::send, 0, 0});
      return true;
    }
    const std::size_t index = in_flight_at_post.size();
    in_flight_at_post.push_back(index - retired_);
    pending_.push_back(Pending{request.wr_id, request.op, request.signaled, polls_, index});
    return true;
  }
  std::size_t poll(std::span<Completion> out) override {
    ++polls_;
    while (!pending_.empty() && polls_ - pending_.front().posted_at >= kPollsToComplete) {
      const Pending p = pending_.front();
      pending_.pop_front();
      if (p.signaled) {
        done_.push_back(Completion{p.wr_id, p.op, 0, 0});
        retires_.push_back(p.index + 1);
      }
    }
    std::size_t n = 0;
    while (n < out.size() && !done_.empty()) {
      out[n++] = done_.front();
      done_.pop_front();
      if (out[n - 1].op != Op::send) {
        retired_ = retires_.front();
        retires_.pop_front();
      }
    }
    return n;
  }
  std::size_t wait(std::span<Completion> out, std::uint64_t) override { return poll(out); }
  std::size_t queue_depth() const override { return 4096; }
  std::string describe() const override { return "scripted"; }

 private:
  struct Pending {
    std::uint64_t wr_id = 0;
    Op op = Op::write;
    bool signaled = false;
    std::uint64_t posted_at = 0;
    std::size_t index = 0;
  };
  std::deque<Pending> pending_;
  std::deque<Completion> done_;
  std::deque<std::size_t> retires_;  // per stream completion in done_: operations it retires
  std::size_t retired_ = 0;
  std::uint64_t polls_ = 0;
};

constexpr std::size_t kSize = 4096;
constexpr int kWindow = 16;

std::size_t most(const std::vector<std::size_t>& v, std::size_t from) {
  return *std::max_element(v.begin() + static_cast<std::ptrdiff_t>(from), v.end());
}

struct StreamRun {
  ScriptedEndpoint endpoint;
  std::vector<std::byte> send = std::vector<std::byte>(kSize * kWindow);
  std::vector<std::byte> recv = std::vector<std::byte>(kSize * 2 * kWindow);
  RankResult result;

  explicit StreamRun(const Params& params) {
    Context ctx{params};
    ctx.initiator = true;
    ctx.peer = 1;
    ctx.endpoints.push_back(&endpoint);
    ctx.memory.send.buffer.addr = send.data();
    ctx.memory.send.buffer.length = send.size();
    ctx.memory.recv.buffer.addr = recv.data();
    ctx.memory.recv.buffer.length = recv.size();
    ctx.peer_send = transport::RemoteRegion{1, 1, send.size()};
    ctx.peer_recv = transport::RemoteRegion{1, 1, recv.size()};
    result = make_stream()->run(ctx);
  }
};

Params one_sided(Op op, std::uint64_t warmup, std::uint64_t iterations) {
  Params p;
  p.op = op;
  p.message_size = kSize;
  p.warmup_iterations = warmup;
  p.iterations = iterations;
  p.window = kWindow;
  p.cq_moderation = 8;
  return p;
}

class StreamOneSided : public ::testing::TestWithParam<Op> {};

// Without the drain, the 10 warm-up operations are still in flight at the first measured post
// and their link time lands inside the measured interval, uncounted.
TEST_P(StreamOneSided, TheMeasuredPhaseStartsOnAnIdlePipeline) {
  const StreamRun run(one_sided(GetParam(), 10, 50));
  ASSERT_EQ(run.endpoint.in_flight_at_post.size(), 60U);
  const auto& at = run.endpoint.in_flight_at_post;
  EXPECT_EQ(at[10], 0U);
  EXPECT_GT(at[9], 0U);  // the warm-up was still in flight when its last operation went
  // After it the measured phase keeps the window full.
  EXPECT_EQ(most(at, 11), static_cast<std::size_t>(kWindow - 1));
  EXPECT_EQ(run.result.ops, 50U);
  EXPECT_EQ(run.result.bytes, 50U * kSize);
  EXPECT_GT(run.result.elapsed_ns, 0U);
}

TEST_P(StreamOneSided, WithoutAWarmUpNothingWaits) {
  const StreamRun run(one_sided(GetParam(), 0, 40));
  ASSERT_EQ(run.endpoint.in_flight_at_post.size(), 40U);
  const auto& at = run.endpoint.in_flight_at_post;
  EXPECT_EQ(at[0], 0U);
  EXPECT_EQ(most(at, 1), static_cast<std::size_t>(kWindow - 1));
  EXPECT_EQ(run.result.ops, 40U);
  EXPECT_EQ(run.result.bytes, 40U * kSize);
}

INSTANTIATE_TEST_SUITE_P(Ops, StreamOneSided, ::testing::Values(Op::write, Op::read),
                         [](const ::testing::TestParamInfo<Op>& param) {
                           return std::string(transport::op_name(param.param));
                         });

}  // namespace
}  // namespace fabricbench::suites
