#pragma once
// The copy suite's engine on a GPU (transports/api/copy_engine.hpp has its rules): this rank's
// GPU (select_device(): local rank modulo the visible devices), its buffers, its two streams,
// and the two kernels of copy_kernels.cu (a spin kernel holding the streams while the copies
// are queued, an SM copy kernel), built to PTX by nvcc and loaded at run time.
//
// Timing: pinned host memory and device-to-device copies as nvbandwidth (the streams held by the
// spin kernel until every copy is queued, CUDA events around the timed copies); pageable host
// memory as CUDA's bandwidthTest (synchronous cudaMemcpy in a loop timed on the host clock, then
// cudaDeviceSynchronize). docs/METHODOLOGY.md, "Copy suite".
//
// Host placement: host_numa local/remote/N binds the host buffer's pages with mbind(MPOL_BIND)
// before they are touched (then cudaHostRegister pins them); any allocates pinned memory with
// cudaHostAlloc. The node the first page landed on is read back (move_pages) into the facts.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transports/api/copy_engine.hpp"

namespace fabricbench::transport::cuda {

// A new engine; where no GPU can be used its prepare() throws core::Error(unavailable) with the
// reason ("no usable GPU: cudaGetDeviceCount: ...", "built without CUDA").
std::unique_ptr<CopyEngine> make_copy_engine();

// The rated bandwidth of the link between the host and GPU `device`, GB/s (1e9 bytes/s): the
// GPU's own PCIe link at its maximum speed and width (sysfs max_link_speed, max_link_width;
// core::pcie::pcie_link_gbytes_per_s). nullopt where sysfs does not say.
std::optional<double> rated_link_gbytes_per_s(int device);

// Which NUMA node the host buffer is bound to (nullopt: no policy), from the request, the GPU's
// node (nullopt where sysfs gives -1), the nodes with memory and their distances
// (distance(a, b)). Throws core::Error(unavailable) with the reason where the request cannot be
// met here (remote on a host with one node, a node without memory, an unknown GPU node on a
// host with several). Pure; cuda_copy.cpp reads the facts from sysfs.
std::optional<int> choose_host_node(const HostNuma& want, std::optional<int> gpu_node,
                                    const std::vector<int>& memory_nodes,
                                    const std::function<int(int, int)>& distance);

}  // namespace fabricbench::transport::cuda
