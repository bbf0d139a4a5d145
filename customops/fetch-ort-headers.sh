#!/usr/bin/env bash
# Fetch ONNX Runtime's public C/C++ API headers into customops/third_party/ (git-ignored) and print the
# include directory on the last stdout line. Nothing fetched here is committed.
#
# Sources, tried in this order:
#   1. $ORT_INCLUDE_DIR (a directory holding onnxruntime_c_api.h): used as is, nothing is fetched.
#   2. A copy fetched before, under third_party/ort-headers-*/ (reused; delete it to fetch again).
#   3. Debian's libonnxruntime-dev package (headers only; its shared library is not needed), fetched with
#      apt-get from a private apt state under third_party/apt/ (the system's apt lists and dpkg database are
#      not touched). Pinned to trixie's 1.21.0+dfsg-1; if trixie no longer carries that version, its current
#      one is taken.
#   4. The com.microsoft.onnxruntime:onnxruntime-android AAR from Maven Central, which has headers/.
#      Pinned to ORT_ANDROID_VERSION (default 1.22.0). Not served by the registry mirror this project's
#      machines reach (HTTP 404), so it is the fallback for hosts without apt-get.
# The library negotiates the ORT API version at load time, so headers older than the runtime are fine;
# they must be ORT >= 1.17 (KernelContext_ParallelFor).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tp="${JUMPRELU_THIRD_PARTY:-$here/third_party}"
deb_suite="${ORT_DEBIAN_SUITE:-trixie}"
deb_version="${ORT_DEBIAN_VERSION:-1.21.0+dfsg-1}"
aar_version="${ORT_ANDROID_VERSION:-1.22.0}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

log() { echo "fetch-ort-headers: $*" >&2; }

check_dir() {  # a usable include dir has the C API header with an ORT_API_VERSION >= 17
  local d="$1"
  [ -f "$d/onnxruntime_c_api.h" ] || return 1
  local v
  v=$(sed -n 's/^#define ORT_API_VERSION \([0-9][0-9]*\).*/\1/p' "$d/onnxruntime_c_api.h" | head -1)
  [ -n "$v" ] && [ "$v" -ge 17 ]
}

if [ -n "${ORT_INCLUDE_DIR:-}" ]; then
  check_dir "$ORT_INCLUDE_DIR" || { log "ORT_INCLUDE_DIR=$ORT_INCLUDE_DIR has no usable onnxruntime_c_api.h (ORT >= 1.17)"; exit 1; }
  echo "$ORT_INCLUDE_DIR"; exit 0
fi

mkdir -p "$tp"
# one fetch at a time (parallel builds share third_party/)
if command -v flock >/dev/null; then exec 9>"$tp/.fetch.lock"; flock 9; fi

for d in "$tp"/ort-headers-*/include; do
  if [ -d "$d" ] && check_dir "$d"; then echo "$d"; exit 0; fi
done

fetch_debian() {
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || return 1
  local a="$tp/apt"
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/etc/preferences.d" "$a/dl"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$keyring" ] || { log "no $keyring"; return 1; }
  echo "deb [signed-by=$keyring] $mirror $deb_suite main" > "$a/etc/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$a/etc/sources.list" -o "Dir::Etc::SourceParts=$a/etc/none"
              -o "Dir::Etc::Preferences=$a/etc/none" -o "Dir::Etc::PreferencesParts=$a/etc/preferences.d"
              -o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache" -o "Dir::State::status=/dev/null"
              -o "Acquire::Languages=none" -o "APT::Sandbox::User=$(id -un)"
              -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
              -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
              -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
              -o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"
              -o "APT::Architecture=$(dpkg --print-architecture)")
  log "apt-get update ($deb_suite, private state in $a)"
  apt-get -qq "${opts[@]}" update >&2 || return 1
  (
    cd "$a/dl"
    rm -f libonnxruntime-dev_*.deb
    if ! apt-get -qq "${opts[@]}" download "libonnxruntime-dev=$deb_version" >&2 2>/dev/null; then
      log "libonnxruntime-dev=$deb_version not in $deb_suite; taking its current version"
      apt-get -qq "${opts[@]}" download libonnxruntime-dev >&2
    fi
  ) || return 1
  local deb
  deb=$(ls "$a"/dl/libonnxruntime-dev_*.deb | head -1)
  local ver
  ver=$(dpkg-deb -f "$deb" Version)
  local out="$tp/ort-headers-debian-${ver//[^A-Za-z0-9.]/_}"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  dpkg-deb -x "$deb" "$out.tmp/x"
  mkdir -p "$out.tmp/include"
  cp "$out.tmp"/x/usr/include/onnxruntime/*.h "$out.tmp/include/"
  cp "$out.tmp/x/usr/share/doc/libonnxruntime-dev/copyright" "$out.tmp/include/COPYRIGHT.debian" 2>/dev/null || true
  echo "libonnxruntime-dev $ver ($deb_suite)" > "$out.tmp/include/SOURCE.txt"
  rm -rf "$out.tmp/x" "$out" && mv "$out.tmp" "$out"
  check_dir "$out/include" || return 1
  log "headers from Debian libonnxruntime-dev $ver"
  rm -rf "$a"  # the private apt lists (~25 MB) are not needed any more
  echo "$out/include"
}

fetch_maven() {
  command -v curl >/dev/null && command -v unzip >/dev/null || return 1
  local url="https://repo1.maven.org/maven2/com/microsoft/onnxruntime/onnxruntime-android/$aar_version/onnxruntime-android-$aar_version.aar"
  local out="$tp/ort-headers-android-$aar_version"
  log "fetching $url"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  curl -fsSL --retry 2 -o "$out.tmp/ort.aar" "$url" || { log "Maven Central did not serve the AAR"; rm -rf "$out.tmp"; return 1; }
  unzip -q -o "$out.tmp/ort.aar" 'headers/*' -d "$out.tmp" || return 1
  mv "$out.tmp/headers" "$out.tmp/include"
  rm -f "$out.tmp/ort.aar"
  echo "onnxruntime-android $aar_version (Maven Central)" > "$out.tmp/include/SOURCE.txt"
  rm -rf "$out" && mv "$out.tmp" "$out"
  check_dir "$out/include" || return 1
  echo "$out/include"
}

if dir=$(fetch_debian); then echo "$dir"; exit 0; fi
log "Debian route unavailable or failed; trying Maven Central"
if dir=$(fetch_maven); then echo "$dir"; exit 0; fi
log "could not obtain ONNX Runtime headers; pass -DORT_INCLUDE_DIR=/path/to/include (or set ORT_INCLUDE_DIR)"
exit 1
