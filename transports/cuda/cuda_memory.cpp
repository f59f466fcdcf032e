// The `cuda` memory provider (cuda_memory.hpp). The CUDA calls are compiled only where the
// toolkit was found (FABRICBENCH_HAVE_CUDA); elsewhere the provider says it was not built.
#include "transports/cuda/cuda_memory.hpp"

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "core/error.hpp"

#ifdef FABRICBENCH_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace fabricbench::transport::cuda {
namespace {

using core::Error;
using core::ErrorKind;

std::atomic<int> g_exchanged_local_rank{-1};

#ifdef FABRICBENCH_HAVE_CUDA

std::string cuda_text(cudaError_t err) {
  return std::string(cudaGetErrorString(err)) + " (" + cudaGetErrorName(err) + ")";
}

class CudaProvider final : public MemoryProvider {
 public:
  std::string name() const override { return "cuda"; }
  MemoryKind kind() const override { return MemoryKind::cuda; }
  Buffer allocate(std::size_t bytes) override {
    const int device = select_device();
    void* p = nullptr;
    const std::size_t n = bytes == 0 ? 1 : bytes;
    cudaError_t err = cudaMalloc(&p, n);
    if (err != cudaSuccess) {
      throw Error(ErrorKind::runtime, "cuda memory: cudaMalloc of " + std::to_string(bytes) +
                                          " bytes on GPU " + std::to_string(device) +
                                          " failed: " + cuda_text(err));
    }
    err = cudaMemset(p, 0, n);
    // The zeros are there before any stream (also a non-blocking one) uses the buffer.
    if (err == cudaSuccess) err = cudaDeviceSynchronize();
    if (err != cudaSuccess) {
      cudaFree(p);
      throw Error(ErrorKind::runtime, "cuda memory: cudaMemset of " + std::to_string(bytes) +
                                          " bytes on GPU " + std::to_string(device) +
                                          " failed: " + cuda_text(err));
    }
    return Buffer{p, bytes, MemoryKind::cuda};
  }
  void release(Buffer& buffer) noexcept override {
    if (buffer.addr != nullptr) cudaFree(buffer.addr);
    buffer = Buffer{};
  }
};

#else

class UnbuiltProvider final : public MemoryProvider {
 public:
  std::string name() const override { return "cuda"; }
  MemoryKind kind() const override { return MemoryKind::cuda; }
  Buffer allocate(std::size_t /*bytes*/) override {
    throw Error(ErrorKind::unavailable, *cuda_unavailable_reason());
  }
  void release(Buffer& buffer) noexcept override { buffer = Buffer{}; }
};

#endif

std::optional<int> parse_rank(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  const std::string_view s(text);
  int value = -1;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value < 0) return std::nullopt;
  return value;
}

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

#ifdef FABRICBENCH_HAVE_CUDA

std::optional<std::string> cuda_unavailable_reason() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return "no usable GPU: cudaGetDeviceCount: " + cuda_text(err);
  if (count == 0) return std::string("no usable GPU: cudaGetDeviceCount found 0 devices");
  return std::nullopt;
}

int select_device() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    throw Error(ErrorKind::unavailable, "no usable GPU: cudaGetDeviceCount: " + cuda_text(err));
  }
  if (count == 0) throw Error(ErrorKind::unavailable, "no usable GPU: cudaGetDeviceCount found 0");
  const int device = local_rank() % count;
  err = cudaSetDevice(device);
  if (err != cudaSuccess) {
    throw Error(ErrorKind::unavailable,
                "cudaSetDevice(" + std::to_string(device) + ") failed: " + cuda_text(err));
  }
  return device;
}

MemoryDescriptor cuda_memory() {
  return {"cuda",
          "GPU memory (cudaMalloc) on the GPU numbered local rank modulo the visible devices",
          [] { return std::make_unique<CudaProvider>(); }};
}

#else

std::optional<std::string> cuda_unavailable_reason() {
  return std::string("built without CUDA: the CUDA toolkit was not found at configure time");
}

int select_device() {
  throw Error(ErrorKind::unavailable, *cuda_unavailable_reason());
}

MemoryDescriptor cuda_memory() {
  return {"cuda", "GPU memory (cudaMalloc); not built: no CUDA toolkit at configure time",
          [] { return std::make_unique<UnbuiltProvider>(); }};
}

#endif

}  // namespace fabricbench::transport::cuda
