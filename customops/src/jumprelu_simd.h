// JumpReLU CPU inner loops, vectorised by hand: the same results, bit for bit, as run_f32/run_16 in
// jumprelu_cpu.h (the reference), for ONNX Runtime's CPU kernel.
//
// Why by hand: ONNX Runtime may run the op in place (the library declares MayInplace), so x and y can be the
// same buffer. A compiler that vectorises the plain loop must guard against overlap and falls back to
// scalar code for exactly that case; these loops load a vector, compute and store it, which is correct for
// y == x as well as for disjoint buffers (partial overlap never happens in ONNX Runtime).
//
// x86-64: AVX2 (32-byte vectors) when the CPU has it, chosen once at load time, else SSE2 (part of
// x86-64). Other architectures use the reference loops, which their compilers vectorise.
//
//   float32: y = (x > kappa) ? x : +0  ==  x AND mask(x > kappa); the ordered compare is false for NaN.
//   16-bit:  key = h ^ ((h >> 15 arithmetic) & 0x7FFF); pass = key > lo AND NOT key > hi; y = h AND pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "jumprelu_cpu.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define JUMPRELU_X86 1
#endif

namespace jumprelu {
namespace simd {

#ifdef JUMPRELU_X86

inline void f32_sse2(const float* x, float* y, size_t n, float kappa) {
  const __m128 k = _mm_set1_ps(kappa);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m128 v = _mm_loadu_ps(x + i);
    _mm_storeu_ps(y + i, _mm_and_ps(_mm_cmpgt_ps(v, k), v));
  }
  run_f32(x + i, y + i, n - i, kappa);
}

__attribute__((target("avx2"))) inline void f32_avx2(const float* x, float* y, size_t n, float kappa) {
  const __m256 k = _mm256_set1_ps(kappa);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {  // two vectors per step: more loads in flight
    const __m256 a = _mm256_loadu_ps(x + i);
    const __m256 b = _mm256_loadu_ps(x + i + 8);
    _mm256_storeu_ps(y + i, _mm256_and_ps(_mm256_cmp_ps(a, k, _CMP_GT_OQ), a));
    _mm256_storeu_ps(y + i + 8, _mm256_and_ps(_mm256_cmp_ps(b, k, _CMP_GT_OQ), b));
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 a = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(y + i, _mm256_and_ps(_mm256_cmp_ps(a, k, _CMP_GT_OQ), a));
  }
  run_f32(x + i, y + i, n - i, kappa);
}

inline void h16_sse2(const uint16_t* x, uint16_t* y, size_t n, KeyRange r) {
  const __m128i lo = _mm_set1_epi16(r.lo);
  const __m128i hi = _mm_set1_epi16(r.hi);
  const __m128i low15 = _mm_set1_epi16(0x7FFF);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i));
    const __m128i key = _mm_xor_si128(h, _mm_and_si128(_mm_srai_epi16(h, 15), low15));
    const __m128i pass = _mm_andnot_si128(_mm_cmpgt_epi16(key, hi), _mm_cmpgt_epi16(key, lo));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm_and_si128(pass, h));
  }
  run_16(x + i, y + i, n - i, r);
}

__attribute__((target("avx2"))) inline void h16_avx2(const uint16_t* x, uint16_t* y, size_t n, KeyRange r) {
  const __m256i lo = _mm256_set1_epi16(r.lo);
  const __m256i hi = _mm256_set1_epi16(r.hi);
  const __m256i low15 = _mm256_set1_epi16(0x7FFF);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    const __m256i key = _mm256_xor_si256(h, _mm256_and_si256(_mm256_srai_epi16(h, 15), low15));
    const __m256i pass = _mm256_andnot_si256(_mm256_cmpgt_epi16(key, hi), _mm256_cmpgt_epi16(key, lo));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm256_and_si256(pass, h));
  }
  run_16(x + i, y + i, n - i, r);
}

// JUMPRELU_CPU_ISA=sse2 forces the SSE2 loops (the tests run both on an AVX2 machine).
inline bool has_avx2() {
  static const bool yes = [] {
    const char* forced = std::getenv("JUMPRELU_CPU_ISA");
    if (forced != nullptr && std::strcmp(forced, "sse2") == 0) return false;
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return yes;
}

inline void f32(const float* x, float* y, size_t n, float kappa) {
  if (has_avx2()) f32_avx2(x, y, n, kappa);
  else f32_sse2(x, y, n, kappa);
}

inline void h16(const uint16_t* x, uint16_t* y, size_t n, KeyRange r) {
  if (has_avx2()) h16_avx2(x, y, n, r);
  else h16_sse2(x, y, n, r);
}

/** Which loops f32/h16 run on this CPU (for the bench and the tests). */
inline const char* isa() { return has_avx2() ? "avx2" : "sse2"; }

#else

inline void f32(const float* x, float* y, size_t n, float kappa) { run_f32(x, y, n, kappa); }
inline void h16(const uint16_t* x, uint16_t* y, size_t n, KeyRange r) { run_16(x, y, n, r); }
inline const char* isa() { return "portable"; }

#endif

}  // namespace simd
}  // namespace jumprelu
