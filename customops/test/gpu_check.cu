// GPU check for the JumpRelu CUDA kernels (run by customops/gpu-check.sh on a machine with an NVIDIA GPU).
//
//  1. Correctness: the CUDA kernels against the CPU kernels (src/jumprelu_cpu.h), bit for bit, for float32,
//     float16 and bfloat16, on random data, all 65536 16-bit patterns, special values (x == kappa, NaN, +-inf,
//     -0, subnormals), special kappas (0, NaN, +-inf), empty and odd sizes, unaligned pointers (scalar path),
//     per-channel kappa with inner sizes that allow and that forbid 16-byte packs, and a one-element kappa
//     tensor.
//  2. Bandwidth: the kernel against cudaMemcpyAsync device-to-device of the same number of bytes (the kernel
//     reads n and writes n elements; so does the copy). Reports both in GB/s (bytes read + written per second)
//     and the ratio; the target is >= 90 %.
//
// Options: --target R (default 0.90), --mib M (bytes per buffer in the bandwidth test, default 256),
// --verbose (print passing cases too).
//
// Exit status: 0 all correct and every ratio >= target; 1 a mismatch or CUDA error; 3 correct but some
// ratio below target.
#ifdef JUMPRELU_CUDA_EMULATION
#include "cuda_emulation.h"  // CPU stand-in: correctness part only (see test_customops.py)
#else
#include <cuda_runtime.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "jumprelu_cpu.h"
#include "jumprelu_cuda.h"
#include "gpu_check_host.h"

namespace {

int g_failures = 0;
int g_cases = 0;
bool g_verbose = false;

#define CUDA_OK(expr)                                                                         \
  do {                                                                                        \
    cudaError_t e_ = (expr);                                                                  \
    if (e_ != cudaSuccess) {                                                                  \
      std::fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__,     \
                   __LINE__, cudaGetErrorString(e_));                                         \
      std::exit(1);                                                                           \
    }                                                                                         \
  } while (0)

using jumprelu_cuda::DType;

size_t elem_size(DType t) { return t == DType::kFloat32 ? 4 : 2; }
const char* dtype_name(DType t) {
  return t == DType::kFloat32 ? "float32" : (t == DType::kFloat16 ? "float16" : "bfloat16");
}

float to_float(DType t, const void* p, size_t i) {
  if (t == DType::kFloat32) return static_cast<const float*>(p)[i];
  const uint16_t b = static_cast<const uint16_t*>(p)[i];
  return t == DType::kFloat16 ? jumprelu::half_bits_to_float(b) : jumprelu::bf16_bits_to_float(b);
}

uint16_t float_to_bits16(DType t, float f) {
  return t == DType::kBFloat16 ? gpu_check::float_to_bf16_bits(f) : gpu_check::float_to_half_bits(f);
}

// CPU reference over a host buffer
void cpu_reference(DType t, const void* x, void* y, size_t n, const std::vector<float>& kappa, size_t channels,
                   size_t inner) {
  if (t == DType::kFloat32) {
    jumprelu::reference_f32(static_cast<const float*>(x), static_cast<float*>(y), n, kappa.data(), channels, inner);
  } else {
    const jumprelu::Format16 fmt = t == DType::kFloat16 ? jumprelu::half_format() : jumprelu::bf16_format();
    jumprelu::reference_16(fmt, static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y), n, kappa.data(),
                           channels, inner);
  }
}

struct Case {
  std::string name;
  DType dtype;
  std::vector<uint8_t> x;  // host bytes
  size_t n;
  float kappa_attr;
  bool kappa_tensor;               // pass kappa values as a device tensor
  std::vector<uint8_t> kappa_bits;  // device tensor contents (dtype), channels values
  size_t channels;
  size_t inner;
  size_t misalign_elems;  // offset x and y by this many elements from a 256-byte aligned base
};

void run_case(const Case& c, cudaStream_t stream) {
  const size_t es = elem_size(c.dtype);
  const size_t bytes = c.n * es;
  const size_t pad = c.misalign_elems * es;
  uint8_t* dx = nullptr;
  uint8_t* dy = nullptr;
  void* dk = nullptr;
  CUDA_OK(cudaMalloc(&dx, bytes + pad + 16));
  CUDA_OK(cudaMalloc(&dy, bytes + pad + 16));
  if (bytes) CUDA_OK(cudaMemcpy(dx + pad, c.x.data(), bytes, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemset(dy, 0xA5, bytes + pad + 16));  // garbage the kernel must overwrite
  std::vector<float> kappa_f(c.channels, c.kappa_attr);
  if (c.kappa_tensor) {
    CUDA_OK(cudaMalloc(&dk, c.kappa_bits.size()));
    CUDA_OK(cudaMemcpy(dk, c.kappa_bits.data(), c.kappa_bits.size(), cudaMemcpyHostToDevice));
    for (size_t i = 0; i < c.channels; ++i) kappa_f[i] = to_float(c.dtype, c.kappa_bits.data(), i);
  }
  jumprelu_cuda::Args a;
  a.dtype = c.dtype;
  a.x = dx + pad;
  a.y = dy + pad;
  a.n = c.n;
  a.kappa = c.kappa_attr;
  a.kappa_dev = dk;
  a.channels = c.channels;
  a.inner = c.inner;
  const char* msg = nullptr;
  if (jumprelu_cuda::launch(a, stream, &msg) != 0) {
    std::printf("FAIL %-52s launch: %s\n", c.name.c_str(), msg);
    ++g_failures;
  }
  CUDA_OK(cudaStreamSynchronize(stream));
  std::vector<uint8_t> got(bytes + pad + 16), want(bytes);
  CUDA_OK(cudaMemcpy(got.data(), dy, got.size(), cudaMemcpyDeviceToHost));
  cpu_reference(c.dtype, c.x.data(), want.data(), c.n, kappa_f, c.channels, c.inner);
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < bytes; i += es) {
    if (std::memcmp(got.data() + pad + i, want.data() + i, es) != 0) {
      if (bad++ == 0) first = i / es;
    }
  }
  // nothing written outside [pad, pad + bytes)
  for (size_t i = 0; i < pad; ++i) bad += got[i] != 0xA5;
  for (size_t i = pad + bytes; i < got.size(); ++i) bad += got[i] != 0xA5;
  if (bad) {
    std::printf("FAIL %-52s %zu mismatches, first at %zu (x=%g)\n", c.name.c_str(), bad, first,
                static_cast<double>(to_float(c.dtype, c.x.data(), first)));
    ++g_failures;
  } else if (g_verbose) {
    std::printf("ok   %-52s n=%zu\n", c.name.c_str(), c.n);
  }
  ++g_cases;
  CUDA_OK(cudaFree(dx));
  CUDA_OK(cudaFree(dy));
  if (dk) CUDA_OK(cudaFree(dk));
}

std::vector<uint8_t> random_data(DType t, size_t n, std::mt19937_64& rng, bool bit_patterns) {
  std::vector<uint8_t> out(n * elem_size(t));
  std::normal_distribution<float> normal(0.0f, 1.5f);
  const float specials[] = {0.0f, -0.0f, 0.5f, -0.5f, NAN, -NAN, INFINITY, -INFINITY, 1e-45f, -1e-45f,
                            1e-40f, 3.0f, 0.25f, 1e-8f};
  for (size_t i = 0; i < n; ++i) {
    if (t == DType::kFloat32) {
      float v;
      if (bit_patterns) {
        const uint32_t u = static_cast<uint32_t>(rng());
        std::memcpy(&v, &u, 4);
      } else {
        v = (rng() % 16 == 0) ? specials[rng() % (sizeof specials / sizeof *specials)] : normal(rng);
      }
      std::memcpy(out.data() + 4 * i, &v, 4);
    } else {
      uint16_t b;
      if (bit_patterns) {
        b = static_cast<uint16_t>(rng());
      } else {
        const float v = (rng() % 16 == 0) ? specials[rng() % (sizeof specials / sizeof *specials)] : normal(rng);
        b = float_to_bits16(t, v);
      }
      std::memcpy(out.data() + 2 * i, &b, 2);
    }
  }
  return out;
}

void correctness(cudaStream_t stream) {
  std::mt19937_64 rng(12345);
  const DType types[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16};
  const float kappas[] = {0.0f, 0.5f, -0.5f, 0.1f, 1e-8f, NAN, INFINITY, -INFINITY};
  const size_t sizes[] = {0, 1, 7, 8, 9, 1023, 4097, (size_t{1} << 20) + 3};
  for (DType t : types) {
    // random values and ties with kappa, scalar kappa
    for (size_t n : sizes) {
      for (float k : kappas) {
        for (size_t mis : {size_t{0}, size_t{1}}) {
          Case c{};
          c.dtype = t;
          c.n = n;
          c.x = random_data(t, n, rng, false);
          // exact ties: first elements equal to kappa (as representable in the type)
          for (size_t i = 0; i < std::min<size_t>(n, 3); ++i) {
            if (t == DType::kFloat32) {
              std::memcpy(c.x.data() + 4 * i, &k, 4);
            } else {
              const uint16_t b = float_to_bits16(t, k);
              std::memcpy(c.x.data() + 2 * i, &b, 2);
            }
          }
          c.kappa_attr = k;
          c.channels = 1;
          c.inner = n;
          c.misalign_elems = mis;
          c.name = std::string(dtype_name(t)) + " n=" + std::to_string(n) + " kappa=" + std::to_string(k) +
                   (mis ? " unaligned" : "");
          if (n <= 4097 || k == 0.5f) run_case(c, stream);  // the 1M-element size with one kappa only
        }
      }
    }
    // random bit patterns (16-bit: every pattern, repeated), scalar kappa and a one-element kappa tensor
    {
      const size_t n = t == DType::kFloat32 ? (size_t{1} << 22) : 65536 * 4;
      Case c{};
      c.dtype = t;
      c.n = n;
      if (t == DType::kFloat32) {
        c.x = random_data(t, n, rng, true);
      } else {
        c.x.resize(n * 2);
        for (size_t i = 0; i < n; ++i) {
          const uint16_t b = static_cast<uint16_t>(i);
          std::memcpy(c.x.data() + 2 * i, &b, 2);
        }
      }
      c.channels = 1;
      c.inner = n;
      for (float k : kappas) {
        c.kappa_attr = k;
        c.kappa_tensor = false;
        c.name = std::string(dtype_name(t)) + " all-bit-patterns kappa=" + std::to_string(k);
        run_case(c, stream);
      }
      c.kappa_attr = 100.0f;  // must be overridden by the tensor
      c.kappa_tensor = true;
      c.kappa_bits.resize(elem_size(t));
      if (t == DType::kFloat32) {
        const float k = 0.25f;
        std::memcpy(c.kappa_bits.data(), &k, 4);
      } else {
        const uint16_t b = float_to_bits16(t, 0.25f);
        std::memcpy(c.kappa_bits.data(), &b, 2);
      }
      c.name = std::string(dtype_name(t)) + " one-element kappa tensor";
      run_case(c, stream);
    }
    // per-channel kappa: [outer, C, inner]
    struct Shape {
      size_t outer, channels, inner;
    };
    const Shape shapes[] = {{2, 3, 35}, {4, 64, 56 * 56}, {8, 3, 1}, {3, 5, 1}, {2, 7, 3}, {1, 16, 8}, {5, 17, 1000}};
    for (const Shape& s : shapes) {
      for (size_t mis : {size_t{0}, size_t{1}}) {
        Case c{};
        c.dtype = t;
        c.n = s.outer * s.channels * s.inner;
        c.x = random_data(t, c.n, rng, false);
        c.channels = s.channels;
        c.inner = s.inner;
        c.kappa_tensor = true;
        c.kappa_attr = 100.0f;
        c.misalign_elems = mis;
        c.kappa_bits.resize(s.channels * elem_size(t));
        const float kspecial[] = {0.0f, NAN, INFINITY, -INFINITY, -0.0f};
        for (size_t ch = 0; ch < s.channels; ++ch) {
          const float k = ch < 5 ? kspecial[ch] : -1.0f + 3.0f * static_cast<float>(ch) / s.channels;
          if (t == DType::kFloat32) {
            std::memcpy(c.kappa_bits.data() + 4 * ch, &k, 4);
          } else {
            const uint16_t b = float_to_bits16(t, k);
            std::memcpy(c.kappa_bits.data() + 2 * ch, &b, 2);
          }
          // a tie at the start of every run of this channel
          for (size_t o = 0; o < s.outer; ++o) {
            const size_t i = (o * s.channels + ch) * s.inner;
            std::memcpy(c.x.data() + i * elem_size(t), c.kappa_bits.data() + ch * elem_size(t), elem_size(t));
          }
        }
        c.name = std::string(dtype_name(t)) + " per-channel [" + std::to_string(s.outer) + "," +
                 std::to_string(s.channels) + "," + std::to_string(s.inner) + "]" + (mis ? " unaligned" : "");
        run_case(c, stream);
      }
    }
  }
}

// ---- bandwidth ----
#ifndef JUMPRELU_CUDA_EMULATION

double time_ms(cudaStream_t stream, int iters, const std::function<void()>& body) {
  cudaEvent_t a, b;
  CUDA_OK(cudaEventCreate(&a));
  CUDA_OK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) body();  // warm-up
  CUDA_OK(cudaStreamSynchronize(stream));
  CUDA_OK(cudaEventRecord(a, stream));
  for (int i = 0; i < iters; ++i) body();
  CUDA_OK(cudaEventRecord(b, stream));
  CUDA_OK(cudaEventSynchronize(b));
  float ms = 0;
  CUDA_OK(cudaEventElapsedTime(&ms, a, b));
  CUDA_OK(cudaEventDestroy(a));
  CUDA_OK(cudaEventDestroy(b));
  return ms / iters;
}

int bandwidth(cudaStream_t stream, double target, size_t bytes_per_buffer) {
  struct B {
    const char* name;
    DType dtype;
    size_t channels, inner;  // channels > 1: per-channel kappa tensor
  };
  const B benches[] = {
      {"float32 scalar kappa", DType::kFloat32, 1, 0},
      {"float16 scalar kappa", DType::kFloat16, 1, 0},
      {"bfloat16 scalar kappa", DType::kBFloat16, 1, 0},
      {"float32 per-channel (C=256, HxW=56x56)", DType::kFloat32, 256, 56 * 56},
      {"float16 per-channel (C=256, HxW=56x56)", DType::kFloat16, 256, 56 * 56},
      {"float32 per-channel (C=512, HxW=7x7, packs off)", DType::kFloat32, 512, 7 * 7},
  };
  int below = 0;
  std::printf("\n%-50s %12s %10s %10s %10s %7s\n", "bandwidth (read+write bytes / time)", "bytes/buf", "kernel",
              "D2D copy", "ratio", "");
  for (const B& b : benches) {
    const size_t es = elem_size(b.dtype);
    size_t n = bytes_per_buffer / es;
    if (b.channels > 1) n = n / (b.channels * b.inner) * (b.channels * b.inner);
    const size_t bytes = n * es;
    void *dx, *dy, *dk;
    CUDA_OK(cudaMalloc(&dx, bytes));
    CUDA_OK(cudaMalloc(&dy, bytes));
    CUDA_OK(cudaMalloc(&dk, b.channels * es));
    CUDA_OK(cudaMemset(dx, 0x3C, bytes));  // positive values, half of them above kappa is irrelevant here
    CUDA_OK(cudaMemset(dk, 0, b.channels * es));
    jumprelu_cuda::Args a;
    a.dtype = b.dtype;
    a.x = dx;
    a.y = dy;
    a.n = n;
    a.kappa = 0.5f;
    a.kappa_dev = b.channels > 1 ? dk : nullptr;
    a.channels = b.channels;
    a.inner = b.channels > 1 ? b.inner : n;
    const int iters = 20;
    const double kernel_ms = time_ms(stream, iters, [&] {
      const char* msg;
      if (jumprelu_cuda::launch(a, stream, &msg) != 0) {
        std::fprintf(stderr, "launch failed: %s\n", msg);
        std::exit(1);
      }
    });
    const double copy_ms =
        time_ms(stream, iters, [&] { CUDA_OK(cudaMemcpyAsync(dy, dx, bytes, cudaMemcpyDeviceToDevice, stream)); });
    const double gbs_kernel = 2.0 * bytes / (kernel_ms * 1e6);
    const double gbs_copy = 2.0 * bytes / (copy_ms * 1e6);
    const double ratio = copy_ms / kernel_ms;
    const bool ok = ratio >= target;
    below += !ok;
    std::printf("%-50s %12zu %7.1f GB/s %7.1f GB/s %9.1f%% %7s\n", b.name, bytes, gbs_kernel, gbs_copy,
                100.0 * ratio, ok ? "ok" : "BELOW");
    CUDA_OK(cudaFree(dx));
    CUDA_OK(cudaFree(dy));
    CUDA_OK(cudaFree(dk));
  }
  return below;
}
#endif  // JUMPRELU_CUDA_EMULATION

}  // namespace

int main(int argc, char** argv) {
  double target = 0.90;
  size_t mib = 256;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--target") && i + 1 < argc) target = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--mib") && i + 1 < argc) mib = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--verbose")) g_verbose = true;
    else {
      std::fprintf(stderr, "usage: %s [--target 0.90] [--mib 256] [--verbose]\n", argv[0]);
      return 2;
    }
  }
  int device = 0, driver = 0, runtime = 0;
  CUDA_OK(cudaGetDevice(&device));
  cudaDeviceProp prop;
  CUDA_OK(cudaGetDeviceProperties(&prop, device));
  CUDA_OK(cudaDriverGetVersion(&driver));
  CUDA_OK(cudaRuntimeGetVersion(&runtime));
  std::printf("GPU: %s (sm_%d%d, %d SMs, %.1f GiB), driver %d, runtime %d\n", prop.name, prop.major, prop.minor,
              prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0, driver, runtime);
  cudaStream_t stream;
  CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));  // like ORT's compute stream

  correctness(stream);
  std::printf("\ncorrectness: %s (%d cases, %d failing)\n",
              g_failures ? "FAILED" : "every case matches the CPU kernels bit for bit", g_cases, g_failures);
#ifdef JUMPRELU_CUDA_EMULATION
  (void)target;
  (void)mib;
  const int below = 0;
  std::printf("bandwidth: not measured (CPU emulation build)\n");
#else
  const int below = bandwidth(stream, target, mib << 20);
  std::printf("\nbandwidth: %s (target %.0f%% of a device-to-device copy)\n",
              below ? "some cases BELOW target" : "all cases at or above target", 100.0 * target);
#endif
  CUDA_OK(cudaStreamDestroy(stream));
  if (g_failures) return 1;
  return below ? 3 : 0;
}
