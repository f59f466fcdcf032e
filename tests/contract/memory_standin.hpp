#pragma once
// A stand-in for GPU memory in tests without a GPU: host memory whose traits say the CPU cannot
// address it, so every path that must not touch it directly (staging, verification) goes through
// read()/write() as it would with cudaMemcpy. It counts those calls and the staging buffers it
// hands out, so tests can check the accounting exactly.
#include <sys/mman.h>

#include <cstring>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "transports/api/memory.hpp"

namespace fabricbench::testkit {

struct StandInCounts {
  int reads = 0;
  int writes = 0;
  int staging_made = 0;
};

class StandInDeviceMemory final : public transport::MemoryProvider {
 public:
  explicit StandInDeviceMemory(std::shared_ptr<StandInCounts> counts = nullptr)
      : counts_(counts ? std::move(counts) : std::make_shared<StandInCounts>()) {}
  std::string name() const override { return "standin_device"; }
  transport::MemoryTraits traits() const override {
    transport::MemoryTraits t;
    t.cpu_addressable = false;
    t.device = true;
    return t;
  }
  transport::Buffer allocate(std::size_t bytes) override {
    void* p = ::mmap(nullptr, bytes == 0 ? 1 : bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw core::Error(core::ErrorKind::runtime, "stand-in: mmap failed");
    return transport::Buffer{p, bytes, traits(), this};
  }
  void release(transport::Buffer& b) noexcept override {
    if (b.addr != nullptr) ::munmap(b.addr, b.length == 0 ? 1 : b.length);
    b = transport::Buffer{};
  }
  void read(const transport::Buffer& from, std::size_t offset, void* to,
            std::size_t bytes) const override {
    ++counts_->reads;
    MemoryProvider::read(from, offset, to, bytes);
  }
  void write(const transport::Buffer& to, std::size_t offset, const void* from,
             std::size_t bytes) const override {
    ++counts_->writes;
    MemoryProvider::write(to, offset, from, bytes);
  }
  std::unique_ptr<transport::MemoryProvider> staging_provider() const override {
    ++counts_->staging_made;
    return MemoryProvider::staging_provider();
  }
  // The test's own view of the "device" bytes (what a kernel would see).
  static std::byte* bytes(const transport::Buffer& b) { return static_cast<std::byte*>(b.addr); }
  StandInCounts& counts() const { return *counts_; }

 private:
  std::shared_ptr<StandInCounts> counts_;
};

// Its entry for a test registry's memory table.
inline transport::MemoryDescriptor standin_memory() {
  return {"standin_device",
          "test stand-in for GPU memory (host memory the CPU may not address)",
          StandInDeviceMemory().traits(),
          {},
          [](const core::Settings&) { return std::make_unique<StandInDeviceMemory>(); },
          {}};
}

}  // namespace fabricbench::testkit
