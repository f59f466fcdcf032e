// descriptor(): the verbs transport's declarations with what only the built transport can do,
// make a transport and say whether this host has a usable RDMA device.
#include "transports/verbs/verbs_descriptor.hpp"

namespace fabricbench::transport::verbs {

Descriptor descriptor() {
  Descriptor d = declared();
  d.unavailable_reason = [] { return unavailable_reason(); };
  d.make = [](const core::Settings& own, const OpenParams& common) {
    return make_verbs_transport(options_from(own, common));
  };
  return d;
}

}  // namespace fabricbench::transport::verbs
