#pragma once
// pingpong: one message in flight between a pair of ranks (the latency floor). The initiator
// sends, the responder echoes the same size back; latency per iteration = RTT / 2, as
// perftest's *_lat and OSU's osu_latency report it.
#include <memory>

#include "suites/api/descriptor.hpp"
#include "suites/api/workload.hpp"

namespace fabricbench::suites {

std::unique_ptr<Workload> make_pingpong();

// Its keys, checks and traits, for the registry table.
Descriptor pingpong_descriptor();

}  // namespace fabricbench::suites
