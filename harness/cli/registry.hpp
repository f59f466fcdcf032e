#pragma once
// The explicit table of what this binary can run: transports, suites, memory providers and
// collective backends. The only place that names concrete backends (docs/ARCHITECTURE.md, "How
// to add a transport").
#include <string>
#include <vector>

#include "harness/engine/registry.hpp"

namespace fabricbench::cli {

engine::Registry make_registry();

// Optional parts compiled into this binary and, when not usable here, why.
struct Component {
  std::string name;
  bool built = false;
  std::string detail;  // version, or why it is not built / cannot run here
};
std::vector<Component> components();

}  // namespace fabricbench::cli
