// Units of sizes and durations (grammar in docs/CONFIG.md, "Units").
//
// Sizes:     <number>[ ]<unit>, number = digits with an optional fraction ("1.5MiB"); the result
//            must be a whole number of bytes.
//            B (or nothing) = 1; KiB MiB GiB TiB = 2^10..2^40; KB MB GB TB (also kB) = 10^3..10^12;
//            a lone prefix k K m M g G t T = binary, as in perftest and iperf.
//            A lowercase 'b' (bits) is rejected.
// Durations: <number>[ ]<unit>, unit one of ns us (µs) ms s m h; a bare number is an error.
// Sweeps:    "<lo>..<hi> x<factor>" geometric, "<lo>..<hi> +<step>" arithmetic, "<lo>..<hi>" = x2;
//            every element <= hi (hi included when it lies on the progression), at most 4096.
//            A comma-separated list of sizes and sweeps is concatenated.
#include "harness/core/units.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <limits>
#include <optional>
#include <system_error>

#include <fmt/format.h>

#include "harness/core/error.hpp"

namespace fabricbench::core {
namespace {

constexpr std::size_t kMaxSweepElements = 4096;
constexpr std::uint64_t kKi = 1024;

[[noreturn]] void fail(const std::string& message) {
  throw Error(ErrorKind::config, message);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// A decimal number split into its integer digits and fraction digits, plus the unit text after it.
struct Number {
  std::string_view whole;
  std::string_view fraction;
  std::string_view unit;
};

// Splits "1.5 MiB" into {"1", "5", "MiB"}. Returns nullopt when there is no leading number.
std::optional<Number> split_number(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && is_digit(text[i])) ++i;
  Number n;
  n.whole = text.substr(0, i);
  if (i < text.size() && text[i] == '.') {
    std::size_t j = i + 1;
    while (j < text.size() && is_digit(text[j])) ++j;
    n.fraction = text.substr(i + 1, j - i - 1);
    if (n.fraction.empty()) return std::nullopt;  // "1." is not a number
    i = j;
  }
  if (n.whole.empty()) return std::nullopt;
  n.unit = trim(text.substr(i));
  return n;
}

__extension__ using U128 = unsigned __int128;

// whole.fraction * multiplier, exactly; nullopt on overflow, `inexact` set when the result is not
// a whole number (or has more fraction digits than can be handled exactly).
std::optional<std::uint64_t> scale(const Number& n, std::uint64_t multiplier, bool& inexact) {
  inexact = false;
  std::uint64_t whole = 0;
  auto [p, ec] = std::from_chars(n.whole.data(), n.whole.data() + n.whole.size(), whole);
  if (ec != std::errc{} || p != n.whole.data() + n.whole.size()) return std::nullopt;
  U128 result = U128{whole} * multiplier;
  std::string_view fraction = n.fraction;
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  if (fraction.size() > 18) {
    inexact = true;
    return 0;
  }
  if (!fraction.empty()) {
    std::uint64_t numerator = 0;
    std::uint64_t denominator = 1;
    for (char c : fraction) {
      numerator = numerator * 10 + static_cast<std::uint64_t>(c - '0');
      denominator *= 10;
    }
    const U128 product = U128{numerator} * multiplier;  // < 10^18 * 2^42, fits
    if (product % denominator != 0) inexact = true;
    result += product / denominator;
  }
  if (result > std::numeric_limits<std::uint64_t>::max()) return std::nullopt;
  return static_cast<std::uint64_t>(result);
}

struct UnitEntry {
  std::string_view name;
  std::uint64_t multiplier;
};

constexpr std::uint64_t pow_u(std::uint64_t base, int exp) {
  std::uint64_t r = 1;
  for (int i = 0; i < exp; ++i) r *= base;
  return r;
}

constexpr std::array<UnitEntry, 19> kSizeUnits{{
    {"", 1},
    {"B", 1},
    {"KiB", pow_u(kKi, 1)},
    {"MiB", pow_u(kKi, 2)},
    {"GiB", pow_u(kKi, 3)},
    {"TiB", pow_u(kKi, 4)},
    {"KB", pow_u(1000, 1)},
    {"kB", pow_u(1000, 1)},
    {"MB", pow_u(1000, 2)},
    {"GB", pow_u(1000, 3)},
    {"TB", pow_u(1000, 4)},
    {"k", pow_u(kKi, 1)},
    {"K", pow_u(kKi, 1)},
    {"m", pow_u(kKi, 2)},
    {"M", pow_u(kKi, 2)},
    {"g", pow_u(kKi, 3)},
    {"G", pow_u(kKi, 3)},
    {"t", pow_u(kKi, 4)},
    {"T", pow_u(kKi, 4)},
}};

constexpr std::array<UnitEntry, 8> kDurationUnits{{
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // µs
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"min", 60'000'000'000},
    {"h", 3'600'000'000'000},
}};

std::string quoted(std::string_view s) {
  return fmt::format("'{}'", s);
}

}  // namespace

std::uint64_t parse_size(std::string_view text) {
  const std::string_view t = trim(text);
  if (t.empty()) fail("expected a size such as 4KiB, got an empty string");
  if (t.front() == '-') fail(fmt::format("a size cannot be negative, got {}", quoted(t)));
  const auto n = split_number(t);
  if (!n) fail(fmt::format("expected a size such as 64, 4KiB or 1MB, got {}", quoted(t)));
  const UnitEntry* unit = nullptr;
  for (const auto& u : kSizeUnits) {
    if (u.name == n->unit) unit = &u;
  }
  if (unit == nullptr) {
    std::string hint;
    if (!n->unit.empty() && n->unit.back() == 'b') hint = " (a lowercase 'b' means bits; use B)";
    fail(
        fmt::format("unknown size unit {} in {}; use B, KiB/MiB/GiB/TiB (1024-based), KB/MB/GB/TB "
                    "(1000-based) or K/M/G/T (1024-based){}",
                    quoted(n->unit), quoted(t), hint));
  }
  bool inexact = false;
  const auto v = scale(*n, unit->multiplier, inexact);
  if (!v) fail(fmt::format("size {} is too large", quoted(t)));
  if (inexact) fail(fmt::format("size {} is not a whole number of bytes", quoted(t)));
  return *v;
}

std::uint64_t parse_duration_ns(std::string_view text) {
  const std::string_view t = trim(text);
  if (t.empty()) fail("expected a duration such as 500ms, got an empty string");
  if (t.front() == '-') fail(fmt::format("a duration cannot be negative, got {}", quoted(t)));
  const auto n = split_number(t);
  if (!n) fail(fmt::format("expected a duration such as 500ms or 2s, got {}", quoted(t)));
  if (n->unit.empty()) {
    fail(fmt::format("duration {} needs a unit: ns, us, ms, s, m or h (e.g. {}s)", quoted(t), t));
  }
  const UnitEntry* unit = nullptr;
  for (const auto& u : kDurationUnits) {
    if (u.name == n->unit) unit = &u;
  }
  if (unit == nullptr) {
    fail(fmt::format("unknown duration unit {} in {}; use ns, us, ms, s, m (minutes) or h",
                     quoted(n->unit), quoted(t)));
  }
  bool inexact = false;
  const auto v = scale(*n, unit->multiplier, inexact);
  if (!v) fail(fmt::format("duration {} is too large", quoted(t)));
  if (inexact) fail(fmt::format("duration {} is not a whole number of nanoseconds", quoted(t)));
  return *v;
}

namespace {

void append_range(std::string_view item, std::vector<std::uint64_t>& out) {
  const std::size_t dots = item.find("..");
  if (dots == std::string_view::npos) {
    out.push_back(parse_size(item));
    return;
  }
  const std::string_view lo_text = trim(item.substr(0, dots));
  std::string_view rest = trim(item.substr(dots + 2));
  // The step starts at the last whitespace-separated token beginning with x, *, or +.
  std::string_view hi_text = rest;
  std::string_view step_text;
  const std::size_t sep = rest.find_first_of("x*+");
  if (sep != std::string_view::npos) {
    hi_text = trim(rest.substr(0, sep));
    step_text = trim(rest.substr(sep));
  }
  if (lo_text.empty() || hi_text.empty()) {
    fail(fmt::format("expected a sweep such as '8..4MiB x2' or '1KiB..8KiB +1KiB', got {}",
                     quoted(item)));
  }
  const std::uint64_t lo = parse_size(lo_text);
  const std::uint64_t hi = parse_size(hi_text);
  if (lo > hi) {
    fail(fmt::format("sweep {} is reversed: {} is larger than {}", quoted(item), lo_text, hi_text));
  }
  const bool arithmetic = !step_text.empty() && step_text.front() == '+';
  if (arithmetic) {
    const std::uint64_t step = parse_size(step_text.substr(1));
    if (step == 0) fail(fmt::format("sweep {} has a zero step", quoted(item)));
    for (std::uint64_t v = lo;;) {
      if (out.size() >= kMaxSweepElements) {
        fail(fmt::format("sweep {} has more than {} sizes", quoted(item), kMaxSweepElements));
      }
      out.push_back(v);
      std::uint64_t next = 0;
      if (__builtin_add_overflow(v, step, &next) || next > hi) break;
      v = next;
    }
    return;
  }
  std::uint64_t factor = 2;
  if (!step_text.empty()) {
    const std::string_view f = trim(step_text.substr(1));
    auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), factor);
    if (f.empty() || ec != std::errc{} || p != f.data() + f.size()) {
      fail(fmt::format("sweep {}: expected an integer factor after 'x', such as x2, got {}",
                       quoted(item), quoted(f)));
    }
    if (factor < 2) {
      fail(fmt::format("sweep {}: the factor must be at least 2, got {}", quoted(item), factor));
    }
  }
  if (lo == 0) {
    fail(
        fmt::format("geometric sweep {} cannot start at 0 (0 x {} stays 0)", quoted(item), factor));
  }
  for (std::uint64_t v = lo;;) {
    if (out.size() >= kMaxSweepElements) {
      fail(fmt::format("sweep {} has more than {} sizes", quoted(item), kMaxSweepElements));
    }
    out.push_back(v);
    std::uint64_t next = 0;
    if (__builtin_mul_overflow(v, factor, &next) || next > hi) break;
    v = next;
  }
}

}  // namespace

std::vector<std::uint64_t> parse_size_sweep(std::string_view text) {
  std::vector<std::uint64_t> out;
  std::string_view rest = text;
  if (trim(rest).empty()) fail("expected a size or a sweep such as '8..4MiB x2', got nothing");
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    if (item.empty()) fail(fmt::format("empty element in size list {}", quoted(trim(text))));
    append_range(item, out);
    if (out.size() > kMaxSweepElements) {
      fail(fmt::format("size list {} has more than {} sizes", quoted(trim(text)),
                       kMaxSweepElements));
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return out;
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<UnitEntry, 4> kUnits{{
      {"TiB", pow_u(kKi, 4)},
      {"GiB", pow_u(kKi, 3)},
      {"MiB", pow_u(kKi, 2)},
      {"KiB", pow_u(kKi, 1)},
  }};
  if (bytes != 0) {
    for (const auto& u : kUnits) {
      if (bytes % u.multiplier == 0) return fmt::format("{}{}", bytes / u.multiplier, u.name);
    }
  }
  return fmt::format("{}B", bytes);
}

std::string format_duration_ns(std::uint64_t ns) {
  // Whole hours and minutes read better as such ("1h" rather than "3600s").
  constexpr std::uint64_t kMinute = 60'000'000'000;
  constexpr std::uint64_t kHour = 60 * kMinute;
  if (ns != 0 && ns % kHour == 0) return fmt::format("{}h", ns / kHour);
  if (ns != 0 && ns % kMinute == 0) return fmt::format("{}m", ns / kMinute);
  static constexpr std::array<UnitEntry, 4> kUnits{{
      {"s", 1'000'000'000},
      {"ms", 1'000'000},
      {"us", 1'000},
      {"ns", 1},
  }};
  for (const auto& u : kUnits) {
    if (ns >= u.multiplier || u.multiplier == 1) {
      const std::uint64_t whole = ns / u.multiplier;
      std::uint64_t frac = ns % u.multiplier;
      if (frac == 0) return fmt::format("{}{}", whole, u.name);
      // Exact decimal fraction, trailing zeros trimmed.
      int digits = 0;
      for (std::uint64_t m = u.multiplier; m > 1; m /= 10) ++digits;
      std::string f = fmt::format("{:0{}}", frac, digits);
      while (!f.empty() && f.back() == '0') f.pop_back();
      return fmt::format("{}.{}{}", whole, f, u.name);
    }
  }
  return fmt::format("{}ns", ns);
}

}  // namespace fabricbench::core
