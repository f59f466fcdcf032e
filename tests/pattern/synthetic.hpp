#pragma once
// Synthetic fabric maps for the pattern tests: a base value with a deterministic +-jitter (seeded
// std::mt19937, no clock) times a per-pair factor.
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "harness/pattern/pattern.hpp"

namespace fabricbench::pattern::synth {

// The factor of pair (a, b): 1 for a healthy pair.
using Model = std::function<double(int, int)>;

inline double jittered(std::mt19937& rng, double base, double jitter) {
  std::uniform_real_distribution<double> d(-jitter, jitter);
  return base * (1 + d(rng));
}

// Every pair measured.
inline Matrix full_map(int n, double base, const Model& factor, std::uint32_t seed,
                       double jitter = 0.03) {
  std::mt19937 rng(seed);
  Matrix m(n);
  for (int a = 0; a < n; ++a) {
    for (int b = a + 1; b < n; ++b) m.set(a, b, jittered(rng, base, jitter) * factor(a, b));
  }
  return m;
}

// Only the pairs of `rounds` measured (a retest).
inline Matrix measure_rounds(int n, const std::vector<Round>& rounds, double base,
                             const Model& factor, std::uint32_t seed, double jitter = 0.03) {
  std::mt19937 rng(seed);
  Matrix m(n);
  for (const Round& round : rounds) {
    for (const Pair& p : round) m.set(p.a, p.b, jittered(rng, base, jitter) * factor(p.a, p.b));
  }
  return m;
}

inline Model healthy() {
  return [](int, int) { return 1.0; };
}

// Node `node` at node_factor of the rate for all its pairs, pair `link` at link_factor.
inline Model node_and_link(int node, double node_factor, Pair link, double link_factor) {
  return [=](int a, int b) {
    if (a == node || b == node) return node_factor;
    if (ordered_pair(a, b) == link) return link_factor;
    return 1.0;
  };
}

inline std::vector<std::string> host_names(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back("node" + std::to_string(i));
  return names;
}

}  // namespace fabricbench::pattern::synth
