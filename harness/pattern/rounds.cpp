// The circle method and the check of a plan of rounds.
#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/pattern/pattern.hpp"

namespace fabricbench::pattern {

namespace {

// The place of pair (a, b), a < b, in the upper triangle of n ranks, row by row.
std::size_t triangle_index(int n, int a, int b) {
  const auto sa = static_cast<std::size_t>(a);
  const auto sn = static_cast<std::size_t>(n);
  return sa * (2 * sn - sa - 1) / 2 + static_cast<std::size_t>(b - a - 1);
}

// The first round (from 0) holding pair p.
std::size_t first_round_with(const std::vector<Round>& rounds, const Pair& p) {
  for (std::size_t r = 0; r < rounds.size(); ++r) {
    if (std::find(rounds[r].begin(), rounds[r].end(), p) != rounds[r].end()) return r;
  }
  return rounds.size();
}

}  // namespace

bool operator==(const Pair& x, const Pair& y) {
  return x.a == y.a && x.b == y.b;
}

bool operator<(const Pair& x, const Pair& y) {
  return x.a != y.a ? x.a < y.a : x.b < y.b;
}

Pair ordered_pair(int x, int y) {
  return x < y ? Pair{x, y} : Pair{y, x};
}

std::vector<Round> circle_rounds(int n) {
  if (n < 2) throw std::invalid_argument(fmt::format("circle_rounds: n = {}: needs 2 ranks", n));
  // m players on a circle of m - 1 places plus the fixed player m - 1; for odd n the fixed
  // player is a dummy (n) and its partner has the bye. In round r the player at r meets the fixed
  // one and r + k meets r - k: x + y = 2r (mod m - 1) names the round of each pair, and m - 1 is
  // odd, so each pair falls in exactly one round.
  const int m = n % 2 == 0 ? n : n + 1;
  const int places = m - 1;
  std::vector<Round> rounds(static_cast<std::size_t>(places));
  std::vector<int> partner_of(static_cast<std::size_t>(n));
  for (int r = 0; r < places; ++r) {
    std::fill(partner_of.begin(), partner_of.end(), -1);
    const auto meet = [&partner_of, n](int x, int y) {
      if (x >= n || y >= n) return;  // the dummy: a bye
      partner_of[static_cast<std::size_t>(x)] = y;
      partner_of[static_cast<std::size_t>(y)] = x;
    };
    meet(r, places);
    for (int k = 1; k < m / 2; ++k) meet((r + k) % places, (r - k + places) % places);
    // Sorted without a sort: each pair from its lower rank.
    Round& round = rounds[static_cast<std::size_t>(r)];
    round.reserve(static_cast<std::size_t>(n / 2));
    for (int x = 0; x < n; ++x) {
      const int y = partner_of[static_cast<std::size_t>(x)];
      if (y > x) round.push_back({x, y});
    }
  }
  return rounds;
}

std::string check_rounds(int n, const std::vector<Round>& rounds, bool every_pair) {
  if (n < 0) return fmt::format("n = {} is negative", n);
  std::vector<std::size_t> last_round(static_cast<std::size_t>(n), rounds.size());
  std::vector<std::uint8_t> seen;
  if (every_pair) seen.assign(n < 2 ? 0 : triangle_index(n, n - 2, n - 1) + 1, 0);
  for (std::size_t r = 0; r < rounds.size(); ++r) {
    for (const Pair& p : rounds[r]) {
      if (p.a < 0 || p.a >= p.b || p.b >= n) {
        return fmt::format("round {}: pair ({}, {}) is not 0 <= a < b < {}", r, p.a, p.b, n);
      }
      for (const int rank : {p.a, p.b}) {
        std::size_t& last = last_round[static_cast<std::size_t>(rank)];
        if (last == r) return fmt::format("round {}: rank {} twice", r, rank);
        last = r;
      }
      if (!every_pair) continue;
      std::uint8_t& s = seen[triangle_index(n, p.a, p.b)];
      if (s != 0) {
        return fmt::format("round {}: pair ({}, {}) again (first in round {})", r, p.a, p.b,
                           first_round_with(rounds, p));
      }
      s = 1;
    }
  }
  if (every_pair) {
    for (int a = 0; a < n; ++a) {
      for (int b = a + 1; b < n; ++b) {
        if (seen[triangle_index(n, a, b)] == 0) {
          return fmt::format("pair ({}, {}) in no round", a, b);
        }
      }
    }
  }
  return "";
}

int partner(const Round& round, int rank) {
  for (const Pair& p : round) {
    if (p.a == rank) return p.b;
    if (p.b == rank) return p.a;
  }
  return -1;
}

}  // namespace fabricbench::pattern
