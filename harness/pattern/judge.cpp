// The map (Matrix) and its judgement relative to the best pair.
#include <fmt/format.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "harness/pattern/pattern.hpp"

namespace fabricbench::pattern {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool usable(double v) {
  return std::isfinite(v) && v > 0;
}

}  // namespace

void validate(const Thresholds& t) {
  if (!(t.latency_factor >= 1) || !std::isfinite(t.latency_factor)) {
    throw std::invalid_argument(
        fmt::format("pattern thresholds: latency_factor {} is not >= 1", t.latency_factor));
  }
  if (!(t.bandwidth_fraction > 0 && t.bandwidth_fraction <= 1)) {
    throw std::invalid_argument(fmt::format(
        "pattern thresholds: bandwidth_fraction {} is not in (0, 1]", t.bandwidth_fraction));
  }
  if (!(t.node_fraction >= 0 && t.node_fraction < 1)) {
    throw std::invalid_argument(
        fmt::format("pattern thresholds: node_fraction {} is not in [0, 1)", t.node_fraction));
  }
  if (t.partners_per_node < 0) {
    throw std::invalid_argument(
        fmt::format("pattern thresholds: partners_per_node {} is negative", t.partners_per_node));
  }
}

Matrix::Matrix(int n) : n_(n) {
  if (n < 0) throw std::invalid_argument(fmt::format("pattern::Matrix: n = {} is negative", n));
  const auto sn = static_cast<std::size_t>(n);
  values_.assign(sn * (sn > 0 ? sn - 1 : 0) / 2, kNaN);
}

std::size_t Matrix::index(int a, int b) const {
  if (a > b) std::swap(a, b);
  const auto sa = static_cast<std::size_t>(a);
  const auto sn = static_cast<std::size_t>(n_);
  return sa * (2 * sn - sa - 1) / 2 + static_cast<std::size_t>(b - a - 1);
}

double Matrix::at(int a, int b) const {
  if (a < 0 || a >= n_ || b < 0 || b >= n_) {
    throw std::out_of_range(fmt::format("pattern::Matrix({}): no pair ({}, {})", n_, a, b));
  }
  return a == b ? kNaN : values_[index(a, b)];
}

void Matrix::set(int a, int b, double v) {
  if (a < 0 || a >= n_ || b < 0 || b >= n_) {
    throw std::out_of_range(fmt::format("pattern::Matrix({}): no pair ({}, {})", n_, a, b));
  }
  if (a == b) {
    throw std::invalid_argument(fmt::format("pattern::Matrix: ({}, {}) is on the diagonal", a, b));
  }
  values_[index(a, b)] = v;
}

bool Matrix::measured(int a, int b) const {
  return !std::isnan(at(a, b));
}

bool beyond_limit(double value, const Judgement& j) {
  if (std::isnan(value) || std::isnan(j.limit)) return false;
  if (!usable(value)) return true;  // a failed pair: 0 GB/s, infinite or non-positive latency
  return j.metric == Metric::latency ? value > j.limit : value < j.limit;
}

Judgement judge(const Matrix& m, Metric metric, const Thresholds& t) {
  validate(t);
  Judgement j;
  j.metric = metric;
  const int n = m.size();
  for (int a = 0; a < n; ++a) {
    for (int b = a + 1; b < n; ++b) {
      const double v = m.at(a, b);
      if (!usable(v)) continue;
      if (std::isnan(j.reference) ||
          (metric == Metric::latency ? v < j.reference : v > j.reference)) {
        j.reference = v;
      }
    }
  }
  if (!std::isnan(j.reference)) {
    j.limit = j.reference * (metric == Metric::latency ? t.latency_factor : t.bandwidth_fraction);
  }
  const auto sn = static_cast<std::size_t>(n);
  std::vector<int> measured(sn, 0);
  std::vector<int> suspect(sn, 0);
  for (int a = 0; a < n; ++a) {
    for (int b = a + 1; b < n; ++b) {
      const double v = m.at(a, b);
      if (std::isnan(v)) continue;
      ++measured[static_cast<std::size_t>(a)];
      ++measured[static_cast<std::size_t>(b)];
      if (!beyond_limit(v, j)) continue;
      j.suspect_pairs.push_back({a, b});
      ++suspect[static_cast<std::size_t>(a)];
      ++suspect[static_cast<std::size_t>(b)];
    }
  }
  std::vector<bool> suspect_node(sn, false);
  std::vector<bool> good(sn, false);
  for (std::size_t i = 0; i < sn; ++i) {
    suspect_node[i] = measured[i] > 0 && suspect[i] > t.node_fraction * measured[i];
    good[i] = measured[i] > 0 && !suspect_node[i];
    if (suspect_node[i]) j.suspect_nodes.push_back(static_cast<int>(i));
  }
  // A suspect pair that no suspect node explains takes both its endpoints out of the good ones.
  for (const Pair& p : j.suspect_pairs) {
    const auto a = static_cast<std::size_t>(p.a);
    const auto b = static_cast<std::size_t>(p.b);
    if (!suspect_node[b]) good[a] = false;
    if (!suspect_node[a]) good[b] = false;
  }
  for (std::size_t i = 0; i < sn; ++i) {
    if (good[i]) j.good_nodes.push_back(static_cast<int>(i));
  }
  return j;
}

}  // namespace fabricbench::pattern
