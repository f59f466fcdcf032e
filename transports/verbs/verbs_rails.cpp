#include "transports/verbs/verbs_rails.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace fabricbench::transport::verbs {
namespace {

using core::Error;
using core::ErrorKind;

// What every endpoint of the transport shares with it (and keeps alive after it): each rail's
// registrations of the regions, and the per-rail counters.
struct Shared {
  explicit Shared(std::vector<std::string> names)
      : rails(std::move(names)), bytes(rails.size()), requests(rails.size()) {}

  // The rails' registrations of the region with this handle; throws when unknown.
  std::vector<MemoryRegion> regions_of(std::uint64_t handle) const {
    std::lock_guard lock(mutex);
    const auto it = regions.find(handle);
    if (it == regions.end()) {
      throw Error(ErrorKind::runtime,
                  "verbs rails: post() names a region this transport did not register");
    }
    return it->second;
  }

  std::vector<std::string> rails;
  std::vector<std::atomic<std::uint64_t>> bytes;
  std::vector<std::atomic<std::uint64_t>> requests;
  mutable std::mutex mutex;
  std::map<std::uint64_t, std::vector<MemoryRegion>> regions;  // handle -> per rail
  std::uint64_t next_handle = 1;
};

// A peer's regions: its rail-0 remote key -> the remote key on every rail.
using PeerKeys = std::unordered_map<std::uint64_t, std::vector<std::uint64_t>>;

bool consumes_receive(Op op) {
  return op == Op::send || op == Op::write_imm;
}
bool is_atomic_op(Op op) {
  return op == Op::fetch_add || op == Op::compare_swap;
}

class RailsEndpoint final : public Endpoint {
 public:
  RailsEndpoint(std::vector<std::unique_ptr<Endpoint>> rails, std::shared_ptr<Shared> shared,
                PeerKeys peer_keys)
      : rails_(std::move(rails)),
        shared_(std::move(shared)),
        peer_keys_(std::move(peer_keys)),
        sends_(rails_.size()),
        receives_(rails_.size()) {}

  int peer() const override { return rails_.front()->peer(); }

  bool post(const WorkRequest& request) override {
    const std::size_t rail = rail_for(request.op);
    WorkRequest on_rail = request;
    if (request.local != nullptr) {
      // The caller's view of the region (it may be a slice of what was registered: the flows of
      // an incast) with this rail's keys.
      view_ = local_regions(request.local->handle)[rail];
      view_.buffer = request.local->buffer;
      on_rail.local = &view_;
    }
    if (request.op != Op::recv && request.op != Op::send) {
      on_rail.remote.key = remote_key(request.remote.key, rail);
    }
    // Every request is signaled on its rail: a completion the caller sees must mean that every
    // request posted before it, on any rail, has completed (RC's in-order promise, which callers
    // rely on to reuse buffers), and only the rails' completions can tell. Those the caller did
    // not ask for are dropped in order.
    on_rail.signaled = true;
    if (!rails_[rail]->post(on_rail)) return false;
    advance(request.op);
    queue_of(request.op).order.push_back({rail, request.op == Op::recv || request.signaled});
    if (request.op != Op::recv) {
      shared_->bytes[rail].fetch_add(request.length, std::memory_order_relaxed);
      shared_->requests[rail].fetch_add(1, std::memory_order_relaxed);
    }
    return true;
  }

  std::size_t poll(std::span<Completion> out) override {
    for (std::size_t i = 0; i < rails_.size(); ++i) collect(i, rails_[i]->poll(scratch(out)));
    return deliver(out);
  }

  // Each rail in turn for at most kRailSliceNs, until a completion or the timeout.
  std::size_t wait(std::span<Completion> out, std::uint64_t timeout_ns) override {
    std::size_t n = poll(out);
    if (n != 0 || timeout_ns == 0 || out.empty()) return n;
    const std::uint64_t deadline = core::now_ns() + timeout_ns;
    for (std::size_t i = 0;; i = (i + 1) % rails_.size()) {
      const std::uint64_t now = core::now_ns();
      if (now >= deadline) return 0;
      collect(i, rails_[i]->wait(scratch(out), std::min(deadline - now, kRailSliceNs)));
      n = poll(out);
      if (n != 0) return n;
    }
  }

  // Every rail's queue: requests spread evenly over the rails (round robin) fill them all.
  std::size_t queue_depth() const override {
    std::size_t depth = 0;
    for (const auto& r : rails_) depth += r->queue_depth();
    return depth;
  }

  std::string describe() const override {
    std::string out = "rails=" + std::to_string(rails_.size());
    for (std::size_t i = 0; i < rails_.size(); ++i) {
      out += " [" + shared_->rails[i] + ": " + rails_[i]->describe() + "]";
    }
    return out;
  }

 private:
  std::size_t rail_for(Op op) const {
    const auto r = rails_.size();
    if (op == Op::recv) return static_cast<std::size_t>(posted_receives_ % r);
    if (consumes_receive(op)) return static_cast<std::size_t>(messages_ % r);
    if (is_atomic_op(op)) return 0;
    return static_cast<std::size_t>(one_sided_ % r);
  }

  void advance(Op op) {
    if (op == Op::recv) {
      ++posted_receives_;
    } else if (consumes_receive(op)) {
      ++messages_;
    } else if (!is_atomic_op(op)) {
      ++one_sided_;
    }
  }

  // The rails' registrations of a region, looked up in the transport once per region (without
  // their descriptions, so copying one on the hot path allocates nothing).
  const std::vector<MemoryRegion>& local_regions(std::uint64_t handle) {
    auto it = locals_.find(handle);
    if (it == locals_.end()) {
      auto regions = shared_->regions_of(handle);
      for (auto& r : regions) r.registration.clear();
      it = locals_.emplace(handle, std::move(regions)).first;
    }
    return it->second;
  }

  std::uint64_t remote_key(std::uint64_t key, std::size_t rail) const {
    if (rail == 0) return key;
    const auto it = peer_keys_.find(key);
    if (it == peer_keys_.end() || rail >= it->second.size()) {
      throw Error(ErrorKind::runtime,
                  "verbs rails: rank " + std::to_string(peer()) + " registered no region with " +
                      "remote key " + std::to_string(key) +
                      " before connect() (its rails' keys are swapped when connecting)");
    }
    return it->second[rail];
  }

  std::span<Completion> scratch(std::span<Completion> out) {
    scratch_.resize(std::max<std::size_t>(out.size(), 1));
    return scratch_;
  }

  // Rail `rail` delivered `n` completions into scratch_; each is reported once every completion
  // of its queue (send or receive) posted before it on any rail has been.
  void collect(std::size_t rail, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) {
      queue_of(scratch_[k].op).held[rail].push_back(scratch_[k]);
    }
    for (auto* q : {&sends_, &receives_}) {
      while (!q->order.empty() && !q->held[q->order.front().first].empty()) {
        auto& held = q->held[q->order.front().first];
        if (q->order.front().second) ready_.push_back(held.front());
        held.pop_front();
        q->order.pop_front();
      }
    }
  }

  std::size_t deliver(std::span<Completion> out) {
    std::size_t n = 0;
    while (n < out.size() && !ready_.empty()) {
      out[n++] = ready_.front();
      ready_.pop_front();
    }
    return n;
  }

  // Completions of one queue (send or receive) on their way back in posting order.
  struct Ordered {
    explicit Ordered(std::size_t rails) : held(rails) {}
    // The rail of each request, in posting order, and whether the caller asked for its completion.
    std::deque<std::pair<std::size_t, bool>> order;
    std::vector<std::deque<Completion>> held;  // per rail: completed, not yet reported
  };
  Ordered& queue_of(Op op) { return op == Op::recv ? receives_ : sends_; }

  std::vector<std::unique_ptr<Endpoint>> rails_;
  std::shared_ptr<Shared> shared_;
  PeerKeys peer_keys_;
  std::unordered_map<std::uint64_t, std::vector<MemoryRegion>> locals_;  // handle -> per rail
  MemoryRegion view_;                  // the region of the request being posted, on its rail
  std::uint64_t posted_receives_ = 0;  // receives posted
  std::uint64_t messages_ = 0;         // sends and write_imm posted
  std::uint64_t one_sided_ = 0;        // writes and reads posted
  std::vector<Completion> scratch_;
  Ordered sends_;     // send-queue requests
  Ordered receives_;  // receives
  std::deque<Completion> ready_;
};

class RailsTransport final : public Transport,
                             public EventSource,
                             public ConnectionEventSource,
                             public RailTrafficSource {
 public:
  explicit RailsTransport(const Options& options)
      : shared_(std::make_shared<Shared>(options.devices)) {
    for (const auto& device : options.devices) {
      Options one = options;
      one.devices.clear();
      one.device = device;
      rails_.push_back(make_verbs_transport(one));
    }
  }

  ~RailsTransport() override {
    std::lock_guard lock(shared_->mutex);
    for (auto& [handle, regions] : shared_->regions) {
      for (std::size_t r = 0; r < regions.size(); ++r) rails_[r]->deregister_memory(regions[r]);
    }
    shared_->regions.clear();
  }

  RailsTransport(const RailsTransport&) = delete;
  RailsTransport& operator=(const RailsTransport&) = delete;

  std::string name() const override { return "verbs"; }

  // Rail 0's, less what any rail lacks; rdma_device is rail 0's (the device `gpu: auto` and
  // placement look near).
  Capabilities capabilities() const override {
    Capabilities c = rails_.front()->capabilities();
    for (const auto& r : rails_) {
      const Capabilities o = r->capabilities();
      c.atomics = c.atomics && o.atomics;
      c.device_memory = c.device_memory && o.device_memory;
      c.max_message_size = std::min(c.max_message_size, o.max_message_size);
    }
    return c;
  }

  MemoryRegion register_memory(const Buffer& buffer) override {
    std::vector<MemoryRegion> regions;
    try {
      for (auto& r : rails_) regions.push_back(r->register_memory(buffer));
    } catch (...) {
      for (std::size_t i = 0; i < regions.size(); ++i) rails_[i]->deregister_memory(regions[i]);
      throw;
    }
    MemoryRegion out;
    out.buffer = buffer;
    out.local_key = regions.front().local_key;
    out.remote_key = regions.front().remote_key;
    out.registration =
        regions.front().registration + " on " + std::to_string(rails_.size()) + " devices";
    std::lock_guard lock(shared_->mutex);
    out.handle = shared_->next_handle++;
    shared_->regions.emplace(out.handle, std::move(regions));
    return out;
  }

  void deregister_memory(MemoryRegion& region) noexcept override {
    std::vector<MemoryRegion> regions;
    {
      std::lock_guard lock(shared_->mutex);
      const auto it = shared_->regions.find(region.handle);
      if (it != shared_->regions.end()) {
        regions = std::move(it->second);
        shared_->regions.erase(it);
      }
    }
    for (std::size_t r = 0; r < regions.size(); ++r) rails_[r]->deregister_memory(regions[r]);
    region = MemoryRegion{};
  }

  std::vector<std::unique_ptr<Endpoint>> connect(Exchange& exchange, const std::vector<int>& peers,
                                                 int connections_per_peer) override {
    std::vector<std::vector<std::unique_ptr<Endpoint>>> per_rail;
    for (auto& r : rails_) per_rail.push_back(r->connect(exchange, peers, connections_per_peer));
    const auto keys = exchange.allgather(key_table());
    std::vector<std::unique_ptr<Endpoint>> out;
    const std::size_t n = per_rail.front().size();
    for (std::size_t e = 0; e < n; ++e) {
      std::vector<std::unique_ptr<Endpoint>> rails;
      for (auto& endpoints : per_rail) rails.push_back(std::move(endpoints.at(e)));
      const int peer = rails.front()->peer();
      out.push_back(std::make_unique<RailsEndpoint>(
          std::move(rails), shared_, parse_key_table(keys.at(static_cast<std::size_t>(peer)))));
    }
    return out;
  }

  std::vector<AsyncEvent> drain_events() override {
    std::vector<AsyncEvent> out;
    for (auto& r : rails_) {
      if (auto* source = dynamic_cast<EventSource*>(r.get())) {
        for (auto& e : source->drain_events()) out.push_back(std::move(e));
      }
    }
    return out;
  }

  std::vector<ConnectionEvent> drain_connection_events() override {
    std::vector<ConnectionEvent> out;
    for (auto& r : rails_) {
      if (auto* source = dynamic_cast<ConnectionEventSource*>(r.get())) {
        for (auto& e : source->drain_connection_events()) out.push_back(std::move(e));
      }
    }
    return out;
  }

  std::vector<RailTraffic> rail_traffic() const override {
    std::vector<RailTraffic> out;
    for (std::size_t r = 0; r < rails_.size(); ++r) {
      out.push_back({shared_->rails[r], shared_->bytes[r].load(std::memory_order_relaxed),
                     shared_->requests[r].load(std::memory_order_relaxed)});
    }
    return out;
  }

 private:
  // One line per registered region: its remote key on every rail.
  std::string key_table() const {
    std::ostringstream out;
    std::lock_guard lock(shared_->mutex);
    for (const auto& [handle, regions] : shared_->regions) {
      for (const auto& region : regions) out << region.remote_key << ' ';
      out << '\n';
    }
    return out.str();
  }

  PeerKeys parse_key_table(const std::string& text) const {
    PeerKeys out;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::vector<std::uint64_t> keys;
      std::uint64_t key = 0;
      while (words >> key) keys.push_back(key);
      if (keys.size() != rails_.size()) {
        throw Error(ErrorKind::runtime,
                    "verbs rails: a peer published " + std::to_string(keys.size()) +
                        " rails for a region, this rank has " + std::to_string(rails_.size()) +
                        " (verbs.devices must list as many devices on every rank)");
      }
      out.emplace(keys.front(), std::move(keys));
    }
    return out;
  }

  std::shared_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Transport>> rails_;
};

}  // namespace

std::unique_ptr<Transport> make_rails_transport(const Options& options) {
  if (options.devices.size() < 2) {
    throw Error(ErrorKind::config, "verbs rails: verbs.devices needs at least two devices");
  }
  return std::make_unique<RailsTransport>(options);
}

}  // namespace fabricbench::transport::verbs
