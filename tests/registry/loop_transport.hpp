#pragma once
// "loop": a transport that exists only in the tests. Its ranks are threads of one process and its
// connections are in-memory queues, so it runs anywhere; it declares a key of its own
// (`loop: {queue_depth: N}`). It proves that a backend joins fabricbench by its folder and one
// registry entry: it validates, runs the transport contract suite and runs experiments through
// the engine without any file under harness/ naming it.
#include "transports/api/descriptor.hpp"

namespace fabricbench::testkit::loop {

// Its keys, checks and factory, as a transport folder exports them.
transport::Descriptor descriptor();

}  // namespace fabricbench::testkit::loop
