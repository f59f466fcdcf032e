// The nccl backend's and the cuda provider's registry entries. Without a usable GPU (the
// development and CI machines) both must say why, naming the CUDA error, and every test that
// needs a GPU skips with that reason; with one, a one-rank all_reduce runs and its result is
// checked.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/error.hpp"
#include "core/settings.hpp"
#include "transports/api/communicator.hpp"
#include "transports/cuda/cuda_memory.hpp"
#include "transports/nccl/nccl_descriptor.hpp"

namespace {

namespace fb = fabricbench;
using fb::transport::cuda::cuda_built;
using fb::transport::cuda::cuda_device_memory;
using fb::transport::cuda::cuda_unavailable_reason;

class OneRank final : public fb::transport::Exchange {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::vector<std::string> allgather(const std::string& mine) override { return {mine}; }
};

TEST(NcclRegistry, DeclaresItsEntry) {
  const auto d = fb::transport::nccl::descriptor();
  EXPECT_EQ(d.name, "nccl");
  EXPECT_EQ(d.memory, "cuda_device");
  for (const char* key : {"aggregate", "graph", "register", "blocking", "cta_policy"}) {
    EXPECT_NE(fb::core::find_key(d.keys, key), nullptr) << key;
  }
  const fb::core::Settings defaults(d.keys);
  EXPECT_EQ(defaults.integer("aggregate"), 1);
  EXPECT_EQ(defaults.integer("graph"), 0);
  EXPECT_EQ(defaults.text("register"), "none");
  EXPECT_FALSE(defaults.flag("blocking"));
  ASSERT_TRUE(d.check);
  EXPECT_TRUE(d.check(defaults, {}).empty());
  ASSERT_TRUE(d.unavailable_reason);
  EXPECT_EQ(cuda_device_memory().name, "cuda_device");
}

// Without a GPU: the reasons name the CUDA error, and allocate throws unavailable.
TEST(NcclRegistry, NoGpuSaysWhy) {
  const auto why = cuda_unavailable_reason();
  if (!why) GTEST_SKIP() << "a GPU is usable here; NcclRegistry.OneRankAllReduce covers it";
  const auto nccl_why = fb::transport::nccl::descriptor().unavailable_reason();
  ASSERT_TRUE(nccl_why.has_value());
  EXPECT_EQ(*nccl_why, *why);
  if (cuda_built()) {
    EXPECT_NE(why->find("no usable GPU: cudaGetDeviceCount: "), std::string::npos) << *why;
    EXPECT_NE(why->find("(cuda"), std::string::npos) << "names the CUDA error: " << *why;
  } else {
    EXPECT_NE(why->find("built without"), std::string::npos) << *why;
  }
  auto provider = cuda_device_memory().make(fb::core::Settings(cuda_device_memory().keys));
  ASSERT_TRUE(provider);
  EXPECT_TRUE(provider->traits().device);
  EXPECT_FALSE(provider->traits().cpu_addressable);
  try {
    (void)provider->allocate(4096);
    FAIL() << "allocate without a GPU returned";
  } catch (const fb::core::Error& e) {
    EXPECT_EQ(e.kind(), fb::core::ErrorKind::unavailable);
    EXPECT_EQ(std::string(e.what()), *why);
  }
}

TEST(NcclRegistry, OneRankAllReduce) {
  const auto d = fb::transport::nccl::descriptor();
  if (auto why = d.unavailable_reason()) GTEST_SKIP() << "nccl unavailable here: " << *why;
  ASSERT_TRUE(d.make) << "available, yet built without a factory";
  OneRank exchange;
  fb::transport::CommunicatorParams params;
  params.timeout_ns = 60'000'000'000;
  params.launcher = "local";
  auto comm = d.make(fb::core::Settings(d.keys), params, exchange);
  ASSERT_TRUE(comm);
  EXPECT_EQ(comm->size(), 1);
  auto provider = cuda_device_memory().make(fb::core::Settings(cuda_device_memory().keys));
  constexpr std::size_t kCount = 1024;
  fb::transport::OwnedBuffer send(*provider, kCount * sizeof(float));
  fb::transport::OwnedBuffer recv(*provider, kCount * sizeof(float));
  std::vector<float> host(kCount);
  for (std::size_t i = 0; i < kCount; ++i) host[i] = static_cast<float>(i) * 0.5f;
  comm->to_device(send.get().addr, host.data(), kCount * sizeof(float));
  ASSERT_FALSE(comm->unsupported(fb::transport::Collective::all_reduce,
                                 fb::transport::DataType::float32, fb::transport::RedOp::sum));
  fb::transport::CollectiveCall call;
  call.send = send.get().addr;
  call.recv = recv.get().addr;
  call.count = kCount;
  comm->start(call);
  while (!comm->test()) {
  }
  std::vector<float> out(kCount, -1.0f);
  comm->from_device(out.data(), recv.get().addr, kCount * sizeof(float));
  EXPECT_EQ(std::memcmp(out.data(), host.data(), kCount * sizeof(float)), 0);
  comm->start_barrier();
  while (!comm->test()) {
  }
  const auto facts = comm->facts();
  EXPECT_TRUE(facts.contains("nccl_version"));
  EXPECT_TRUE(facts.contains("device"));
  std::printf("facts: %s\n", facts.dump().substr(0, 2000).c_str());
}

}  // namespace
