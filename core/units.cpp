// Units of sizes and durations (grammar in docs/CONFIG.md, "Units").
//
// Sizes:     <number>[ ]<unit>, number = digits with an optional fraction ("1.5MiB"); the result
//            must be a whole number of bytes.
//            B (or nothing) = 1; KiB MiB GiB TiB = 2^10..2^40; KB MB GB TB (also kB) = 10^3..10^12;
//            a lone prefix k K m M g G t T = binary, as in perftest and iperf.
//            A lowercase 'b' (bits) is rejected.
// Durations: <number>[ ]<unit>, unit one of ns us (µs) ms s m h; a bare number is an error.
// Rates:     <number>[ ][prefix]/s (operations), <number>[ ][prefix]b/s, bit/s or bps (bits),
//            <number>% (a fraction); prefix k K M G T = 10^3..10^12. Computed by one correctly
//            rounded decimal conversion ("1.5M/s" reads "1.5e6"), displayed exactly by shifting
//            the decimal point of the shortest round-trip form.
// Sweeps:    "<lo>..<hi> x<factor>" geometric, "<lo>..<hi> +<step>" arithmetic, "<lo>..<hi>" = x2;
//            every element <= hi (hi included when it lies on the progression), at most 4096.
//            A comma-separated list of sizes and sweeps is concatenated.
#include "core/units.hpp"

#include <algorithm>

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <system_error>

#include <fmt/format.h>

#include "core/error.hpp"

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

struct RatePrefix {
  std::string_view name;
  int exponent;  // a power of ten
};

constexpr std::array<RatePrefix, 6> kRatePrefixes{{
    {"", 0},
    {"k", 3},
    {"K", 3},
    {"M", 6},
    {"G", 9},
    {"T", 12},
}};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// `digits` (plain decimal, "1500000" or "0.29") times 10^exponent, as plain decimal text without
// superfluous zeros: shift_decimal("5000000000", -9) == "5", shift_decimal("0.29", 2) == "29".
std::string shift_decimal(std::string_view text, int exponent) {
  const std::size_t dot = text.find('.');
  std::string digits(text.substr(0, dot));
  long point = static_cast<long>(digits.size());
  if (dot != std::string_view::npos) digits += text.substr(dot + 1);
  point += exponent;
  if (point <= 0) {
    digits.insert(0, static_cast<std::size_t>(1 - point), '0');
    point = 1;
  }
  if (point > static_cast<long>(digits.size())) {
    digits.append(static_cast<std::size_t>(point) - digits.size(), '0');
  }
  std::string whole = digits.substr(0, static_cast<std::size_t>(point));
  std::string fraction = digits.substr(static_cast<std::size_t>(point));
  const std::size_t first = whole.find_first_not_of('0');
  whole = first == std::string::npos ? "0" : whole.substr(first);
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  if (fraction.empty()) return whole;
  whole += '.';  // appended in steps: GCC 12 warns (-Wrestrict) on whole + "." + fraction
  whole += fraction;
  return whole;
}

// The shortest text that reads back as `v`, in plain (not scientific) notation.
std::string plain_number(double v) {
  std::array<char, 400> buf{};
  const auto [end, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed);
  if (ec != std::errc{}) return fmt::format("{}", v);
  return shift_decimal(std::string_view(buf.data(), static_cast<std::size_t>(end - buf.data())), 0);
}

}  // namespace

ParsedRate parse_rate(std::string_view text) {
  const std::string_view t = trim(text);
  constexpr std::string_view kForms =
      "/s (operations per second, e.g. 200k/s), b/s (bits per second, e.g. 5Gb/s) or % (of the "
      "sustainable rate, e.g. 70%)";
  if (t.empty()) fail("expected a rate such as 200k/s, 5Gb/s or 70%, got an empty string");
  if (t.front() == '-') fail(fmt::format("a rate cannot be negative, got {}", quoted(t)));
  const auto n = split_number(t);
  if (!n) fail(fmt::format("expected a rate such as 200k/s, 5Gb/s or 70%, got {}", quoted(t)));
  if (n->unit.empty()) fail(fmt::format("rate {} needs a unit: {}", quoted(t), kForms));
  ParsedRate out;
  int exponent = 0;
  std::string_view prefix;
  const std::string_view unit = n->unit;
  if (unit == "%") {
    out.kind = ParsedRate::Kind::fraction;
    exponent = -2;
  } else {
    std::string_view head;
    bool known = true;
    if (ends_with(unit, "bps")) {
      out.kind = ParsedRate::Kind::bits;
      prefix = unit.substr(0, unit.size() - 3);
    } else if (ends_with(unit, "/s")) {
      head = unit.substr(0, unit.size() - 2);
      if (ends_with(head, "bit")) {
        out.kind = ParsedRate::Kind::bits;
        prefix = head.substr(0, head.size() - 3);
      } else if (ends_with(head, "b")) {
        out.kind = ParsedRate::Kind::bits;
        prefix = head.substr(0, head.size() - 1);
      } else if (ends_with(head, "B")) {
        fail(
            fmt::format("{} is a rate in bytes per second; give bits per second (an uppercase "
                        "'B' is bytes, a lowercase 'b' bits: 5GB/s is 40Gb/s) or operations per "
                        "second (200k/s)",
                        quoted(t)));
      } else {
        out.kind = ParsedRate::Kind::ops;
        prefix = head;
      }
    } else {
      known = false;
    }
    const RatePrefix* p = nullptr;
    for (const auto& candidate : kRatePrefixes) {
      if (candidate.name == prefix) p = &candidate;
    }
    if (!known || p == nullptr) {
      const std::string hint = prefix == "m" ? " ('m' would mean milli; use M for millions)" : "";
      fail(
          fmt::format("unknown rate unit {} in {}; use {}, with an optional decimal prefix k, M, "
                      "G or T{}",
                      quoted(unit), quoted(t), kForms, hint));
    }
    exponent = p->exponent;
  }
  // One correctly rounded conversion of the decimal text: "1.5" and 10^6 read as "1.5e6".
  std::string decimal(n->whole);
  if (!n->fraction.empty()) {
    decimal += '.';
    decimal += n->fraction;
  }
  decimal += fmt::format("e{}", exponent);
  double value = 0;
  const auto [end, ec] = std::from_chars(decimal.data(), decimal.data() + decimal.size(), value);
  if (ec == std::errc::result_out_of_range || !std::isfinite(value)) {
    fail(fmt::format("rate {} is too large", quoted(t)));
  }
  if (ec != std::errc{} || end != decimal.data() + decimal.size()) {
    fail(fmt::format("expected a rate such as 200k/s, 5Gb/s or 70%, got {}", quoted(t)));
  }
  if (value <= 0) fail(fmt::format("a rate must be greater than 0, got {}", quoted(t)));
  out.value = value;
  return out;
}

std::string format_rate(const ParsedRate& rate) {
  const std::string number = plain_number(rate.value);
  switch (rate.kind) {
    case ParsedRate::Kind::ops:
      return number + "/s";
    case ParsedRate::Kind::fraction:
      return shift_decimal(number, 2) + "%";
    case ParsedRate::Kind::bits:
      break;
  }
  for (auto it = kRatePrefixes.rbegin(); it != kRatePrefixes.rend(); ++it) {
    if (it->name == "K") continue;  // "k" is the canonical kilo
    if (rate.value >= std::pow(10.0, it->exponent) || it->exponent == 0) {
      return shift_decimal(number, -it->exponent) + std::string(it->name) + "b/s";
    }
  }
  return number + "b/s";
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

bool all_digits(std::string_view text) noexcept {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace fabricbench::core
