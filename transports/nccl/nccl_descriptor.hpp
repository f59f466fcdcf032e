#pragma once
// The `nccl` collective backend as the registry lists it (transports/api/communicator.hpp): its
// keys (`nccl: {...}`), checks, memory ("cuda_device"), why it cannot run here, and its factory.
// Built everywhere, so experiment files with nccl cases validate on a host without NCCL; make is
// empty there and unavailable_reason says "built without NCCL".
#include <cstdint>
#include <string>

#include "core/settings.hpp"
#include "transports/api/communicator.hpp"

namespace fabricbench::transport::nccl {

CollectiveDescriptor descriptor();

// What resolved `nccl` settings and the engine's parameters give.
struct Options {
  int aggregate = 1;  // collectives per NCCL group and start() (nccl-tests -m)
  int graph = 0;      // CUDA-graph replays per start(); 0: no graph (nccl-tests -G)
  std::string register_mode = "none";  // none | local (ncclCommRegister; nccl-tests -R 1)
  bool blocking = false;               // ncclConfig_t::blocking
  std::string cta_policy = "default";  // default | efficiency | zero (ncclConfig_t::CTAPolicy)
  int min_ctas = 0;                    // ncclConfig_t::minCTAs; 0: NCCL's choice
  int max_ctas = 0;                    // ncclConfig_t::maxCTAs; 0: NCCL's choice
  std::uint64_t timeout_ns = 30'000'000'000;
  std::string launcher;
};

Options options_from(const core::Settings& own, const CommunicatorParams& common);

}  // namespace fabricbench::transport::nccl
