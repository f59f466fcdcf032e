#pragma once
// The tcp transport as the registry table lists it: its keys, checks and traits
// (transports/api/descriptor.hpp).
#include "core/settings.hpp"
#include "transports/api/descriptor.hpp"
#include "transports/tcp/tcp_transport.hpp"

namespace fabricbench::transport::tcp {

Descriptor descriptor();

// The Options that resolved `tcp` settings and the engine's common parameters give.
Options options_from(const core::Settings& own, const OpenParams& common);

}  // namespace fabricbench::transport::tcp
