#pragma once
// Memory providers: where message buffers live. GPUDirect later is a provider ("cuda"), not a
// separate code path: transports register whatever Buffer they are handed.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace fabricbench::transport {

enum class MemoryKind { host, hugepage, cuda };

struct Buffer {
  void* addr = nullptr;
  std::size_t length = 0;
  MemoryKind kind = MemoryKind::host;
};

class MemoryProvider {
 public:
  virtual ~MemoryProvider() = default;
  virtual std::string name() const = 0;
  virtual MemoryKind kind() const = 0;
  // Page-aligned, zero-filled. Throws core::Error(unavailable) with the reason (e.g. no huge
  // pages reserved: /proc/sys/vm/nr_hugepages is 0).
  virtual Buffer allocate(std::size_t bytes) = 0;
  virtual void release(Buffer& buffer) noexcept = 0;
};

// One entry of the registry's memory table: a provider the `memory:` key can name. A provider
// that cannot serve this host says why (no huge pages reserved, no GPU), and its cases are
// skipped with that reason.
struct MemoryDescriptor {
  std::string name;         // the `memory:` value
  std::string description;  // one line for `fabricbench list`
  std::function<std::unique_ptr<MemoryProvider>()> make;
};

// The providers of this folder: page-aligned host memory and huge pages.
MemoryDescriptor host_memory();
MemoryDescriptor hugepage_memory();

// "host" or "hugepage" (tests and probes). Throws core::Error(config) for an unknown name.
std::unique_ptr<MemoryProvider> make_memory_provider(std::string_view name);

// RAII owner of one buffer.
class OwnedBuffer {
 public:
  OwnedBuffer(MemoryProvider& provider, std::size_t bytes)
      : provider_(&provider), buffer_(provider.allocate(bytes)) {}
  ~OwnedBuffer() { provider_->release(buffer_); }
  OwnedBuffer(const OwnedBuffer&) = delete;
  OwnedBuffer& operator=(const OwnedBuffer&) = delete;
  const Buffer& get() const noexcept { return buffer_; }

 private:
  MemoryProvider* provider_;
  Buffer buffer_;
};

}  // namespace fabricbench::transport
