#pragma once
// Synthetic collective cases (Repetition::collective, docs/RESULTS.md "Collectives") shared by
// the results, diff, history and report tests: nccl-tests figures derived from a chosen time.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "results/run_document.hpp"

namespace fabricbench::results::collectivetest {

// nccl-tests' bus factor of a collective over `ranks` ranks (all_reduce 2(n-1)/n, all_gather,
// reduce_scatter and alltoall (n-1)/n, broadcast and reduce 1).
double bus_factor(const std::string& collective, int ranks);

// One repetition: out-of-place time `time_us` (algbw = size / time, busbw = algbw * factor),
// in-place time `in_place_us` (absent: in_place null), `wrong` elements in each placement run,
// four ranks, and a per-operation latency histogram around the time.
Repetition collective_rep(int index, const std::string& collective, std::uint64_t size_bytes,
                          double time_us, std::optional<double> in_place_us, std::uint64_t wrong);

// An ok collective case (suite "collective", transport = backend) with one repetition per time
// (in-place time = 1.1 * out-of-place), resolved params and its summary.
CaseResult collective_case(const std::string& id, const std::string& collective,
                           const std::string& backend, std::uint64_t size_bytes,
                           const std::vector<double>& times_us, std::uint64_t wrong = 0);

// A complete run of 4 ranks: all_reduce float32 sum on nccl and mpi at 1 KiB .. 1 MiB (x4) and
// all_gather on nccl at the same sizes, plus one pingpong case that is not a collective.
RunDocument collective_document(const std::string& run_id);

}  // namespace fabricbench::results::collectivetest
