#pragma once
// The NCCL communicator (built where NCCL was found): one GPU per rank (cuda_memory.hpp says
// which), one CUDA stream it owns, a non-blocking ncclComm_t unless `blocking` is set.
#include <memory>

#include "transports/api/communicator.hpp"
#include "transports/nccl/nccl_descriptor.hpp"

namespace fabricbench::transport::nccl {

// Collective over `exchange`: rank 0's ncclUniqueId travels in it (as hex), with every rank's
// host name (the local rank where the launcher's environment names none). Bounded by
// options.timeout_ns; throws core::Error (unavailable: no GPU; timeout: init did not finish).
std::unique_ptr<Communicator> make_nccl_communicator(const Options& options, Exchange& exchange);

}  // namespace fabricbench::transport::nccl
