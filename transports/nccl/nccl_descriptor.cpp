// The nccl backend's keys (`nccl: {...}` in an experiment file, docs/CONFIG.md "nccl keys"),
// checks and registry entry. Built with or without NCCL.
#include "transports/nccl/nccl_descriptor.hpp"

#include <optional>

#include "transports/cuda/cuda_memory.hpp"

#ifdef FABRICBENCH_HAVE_NCCL
#include "transports/nccl/nccl_communicator.hpp"
#endif

namespace fabricbench::transport::nccl {
namespace {

std::vector<core::KeyDecl> keys() {
  return {
      core::count_key("aggregate", 1, 1024, 1,
                      "Collectives issued as one NCCL group per start (nccl-tests -m)."),
      core::count_key("graph", 0, 1024, 0,
                      "Capture start's collectives into a CUDA graph replayed N times (nccl-tests "
                      "-G); 0: no graph."),
      core::choice_key("register", {"none", "local"}, "none",
                       "User-buffer registration: none, or local (ncclCommRegister, nccl-tests "
                       "-R 1)."),
      core::flag_key("blocking", false,
                     "Blocking communicator (ncclConfig_t.blocking); false: init and calls "
                     "return ncclInProgress and are polled, bounded by the peer timeout."),
      core::choice_key("cta_policy", {"default", "efficiency", "zero"}, "default",
                       "ncclConfig_t.CTAPolicy (NCCL_CTA_POLICY_*)."),
      core::count_key("min_ctas", 0, 64, 0, "ncclConfig_t.minCTAs (channels); 0: NCCL's choice."),
      core::count_key("max_ctas", 0, 64, 0, "ncclConfig_t.maxCTAs (channels); 0: NCCL's choice."),
  };
}

std::vector<core::KeyProblem> check(const core::Settings& own, const core::CaseFacts& /*c*/) {
  const auto lo = own.integer("min_ctas");
  const auto hi = own.integer("max_ctas");
  if (lo > 0 && hi > 0 && lo > hi) {
    return {
        {{"nccl.min_ctas", "nccl.max_ctas"},
         "nccl.min_ctas " + std::to_string(lo) + " exceeds nccl.max_ctas " + std::to_string(hi)}};
  }
  return {};
}

}  // namespace

Options options_from(const core::Settings& own, const CommunicatorParams& common) {
  Options o;
  o.aggregate = static_cast<int>(own.integer("aggregate"));
  o.graph = static_cast<int>(own.integer("graph"));
  o.register_mode = own.text("register");
  o.blocking = own.flag("blocking");
  o.cta_policy = own.text("cta_policy");
  o.min_ctas = static_cast<int>(own.integer("min_ctas"));
  o.max_ctas = static_cast<int>(own.integer("max_ctas"));
  o.timeout_ns = common.timeout_ns;
  o.launcher = common.launcher;
  return o;
}

CollectiveDescriptor descriptor() {
  CollectiveDescriptor d;
  d.name = "nccl";
  d.description =
      "NCCL collectives on GPU buffers (one GPU per rank; algorithm, protocol and "
      "channels recorded)";
  d.keys = keys();
  d.check = check;
  d.example = "{aggregate: 1, graph: 0}";
  d.memory = "cuda_device";
#ifdef FABRICBENCH_HAVE_NCCL
  d.unavailable_reason = [] { return cuda::cuda_unavailable_reason(); };
  d.make = [](const core::Settings& own, const CommunicatorParams& common, Exchange& exchange) {
    return make_nccl_communicator(options_from(own, common), exchange);
  };
#else
  d.unavailable_reason = [] {
    return std::optional<std::string>(
        cuda::cuda_built() ? "built without NCCL: nccl.h/libnccl were not found at configure "
                             "time (NCCL_HOME, the CUDA toolkit)"
                           : "built without NCCL: no CUDA toolkit at configure time");
  };
#endif
  return d;
}

}  // namespace fabricbench::transport::nccl
