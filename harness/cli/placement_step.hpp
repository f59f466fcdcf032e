#pragma once
// The rank's placement step (docs/METHODOLOGY.md "Placement"): once per run, right after the
// bootstrap and before the engine captures the envelope and allocates any buffer, every rank
// finds its local rank (the ranks sharing its hostname), decides its binding from the
// experiment's `placement:` with harness/placement, applies it, and records it for the envelope
// (placement.binding). Rank 0 warns, one line per rank, where a rank runs off its device's NUMA
// node.
#include <cstdio>

#include "harness/bootstrap/bootstrap.hpp"
#include "harness/spec/experiment.hpp"

namespace fabricbench::cli {

// Collective: every rank calls it. A rank that cannot be placed (an unknown device, an explicit
// entry the host lacks, auto or explicit without hwloc) makes every rank throw the same
// core::Error naming that rank, before anything is measured. `warnings`: where rank 0 warns.
void place_rank(bootstrap::Bootstrap& bs, const spec::Experiment& exp, std::FILE* warnings);

}  // namespace fabricbench::cli
