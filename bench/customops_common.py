"""What bench/customops.bench.py and bench/customops_breakdown.py share: the authors' models and κ, the
lowering targets, the conversion through the project's CLI, and the check that the library and the fixtures
are there (one message for both scripts)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
CACHE = REPO / "fixtures" / ".cache"
PREBUILT_LIB = REPO / "customops" / "prebuilt" / "linux-x64" / "libjumprelu_customops.so"
TARGETS = ["thresholded-relu", "where", "function", "custom"]
# (label, file stem in fixtures/.cache, κ, input C×H×W)
MODELS = [("LeNetLike", "lenet_baseline", 1.0, (1, 28, 28)), ("ResNet-20", "resnet20_baseline", 0.05, (3, 32, 32))]


def convert(src: pathlib.Path, dest: pathlib.Path, kappa: float, target: str) -> None:
    cli = REPO / "dist" / "src" / "cli" / "jumprelu-convert.js"
    subprocess.run(["node", str(cli), str(src), str(dest), "--kappa", str(kappa), "--target", target], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def require_inputs(lib: str, models: list) -> None:
    """Exits with one line when the custom-op library or one of the models' fixtures is missing."""
    if not os.path.exists(lib):
        sys.exit(f"no custom-op library at {lib}: run `npm run build:prebuilt` (or pass --lib)")
    missing = [f for _, f, _, _ in models if not (CACHE / f"{f}.onnx").exists()]
    if missing:
        sys.exit(f"missing {', '.join(missing)} in {CACHE}: run `npm run fixtures:authors` (needs ../shared/data)")
