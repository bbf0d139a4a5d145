"""ONNX Runtime CUDA-EP part of the GPU check (run by customops/gpu-check.sh when onnxruntime-gpu is present).

    python3 gpu_check_ort.py LIBRARY

1. Placement: the JumpRelu nodes run on CUDAExecutionProvider (from the session profile).
2. Correctness on the CUDA EP, bit for bit: float32 and float16 against the CPU kernels of the same library
   (CPU session), bfloat16 (Cast float->bf16 -> JumpRelu -> Cast back) against Cast -> Cast -> JumpRelu(float)
   on the same CUDA EP; scalar and per-channel kappa, odd sizes, special values.
3. Stream ordering: Conv -> JumpRelu -> Conv -> JumpRelu run repeatedly on the CUDA EP and compared with the
   same network with ONNX's ThresholdedRelu (ORT's own CUDA kernel). A kernel launched on a stream other
   than ORT's compute stream lets the following Conv read stale data, which shows up here.
4. Timing (informative): JumpRelu vs ThresholdedRelu vs Relu on [64, 256, 56, 56] float32 with I/O bound to
   the GPU.
Exit status 0 when 1-3 pass.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

DOMAIN = "com.jumprelu"
CUDA = ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "DEFAULT"})


def model(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(DOMAIN, 1)])
    m.ir_version = 8
    return m


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def session(m, lib, cuda=True, profile=False):
    so = ort.SessionOptions()
    so.register_custom_ops_library(lib)
    so.log_severity_level = 3
    if profile:
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "prof")
    providers = [CUDA, "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
    return ort.InferenceSession(m.SerializeToString(), so, providers=providers)


def same_bits(a, b):
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    u = {2: np.uint16, 4: np.uint32}[a.dtype.itemsize]
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.view(u), b.view(u))


def data(n, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1.5, n).astype(np.float32)
    specials = np.array([0.0, -0.0, 0.5, -0.5, np.nan, np.inf, -np.inf, 1e-45, 1e-8], np.float32)
    if n:
        idx = rng.integers(0, n, size=min(n, 64))
        x[idx] = np.resize(specials, idx.size)
    return x.astype(dtype)


failures = []


def check(name, ok):
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        failures.append(name)


def main(lib):
    print(f"onnxruntime {ort.__version__}, providers {ort.get_available_providers()}")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        print("no CUDAExecutionProvider in this onnxruntime: skipped")
        return 0

    # 1. placement
    m = model([helper.make_node("JumpRelu", ["x"], ["y"], domain=DOMAIN, kappa=0.5)],
              [vi("x", TensorProto.FLOAT, ["n"])], [vi("y", TensorProto.FLOAT, ["n"])])
    s = session(m, lib, profile=True)
    s.run(None, {"x": data(1000, np.float32, 0)})
    prof = s.end_profiling()
    with open(prof) as f:
        events = json.load(f)
    providers = {e["args"].get("provider") for e in events
                 if e.get("cat") == "Node" and e.get("args", {}).get("op_name") == "JumpRelu"}
    check(f"JumpRelu placed on {sorted(p for p in providers if p)}", providers == {"CUDAExecutionProvider"})

    # 2. correctness: float32 / float16 against the CPU kernels
    for np_t, onnx_t in ((np.float32, TensorProto.FLOAT), (np.float16, TensorProto.FLOAT16)):
        for kappa in (0.0, 0.5, -0.5, float("nan"), float("inf")):
            m = model([helper.make_node("JumpRelu", ["x"], ["y"], domain=DOMAIN, kappa=kappa)],
                      [vi("x", onnx_t, ["n"])], [vi("y", onnx_t, ["n"])])
            gpu, cpu = session(m, lib), session(m, lib, cuda=False)
            for n in (0, 1, 7, 1023, 4097, (1 << 20) + 3):
                x = data(n, np_t, n)
                check(f"{np_t.__name__} kappa={kappa} n={n}", same_bits(gpu.run(None, {"x": x})[0],
                                                                        cpu.run(None, {"x": x})[0]))
        for shape in ((2, 3, 5, 7), (4, 64, 56, 56), (8, 3), (3, 5, 1), (2, 16, 8)):
            m = model([helper.make_node("JumpRelu", ["x", "k"], ["y"], domain=DOMAIN)],
                      [vi("x", onnx_t, list(shape)), vi("k", onnx_t, [shape[1]])], [vi("y", onnx_t, list(shape))])
            gpu, cpu = session(m, lib), session(m, lib, cuda=False)
            x = data(int(np.prod(shape)), np_t, 1).reshape(shape)
            k = np.linspace(-1, 2, shape[1]).astype(np_t)
            k[0] = np.nan
            check(f"{np_t.__name__} per-channel {shape}",
                  same_bits(gpu.run(None, {"x": x, "k": k})[0], cpu.run(None, {"x": x, "k": k})[0]))

    # bfloat16 on the CUDA EP only
    for kappa in (0.0, 0.5, -0.5):
        bf = model([helper.make_node("Cast", ["x"], ["xb"], to=TensorProto.BFLOAT16),
                    helper.make_node("JumpRelu", ["xb"], ["yb"], domain=DOMAIN, kappa=kappa),
                    helper.make_node("Cast", ["yb"], ["y"], to=TensorProto.FLOAT)],
                   [vi("x", TensorProto.FLOAT, ["n"])], [vi("y", TensorProto.FLOAT, ["n"])])
        ref = model([helper.make_node("Cast", ["x"], ["xb"], to=TensorProto.BFLOAT16),
                     helper.make_node("Cast", ["xb"], ["xf"], to=TensorProto.FLOAT),
                     helper.make_node("JumpRelu", ["xf"], ["y"], domain=DOMAIN, kappa=kappa)],
                    [vi("x", TensorProto.FLOAT, ["n"])], [vi("y", TensorProto.FLOAT, ["n"])])
        a, b = session(bf, lib), session(ref, lib)
        for n in (1, 7, 4097, (1 << 20) + 3):
            x = data(n, np.float32, n)
            check(f"bfloat16 kappa={kappa} n={n}", same_bits(a.run(None, {"x": x})[0], b.run(None, {"x": x})[0]))

    # 3. stream ordering
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.normal(0, 0.1, (64, 64, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.normal(0, 0.1, (64, 64, 3, 3)).astype(np.float32), "w2")

    def net(act):
        def a(i, o):
            if act == "JumpRelu":
                return helper.make_node("JumpRelu", [i], [o], domain=DOMAIN, kappa=0.05)
            return helper.make_node("ThresholdedRelu", [i], [o], alpha=0.05)
        nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]), a("c1", "a1"),
                 helper.make_node("Conv", ["a1", "w2"], ["c2"], pads=[1, 1, 1, 1]), a("c2", "a2"),
                 helper.make_node("Conv", ["a2", "w1"], ["c3"], pads=[1, 1, 1, 1]), a("c3", "y")]
        return model(nodes, [vi("x", TensorProto.FLOAT, [16, 64, 56, 56])],
                     [vi("y", TensorProto.FLOAT, [16, 64, 56, 56])], [w1, w2])

    sj, st = session(net("JumpRelu"), lib), session(net("ThresholdedRelu"), lib)
    worst = 0.0
    for i in range(30):
        x = rng.normal(0, 1, (16, 64, 56, 56)).astype(np.float32)
        yj, yt = sj.run(None, {"x": x})[0], st.run(None, {"x": x})[0]
        worst = max(worst, float(np.max(np.abs(yj - yt))))
    check(f"Conv/JumpRelu chain vs ThresholdedRelu chain, 30 runs, max |diff| = {worst:g}", worst <= 1e-4)

    # 4. timing with I/O on the device
    shape = [64, 256, 56, 56]
    x = ort.OrtValue.ortvalue_from_numpy(rng.normal(0, 1, shape).astype(np.float32), "cuda", 0)
    y = ort.OrtValue.ortvalue_from_shape_and_type(shape, np.float32, "cuda", 0)
    print(f"\ntiming on {shape} float32 ({4 * np.prod(shape) / 2**20:.0f} MiB per tensor), I/O bound to the GPU:")
    for label, node in (("JumpRelu (this library)", helper.make_node("JumpRelu", ["x"], ["y"], domain=DOMAIN,
                                                                        kappa=0.5)),
                        ("ThresholdedRelu (ORT)", helper.make_node("ThresholdedRelu", ["x"], ["y"], alpha=0.5)),
                        ("Relu (ORT)", helper.make_node("Relu", ["x"], ["y"]))):
        s = session(model([node], [vi("x", TensorProto.FLOAT, shape)], [vi("y", TensorProto.FLOAT, shape)]), lib)
        b = s.io_binding()
        b.bind_ortvalue_input("x", x)
        b.bind_ortvalue_output("y", y)
        for _ in range(5):
            s.run_with_iobinding(b)
        t0 = time.perf_counter()
        iters = 50
        for _ in range(iters):
            s.run_with_iobinding(b)
        b.synchronize_outputs()
        ms = (time.perf_counter() - t0) * 1000 / iters
        gbs = 2 * 4 * np.prod(shape) / (ms * 1e6)
        print(f"  {label:28s} {ms:8.3f} ms/run  {gbs:7.1f} GB/s (incl. ORT overhead per run)")

    print(f"\nORT CUDA-EP check: {'FAILED: ' + ', '.join(failures) if failures else 'passed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
