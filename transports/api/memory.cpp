#include "transports/api/memory.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "core/error.hpp"

namespace fabricbench::transport {
namespace {

using core::Error;
using core::ErrorKind;

class HostProvider final : public MemoryProvider {
 public:
  std::string name() const override { return "host"; }
  MemoryKind kind() const override { return MemoryKind::host; }
  Buffer allocate(std::size_t bytes) override {
    // mmap gives page-aligned, zero-filled memory and keeps big buffers out of the heap.
    void* p = mmap(nullptr, bytes == 0 ? 1 : bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      throw Error(ErrorKind::runtime, "host memory: mmap of " + std::to_string(bytes) +
                                          " bytes failed: " + std::strerror(errno));
    }
    return Buffer{p, bytes, MemoryKind::host};
  }
  void release(Buffer& buffer) noexcept override {
    if (buffer.addr != nullptr) munmap(buffer.addr, buffer.length == 0 ? 1 : buffer.length);
    buffer = Buffer{};
  }
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
  MemoryKind kind() const override { return MemoryKind::hugepage; }
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
    return Buffer{p, rounded, MemoryKind::hugepage};
  }
  void release(Buffer& buffer) noexcept override {
    if (buffer.addr != nullptr) munmap(buffer.addr, buffer.length);
    buffer = Buffer{};
  }
};

}  // namespace

MemoryDescriptor host_memory() {
  return {"host", "page-aligned host memory (mmap)",
          [] { return std::make_unique<HostProvider>(); }};
}

MemoryDescriptor hugepage_memory() {
  return {"hugepage", "huge pages (mmap MAP_HUGETLB; needs /proc/sys/vm/nr_hugepages > 0)",
          [] { return std::make_unique<HugePageProvider>(); }};
}

std::unique_ptr<MemoryProvider> make_memory_provider(std::string_view name) {
  if (name == "host") return std::make_unique<HostProvider>();
  if (name == "hugepage") return std::make_unique<HugePageProvider>();
  throw Error(ErrorKind::config,
              "unknown memory provider '" + std::string(name) + "' (known: host, hugepage)");
}

}  // namespace fabricbench::transport
