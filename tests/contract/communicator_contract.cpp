// The communicator contract (see communicator_contract.hpp).
#include "tests/contract/communicator_contract.hpp"

#include <chrono>
#include <cstring>
#include <vector>

#include "core/clock.hpp"
#include "suites/collective/layout.hpp"
#include "suites/collective/values.hpp"

namespace fabricbench::testkit {
namespace {

using transport::Collective;
using transport::CollectiveCall;
using transport::Communicator;
using transport::DataType;
using transport::RedOp;

transport::Exchange* g_world = nullptr;

// Polls test() for at most 20 s (a hang fails the test instead of the run).
::testing::AssertionResult completes(Communicator& comm) {
  const std::uint64_t deadline = core::now_ns() + 20'000'000'000ULL;
  while (!comm.test()) {
    if (core::now_ns() > deadline) {
      return ::testing::AssertionFailure() << "test() not true within 20 s";
    }
  }
  return ::testing::AssertionSuccess();
}

struct Buffers {
  std::unique_ptr<transport::MemoryProvider> provider;
  transport::Buffer send;
  transport::Buffer recv;
  Buffers(std::unique_ptr<transport::MemoryProvider> p, std::size_t bytes)
      : provider(std::move(p)) {
    send = provider->allocate(bytes);
    recv = provider->allocate(bytes);
  }
  ~Buffers() {
    provider->release(send);
    provider->release(recv);
  }
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
};

// One collective with the suite's exact inputs; every output element checked on every rank.
void run_and_check(Communicator& comm, Buffers& b, Collective c, DataType t, RedOp op,
                   bool in_place, std::uint64_t size) {
  const int n = comm.size();
  const int rank = comm.rank();
  const auto l = suites::collective::layout_of(c, t, size, n);
  const suites::collective::Call call{c, t, op, n - 1, n, 7};
  CollectiveCall what;
  what.collective = c;
  what.type = t;
  what.op = op;
  what.root = n - 1;
  const CollectiveCall cc =
      suites::collective::place_call(what, l, rank, b.send.addr, b.recv.addr, in_place);
  const auto input = suites::collective::make_input(call, l, rank);
  std::vector<std::byte> poison(l.size_bytes, std::byte{0x5A});
  comm.to_device(b.recv.addr, poison.data(), poison.size());
  comm.to_device(const_cast<void*>(cc.send), input.data(), input.size());
  comm.start(cc);
  ASSERT_TRUE(completes(comm)) << to_string(c);
  std::vector<std::byte> out(l.recv_count * l.element_bytes);
  comm.from_device(out.data(), cc.recv, out.size());
  const auto check = suites::collective::check_output(call, l, rank, out);
  EXPECT_EQ(check.wrong, 0U) << to_string(c) << " " << to_string(t) << " " << to_string(op)
                             << (in_place ? " in place" : " out of place") << ", rank " << rank
                             << ": first wrong element " << (check.first ? check.first->index : 0)
                             << " expected " << (check.first ? check.first->expected : 0) << " got "
                             << (check.first ? check.first->got : 0);
}

}  // namespace

void set_world(transport::Exchange* world) {
  g_world = world;
}
transport::Exchange& world() {
  return *g_world;
}

// Rule 1: connect is collective over the world; the communicator's ranks are the world's.
TEST_P(CommunicatorContract, SpansTheWorld) {
  auto comm = GetParam().make(world());
  EXPECT_EQ(comm->rank(), world().rank());
  EXPECT_EQ(comm->size(), world().size());
  EXPECT_FALSE(comm->name().empty());
}

// Rule 2: nothing started -> test() is true; a barrier completes on every rank.
TEST_P(CommunicatorContract, TestIsTrueWhenIdleAndBarrierCompletes) {
  auto comm = GetParam().make(world());
  EXPECT_TRUE(comm->test());
  comm->start_barrier();
  EXPECT_TRUE(completes(*comm));
  EXPECT_TRUE(comm->test());
}

// Rule 2: every collective, out of place and in place, gives exactly nccl-tests' result.
TEST_P(CommunicatorContract, EveryCollectiveIsExact) {
  auto comm = GetParam().make(world());
  Buffers b(GetParam().memory(), 1 << 16);
  for (const Collective c : transport::all_collectives()) {
    for (const bool in_place : {false, true}) {
      for (const std::uint64_t size : {std::uint64_t{4096}, std::uint64_t{1000}}) {
        run_and_check(*comm, b, c, DataType::float32, RedOp::sum, in_place, size);
      }
    }
  }
}

// Rule 2: each supported (type, op) of the reducing collectives is exact; the rest say why.
TEST_P(CommunicatorContract, TypesAndOpsAreExactOrRefused) {
  auto comm = GetParam().make(world());
  Buffers b(GetParam().memory(), 1 << 14);
  for (const DataType t : transport::all_data_types()) {
    for (const RedOp op : transport::all_red_ops()) {
      const auto why = comm->unsupported(Collective::all_reduce, t, op);
      if (why) {
        EXPECT_FALSE(why->empty());
        continue;
      }
      run_and_check(*comm, b, Collective::all_reduce, t, op, false, 2048);
      run_and_check(*comm, b, Collective::reduce_scatter, t, op, true, 2048);
    }
  }
  EXPECT_EQ(comm->unsupported(Collective::all_reduce, DataType::float32, RedOp::sum), std::nullopt);
}

// Rule 2: a pipelining backend runs queued starts in order; any other completes one at a time.
TEST_P(CommunicatorContract, BackToBackCallsComplete) {
  auto comm = GetParam().make(world());
  Buffers b(GetParam().memory(), 4096);
  const int repeats = 20;
  for (int i = 0; i < repeats; ++i) {
    CollectiveCall cc;
    cc.send = b.send.addr;
    cc.recv = b.recv.addr;
    cc.count = 256;
    comm->start(cc);
    if (!comm->pipelines()) {
      ASSERT_TRUE(completes(*comm));
    }
  }
  ASSERT_TRUE(completes(*comm));
  run_and_check(*comm, b, Collective::all_reduce, DataType::float32, RedOp::sum, false, 1024);
}

// Rule 5: host <-> buffer copies round-trip.
TEST_P(CommunicatorContract, CopiesRoundTrip) {
  auto comm = GetParam().make(world());
  Buffers b(GetParam().memory(), 4096);
  std::vector<std::byte> in(4096);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::byte>(i * 7 + 3);
  comm->to_device(b.send.addr, in.data(), in.size());
  std::vector<std::byte> out(4096);
  comm->from_device(out.data(), b.send.addr, out.size());
  EXPECT_EQ(std::memcmp(in.data(), out.data(), in.size()), 0);
}

// Rules 4 and 6: facts is an object; abort returns (also on an idle communicator).
TEST_P(CommunicatorContract, FactsAndAbort) {
  auto comm = GetParam().make(world());
  EXPECT_TRUE(comm->facts().is_object());
  world().allgather("before abort");  // no rank aborts while another still uses its own
  comm->abort();
  SUCCEED();
}

}  // namespace fabricbench::testkit
