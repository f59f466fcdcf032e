#pragma once
// The top-level `placement:` key (docs/CONFIG.md "Placement"): a mode, or a mapping with the
// mode, the devices to place near and, for explicit, one CPU entry per local rank. Whether the
// host has those devices, CPUs and nodes is checked where the rank runs (harness/placement).
#include "harness/spec/experiment.hpp"
#include "harness/spec/source_tree.hpp"
#include "harness/spec/values.hpp"

namespace fabricbench::spec {

// Parses `n` into `out`, reporting every error at its position. `case_key` is the case key of
// the same name when a suite declares one (its values get a hint that they belong in a case
// group); nullptr otherwise.
void parse_placement(const SNode& n, ValueParser& values, const KeySpec* case_key,
                     PlacementSettings& out);

}  // namespace fabricbench::spec
