#!/usr/bin/env bash
# CUDA compile/link check without a preinstalled CUDA toolkit and without a GPU.
#
#   customops/cuda-compile-check.sh
#
# Installs NVIDIA's CUDA 13 compiler wheels from PyPI (pinned below; about 130 MB to download, 350 MB on
# disk) into customops/third_party/cuda (git-ignored; reused on later runs), unless $CUDACXX or an nvcc on
# PATH is given. Then:
#   1. builds the custom-op library with its CUDA kernels (CMake, -DJUMPRELU_CUDA=ON, static cudart) and
#      checks that it exports only RegisterCustomOps, carries device code (.nv_fatbin) and needs no
#      libcudart.so;
#   2. links the same kernels with the shared CUDA runtime (-DJUMPRELU_CUDART=Shared) and checks that the
#      library records libcudart.so.N as a dependency;
#   3. compiles the GPU check program (test/gpu_check.cu) so that it is known to build before a GPU is lent;
#   4. runs the pytest suite on the CUDA-enabled library in CPU-only onnxruntime: it must load on a machine
#      with no GPU and no driver, and its CPU kernels must pass every test.
# The CUDA 12 wheels (nvidia-cuda-nvcc-cu12 12.9.86) cannot do this: they ship ptxas, libnvvm and headers
# but no nvcc driver, cicc or fatbinary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tp="$here/third_party/cuda"
start=$(date +%s)
wheels=(
  "nvidia-cuda-nvcc==13.5.37"     # nvcc, cudafe++, ptxas, fatbinary, nvlink
  "nvidia-nvvm==13.5.37"          # cicc, libdevice
  "nvidia-cuda-crt==13.5.37"      # crt/ headers
  "nvidia-cuda-runtime==13.5.37"  # cuda_runtime.h, cuda_fp16.h, libcudart.so.13, libcudart_static.a
  "nvidia-cuda-cccl==13.3.5.0.6"  # libcu++/CUB/Thrust headers, included by the runtime headers
)

nvcc="${CUDACXX:-$(command -v nvcc || true)}"
if [ -z "$nvcc" ]; then
  nvcc=$(ls "$tp"/nvidia/cu*/bin/nvcc 2>/dev/null | head -1 || true)
  if [ -z "$nvcc" ]; then
    echo "cuda-compile-check: installing ${wheels[*]} into $tp" >&2
    t0=$(date +%s)
    python3 -m pip install -q --disable-pip-version-check --no-deps --target "$tp" "${wheels[@]}" >&2
    echo "cuda-compile-check: pip install took $(( $(date +%s) - t0 )) s" >&2
    nvcc=$(ls "$tp"/nvidia/cu*/bin/nvcc | head -1)
  fi
  root="$(dirname "$(dirname "$nvcc")")"
  chmod +x "$root"/bin/* "$root"/nvvm/bin/* 2>/dev/null || true
  # the wheel has only the versioned runtime; the linker's -lcudart needs the plain name
  cudart=$(ls "$root"/lib/libcudart.so.* 2>/dev/null | head -1 || true)
  [ -z "$cudart" ] || [ -e "$root/lib/libcudart.so" ] || ln -s "$(basename "$cudart")" "$root/lib/libcudart.so"
fi
echo "cuda-compile-check: $("$nvcc" --version | tail -1)" >&2

fail() { echo "cuda-compile-check: FAILED: $*" >&2; exit 1; }

# 1. static cudart
b1="$here/build/cuda-check-static"
lib=$(CUDACXX="$nvcc" "$here/build.sh" "$b1" -DJUMPRELU_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" | tail -1)
exports=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sort | tr '\n' ' ')
[ "$exports" = "RegisterCustomOps " ] || fail "exported symbols: $exports"
readelf -S -W "$lib" | grep -q '\.nv_fatbin' || fail "no .nv_fatbin section in $lib"
if readelf -d "$lib" | grep -q 'NEEDED.*libcudart'; then fail "static build depends on libcudart.so"; fi
echo "cuda-compile-check: static-cudart library ok: $lib ($(stat -c %s "$lib") bytes)" >&2

# 2. shared cudart
b2="$here/build/cuda-check-shared"
lib2=$(CUDACXX="$nvcc" "$here/build.sh" "$b2" -DJUMPRELU_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
         -DJUMPRELU_CUDART=Shared | tail -1)
readelf -d "$lib2" | grep -q 'NEEDED.*libcudart\.so' || fail "shared build does not record libcudart.so"
echo "cuda-compile-check: shared-cudart library ok: $lib2 ($(readelf -d "$lib2" | grep -o 'libcudart[^]]*'))" >&2

# 3. the GPU check program
"$nvcc" -std=c++17 -O3 -arch=sm_90 -I"$here/src" -I"$here/test" "$here/test/gpu_check.cu" \
  "$here/src/jumprelu_cuda.cu" -o "$b1/gpu_check" || fail "gpu_check.cu does not build"
echo "cuda-compile-check: test/gpu_check.cu builds" >&2

# 4. the CUDA-enabled library in CPU-only onnxruntime
JUMPRELU_CUSTOMOPS_LIB="$lib" python3 -m pytest -q -p no:cacheprovider -W ignore::RuntimeWarning \
  "$here/test/test_customops.py" || fail "pytest on the CUDA-enabled library"
echo "cuda-compile-check: passed in $(( $(date +%s) - start )) s"
