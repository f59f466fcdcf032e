#pragma once
// The `dmabuf` memory provider: host memory the kernel exports as a dma-buf, so the NIC's dma-buf
// registration (ibv_reg_dmabuf_mr, the path GPUDirect RDMA takes with
// cuMemGetHandleForAddressRange) can be exercised and checked on a host without a GPU. Made by the
// udmabuf driver from a memfd where /dev/udmabuf exists, else by the vgem driver (a DRM dumb buffer
// exported with PRIME); Debian's stock kernels build vgem as a module but not udmabuf.
// CPU-addressable (the memfd or the dumb buffer is mapped), so sockets and verification read it
// directly.
#include <memory>
#include <optional>
#include <string>

#include "transports/api/memory.hpp"

namespace fabricbench::transport {

std::unique_ptr<MemoryProvider> make_dmabuf_provider();

// Why no dma-buf exporter can be used here ("no /dev/udmabuf and no vgem device among
// /dev/dri/card0..15: load the udmabuf or vgem module"), or nullopt.
std::optional<std::string> dmabuf_unavailable_reason();

}  // namespace fabricbench::transport
