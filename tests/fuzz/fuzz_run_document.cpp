// libFuzzer target: the run-document reader (bounded JSON parse, then the strict reader) and what
// reads a document afterwards: its JSON form read back gives the same document, and the
// OpenMetrics and markdown renderers take it. Only core::Error may escape the reading.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "results/json_read.hpp"
#include "results/openmetrics.hpp"
#include "results/report.hpp"
#include "results/run_document.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fabricbench;
  results::RunDocument doc;
  try {
    const nlohmann::json j = results::detail::parse_bounded(fuzz::text_of(data, size), "fuzz.json");
    doc = results::run_document_from_json(j);
  } catch (const core::Error&) {
    return 0;
  }
  const nlohmann::json written = results::to_json(doc);
  if (results::to_json(results::run_document_from_json(written)) != written) std::abort();
  (void)results::openmetrics::render(doc);
  (void)results::report::render_markdown({doc});
  return 0;
}
