#!/usr/bin/env bash
# Configure and build the JumpRelu custom-op library in Release mode.
#
#   customops/build.sh [BUILD_DIR] [extra cmake -D options...]
#
# BUILD_DIR defaults to customops/build. Progress goes to stderr; the last stdout line is the absolute path
# of the built shared library (the converter's --emit-customops reads it). CUDA kernels are built when nvcc
# is found (see CMakeLists.txt: -DJUMPRELU_CUDA=ON|OFF). ONNX Runtime headers are fetched into
# customops/third_party/ unless -DORT_INCLUDE_DIR=... or $ORT_INCLUDE_DIR is given. Before CMake runs it
# checks for cmake ($CMAKE), a C++ compiler ($CXX) and the headers, and names the one that is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/build}"
[ $# -gt 0 ] && shift
mkdir -p "$build"
build="$(cd "$build" && pwd)"
# one build at a time per build directory (e.g. test processes running in parallel)
if command -v flock >/dev/null; then exec 9>"$build/.build.lock"; flock 9; fi

# What the build needs, named before CMake runs (its own errors are long and end elsewhere).
missing() { echo "build.sh: $*" >&2; exit 1; }
cmake_bin="${CMAKE:-cmake}"
command -v "$cmake_bin" >/dev/null ||
  missing "cmake (>= 3.18) is not installed: apt-get install cmake (Debian/Ubuntu), or python3 -m pip install cmake"
cxx="${CXX:-}"
if [ -z "$cxx" ]; then for c in c++ g++ clang++; do command -v "$c" >/dev/null && { cxx="$c"; break; }; done; fi
[ -n "$cxx" ] && command -v "$cxx" >/dev/null ||
  missing "no C++17 compiler (c++, g++, clang++ or \$CXX): apt-get install g++ (Debian/Ubuntu)"
have_headers=0
for arg in "$@"; do case "$arg" in -DORT_INCLUDE_DIR=*) have_headers=1 ;; esac; done
if [ "$have_headers" = 0 ] && ! grep -q '^ORT_INCLUDE_DIR:PATH=..*' "$build/CMakeCache.txt" 2>/dev/null; then
  # the headers come from $ORT_INCLUDE_DIR, a copy fetched before, or are fetched now (fetch-ort-headers.sh)
  # fetched copies are kept in customops/third_party/ in a git checkout, in BUILD_DIR/third_party/ otherwise
  # (an installed package may be read-only)
  tp_default="$build/third_party"; [ -e "$here/../.git" ] && tp_default="$here/third_party"
  if ! ort_dir=$(JUMPRELU_THIRD_PARTY="${JUMPRELU_THIRD_PARTY:-$tp_default}" "$here/fetch-ort-headers.sh" | tail -1); then
    missing "ONNX Runtime headers (onnxruntime_c_api.h, ORT >= 1.17) are not available and could not be fetched" \
            "(fetch-ort-headers.sh tries Debian's libonnxruntime-dev with apt-get, then Maven Central's" \
            "onnxruntime-android AAR): set ORT_INCLUDE_DIR to the include/ folder of an ONNX Runtime release"
  fi
  set -- "-DORT_INCLUDE_DIR=$ort_dir" "$@"
fi

generator=()
if command -v ninja >/dev/null && [ ! -f "$build/CMakeCache.txt" ]; then generator=(-G Ninja); fi
jobs="${JUMPRELU_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

"$cmake_bin" -S "$here" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@" >&2 ||
  missing "CMake could not configure the build (its messages above say why)"
"$cmake_bin" --build "$build" --config Release --parallel "$jobs" >&2 ||
  missing "the build failed (the compiler's messages above say why)"

lib="$build/libjumprelu_customops.so"
if [ ! -f "$lib" ]; then
  echo "build.sh: expected $lib after the build" >&2
  exit 1
fi
echo "$lib"
