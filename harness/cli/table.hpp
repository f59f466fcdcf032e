#pragma once
// The explicit table of transports and suites built into this binary, and the console
// observer that prints perftest/nccl-tests style tables. The only place naming concrete
// transports and suites.
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include "harness/engine/engine.hpp"
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

std::unique_ptr<engine::Observer> make_console(std::FILE* out, std::FILE* progress);

}  // namespace fabricbench::cli
