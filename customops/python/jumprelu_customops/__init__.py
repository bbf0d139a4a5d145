"""The JumpReLU custom-op library for ONNX Runtime (operator com.jumprelu::JumpRelu).

    import onnxruntime as ort, jumprelu_customops
    so = ort.SessionOptions()
    so.register_custom_ops_library(jumprelu_customops.get_library_path())
    session = ort.InferenceSession("model.onnx", so)

Models written by `jumprelu-convert --target custom` use this operator.
"""

from __future__ import annotations

import json
import os

__all__ = ["get_library_path", "manifest", "__version__"]

_HERE = os.path.dirname(os.path.abspath(__file__))

with open(os.path.join(_HERE, "MANIFEST.json"), encoding="utf-8") as _f:
    _MANIFEST = json.load(_f)

__version__ = _MANIFEST.get("package_version", "0.0.0")


def get_library_path(cuda: bool = False) -> str:
    """Absolute path of the library to pass to SessionOptions.register_custom_ops_library.

    cuda=False: CPU kernels (float32, float16). cuda=True: CPU and CUDA kernels (float32, float16, bfloat16;
    for onnxruntime-gpu's CUDAExecutionProvider; it also loads where there is no GPU).
    """
    key = "cuda" if cuda else "cpu"
    lib = _MANIFEST["libraries"].get(key)
    if lib is None:
        raise FileNotFoundError(f"this jumprelu_customops wheel has no {key} library")
    return os.path.join(_HERE, lib["file"])


def manifest() -> dict:
    """What the libraries were built from (sources hash, compiler, ONNX Runtime headers) and their sha256."""
    return json.loads(json.dumps(_MANIFEST))
