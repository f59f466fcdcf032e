#pragma once
// The `collective` suite: nccl-tests' measurement over any collective backend (transports/api/
// communicator.hpp), with IMB's floor regime and a scheduled (realistic) one, per-operation
// times and an exact correctness check (docs/METHODOLOGY.md, "Collectives").
#include <memory>

#include "suites/api/collective.hpp"
#include "suites/api/descriptor.hpp"

namespace fabricbench::suites {

std::unique_ptr<CollectiveWorkload> make_collective_workload();
Descriptor collective_descriptor();

}  // namespace fabricbench::suites
