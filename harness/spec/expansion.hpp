#pragma once
// One case group -> its cases: the group's keys merged over `defaults`, the regime kinds that
// decide which keys apply and whether the group needs iterations or a duration, the matrix of
// listed values (sizes innermost), and each case built (case_builder.hpp).
#include <cstddef>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "harness/spec/case_keys.hpp"
#include "harness/spec/catalog.hpp"
#include "harness/spec/experiment.hpp"
#include "harness/spec/injector_keys.hpp"
#include "harness/spec/source_tree.hpp"
#include "harness/spec/values.hpp"

namespace fabricbench::spec {

constexpr std::size_t kMaxCases = 10'000;
// Interval-series bins per repetition (duration / interval): what a rank sends rank 0 for one
// repetition grows with it (about 150 bytes a bin).
constexpr std::uint64_t kMaxBinsPerRepetition = 1'000'000;
// Planned time of the whole plan (duration-mode cases: repetitions x (warm-up + duration)).
constexpr std::uint64_t kMaxPlannedNs = 24ULL * 3600 * 1'000'000'000;

// What every step of a load reads and reports to.
struct LoadContext {
  ValueParser& values;
  const KeyTable& keys;
  const Catalog& catalog;
  const ParsedInjector& injector;
  std::unordered_set<std::string> case_ids{};  // of every case expanded so far
  std::uint64_t planned_ns = 0;                // their planned time so far
  Reporter& report() { return values.report(); }
};

// Case keys of a group or of defaults, in order, with section keys flattened ("tcp.nodelay").
std::vector<Param> parse_case_keys(LoadContext& ctx, const SNode& map, const std::string& field,
                                   bool from_defaults);

// Expands group `index` of `cases` into exp.cases (nothing when it has errors); false when the
// plan would pass kMaxCases (reported): the groups after it are not expanded.
bool expand_group(LoadContext& ctx, const SNode& g, std::size_t index,
                  const std::vector<Param>& defaults, std::map<std::string, int>& group_lines,
                  Experiment& exp);

}  // namespace fabricbench::spec
