// Sizes, durations, sweeps and rates (core/units.hpp; grammar in docs/CONFIG.md).
#include "core/units.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace fabricbench::core {
namespace {

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = kKiB * 1024;
constexpr std::uint64_t kGiB = kMiB * 1024;
constexpr std::uint64_t kTiB = kGiB * 1024;

// The message of the config error thrown for `text`, or "" when nothing was thrown.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config);
    return e.what();
  }
  return "";
}

TEST(ParseSize, PlainNumbersAndBytes) {
  EXPECT_EQ(parse_size("0"), 0U);
  EXPECT_EQ(parse_size("8"), 8U);
  EXPECT_EQ(parse_size("8B"), 8U);
  EXPECT_EQ(parse_size(" 64 B "), 64U);
  EXPECT_EQ(parse_size("18446744073709551615"), std::numeric_limits<std::uint64_t>::max());
}

TEST(ParseSize, BinaryUnitsAreIec) {
  EXPECT_EQ(parse_size("4KiB"), 4 * kKiB);
  EXPECT_EQ(parse_size("1MiB"), kMiB);
  EXPECT_EQ(parse_size("2GiB"), 2 * kGiB);
  EXPECT_EQ(parse_size("3TiB"), 3 * kTiB);
  EXPECT_EQ(parse_size("4 KiB"), 4 * kKiB);
}

TEST(ParseSize, TwoLetterUnitsAreDecimal) {
  EXPECT_EQ(parse_size("1KB"), 1000U);
  EXPECT_EQ(parse_size("1kB"), 1000U);
  EXPECT_EQ(parse_size("2MB"), 2'000'000U);
  EXPECT_EQ(parse_size("1GB"), 1'000'000'000U);
  EXPECT_EQ(parse_size("1TB"), 1'000'000'000'000U);
}

TEST(ParseSize, LonePrefixesAreBinaryLikePerftest) {
  EXPECT_EQ(parse_size("1k"), kKiB);
  EXPECT_EQ(parse_size("1K"), kKiB);
  EXPECT_EQ(parse_size("2m"), 2 * kMiB);
  EXPECT_EQ(parse_size("2M"), 2 * kMiB);
  EXPECT_EQ(parse_size("1g"), kGiB);
  EXPECT_EQ(parse_size("1G"), kGiB);
  EXPECT_EQ(parse_size("1T"), kTiB);
}

TEST(ParseSize, FractionsMustGiveWholeBytes) {
  EXPECT_EQ(parse_size("1.5KiB"), 1536U);
  EXPECT_EQ(parse_size("0.5KB"), 500U);
  EXPECT_EQ(parse_size("1.25MiB"), kMiB + kMiB / 4);
  EXPECT_EQ(parse_size("2.000KiB"), 2048U);
  EXPECT_NE(error_of([] { parse_size("1.5B"); }).find("not a whole number of bytes"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_size("0.0001KiB"); }).find("not a whole number"),
            std::string::npos);
}

TEST(ParseSize, RejectsBadText) {
  EXPECT_NE(error_of([] { parse_size(""); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([] { parse_size("lots"); }).find("'lots'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_size("-1"); }).find("negative"), std::string::npos);
  EXPECT_NE(error_of([] { parse_size("4XB"); }).find("unknown size unit 'XB'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_size("4KiBs"); }).find("unknown size unit"), std::string::npos);
  EXPECT_NE(error_of([] { parse_size("1."); }).find("expected a size"), std::string::npos);
  EXPECT_NE(error_of([] { parse_size(".5K"); }).find("expected a size"), std::string::npos);
}

TEST(ParseSize, LowercaseBitsAreRejectedWithAHint) {
  EXPECT_NE(error_of([] { parse_size("4Kb"); }).find("lowercase 'b' means bits"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_size("4b"); }).find("bits"), std::string::npos);
}

TEST(ParseSize, RejectsOverflow) {
  EXPECT_NE(error_of([] { parse_size("18446744073709551616"); }).find("too large"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_size("16777216TiB"); }).find("too large"), std::string::npos);
  EXPECT_EQ(parse_size("16777215TiB"), 16777215 * kTiB);
}

TEST(ParseDuration, Units) {
  EXPECT_EQ(parse_duration_ns("100ns"), 100U);
  EXPECT_EQ(parse_duration_ns("2us"), 2'000U);
  EXPECT_EQ(parse_duration_ns("2\xC2\xB5s"), 2'000U);
  EXPECT_EQ(parse_duration_ns("500ms"), 500'000'000U);
  EXPECT_EQ(parse_duration_ns("10s"), 10'000'000'000U);
  EXPECT_EQ(parse_duration_ns("1m"), 60'000'000'000U);
  EXPECT_EQ(parse_duration_ns("1h"), 3'600'000'000'000U);
  EXPECT_EQ(parse_duration_ns("0s"), 0U);
  EXPECT_EQ(parse_duration_ns(" 2 s "), 2'000'000'000U);
}

TEST(ParseDuration, Decimals) {
  EXPECT_EQ(parse_duration_ns("1.5s"), 1'500'000'000U);
  EXPECT_EQ(parse_duration_ns("0.25ms"), 250'000U);
  EXPECT_EQ(parse_duration_ns("2.5us"), 2'500U);
  EXPECT_NE(error_of([] { parse_duration_ns("1.5ns"); }).find("whole number of nanoseconds"),
            std::string::npos);
}

TEST(ParseDuration, RejectsBadText) {
  EXPECT_NE(error_of([] { parse_duration_ns("10"); }).find("needs a unit"), std::string::npos);
  EXPECT_NE(error_of([] { parse_duration_ns("5 parsecs"); }).find("unknown duration unit"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_duration_ns("-1s"); }).find("negative"), std::string::npos);
  EXPECT_NE(error_of([] { parse_duration_ns(""); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([] { parse_duration_ns("ms"); }).find("expected a duration"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_duration_ns("99999999999h"); }).find("too large"),
            std::string::npos);
}

TEST(ParseSweep, PlainSizeIsOneElement) {
  EXPECT_EQ(parse_size_sweep("64"), std::vector<std::uint64_t>{64});
  EXPECT_EQ(parse_size_sweep("4KiB"), std::vector<std::uint64_t>{4096});
}

TEST(ParseSweep, GeometricIsInclusive) {
  const auto v = parse_size_sweep("8..4MiB x2");
  ASSERT_EQ(v.size(), 20U);  // 2^3 .. 2^22
  EXPECT_EQ(v.front(), 8U);
  EXPECT_EQ(v.back(), 4 * kMiB);
  for (std::size_t i = 1; i < v.size(); ++i) EXPECT_EQ(v[i], v[i - 1] * 2);
  EXPECT_EQ(parse_size_sweep("8..64KiB x8"), (std::vector<std::uint64_t>{8, 64, 512, 4096, 32768}));
  EXPECT_EQ(parse_size_sweep("8..8 x2"), std::vector<std::uint64_t>{8});
}

TEST(ParseSweep, GeometricStopsAtLastElementBelowTheEnd) {
  EXPECT_EQ(parse_size_sweep("8..100 x2"), (std::vector<std::uint64_t>{8, 16, 32, 64}));
}

TEST(ParseSweep, DefaultFactorIsTwo) {
  EXPECT_EQ(parse_size_sweep("1KiB..8KiB"), (std::vector<std::uint64_t>{1024, 2048, 4096, 8192}));
}

TEST(ParseSweep, Arithmetic) {
  const auto v = parse_size_sweep("1KiB..8KiB +1KiB");
  ASSERT_EQ(v.size(), 8U);
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], (i + 1) * kKiB);
  EXPECT_EQ(parse_size_sweep("0..10 +5"), (std::vector<std::uint64_t>{0, 5, 10}));
}

TEST(ParseSweep, CommaListConcatenates) {
  EXPECT_EQ(parse_size_sweep("8, 64, 1KiB..4KiB x2"),
            (std::vector<std::uint64_t>{8, 64, 1024, 2048, 4096}));
}

TEST(ParseSweep, NoWrapAroundNearTheTop) {
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(parse_size_sweep("1..18446744073709551615 x2").size(), 64U);
  EXPECT_EQ(parse_size_sweep("18446744073709551610..18446744073709551615 +4"),
            (std::vector<std::uint64_t>{max - 5, max - 1}));
}

TEST(ParseSweep, RejectsBadSweeps) {
  EXPECT_NE(error_of([] { parse_size_sweep("8..4MiB x0"); }).find("at least 2"), std::string::npos);
  EXPECT_NE(error_of([] { parse_size_sweep("8..4MiB x1"); }).find("at least 2"), std::string::npos);
  EXPECT_NE(error_of([] { parse_size_sweep("8..4MiB x"); }).find("integer factor"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_size_sweep("8..4MiB x1.5"); }).find("integer factor"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_size_sweep("1KiB..8KiB +0"); }).find("zero step"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_size_sweep("4MiB..8 x2"); }).find("reversed"), std::string::npos);
  EXPECT_NE(error_of([] { parse_size_sweep("0..8 x2"); }).find("cannot start at 0"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_size_sweep("..8"); }).find("expected a sweep"), std::string::npos);
  EXPECT_NE(error_of([] { parse_size_sweep("8..lots x2"); }).find("'lots'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_size_sweep("8,,16"); }).find("empty element"), std::string::npos);
  EXPECT_NE(error_of([] { parse_size_sweep(""); }).find("got nothing"), std::string::npos);
}

TEST(ParseSweep, RejectsMoreThan4096Elements) {
  EXPECT_EQ(parse_size_sweep("1..4096 +1").size(), 4096U);
  EXPECT_NE(error_of([] { parse_size_sweep("1..4097 +1"); }).find("more than 4096"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_size_sweep("1..1000000 +1"); }).find("more than 4096"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_size_sweep("1..4096 +1, 8"); }).find("more than 4096"),
            std::string::npos);
}

TEST(FormatSize, ExactUnits) {
  EXPECT_EQ(format_size(0), "0B");
  EXPECT_EQ(format_size(8), "8B");
  EXPECT_EQ(format_size(1500), "1500B");
  EXPECT_EQ(format_size(1536), "1536B");
  EXPECT_EQ(format_size(4096), "4KiB");
  EXPECT_EQ(format_size(kMiB), "1MiB");
  EXPECT_EQ(format_size(3 * kGiB), "3GiB");
  EXPECT_EQ(format_size(kTiB), "1TiB");
}

TEST(FormatSize, RoundTrips) {
  for (std::uint64_t v : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1000}, kKiB + 1,
                          64 * kKiB, 5 * kGiB, std::numeric_limits<std::uint64_t>::max()}) {
    EXPECT_EQ(parse_size(format_size(v)), v) << format_size(v);
  }
}

TEST(FormatDuration, ShortestExactForm) {
  EXPECT_EQ(format_duration_ns(0), "0ns");
  EXPECT_EQ(format_duration_ns(999), "999ns");
  EXPECT_EQ(format_duration_ns(1234), "1.234us");
  EXPECT_EQ(format_duration_ns(1'500'000), "1.5ms");
  EXPECT_EQ(format_duration_ns(100'000'000), "100ms");
  EXPECT_EQ(format_duration_ns(1'000'000'000), "1s");
  EXPECT_EQ(format_duration_ns(90'000'000'001), "90.000000001s");
  EXPECT_EQ(format_duration_ns(90'000'000'000), "90s");
  EXPECT_EQ(format_duration_ns(60'000'000'000), "1m");
  EXPECT_EQ(format_duration_ns(5'400'000'000'000), "90m");
  EXPECT_EQ(format_duration_ns(3'600'000'000'000), "1h");
}

TEST(FormatDuration, RoundTrips) {
  for (std::uint64_t v : {std::uint64_t{0}, std::uint64_t{7}, std::uint64_t{1'500'000},
                          std::uint64_t{3'600'000'000'000}, std::uint64_t{123'456'789'012}}) {
    EXPECT_EQ(parse_duration_ns(format_duration_ns(v)), v) << format_duration_ns(v);
  }
}

using RateKind = ParsedRate::Kind;

TEST(ParseRate, OperationsPerSecondWithDecimalPrefixes) {
  auto r = parse_rate("200000/s");
  EXPECT_EQ(r.kind, RateKind::ops);
  EXPECT_DOUBLE_EQ(r.value, 200'000);
  EXPECT_DOUBLE_EQ(parse_rate("200k/s").value, 200'000);
  EXPECT_DOUBLE_EQ(parse_rate("200K/s").value, 200'000);
  EXPECT_DOUBLE_EQ(parse_rate("1.5M/s").value, 1'500'000);
  EXPECT_DOUBLE_EQ(parse_rate("2G/s").value, 2e9);
  EXPECT_DOUBLE_EQ(parse_rate(" 50 /s ").value, 50);
  EXPECT_DOUBLE_EQ(parse_rate("0.5/s").value, 0.5);
}

TEST(ParseRate, BitsPerSecondAreDecimal) {
  auto r = parse_rate("5Gb/s");
  EXPECT_EQ(r.kind, RateKind::bits);
  EXPECT_DOUBLE_EQ(r.value, 5e9);
  EXPECT_DOUBLE_EQ(parse_rate("500Mb/s").value, 5e8);
  EXPECT_DOUBLE_EQ(parse_rate("100kb/s").value, 1e5);
  EXPECT_DOUBLE_EQ(parse_rate("800b/s").value, 800);
  EXPECT_DOUBLE_EQ(parse_rate("1.6Tb/s").value, 1.6e12);
  EXPECT_DOUBLE_EQ(parse_rate("25Gbit/s").value, 25e9);
  EXPECT_DOUBLE_EQ(parse_rate("25Gbps").value, 25e9);
  EXPECT_EQ(parse_rate("25Gbps").kind, RateKind::bits);
}

TEST(ParseRate, PercentIsAFraction) {
  auto r = parse_rate("70%");
  EXPECT_EQ(r.kind, RateKind::fraction);
  EXPECT_DOUBLE_EQ(r.value, 0.7);
  EXPECT_DOUBLE_EQ(parse_rate("2.5%").value, 0.025);
  EXPECT_DOUBLE_EQ(parse_rate("150 %").value, 1.5);
}

TEST(ParseRate, RejectsBadTextNamingIt) {
  const auto contains = [](const std::string& message, const std::string& fragment) {
    return message.find(fragment) != std::string::npos;
  };
  EXPECT_TRUE(contains(error_of([] { parse_rate("200000"); }), "rate '200000' needs a unit"));
  EXPECT_TRUE(contains(error_of([] { parse_rate("5GB/s"); }), "bytes per second"));
  EXPECT_TRUE(contains(error_of([] { parse_rate("5GB/s"); }), "'5GB/s'"));
  EXPECT_TRUE(contains(error_of([] { parse_rate("5m/s"); }), "use M for millions"));
  EXPECT_TRUE(contains(error_of([] { parse_rate("5x/s"); }), "unknown rate unit 'x/s' in '5x/s'"));
  EXPECT_TRUE(contains(error_of([] { parse_rate("5 per s"); }), "unknown rate unit 'per s'"));
  EXPECT_TRUE(contains(error_of([] { parse_rate("-5/s"); }), "cannot be negative, got '-5/s'"));
  EXPECT_TRUE(contains(error_of([] { parse_rate("0/s"); }), "greater than 0, got '0/s'"));
  EXPECT_TRUE(contains(error_of([] { parse_rate("0%"); }), "greater than 0"));
  EXPECT_TRUE(contains(error_of([] { parse_rate("fast"); }), "got 'fast'"));
  EXPECT_TRUE(contains(error_of([] { parse_rate(""); }), "empty string"));
  EXPECT_TRUE(contains(error_of([] { parse_rate("1.%"); }), "got '1.%'"));
  EXPECT_TRUE(contains(error_of([] { parse_rate(std::string(400, '9') + "/s"); }), "too large"));
}

TEST(FormatRate, CanonicalForms) {
  EXPECT_EQ(format_rate(parse_rate("200k/s")), "200000/s");
  EXPECT_EQ(format_rate(parse_rate("1.5M/s")), "1500000/s");
  EXPECT_EQ(format_rate(parse_rate("0.5/s")), "0.5/s");
  EXPECT_EQ(format_rate(parse_rate("5Gb/s")), "5Gb/s");
  EXPECT_EQ(format_rate(parse_rate("5000Mb/s")), "5Gb/s");
  EXPECT_EQ(format_rate(parse_rate("500Mb/s")), "500Mb/s");
  EXPECT_EQ(format_rate(parse_rate("1500b/s")), "1.5kb/s");
  EXPECT_EQ(format_rate(parse_rate("800b/s")), "800b/s");
  EXPECT_EQ(format_rate(parse_rate("25Gbps")), "25Gb/s");
  EXPECT_EQ(format_rate(parse_rate("70%")), "70%");
  EXPECT_EQ(format_rate(parse_rate("29%")), "29%");
  EXPECT_EQ(format_rate(parse_rate("0.1%")), "0.1%");
  EXPECT_EQ(format_rate(parse_rate("1000%")), "1000%");
}

TEST(FormatRate, RoundTrips) {
  for (const char* text :
       {"1/s", "123456/s", "0.25/s", "3.3Gb/s", "1b/s", "12.5%", "99.9%", "2Tb/s", "7.77kb/s"}) {
    const ParsedRate r = parse_rate(text);
    const ParsedRate back = parse_rate(format_rate(r));
    EXPECT_EQ(back.kind, r.kind) << text;
    EXPECT_EQ(back.value, r.value) << text << " -> " << format_rate(r);
    EXPECT_EQ(format_rate(r), text);
  }
}

}  // namespace
}  // namespace fabricbench::core
