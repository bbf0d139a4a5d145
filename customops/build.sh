#!/usr/bin/env bash
# Configure and build the JumpRelu custom-op library in Release mode.
#
#   customops/build.sh [BUILD_DIR] [extra cmake -D options...]
#
# BUILD_DIR defaults to customops/build. Progress goes to stderr; the last stdout line is the absolute path
# of the built shared library (the converter's --emit-customops reads it). CUDA kernels are built when nvcc
# is found (see CMakeLists.txt: -DJUMPRELU_CUDA=ON|OFF). ONNX Runtime headers are fetched into
# customops/third_party/ unless -DORT_INCLUDE_DIR=... or $ORT_INCLUDE_DIR is given.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/build}"
[ $# -gt 0 ] && shift
mkdir -p "$build"
build="$(cd "$build" && pwd)"
# one build at a time per build directory (e.g. test processes running in parallel)
if command -v flock >/dev/null; then exec 9>"$build/.build.lock"; flock 9; fi

generator=()
if command -v ninja >/dev/null && [ ! -f "$build/CMakeCache.txt" ]; then generator=(-G Ninja); fi
jobs="${JUMPRELU_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

cmake -S "$here" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@" >&2
cmake --build "$build" --config Release --parallel "$jobs" >&2

lib="$build/libjumprelu_customops.so"
if [ ! -f "$lib" ]; then
  echo "build.sh: expected $lib after the build" >&2
  exit 1
fi
echo "$lib"
