#include "transports/api/memory.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "transports/api/dmabuf_memory.hpp"

namespace fabricbench::transport {
namespace {

using core::Error;
using core::ErrorKind;

class HostProvider final : public MemoryProvider {
 public:
  std::string name() const override { return "host"; }
  MemoryTraits traits() const override { return {}; }
  Buffer allocate(std::size_t bytes) override {
    // mmap gives page-aligned, zero-filled memory and keeps big buffers out of the heap.
    void* p = mmap(nullptr, bytes == 0 ? 1 : bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      throw Error(ErrorKind::runtime, "host memory: mmap of " + std::to_string(bytes) +
                                          " bytes failed: " + std::strerror(errno));
    }
    return Buffer{p, bytes, traits(), this};
  }
  void release(Buffer& buffer) noexcept override {
    if (buffer.addr != nullptr) munmap(buffer.addr, buffer.length == 0 ? 1 : buffer.length);
    buffer = Buffer{};
  }
  nlohmann::json facts() const override { return {{"provider", "host"}, {"allocator", "mmap"}}; }
};

std::size_t huge_page_size() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  while (in >> key) {
    if (key == "Hugepagesize:") {
      std::size_t kib = 0;
      in >> kib;
      return kib * 1024;
    }
  }
  return 2u << 20;
}

class HugePageProvider final : public MemoryProvider {
 public:
  std::string name() const override { return "hugepage"; }
  MemoryTraits traits() const override { return {}; }
  Buffer allocate(std::size_t bytes) override {
    const std::size_t page = huge_page_size();
    const std::size_t rounded = ((bytes == 0 ? 1 : bytes) + page - 1) / page * page;
    void* p = mmap(nullptr, rounded, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      std::string reserved = "unknown";
      std::ifstream nr("/proc/sys/vm/nr_hugepages");
      if (nr) std::getline(nr, reserved);
      throw Error(ErrorKind::unavailable, "hugepage memory: mmap(MAP_HUGETLB) of " +
                                              std::to_string(rounded) +
                                              " bytes failed: " + std::strerror(err) +
                                              " (/proc/sys/vm/nr_hugepages is " + reserved + ")");
    }
    return Buffer{p, rounded, traits(), this};
  }
  void release(Buffer& buffer) noexcept override {
    if (buffer.addr != nullptr) munmap(buffer.addr, buffer.length);
    buffer = Buffer{};
  }
  nlohmann::json facts() const override {
    return {{"provider", "hugepage"},
            {"allocator", "mmap(MAP_HUGETLB)"},
            {"page_bytes", huge_page_size()}};
  }
};

void check_range(const Buffer& b, std::size_t offset, std::size_t bytes, const char* what) {
  if (offset > b.length || bytes > b.length - offset) {
    throw Error(ErrorKind::runtime, std::string("memory ") + what + " of " + std::to_string(bytes) +
                                        " bytes at offset " + std::to_string(offset) +
                                        " is outside the buffer of " + std::to_string(b.length) +
                                        " bytes");
  }
}

std::vector<std::string> numbered_choices(int count) {
  std::vector<std::string> out = {"auto"};
  for (int i = 0; i < count; ++i) out.push_back(std::to_string(i));
  return out;
}

}  // namespace

void MemoryProvider::read(const Buffer& from, std::size_t offset, void* to,
                          std::size_t bytes) const {
  check_range(from, offset, bytes, "read");
  if (bytes != 0) std::memcpy(to, static_cast<const std::byte*>(from.addr) + offset, bytes);
}

void MemoryProvider::write(const Buffer& to, std::size_t offset, const void* from,
                           std::size_t bytes) const {
  check_range(to, offset, bytes, "write");
  if (bytes != 0) std::memcpy(static_cast<std::byte*>(to.addr) + offset, from, bytes);
}

Dmabuf MemoryProvider::export_dmabuf(const Buffer& /*buffer*/) const {
  throw Error(ErrorKind::unavailable,
              name() +
                  " memory cannot be exported as a dma-buf (use memory: dmabuf or "
                  "cuda_device)");
}

std::unique_ptr<MemoryProvider> MemoryProvider::staging_provider() const {
  return std::make_unique<HostProvider>();
}

nlohmann::json MemoryProvider::facts() const {
  return {{"provider", name()}};
}

core::KeyDecl memory_gpu_key() {
  return core::choice_key("gpu", numbered_choices(16), "auto",
                          "GPU of GPU memory: auto (the GPU nearest the case's RDMA device, else "
                          "local rank modulo GPUs) or its CUDA ordinal.")
      .plan("gpu");
}

core::KeyDecl memory_numa_key() {
  return core::choice_key("numa_node", numbered_choices(16), "auto",
                          "NUMA node of page-locked host memory: auto (the GPU's node) or a "
                          "node number.")
      .plan("numa_node");
}

MemoryDescriptor host_memory() {
  MemoryDescriptor d;
  d.name = "host";
  d.description = "page-aligned host memory (mmap)";
  d.make = [](const core::Settings&) { return std::make_unique<HostProvider>(); };
  return d;
}

// Why MAP_HUGETLB cannot succeed here: no huge pages reserved and none may be overcommitted.
std::optional<std::string> hugepage_unavailable_reason() {
  const auto pages = [](const char* path) {
    std::ifstream in(path);
    long n = -1;
    return (in >> n) ? n : -1L;
  };
  const long reserved = pages("/proc/sys/vm/nr_hugepages");
  const long overcommit = pages("/proc/sys/vm/nr_overcommit_hugepages");
  if (reserved == 0 && overcommit <= 0) {
    return std::string("no huge pages reserved (/proc/sys/vm/nr_hugepages is 0)");
  }
  return std::nullopt;
}

MemoryDescriptor hugepage_memory() {
  MemoryDescriptor d;
  d.name = "hugepage";
  d.description = "huge pages (mmap MAP_HUGETLB; needs /proc/sys/vm/nr_hugepages > 0)";
  d.make = [](const core::Settings&) { return std::make_unique<HugePageProvider>(); };
  d.unavailable_reason = hugepage_unavailable_reason;
  return d;
}

std::unique_ptr<MemoryProvider> make_memory_provider(std::string_view name) {
  if (name == "host") return std::make_unique<HostProvider>();
  if (name == "hugepage") return std::make_unique<HugePageProvider>();
  if (name == "dmabuf") return make_dmabuf_provider();
  throw Error(ErrorKind::config, "unknown memory provider '" + std::string(name) +
                                     "' (known: host, hugepage, dmabuf)");
}

std::string describe(const MemoryTraits& traits) {
  if (traits.device) return "GPU memory";
  if (traits.page_locked) return "page-locked host memory";
  if (traits.dmabuf) return "dma-buf host memory";
  return "host memory";
}

void read_buffer(const Buffer& from, std::size_t offset, void* to, std::size_t bytes) {
  if (from.provider != nullptr) {
    from.provider->read(from, offset, to, bytes);
    return;
  }
  check_range(from, offset, bytes, "read");
  if (bytes != 0) std::memcpy(to, static_cast<const std::byte*>(from.addr) + offset, bytes);
}

void write_buffer(const Buffer& to, std::size_t offset, const void* from, std::size_t bytes) {
  if (to.provider != nullptr) {
    to.provider->write(to, offset, from, bytes);
    return;
  }
  check_range(to, offset, bytes, "write");
  if (bytes != 0) std::memcpy(static_cast<std::byte*>(to.addr) + offset, from, bytes);
}

}  // namespace fabricbench::transport
