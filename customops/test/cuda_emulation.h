// A CPU stand-in for the few CUDA features that src/jumprelu_cuda.cu and test/gpu_check.cu use, so that
// both compile as plain C++ (-DJUMPRELU_CUDA_EMULATION -x c++) and the kernels' index arithmetic (packs,
// tails, alignment fallbacks, per-channel runs, grid-stride loops) runs on machines without a GPU.
//
// A launch runs every block and thread of the grid one after another; that is a valid schedule for these
// kernels, which have no shared memory, no synchronisation and no inter-thread dependencies. Memory is host
// memory. What this cannot show: hardware float16 conversion, real memory ordering on streams, speed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "jumprelu_cpu.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

struct JrEmuDim {
  unsigned int x = 1, y = 1, z = 1;
};
inline thread_local JrEmuDim blockIdx, threadIdx, blockDim, gridDim;

struct __half {
  unsigned short bits;
};
inline __half __ushort_as_half(unsigned short v) { return __half{v}; }
inline float __half2float(__half h) { return jumprelu::half_bits_to_float(h.bits); }
inline float __uint_as_float(unsigned int u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Runs body() once per (block, thread) with the built-in indices set.
template <class Body>
void jr_emulated_launch(unsigned int grid, unsigned int block, Body&& body) {
  gridDim.x = grid;
  blockDim.x = block;
  for (unsigned int b = 0; b < grid; ++b) {
    blockIdx.x = b;
    for (unsigned int t = 0; t < block; ++t) {
      threadIdx.x = t;
      body();
    }
  }
}

// ---- runtime API subset ----
enum cudaError_t { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 };
typedef void* cudaStream_t;
typedef void* cudaEvent_t;
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
constexpr unsigned int cudaStreamNonBlocking = 1;
constexpr int kJrEmuSms = 4;  // small, so that grids are capped and the loops really stride

struct cudaDeviceProp {
  char name[256];
  int major, minor, multiProcessorCount;
  size_t totalGlobalMem;
};

inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t) { return "emulated CUDA error"; }
inline const char* cudaGetErrorName(cudaError_t) { return "cudaErrorEmulated"; }
inline cudaError_t cudaGetDevice(int* d) {
  *d = 0;
  return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr, int) {
  *v = kJrEmuSms;
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::memset(p, 0, sizeof *p);
  std::strcpy(p->name, "CPU emulation");
  p->multiProcessorCount = kJrEmuSms;
  return cudaSuccess;
}
inline cudaError_t cudaDriverGetVersion(int* v) {
  *v = 0;
  return cudaSuccess;
}
inline cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = 0;
  return cudaSuccess;
}
inline cudaError_t cudaMalloc(void** p, size_t n) {
  *p = std::aligned_alloc(256, (n + 255) / 256 * 256 + 256);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
template <class T>
inline cudaError_t cudaMalloc(T** p, size_t n) {
  return cudaMalloc(reinterpret_cast<void**>(p), n);
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  if (n) std::memcpy(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) {
  if (n) std::memcpy(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemset(void* p, int v, size_t n) {
  std::memset(p, v, n);
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int) {
  *s = nullptr;
  return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
