#pragma once
// The CUDA memory providers. Plain C++ against the CUDA runtime API; the driver API's one call
// used (cuMemGetHandleForAddressRange, the dma-buf export) is looked up through the runtime
// (cudaGetDriverEntryPointByVersion), so the binary never links libcuda and runs where there is
// no driver (every case on these providers is then skipped with the reason).
//
//   cuda_device  GPU memory (cudaMalloc), zero-filled; not CPU-addressable (read/write copy with
//                cudaMemcpy); exported as a dma-buf with cuMemGetHandleForAddressRange for
//                GPUDirect RDMA; staged through cuda_host memory where a transport cannot
//                register it (sockets).
//   cuda_host    page-locked host memory: mmap, bound to a NUMA node (mbind, MPOL_BIND), touched,
//                then cudaHostRegister'ed; `numa_node: auto` is the GPU's node. CPU-addressable.
//
// Which GPU (`gpu: auto | N`): N is the CUDA ordinal (after CUDA_VISIBLE_DEVICES); auto is the
// GPU nearest the RDMA device the case's traffic crosses (MemoryProvider::place_near; PCIe
// relations from sysfs, core/pci_topology.hpp; equally near GPUs shared out by local rank), else
// the rank's local rank modulo the devices it sees. The local rank is the first of
// OMPI_COMM_WORLD_LOCAL_RANK (Open MPI), SLURM_LOCALID (srun), MPI_LOCALRANKID (MPICH/Intel MPI),
// FABRICBENCH_LOCAL_RANK that is set; else the one a collective backend found by comparing host
// names over the Exchange (set_local_rank); else 0.
//
// CUDA does not survive fork(): call nothing here in a process that forks ranks afterwards (the
// local launcher's parent); the ranks themselves may.
#include <optional>
#include <string>

#include "transports/api/memory.hpp"

namespace fabricbench::transport::cuda {

// The registry entries: "cuda_device" and "cuda_host". Their providers throw
// core::Error(unavailable) with cuda_unavailable_reason() where no GPU can be used, and "built
// without CUDA" when the toolkit was not found at configure time.
MemoryDescriptor cuda_device_memory();
MemoryDescriptor cuda_host_memory();

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

// The GPU `gpu` names (-1: auto, local rank modulo device count), made current; returns its
// ordinal. Throws core::Error(unavailable) with the reason when there is none, and
// core::Error(config) when `gpu` is not below the device count.
int select_device(int gpu = -1);

// `gpu: auto | N` as select_device() takes it (-1 for auto).
int gpu_setting(const core::Settings& own);

}  // namespace fabricbench::transport::cuda
