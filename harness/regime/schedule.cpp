#include "harness/regime/schedule.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace fabricbench::regime {

namespace {

__extension__ typedef unsigned __int128 u128;

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Uniform in [0, 1) from the top 53 bits.
double uniform53(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1p-53;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
  return b > kMax - a ? kMax : a + b;
}

}  // namespace

Arrival parse_arrival(std::string_view text) {
  if (text == "constant") return Arrival::constant;
  if (text == "poisson") return Arrival::poisson;
  throw std::invalid_argument(
      fmt::format("unknown arrival process '{}' (expected constant or poisson)", text));
}

const char* to_string(Arrival arrival) noexcept {
  switch (arrival) {
    case Arrival::constant:
      return "constant";
    case Arrival::poisson:
      return "poisson";
  }
  return "?";
}

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t pair, std::uint64_t stream) noexcept {
  // Each stage is a bijection of its input for fixed earlier inputs.
  std::uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ pair);
  return splitmix64(h ^ (stream * 0xd1b54a32d192ed03ULL + 0x8cb92ba72f3d8dd7ULL));
}

ArrivalSchedule::ArrivalSchedule(Arrival kind, std::vector<RateStep> profile, std::uint64_t seed)
    : kind_(kind), profile_(std::move(profile)), rng_(seed) {
  if (profile_.empty()) throw std::invalid_argument("arrival schedule: empty rate profile");
  if (profile_.front().start_ns != 0) {
    throw std::invalid_argument(fmt::format(
        "arrival schedule: the first rate step starts at {} ns, not at 0", profile_[0].start_ns));
  }
  for (std::size_t i = 0; i < profile_.size(); ++i) {
    const double r = profile_[i].ops_per_s;
    if (!std::isfinite(r) || r < 0) {
      throw std::invalid_argument(
          fmt::format("arrival schedule: step {} has rate {} (must be finite and >= 0)", i, r));
    }
    if (r > kMaxOpsPerSecond) {
      throw std::invalid_argument(
          fmt::format("arrival schedule: step {} has rate {} ops/s, above the limit of {}", i, r,
                      kMaxOpsPerSecond));
    }
    if (i > 0 && profile_[i].start_ns <= profile_[i - 1].start_ns) {
      throw std::invalid_argument(
          fmt::format("arrival schedule: step {} starts at {} ns, not after step {} at {} ns", i,
                      profile_[i].start_ns, i - 1, profile_[i - 1].start_ns));
    }
  }
  if (profile_.back().ops_per_s == 0) {
    throw std::invalid_argument("arrival schedule: the last rate step has rate 0 (no arrivals)");
  }
  enter_step();
}

void ArrivalSchedule::enter_step() {
  const RateStep& s = profile_[step_];
  step_end_ = step_ + 1 < profile_.size() ? profile_[step_ + 1].start_ns : kMax;
  n_ = 0;
  t_ = static_cast<double>(s.start_ns);
  q_ = 0;
  rem_ = 0;
  qa_ = 0;
  ra_ = 0;
  den_ = 1;
  if (kind_ != Arrival::constant || s.ops_per_s <= 0) return;
  // ops_per_s = m * 2^e exactly, m odd; then 1e9 / r = A / D with
  //   e >= 0: A = 1e9, D = m * 2^e;   e < 0: A = 1e9 * 2^-e, D = m.
  // r <= 1e15 < 2^50 keeps D below 2^50 in both cases.
  int exp = 0;
  const double frac = std::frexp(s.ops_per_s, &exp);  // r = frac * 2^exp, frac in [0.5, 1)
  std::uint64_t m = static_cast<std::uint64_t>(std::ldexp(frac, 53));
  int e = exp - 53;
  const int tz = std::countr_zero(m);
  m >>= tz;
  e += tz;
  constexpr std::uint64_t kBillion = 1'000'000'000;
  if (e >= 0) {
    den_ = m << e;
    qa_ = kBillion / den_;
    ra_ = kBillion % den_;
  } else if (-e <= 97) {  // 1e9 < 2^30: A < 2^127
    const u128 a = static_cast<u128>(kBillion) << (-e);
    den_ = m;
    const u128 qa = a / den_;
    ra_ = static_cast<std::uint64_t>(a % den_);
    qa_ = qa > kMax ? kMax : static_cast<std::uint64_t>(qa);
  } else {  // a gap of more than 2^64 ns: every arrival after the first saturates
    den_ = 1;
    qa_ = kMax;
    ra_ = 0;
  }
}

std::uint64_t ArrivalSchedule::next() {
  for (;;) {
    const RateStep& s = profile_[step_];
    if (s.ops_per_s > 0) {
      if (kind_ == Arrival::constant) {
        const std::uint64_t t = saturating_add(s.start_ns, q_);
        if (t < step_end_ || step_end_ == kMax) {
          ++n_;
          q_ = saturating_add(q_, qa_);
          rem_ += ra_;  // both < den_ < 2^50: no overflow
          if (rem_ >= den_) {
            rem_ -= den_;
            q_ = saturating_add(q_, 1);
          }
          return t;
        }
      } else {
        const double gap = -std::log1p(-uniform53(rng_)) * (1e9 / s.ops_per_s);
        const double t = t_ + gap;
        if (t >= 0x1p64) {
          if (step_end_ == kMax) {
            t_ = t;
            ++n_;
            return kMax;
          }
        } else if (static_cast<std::uint64_t>(t) < step_end_) {
          t_ = t;
          ++n_;
          return static_cast<std::uint64_t>(t);
        }
      }
    }
    ++step_;  // the current step has no arrival left (step_end_ is finite here)
    enter_step();
  }
}

SizeMix::SizeMix(std::vector<MixEntry> entries, std::uint64_t seed)
    : entries_(std::move(entries)), rng_(seed) {
  if (entries_.empty()) throw std::invalid_argument("size mix: no entries");
  double total = 0;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const double w = entries_[i].weight;
    if (!std::isfinite(w) || w <= 0) {
      throw std::invalid_argument(
          fmt::format("size mix: entry {} (size {}) has weight {} (must be positive and finite)", i,
                      entries_[i].size, w));
    }
    total += w;
  }
  if (!std::isfinite(total)) throw std::invalid_argument("size mix: the weights sum to infinity");
  cumulative_.reserve(entries_.size());
  double running = 0;
  for (const MixEntry& e : entries_) {
    running += e.weight;
    cumulative_.push_back(running / total);
  }
  cumulative_.back() = 1.0;
}

std::uint64_t SizeMix::next() {
  const double u = uniform53(rng_);
  const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
  // u < 1 = cumulative_.back(), so an entry is always found.
  return entries_[static_cast<std::size_t>(it - cumulative_.begin())].size;
}

double SizeMix::mean_size() const noexcept {
  double sum = 0;
  double weights = 0;
  for (const MixEntry& e : entries_) {
    sum += static_cast<double>(e.size) * e.weight;
    weights += e.weight;
  }
  return weights > 0 ? sum / weights : 0;
}

std::uint64_t SizeMix::max_size() const noexcept {
  std::uint64_t m = 0;
  for (const MixEntry& e : entries_) m = std::max(m, e.size);
  return m;
}

}  // namespace fabricbench::regime
