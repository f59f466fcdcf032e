// libFuzzer target: the size, sweep, duration and rate parsers (core/units). The first byte picks
// the parser, the rest is the text. Besides failing only with core::Error, a rate that parses
// must come back from its canonical text: parse_rate(format_rate(r)) == r (core/units.hpp).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "core/units.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using namespace fabricbench;

void check_rate_round_trip(const std::string& text) {
  const core::ParsedRate rate = core::parse_rate(text);
  const std::string canonical = core::format_rate(rate);
  const core::ParsedRate again = core::parse_rate(canonical);
  if (again.kind != rate.kind || again.value != rate.value) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text = fuzz::text_of(data + 1, size - 1);
  try {
    switch (data[0] % 4) {
      case 0:
        (void)core::format_size(core::parse_size(text));
        break;
      case 1:
        (void)core::parse_size_sweep(text);
        break;
      case 2:
        (void)core::format_duration_ns(core::parse_duration_ns(text));
        break;
      default:
        check_rate_round_trip(text);
        break;
    }
  } catch (const core::Error&) {
  }
  return 0;
}
