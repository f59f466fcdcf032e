// How long circle_rounds and check_rounds take at 1024 and 4096 ranks (and judge/plan_retests on a
// full map at 4096). The least and the median of 5 runs, printed, not asserted: a timing on a
// shared machine is no test.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <utility>
#include <vector>

#include "harness/pattern/pattern.hpp"

namespace {

using namespace fabricbench::pattern;

double ms(const std::function<void()>& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

// The least and the median of `reps` timings of f, in ms.
std::pair<double, double> least_and_median(int reps, const std::function<void()>& f) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) t.push_back(ms(f));
  std::sort(t.begin(), t.end());
  return {t.front(), t[t.size() / 2]};
}

int main() {
  constexpr int kReps = 5;
  for (const int n : {1024, 4096}) {
    std::vector<Round> rounds;
    const auto plan = least_and_median(kReps, [&] { rounds = circle_rounds(n); });
    bool ok = false;
    const auto check = least_and_median(kReps, [&] { ok = check_rounds(n, rounds, true).empty(); });
    std::printf(
        "n = %d: circle_rounds %.1f ms (median %.1f; %zu rounds), check_rounds(every_pair) %.1f "
        "ms (median %.1f)%s\n",
        n, plan.first, plan.second, rounds.size(), check.first, check.second, ok ? "" : " FAILED");
  }
  const int n = 4096;
  Matrix m(n);
  for (int a = 0; a < n; ++a) {
    for (int b = a + 1; b < n; ++b) m.set(a, b, (a == 77 || b == 77) ? 0.25 : 1.0);
  }
  Judgement j;
  const auto judged =
      least_and_median(kReps, [&] { j = judge(m, Metric::bandwidth, Thresholds{}); });
  RetestPlan p;
  const auto planned = least_and_median(kReps, [&] { p = plan_retests(n, j, Thresholds{}); });
  std::printf(
      "n = %d, one slow node: judge %.1f ms (median %.1f), plan_retests %.2f ms (median %.2f; %zu "
      "rounds)\n",
      n, judged.first, judged.second, planned.first, planned.second, p.rounds.size());
  return 0;
}
