#include "tests/registry/loop_transport.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "transports/api/exchange.hpp"

namespace fabricbench::testkit::loop {
namespace {

using core::Error;
using core::ErrorKind;
using transport::Completion;
using transport::Op;
using transport::WorkRequest;

struct Message {
  std::vector<std::byte> data;
  std::uint32_t tag = 0;
};

// One connection: a bounded queue each way, shared by the two endpoints (sides 0 and 1), like a
// socket buffer: a sent message is copied in when there is room and its send completes then; a
// full queue keeps later sends pending (and their slots taken) until the peer drains it.
struct Link {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Message> queue[2];  // queue[s]: messages sent by side s, not yet delivered
  bool closed[2] = {false, false};
};

// Links published by the lower rank of a pair, claimed by the higher (same process only).
std::mutex g_links_mutex;
std::map<std::uint64_t, std::shared_ptr<Link>> g_links;
std::uint64_t g_next_link = 1;

class LoopEndpoint final : public transport::Endpoint {
 public:
  LoopEndpoint(std::shared_ptr<Link> link, int side, int rank, int peer, int index,
               std::size_t depth)
      : link_(std::move(link)),
        side_(side),
        rank_(rank),
        peer_(peer),
        index_(index),
        depth_(depth) {}
  ~LoopEndpoint() override {
    std::lock_guard lock(link_->mutex);
    link_->closed[side_] = true;
    link_->changed.notify_all();
  }
  LoopEndpoint(const LoopEndpoint&) = delete;
  LoopEndpoint& operator=(const LoopEndpoint&) = delete;

  int peer() const override { return peer_; }
  std::size_t queue_depth() const override { return depth_; }
  std::string describe() const override {
    return "loop rank " + std::to_string(rank_) + " <-> rank " + std::to_string(peer_) + " #" +
           std::to_string(index_);
  }

  bool post(const WorkRequest& r) override {
    if (r.op == Op::recv) {
      if (recvs_.size() >= depth_) return false;
      recvs_.push_back(r);
      return true;
    }
    if (r.op != Op::send) {
      throw Error(ErrorKind::unavailable,
                  std::string("loop transport does not support op ") + transport::op_name(r.op));
    }
    std::lock_guard lock(link_->mutex);
    throw_if_closed();
    if (pending_.size() + completed_.size() >= depth_) return false;
    Message m;
    const auto* base = static_cast<const std::byte*>(r.local->buffer.addr) + r.offset;
    m.data.assign(base, base + r.length);
    m.tag = r.imm;
    pending_.emplace_back(r.wr_id, std::move(m));
    push_pending();
    return true;
  }

  std::size_t poll(std::span<Completion> out) override {
    std::lock_guard lock(link_->mutex);
    return progress(out);
  }

  std::size_t wait(std::span<Completion> out, std::uint64_t timeout_ns) override {
    std::unique_lock lock(link_->mutex);
    const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns);
    while (true) {
      const std::size_t n = progress(out);
      if (n > 0) return n;
      if (link_->changed.wait_until(lock, until) == std::cv_status::timeout) return progress(out);
    }
  }

 private:
  // Under the link's mutex: pending sends into the link while it has room (each then completes,
  // as a socket's send does once the kernel took it).
  void push_pending() {
    auto& queue = link_->queue[side_];
    bool pushed = false;
    while (!pending_.empty() && queue.size() < depth_) {
      queue.push_back(std::move(pending_.front().second));
      completed_.push_back(pending_.front().first);
      pending_.pop_front();
      pushed = true;
    }
    if (pushed) link_->changed.notify_all();
  }

  // Under the link's mutex: delivers the peer's messages into posted receives, moves pending
  // sends into the link, reports completions, and fails once the peer has gone.
  std::size_t progress(std::span<Completion> out) {
    std::size_t n = 0;
    auto& incoming = link_->queue[1 - side_];
    while (n < out.size() && !incoming.empty() && !recvs_.empty()) {
      const Message& m = incoming.front();
      const WorkRequest& r = recvs_.front();
      if (m.data.size() > r.length) {
        broken_ = "loop: a message of " + std::to_string(m.data.size()) + " bytes from rank " +
                  std::to_string(peer_) + " does not fit the posted receive of " +
                  std::to_string(r.length) + " bytes";
        throw Error(ErrorKind::runtime, broken_);
      }
      if (!m.data.empty()) {  // a zero-byte message has no data pointer to copy from
        std::memcpy(static_cast<std::byte*>(r.local->buffer.addr) + r.offset, m.data.data(),
                    m.data.size());
      }
      out[n++] = Completion{r.wr_id, Op::recv, static_cast<std::uint32_t>(m.data.size()), m.tag};
      recvs_.pop_front();
      incoming.pop_front();
      link_->changed.notify_all();  // room in the link for the peer's pending sends
    }
    push_pending();
    while (n < out.size() && !completed_.empty()) {
      out[n++] = Completion{completed_.front(), Op::send, 0, 0};
      completed_.pop_front();
    }
    if (n == 0) throw_if_closed();
    return n;
  }

  void throw_if_closed() {
    if (!broken_.empty()) throw Error(ErrorKind::runtime, broken_);
    if (link_->closed[1 - side_]) {
      throw Error(ErrorKind::peer_lost, "loop: rank " + std::to_string(peer_) +
                                            " closed connection " + std::to_string(index_));
    }
  }

  std::shared_ptr<Link> link_;
  int side_;
  int rank_;
  int peer_;
  int index_;
  std::size_t depth_;
  std::deque<WorkRequest> recvs_;
  std::deque<std::pair<std::uint64_t, Message>> pending_;  // sends waiting for room in the link
  std::deque<std::uint64_t> completed_;                    // sends in the link, not yet polled
  std::string broken_;
};

class LoopTransport final : public transport::Transport {
 public:
  explicit LoopTransport(std::size_t depth) : depth_(depth) {}

  std::string name() const override { return "loop"; }
  transport::Capabilities capabilities() const override {
    transport::Capabilities c;
    c.send_recv = true;
    c.busy_poll = true;
    c.blocking = true;
    c.max_message_size = 1ULL << 30;
    return c;
  }
  transport::MemoryRegion register_memory(const transport::Buffer& buffer) override {
    return transport::MemoryRegion{buffer, 0, 0, 0, "none (in-process)"};
  }
  void deregister_memory(transport::MemoryRegion& region) noexcept override { region = {}; }

  // The lower rank of each pair makes the links and publishes their ids; the higher claims them.
  std::vector<std::unique_ptr<transport::Endpoint>> connect(transport::Exchange& exchange,
                                                            const std::vector<int>& peers,
                                                            int connections) override {
    const int me = exchange.rank();
    std::map<int, std::vector<std::uint64_t>> made;  // peer -> link ids
    std::ostringstream mine;
    for (int peer : peers) {
      if (peer < me) continue;
      for (int k = 0; k < connections; ++k) made[peer].push_back(publish());
      mine << peer;
      for (auto id : made[peer]) mine << ' ' << id;
      mine << ';';
    }
    const auto all = exchange.allgather(mine.str());
    std::vector<std::unique_ptr<transport::Endpoint>> out;
    for (int peer : peers) {
      const std::vector<std::uint64_t> ids =
          peer > me ? made[peer] : ids_for(all[static_cast<std::size_t>(peer)], me);
      for (int k = 0; k < connections; ++k) {
        const std::uint64_t id = ids.at(static_cast<std::size_t>(k));
        out.push_back(std::make_unique<LoopEndpoint>(peer > me ? find(id, false) : find(id, true),
                                                     peer > me ? 0 : 1, me, peer, k, depth_));
      }
    }
    (void)exchange.allgather("");  // every link claimed before the makers forget them
    for (auto& [peer, ids] : made) {
      for (auto id : ids) forget(id);
    }
    return out;
  }

 private:
  static std::uint64_t publish() {
    std::lock_guard lock(g_links_mutex);
    const std::uint64_t id = g_next_link++;
    g_links[id] = std::make_shared<Link>();
    return id;
  }
  static std::shared_ptr<Link> find(std::uint64_t id, bool claiming) {
    std::lock_guard lock(g_links_mutex);
    auto it = g_links.find(id);
    if (it == g_links.end()) {
      throw Error(ErrorKind::config,
                  std::string("loop: link ") + std::to_string(id) +
                      (claiming ? " is not in this process: the loop transport joins ranks that "
                                  "are threads of one process"
                                : " vanished"));
    }
    return it->second;
  }
  static void forget(std::uint64_t id) {
    std::lock_guard lock(g_links_mutex);
    g_links.erase(id);
  }
  // The ids rank `maker` published for `me` in its allgather record "peer id id;peer id;".
  static std::vector<std::uint64_t> ids_for(const std::string& record, int me) {
    std::istringstream in(record);
    std::string entry;
    while (std::getline(in, entry, ';')) {
      std::istringstream e(entry);
      int peer = -1;
      e >> peer;
      if (peer != me) continue;
      std::vector<std::uint64_t> ids;
      for (std::uint64_t id = 0; e >> id;) ids.push_back(id);
      return ids;
    }
    throw Error(ErrorKind::runtime, "loop: no links were published for rank " + std::to_string(me));
  }

  std::size_t depth_;
};

}  // namespace

transport::Descriptor descriptor() {
  transport::Descriptor d;
  d.name = "loop";
  d.description = "in-process loopback (tests only): ranks are threads of one process";
  d.keys = {core::count_key("queue_depth", 1, 65536, 64,
                            "Requests outstanding per endpoint, each direction.")};
  d.check = [](const core::Settings& own, const core::CaseFacts& c) {
    std::vector<core::KeyProblem> problems;
    if (c.on_break == "reconnect") {
      problems.push_back({{"on_break"}, "the loop transport has no connection to re-establish"});
    }
    if (c.suite == "stream" && own.integer("queue_depth") < 3) {
      problems.push_back({{"loop.queue_depth"}, "a stream needs a queue depth of at least 3"});
    }
    return problems;
  };
  d.example = "{queue_depth: 64}";
  d.connections_key = "";
  d.connection_noun = "link(s)";
  d.traffic = transport::Traffic::ip;
  d.unavailable_reason = [] { return std::optional<std::string>(); };
  d.make = [](const core::Settings& own, const transport::OpenParams&) {
    return std::unique_ptr<transport::Transport>(
        std::make_unique<LoopTransport>(static_cast<std::size_t>(own.integer("queue_depth"))));
  };
  return d;
}

}  // namespace fabricbench::testkit::loop
