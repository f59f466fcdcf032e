#pragma once
// Internal to the report: a case's headline figures as text, one row of the HTML case table and
// of the markdown summary.
#include <string>

#include "results/run_document.hpp"

namespace fabricbench::results::report {

struct Row {
  std::string id, suite, transport, status, reps, p50_us, p99_us, gbps, notes;
};

// Notes: the skip reason, up to three errors, the regime's and the fault's headline figures.
Row case_row(const CaseResult& c);

}  // namespace fabricbench::results::report
