// The pingpong suite's traits (it declares no keys of its own).
#include "suites/pingpong/pingpong.hpp"

namespace fabricbench::suites {

Descriptor pingpong_descriptor() {
  Descriptor d;
  d.name = "pingpong";
  d.description = "one message in flight; one-way latency = RTT/2";
  d.make = make_pingpong;
  d.reports_bandwidth = false;
  d.echoes_requests = true;
  d.counted_by_receiver = false;
  return d;
}

}  // namespace fabricbench::suites
