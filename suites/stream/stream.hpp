#pragma once
// stream: unidirectional or bidirectional bandwidth with `window` messages in flight per
// endpoint, counted by the receiver (as iperf3 and perftest's *_bw report the receiving side's
// bytes over the measured interval). Messages are striped round-robin over the endpoints.
#include <memory>

#include "suites/api/descriptor.hpp"
#include "suites/api/workload.hpp"

namespace fabricbench::suites {

std::unique_ptr<Workload> make_stream();

// Its keys, checks and traits, for the registry table.
Descriptor stream_descriptor();

}  // namespace fabricbench::suites
