// The retest plan: suspect pairs again, suspects against known-good partners, packed into rounds.
#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "harness/pattern/pattern.hpp"

namespace fabricbench::pattern {

namespace {

// First-fit packing into disjoint rounds: a pair goes into the first round where neither of its
// ranks is busy.
class Packer {
 public:
  explicit Packer(int n) : busy_(static_cast<std::size_t>(n)) {}

  // Places p; opens a new round only when may_open. False when p found no round.
  bool place(const Pair& p, bool may_open) {
    std::vector<bool>& ba = busy_[static_cast<std::size_t>(p.a)];
    std::vector<bool>& bb = busy_[static_cast<std::size_t>(p.b)];
    std::size_t r = 0;
    while (r < rounds_.size() && ((r < ba.size() && ba[r]) || (r < bb.size() && bb[r]))) ++r;
    if (r == rounds_.size()) {
      if (!may_open) return false;
      rounds_.emplace_back();
    }
    rounds_[r].push_back(p);
    for (std::vector<bool>* b : {&ba, &bb}) {
      if (b->size() <= r) b->resize(r + 1, false);
      (*b)[r] = true;
    }
    return true;
  }

  std::vector<Round> take() {
    for (Round& round : rounds_) std::sort(round.begin(), round.end());
    return std::move(rounds_);
  }

 private:
  std::vector<std::vector<bool>> busy_;
  std::vector<Round> rounds_;
};

void check_nodes(int n, const Judgement& j) {
  const auto bad = [n](int v) { return v < 0 || v >= n; };
  bool out = std::any_of(j.suspect_nodes.begin(), j.suspect_nodes.end(), bad) ||
             std::any_of(j.good_nodes.begin(), j.good_nodes.end(), bad);
  for (const Pair& p : j.suspect_pairs) out = out || bad(p.a) || bad(p.b) || p.a == p.b;
  if (out)
    throw std::invalid_argument(
        fmt::format("plan_retests: a node of the judgement is not in [0, {})", n));
}

// Up to k good partners for each target, each time the least used good nodes (lowest on a tie).
std::vector<std::pair<int, std::vector<int>>> choose_partners(const std::vector<int>& targets,
                                                              const std::vector<int>& good, int k) {
  std::set<std::pair<int, int>> by_use;  // (times used, node)
  for (const int g : good) by_use.insert({0, g});
  std::vector<std::pair<int, std::vector<int>>> out;
  for (const int target : targets) {
    std::vector<int> partners;
    std::vector<std::pair<int, int>> taken;
    for (auto it = by_use.begin(); it != by_use.end() && static_cast<int>(partners.size()) < k;) {
      if (it->second == target) {
        ++it;
        continue;
      }
      partners.push_back(it->second);
      taken.push_back(*it);
      it = by_use.erase(it);
    }
    for (const auto& [uses, g] : taken) by_use.insert({uses + 1, g});
    std::sort(partners.begin(), partners.end());
    out.emplace_back(target, std::move(partners));
  }
  return out;
}

}  // namespace

RetestPlan plan_retests(int n, const Judgement& j, const Thresholds& t) {
  validate(t);
  if (n < 0) throw std::invalid_argument(fmt::format("plan_retests: n = {} is negative", n));
  check_nodes(n, j);
  RetestPlan plan;
  if (j.suspect_pairs.empty() && j.suspect_nodes.empty()) return plan;
  const auto sn = static_cast<std::size_t>(n);
  std::vector<bool> suspect_node(sn, false);
  for (const int v : j.suspect_nodes) suspect_node[static_cast<std::size_t>(v)] = true;

  // The pairs the plan needs (unexplained suspect pairs, suspects against good partners), and the
  // suspect pairs of suspect nodes, measured again only where they fit.
  std::vector<Pair> needed;
  std::vector<Pair> optional;
  std::vector<int> targets = j.suspect_nodes;
  for (const Pair& p : j.suspect_pairs) {
    const Pair q = ordered_pair(p.a, p.b);
    if (suspect_node[static_cast<std::size_t>(q.a)] ||
        suspect_node[static_cast<std::size_t>(q.b)]) {
      optional.push_back(q);
      continue;
    }
    needed.push_back(q);
    targets.push_back(q.a);
    targets.push_back(q.b);
  }
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  plan.vs_good = choose_partners(targets, j.good_nodes, t.partners_per_node);
  for (const auto& [node, partners] : plan.vs_good) {
    for (const int g : partners) needed.push_back(ordered_pair(node, g));
  }
  std::sort(needed.begin(), needed.end());
  needed.erase(std::unique(needed.begin(), needed.end()), needed.end());

  const std::vector<Pair> needed_sorted = needed;

  // Busiest nodes first: first fit then stays close to the largest degree.
  std::vector<int> degree(sn, 0);
  for (const Pair& p : needed) {
    ++degree[static_cast<std::size_t>(p.a)];
    ++degree[static_cast<std::size_t>(p.b)];
  }
  const auto key = [&degree](const Pair& p) {
    const int da = degree[static_cast<std::size_t>(p.a)];
    const int db = degree[static_cast<std::size_t>(p.b)];
    return std::pair<int, int>{std::max(da, db), std::min(da, db)};
  };
  std::stable_sort(needed.begin(), needed.end(),
                   [&key](const Pair& x, const Pair& y) { return key(x) > key(y); });
  Packer packer(n);
  for (const Pair& p : needed) packer.place(p, true);
  std::sort(optional.begin(), optional.end());
  optional.erase(std::unique(optional.begin(), optional.end()), optional.end());
  for (const Pair& p : optional) {
    if (!std::binary_search(needed_sorted.begin(), needed_sorted.end(), p)) packer.place(p, false);
  }
  plan.rounds = packer.take();

  std::vector<Pair> suspects;
  suspects.reserve(j.suspect_pairs.size());
  for (const Pair& p : j.suspect_pairs) suspects.push_back(ordered_pair(p.a, p.b));
  std::sort(suspects.begin(), suspects.end());
  for (const Round& round : plan.rounds) {
    for (const Pair& p : round) {
      if (std::binary_search(suspects.begin(), suspects.end(), p)) plan.same_pairs.push_back(p);
    }
  }
  std::sort(plan.same_pairs.begin(), plan.same_pairs.end());
  return plan;
}

}  // namespace fabricbench::pattern
