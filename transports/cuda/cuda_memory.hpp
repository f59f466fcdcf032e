#pragma once
// The `cuda` memory provider: device memory from cudaMalloc, zero-filled (cudaMemset), released
// with cudaFree; as aligned as cudaMalloc makes it (256 bytes at least; whole pages for the sizes
// a benchmark uses). Plain C++ against the CUDA runtime API.
//
// Which GPU: every rank uses the GPU numbered (its local rank) modulo (the devices it sees). The
// local rank is the first of OMPI_COMM_WORLD_LOCAL_RANK (Open MPI), SLURM_LOCALID (srun),
// MPI_LOCALRANKID (MPICH/Intel MPI), FABRICBENCH_LOCAL_RANK that is set; else the one a
// collective backend found by comparing host names over the Exchange (set_local_rank); else 0.
// CUDA_VISIBLE_DEVICES narrows the devices first, as always.
//
// CUDA does not survive fork(): call nothing here in a process that forks ranks afterwards (the
// local launcher's parent); the ranks themselves may.
#include <optional>
#include <string>

#include "transports/api/memory.hpp"

namespace fabricbench::transport::cuda {

// The registry entry: name "cuda". Its provider throws core::Error(unavailable) with
// cuda_unavailable_reason() where no GPU can be used, and "built without CUDA" when the toolkit
// was not found at configure time.
MemoryDescriptor cuda_memory();

// Why no GPU can be used here ("no usable GPU: cudaGetDeviceCount: CUDA driver version is
// insufficient for CUDA runtime version (cudaErrorInsufficientDriver)"), or nullopt.
std::optional<std::string> cuda_unavailable_reason();

// Whether this binary was built with the CUDA runtime.
bool cuda_built() noexcept;

// The local rank from the launcher's environment (see above), or nullopt when none is set.
std::optional<int> local_rank_from_env();

// The local rank a collective backend worked out from the ranks' host names; used when the
// environment names none.
void set_local_rank(int local_rank) noexcept;

// This rank's local rank: the environment's, else set_local_rank's, else 0.
int local_rank();

// Makes this rank's GPU (local rank modulo device count) current and returns its number.
// Throws core::Error(unavailable) with the reason when there is none.
int select_device();

}  // namespace fabricbench::transport::cuda
