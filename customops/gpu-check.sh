#!/usr/bin/env bash
# GPU check of the JumpRelu CUDA kernels, for a machine with an NVIDIA GPU and a CUDA toolkit (nvcc).
#
#   customops/gpu-check.sh [--target 0.90] [--mib 256]
#
# 1. Builds the custom-op library with its CUDA kernels for this GPU's architecture
#    (customops/build/gpu-check/libjumprelu_customops.so).
# 2. Builds and runs test/gpu_check.cu: the CUDA kernels against the CPU kernels, bit for bit (random data,
#    all 16-bit patterns, x == kappa, NaN, +-inf, -0, special kappas, empty/odd sizes, unaligned pointers,
#    per-channel kappa), then the kernel's bandwidth against a device-to-device copy of the same bytes
#    (target >= 90 %).
# 3. If the Python interpreter has onnxruntime with the CUDA execution provider (onnxruntime-gpu), runs
#    test/gpu_check_ort.py: placement on CUDAExecutionProvider, CUDA EP vs CPU outputs, ORT's compute stream
#    ordering, timing against ThresholdedRelu and Relu.
#
# nvcc: $CUDACXX, else nvcc on PATH, else /usr/local/cuda/bin/nvcc, else the pip-wheel toolkit that
# cuda-compile-check.sh puts under customops/third_party/cuda (CUDA 13: needs an NVIDIA driver >= 580).
# Without any nvcc it runs the prebuilt library and the sm_90 gpu_check that cuda-compile-check.sh built
# (customops/prebuilt/, customops/build/gpu-check-compile/) instead of building them.
# Needs no network. Writes everything to customops/build/gpu-check/ and, if $OUT is set, copies the log
# there. Exit status: 0 all passed; 1 a correctness failure or error; 3 correct but bandwidth below target.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out_dir="$here/build/gpu-check"
mkdir -p "$out_dir"
log="$out_dir/gpu-check.log"
: >"$log"
say() { echo "$*" | tee -a "$log"; }
run() { "$@" 2>&1 | tee -a "$log"; return "${PIPESTATUS[0]}"; }
finish() {
  local rc=$1
  say "gpu-check: exit $rc ($(date -u +%FT%TZ))"
  if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then cp "$log" "$OUT/" 2>/dev/null || true; fi
  exit "$rc"
}
start=$(date +%s)

nvcc="${CUDACXX:-}"
[ -n "$nvcc" ] || nvcc=$(command -v nvcc || true)
[ -n "$nvcc" ] || { [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc; }
[ -n "$nvcc" ] || nvcc=$(ls "$here"/third_party/cuda/nvidia/cu*/bin/nvcc 2>/dev/null | head -1 || true)
# Without nvcc (a GPU machine with a driver but no toolkit, and no network for the wheels): the binaries
# built beforehand on a machine with the wheels — the shipped prebuilt CUDA library (build-prebuilt.sh) and
# gpu_check compiled for sm_90 by cuda-compile-check.sh. Carry customops/prebuilt and
# customops/build/gpu-check-compile to the GPU machine for this.
prebuilt_lib="$here/prebuilt/linux-x64/libjumprelu_customops_cuda.so"
prebuilt_check="$here/build/gpu-check-compile/gpu_check"
if [ -z "$nvcc" ] && { [ ! -f "$prebuilt_lib" ] || [ ! -x "$prebuilt_check" ]; }; then
  say "gpu-check: no nvcc found (set CUDACXX, or run customops/cuda-compile-check.sh first to get one from PyPI)," \
      "and no prebuilt $prebuilt_lib + $prebuilt_check to run instead"
  finish 1
fi

say "== machine"
run nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv || say "(nvidia-smi failed)"
cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
if [ -n "$cap" ]; then arch="$cap"; else arch=native; fi
say "CUDA architecture: $arch"

if [ -n "$nvcc" ]; then
  run "$nvcc" --version | tail -2
  say "== 1. build the library with CUDA kernels"
  if ! lib=$(CUDACXX="$nvcc" "$here/build.sh" "$out_dir/lib" -DJUMPRELU_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
             -DCMAKE_CUDA_ARCHITECTURES="$arch" 2>>"$log" | tail -1); then
    say "gpu-check: library build failed (see $log)"
    finish 1
  fi
  say "library: $lib"

  say "== 2. kernel check and bandwidth"
  if [ "$arch" = native ]; then gencode=(-arch=native); else gencode=(-gencode "arch=compute_$arch,code=sm_$arch"); fi
  if ! run "$nvcc" -std=c++17 -O3 "${gencode[@]}" -I"$here/src" -I"$here/test" "$here/test/gpu_check.cu" \
        "$here/src/jumprelu_cuda.cu" -o "$out_dir/gpu_check"; then
    say "gpu-check: building gpu_check failed"
    finish 1
  fi
  check_bin="$out_dir/gpu_check"
else
  say "== 1. no nvcc: using the prebuilt library $prebuilt_lib (SASS sm_75/80/86/89/90 + PTX)"
  lib="$prebuilt_lib"
  say "== 2. kernel check and bandwidth (prebuilt $prebuilt_check, sm_90 SASS only)"
  check_bin="$prebuilt_check"
fi
run timeout 600 "$check_bin" "$@"
kernel_rc=$?

say "== 3. ONNX Runtime CUDA execution provider"
ort_rc=0
py="${PYTHON:-python3}"
if "$py" -c 'import onnxruntime as o, sys; sys.exit(0 if "CUDAExecutionProvider" in o.get_available_providers() else 1)' 2>/dev/null; then
  run timeout 600 "$py" "$here/test/gpu_check_ort.py" "$lib"
  ort_rc=$?
else
  say "skipped: no onnxruntime with CUDAExecutionProvider for $py (pip install onnxruntime-gpu to include it)"
fi

say "== summary"
say "kernel check exit $kernel_rc (0 ok, 1 mismatch/error, 3 bandwidth below target); ORT check exit $ort_rc; $(( $(date +%s) - start )) s"
if [ "$kernel_rc" -eq 1 ] || [ "$ort_rc" -ne 0 ]; then finish 1; fi
finish "$kernel_rc"
