// JumpReLU CUDA kernels: y = x if x > kappa else 0 (see jumprelu_cpu.h for the exact semantics, which these
// kernels reproduce bit for bit: 16-bit values are widened to float exactly and compared in float).
//
// Grid-stride loops over 16-byte packs (4 floats or 8 halves/bfloat16s) when both pointers are 16-byte
// aligned, with a scalar tail; a scalar grid-stride loop otherwise. Per-channel kappa: the channel of an
// element is (i / inner) % channels; packs are used only when a pack never straddles two channels
// (inner % pack == 0). 32-bit index arithmetic whenever the tensor has fewer than 2^31 elements.
#include "jumprelu_cuda.h"

#ifdef JUMPRELU_CUDA_EMULATION
// plain C++ build for tests on machines without a GPU (test/cuda_emulation.h)
#include "cuda_emulation.h"
#define JR_LAUNCH(kernel, grid, stream, ...) \
  jr_emulated_launch((grid), kThreads, [&] { kernel(__VA_ARGS__); })
#else
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define JR_LAUNCH(kernel, grid, stream, ...) kernel<<<(grid), kThreads, 0, (stream)>>>(__VA_ARGS__)
#endif

#include <atomic>
#include <cstdint>

namespace jumprelu_cuda {
// A named namespace, not an anonymous one: nvcc mangles anonymous namespaces with a hash of the source
// file's path, which would make the library depend on where it was built (build-prebuilt.sh checks that
// builds are reproducible). Hidden visibility and the linker version script keep these names local anyway.
namespace detail {

// ---- element traits: storage type and exact widening to float ----

struct F32 {
  using Storage = float;
  static constexpr int kPack = 4;
  __device__ static float widen(float v) { return v; }
  __device__ static float zero() { return 0.0f; }
};

struct F16 {
  using Storage = unsigned short;
  static constexpr int kPack = 8;
  __device__ static float widen(unsigned short v) { return __half2float(__ushort_as_half(v)); }
  __device__ static unsigned short zero() { return 0; }
};

struct BF16 {
  using Storage = unsigned short;
  static constexpr int kPack = 8;
  __device__ static float widen(unsigned short v) { return __uint_as_float(static_cast<unsigned int>(v) << 16); }
  __device__ static unsigned short zero() { return 0; }
};

template <class S, int N>
struct alignas(16) Pack {
  S v[N];
};

template <class T>
__device__ __forceinline__ typename T::Storage apply(typename T::Storage v, float kappa) {
  return T::widen(v) > kappa ? v : T::zero();
}

// ---- one kappa for the whole tensor (attribute, or a one-element kappa tensor read on the device) ----

template <class T, class Idx>
__global__ void scalar_packed(const typename T::Storage* __restrict__ x, typename T::Storage* __restrict__ y,
                              Idx n, float kappa, const typename T::Storage* __restrict__ kappa_dev) {
  using S = typename T::Storage;
  using P = Pack<S, T::kPack>;
  if (kappa_dev != nullptr) kappa = T::widen(kappa_dev[0]);
  const Idx packs = n / T::kPack;
  const Idx stride = static_cast<Idx>(gridDim.x) * blockDim.x;
  const Idx tid = static_cast<Idx>(blockIdx.x) * blockDim.x + threadIdx.x;
  const P* xp = reinterpret_cast<const P*>(x);
  P* yp = reinterpret_cast<P*>(y);
  for (Idx p = tid; p < packs; p += stride) {
    P v = xp[p];
#pragma unroll
    for (int k = 0; k < T::kPack; ++k) v.v[k] = apply<T>(v.v[k], kappa);
    yp[p] = v;
  }
  for (Idx i = packs * T::kPack + tid; i < n; i += stride) y[i] = apply<T>(x[i], kappa);
}

template <class T, class Idx>
__global__ void scalar_plain(const typename T::Storage* __restrict__ x, typename T::Storage* __restrict__ y,
                             Idx n, float kappa, const typename T::Storage* __restrict__ kappa_dev) {
  if (kappa_dev != nullptr) kappa = T::widen(kappa_dev[0]);
  const Idx stride = static_cast<Idx>(gridDim.x) * blockDim.x;
  for (Idx i = static_cast<Idx>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    y[i] = apply<T>(x[i], kappa);
  }
}

// ---- kappa per channel ----

template <class T, class Idx>
__global__ void channel_packed(const typename T::Storage* __restrict__ x, typename T::Storage* __restrict__ y,
                               Idx n, const typename T::Storage* __restrict__ kappa_dev, Idx channels,
                               Idx inner_packs) {
  using S = typename T::Storage;
  using P = Pack<S, T::kPack>;
  const Idx packs = n / T::kPack;  // n is a multiple of the pack here (inner % pack == 0)
  const Idx stride = static_cast<Idx>(gridDim.x) * blockDim.x;
  const P* xp = reinterpret_cast<const P*>(x);
  P* yp = reinterpret_cast<P*>(y);
  for (Idx p = static_cast<Idx>(blockIdx.x) * blockDim.x + threadIdx.x; p < packs; p += stride) {
    const float kappa = T::widen(kappa_dev[(p / inner_packs) % channels]);
    P v = xp[p];
#pragma unroll
    for (int k = 0; k < T::kPack; ++k) v.v[k] = apply<T>(v.v[k], kappa);
    yp[p] = v;
  }
}

template <class T, class Idx>
__global__ void channel_plain(const typename T::Storage* __restrict__ x, typename T::Storage* __restrict__ y,
                              Idx n, const typename T::Storage* __restrict__ kappa_dev, Idx channels, Idx inner) {
  const Idx stride = static_cast<Idx>(gridDim.x) * blockDim.x;
  for (Idx i = static_cast<Idx>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    y[i] = apply<T>(x[i], T::widen(kappa_dev[(i / inner) % channels]));
  }
}

// ---- launch configuration ----

constexpr int kThreads = 256;

int sm_count() {
  // cached per device; ORT sets the current device on the calling thread before Compute
  static std::atomic<int> cache[64];
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return 80;
  if (device < 0 || device >= 64) device = 0;
  int v = cache[device].load(std::memory_order_relaxed);
  if (v > 0) return v;
  if (cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || v <= 0) v = 80;
  cache[device].store(v, std::memory_order_relaxed);
  return v;
}

unsigned int grid_for(size_t work_items) {
  const size_t needed = (work_items + kThreads - 1) / kThreads;
  // enough resident blocks to cover every SM several times over; the loops stride over the rest
  const size_t cap = static_cast<size_t>(sm_count()) * 16;
  size_t g = needed < cap ? needed : cap;
  if (g == 0) g = 1;
  return static_cast<unsigned int>(g);
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

template <class T, class Idx>
void launch_typed(const Args& a, cudaStream_t stream) {
  using S = typename T::Storage;
  const S* x = static_cast<const S*>(a.x);
  S* y = static_cast<S*>(a.y);
  const S* kd = static_cast<const S*>(a.kappa_dev);
  const Idx n = static_cast<Idx>(a.n);
  const bool packed = aligned16(a.x) && aligned16(a.y);
  const bool per_channel = kd != nullptr && a.channels > 1;
  if (!per_channel) {
    if (packed) {
      const size_t items = a.n / T::kPack + (a.n % T::kPack);
      JR_LAUNCH((scalar_packed<T, Idx>), grid_for(items), stream, x, y, n, a.kappa, kd);
    } else {
      JR_LAUNCH((scalar_plain<T, Idx>), grid_for(a.n), stream, x, y, n, a.kappa, kd);
    }
    return;
  }
  if (packed && a.inner % T::kPack == 0) {
    JR_LAUNCH((channel_packed<T, Idx>), grid_for(a.n / T::kPack), stream, x, y, n, kd,
              static_cast<Idx>(a.channels), static_cast<Idx>(a.inner / T::kPack));
  } else {
    JR_LAUNCH((channel_plain<T, Idx>), grid_for(a.n), stream, x, y, n, kd, static_cast<Idx>(a.channels),
              static_cast<Idx>(a.inner));
  }
}

template <class T>
void launch_index(const Args& a, cudaStream_t stream) {
  // the grid-stride index may overshoot n by up to one grid; keep it well inside the type
  if (a.n < (size_t{1} << 30)) {
    launch_typed<T, uint32_t>(a, stream);
  } else {
    launch_typed<T, uint64_t>(a, stream);
  }
}

}  // namespace detail
using namespace detail;

int launch(const Args& a, void* stream_handle, const char** message) {
  if (message) *message = "";
  if (a.n == 0) return 0;
  cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  switch (a.dtype) {
    case DType::kFloat32:
      launch_index<F32>(a, stream);
      break;
    case DType::kFloat16:
      launch_index<F16>(a, stream);
      break;
    case DType::kBFloat16:
      launch_index<BF16>(a, stream);
      break;
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    if (message) *message = cudaGetErrorString(err);
    return static_cast<int>(err);
  }
  return 0;
}

}  // namespace jumprelu_cuda
