#!/usr/bin/env bash
# Print the path of an nvcc to build the CUDA kernels with (last stdout line), installing NVIDIA's CUDA 13
# compiler wheels from PyPI when there is none.
#
#   customops/cuda-toolkit.sh
#
# Order: $CUDACXX, nvcc on PATH, /usr/local/cuda/bin/nvcc, the wheels under customops/third_party/cuda
# (git-ignored; installed there by this script with `pip install --no-deps --target`, about 130 MB to
# download, 350 MB on disk). Pinned below; the CUDA 12 wheels cannot be used: they have ptxas, libnvvm and
# headers but no nvcc driver, cicc or fatbinary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tp="${JUMPRELU_CUDA_WHEELS_DIR:-$here/third_party/cuda}"
wheels=(
  "nvidia-cuda-nvcc==13.5.37"     # nvcc, cudafe++, ptxas, fatbinary, nvlink
  "nvidia-nvvm==13.5.37"          # cicc, libdevice
  "nvidia-cuda-crt==13.5.37"      # crt/ headers
  "nvidia-cuda-runtime==13.5.37"  # cuda_runtime.h, cuda_fp16.h, libcudart.so.13, libcudart_static.a
  "nvidia-cuda-cccl==13.3.5.0.6"  # libcu++/CUB/Thrust headers, included by the runtime headers
)

nvcc="${CUDACXX:-}"
[ -n "$nvcc" ] || nvcc=$(command -v nvcc || true)
[ -n "$nvcc" ] || { [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc; } || true
if [ -n "$nvcc" ]; then echo "$nvcc"; exit 0; fi

nvcc=$(ls "$tp"/nvidia/cu*/bin/nvcc 2>/dev/null | head -1 || true)
if [ -z "$nvcc" ]; then
  if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
    echo "cuda-toolkit: no nvcc found and no python3 -m pip to install NVIDIA's compiler wheels with;" \
         "install the CUDA toolkit (nvcc) or set CUDACXX" >&2
    exit 1
  fi
  echo "cuda-toolkit: installing ${wheels[*]} into $tp" >&2
  t0=$(date +%s)
  if ! python3 -m pip install -q --disable-pip-version-check --no-deps --target "$tp" "${wheels[@]}" >&2; then
    echo "cuda-toolkit: pip could not install NVIDIA's compiler wheels (no network to PyPI?);" \
         "install the CUDA toolkit (nvcc) or set CUDACXX" >&2
    exit 1
  fi
  echo "cuda-toolkit: pip install took $(( $(date +%s) - t0 )) s" >&2
  nvcc=$(ls "$tp"/nvidia/cu*/bin/nvcc | head -1)
fi
root="$(dirname "$(dirname "$nvcc")")"
chmod +x "$root"/bin/* "$root"/nvvm/bin/* 2>/dev/null || true
# the wheel has only the versioned runtime; the linker's -lcudart needs the plain name
cudart=$(ls "$root"/lib/libcudart.so.* 2>/dev/null | head -1 || true)
[ -z "$cudart" ] || [ -e "$root/lib/libcudart.so" ] || ln -s "$(basename "$cudart")" "$root/lib/libcudart.so"
echo "$nvcc"
