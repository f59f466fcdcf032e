#pragma once
// The verbs transport as the registry table lists it: its keys, checks and traits
// (transports/api/descriptor.hpp). declared() needs no RDMA library, so an experiment file with
// verbs cases validates on a host built without libibverbs, and its cases are skipped with the
// reason; descriptor() (in the verbs library, built where libibverbs was found) can also make it.
#include "core/settings.hpp"
#include "transports/api/descriptor.hpp"
#include "transports/verbs/verbs_transport.hpp"

namespace fabricbench::transport::verbs {

// Keys, checks and traits; no make(), and unavailable "not built".
Descriptor declared();

// declared() with make() and the host's unavailable_reason() (fb_transport_verbs only).
Descriptor descriptor();

// The Options that resolved `verbs` settings and the engine's common parameters give.
Options options_from(const core::Settings& own, const OpenParams& common);

}  // namespace fabricbench::transport::verbs
