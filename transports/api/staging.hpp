#pragma once
// Staging: memory a transport cannot register (GPU memory over sockets) carried through
// page-locked host buffers, with the staging copies counted and timed apart from the transfer,
// so a run shows what the missing GPUDirect path costs.
//
// StagingTransport wraps a transport. register_memory() of a buffer the CPU cannot address
// allocates a staging buffer of the same size from the buffer provider's staging_provider()
// (cuda_host for cuda_device), registers that with the wrapped transport and returns a region
// whose `buffer` is still the caller's (suites and verification see their own memory); other
// buffers pass straight through. Its endpoints:
//  - send: copy [offset, offset + length) of the buffer into the staging buffer (the "to_host"
//    copy), then post the send on the staging range;
//  - recv: post on the staging range; when the receive completes, copy the bytes received into
//    the buffer (the "to_device" copy) before the completion is returned.
// Only two-sided operations are staged: capabilities() clears write, read and atomics (a
// one-sided write into staging would never reach the peer's buffer). The copies go through
// MemoryProvider::read/write, synchronous, so the counters hold their whole cost. This layer reads
// the clock for those counters only; the transfer itself is timed by the engine as always.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include "transports/api/transport.hpp"

namespace fabricbench::transport {

struct StagingCounters {
  struct Direction {
    std::uint64_t copies = 0;
    std::uint64_t bytes = 0;
    std::uint64_t ns = 0;
  };
  Direction to_host;    // buffer -> staging, before a send
  Direction to_device;  // staging -> buffer, after a receive
};

nlohmann::json to_json(const StagingCounters& c);

// Whether `buffer` must be staged to go over a transport that registers only memory the CPU
// can address (sockets).
bool needs_staging(const Buffer& buffer) noexcept;

class StagingTransport final : public Transport, public ConnectionEventSource {
 public:
  // `clock` returns nanoseconds (core::now_ns in the engine; a fake in tests).
  StagingTransport(std::unique_ptr<Transport> inner, std::function<std::uint64_t()> clock);
  ~StagingTransport() override;
  StagingTransport(const StagingTransport&) = delete;
  StagingTransport& operator=(const StagingTransport&) = delete;

  std::string name() const override;
  Capabilities capabilities() const override;
  MemoryRegion register_memory(const Buffer& buffer) override;
  void deregister_memory(MemoryRegion& region) noexcept override;
  std::vector<std::unique_ptr<Endpoint>> connect(Exchange& exchange, const std::vector<int>& peers,
                                                 int connections_per_peer) override;
  std::vector<ConnectionEvent> drain_connection_events() override;

  // Every copy so far, over every endpoint. Thread-safe.
  StagingCounters counters() const;
  Transport& inner() noexcept { return *inner_; }

  struct Shared;  // the staged regions and the counters, shared with the endpoints

 private:
  std::unique_ptr<Transport> inner_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace fabricbench::transport
