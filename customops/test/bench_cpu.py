"""CPU timing of the JumpRelu custom op against ORT's ThresholdedRelu and Relu (informative, not a test).

    python3 customops/test/bench_cpu.py [LIBRARY] [--threads N] [--shape 64,64,56,56]

Builds the library with customops/build.sh when LIBRARY is not given. Reports the median of 30 runs per
model (one op on a float32 tensor; ORT's own output allocation included) after 5 warm-up runs, the
models interleaved round by round.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import subprocess
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

HERE = pathlib.Path(__file__).resolve().parent


def main():
    p = argparse.ArgumentParser()
    p.add_argument("library", nargs="?")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--shape", default="64,64,56,56")
    a = p.parse_args()
    lib = a.library or subprocess.run([str(HERE.parent / "build.sh")], check=True, stdout=subprocess.PIPE,
                                      text=True).stdout.strip().splitlines()[-1]
    shape = [int(v) for v in a.shape.split(",")]
    x = np.random.default_rng(0).normal(0, 1, shape).astype(np.float32)
    mib = x.nbytes / 2**20
    print(f"onnxruntime {ort.__version__}, {a.threads} intra-op threads, x {shape} float32 ({mib:.0f} MiB)")
    sessions = []
    for label, node, domain in (
            ("JumpRelu (custom op)", helper.make_node("JumpRelu", ["x"], ["y"], domain="com.jumprelu", kappa=0.5),
             True),
            ("ThresholdedRelu (ORT)", helper.make_node("ThresholdedRelu", ["x"], ["y"], alpha=0.5), False),
            ("Relu (ORT)", helper.make_node("Relu", ["x"], ["y"]), False)):
        g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
        opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("com.jumprelu", 1)] if domain else [])
        m = helper.make_model(g, opset_imports=opsets)
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.register_custom_ops_library(lib)
        s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
        for _ in range(5):
            s.run(None, {"x": x})
        sessions.append((label, s, []))
    # interleaved rounds, so that load from other processes on the machine hits every model alike
    for _ in range(30):
        for _, s, times in sessions:
            t0 = time.perf_counter()
            s.run(None, {"x": x})
            times.append(time.perf_counter() - t0)
    for label, _, times in sessions:
        ms = statistics.median(times) * 1000
        print(f"  {label:24s} median {ms:8.2f} ms  ({2 * mib / 1024 / (ms / 1000):5.1f} GiB/s read+write)")

if __name__ == "__main__":
    main()
