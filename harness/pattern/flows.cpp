// The shift and incast plans of directed flows, and their check.
#include "harness/pattern/flows.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fabricbench::pattern {

namespace {

void require_ranks(const char* what, int n) {
  if (n < 2) throw std::invalid_argument(fmt::format("{}: n = {}: needs 2 ranks", what, n));
}

bool in(const Flow& f, int rank) {
  return f.from == rank || f.to == rank;
}

}  // namespace

bool operator==(const Flow& x, const Flow& y) {
  return x.from == y.from && x.to == y.to;
}

Step shift_step(int n, int k) {
  require_ranks("shift_step", n);
  if (k < 1 || k >= n) {
    throw std::invalid_argument(fmt::format("shift_step: k = {} is not in 1..{}", k, n - 1));
  }
  Step step;
  step.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) step.push_back({i, (i + k) % n});
  return step;
}

Step incast_step(int n, int t) {
  require_ranks("incast_step", n);
  if (t < 0 || t >= n) {
    throw std::invalid_argument(fmt::format("incast_step: target {} is not in 0..{}", t, n - 1));
  }
  Step step;
  step.reserve(static_cast<std::size_t>(n - 1));
  for (int i = 0; i < n; ++i) {
    if (i != t) step.push_back({i, t});
  }
  return step;
}

std::vector<Step> shift_steps(int n) {
  require_ranks("shift_steps", n);
  std::vector<Step> steps;
  steps.reserve(static_cast<std::size_t>(n - 1));
  for (int k = 1; k < n; ++k) steps.push_back(shift_step(n, k));
  return steps;
}

std::vector<Step> incast_steps(int n) {
  require_ranks("incast_steps", n);
  std::vector<Step> steps;
  steps.reserve(static_cast<std::size_t>(n));
  for (int t = 0; t < n; ++t) steps.push_back(incast_step(n, t));
  return steps;
}

std::vector<Flow> flows_of(const Step& step, int rank) {
  std::vector<Flow> out;
  for (const Flow& f : step) {
    if (in(f, rank)) out.push_back(f);
  }
  return out;
}

int slot_of(const Step& step, int rank, const Flow& flow) {
  int slot = 0;
  for (const Flow& f : step) {
    if (!in(f, rank)) continue;
    if (f == flow) return slot;
    ++slot;
  }
  return -1;
}

std::vector<FlowSlots> flow_slots(const Step& step, int n) {
  std::vector<int> next(static_cast<std::size_t>(std::max(n, 0)), 0);
  const auto take = [&next, n](int rank) {
    if (rank < 0 || rank >= n) {
      throw std::out_of_range(fmt::format("flow_slots: rank {} is not in [0, {})", rank, n));
    }
    return next[static_cast<std::size_t>(rank)]++;
  };
  std::vector<FlowSlots> out;
  out.reserve(step.size());
  for (const Flow& f : step) {
    const int at_sender = take(f.from);
    out.push_back({at_sender, take(f.to)});
  }
  return out;
}

bool both_ways(const Step& step) {
  std::vector<std::pair<int, int>> flows;
  flows.reserve(step.size());
  for (const Flow& f : step) flows.emplace_back(f.from, f.to);
  std::sort(flows.begin(), flows.end());
  return std::any_of(step.begin(), step.end(), [&flows](const Flow& f) {
    return std::binary_search(flows.begin(), flows.end(), std::make_pair(f.to, f.from));
  });
}

int max_flows_per_rank(const std::vector<Step>& steps, int n) {
  int most = 0;
  std::vector<int> count(static_cast<std::size_t>(std::max(n, 0)));
  for (const Step& step : steps) {
    std::fill(count.begin(), count.end(), 0);
    for (const Flow& f : step) {
      for (const int rank : {f.from, f.to}) {
        if (rank < 0 || rank >= n) continue;
        most = std::max(most, ++count[static_cast<std::size_t>(rank)]);
      }
    }
  }
  return most;
}

std::string check_steps(int n, const std::vector<Step>& steps) {
  if (n < 0) return fmt::format("n = {} is negative", n);
  const auto size = static_cast<std::size_t>(n);
  // The step (+1) in which each ordered pair was first seen; 0: not yet.
  std::vector<std::size_t> seen(size * size, 0);
  for (std::size_t s = 0; s < steps.size(); ++s) {
    for (const Flow& f : steps[s]) {
      if (f.from < 0 || f.to < 0 || f.from >= n || f.to >= n || f.from == f.to) {
        return fmt::format("step {}: flow {} -> {} is not 0 <= from != to < {}", s, f.from, f.to,
                           n);
      }
      std::size_t& first =
          seen[static_cast<std::size_t>(f.from) * size + static_cast<std::size_t>(f.to)];
      if (first != 0) {
        return fmt::format("step {}: flow {} -> {} again (first in step {})", s, f.from, f.to,
                           first - 1);
      }
      first = s + 1;
    }
  }
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b) {
      if (a != b && seen[static_cast<std::size_t>(a) * size + static_cast<std::size_t>(b)] == 0) {
        return fmt::format("flow {} -> {} in no step", a, b);
      }
    }
  }
  return "";
}

}  // namespace fabricbench::pattern
