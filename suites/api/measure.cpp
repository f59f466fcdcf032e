#include "suites/api/measure.hpp"

#include <array>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "core/error.hpp"

namespace fabricbench::suites {

using core::Error;
using core::ErrorKind;

namespace {
// In blocking mode with several endpoints, each wait is a short slice so no endpoint starves.
constexpr std::uint64_t kBlockingSliceNs = 1'000'000;
// Only read the clock for the watchdog every so many empty polls (keeps the busy loop light).
constexpr std::uint32_t kSpinsPerClockRead = 64;
}  // namespace

Completer::Completer(const Context& context)
    : context_(context), last_progress_ns_(core::now_ns()) {}

void Completer::check_stop() const {
  if (context_.stop_requested != nullptr &&
      context_.stop_requested->load(std::memory_order_relaxed)) {
    throw Error(ErrorKind::runtime, "interrupted");
  }
}

void Completer::check(std::uint64_t now) {
  check_stop();
  if (now - last_progress_ns_ > context_.params.peer_timeout_ns) {
    throw Error(ErrorKind::timeout,
                "rank " + std::to_string(context_.peer) + " stopped answering: no completion for " +
                    std::to_string(context_.params.peer_timeout_ns / 1'000'000) + " ms");
  }
}

std::size_t Completer::next(std::size_t index, std::span<transport::Completion> out) {
  transport::Endpoint& ep = *context_.endpoints[index];
  const bool blocking = context_.params.completion == transport::CompletionMode::blocking;
  for (;;) {
    std::size_t n = 0;
    if (blocking) {
      n = ep.wait(out, context_.params.peer_timeout_ns / 4 + 1);
      if (n > 0) {
        check_stop();  // a flowing connection must not hide a stop (a rank lost elsewhere)
        last_progress_ns_ = core::now_ns();
        return n;
      }
      check(core::now_ns());
    } else {
      n = ep.poll(out);
      if (n > 0) {
        check_stop();
        spins_ = 0;
        // The watchdog only needs progress times at coarse granularity; the workload reads the
        // clock itself for measurement, so avoid a second clock read here.
        last_progress_ns_ = 0;
        return n;
      }
      if (++spins_ % kSpinsPerClockRead == 0) {
        const std::uint64_t now = core::now_ns();
        if (last_progress_ns_ == 0) last_progress_ns_ = now;
        check(now);
      }
    }
  }
}

std::size_t Completer::next_any(std::span<transport::Completion> out, std::size_t* which) {
  const std::size_t count = context_.endpoints.size();
  if (count == 1) {
    *which = 0;
    return next(0, out);
  }
  const bool blocking = context_.params.completion == transport::CompletionMode::blocking;
  for (;;) {
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t idx = (cursor_ + i) % count;
      transport::Endpoint& ep = *context_.endpoints[idx];
      const std::size_t n = blocking && i == 0 ? ep.wait(out, kBlockingSliceNs) : ep.poll(out);
      if (n > 0) {
        check_stop();
        cursor_ = (idx + 1) % count;
        *which = idx;
        spins_ = 0;
        last_progress_ns_ = 0;
        return n;
      }
    }
    cursor_ = (cursor_ + 1) % count;
    if (blocking || ++spins_ % kSpinsPerClockRead == 0) {
      const std::uint64_t now = core::now_ns();
      if (last_progress_ns_ == 0) last_progress_ns_ = now;
      check(now);
    }
  }
}

std::size_t Completer::next_relaxed(std::size_t index, std::span<transport::Completion> out) {
  transport::Endpoint& ep = *context_.endpoints[index];
  for (;;) {
    const std::size_t n = ep.poll(out);
    if (n > 0) {
      last_progress_ns_ = 0;
      return n;
    }
    const std::uint64_t now = core::now_ns();
    if (last_progress_ns_ == 0) last_progress_ns_ = now;
    check(now);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Completer::idle() {
  if (++spins_ % kSpinsPerClockRead == 0) {
    const std::uint64_t now = core::now_ns();
    if (last_progress_ns_ == 0) last_progress_ns_ = now;
    check(now);
  }
}

transport::WorkRequest make_request(const Context& context, transport::Op op, std::size_t offset,
                                    std::size_t length, std::uint32_t tag, bool signaled) {
  using transport::Op;
  transport::WorkRequest wr;
  wr.op = op;
  wr.wr_id = offset;
  wr.offset = offset;
  wr.length = length;
  wr.imm = tag;
  wr.signaled = signaled;
  switch (op) {
    case Op::send:
    case Op::write:
    case Op::write_imm:
      wr.local = &context.memory.send;
      wr.remote = context.peer_recv;
      break;
    case Op::read:
    case Op::fetch_add:
    case Op::compare_swap:
      // Read into our receive region from the peer's send region.
      wr.local = &context.memory.recv;
      wr.remote = context.peer_send;
      break;
    case Op::recv:
      wr.local = &context.memory.recv;
      break;
  }
  wr.remote_offset = offset;
  if (op == Op::fetch_add) wr.compare_add = 1;
  if (op == Op::compare_swap) {
    wr.compare_add = 0;
    wr.swap = 0;  // compare 0, swap 0: always succeeds, leaves the word unchanged
  }
  return wr;
}

void await_last_message(const Context& context, Completer& completer) {
  transport::Endpoint& ep = *context.endpoints.at(0);
  const transport::WorkRequest recv = make_request(context, transport::Op::recv, 0, 0, 0, true);
  std::array<transport::Completion, 8> out{};
  for (bool last = false; !last;) {
    post_or_throw(ep, recv);
    for (bool got = false; !got;) {
      const std::size_t n = completer.next_relaxed(0, out);
      for (std::size_t i = 0; i < n; ++i) {
        if (out[i].op != transport::Op::recv) continue;
        got = true;
        last = (out[i].imm & kTagLast) != 0;
      }
    }
  }
}

RankResult run_passive(const Context& context) {
  Completer completer(context);
  await_last_message(context, completer);
  return RankResult{};
}

transport::WorkRequest control_request(const Context& context, std::uint32_t tag, bool signaled) {
  transport::WorkRequest wr;
  wr.op = transport::Op::send;
  wr.wr_id = ~0ULL;
  wr.local = &context.memory.send;
  wr.length = 0;
  wr.imm = tag;
  wr.signaled = signaled;
  return wr;
}

void post_control(const Context& context, std::size_t endpoint, std::uint32_t tag, bool signaled) {
  post_or_throw(*context.endpoints[endpoint], control_request(context, tag, signaled));
}

void post_or_throw(transport::Endpoint& endpoint, const transport::WorkRequest& request) {
  if (!endpoint.post(request)) {
    throw Error(ErrorKind::runtime, std::string("endpoint to rank ") +
                                        std::to_string(endpoint.peer()) + " refused a " +
                                        transport::op_name(request.op) +
                                        ": queue full (workload exceeded the queue depth)");
  }
}

void stamp_pattern(void* data, std::size_t length, std::uint64_t sequence) noexcept {
  auto* bytes = static_cast<unsigned char*>(data);
  unsigned char seq[8];
  std::memcpy(seq, &sequence, sizeof seq);
  for (std::size_t i = 0; i < length; ++i) {
    bytes[i] = i < 8 ? seq[i] : static_cast<unsigned char>((sequence * 31 + i) & 0xff);
  }
}

void verify_pattern(const void* data, std::size_t length, std::uint64_t sequence, int peer) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  unsigned char seq[8];
  std::memcpy(seq, &sequence, sizeof seq);
  for (std::size_t i = 0; i < length; ++i) {
    const unsigned char want =
        i < 8 ? seq[i] : static_cast<unsigned char>((sequence * 31 + i) & 0xff);
    if (bytes[i] != want) {
      throw Error(ErrorKind::runtime, "data integrity: message " + std::to_string(sequence) +
                                          " from rank " + std::to_string(peer) +
                                          " differs at byte " + std::to_string(i) + " (expected " +
                                          std::to_string(want) + ", got " +
                                          std::to_string(bytes[i]) + ")");
    }
  }
}

namespace {

std::vector<unsigned char>& scratch(std::size_t length) {
  thread_local std::vector<unsigned char> bytes;
  if (bytes.size() < length) bytes.resize(length);
  return bytes;
}

}  // namespace

void stamp_pattern(const transport::Buffer& buffer, std::size_t offset, std::size_t length,
                   std::uint64_t sequence) {
  if (buffer.traits.cpu_addressable) {
    stamp_pattern(static_cast<unsigned char*>(buffer.addr) + offset, length, sequence);
    return;
  }
  auto& host = scratch(length);
  stamp_pattern(host.data(), length, sequence);
  transport::write_buffer(buffer, offset, host.data(), length);
}

void verify_pattern(const transport::Buffer& buffer, std::size_t offset, std::size_t length,
                    std::uint64_t sequence, int peer) {
  if (buffer.traits.cpu_addressable) {
    verify_pattern(static_cast<const unsigned char*>(buffer.addr) + offset, length, sequence, peer);
    return;
  }
  auto& host = scratch(length);
  transport::read_buffer(buffer, offset, host.data(), length);
  verify_pattern(host.data(), length, sequence, peer);
}

}  // namespace fabricbench::suites
