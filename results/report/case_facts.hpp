#pragma once
// Internal to the report: what a case recorded, read from its repetitions, summary and params
// (never from its suite or transport name, so that a new suite needs no change here).
#include <cstdint>
#include <optional>
#include <string>

#include "core/stats/histogram.hpp"
#include "results/run_document.hpp"

namespace fabricbench::results::report {

bool has_regime(const CaseResult& c);     // a repetition ran a regime other than closed
bool has_fault(const CaseResult& c);      // a repetition carries a fault record
bool has_intervals(const CaseResult& c);  // a repetition has an interval series (duration mode)

// Whether the case measured bandwidth (its workload reports bytes per second: bw_gbps in its
// repetitions), as opposed to latency alone.
bool measured_bandwidth(const CaseResult& c);

// The regime kind of the first repetition with a regime, else of the case's params.
std::string regime_kind(const CaseResult& c);
// params.message_size_bytes, when it is a non-negative integer.
std::optional<std::uint64_t> message_size(const CaseResult& c);
// The case's group and transport plus every varied parameter but the message size: one line of
// a size plot.
std::string size_series_key(const CaseResult& c);
// The latency histogram merged over the repetitions.
stats::Histogram merged_latency(const CaseResult& c);

// The middle of an interval bin, in seconds (since the start of the measured phase).
double bin_mid_s(std::uint64_t start_ns, std::uint64_t length_ns);

}  // namespace fabricbench::results::report
