#pragma once
// One case of a group: the values picked from each dimension of the group's matrix, resolved
// into a Case (defaults, lengths, fault timing), checked across fields (the loader's own rules
// and each backend's), and named by its id.
#include <cstddef>
#include <string>
#include <vector>

#include "harness/spec/expansion.hpp"

namespace fabricbench::spec {

// A group ready to expand: its keys as matrix dimensions (sizes last).
struct GroupDims {
  std::string group;  // the group's name (or "cases[N]")
  std::string field;  // "cases[N]"
  Origin origin;
  Mode mode = Mode::iterations;
  std::vector<const Param*> dims;
  std::vector<std::size_t> file_order;  // indices into dims, in the order the keys were written
};

// The case for value pick[d] of each dimension d.
Case build_case(LoadContext& ctx, const GroupDims& g, const std::vector<std::size_t>& pick);

}  // namespace fabricbench::spec
