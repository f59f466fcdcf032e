// The copy suite's engine on a GPU (cuda_copy.hpp). The CUDA calls are compiled only where the
// toolkit was found (FABRICBENCH_HAVE_CUDA); elsewhere the engine says it was not built.
#include "transports/cuda/cuda_copy.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/pci_topology.hpp"
#include "transports/cuda/cuda_memory.hpp"

#ifdef FABRICBENCH_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <vector_types.h>
#endif

namespace fabricbench::transport::cuda {

using core::Error;
using core::ErrorKind;

#ifdef FABRICBENCH_HAVE_CUDA
std::optional<double> rated_link_gbytes_per_s(int device) {
  std::array<char, 32> id{};
  if (cudaDeviceGetPCIBusId(id.data(), static_cast<int>(id.size()), device) != cudaSuccess) {
    return std::nullopt;
  }
  const auto bus = core::pcie::normalize_bus_id(id.data());
  if (!bus) return std::nullopt;
  const std::string dir = "/sys/bus/pci/devices/" + *bus + "/";
  std::ifstream speed_file(dir + "max_link_speed");
  std::ifstream width_file(dir + "max_link_width");
  std::string speed;
  unsigned width = 0;
  if (!std::getline(speed_file, speed) || !(width_file >> width)) return std::nullopt;
  return core::pcie::pcie_link_gbytes_per_s(speed, width);
}
#else
std::optional<double> rated_link_gbytes_per_s(int /*device*/) {
  return std::nullopt;
}
#endif

std::optional<int> choose_host_node(const HostNuma& want, std::optional<int> gpu_node,
                                    const std::vector<int>& memory_nodes,
                                    const std::function<int(int, int)>& distance) {
  const auto has_memory = [&](int n) {
    return std::find(memory_nodes.begin(), memory_nodes.end(), n) != memory_nodes.end();
  };
  switch (want.kind) {
    case HostNuma::Kind::any:
      return std::nullopt;
    case HostNuma::Kind::node:
      if (!has_memory(want.node)) {
        throw Error(ErrorKind::unavailable, "host_numa " + std::to_string(want.node) +
                                                ": this host has no NUMA node " +
                                                std::to_string(want.node) + " with memory");
      }
      return want.node;
    case HostNuma::Kind::local:
      if (gpu_node && has_memory(*gpu_node)) return gpu_node;
      if (memory_nodes.size() <= 1) return std::nullopt;  // one node: every buffer is local
      throw Error(ErrorKind::unavailable,
                  "host_numa local: the GPU's NUMA node is unknown (sysfs numa_node -1) on a host "
                  "with several; name the node (host_numa: N)");
    case HostNuma::Kind::remote: {
      if (memory_nodes.size() <= 1) {
        throw Error(ErrorKind::unavailable,
                    "host_numa remote: this host has one NUMA node with memory");
      }
      if (!gpu_node) {
        throw Error(ErrorKind::unavailable,
                    "host_numa remote: the GPU's NUMA node is unknown (sysfs numa_node -1)");
      }
      std::optional<int> best;
      for (const int n : memory_nodes) {
        if (n == *gpu_node) continue;
        if (!best || distance(*gpu_node, n) < distance(*gpu_node, *best)) best = n;
      }
      return best;
    }
  }
  return std::nullopt;
}

namespace {

#ifdef FABRICBENCH_HAVE_CUDA

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// "0-1,3" -> {0, 1, 3}
std::vector<int> parse_node_list(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (part.empty()) continue;
    const auto dash = part.find('-');
    try {
      const int lo = std::stoi(part.substr(0, dash));
      const int hi = dash == std::string::npos ? lo : std::stoi(part.substr(dash + 1));
      for (int n = lo; n <= hi; ++n) out.push_back(n);
    } catch (const std::exception&) {
      return {};
    }
  }
  return out;
}

std::vector<int> memory_nodes() {
  auto nodes = parse_node_list(read_line("/sys/devices/system/node/has_memory"));
  if (nodes.empty()) nodes = parse_node_list(read_line("/sys/devices/system/node/online"));
  return nodes;
}

int node_distance(int from, int to) {
  std::stringstream ss(
      read_line("/sys/devices/system/node/node" + std::to_string(from) + "/distance"));
  int d = 0;
  for (int i = 0; i <= to; ++i) {
    if (!(ss >> d)) return std::numeric_limits<int>::max();
  }
  return d;
}

std::optional<int> pci_numa_node(std::string bus_id) {
  std::transform(bus_id.begin(), bus_id.end(), bus_id.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string text = read_line("/sys/bus/pci/devices/" + bus_id + "/numa_node");
  try {
    const int n = std::stoi(text);
    return n < 0 ? std::nullopt : std::optional<int>(n);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Anonymous memory whose pages are bound to `node` (when given) before the first touch.
void* map_host(std::size_t bytes, std::optional<int> node) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    throw Error(ErrorKind::runtime,
                "copy: mmap of " + std::to_string(bytes) + " bytes: " + std::strerror(errno));
  }
  if (node) {
    constexpr int kMpolBind = 2;  // <numaif.h> MPOL_BIND, without linking libnuma
    constexpr unsigned long kBits = 8 * sizeof(unsigned long);
    std::vector<unsigned long> mask(static_cast<std::size_t>(*node) / kBits + 1, 0);
    mask[static_cast<std::size_t>(*node) / kBits] |= 1UL << (static_cast<unsigned>(*node) % kBits);
    if (syscall(SYS_mbind, p, bytes, kMpolBind, mask.data(), mask.size() * kBits + 1, 0U) != 0) {
      const int err = errno;
      munmap(p, bytes);
      throw Error(ErrorKind::runtime,
                  "copy: mbind to NUMA node " + std::to_string(*node) + ": " + std::strerror(err));
    }
  }
  std::memset(p, 0x5a, bytes);  // places every page now
  return p;
}

// The node the page at `p` is on, or nullopt.
std::optional<int> node_of(void* p) {
  void* pages[1] = {p};
  int status[1] = {-1};
  if (syscall(SYS_move_pages, 0, 1UL, pages, nullptr, status, 0) != 0 || status[0] < 0) {
    return std::nullopt;
  }
  return status[0];
}

extern "C" const char fb_copy_kernels_ptx[];  // copy_kernels_ptx.cpp, generated

constexpr std::uint64_t kSpinTimeoutNs = 20'000'000'000ULL;  // a repetition's longest hold

void check(cudaError_t err, const std::string& what) {
  if (err != cudaSuccess) {
    throw Error(ErrorKind::runtime, "copy: " + what + ": " + cudaGetErrorString(err) + " (" +
                                        cudaGetErrorName(err) + ")");
  }
}

// A host buffer: cudaHostAlloc'd, mapped+bound+registered, or mapped (pageable).
class HostBuffer {
 public:
  HostBuffer() = default;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  ~HostBuffer() { reset(); }

  // Returns how it was allocated.
  std::string allocate(std::size_t bytes, bool pinned, std::optional<int> node) {
    reset();
    bytes_ = bytes;
    if (pinned && !node) {
      check(cudaHostAlloc(&p_, bytes, cudaHostAllocPortable | cudaHostAllocMapped),
            "cudaHostAlloc of " + std::to_string(bytes) + " bytes");
      host_alloc_ = true;
      std::memset(p_, 0x5a, bytes);
      return "cudaHostAlloc";
    }
    p_ = map_host(bytes, node);
    mapped_ = true;
    if (!pinned) return node ? "mmap+mbind (pageable)" : "mmap (pageable)";
    check(cudaHostRegister(p_, bytes, cudaHostRegisterPortable | cudaHostRegisterMapped),
          "cudaHostRegister of " + std::to_string(bytes) + " bytes");
    registered_ = true;
    return "mmap+mbind+cudaHostRegister";
  }
  void* get() const noexcept { return p_; }

 private:
  void reset() noexcept {
    if (p_ == nullptr) return;
    if (host_alloc_) cudaFreeHost(p_);
    if (registered_) cudaHostUnregister(p_);
    if (mapped_) munmap(p_, bytes_);
    p_ = nullptr;
    host_alloc_ = registered_ = mapped_ = false;
  }
  void* p_ = nullptr;
  std::size_t bytes_ = 0;
  bool host_alloc_ = false, registered_ = false, mapped_ = false;
};

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (p_ != nullptr) cudaFree(p_);
  }
  void allocate(std::size_t bytes, int fill) {
    check(cudaMalloc(&p_, bytes), "cudaMalloc of " + std::to_string(bytes) + " bytes");
    check(cudaMemset(p_, fill, bytes), "cudaMemset");
  }
  void* get() const noexcept { return p_; }

 private:
  void* p_ = nullptr;
};

// One direction of copies: where from, where to, on which stream, timed by which events.
struct Lane {
  void* dst = nullptr;
  const void* src = nullptr;
  std::size_t bytes = 0;  // one copy (a kernel copy: rounded down to 16 bytes)
  cudaMemcpyKind kind = cudaMemcpyDefault;
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr;
  cudaEvent_t end = nullptr;
};

class CudaCopyEngine final : public CopyEngine {
 public:
  ~CudaCopyEngine() override { release(); }

  void prepare(const CopySetup& setup) override {
    setup_ = setup;
    facts_.device = select_device();  // throws unavailable with the reason
    int count = 0;
    check(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
    if (local_rank_from_env().value_or(setup.rank) >= count) {
      facts_.idle = true;  // a lower local rank measures this GPU
      return;
    }
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, facts_.device), "cudaGetDeviceProperties");
    facts_.device_name = prop.name;
    char bus[32] = {};
    check(cudaDeviceGetPCIBusId(bus, sizeof bus, facts_.device), "cudaDeviceGetPCIBusId");
    facts_.pci_bus_id = bus;
    facts_.gpu_numa_node = pci_numa_node(facts_.pci_bus_id);
    check(cudaDeviceGetAttribute(&sms_, cudaDevAttrMultiProcessorCount, facts_.device),
          "cudaDeviceGetAttribute(MultiProcessorCount)");
    load_kernels();
    const bool kernel = setup.method == CopyMethod::kernel;
    std::size_t bytes = setup.bytes;
    if (kernel) bytes -= bytes % 16;
    if (bytes == 0) {
      throw Error(ErrorKind::unavailable, "a kernel copy moves 16-byte elements; size " +
                                              std::to_string(setup.bytes) + " is below 16 bytes");
    }
    pinned_ = setup.direction == CopyDirection::d2d || setup.host == HostMemoryKind::pinned;
    std::optional<int> node;
    if (setup.direction != CopyDirection::d2d) {
      node = choose_host_node(setup.numa, facts_.gpu_numa_node, memory_nodes(), node_distance);
    }
    make_lanes(bytes, node);
    facts_.timing = pinned_ ? "cuda events; streams held by a spin kernel until every copy is "
                              "queued (nvbandwidth)"
                            : "host clock around synchronous cudaMemcpy (bandwidthTest)";
    check(cudaHostAlloc(reinterpret_cast<void**>(&latch_), 2 * sizeof(int),
                        cudaHostAllocPortable | cudaHostAllocMapped),
          "cudaHostAlloc of the spin kernel's latch");
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize after set-up");
  }

  CopyTimes run(std::uint64_t warmup, std::uint64_t count) override {
    if (facts_.idle) return {};
    return pinned_ ? run_held(warmup, count) : run_synchronous(warmup, count);
  }

  CopyFacts facts() const override { return facts_; }
  std::optional<double> rated_gbytes_per_s() const override {
    return facts_.device < 0 ? std::nullopt : rated_link_gbytes_per_s(facts_.device);
  }

 private:
  void load_kernels() {
    check(cudaLibraryLoadData(&library_, fb_copy_kernels_ptx, nullptr, nullptr, 0, nullptr, nullptr,
                              0),
          "cudaLibraryLoadData of the copy kernels");
    check(cudaLibraryGetKernel(&spin_, library_, "fb_copy_spin"), "cudaLibraryGetKernel spin");
    check(cudaLibraryGetKernel(&copy_, library_, "fb_copy_kernel"), "cudaLibraryGetKernel copy");
  }

  void make_lanes(std::size_t bytes, std::optional<int> node) {
    const CopyDirection d = setup_.direction;
    std::string allocation;
    const auto host = [&](HostBuffer& b, std::size_t n) {
      allocation = b.allocate(n, setup_.host == HostMemoryKind::pinned, node);
      return b.get();
    };
    const auto lane = [&](void* dst, const void* src, std::size_t n, cudaMemcpyKind kind) {
      Lane l{dst, src, n, kind, nullptr, nullptr, nullptr};
      check(cudaStreamCreateWithFlags(&l.stream, cudaStreamNonBlocking), "cudaStreamCreate");
      check(cudaEventCreate(&l.start), "cudaEventCreate");
      check(cudaEventCreate(&l.end), "cudaEventCreate");
      lanes_.push_back(l);
    };
    lanes_.reserve(2);
    if (d == CopyDirection::d2d) {
      dev_a_.allocate(bytes, 0x5a);
      dev_b_.allocate(bytes, 0);
      lane(dev_b_.get(), dev_a_.get(), bytes, cudaMemcpyDeviceToDevice);
      facts_.host_allocation = "none (device to device)";
      return;
    }
    dev_a_.allocate(bytes, 0x5a);
    void* h = host(host_a_, bytes);
    if (d == CopyDirection::d2h) {
      lane(h, dev_a_.get(), bytes, cudaMemcpyDeviceToHost);
    } else {
      lane(dev_a_.get(), h, bytes, cudaMemcpyHostToDevice);
    }
    if (d == CopyDirection::bidir) {  // the interfering copy is twice as large, as nvbandwidth's
      dev_b_.allocate(2 * bytes, 0x5a);
      void* h2 = host(host_b_, 2 * bytes);
      lane(h2, dev_b_.get(), 2 * bytes, cudaMemcpyDeviceToHost);
    }
    facts_.host_allocation = allocation;
    facts_.host_numa_node = node_of(h);
  }

  void enqueue_copy(const Lane& l) {
    if (setup_.method == CopyMethod::copy_engine) {
      check(cudaMemcpyAsync(l.dst, l.src, l.bytes, l.kind, l.stream), "cudaMemcpyAsync");
      return;
    }
    void* dst = l.dst;
    const void* src = l.src;
    unsigned long long n = l.bytes / 16;
    void* args[] = {&dst, &src, &n};
    const unsigned int threads = 512;
    const unsigned long long wanted = (n + threads - 1) / threads;
    const unsigned int blocks = static_cast<unsigned int>(
        std::max<unsigned long long>(1, std::min<unsigned long long>(wanted, 8ULL * sms_)));
    check(cudaLaunchKernel(reinterpret_cast<const void*>(copy_), dim3(blocks), dim3(threads), args,
                           0, l.stream),
          "cudaLaunchKernel copy");
  }

  // nvbandwidth's method: every stream held by the spin kernel; warm-up copies, the start
  // events, the timed copies and the end events queued behind it; released; timed by events.
  CopyTimes run_held(std::uint64_t warmup, std::uint64_t count) {
    volatile int* latch = latch_;
    latch[0] = 0;
    latch[1] = 0;
    int* dev_latch = nullptr;
    check(cudaHostGetDevicePointer(reinterpret_cast<void**>(&dev_latch), latch_, 0),
          "cudaHostGetDevicePointer of the latch");
    int* dev_timed_out = dev_latch + 1;
    unsigned long long timeout = kSpinTimeoutNs;
    void* spin_args[] = {&dev_latch, &dev_timed_out, &timeout};
    for (const Lane& l : lanes_) {
      check(cudaLaunchKernel(reinterpret_cast<const void*>(spin_), dim3(1), dim3(1), spin_args, 0,
                             l.stream),
            "cudaLaunchKernel spin");
      for (std::uint64_t i = 0; i < warmup; ++i) enqueue_copy(l);
    }
    check(cudaEventRecord(lanes_[0].start, lanes_[0].stream), "cudaEventRecord");
    for (std::size_t i = 1; i < lanes_.size(); ++i) {  // every lane starts with the first
      check(cudaStreamWaitEvent(lanes_[i].stream, lanes_[0].start, 0), "cudaStreamWaitEvent");
      check(cudaEventRecord(lanes_[i].start, lanes_[i].stream), "cudaEventRecord");
    }
    for (const Lane& l : lanes_) {
      for (std::uint64_t i = 0; i < count; ++i) enqueue_copy(l);
      check(cudaEventRecord(l.end, l.stream), "cudaEventRecord");
    }
    latch[0] = 1;  // release
    for (const Lane& l : lanes_) check(cudaStreamSynchronize(l.stream), "cudaStreamSynchronize");
    if (latch[1] != 0) {
      throw Error(ErrorKind::runtime,
                  "copy: the spin kernel gave up before every copy was queued (the enqueue cost "
                  "would be timed); use fewer iterations or smaller sizes");
    }
    CopyTimes t;
    t.copy_bytes = lanes_[0].bytes;
    t.elapsed_ns = event_ns(lanes_[0]);
    if (lanes_.size() > 1) {
      t.reverse_copy_bytes = lanes_[1].bytes;
      t.reverse_elapsed_ns = event_ns(lanes_[1]);
    }
    return t;
  }

  static std::uint64_t event_ns(const Lane& l) {
    float ms = 0;
    check(cudaEventElapsedTime(&ms, l.start, l.end), "cudaEventElapsedTime");
    return static_cast<std::uint64_t>(static_cast<double>(ms) * 1e6);
  }

  // bandwidthTest's pageable method: synchronous copies on the host clock.
  CopyTimes run_synchronous(std::uint64_t warmup, std::uint64_t count) {
    const Lane& l = lanes_[0];
    for (std::uint64_t i = 0; i < warmup; ++i) {
      check(cudaMemcpy(l.dst, l.src, l.bytes, l.kind), "cudaMemcpy");
    }
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    const std::uint64_t start = core::now_ns();
    for (std::uint64_t i = 0; i < count; ++i) {
      check(cudaMemcpy(l.dst, l.src, l.bytes, l.kind), "cudaMemcpy");
    }
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    CopyTimes t;
    t.copy_bytes = l.bytes;
    t.elapsed_ns = core::now_ns() - start;
    return t;
  }

  void release() noexcept {
    for (const Lane& l : lanes_) {
      if (l.stream != nullptr) cudaStreamSynchronize(l.stream);
      if (l.start != nullptr) cudaEventDestroy(l.start);
      if (l.end != nullptr) cudaEventDestroy(l.end);
      if (l.stream != nullptr) cudaStreamDestroy(l.stream);
    }
    lanes_.clear();
    if (latch_ != nullptr) cudaFreeHost(latch_);
    latch_ = nullptr;
    if (library_ != nullptr) cudaLibraryUnload(library_);
    library_ = nullptr;
  }

  CopySetup setup_;
  CopyFacts facts_;
  int sms_ = 1;
  bool pinned_ = true;
  cudaLibrary_t library_ = nullptr;
  cudaKernel_t spin_ = nullptr;
  cudaKernel_t copy_ = nullptr;
  int* latch_ = nullptr;  // [0]: released, [1]: the spin kernel timed out
  DeviceBuffer dev_a_, dev_b_;
  HostBuffer host_a_, host_b_;
  std::vector<Lane> lanes_;
};

#else

class UnbuiltCopyEngine final : public CopyEngine {
 public:
  void prepare(const CopySetup& /*setup*/) override {
    throw Error(ErrorKind::unavailable, *cuda_unavailable_reason());
  }
  CopyTimes run(std::uint64_t /*warmup*/, std::uint64_t /*count*/) override { return {}; }
  CopyFacts facts() const override { return {}; }
  std::optional<double> rated_gbytes_per_s() const override { return std::nullopt; }
};

#endif

}  // namespace

std::unique_ptr<CopyEngine> make_copy_engine() {
#ifdef FABRICBENCH_HAVE_CUDA
  return std::make_unique<CudaCopyEngine>();
#else
  return std::make_unique<UnbuiltCopyEngine>();
#endif
}

}  // namespace fabricbench::transport::cuda
