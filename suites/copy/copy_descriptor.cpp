// The copy suite's keys (docs/CONFIG.md "Copy suite"), their checks and traits.
#include <string>
#include <utility>

#include "suites/copy/copy.hpp"

namespace fabricbench::suites {
namespace {

std::vector<std::string> numa_choices() {
  std::vector<std::string> out = {"local", "remote", "any"};
  for (int n = 0; n < 16; ++n) out.push_back(std::to_string(n));
  return out;
}

std::vector<core::KeyDecl> keys() {
  return {
      core::choice_key("copy", {"h2d", "d2h", "bidir", "d2d"}, "h2d",
                       "What is copied: host to device, device to host, both at once (the host to "
                       "device figure, nvbandwidth's bidirectional case), device to device."),
      core::choice_key("host_memory", {"pinned", "pageable"}, "pinned",
                       "The host buffer: pinned (cudaHostAlloc or cudaHostRegister; "
                       "nvbandwidth's method) or pageable (mmap; bandwidthTest's method)."),
      core::choice_key("method", {"copy_engine", "kernel"}, "copy_engine",
                       "Who copies: the copy engine (cudaMemcpyAsync) or a kernel on the SMs "
                       "(nvbandwidth's *_sm cases)."),
      core::choice_key("host_numa", numa_choices(), "local",
                       "The host buffer's NUMA node: local (the GPU's), remote (the nearest other "
                       "node), any (no policy) or a node number."),
  };
}

std::vector<core::KeyProblem> check(const core::Settings& own, const core::CaseFacts& c) {
  std::vector<core::KeyProblem> out;
  const bool device_only = own.text("copy") == "d2d";
  if (c.regime_kind != "closed") {
    out.push_back({{"regime.kind"},
                   "copy cases run in regime closed (back-to-back copies, as nvbandwidth); not " +
                       c.regime_kind,
                   true});
  }
  if (c.duration_mode) {
    out.push_back({{"duration"},
                   "copy cases count copies (nvbandwidth's loopCount): write iterations instead "
                   "of duration",
                   true});
  }
  if (c.fault) {
    out.push_back({{"fault"}, "a copy case crosses no network: remove fault from this case", true});
  }
  if (c.on_break != "fail") {
    out.push_back({{"on_break"}, "a copy case has no connection to reconnect", true});
  }
  if (c.memory != "host") {
    out.push_back({{"memory"},
                   "a copy case allocates its own buffers (host_memory, host_numa); remove memory",
                   true});
  }
  if (c.verify) {
    out.push_back({{"verify"}, "copy cases do not check data yet; remove verify", true});
  }
  if (!device_only && own.text("host_memory") == "pageable" && own.text("method") == "kernel") {
    out.push_back({{"method", "host_memory"},
                   "a kernel copy reaches host memory through the GPU's mapping of pinned "
                   "memory; pageable memory has none: use host_memory: pinned or method: "
                   "copy_engine",
                   true});
  }
  if (own.text("copy") == "bidir" && own.text("host_memory") == "pageable") {
    out.push_back({{"host_memory", "copy"},
                   "copy bidir keeps two copies in flight at once; pageable copies are "
                   "synchronous (cudaMemcpy, as bandwidthTest): use host_memory: pinned",
                   true});
  }
  return out;
}

std::string describe(const core::Settings& own) {
  std::string out = own.text("copy") + ", " + own.text("method");
  if (own.text("copy") != "d2d") {
    out += ", " + own.text("host_memory") + " host memory on node " + own.text("host_numa");
  }
  return out;
}

}  // namespace

Descriptor copy_descriptor(CopyEngineFactory make_engine) {
  Descriptor d;
  d.name = "copy";
  d.description =
      "host<->GPU copies on each rank alone (copy engine or kernel, pinned or pageable, NUMA "
      "local or remote), nvbandwidth's and bandwidthTest's figures";
  d.keys = keys();
  d.check = check;
  d.make_local = [make_engine = std::move(make_engine)](const core::Settings& own) {
    return make_copy_workload(own, make_engine);
  };
  d.describe = describe;
  d.reports_bandwidth = true;
  return d;
}

}  // namespace fabricbench::suites
