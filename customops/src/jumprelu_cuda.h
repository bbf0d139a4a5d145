// JumpReLU CUDA kernels: host-side launch interface. Independent of ONNX Runtime (the GPU check links it
// directly to compare against the CPU kernels and to measure bandwidth).
#pragma once

#include <cstddef>

namespace jumprelu_cuda {

enum class DType { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };

struct Args {
  DType dtype = DType::kFloat32;
  const void* x = nullptr;  // device pointer, n elements
  void* y = nullptr;        // device pointer, n elements, not overlapping x
  size_t n = 0;
  float kappa = 0.0f;             // used when kappa_dev is null
  const void* kappa_dev = nullptr;  // device pointer to `channels` values of dtype, or null
  size_t channels = 1;            // number of kappa values (1: one kappa for all elements)
  size_t inner = 0;               // elements per (outer, channel) run: product of the dims after dim 1
};

// Enqueues the kernel on `stream` (a cudaStream_t; nullptr is the legacy default stream) and returns 0, or a
// CUDA error code with *message set to a static string. Does not synchronise.
int launch(const Args& args, void* stream, const char** message);

}  // namespace jumprelu_cuda
