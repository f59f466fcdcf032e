#include "suites/copy/host_copy_engine.hpp"

#include <cstring>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace fabricbench::suites {

using transport::CopyDirection;

void HostCopyEngine::prepare(const transport::CopySetup& setup) {
  if (setup.numa.kind == transport::HostNuma::Kind::remote) {
    throw core::Error(core::ErrorKind::unavailable,
                      "host_numa remote: the host stand-in has one NUMA node");
  }
  setup_ = setup;
  src_.assign(setup.bytes, 0);
  dst_.assign(setup.bytes, 0);
  for (std::size_t i = 0; i < src_.size(); ++i) src_[i] = static_cast<unsigned char>(i * 31 + 7);
  if (setup.direction == CopyDirection::bidir) {  // twice as large, as nvbandwidth's
    reverse_src_.assign(2 * setup.bytes, 0x5a);
    reverse_dst_.assign(2 * setup.bytes, 0);
  }
}

transport::CopyTimes HostCopyEngine::run(std::uint64_t warmup, std::uint64_t count) {
  const bool bidir = setup_.direction == CopyDirection::bidir;
  const auto copy_once = [&] {
    std::memcpy(dst_.data(), src_.data(), src_.size());
    if (bidir) std::memcpy(reverse_dst_.data(), reverse_src_.data(), reverse_src_.size());
    ++copies_;
  };
  for (std::uint64_t i = 0; i < warmup; ++i) copy_once();
  const std::uint64_t start = core::now_ns();
  for (std::uint64_t i = 0; i < count; ++i) copy_once();
  const std::uint64_t elapsed = core::now_ns() - start;
  transport::CopyTimes t;
  t.copy_bytes = setup_.bytes;
  t.elapsed_ns = elapsed == 0 ? 1 : elapsed;
  if (bidir) {
    t.reverse_copy_bytes = reverse_src_.size();
    t.reverse_elapsed_ns = t.elapsed_ns;
  }
  return t;
}

transport::CopyFacts HostCopyEngine::facts() const {
  transport::CopyFacts f;
  f.host_allocation = "std::vector (test stand-in)";
  f.timing = "host clock around memcpy (test stand-in)";
  return f;
}

bool HostCopyEngine::destination_matches() const {
  return dst_ == src_ && reverse_dst_ == reverse_src_;
}

}  // namespace fabricbench::suites
