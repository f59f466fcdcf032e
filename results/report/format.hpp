#pragma once
// Internal to the report: the text of the figures in tables, captions and tooltips.
#include <cstdint>
#include <optional>
#include <string>

namespace fabricbench::results::report {

// Plain numbers for tables: integers above 1000, else 4 significant digits; "-" when not finite.
std::string format_number(double v);
// Nanoseconds as microseconds (format_number); "-" when absent.
std::string format_us(std::optional<double> ns);
// Three significant digits in the largest unit that keeps the number at least 1: "450ms",
// "1.23s", "28.3µs" ("us" written as the micro sign); "-" when absent.
std::string format_duration(std::optional<double> ns);
// "1.5 MiB", "512 B"; "-" when absent.
std::string format_bytes_approx(std::optional<double> bytes);
// Operations per second with three significant digits: "943/s", "50.7k/s", "1.2M/s".
std::string format_rate(std::optional<double> ops);
// A wall-clock time (ns since the epoch) as RFC 3339 with milliseconds; "-" for 0, the number
// of ns where it cannot be formatted.
std::string wall_time(std::uint64_t ns);

}  // namespace fabricbench::results::report
