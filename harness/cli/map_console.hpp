#pragma once
// The console's all-pairs map (pattern all_pairs): the NxN matrix of pair figures (Gb/s or us),
// the best pair and the limit it sets, and each finding (bad node, bad link, noise) with its
// evidence; "clean" when there is none. Patterns incast and shift: the directed N x N matrix of
// flow figures (row sends to column) and each step's aggregate with its flows' range.
#include <cstdio>

#include "harness/spec/experiment.hpp"
#include "results/run_document.hpp"

namespace fabricbench::cli {

void print_map(std::FILE* out, const spec::Case& c, const results::CaseResult& r);

}  // namespace fabricbench::cli
