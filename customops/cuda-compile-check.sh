#!/usr/bin/env bash
# CUDA compile/link check without a preinstalled CUDA toolkit and without a GPU.
#
#   customops/cuda-compile-check.sh
#
# Finds nvcc with cuda-toolkit.sh, which installs NVIDIA's CUDA 13 compiler wheels from PyPI (about 130 MB
# to download, 350 MB on disk) into customops/third_party/cuda (git-ignored; reused on later runs) unless
# $CUDACXX or an nvcc on PATH is given. Then:
#   1. builds the prebuilt libraries of the npm package (build-prebuilt.sh: customops/prebuilt/linux-x64/,
#      CPU and CPU+CUDA with static cudart), checks that the CUDA one exports only RegisterCustomOps,
#      carries device code (.nv_fatbin) and needs no libcudart.so, and rebuilds both from a copy of the
#      sources in another folder: they must be byte-identical (reproducible builds);
#   2. links the same kernels with the shared CUDA runtime (-DJUMPRELU_CUDART=Shared) and checks that the
#      library records libcudart.so.N as a dependency;
#   3. compiles the GPU check program (test/gpu_check.cu) so that it is known to build before a GPU is lent;
#   4. runs the pytest suite on the CUDA-enabled library in CPU-only onnxruntime: it must load on a machine
#      with no GPU and no driver, and its CPU kernels must pass every test.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
start=$(date +%s)
nvcc=$("$here/cuda-toolkit.sh" | tail -1)
echo "cuda-compile-check: $("$nvcc" --version | tail -1)" >&2

fail() { echo "cuda-compile-check: FAILED: $*" >&2; exit 1; }

# 1. the prebuilt libraries that ship in the npm package (static cudart), then the same build again from a
#    copy of the sources in another folder: byte-identical, so the shipped binaries are what the sources build
prebuilt="$here/prebuilt/linux-x64"
CUDACXX="$nvcc" "$here/build-prebuilt.sh" "$prebuilt" >/dev/null
lib="$prebuilt/libjumprelu_customops_cuda.so"
[ -f "$lib" ] || fail "build-prebuilt.sh made no CUDA library"
exports=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sort | tr '\n' ' ')
[ "$exports" = "RegisterCustomOps " ] || fail "exported symbols: $exports"
readelf -S -W "$lib" | grep -q '\.nv_fatbin' || fail "no .nv_fatbin section in $lib"
if readelf -d "$lib" | grep -q 'NEEDED.*libcudart'; then fail "static build depends on libcudart.so"; fi
echo "cuda-compile-check: prebuilt CUDA library ok: $lib ($(stat -c %s "$lib") bytes)" >&2
copy="$here/build/repro-check"
rm -rf "$copy" && mkdir -p "$copy/customops/repro"
cp -r "$here/src" "$here/CMakeLists.txt" "$here/build.sh" "$here/build-prebuilt.sh" "$here/cuda-toolkit.sh" \
      "$here/fetch-ort-headers.sh" "$copy/customops/"
cp "$here/repro/fixed_pid.c" "$copy/customops/repro/"
ort_inc=$(ls -d "$here"/third_party/ort-headers-*/include 2>/dev/null | head -1 || true)
ORT_INCLUDE_DIR="${ORT_INCLUDE_DIR:-$ort_inc}" CUDACXX="$nvcc" JUMPRELU_PREBUILT_FORCE=1 \
  "$copy/customops/build-prebuilt.sh" "$copy/out" >/dev/null
for f in libjumprelu_customops.so libjumprelu_customops_cuda.so; do
  cmp -s "$prebuilt/$f" "$copy/out/$f" || fail "$f is not reproducible: a rebuild from $copy differs"
done
echo "cuda-compile-check: prebuilt libraries rebuilt from a copy of the sources elsewhere: byte-identical" >&2
b1="$here/build/gpu-check-compile"; mkdir -p "$b1"

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
