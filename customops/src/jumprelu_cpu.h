// JumpReLU CPU kernels: y = x if x > kappa else 0, elementwise.
//
// Header-only and independent of ONNX Runtime, so the GPU check can use the same code as its reference.
//
// Semantics (identical for every type; the comparison is done on exact values, as IEEE float does it):
//   * strict: x == kappa gives 0;
//   * NaN x gives 0 (NaN > kappa is false); a NaN kappa gives 0 everywhere;
//   * +inf gives +inf for every kappa below +inf; -inf always gives 0 (it is greater than no kappa);
//   * the output copies x bit for bit where the test passes (so -0.0 stays -0.0 when kappa < 0), and is +0.0
//     elsewhere.
//
// 16-bit types (float16, bfloat16) are compared without converting each element to float: the threshold
// kappa is turned once into a threshold on a signed integer key that orders the bit patterns like their
// values, and the loop then compares 16-bit integers, which every x86-64 and ARM vector unit does natively.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace jumprelu {

// ----------------------------------------------------------------------------------------------------------
// Scalar conversions (exact).

inline float bits_to_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// IEEE 754 binary16 -> float. Every half value is exactly representable as a float.
inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1Fu) return bits_to_float(sign | 0x7F800000u | (mantissa << 13));  // inf, NaN
  if (exponent != 0) return bits_to_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  // zero or subnormal: mantissa * 2^-24, exact in float
  const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-08f;
  return sign ? -magnitude : magnitude;
}

// bfloat16 is the upper half of a float.
inline float bf16_bits_to_float(uint16_t b) { return bits_to_float(static_cast<uint32_t>(b) << 16); }

// ----------------------------------------------------------------------------------------------------------
// 16-bit formats as ordered integer keys.
//
// key(h) = int16(h ^ (h < 0 ? 0x7FFF : 0)) orders sign-magnitude bit patterns like their values:
//   -NaN < -inf < ... < -0 (key -1) < +0 (key 0) < ... < +inf < +NaN.
// -0 and +0 get different keys although they compare equal; that never matters below because both lie on
// the same side of any threshold key chosen by threshold_key16().

inline int16_t order_key16(uint16_t h) {
  const uint16_t flip = (h & 0x8000u) ? 0x7FFFu : 0u;
  return static_cast<int16_t>(static_cast<uint16_t>(h ^ flip));
}

inline uint16_t from_order_key16(int16_t k) {
  const uint16_t u = static_cast<uint16_t>(k);
  return static_cast<uint16_t>(u ^ ((u & 0x8000u) ? 0x7FFFu : 0u));
}

struct Format16 {
  float (*to_float)(uint16_t);
  uint16_t pos_inf;  // bit pattern of +inf
  uint16_t neg_inf;  // bit pattern of -inf
};

inline Format16 half_format() { return Format16{&half_bits_to_float, 0x7C00u, 0xFC00u}; }
inline Format16 bf16_format() { return Format16{&bf16_bits_to_float, 0x7F80u, 0xFF80u}; }

// Keys (lo, hi] pass: x passes iff lo < key(x) <= hi.
struct KeyRange {
  int16_t lo;
  int16_t hi;
};

// The largest key whose value is <= kappa gives lo; hi is key(+inf), which keeps +NaN out (its keys lie
// above +inf's); -NaN keys lie below key(-inf) <= lo. A NaN kappa passes nothing.
inline KeyRange threshold_key16(const Format16& fmt, float kappa) {
  const int16_t key_inf = order_key16(fmt.pos_inf);
  if (std::isnan(kappa)) return KeyRange{key_inf, key_inf};
  int lo = order_key16(fmt.neg_inf);  // value -inf <= kappa always holds for a non-NaN kappa
  int hi = key_inf;
  if (fmt.to_float(fmt.pos_inf) <= kappa) return KeyRange{key_inf, key_inf};
  // invariant: value(lo) <= kappa < value(hi)
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    if (fmt.to_float(from_order_key16(static_cast<int16_t>(mid))) <= kappa) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return KeyRange{static_cast<int16_t>(lo), key_inf};
}

// ----------------------------------------------------------------------------------------------------------
// Reference loops (the definition of the results; the GPU check compares against them). x and y may be the
// same buffer (ONNX Runtime runs the op in place when it can): each element is read before it is written.
// The library's CPU kernel uses the explicitly vectorised loops in jumprelu_simd.h, which give the same bits.

inline void run_f32(const float* x, float* y, size_t n, float kappa) {
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = v > kappa ? v : 0.0f;
  }
}

inline void run_16(const uint16_t* x, uint16_t* y, size_t n, KeyRange r) {
  const int16_t lo = r.lo;
  const int16_t hi = r.hi;
  for (size_t i = 0; i < n; ++i) {
    const uint16_t h = x[i];
    // arithmetic shift gives 0xFFFF for negative patterns, 0 otherwise
    const uint16_t flip = static_cast<uint16_t>(static_cast<int16_t>(h) >> 15) & 0x7FFFu;
    const int16_t k = static_cast<int16_t>(static_cast<uint16_t>(h ^ flip));
    y[i] = (k > lo && k <= hi) ? h : static_cast<uint16_t>(0);
  }
}

// ----------------------------------------------------------------------------------------------------------
// Ranges with per-channel thresholds.
//
// x is viewed as [outer, channels, inner] (channels = dim 1, inner = product of the dims after it).
// process_range handles the flat element range [begin, end) and calls body(ptr_offset, count, channel) for
// each maximal run inside one channel, so callers can split work at arbitrary element boundaries.

template <class Body>
inline void for_each_channel_run(size_t begin, size_t end, size_t channels, size_t inner, Body&& body) {
  if (channels <= 1 || inner == 0) {
    if (end > begin) body(begin, end - begin, size_t{0});
    return;
  }
  size_t i = begin;
  while (i < end) {
    const size_t row = i / inner;  // index into outer*channels
    const size_t c = row % channels;
    const size_t row_end = (row + 1) * inner;
    const size_t stop = row_end < end ? row_end : end;
    body(i, stop - i, c);
    i = stop;
  }
}

// Reference over a whole tensor, kappa per channel given as floats (channels == 1: one kappa).
inline void reference_f32(const float* x, float* y, size_t n, const float* kappa, size_t channels,
                          size_t inner) {
  for_each_channel_run(0, n, channels, inner,
                       [&](size_t off, size_t cnt, size_t c) { run_f32(x + off, y + off, cnt, kappa[c]); });
}

inline void reference_16(const Format16& fmt, const uint16_t* x, uint16_t* y, size_t n, const float* kappa,
                         size_t channels, size_t inner) {
  for_each_channel_run(0, n, channels, inner, [&](size_t off, size_t cnt, size_t c) {
    run_16(x + off, y + off, cnt, threshold_key16(fmt, kappa[c]));
  });
}

}  // namespace jumprelu
