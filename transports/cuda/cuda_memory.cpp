// The CUDA memory providers (cuda_memory.hpp). The CUDA calls are compiled only where the
// toolkit was found (FABRICBENCH_HAVE_CUDA); elsewhere the providers say they were not built.
#include "transports/cuda/cuda_memory.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/pci_topology.hpp"

#ifdef FABRICBENCH_HAVE_CUDA
#include <cuda.h>
#include <cuda_runtime_api.h>
#endif

namespace fabricbench::transport::cuda {
namespace {

using core::Error;
using core::ErrorKind;

std::atomic<int> g_exchanged_local_rank{-1};

std::optional<int> parse_number(std::string_view s) {
  int value = -1;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value < 0) return std::nullopt;
  return value;
}

std::optional<int> parse_rank(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  return parse_number(text);
}

int setting_number(const core::Settings& own, std::string_view key) {
  if (!own.has(key)) return -1;
  const auto n = parse_number(own.text(key));
  return n ? *n : -1;  // "auto"
}

MemoryTraits device_traits() {
  MemoryTraits t;
  t.cpu_addressable = false;
  t.device = true;
  t.dmabuf = true;
  return t;
}

MemoryTraits host_traits() {
  MemoryTraits t;
  t.page_locked = true;
  return t;
}

std::size_t page_rounded(std::size_t bytes) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return ((bytes == 0 ? 1 : bytes) + page - 1) / page * page;
}

// The NUMA node sysfs gives a PCI device ("0000:3b:00.0"), or -1.
int pci_numa_node(std::string bus_id) {
  std::transform(bus_id.begin(), bus_id.end(), bus_id.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::ifstream in("/sys/bus/pci/devices/" + bus_id + "/numa_node");
  int node = -1;
  if (!(in >> node)) return -1;
  return node;
}

// Binds [addr, addr + length) to `node` (MPOL_BIND, pages moved); "" or why not.
std::string bind_to_node(void* addr, std::size_t length, int node) {
  constexpr int kMpolBind = 2;
  constexpr unsigned kMpolMfMove = 1u << 1;
  if (node < 0 || node >= 64) return "NUMA node " + std::to_string(node) + " is out of range";
  unsigned long mask = 1UL << static_cast<unsigned>(node);
  const long rc = ::syscall(SYS_mbind, addr, length, kMpolBind, &mask, 64UL, kMpolMfMove);
  if (rc != 0) return std::string("mbind: ") + std::strerror(errno);
  return {};
}

#ifdef FABRICBENCH_HAVE_CUDA

std::string cuda_text(cudaError_t err) {
  return std::string(cudaGetErrorString(err)) + " (" + cudaGetErrorName(err) + ")";
}

void check(cudaError_t err, const std::string& what) {
  if (err != cudaSuccess) throw Error(ErrorKind::runtime, what + " failed: " + cuda_text(err));
}

std::string bus_id_of(int device) {
  char id[32] = {};
  if (cudaDeviceGetPCIBusId(id, sizeof(id), device) != cudaSuccess) return {};
  return id;
}

nlohmann::json gpu_facts(int device) {
  cudaDeviceProp prop{};
  nlohmann::json j = {{"gpu", device}, {"pci_bus_id", bus_id_of(device)}};
  if (cudaGetDeviceProperties(&prop, device) == cudaSuccess) j["gpu_name"] = prop.name;
  return j;
}

// A PCI function's place in sysfs: the realpath of `link` and the NUMA node beside it.
std::optional<core::pcie::PcieEndpoint> sysfs_place(const std::string& link) {
  std::error_code ec;
  const auto path = std::filesystem::canonical(link, ec);
  if (ec) return std::nullopt;
  core::pcie::PcieEndpoint place{path.string(), std::nullopt};
  std::ifstream in(path / "numa_node");
  int node = -1;
  if (in >> node && node >= 0) place.numa_node = node;
  return place;
}

// `gpu: auto`: the GPU nearest `nic` (among equally near ones, local rank modulo their count),
// with how it was chosen; -1 when no NIC is named or no relation is known.
std::pair<int, std::string> nearest_gpu(const std::string& nic, int count) {
  if (nic.empty()) return {-1, {}};
  const auto nic_place = sysfs_place("/sys/class/infiniband/" + nic + "/device");
  if (!nic_place) return {-1, {}};
  std::vector<std::optional<core::pcie::PcieRelation>> row;
  for (int g = 0; g < count; ++g) {
    const auto bus = core::pcie::normalize_bus_id(bus_id_of(g));
    const auto place = bus ? sysfs_place("/sys/bus/pci/devices/" + *bus) : std::nullopt;
    row.push_back(place ? core::pcie::classify(*place, *nic_place).relation : std::nullopt);
  }
  const auto best = core::pcie::nearest_shared(row, static_cast<std::size_t>(local_rank()));
  if (!best) return {-1, {}};
  return {static_cast<int>(*best),
          "nearest " + nic + " (" + std::string(core::pcie::to_string(*row[*best])) + ")"};
}

// The GPU a provider uses: `gpu` when set, else the one nearest `nic`, else local rank modulo
// the devices; made current. `how` says which rule chose it.
int choose_device(int gpu, const std::string& nic, std::string& how) {
  if (gpu >= 0) {
    how = "gpu: " + std::to_string(gpu);
    return select_device(gpu);
  }
  int count = 0;
  if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0) {
    const auto [near, rule] = nearest_gpu(nic, count);
    if (near >= 0) {
      how = rule;
      return select_device(near);
    }
  }
  const int device = select_device(-1);
  how = "local rank " + std::to_string(local_rank()) + " modulo the GPUs";
  return device;
}

using GetHandleFn = CUresult (*)(void*, CUdeviceptr, std::size_t, CUmemRangeHandleType,
                                 unsigned long long);

GetHandleFn get_handle_fn(std::string& why) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult status{};
  const cudaError_t err = cudaGetDriverEntryPointByVersion("cuMemGetHandleForAddressRange", &fn,
                                                           11070, cudaEnableDefault, &status);
  if (err != cudaSuccess || fn == nullptr || status != cudaDriverEntryPointSuccess) {
    why = err != cudaSuccess ? cuda_text(err) : "the driver has no cuMemGetHandleForAddressRange";
    return nullptr;
  }
  return reinterpret_cast<GetHandleFn>(fn);
}

class CudaHostProvider;

class CudaDeviceProvider final : public MemoryProvider {
 public:
  explicit CudaDeviceProvider(int gpu) : gpu_(gpu) {}
  std::string name() const override { return "cuda_device"; }
  MemoryTraits traits() const override { return device_traits(); }

  void place_near(const std::string& rdma_device) override { nic_ = rdma_device; }
  Buffer allocate(std::size_t bytes) override {
    device_ = choose_device(gpu_, nic_, how_);
    void* p = nullptr;
    // Whole pages: cuMemGetHandleForAddressRange exports page-aligned ranges only.
    const std::size_t n = page_rounded(bytes);
    const std::string where = std::to_string(bytes) + " bytes on GPU " + std::to_string(device_);
    check(cudaMalloc(&p, n), "cuda_device memory: cudaMalloc of " + where);
    cudaError_t err = cudaMemset(p, 0, n);
    // The zeros are there before any stream (also a non-blocking one) uses the buffer.
    if (err == cudaSuccess) err = cudaDeviceSynchronize();
    if (err != cudaSuccess) {
      cudaFree(p);
      check(err, "cuda_device memory: cudaMemset of " + where);
    }
    return Buffer{p, bytes, traits(), this};
  }
  void release(Buffer& buffer) noexcept override {
    if (buffer.addr != nullptr) cudaFree(buffer.addr);
    buffer = Buffer{};
  }
  void read(const Buffer& from, std::size_t offset, void* to, std::size_t bytes) const override {
    check_range(from, offset, bytes);
    check(cudaMemcpy(to, static_cast<const std::byte*>(from.addr) + offset, bytes,
                     cudaMemcpyDeviceToHost),
          "cuda_device memory: cudaMemcpy device to host");
  }
  void write(const Buffer& to, std::size_t offset, const void* from,
             std::size_t bytes) const override {
    check_range(to, offset, bytes);
    check(
        cudaMemcpy(static_cast<std::byte*>(to.addr) + offset, from, bytes, cudaMemcpyHostToDevice),
        "cuda_device memory: cudaMemcpy host to device");
  }
  Dmabuf export_dmabuf(const Buffer& buffer) const override {
    std::string why;
    const GetHandleFn fn = get_handle_fn(why);
    if (fn == nullptr) {
      throw Error(ErrorKind::unavailable, "GPU " + std::to_string(device_) +
                                              " memory cannot be exported as a dma-buf: " + why);
    }
    int fd = -1;
    const CUresult rc = fn(&fd, reinterpret_cast<CUdeviceptr>(buffer.addr),
                           page_rounded(buffer.length), CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD, 0);
    if (rc != CUDA_SUCCESS || fd < 0) {
      throw Error(ErrorKind::unavailable,
                  "GPU " + std::to_string(device_) +
                      " memory cannot be exported as a dma-buf: cuMemGetHandleForAddressRange "
                      "returned CUresult " +
                      std::to_string(static_cast<int>(rc)) +
                      " (the driver or kernel lacks dma-buf support: open kernel modules and "
                      "Linux 5.12 or later are needed)");
    }
    return Dmabuf{fd, 0, "cuda (cuMemGetHandleForAddressRange)"};
  }
  std::unique_ptr<MemoryProvider> staging_provider() const override;
  nlohmann::json facts() const override {
    nlohmann::json j = gpu_facts(device_);
    j["provider"] = "cuda_device";
    j["allocator"] = "cudaMalloc";
    j["gpu_choice"] = how_;
    return j;
  }

 private:
  static void check_range(const Buffer& b, std::size_t offset, std::size_t bytes) {
    if (offset > b.length || bytes > b.length - offset) {
      throw Error(ErrorKind::runtime, "cuda_device memory: a copy of " + std::to_string(bytes) +
                                          " bytes at offset " + std::to_string(offset) +
                                          " is outside the buffer of " + std::to_string(b.length) +
                                          " bytes");
    }
  }
  int gpu_;
  int device_ = -1;
  std::string nic_;
  std::string how_;
};

class CudaHostProvider final : public MemoryProvider {
 public:
  CudaHostProvider(int gpu, int numa_node) : gpu_(gpu), numa_(numa_node) {}
  std::string name() const override { return "cuda_host"; }
  MemoryTraits traits() const override { return host_traits(); }

  void place_near(const std::string& rdma_device) override { nic_ = rdma_device; }
  Buffer allocate(std::size_t bytes) override {
    device_ = choose_device(gpu_, nic_, how_);
    const int node = numa_ >= 0 ? numa_ : pci_numa_node(bus_id_of(device_));
    const std::size_t n = page_rounded(bytes);
    void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      throw Error(ErrorKind::runtime, "cuda_host memory: mmap of " + std::to_string(n) +
                                          " bytes failed: " + std::strerror(errno));
    }
    if (node >= 0) {
      const std::string why = bind_to_node(p, n, node);
      if (!why.empty()) {
        ::munmap(p, n);
        throw Error(ErrorKind::unavailable, "cuda_host memory: cannot place " + std::to_string(n) +
                                                " bytes on NUMA node " + std::to_string(node) +
                                                ": " + why);
      }
    }
    std::memset(p, 0, n);  // the pages now exist on `node`
    const cudaError_t err = cudaHostRegister(p, n, cudaHostRegisterDefault);
    if (err != cudaSuccess) {
      ::munmap(p, n);
      check(err, "cuda_host memory: cudaHostRegister of " + std::to_string(n) + " bytes");
    }
    node_ = node;
    return Buffer{p, bytes, traits(), this};
  }
  void release(Buffer& buffer) noexcept override {
    if (buffer.addr != nullptr) {
      cudaHostUnregister(buffer.addr);
      ::munmap(buffer.addr, page_rounded(buffer.length));
    }
    buffer = Buffer{};
  }
  nlohmann::json facts() const override {
    nlohmann::json j = gpu_facts(device_);
    j["provider"] = "cuda_host";
    j["gpu_choice"] = how_;
    j["allocator"] = "mmap + mbind(MPOL_BIND) + cudaHostRegister";
    j["numa_node"] = node_ >= 0 ? nlohmann::json(node_) : nlohmann::json(nullptr);
    return j;
  }

 private:
  int gpu_;
  int numa_;
  int device_ = -1;
  int node_ = -1;
  std::string nic_;
  std::string how_;
};

std::unique_ptr<MemoryProvider> CudaDeviceProvider::staging_provider() const {
  return std::make_unique<CudaHostProvider>(device_ >= 0 ? device_ : gpu_, -1);
}

#else

class UnbuiltProvider final : public MemoryProvider {
 public:
  explicit UnbuiltProvider(std::string name, MemoryTraits traits)
      : name_(std::move(name)), traits_(traits) {}
  std::string name() const override { return name_; }
  MemoryTraits traits() const override { return traits_; }
  Buffer allocate(std::size_t /*bytes*/) override {
    throw Error(ErrorKind::unavailable, *cuda_unavailable_reason());
  }
  void release(Buffer& buffer) noexcept override { buffer = Buffer{}; }

 private:
  std::string name_;
  MemoryTraits traits_;
};

#endif

}  // namespace

bool cuda_built() noexcept {
#ifdef FABRICBENCH_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

std::optional<int> local_rank_from_env() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID",
                           "FABRICBENCH_LOCAL_RANK"}) {
    if (auto r = parse_rank(std::getenv(name))) return r;
  }
  return std::nullopt;
}

void set_local_rank(int local_rank) noexcept {
  g_exchanged_local_rank.store(local_rank);
}

int local_rank() {
  if (auto r = local_rank_from_env()) return *r;
  const int exchanged = g_exchanged_local_rank.load();
  return exchanged >= 0 ? exchanged : 0;
}

int gpu_setting(const core::Settings& own) {
  return setting_number(own, "gpu");
}

#ifdef FABRICBENCH_HAVE_CUDA

std::optional<std::string> cuda_unavailable_reason() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return "no usable GPU: cudaGetDeviceCount: " + cuda_text(err);
  if (count == 0) return std::string("no usable GPU: cudaGetDeviceCount found 0 devices");
  return std::nullopt;
}

int select_device(int gpu) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    throw Error(ErrorKind::unavailable, "no usable GPU: cudaGetDeviceCount: " + cuda_text(err));
  }
  if (count == 0) throw Error(ErrorKind::unavailable, "no usable GPU: cudaGetDeviceCount found 0");
  if (gpu >= count) {
    throw Error(ErrorKind::config, "gpu: " + std::to_string(gpu) + " is not a GPU here (" +
                                       std::to_string(count) + " visible: 0.." +
                                       std::to_string(count - 1) + ")");
  }
  const int device = gpu >= 0 ? gpu : local_rank() % count;
  err = cudaSetDevice(device);
  if (err != cudaSuccess) {
    throw Error(ErrorKind::unavailable,
                "cudaSetDevice(" + std::to_string(device) + ") failed: " + cuda_text(err));
  }
  return device;
}

MemoryDescriptor cuda_device_memory() {
  return {"cuda_device",
          "GPU memory (cudaMalloc); dma-buf export for GPUDirect RDMA, staged through "
          "page-locked host memory for sockets",
          device_traits(),
          {memory_gpu_key()},
          [](const core::Settings& own) {
            return std::make_unique<CudaDeviceProvider>(gpu_setting(own));
          },
          cuda_unavailable_reason};
}

MemoryDescriptor cuda_host_memory() {
  return {"cuda_host",
          "page-locked host memory (cudaHostRegister) on a chosen NUMA node",
          host_traits(),
          {memory_gpu_key(), memory_numa_key()},
          [](const core::Settings& own) {
            return std::make_unique<CudaHostProvider>(gpu_setting(own),
                                                      setting_number(own, "numa_node"));
          },
          cuda_unavailable_reason};
}

#else

std::optional<std::string> cuda_unavailable_reason() {
  return std::string("built without CUDA: the CUDA toolkit was not found at configure time");
}

int select_device(int /*gpu*/) {
  throw Error(ErrorKind::unavailable, *cuda_unavailable_reason());
}

MemoryDescriptor cuda_device_memory() {
  return {"cuda_device",
          "GPU memory (cudaMalloc); not built: no CUDA toolkit at configure time",
          device_traits(),
          {memory_gpu_key()},
          [](const core::Settings&) {
            return std::make_unique<UnbuiltProvider>("cuda_device", device_traits());
          },
          cuda_unavailable_reason};
}

MemoryDescriptor cuda_host_memory() {
  return {"cuda_host",
          "page-locked host memory (cudaHostRegister); not built: no CUDA toolkit",
          host_traits(),
          {memory_gpu_key(), memory_numa_key()},
          [](const core::Settings&) {
            return std::make_unique<UnbuiltProvider>("cuda_host", host_traits());
          },
          cuda_unavailable_reason};
}

#endif

}  // namespace fabricbench::transport::cuda
