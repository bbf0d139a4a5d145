"""Runs converter outputs in Python onnxruntime with the custom-op library and compares them.

usage: compare_custom.py LIB INPUT.f32 N,C,H,W CUSTOM.onnx REFERENCE.onnx [CUSTOM.onnx REFERENCE.onnx ...]
Prints one JSON line per pair: bit-identity without graph optimisations, and the largest relative
difference with ORT's default optimisations.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def session(path, lib=None, optimize=True):
    opts = ort.SessionOptions()
    if not optimize:
        # Graph optimisations fuse ops differently around a custom op (e.g. Conv+Add), which reorders
        # float additions; without them both models run the same kernels in the same order.
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if lib:
        opts.register_custom_ops_library(lib)
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def main():
    lib, input_path, shape = sys.argv[1], sys.argv[2], [int(d) for d in sys.argv[3].split(",")]
    x = np.fromfile(input_path, dtype="<f4").reshape(shape)
    rest = sys.argv[4:]
    for custom, reference in zip(rest[0::2], rest[1::2]):
        onnx.checker.check_model(onnx.load(custom), full_check=True)
        out = {}
        for optimize in (False, True):
            a = session(custom, lib, optimize)
            b = session(reference, None, optimize)
            ya = a.run(None, {a.get_inputs()[0].name: x})[0]
            yb = b.run(None, {b.get_inputs()[0].name: x})[0]
            out[optimize] = (bool(ya.tobytes() == yb.tobytes()), float(np.max(np.abs(ya - yb) / (1 + np.abs(yb)))))
        print(json.dumps({
            "custom": custom, "reference": reference,
            "identical": out[False][0],
            "max_abs_diff": out[False][1],
            "optimized_max_rel_diff": out[True][1],
            "custom_nodes": sum(1 for n in onnx.load(custom).graph.node if n.domain == "com.jumprelu"),
        }))


if __name__ == "__main__":
    main()
