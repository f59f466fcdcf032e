#pragma once
// A copy engine without a GPU: memcpy between two host buffers, timed on the host clock. The
// unit tests run the copy suite's loop, accounting and merge through it (tests/copy); it is not
// in the registry.
#include <cstdint>
#include <vector>

#include "transports/api/copy_engine.hpp"

namespace fabricbench::suites {

class HostCopyEngine final : public transport::CopyEngine {
 public:
  void prepare(const transport::CopySetup& setup) override;
  transport::CopyTimes run(std::uint64_t warmup, std::uint64_t count) override;
  transport::CopyFacts facts() const override;
  std::optional<double> rated_gbytes_per_s() const override { return std::nullopt; }

  // Copies made so far (warm-up included), and whether the destination holds the source.
  std::uint64_t copies_made() const noexcept { return copies_; }
  bool destination_matches() const;

 private:
  transport::CopySetup setup_;
  std::vector<unsigned char> src_, dst_, reverse_src_, reverse_dst_;
  std::uint64_t copies_ = 0;
};

}  // namespace fabricbench::suites
