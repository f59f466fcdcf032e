#pragma once
// The console: the engine's Observer that prints perftest/nccl-tests style tables on rank 0.
// What it says about a case's suite and transport comes from their registry entries.
#include <cstdio>
#include <memory>

#include "harness/engine/engine.hpp"
#include "harness/engine/registry.hpp"

namespace fabricbench::cli {

// `registry` must outlive the console.
std::unique_ptr<engine::Observer> make_console(std::FILE* out, std::FILE* progress,
                                               const engine::Registry& registry);

}  // namespace fabricbench::cli
