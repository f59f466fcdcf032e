// The axes of the report's SVG charts: nice ticks, scales and tick labels; html_escape.
#include "results/report/svg.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <fmt/core.h>

#include "core/units.hpp"
#include "results/char_escape.hpp"

namespace fabricbench::results::report {

std::string html_escape(std::string_view text) {
  return detail::escape_chars(
      text, {{'&', "&amp;"}, {'<', "&lt;"}, {'>', "&gt;"}, {'"', "&quot;"}, {'\'', "&#39;"}});
}

namespace svg {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

double nice_number(double x, bool round) {
  if (!(x > 0) || !std::isfinite(x)) return 1;
  const double exponent = std::floor(std::log10(x));
  const double magnitude = std::pow(10.0, exponent);
  const double f = x / magnitude;
  double nf = 10;
  if (round) {
    nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  } else {
    nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  }
  return nf * magnitude;
}

std::vector<double> linear_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  target = std::max(target, 2);
  const double range = nice_number(hi - lo, false);
  const double step = nice_number(range / (target - 1), true);
  const double first = std::floor(lo / step + 1e-9) * step;
  const double last = std::ceil(hi / step - 1e-9) * step;
  std::vector<double> ticks;
  const auto n = static_cast<long>(std::llround((last - first) / step));
  for (long i = 0; i <= n; ++i) {
    double t = first + static_cast<double>(i) * step;
    // Snap to the step's decimal precision so labels print cleanly.
    const double decimals = std::max(0.0, -std::floor(std::log10(step)));
    const double scale = std::pow(10.0, decimals);
    t = std::round(t * scale) / scale;
    if (t == 0) t = 0;  // no -0
    ticks.push_back(t);
  }
  if (ticks.size() < 2) ticks = {first, first + step};
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi, double base, int max_ticks) {
  if (!(base > 1)) base = 10;
  if (!(lo > 0) || !std::isfinite(lo)) lo = 1;
  if (!(hi > 0) || !std::isfinite(hi)) hi = lo * base;
  if (lo > hi) std::swap(lo, hi);
  const double lb = std::log(base);
  auto k_lo = static_cast<long>(std::floor(std::log(lo) / lb + 1e-9));
  auto k_hi = static_cast<long>(std::ceil(std::log(hi) / lb - 1e-9));
  if (k_hi <= k_lo) k_hi = k_lo + 1;
  std::vector<double> powers;
  for (long k = k_lo; k <= k_hi; ++k) powers.push_back(std::pow(base, static_cast<double>(k)));
  if (base == 10 && k_hi - k_lo < 3) {
    std::vector<double> ticks;
    for (std::size_t i = 0; i < powers.size(); ++i) {
      ticks.push_back(powers[i]);
      if (i + 1 < powers.size()) {
        ticks.push_back(2 * powers[i]);
        ticks.push_back(5 * powers[i]);
      }
    }
    return ticks;
  }
  max_ticks = std::max(max_ticks, 2);
  if (static_cast<int>(powers.size()) <= max_ticks) return powers;
  const std::size_t every = (powers.size() - 1 + static_cast<std::size_t>(max_ticks) - 2) /
                            (static_cast<std::size_t>(max_ticks) - 1);
  std::vector<double> kept;
  for (std::size_t i = 0; i < powers.size(); i += every) kept.push_back(powers[i]);
  if (kept.back() != powers.back()) kept.push_back(powers.back());
  return kept;
}

Scale Scale::linear(double d0, double d1, double r0, double r1) {
  return Scale(false, d0, d1, r0, r1);
}

Scale Scale::log(double d0, double d1, double r0, double r1) {
  return Scale(true, d0, d1, r0, r1);
}

double Scale::map(double v) const {
  if (!std::isfinite(v)) return kNaN;
  if (log_) {
    if (!(v > 0) || !(d0_ > 0) || !(d1_ > 0) || d0_ == d1_) return kNaN;
    return r0_ + (std::log(v) - std::log(d0_)) / (std::log(d1_) - std::log(d0_)) * (r1_ - r0_);
  }
  if (d0_ == d1_) return (r0_ + r1_) / 2;
  return r0_ + (v - d0_) / (d1_ - d0_) * (r1_ - r0_);
}

std::string format_tick(double v, TickFormat format) {
  if (!std::isfinite(v)) return "";
  if (format == TickFormat::bytes && v >= 1 && v == std::floor(v) && v < 1.8e19) {
    const auto b = static_cast<std::uint64_t>(v);
    return core::format_size(b);
  }
  const double a = std::abs(v);
  if (a == 0) return "0";
  auto trim = [](std::string s) {
    if (s.find('.') != std::string::npos && s.find('e') == std::string::npos) {
      while (!s.empty() && s.back() == '0') s.pop_back();
      if (!s.empty() && s.back() == '.') s.pop_back();
    }
    return s;
  };
  if (a >= 1e12) return trim(fmt::format("{:.3f}", v / 1e12)) + "T";
  if (a >= 1e9) return trim(fmt::format("{:.3f}", v / 1e9)) + "G";
  if (a >= 1e6) return trim(fmt::format("{:.3f}", v / 1e6)) + "M";
  if (a >= 1e4) return trim(fmt::format("{:.3f}", v / 1e3)) + "k";
  if (a >= 1e-4) return trim(fmt::format("{:.6f}", v));
  return fmt::format("{:g}", v);
}

}  // namespace svg

}  // namespace fabricbench::results::report
