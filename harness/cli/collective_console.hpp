#pragma once
// The console's collective table, in nccl-tests' shape: size, count, type, redop, root, then
// time, algbw, busbw and #wrong out of place and in place; and its closing "Avg bus bandwidth"
// line (the mean of every row's busbw, both placements, as nccl-tests computes it).
#include <cstdint>
#include <cstdio>
#include <string>

#include "harness/spec/experiment.hpp"
#include "results/run_document.hpp"

namespace fabricbench::cli {

class CollectiveTable {
 public:
  explicit CollectiveTable(std::FILE* out) : out_(out) {}
  void header(const spec::Case& c, const std::string& described, int ranks);
  // From the case's summary (results::summarize_case): medians over the repetitions, #wrong summed.
  void row(const results::CaseResult& r);
  // Nothing when no collective case ran.
  void footer();

 private:
  std::FILE* out_;
  double busbw_sum_ = 0;
  std::uint64_t busbw_count_ = 0;
  std::uint64_t wrong_ = 0;
  bool any_ = false;
};

}  // namespace fabricbench::cli
