#pragma once
// A copy engine: what the `copy` suite (suites/copy) measures through. One engine copies between
// this rank's host memory and its GPU (transports/cuda/cuda_copy.hpp) or, in the unit tests,
// between two host buffers (suites/copy/host_copy_engine.hpp). The rules:
//   - prepare() once per case: choose the device, allocate and place both buffers, fill the
//     source; a core::Error of kind `unavailable` says why this rank cannot run the setup (no
//     usable GPU; a remote NUMA node on a machine with one); any other kind is a failure;
//   - run(warmup, count) once per repetition: `warmup` untimed copies, then `count` timed ones;
//     the enqueue cost is excluded where the copies are asynchronous (pinned memory: the stream
//     is held until every copy is queued, as nvbandwidth does) and the host clock times
//     synchronous copies (pageable memory, as CUDA's bandwidthTest does);
//   - the engine never prints and reads no settings: what to do is the CopySetup.
#include <cstdint>
#include <optional>
#include <string>

namespace fabricbench::transport {

enum class CopyDirection { h2d, d2h, bidir, d2d };
enum class HostMemoryKind { pinned, pageable };
enum class CopyMethod { copy_engine, kernel };

// Where the host buffer's pages go. local: the GPU's NUMA node; remote: another node with
// memory (the nearest by the kernel's distance table); node: that node; any: no policy (the
// kernel's default, first touch).
struct HostNuma {
  enum class Kind { local, remote, node, any };
  Kind kind = Kind::local;
  int node = -1;  // Kind::node
};

struct CopySetup {
  CopyDirection direction = CopyDirection::h2d;
  HostMemoryKind host = HostMemoryKind::pinned;
  CopyMethod method = CopyMethod::copy_engine;
  HostNuma numa;
  std::uint64_t bytes = 0;  // of one copy (bidir: of the measured direction, host to device)
  int rank = 0;             // the run's rank (the local rank where the launcher names none)
};

// One repetition's timed copies.
struct CopyTimes {
  std::uint64_t copy_bytes = 0;  // moved by one copy (a kernel copy rounds down to 16 bytes)
  std::uint64_t elapsed_ns = 0;  // the `count` timed copies, start of the first to end of last
  // bidir: the opposite direction (device to host), run at the same time on a second stream.
  std::uint64_t reverse_copy_bytes = 0;
  std::uint64_t reverse_elapsed_ns = 0;
};

// What prepare() found and did, for the run document.
struct CopyFacts {
  // This rank's GPU is measured by a rank with a lower local rank (more ranks than GPUs on the
  // host): it copies nothing, so that no two ranks share a GPU's copy engines.
  bool idle = false;
  int device = -1;                    // the GPU's number in this process (-1: none)
  std::string device_name;            // "NVIDIA H100 80GB HBM3"
  std::string pci_bus_id;             // "0000:18:00.0"
  std::optional<int> gpu_numa_node;   // from sysfs; nullopt where the kernel gives none
  std::optional<int> host_numa_node;  // where the host buffer's first page is (move_pages)
  std::string host_allocation;        // "cudaHostAlloc", "mmap+mbind+cudaHostRegister", ...
  std::string timing;                 // "cuda events, stream held by a spin kernel", ...
};

class CopyEngine {
 public:
  virtual ~CopyEngine() = default;
  virtual void prepare(const CopySetup& setup) = 0;
  virtual CopyTimes run(std::uint64_t warmup, std::uint64_t count) = 0;
  virtual CopyFacts facts() const = 0;
  // The rated bandwidth of the link between the host and this GPU in GB/s (1e9 bytes/s), where
  // known (PCIe generation and width from NVML); nullopt otherwise.
  virtual std::optional<double> rated_gbytes_per_s() const = 0;
};

}  // namespace fabricbench::transport
