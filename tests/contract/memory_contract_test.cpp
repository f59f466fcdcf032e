// The memory provider contract (transports/api/memory.hpp, "Rules every provider follows"), one
// parameterised suite over every provider of the registry's memory table plus the GPU stand-in.
// A provider this host cannot serve (no huge pages, no dma-buf exporter, no GPU) is skipped with
// its reason.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "tests/contract/memory_standin.hpp"
#include "transports/api/memory.hpp"
#include "transports/cuda/cuda_memory.hpp"

namespace fabricbench::testkit {
namespace {

using transport::Buffer;
using transport::MemoryDescriptor;
using transport::MemoryProvider;

struct Entry {
  std::string name;
  std::function<MemoryDescriptor()> descriptor;
};

void PrintTo(const Entry& e, std::ostream* os) {
  *os << e.name;
}

std::vector<Entry> entries() {
  return {{"host", transport::host_memory},
          {"hugepage", transport::hugepage_memory},
          {"dmabuf", transport::dmabuf_memory},
          {"cuda_device", transport::cuda::cuda_device_memory},
          {"cuda_host", transport::cuda::cuda_host_memory},
          {"standin_device", standin_memory}};
}

class MemoryContract : public ::testing::TestWithParam<Entry> {
 protected:
  void SetUp() override {
    d_ = GetParam().descriptor();
    if (auto why = d_.unavailable_reason ? d_.unavailable_reason() : std::nullopt) {
      GTEST_SKIP() << d_.name << " unavailable here: " << *why;
    }
    provider_ = d_.make(core::Settings(d_.keys));
    try {
      buffer_ = provider_->allocate(kBytes);
    } catch (const core::Error& e) {
      if (e.kind() == core::ErrorKind::unavailable) {
        provider_.reset();
        GTEST_SKIP() << d_.name << " cannot allocate here: " << e.what();
      }
      throw;
    }
  }
  void TearDown() override {
    if (provider_) provider_->release(buffer_);
  }
  static constexpr std::size_t kBytes = 3 * 4096 + 100;
  MemoryDescriptor d_;
  std::unique_ptr<MemoryProvider> provider_;
  Buffer buffer_;
};

TEST_P(MemoryContract, AllocatesZeroFilledWithItsTraits) {
  EXPECT_NE(buffer_.addr, nullptr);
  EXPECT_GE(buffer_.length, kBytes);
  EXPECT_EQ(buffer_.provider, provider_.get());
  EXPECT_EQ(provider_->name(), d_.name);
  const auto t = provider_->traits();
  EXPECT_EQ(buffer_.traits.cpu_addressable, t.cpu_addressable);
  EXPECT_EQ(buffer_.traits.device, t.device);
  EXPECT_EQ(d_.traits.cpu_addressable, t.cpu_addressable) << "the table says otherwise";
  EXPECT_EQ(d_.traits.dmabuf, t.dmabuf);
  if (t.cpu_addressable) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(buffer_.addr) % 4096, 0u) << "page-aligned";
  }
  std::vector<unsigned char> host(kBytes, 0xee);
  provider_->read(buffer_, 0, host.data(), kBytes);
  for (std::size_t i = 0; i < kBytes; ++i) ASSERT_EQ(host[i], 0) << "byte " << i;
}

TEST_P(MemoryContract, WriteThenReadAtAnOffset) {
  std::vector<unsigned char> in(5000);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<unsigned char>(i * 7 + 3);
  provider_->write(buffer_, 1234, in.data(), in.size());
  std::vector<unsigned char> out(in.size());
  transport::read_buffer(buffer_, 1234, out.data(), out.size());
  EXPECT_EQ(in, out);
  unsigned char before = 0xee;
  provider_->read(buffer_, 1233, &before, 1);
  EXPECT_EQ(before, 0) << "write spilled before its offset";
  if (buffer_.traits.cpu_addressable) {
    EXPECT_EQ(static_cast<const unsigned char*>(buffer_.addr)[1234 + 17], in[17])
        << "CPU-addressable memory holds what write() put there";
  }
}

TEST_P(MemoryContract, CopiesOutsideTheBufferThrow) {
  std::vector<unsigned char> host(16);
  EXPECT_THROW(provider_->read(buffer_, buffer_.length - 8, host.data(), 16), core::Error);
  EXPECT_THROW(provider_->write(buffer_, buffer_.length + 1, host.data(), 0), core::Error);
}

TEST_P(MemoryContract, ExportsADmabufOrSaysWhyNot) {
  try {
    transport::Dmabuf d = provider_->export_dmabuf(buffer_);
    EXPECT_TRUE(buffer_.traits.dmabuf) << "exported although its traits say it cannot";
    struct stat st {};
    ASSERT_EQ(::fstat(d.fd, &st), 0) << "not an open file descriptor: " << d.fd;
    EXPECT_FALSE(d.exporter.empty());
    ::close(d.fd);
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::unavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find("dma-buf"), std::string::npos) << e.what();
    // The GPU machine's check (ci/gpu-check.sh) requires the export to work there.
    const char* required = std::getenv("FABRICBENCH_REQUIRE_DMABUF_EXPORT");
    EXPECT_FALSE(required != nullptr && d_.name == required)
        << d_.name << " must export a dma-buf here: " << e.what();
  }
}

TEST_P(MemoryContract, StagingProviderGivesCpuMemory) {
  auto staging = provider_->staging_provider();
  ASSERT_TRUE(staging);
  EXPECT_TRUE(staging->traits().cpu_addressable);
}

TEST_P(MemoryContract, FactsNameTheProviderAndReleaseEmptiesTheBuffer) {
  EXPECT_EQ(provider_->facts().value("provider", ""), d_.name);
  provider_->release(buffer_);
  EXPECT_EQ(buffer_.addr, nullptr);
  EXPECT_EQ(buffer_.length, 0u);
}

INSTANTIATE_TEST_SUITE_P(Providers, MemoryContract, ::testing::ValuesIn(entries()),
                         [](const auto& param_info) { return param_info.param.name; });

// Refusals without the hardware: each names what is missing.
TEST(MemoryRefusals, GpuProvidersSayWhyWithoutAGpu) {
  const auto why = transport::cuda::cuda_unavailable_reason();
  if (!why) GTEST_SKIP() << "a GPU is usable here";
  for (const auto& d :
       {transport::cuda::cuda_device_memory(), transport::cuda::cuda_host_memory()}) {
    ASSERT_TRUE(d.unavailable_reason) << d.name;
    EXPECT_EQ(d.unavailable_reason(), why) << d.name;
    auto p = d.make(core::Settings(d.keys));
    try {
      (void)p->allocate(4096);
      ADD_FAILURE() << d.name << " allocated without a GPU";
    } catch (const core::Error& e) {
      EXPECT_EQ(e.kind(), core::ErrorKind::unavailable);
      EXPECT_EQ(std::string(e.what()), *why);
    }
  }
}

TEST(MemoryRefusals, DmabufSaysWhichExportersAreMissing) {
  const auto why = transport::dmabuf_memory().unavailable_reason();
  if (!why) GTEST_SKIP() << "a dma-buf exporter is usable here (tests/vm/dmabuf-test.sh)";
  EXPECT_NE(why->find("/dev/udmabuf"), std::string::npos) << *why;
  EXPECT_NE(why->find("vgem"), std::string::npos) << *why;
  auto p = transport::make_memory_provider("dmabuf");
  EXPECT_THROW((void)p->allocate(4096), core::Error);
}

TEST(MemoryRefusals, HostMemoryIsNoDmabuf) {
  auto p = transport::make_memory_provider("host");
  transport::OwnedBuffer b(*p, 4096);
  try {
    (void)p->export_dmabuf(b.get());
    ADD_FAILURE() << "host memory exported as a dma-buf";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::unavailable);
    EXPECT_NE(std::string(e.what()).find("host memory cannot be exported as a dma-buf"),
              std::string::npos)
        << e.what();
  }
}

TEST(MemoryKeys, GpuAndNumaAreDeclaredAlikeByEveryCudaProvider) {
  const auto device = transport::cuda::cuda_device_memory();
  const auto host = transport::cuda::cuda_host_memory();
  const auto* a = core::find_key(device.keys, "gpu");
  const auto* b = core::find_key(host.keys, "gpu");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->choices, b->choices);
  EXPECT_EQ(a->default_value, b->default_value);
  ASSERT_NE(core::find_key(host.keys, "numa_node"), nullptr);
  core::Settings s(device.keys);
  EXPECT_EQ(transport::cuda::gpu_setting(s), -1) << "auto";
  s.set(*a, core::SettingValue::of_text("3"));
  EXPECT_EQ(transport::cuda::gpu_setting(s), 3);
}

}  // namespace
}  // namespace fabricbench::testkit
