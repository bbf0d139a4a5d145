#!/usr/bin/env bash
# Build the prebuilt libraries that ship in the npm package (run by `npm pack` through prepack):
#
#   customops/prebuilt/linux-x64/libjumprelu_customops.so        CPU kernels (float32, float16)
#   customops/prebuilt/linux-x64/libjumprelu_customops_cuda.so   CPU + CUDA kernels (static cudart)
#   customops/prebuilt/linux-x64/MANIFEST.json                   what they were built from, and their sha256
#
#   customops/build-prebuilt.sh [OUT_DIR]          (default: customops/prebuilt/linux-x64)
#
# Environment: JUMPRELU_PREBUILT_CUDA=0 builds only the CPU library (the manifest then says so);
# JUMPRELU_PREBUILT_FORCE=1 rebuilds even when OUT_DIR already holds the libraries of these exact sources.
# Needs cmake, a C/C++ compiler and ONNX Runtime headers (see build.sh); nvcc comes from cuda-toolkit.sh
# (NVIDIA's PyPI compiler wheels when no CUDA toolkit is installed).
#
# The builds are reproducible: the same sources, compiler and headers give byte-identical libraries, in any
# source or build folder (the CPU build by itself; for nvcc, repro/fixed_pid.c pins the pid it names its
# temporary files after). CI rebuilds and compares (cuda-compile-check.sh, test/package.test.ts).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/prebuilt/linux-x64}"
log() { echo "build-prebuilt: $*" >&2; }

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  log "prebuilt libraries are made for linux-x64 only; this is $(uname -s)-$(uname -m)"
  exit 1
fi

# The files whose content determines the binaries (compiler and headers are recorded separately).
sources_hash() {
  (cd "$here" && { echo CMakeLists.txt; echo build.sh; echo build-prebuilt.sh; echo repro/fixed_pid.c;
                   ls src | sed 's|^|src/|'; } | LC_ALL=C sort | while read -r f; do sha256sum "$f"; done) |
    sha256sum | cut -d' ' -f1
}
hash=$(sources_hash)
want_cuda="${JUMPRELU_PREBUILT_CUDA:-1}"

if [ "${JUMPRELU_PREBUILT_FORCE:-0}" != 1 ] && [ -f "$out/MANIFEST.json" ] &&
   python3 - "$out" "$hash" "$want_cuda" <<'PY'
import hashlib, json, os, sys
out, want, cuda = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
m = json.load(open(os.path.join(out, "MANIFEST.json")))
if m.get("sources_sha256") != want or (cuda and "cuda" not in m["libraries"]): sys.exit(1)
for lib in m["libraries"].values():
    p = os.path.join(out, lib["file"])
    if not os.path.isfile(p) or hashlib.sha256(open(p, "rb").read()).hexdigest() != lib["sha256"]: sys.exit(1)
PY
then
  log "$out already holds the libraries of these sources ($hash); JUMPRELU_PREBUILT_FORCE=1 rebuilds"
  exit 0
fi

build="$here/build/prebuilt"
rm -rf "$build" && mkdir -p "$build"
common=(-DJUMPRELU_BUILD_C_SMOKE=OFF -DJUMPRELU_STATIC_LIBSTDCXX=OFF)

log "CPU library"
cpu=$("$here/build.sh" "$build/cpu" -DJUMPRELU_CUDA=OFF "${common[@]}" | tail -1)

cuda=""
nvcc_version=""
if [ "$want_cuda" = 1 ]; then
  nvcc=$("$here/cuda-toolkit.sh" | tail -1)
  nvcc_version=$("$nvcc" --version | tail -1)
  log "CUDA library ($nvcc_version)"
  cc="${CC:-cc}"
  "$cc" -shared -fPIC -O2 -o "$build/fixed_pid.so" "$here/repro/fixed_pid.c"
  mkdir -p "$build/nvcc-tmp"
  cuda=$(CUDACXX="$nvcc" "$here/build.sh" "$build/cuda" -DJUMPRELU_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
           -DJUMPRELU_CUDART=Static "${common[@]}" \
           "-DCMAKE_CUDA_COMPILER_LAUNCHER=env;TMPDIR=$build/nvcc-tmp;LD_PRELOAD=$build/fixed_pid.so" | tail -1)
  readelf -S -W "$cuda" | grep -q '\.nv_fatbin' || { log "no device code in $cuda"; exit 1; }
  if readelf -d "$cuda" | grep -q 'NEEDED.*libcudart'; then log "$cuda depends on libcudart.so"; exit 1; fi
fi

for lib in "$cpu" $cuda; do
  exports=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sort | tr '\n' ' ')
  [ "$exports" = "RegisterCustomOps " ] || { log "$lib exports: $exports"; exit 1; }
done

mkdir -p "$out"
tmp="$out/.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp"
cp "$cpu" "$tmp/libjumprelu_customops.so"
[ -z "$cuda" ] || cp "$cuda" "$tmp/libjumprelu_customops_cuda.so"
ort_api=$(cat "$build/cpu/ort-api-version.txt")
python3 - "$tmp" "$hash" "$ort_api" "$("${CXX:-c++}" --version | head -1)" "$nvcc_version" "$(cmake --version | head -1)" <<'PY'
import hashlib, json, os, re, subprocess, sys
tmp, src_hash, ort_api, cxx, nvcc, cmake = sys.argv[1:7]
def glibc(path):  # the newest GLIBC_x.y symbol version the library needs
    out = subprocess.run(["objdump", "-T", path], stdout=subprocess.PIPE, text=True, check=True).stdout
    vs = [tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_(\d+\.\d+(?:\.\d+)?)", out)]
    return ".".join(map(str, max(vs))) if vs else None
libs = {}
for key, name, kernels in (("cpu", "libjumprelu_customops.so", ["cpu"]),
                           ("cuda", "libjumprelu_customops_cuda.so", ["cpu", "cuda"])):
    p = os.path.join(tmp, name)
    if not os.path.exists(p):
        continue
    libs[key] = {"file": name, "kernels": kernels, "sha256": hashlib.sha256(open(p, "rb").read()).hexdigest(),
                 "bytes": os.path.getsize(p), "needs_glibc": glibc(p)}
    if key == "cuda":
        libs[key]["cuda"] = nvcc
        libs[key]["cudart"] = "static"
manifest = {"platform": "linux-x64", "sources_sha256": src_hash, "ort_api_version_of_headers": int(ort_api),
            "min_onnxruntime": "1.17", "compiler": cxx, "cmake": cmake, "libraries": libs}
if "cuda" not in libs:
    manifest["cuda_missing"] = "built with JUMPRELU_PREBUILT_CUDA=0"
with open(os.path.join(tmp, "MANIFEST.json"), "w") as f:
    json.dump(manifest, f, indent=2)
    f.write("\n")
PY
rm -f "$out/libjumprelu_customops.so" "$out/libjumprelu_customops_cuda.so" "$out/MANIFEST.json"
mv "$tmp"/* "$out/" && rmdir "$tmp"
log "wrote $out: $(cd "$out" && ls | tr '\n' ' ')"
echo "$out"
