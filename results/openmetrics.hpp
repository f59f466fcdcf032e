#pragma once
// `fabricbench openmetrics RUN`: the headline figures of a run document as an OpenMetrics text
// exposition, for node_exporter's textfile collector (docs/HISTORY.md "OpenMetrics").
#include <string>
#include <string_view>
#include <vector>

#include "results/run_document.hpp"

namespace fabricbench::results::openmetrics {

// One exposed metric family per diff metric (diff::metric_table) but the collective ones: the
// value of a case is the median over its repetitions, converted to the base unit in the family's
// name (value * multiply / divide: ns -> seconds, Gb/s -> bits/s, Mop/s -> messages/s).
struct Family {
  const char* metric;  // diff metric name, e.g. "lat_p99_ns"
  const char* name;    // e.g. "fabricbench_latency_p99_seconds"
  const char* unit;    // e.g. "seconds" (a suffix of name)
  double multiply;
  double divide;
  const char* help;
};
const std::vector<Family>& families();

// A label value with '\', '"' and line feeds escaped (\\, \", \n).
std::string escape_label_value(std::string_view value);

// The exposition: run-level families (start time, cases by status, failed cases), then one
// family per metric with a sample per ok case that has it, then the collective families
// (fabricbench_collective_{time_seconds,algbw_bytes_per_second,busbw_bytes_per_second,
// wrong_elements}: one sample per ok collective case and placement, labelled collective, type,
// redop, ranks, size_bytes, placement and backend); ends with "# EOF\n".
std::string render(const RunDocument& doc);

}  // namespace fabricbench::results::openmetrics
