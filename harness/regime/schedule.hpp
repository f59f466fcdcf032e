#pragma once
// When open-loop operations arrive: constant-rate or Poisson arrival times for one stream, a
// piecewise-constant rate profile (the overload step), and a weighted message-size mix.
// Everything here is deterministic for a given seed, so a run can be reproduced exactly.
#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

namespace fabricbench::regime {

enum class Arrival { constant, poisson };

// "constant" | "poisson"; throws std::invalid_argument otherwise.
Arrival parse_arrival(std::string_view text);
const char* to_string(Arrival arrival) noexcept;

// From start_ns on (relative to the phase start) operations arrive at ops_per_s (0: none).
struct RateStep {
  std::uint64_t start_ns = 0;
  double ops_per_s = 0;
};

// A seed for stream `stream` of pair `pair` derived from the experiment's seed (splitmix64), so
// streams are independent and the same seed gives the same arrivals on every run.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t pair, std::uint64_t stream) noexcept;

// The intended issue times of one stream's operations, relative to the phase start.
//  constant: in a step starting at S with rate r, the n-th arrival (n = 0, 1, ...) is at
//            S + floor(n * 1e9 / r) ns, computed from n (no accumulated rounding drift). The
//            floor is exact for the binary value of r: r = m * 2^e (m an integer) makes
//            1e9 / r a ratio of integers A / D, and the schedule keeps floor(n * A / D) and
//            n * A mod D as integers, adding floor(A / D) and A mod D per arrival (one carry).
//            So consecutive gaps are floor or ceil of 1e9 / r: they differ by at most 1 ns.
//  poisson:  exponential gaps of mean 1e9 / r ns drawn by inversion from a std::mt19937_64
//            (-log1p(-u) / r with u uniform in [0, 1) from 53 random bits), so the sequence is
//            the same on every standard library. The process time is kept as a double (ns) and
//            returned truncated to whole ns. The first arrival of a step comes one gap after the
//            step's start (a Poisson process started there), not at the start itself.
// A step covers [its start, the next step's start): an arrival that would fall at or after the
// next step's start is dropped and the next step begins (constant: its arrival n = 0 is exactly
// at its start; poisson: the process restarts at the boundary with the new rate, which
// memorylessness makes exact). A step of rate 0 produces no arrivals; the schedule moves to the
// next step. The last step lasts forever (the caller stops at the phase's length). Times
// saturate at UINT64_MAX (only reachable with absurdly low rates).
class ArrivalSchedule {
 public:
  // Throws std::invalid_argument for an empty profile, a first step not at 0, steps not in
  // strictly increasing start order, a negative or non-finite rate, a rate above
  // kMaxOpsPerSecond, or a last step of rate 0.
  ArrivalSchedule(Arrival kind, std::vector<RateStep> profile, std::uint64_t seed);
  // The next intended time (ns, relative), non-decreasing.
  std::uint64_t next();
  Arrival kind() const noexcept { return kind_; }

  // 1e15 ops/s (a million arrivals per ns) keeps the exact constant-rate arithmetic in 64 bits.
  static constexpr double kMaxOpsPerSecond = 1e15;

 private:
  void enter_step();  // set up the current step (step_) from its start

  Arrival kind_;
  std::vector<RateStep> profile_;
  std::size_t step_ = 0;
  std::uint64_t step_end_ = 0;  // the next step's start (UINT64_MAX for the last step)
  std::uint64_t n_ = 0;         // arrivals issued in the current step
  // constant: offset of arrival n_ from the step's start is q_ + rem_ / den_ (exactly n_ * A / D).
  std::uint64_t q_ = 0;
  std::uint64_t rem_ = 0;
  std::uint64_t qa_ = 0;   // floor(A / D): whole ns per arrival (UINT64_MAX: saturated)
  std::uint64_t ra_ = 0;   // A mod D
  std::uint64_t den_ = 1;  // D
  double t_ = 0;           // poisson: current time (ns, relative)
  std::mt19937_64 rng_;
};

struct MixEntry {
  std::uint64_t size = 0;  // bytes
  double weight = 1;       // relative
};

// Message sizes drawn with probability weight / sum(weights): u uniform in [0, 1) from 53 bits of a
// std::mt19937_64, the first entry whose normalized cumulative weight exceeds u.
class SizeMix {
 public:
  // Throws std::invalid_argument for no entries or a weight that is not positive and finite.
  SizeMix(std::vector<MixEntry> entries, std::uint64_t seed);
  std::uint64_t next();
  double mean_size() const noexcept;  // sum(size * weight) / sum(weight)
  std::uint64_t max_size() const noexcept;
  const std::vector<MixEntry>& entries() const noexcept { return entries_; }

 private:
  std::vector<MixEntry> entries_;
  std::vector<double> cumulative_;  // normalized, last = 1
  std::mt19937_64 rng_;
};

}  // namespace fabricbench::regime
