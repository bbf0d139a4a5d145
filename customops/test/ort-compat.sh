#!/usr/bin/env bash
# Run the custom-op tests on several Python onnxruntime releases.
#
#   customops/test/ort-compat.sh [VERSION...]      (default: 1.16.3 1.17.3 1.20.1 1.30.0)
#
# Uses one virtual environment in customops/third_party/ort-compat-venv (git-ignored) with numpy<2, onnx and
# pytest, and swaps the onnxruntime wheel for each version. The library is built once with the headers the
# build fetches, so this checks the API negotiation against runtimes older and newer than those headers.
# Versions below 1.17 must REFUSE the library with a clear error; the others must pass the whole test file
# (the C API tests use the ONNX Runtime shared library of the main interpreter's wheel and of
# onnxruntime-node, so they are the same in every round). Not part of the default test run: it downloads
# about 7 MB per version plus numpy, onnx and pytest once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
customops="$(dirname "$here")"
venv="$customops/third_party/ort-compat-venv"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(1.16.3 1.17.3 1.20.1 1.30.0)

lib=$("$customops/build.sh" "$customops/build" | tail -1)
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "numpy<2" onnx pytest
fi
py="$venv/bin/python"

status=0
summary=()
for v in "${versions[@]}"; do
  "$py" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "onnxruntime==$v"
  case "$v" in
    1.[0-9].* | 1.1[0-6].*)
      if out=$("$py" - "$lib" 2>&1 <<'EOF'
import sys
import onnxruntime as ort
so = ort.SessionOptions()
so.register_custom_ops_library(sys.argv[1])
EOF
      ); then
        echo "UNEXPECTED: onnxruntime $v accepted the library"; status=1; summary+=("$v: accepted (wrong)")
      elif grep -q "needs ONNX Runtime >= 1.17" <<<"$out"; then
        echo "onnxruntime $v refused the library as expected: $(grep -o 'JumpRelu: needs.*' <<<"$out" | head -1)"
        summary+=("$v: refused as expected")
      else
        echo "UNEXPECTED error from onnxruntime $v: $out"; status=1; summary+=("$v: unexpected error")
      fi
      ;;
    *)
      echo "== onnxruntime $v"
      log=$(mktemp)
      if JUMPRELU_CUSTOMOPS_LIB="$lib" "$py" -m pytest -q -p no:cacheprovider -W ignore::RuntimeWarning \
           "$here/test_customops.py" >"$log" 2>&1; then
        summary+=("$v: $(tail -1 "$log")")
      else
        status=1; summary+=("$v: FAILED: $(tail -1 "$log")")
      fi
      tail -3 "$log"; rm -f "$log"
      ;;
  esac
done
printf '%s\n' "${summary[@]}"
exit $status
