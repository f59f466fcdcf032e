#pragma once
// Units of sizes, durations and rates, as written in experiment files and on the command line.
// Parse functions throw core::Error(ErrorKind::config) with a message that names the bad text;
// the caller (spec) adds file:line:column and the field.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fabricbench::core {

// "8", "4KiB", "1MiB", "2GiB", "1KB" (=1000), "1k" (=1024)... returns bytes.
std::uint64_t parse_size(std::string_view text);

// A size list or sweep: "8..4MiB x2" (geometric, factor 2, both ends included),
// "1KiB..8KiB +1KiB" (arithmetic). A plain size gives one element.
std::vector<std::uint64_t> parse_size_sweep(std::string_view text);

// "500ms", "10s", "2us", "100ns", "1m", "1.5s" -> nanoseconds. A bare number is an error.
std::uint64_t parse_duration_ns(std::string_view text);

// An offered rate: "200000/s", "200k/s", "1.5M/s" (operations per second; k K M G T are
// decimal), "5Gb/s", "500Mb/s", "100kb/s", "800b/s" (bits per second; also "bit/s", "bps"), or
// "70%" (a fraction of a rate found elsewhere: value 0.7). The value must be positive and finite;
// ranges are the caller's. "GB/s" (bytes) is rejected with a hint.
struct ParsedRate {
  enum class Kind { ops, bits, fraction };
  Kind kind = Kind::ops;
  double value = 0;  // operations per second, bits per second, or a fraction (0.7 for "70%")
};
ParsedRate parse_rate(std::string_view text);
// The canonical text of a rate: operations as a plain number ("200000/s", "0.5/s"), bits with the
// largest decimal prefix that keeps the number at least 1 ("5Gb/s", "1.5kb/s", "800b/s"),
// fractions in percent ("70%", "2.5%"). parse_rate(format_rate(r)) gives r back.
std::string format_rate(const ParsedRate& rate);

// Human-readable forms used by the console: 4096 -> "4KiB", 1500 -> "1500B".
std::string format_size(std::uint64_t bytes);

// Non-empty and only the digits 0-9 ("1024"; not "", "-1", "1e3").
bool all_digits(std::string_view text) noexcept;
// 1500000 -> "1.5ms".
std::string format_duration_ns(std::uint64_t ns);

}  // namespace fabricbench::core
