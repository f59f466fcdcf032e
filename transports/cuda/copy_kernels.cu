// The copy suite's two kernels, compiled to PTX by nvcc at build time (transports/cuda/
// CMakeLists.txt) and loaded by cuda_copy.cpp with cudaLibraryLoadData: no target of the build is
// compiled as CUDA. extern "C": cuda_copy.cpp finds them by these names.

// Holds its stream until the host sets *latch (host-mapped, pinned), so that every copy queued
// behind it starts only once all are queued (the enqueue cost is not timed). Gives up after
// timeout_ns of the GPU's global timer and then sets *timed_out, so a host that never releases
// it cannot hang the GPU and the measurement can be refused.
extern "C" __global__ void fb_copy_spin(volatile int* latch, volatile int* timed_out,
                                        unsigned long long timeout_ns) {
  unsigned long long start = 0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  while (*latch == 0) {
    unsigned long long now = 0;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    if (now - start > timeout_ns) {
      *timed_out = 1;
      return;
    }
  }
}

// One copy of n 16-byte elements by the SMs: each thread moves every stride-th element, loads
// and stores bypassing L1 (cache-global), so the figure is the path between the two memories.
extern "C" __global__ void fb_copy_kernel(uint4* __restrict__ dst, const uint4* __restrict__ src,
                                          unsigned long long n) {
  const unsigned long long stride = static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  for (unsigned long long i =
           static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < n; i += stride) {
    __stcg(dst + i, __ldcg(src + i));
  }
}
