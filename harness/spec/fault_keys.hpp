#pragma once
// The keys of a `fault:` mapping and the rules between them (docs/CONFIG.md, "Faults").
#include <string_view>
#include <vector>

namespace fabricbench::spec {

// none | link_down | flap | blackhole | loss | delay | rate_limit.
const std::vector<std::string_view>& fault_kinds();

// The regimes a fault can be timed against: those with a measured phase of `duration`.
bool fault_regime_ok(std::string_view regime_kind);

constexpr std::string_view kFaultNeedsDuration =
    "a fault is timed from the start of the measured phase (its start, hold and period are "
    "lengths of time), so it needs 'duration', not 'iterations'";

}  // namespace fabricbench::spec
