#pragma once
// A synthetic run document for the report tests: every kind of case the report plots (pingpong
// and stream size sweeps, duration-mode interval series, a link fault with its recovery curve,
// floor / realistic / overload / search regimes), a skipped and a failed case, and a rank-0
// envelope with hostile strings (`<script>` hostname) that must come out escaped.
#include <string>

#include "results/run_document.hpp"

namespace fabricbench::results::reporttest {

// `scale` multiplies latencies and divides bandwidths, so two documents differ visibly.
RunDocument synthetic_run(const std::string& run_id, double scale = 1.0);

// The hostname in synthetic_run's envelope.
inline constexpr const char* kHostileHostname = "<script>alert(\"x\")</script>&node";

// Fault window of the fault case, ns from the start of the measured phase.
inline constexpr std::uint64_t kFaultStartNs = 1'500'000'000;
inline constexpr std::uint64_t kFaultClearNs = 2'500'000'000;

// Writes to_json(doc) as <dir>/run.json (creating dir).
void write_run(const std::string& dir, const RunDocument& doc);

}  // namespace fabricbench::results::reporttest
