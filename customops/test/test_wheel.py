"""The Python wheel jumprelu_customops (customops/python/build_wheel.py): built from the prebuilt libraries,
installed with pip from the file (no index), and used through get_library_path() by Python onnxruntime on
models converted with --target custom: the bundled LeNetLike, and when their ONNX exports are cached
(fixtures/.cache, `npm run fixtures:authors`) the authors' LeNetLike and ResNet-20, each against the
thresholded-relu conversion of the same model.

The prebuilt libraries are those in customops/prebuilt/linux-x64 (`npm run build:prebuilt`); without them
the CPU one is built into a temporary folder. Converting needs node and the compiled dist/ (npm run build).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent
CUSTOMOPS = HERE.parent
REPO = CUSTOMOPS.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> pathlib.Path:
    tmp = tmp_path_factory.mktemp("wheel")
    prebuilt = CUSTOMOPS / "prebuilt" / "linux-x64"
    if not (prebuilt / "MANIFEST.json").exists():
        prebuilt = tmp / "prebuilt"
        subprocess.run([str(CUSTOMOPS / "build-prebuilt.sh"), str(prebuilt)], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "JUMPRELU_PREBUILT_CUDA": "0"})
    wheel = subprocess.run([sys.executable, str(CUSTOMOPS / "python" / "build_wheel.py"), "--prebuilt", str(prebuilt),
                            "--out", str(tmp / "dist")], check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "jumprelu_customops/libjumprelu_customops.so" in names
        assert z.testzip() is None
    site = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--no-index", "--target", str(site), wheel], check=True)
    return site


def run_in_site(site: pathlib.Path, code: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(site)}
    r = subprocess.run([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_get_library_path(installed):
    out = run_in_site(installed, """
import json, os, jumprelu_customops as j
p = j.get_library_path()
print(json.dumps({"path": p, "exists": os.path.isfile(p), "version": j.__version__,
                  "kinds": sorted(j.manifest()["libraries"])}))
""")
    info = json.loads(out)
    assert info["exists"] and info["path"].startswith(str(installed))
    assert info["version"] == json.loads((REPO / "package.json").read_text())["version"]
    assert "cpu" in info["kinds"]


def converted_pairs(tmp: pathlib.Path) -> list[tuple[str, str, list[int]]]:
    node = shutil.which("node")
    cli = REPO / "dist" / "src" / "cli" / "jumprelu-convert.js"
    if node is None or not cli.exists():
        pytest.skip("node or dist/ (npm run build) is missing: cannot convert models")
    models = [(REPO / "fixtures" / "default" / "lenet_mnist_baseline.onnx", 1.0, [4, 1, 28, 28])]
    cache = REPO / "fixtures" / ".cache"
    for name, kappa, shape in (("lenet_baseline", 1.0, [4, 1, 28, 28]), ("resnet20_baseline", 0.05, [4, 3, 32, 32])):
        if (cache / f"{name}.onnx").exists():
            models.append((cache / f"{name}.onnx", kappa, shape))
    pairs = []
    for model, kappa, shape in models:
        out = []
        for target in ("custom", "thresholded-relu"):
            dest = tmp / f"{model.stem}-{target}.onnx"
            subprocess.run([node, str(cli), str(model), str(dest), "--kappa", str(kappa), "--target", target],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            out.append(str(dest))
        pairs.append((out[0], out[1], shape))
    return pairs


def test_converted_models_run_with_the_wheel(installed, tmp_path):
    pairs = converted_pairs(tmp_path)
    out = run_in_site(installed, """
import json, sys, numpy as np, onnxruntime as ort, jumprelu_customops as j
libs = [j.get_library_path()] + ([j.get_library_path(cuda=True)] if "cuda" in j.manifest()["libraries"] else [])
for arg in sys.argv[1:]:
    custom, ref, shape = arg.split("|")
    shape = [int(v) for v in shape.split(",")]
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    r = ort.InferenceSession(ref, so, providers=["CPUExecutionProvider"])
    want = r.run(None, {r.get_inputs()[0].name: x})[0]
    for lib in libs:
        so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.register_custom_ops_library(lib)
        s = ort.InferenceSession(custom, so, providers=["CPUExecutionProvider"])
        got = s.run(None, {s.get_inputs()[0].name: x})[0]
        print(json.dumps({"model": custom, "lib": lib, "identical": bool(np.array_equal(got, want))}))
""", *[f"{c}|{r}|{','.join(map(str, s))}" for c, r, s in pairs])
    results = [json.loads(line) for line in out.strip().splitlines()]
    assert len(results) >= len(pairs)
    for res in results:
        assert res["identical"], res
