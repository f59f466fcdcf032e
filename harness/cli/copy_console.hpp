#pragma once
// The console's copy table (suite copy): per size, GB/s (1e9 bytes/s, nvbandwidth's unit) as the
// median over repetitions with their range, the opposite direction of a bidir case, the fraction
// of the link's rated bandwidth where known, the host buffer's NUMA node and the GPU.
#include <cstdio>
#include <string>

#include "harness/spec/experiment.hpp"
#include "results/run_document.hpp"

namespace fabricbench::cli {

void print_copy_header(std::FILE* out, const spec::Case& c, const std::string& described,
                       int ranks);
void print_copy_row(std::FILE* out, const spec::Case& c, const results::CaseResult& r);

}  // namespace fabricbench::cli
