#pragma once
// The all-pairs fabric map: which pairs of ranks to measure in which round, and what the measured
// map says. Pure functions: no clock, no I/O (the engine measures, this folder plans and judges).
//
// Methodology.
//  - Rounds (circle_rounds): the circle method of a round-robin tournament, as SuperBench's
//    pair-wise ib-traffic benchmark: rank n-1 (or, for odd n, a bye) stays fixed while the others
//    rotate, so n ranks meet every other rank exactly once in n-1 rounds (n even) or n rounds (n
//    odd, each rank sitting out once), with no rank in two pairs of the same round.
//  - Judgement (judge): ClusterKit's rule, relative to the best measured pair, so a fabric that is
//    slow everywhere is not flagged (the map finds the odd ones out, not a slow fabric): a pair is
//    suspect when its latency is above latency_factor x the lowest latency, or its bandwidth below
//    bandwidth_fraction x the highest bandwidth. A node with more than node_fraction of its
//    measured pairs suspect is a suspect node; a node that is no suspect node and whose suspect
//    pairs (if any) all have a suspect node at the other end is known-good.
//  - Retests (plan_retests): every suspect node and every endpoint of a suspect pair that no
//    suspect node explains meets a few known-good partners; those suspect pairs are measured again.
//  - Verdict (classify), against the first map's limit: a suspect node still beyond the limit with
//    its known-good partners is a bad node (and explains its suspect pairs); a suspect pair beyond
//    the limit again while both endpoints are within it with their known-good partners is a bad
//    link; a suspect pair within the limit when measured again is noise.
//
// Units: the caller gives latency in microseconds and bandwidth in GB/s; the evidence lines of
// classify print values with those units ("us", "GB/s") and nothing here converts.
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace fabricbench::pattern {

// One pair of ranks; a < b always (circle_rounds and plan_retests make them so; check_rounds
// reports a pair that is not).
struct Pair {
  int a = 0;
  int b = 0;
};
bool operator==(const Pair& x, const Pair& y);
bool operator<(const Pair& x, const Pair& y);  // by a, then b
// The pair {x, y} with the lower rank first.
Pair ordered_pair(int x, int y);

// The pairs measured at the same time; no rank in two of them.
using Round = std::vector<Pair>;

// Circle method (round-robin tournament; SuperBench's pair-wise ib-traffic): n even -> n-1 rounds
// of n/2 disjoint pairs; n odd -> n rounds of (n-1)/2 pairs, each rank sitting out (bye) exactly
// once. Every unordered pair exactly once; no rank twice in a round. Each round is sorted.
// Throws std::invalid_argument for n < 2.
std::vector<Round> circle_rounds(int n);

// "" when every round is disjoint and every pair valid (0 <= a < b < n); when every_pair, also
// that each unordered pair occurs exactly once. Otherwise the first problem in words, rounds
// counted from 0: "round 3: rank 5 twice", "round 2: pair (4, 4) is not 0 <= a < b < 8",
// "round 7: pair (1, 4) again (first in round 2)", "pair (2, 5) in no round".
std::string check_rounds(int n, const std::vector<Round>& rounds, bool every_pair);

// The partner of `rank` in `round`, or -1 (a bye).
int partner(const Round& round, int rank);

enum class Metric { latency, bandwidth };  // latency: lower is better; bandwidth: higher is better

struct Thresholds {
  double latency_factor = 2.1;       // ClusterKit: suspect when latency > factor x the best pair's
  double bandwidth_fraction = 0.93;  // ClusterKit: suspect when bandwidth < fraction x the best's
  // A suspect node: MORE than this fraction of its measured pairs suspect.
  double node_fraction = 0.5;
  int partners_per_node = 2;  // known-good partners each suspect node/endpoint is retested against
};
// Throws std::invalid_argument unless latency_factor >= 1, 0 < bandwidth_fraction <= 1,
// 0 <= node_fraction < 1 and partners_per_node >= 0 (judge and plan_retests call it).
void validate(const Thresholds& t);

// n x n, symmetric, NaN where not measured (the diagonal is NaN). Stored as the upper triangle
// (n (n-1) / 2 doubles: 67 MB at n = 4096). at/set/measured throw std::out_of_range for a rank
// outside [0, n); set throws std::invalid_argument on the diagonal.
class Matrix {
 public:
  explicit Matrix(int n);  // throws std::invalid_argument for n < 0
  int size() const { return n_; }
  double at(int a, int b) const;     // NaN when not measured
  void set(int a, int b, double v);  // sets both (a,b) and (b,a); NaN unsets
  bool measured(int a, int b) const;

 private:
  std::size_t index(int a, int b) const;  // a != b, both in range
  int n_ = 0;
  std::vector<double> values_;
};

struct Judgement {
  Metric metric = Metric::bandwidth;
  // The best measured pair (min latency / max bandwidth) over the finite positive values; NaN when
  // there is none (then nothing is suspect, not even failed pairs: the map has no scale).
  double reference = std::numeric_limits<double>::quiet_NaN();
  // reference * latency_factor or reference * bandwidth_fraction.
  double limit = std::numeric_limits<double>::quiet_NaN();
  std::vector<Pair> suspect_pairs;  // sorted: beyond_limit
  // Sorted: more than node_fraction of the node's measured pairs suspect.
  std::vector<int> suspect_nodes;
  // Sorted: nodes with at least one measured pair, not suspect nodes, whose suspect pairs (if any)
  // all have a suspect node at the other end. (A node in no suspect pair at all would leave no
  // good node once one node is bad: every node has a slow pair with it.)
  std::vector<int> good_nodes;
};

// Judges the measured pairs of `m` (NaN: not measured). A measured value that is not finite or
// not positive (a failed pair recorded as 0 GB/s or infinite latency) is never the reference and
// is always suspect (beyond_limit). With a single measured pair (n = 2) there is
// nothing to compare: it is its own reference and nothing is flagged; in general the best pair is
// never suspect, and a map slow everywhere alike is clean (the rule is relative).
// Throws std::invalid_argument for bad thresholds.
Judgement judge(const Matrix& m, Metric metric, const Thresholds& t);
// True when value is on the bad side of j.limit (latency: above; bandwidth: below; strictly), or
// not finite or not positive (a failed pair); false for a NaN value or a NaN limit.
bool beyond_limit(double value, const Judgement& j);

// What to measure again, packed greedily (first fit, busiest nodes first) into as few disjoint
// rounds as possible; empty when there are no suspects:
//  - each suspect pair with no suspect node at either end (a link or a node question);
//  - each suspect node and each endpoint of such a pair against up to t.partners_per_node
//    known-good partners (j.good_nodes), each time the least used good nodes (lowest rank on a
//    tie), so that no good node is overused;
//  - suspect pairs with a suspect node at one end only where they fit in the rounds the above
//    needs (a bad node at n = 4096 has some 4095 suspect pairs: retesting them all would cost as
//    many rounds as the whole map; the node's retest against good partners judges them).
// Every pair at most once; the rounds satisfy check_rounds(n, rounds, false) == "".
// Throws std::invalid_argument for bad thresholds or a node of j outside [0, n).
struct RetestPlan {
  std::vector<Round> rounds;
  std::vector<Pair> same_pairs;  // sorted: the suspect pairs measured again (in rounds)
  // Each suspect node and endpoint -> the good partners it meets (sorted by node, partners
  // sorted; an empty list when there is no good node, or partners_per_node is 0).
  std::vector<std::pair<int, std::vector<int>>> vs_good;
};
RetestPlan plan_retests(int n, const Judgement& j, const Thresholds& t);

// The verdict from the first map, its judgement and the retest figures (`retest`: the pairs
// measured again, NaN elsewhere), judged against the same j.limit. "With its known-good partners"
// means its pairs in `retest` with nodes of j.good_nodes (whichever were measured):
//  - bad node: a suspect node with a majority of its known-good pairs beyond the limit in the
//    retest; a suspect node with no known-good pair measured in the retest is unconfirmed;
//  - bad link: a suspect pair with neither endpoint a bad or unconfirmed node, beyond the limit
//    again when retested, while both endpoints have known-good pairs in the retest and no
//    majority of them beyond the limit;
//  - noise: a suspect pair (not explained by a bad node) within the limit when retested; also a
//    suspect pair not measured again with an endpoint that is a suspect node found within the
//    limit with its known-good partners (the node recovered: one noise finding for the node);
//  - unconfirmed pair: a suspect pair that is none of these (not measured again; or beyond again
//    while an endpoint has no known-good pair in the retest or is beyond with its known-good
//    partners).
// A suspect pair with a bad-node or unconfirmed-node endpoint is explained by (listed under) the
// node and is no link. `names[i]` labels node i in the evidence ("name (i)"); a missing or empty
// name is "rank i". Throws std::invalid_argument when first, retest and j disagree on n.
struct Finding {
  std::string kind;        // "bad_node", "bad_link", "noise", "unconfirmed"
  std::vector<int> nodes;  // the node, or the pair's two nodes
  std::string evidence;    // in words, e.g.
  // "node4 (3): 5 of 5 pairs below 93% of the best 1.18 GB/s (0.29-0.31 GB/s); retest against
  //  node1 (0), node2 (1): 0.30, 0.29 GB/s"
};
struct Verdict {
  std::vector<int> bad_nodes;           // sorted
  std::vector<Pair> bad_links;          // sorted
  std::vector<Pair> noise;              // sorted
  std::vector<int> unconfirmed_nodes;   // sorted (added: the suspect nodes with no good partner)
  std::vector<Pair> unconfirmed_pairs;  // sorted (added: the suspect pairs left undecided)
  // Bad nodes first, then unconfirmed nodes, bad links, noise, unconfirmed pairs; each by node.
  std::vector<Finding> findings;
  // No bad node, no bad link (unconfirmed nodes and pairs leave it clean: see unconfirmed_*).
  bool clean() const;
};
Verdict classify(const Matrix& first, const Judgement& j, const Matrix& retest, const Thresholds& t,
                 const std::vector<std::string>& names);

}  // namespace fabricbench::pattern
