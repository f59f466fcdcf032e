#pragma once
// Memory providers: where message buffers live. GPU memory is a provider (cuda_device,
// cuda_host), not a separate code path: transports register whatever Buffer they are handed, and
// decide from the provider's traits how (ibv_reg_mr, ibv_reg_dmabuf_mr, or staged through a
// page-locked host buffer: transports/api/staging.hpp).
//
// Rules every provider follows (tests/contract/memory_contract):
//  - allocate() returns zero-filled memory of at least the bytes asked, page-aligned where the
//    CPU can address it; it throws core::Error(unavailable) with the reason when this host
//    cannot serve it (no huge pages reserved, no GPU) and core::Error(runtime) when an
//    allocation that should work fails.
//  - read()/write() copy between the buffer and host memory, whatever the CPU can address;
//    they are the only way a suite touches memory whose traits say cpu_addressable == false.
//  - export_dmabuf() gives a dma-buf file descriptor covering the buffer (the caller closes it)
//    or throws core::Error(unavailable) saying why not.
//  - facts() says what was allocated where (GPU, NUMA node, allocator), for the run document.
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/settings.hpp"

namespace fabricbench::transport {

class MemoryProvider;

// What a provider's memory is and what may be done with it.
struct MemoryTraits {
  bool cpu_addressable = true;  // the CPU may load and store it (sockets, verify in place)
  bool device = false;          // it lives on a GPU
  bool page_locked = false;     // pinned (cudaHostAlloc): a DMA engine may read it directly
  bool dmabuf = false;          // export_dmabuf() can work (ibv_reg_dmabuf_mr)
};

struct Buffer {
  void* addr = nullptr;
  std::size_t length = 0;
  MemoryTraits traits;
  const MemoryProvider* provider = nullptr;  // who made it (read/write/export); null: plain host
};

// A dma-buf covering a buffer: registering [offset, offset + length) of `fd` registers the
// buffer. The holder closes fd.
struct Dmabuf {
  int fd = -1;
  std::size_t offset = 0;
  std::string exporter;  // "cuda (cuMemGetHandleForAddressRange)", "vgem", "udmabuf"
};

class MemoryProvider {
 public:
  virtual ~MemoryProvider() = default;
  virtual std::string name() const = 0;
  virtual MemoryTraits traits() const = 0;
  virtual Buffer allocate(std::size_t bytes) = 0;
  virtual void release(Buffer& buffer) noexcept = 0;
  // Copies between the buffer at `offset` and host memory. The default (CPU-addressable memory)
  // is memcpy.
  virtual void read(const Buffer& from, std::size_t offset, void* to, std::size_t bytes) const;
  virtual void write(const Buffer& to, std::size_t offset, const void* from,
                     std::size_t bytes) const;
  // The default: unavailable ("<name> memory cannot be exported as a dma-buf").
  virtual Dmabuf export_dmabuf(const Buffer& buffer) const;
  // Page-locked host memory to stage this provider's buffers through (transports that cannot
  // register them). The default: plain host memory (CPU-addressable memory needs no staging).
  virtual std::unique_ptr<MemoryProvider> staging_provider() const;
  // {"provider", "gpu", "numa_node", "allocator", ...}: what allocate() did.
  virtual nlohmann::json facts() const;
  // The RDMA device the case's traffic crosses ("" for none), before the first allocate(): a
  // provider that picks a GPU by itself (`gpu: auto`) takes the one nearest it.
  virtual void place_near(const std::string& /*rdma_device*/) {}
};

// One entry of the registry's memory table: a provider the `memory:` key can name. A provider
// that cannot serve this host says why (no huge pages reserved, no GPU), and its cases are
// skipped with that reason.
struct MemoryDescriptor {
  std::string name;         // the `memory:` value
  std::string description;  // one line for `fabricbench list`
  MemoryTraits traits;
  // Case keys it reads, written directly in a case group (`gpu: auto`). Providers that read the
  // same key declare it identically (memory_gpu_key() below).
  std::vector<core::KeyDecl> keys;
  std::function<std::unique_ptr<MemoryProvider>(const core::Settings& own)> make;
  // Why it cannot allocate here ("built without CUDA", "no usable GPU: ..."), or nullopt.
  // Optional; called only when a case uses it.
  std::function<std::optional<std::string>()> unavailable_reason;
};

// `gpu: auto | N` (auto: the GPU nearest the rank's RDMA NIC, else local rank modulo GPUs);
// its numeric value is -1 for auto.
core::KeyDecl memory_gpu_key();
// `numa_node: auto | N` (auto: the node of the GPU, or where the kernel puts it); -1 for auto.
core::KeyDecl memory_numa_key();

// The providers of this folder: page-aligned host memory, huge pages, and host memory exported
// as a dma-buf (udmabuf where /dev/udmabuf exists, else a vgem dumb buffer): the dma-buf
// registration path without a GPU.
MemoryDescriptor host_memory();
MemoryDescriptor hugepage_memory();
MemoryDescriptor dmabuf_memory();

// "host", "hugepage" or "dmabuf" at their defaults (tests and probes). Throws
// core::Error(config) for an unknown name.
std::unique_ptr<MemoryProvider> make_memory_provider(std::string_view name);

// "host", "hugepage", ... as one word for messages: the traits in words ("GPU memory",
// "page-locked host memory", "host memory").
std::string describe(const MemoryTraits& traits);

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

// Copies through the buffer's provider (plain memcpy for a buffer without one).
void read_buffer(const Buffer& from, std::size_t offset, void* to, std::size_t bytes);
void write_buffer(const Buffer& to, std::size_t offset, const void* from, std::size_t bytes);

}  // namespace fabricbench::transport
