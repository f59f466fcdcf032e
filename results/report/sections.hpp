#pragma once
// Internal to the report: the sections of the HTML page, in page order (docs/REPORT.md). Each
// appends to or returns HTML; render_html (results/report.cpp) puts them together.
#include <cstddef>
#include <string>
#include <vector>

#include "results/report/context.hpp"

namespace fabricbench::results::report {

// "Runs": the run's facts and its case table (runs_section.cpp).
void run_section(std::string& out, const Context& ctx, std::size_t r);
// "Envelope": rank 0's host, kernel, CPU, NICs, RDMA devices, GPUs, libraries
// (envelope_section.cpp).
void envelope_section(std::string& out, const Context& ctx, std::size_t r);
// "Bandwidth vs message size" and "Latency vs message size" (size_plots.cpp).
std::string size_plots(const Context& ctx);
// "Collectives": bus bandwidth vs size per collective, a line per backend and type
// (collective_plots.cpp).
std::string collective_plots(const Context& ctx);
// "Latency distributions": a CDF per case (cdf_plots.cpp).
std::string cdf_plots(const Context& ctx, const std::vector<CaseGroup>& groups);
// "Interval series": throughput and latency per bin of duration-mode cases (interval_plots.cpp).
std::string interval_plots(const Context& ctx, const std::vector<CaseGroup>& groups);
// "Recovery curves" of fault cases, with their metrics (recovery_plots.cpp).
std::string recovery_plots(const Context& ctx, const std::vector<CaseGroup>& groups);
// "Fabric maps": the heat map and findings of each all-pairs case (map_plots.cpp).
std::string map_plots(const Context& ctx, const std::vector<CaseGroup>& groups);
// "Regimes": latency vs offered load and the regime interval series (regime_plots.cpp).
std::string regime_plots(const Context& ctx, const std::vector<CaseGroup>& groups);

}  // namespace fabricbench::results::report
