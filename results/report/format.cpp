// The text of the report's figures (units, rates, durations, wall-clock times).
#include "results/report/format.hpp"

#include <cmath>

#include <fmt/core.h>

#include "core/error.hpp"
#include "results/report/svg.hpp"
#include "results/run_document.hpp"

namespace fabricbench::results::report {

std::string format_number(double v) {
  if (!std::isfinite(v)) return "-";
  if (std::abs(v) >= 1000) return fmt::format("{:.0f}", v);
  return fmt::format("{:.4g}", v);
}

std::string format_us(std::optional<double> ns) {
  return ns ? format_number(*ns / 1000.0) : "-";
}

std::string format_duration(std::optional<double> ns) {
  if (!ns || !std::isfinite(*ns)) return "-";
  const double a = std::abs(*ns);
  if (a == 0) return "0";
  if (a < 1e3) return fmt::format("{:.3g}ns", *ns);
  if (a < 1e6) return fmt::format("{:.3g}\xC2\xB5s", *ns / 1e3);
  if (a < 1e9) return fmt::format("{:.3g}ms", *ns / 1e6);
  return fmt::format("{:.3g}s", *ns / 1e9);
}

std::string format_bytes_approx(std::optional<double> bytes) {
  if (!bytes) return "-";
  const double b = *bytes;
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.3g} GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt::format("{:.3g} MiB", b / (1024.0 * 1024));
  if (b >= 1024.0) return fmt::format("{:.3g} KiB", b / 1024.0);
  return fmt::format("{:.0f} B", b);
}

std::string format_rate(std::optional<double> ops) {
  if (!ops || !std::isfinite(*ops)) return "-";
  if (*ops == 0) return "0/s";
  const double digits = std::floor(std::log10(std::abs(*ops)));
  const double unit = std::pow(10.0, digits - 2);
  return svg::format_tick(std::round(*ops / unit) * unit, svg::TickFormat::number) + "/s";
}

std::string wall_time(std::uint64_t ns) {
  if (ns == 0) return "-";
  try {
    return format_rfc3339_ms(ns);
  } catch (const core::Error&) {
    return std::to_string(ns) + " ns";
  }
}

}  // namespace fabricbench::results::report
