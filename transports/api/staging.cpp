#include "transports/api/staging.hpp"

#include <deque>
#include <map>
#include <utility>

#include "core/error.hpp"

namespace fabricbench::transport {
namespace {

using core::Error;
using core::ErrorKind;

// One staged buffer: the caller's, its staging twin and the twin's registration.
struct Staged {
  Buffer buffer;
  std::unique_ptr<MemoryProvider> provider;  // the staging provider
  Buffer staging;
  MemoryRegion inner;
};

nlohmann::json to_json(const StagingCounters::Direction& d) {
  return {{"copies", d.copies}, {"bytes", d.bytes}, {"ns", d.ns}};
}

}  // namespace

struct StagingTransport::Shared {
  std::function<std::uint64_t()> clock;
  mutable std::mutex mutex;
  StagingCounters counters;
  std::map<const void*, std::unique_ptr<Staged>> staged;  // by the caller's buffer address

  const Staged* find(const MemoryRegion* region) const {
    if (region == nullptr) return nullptr;
    std::lock_guard lock(mutex);
    auto it = staged.find(region->buffer.addr);
    return it == staged.end() ? nullptr : it->second.get();
  }
  void count(StagingCounters::Direction StagingCounters::*which, std::uint64_t bytes,
             std::uint64_t ns) {
    std::lock_guard lock(mutex);
    auto& d = counters.*which;
    ++d.copies;
    d.bytes += bytes;
    d.ns += ns;
  }
};

namespace {

class StagingEndpoint final : public Endpoint {
 public:
  StagingEndpoint(std::unique_ptr<Endpoint> inner, std::shared_ptr<StagingTransport::Shared> s)
      : inner_(std::move(inner)), shared_(std::move(s)) {}

  int peer() const override { return inner_->peer(); }
  std::size_t queue_depth() const override { return inner_->queue_depth(); }
  std::string describe() const override { return inner_->describe() + " staged"; }

  bool post(const WorkRequest& request) override {
    const Staged* st = shared_->find(request.local);
    if (st == nullptr) return inner_->post(request);
    WorkRequest staged = request;
    staged.local = &st->inner;
    if (request.op == Op::send) return post_send(*st, staged);
    if (request.op == Op::recv) {
      if (!inner_->post(staged)) return false;
      receives_.push_back({request.wr_id, st, request.offset});
      return true;
    }
    throw Error(ErrorKind::runtime, std::string("staged memory carries two-sided operations only, "
                                                "not ") +
                                        op_name(request.op));
  }

  std::size_t poll(std::span<Completion> out) override { return unstage(out, inner_->poll(out)); }

  std::size_t wait(std::span<Completion> out, std::uint64_t timeout_ns) override {
    return unstage(out, inner_->wait(out, timeout_ns));
  }

 private:
  struct Receive {
    std::uint64_t wr_id;
    const Staged* staged;
    std::size_t offset;
  };

  bool post_send(const Staged& st, const WorkRequest& request) {
    const std::uint64_t t0 = shared_->clock();
    if (request.length != 0) {
      auto* to = static_cast<std::byte*>(st.staging.addr) + request.offset;
      st.buffer.provider->read(st.buffer, request.offset, to, request.length);
    }
    const std::uint64_t t1 = shared_->clock();
    if (!inner_->post(request)) return false;
    shared_->count(&StagingCounters::to_host, request.length, t1 - t0);
    return true;
  }

  // Receives complete in posting order, so a staged one is the oldest pending.
  std::size_t unstage(std::span<Completion> out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      if (out[i].op != Op::recv || receives_.empty() || receives_.front().wr_id != out[i].wr_id) {
        continue;
      }
      const Receive r = receives_.front();
      receives_.pop_front();
      const std::uint64_t t0 = shared_->clock();
      if (out[i].bytes != 0) {
        const auto* from = static_cast<const std::byte*>(r.staged->staging.addr) + r.offset;
        r.staged->buffer.provider->write(r.staged->buffer, r.offset, from, out[i].bytes);
      }
      shared_->count(&StagingCounters::to_device, out[i].bytes, shared_->clock() - t0);
    }
    return n;
  }

  std::unique_ptr<Endpoint> inner_;
  std::shared_ptr<StagingTransport::Shared> shared_;
  std::deque<Receive> receives_;
};

}  // namespace

nlohmann::json to_json(const StagingCounters& c) {
  return {{"to_host", to_json(c.to_host)}, {"to_device", to_json(c.to_device)}};
}

bool needs_staging(const Buffer& buffer) noexcept {
  return !buffer.traits.cpu_addressable;
}

StagingTransport::StagingTransport(std::unique_ptr<Transport> inner,
                                   std::function<std::uint64_t()> clock)
    : inner_(std::move(inner)), shared_(std::make_shared<Shared>()) {
  shared_->clock = std::move(clock);
}

StagingTransport::~StagingTransport() {
  for (auto& [addr, st] : shared_->staged) {
    inner_->deregister_memory(st->inner);
    st->provider->release(st->staging);
  }
}

std::string StagingTransport::name() const {
  return inner_->name();
}

Capabilities StagingTransport::capabilities() const {
  Capabilities c = inner_->capabilities();
  c.write = c.write_imm = c.read = c.atomics = false;
  return c;
}

MemoryRegion StagingTransport::register_memory(const Buffer& buffer) {
  if (!needs_staging(buffer)) return inner_->register_memory(buffer);
  if (buffer.provider == nullptr) {
    throw Error(ErrorKind::runtime, "staging: the buffer has no memory provider to copy it");
  }
  auto st = std::make_unique<Staged>();
  st->buffer = buffer;
  st->provider = buffer.provider->staging_provider();
  st->staging = st->provider->allocate(buffer.length);
  try {
    st->inner = inner_->register_memory(st->staging);
  } catch (...) {
    st->provider->release(st->staging);
    throw;
  }
  MemoryRegion region = st->inner;
  region.buffer = buffer;
  region.registration =
      "staged through " + st->provider->name() + " (" + describe(st->staging.traits) + ")";
  std::lock_guard lock(shared_->mutex);
  shared_->staged[buffer.addr] = std::move(st);
  return region;
}

void StagingTransport::deregister_memory(MemoryRegion& region) noexcept {
  std::unique_ptr<Staged> st;
  {
    std::lock_guard lock(shared_->mutex);
    auto it = shared_->staged.find(region.buffer.addr);
    if (it != shared_->staged.end()) {
      st = std::move(it->second);
      shared_->staged.erase(it);
    }
  }
  if (!st) {
    inner_->deregister_memory(region);
    return;
  }
  inner_->deregister_memory(st->inner);
  st->provider->release(st->staging);
  region = MemoryRegion{};
}

std::vector<std::unique_ptr<Endpoint>> StagingTransport::connect(Exchange& exchange,
                                                                 const std::vector<int>& peers,
                                                                 int connections_per_peer) {
  auto inner = inner_->connect(exchange, peers, connections_per_peer);
  std::vector<std::unique_ptr<Endpoint>> out;
  out.reserve(inner.size());
  for (auto& ep : inner) out.push_back(std::make_unique<StagingEndpoint>(std::move(ep), shared_));
  return out;
}

std::vector<ConnectionEvent> StagingTransport::drain_connection_events() {
  auto* source = dynamic_cast<ConnectionEventSource*>(inner_.get());
  return source != nullptr ? source->drain_connection_events() : std::vector<ConnectionEvent>{};
}

StagingCounters StagingTransport::counters() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->counters;
}

}  // namespace fabricbench::transport
