// The verdict: bad nodes, bad links and noise, from the first map and the retest.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "harness/pattern/pattern.hpp"

namespace fabricbench::pattern {

namespace {

enum class NodeState { none, bad, unconfirmed, recovered };

// A node's pairs with known-good partners in the retest.
struct GoodRetest {
  std::vector<int> partners;
  std::vector<double> values;
  std::size_t beyond = 0;
  bool empty() const { return partners.empty(); }
  bool majority_beyond() const { return 2 * beyond > partners.size(); }
};

class Words {
 public:
  Words(const Judgement& j, const Thresholds& t, const std::vector<std::string>& names)
      : j_(j), t_(t), names_(names) {}

  std::string unit() const { return j_.metric == Metric::latency ? "us" : "GB/s"; }

  std::string node(int i) const {
    const auto si = static_cast<std::size_t>(i);
    if (si < names_.size() && !names_[si].empty()) return fmt::format("{} ({})", names_[si], i);
    return fmt::format("rank {}", i);
  }

  // 3 significant digits below 0.1 (0.0241), 2 decimals below 10, 1 below 100, none above:
  // 0.30, 12.5, 1234.
  static std::string value(double v) {
    const double a = std::fabs(v);
    if (a > 0 && a < 0.1) return fmt::format("{:.3g}", v);
    if (a < 10) return fmt::format("{:.2f}", v);
    if (a < 100) return fmt::format("{:.1f}", v);
    return fmt::format("{:.0f}", v);
  }

  // "below 93% of the best 1.18 GB/s" / "above 2.1x the best 1.50 us".
  std::string rule() const {
    if (j_.metric == Metric::latency) {
      return fmt::format("above {:g}x the best {} us", t_.latency_factor, value(j_.reference));
    }
    return fmt::format("below {:g}% of the best {} GB/s", t_.bandwidth_fraction * 100,
                       value(j_.reference));
  }

  // "node1 (0), node2 (1): 0.30, 0.29 GB/s"
  std::string against(const GoodRetest& g) const {
    std::vector<std::string> who;
    std::vector<std::string> what;
    for (std::size_t i = 0; i < g.partners.size(); ++i) {
      who.push_back(node(g.partners[i]));
      what.push_back(value(g.values[i]));
    }
    return fmt::format("{}: {} {}", fmt::join(who, ", "), fmt::join(what, ", "), unit());
  }

  // "node4 (3): 5 of 5 pairs below 93% of the best 1.18 GB/s (0.29-0.31 GB/s)"
  std::string node_first_map(const Matrix& first, int x) const {
    int measured = 0;
    int suspect = 0;
    double lo = 0;
    double hi = 0;
    for (int y = 0; y < first.size(); ++y) {
      if (y == x || !first.measured(x, y)) continue;
      ++measured;
      const double v = first.at(x, y);
      if (!beyond_limit(v, j_)) continue;
      lo = suspect == 0 ? v : std::min(lo, v);
      hi = suspect == 0 ? v : std::max(hi, v);
      ++suspect;
    }
    return fmt::format("{}: {} of {} pairs {} ({}-{} {})", node(x), suspect, measured, rule(),
                       value(lo), value(hi), unit());
  }

  // "node2 (1) - node5 (4): 0.35 GB/s below 93% of the best 1.18 GB/s"
  std::string pair_first_map(const Matrix& first, const Pair& p) const {
    return fmt::format("{} - {}: {} {} {}", node(p.a), node(p.b), value(first.at(p.a, p.b)), unit(),
                       rule());
  }

 private:
  const Judgement& j_;
  const Thresholds& t_;
  const std::vector<std::string>& names_;
};

GoodRetest good_retest(const Matrix& retest, const Judgement& j, int x) {
  GoodRetest g;
  for (const int partner : j.good_nodes) {
    if (partner == x || !retest.measured(x, partner)) continue;
    const double v = retest.at(x, partner);
    g.partners.push_back(partner);
    g.values.push_back(v);
    if (beyond_limit(v, j)) ++g.beyond;
  }
  return g;
}

void check_sizes(const Matrix& first, const Judgement& j, const Matrix& retest) {
  const int n = first.size();
  if (retest.size() != n) {
    throw std::invalid_argument(
        fmt::format("classify: the first map has {} nodes, the retest {}", n, retest.size()));
  }
  const auto out = [n](int v) { return v < 0 || v >= n; };
  bool bad = std::any_of(j.suspect_nodes.begin(), j.suspect_nodes.end(), out) ||
             std::any_of(j.good_nodes.begin(), j.good_nodes.end(), out);
  for (const Pair& p : j.suspect_pairs) bad = bad || out(p.a) || out(p.b) || p.a == p.b;
  if (bad) {
    throw std::invalid_argument(
        fmt::format("classify: a node of the judgement is not in [0, {})", n));
  }
}

struct Collected {
  Verdict v;
  std::vector<Finding> unconfirmed_nodes, links, noise, unconfirmed_pairs;
};

// The suspect nodes: bad, unconfirmed or recovered (within the limit with good partners).
std::vector<NodeState> judge_nodes(const Matrix& first, const Judgement& j, const Matrix& retest,
                                   const Words& w, Collected& c) {
  std::vector<NodeState> state(static_cast<std::size_t>(first.size()), NodeState::none);
  for (const int x : j.suspect_nodes) {
    const GoodRetest g = good_retest(retest, j, x);
    NodeState& s = state[static_cast<std::size_t>(x)];
    if (g.empty()) {
      s = NodeState::unconfirmed;
      c.v.unconfirmed_nodes.push_back(x);
      c.unconfirmed_nodes.push_back(
          {"unconfirmed",
           {x},
           w.node_first_map(first, x) + "; no known-good partner measured in the retest"});
    } else if (g.majority_beyond()) {
      s = NodeState::bad;
      c.v.bad_nodes.push_back(x);
      c.v.findings.push_back(
          {"bad_node",
           {x},
           fmt::format("{}; retest against {}", w.node_first_map(first, x), w.against(g))});
    } else {
      s = NodeState::recovered;
    }
  }
  return state;
}

// A suspect pair beyond the limit again: a link when both ends are fine with good partners.
void judge_beyond_again(const Matrix& retest, const Judgement& j, const Pair& p,
                        const std::string& head, const Words& w, Collected& c) {
  const GoodRetest ga = good_retest(retest, j, p.a);
  const GoodRetest gb = good_retest(retest, j, p.b);
  std::string why;
  for (const auto& [x, g] : {std::pair<int, const GoodRetest*>{p.a, &ga}, {p.b, &gb}}) {
    if (!why.empty()) continue;
    if (g->empty()) why = fmt::format("{} has no known-good partner in the retest", w.node(x));
    if (g->majority_beyond()) {
      why = fmt::format("{} beyond the limit with its known-good partners too, {}", w.node(x),
                        w.against(*g));
    }
  }
  if (why.empty()) {
    c.v.bad_links.push_back(p);
    c.links.push_back({"bad_link",
                       {p.a, p.b},
                       fmt::format("{}; {} against {}; {} against {}", head, w.node(p.a),
                                   w.against(ga), w.node(p.b), w.against(gb))});
  } else {
    c.v.unconfirmed_pairs.push_back(p);
    c.unconfirmed_pairs.push_back({"unconfirmed", {p.a, p.b}, head + "; " + why});
  }
}

void sort_findings(std::vector<Finding>& f) {
  std::stable_sort(f.begin(), f.end(),
                   [](const Finding& x, const Finding& y) { return x.nodes < y.nodes; });
}

}  // namespace

bool Verdict::clean() const {
  return bad_nodes.empty() && bad_links.empty();
}

Verdict classify(const Matrix& first, const Judgement& j, const Matrix& retest, const Thresholds& t,
                 const std::vector<std::string>& names) {
  validate(t);
  check_sizes(first, j, retest);
  const Words w(j, t, names);
  Collected c;
  const std::vector<NodeState> state = judge_nodes(first, j, retest, w, c);
  const auto node_state = [&state](int x) { return state[static_cast<std::size_t>(x)]; };
  std::vector<std::vector<Pair>> recovered_pairs(state.size());

  std::vector<Pair> suspects;
  for (const Pair& p : j.suspect_pairs) suspects.push_back(ordered_pair(p.a, p.b));
  std::sort(suspects.begin(), suspects.end());
  suspects.erase(std::unique(suspects.begin(), suspects.end()), suspects.end());
  for (const Pair& p : suspects) {
    const NodeState sa = node_state(p.a);
    const NodeState sb = node_state(p.b);
    const auto explained = [](NodeState s) {
      return s == NodeState::bad || s == NodeState::unconfirmed;
    };
    if (explained(sa) || explained(sb)) continue;
    const double again = retest.at(p.a, p.b);
    const std::string head = w.pair_first_map(first, p);
    if (!std::isnan(again) && !beyond_limit(again, j)) {
      c.v.noise.push_back(p);
      c.noise.push_back(
          {"noise",
           {p.a, p.b},
           fmt::format("{}; retest {} {}, within the limit {} {}", head, Words::value(again),
                       w.unit(), Words::value(j.limit), w.unit())});
    } else if (!std::isnan(again)) {
      judge_beyond_again(
          retest, j, p,
          fmt::format("{}; retest {} {}, beyond the limit {} {} again", head, Words::value(again),
                      w.unit(), Words::value(j.limit), w.unit()),
          w, c);
    } else if (sa == NodeState::recovered || sb == NodeState::recovered) {
      c.v.noise.push_back(p);
      recovered_pairs[static_cast<std::size_t>(sa == NodeState::recovered ? p.a : p.b)].push_back(
          p);
    } else {
      c.v.unconfirmed_pairs.push_back(p);
      c.unconfirmed_pairs.push_back({"unconfirmed", {p.a, p.b}, head + "; not measured again"});
    }
  }
  for (std::size_t x = 0; x < recovered_pairs.size(); ++x) {
    if (recovered_pairs[x].empty()) continue;
    const int node = static_cast<int>(x);
    c.noise.push_back(
        {"noise",
         {node},
         fmt::format("{}; retest against {}, within the limit {} {}; {} of its suspect pairs not "
                     "measured again count as noise",
                     w.node_first_map(first, node), w.against(good_retest(retest, j, node)),
                     Words::value(j.limit), w.unit(), recovered_pairs[x].size())});
  }
  std::sort(c.v.noise.begin(), c.v.noise.end());
  sort_findings(c.noise);
  for (std::vector<Finding>* part :
       {&c.unconfirmed_nodes, &c.links, &c.noise, &c.unconfirmed_pairs}) {
    c.v.findings.insert(c.v.findings.end(), part->begin(), part->end());
  }
  return c.v;
}

}  // namespace fabricbench::pattern
