// libFuzzer target: `fabricbench diff` on documents that read. The input is one run document, or
// two separated by a NUL byte (BASE, then NEW); with one, it is compared with itself, which must
// find no regression. Every output format is rendered.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "results/diff.hpp"
#include "results/json_read.hpp"
#include "results/run_document.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using namespace fabricbench;

bool read(const std::string& text, results::RunDocument& doc) {
  try {
    doc = results::run_document_from_json(results::detail::parse_bounded(text, "fuzz.json"));
    return true;
  } catch (const core::Error&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace diff = results::diff;
  const std::string input = fuzz::text_of(data, size);
  const auto nul = input.find('\0');
  results::RunDocument base;
  results::RunDocument next;
  if (!read(input.substr(0, nul), base)) return 0;
  const bool self = nul == std::string::npos;
  if (!self && !read(input.substr(nul + 1), next)) return 0;
  const diff::DiffResult result = diff::diff_runs(base, self ? base : next, diff::Options{});
  if (self && result.has_regression()) std::abort();
  for (const auto format :
       {diff::Format::table, diff::Format::markdown, diff::Format::json, diff::Format::junit}) {
    (void)diff::render(result, format);
  }
  (void)diff::summary_line(result);
  return 0;
}
