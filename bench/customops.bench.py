"""Inference cost of each JumpReLU lowering in Python ONNX Runtime (CPU), against the ReLU model.

    npm run bench:customops              (= npm run build && python3 bench/customops.bench.py)
    python3 bench/customops.bench.py [--lib LIB] [--rounds-small 300] [--rounds-large 15] [--json OUT]

Models: the paper authors' LeNetLike (MNIST, κ = 1) and ResNet-20 (CIFAR-10, κ = 0.05), exported to ONNX in
fixtures/.cache (npm run fixtures:authors; needs ../shared/data). Each is converted by the project's CLI to
the targets thresholded-relu, where, function and custom; the unconverted model is the ReLU baseline.
For batch 1 and 64 and 1 and 2 intra-op threads, the five models run interleaved: in every round each runs
once, the order alternating forwards and backwards between rounds, so machine load hits all alike. Reported:
the median latency of each model and its ratio to the ReLU model's median in the same run. ORT's default
graph optimisations (what users get). The custom library is the prebuilt CPU one (customops/prebuilt) or
--lib.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import tempfile
import time

import numpy as np
import onnxruntime as ort

from customops_common import CACHE, MODELS, PREBUILT_LIB, TARGETS, convert, require_inputs


def session(path: pathlib.Path, lib: str, threads: int) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.register_custom_ops_library(lib)
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--lib", default=str(PREBUILT_LIB))
    p.add_argument("--rounds-small", type=int, default=300, help="rounds at batch 1")
    p.add_argument("--rounds-large", type=int, default=15, help="rounds at batch 64")
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args()
    require_inputs(a.lib, MODELS)
    print(f"onnxruntime {ort.__version__}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; library {a.lib}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, stem, kappa, chw in MODELS:
            files = {"relu": CACHE / f"{stem}.onnx"}
            for t in TARGETS:
                files[t] = pathlib.Path(tmp) / f"{stem}-{t}.onnx"
                convert(files["relu"], files[t], kappa, t)
            for batch in (1, 64):
                x = np.random.default_rng(0).normal(size=(batch, *chw)).astype(np.float32)
                for threads in (1, 2):
                    sessions = {k: session(f, a.lib, threads) for k, f in files.items()}
                    feeds = {k: {s.get_inputs()[0].name: x} for k, s in sessions.items()}
                    outs = {k: s.run(None, feeds[k])[0] for k, s in sessions.items()}
                    for k in TARGETS:  # same function: a bench of a wrong model would mean nothing
                        assert np.allclose(outs[k], outs["thresholded-relu"], rtol=1e-4, atol=1e-4), (label, k)
                    for _ in range(3):
                        for k, s in sessions.items():
                            s.run(None, feeds[k])
                    times = {k: [] for k in sessions}
                    order = list(sessions)
                    rounds = a.rounds_small if batch == 1 else a.rounds_large
                    for r in range(rounds):
                        for k in (order if r % 2 == 0 else order[::-1]):
                            t0 = time.perf_counter()
                            sessions[k].run(None, feeds[k])
                            times[k].append(time.perf_counter() - t0)
                    med = {k: statistics.median(v) for k, v in times.items()}
                    row = {"model": label, "kappa": kappa, "batch": batch, "threads": threads, "rounds": rounds,
                           "median_ms": {k: round(v * 1e3, 4) for k, v in med.items()},
                           "ratio_to_relu": {k: round(med[k] / med["relu"], 3) for k in med}}
                    results.append(row)
                    print(f"{label:9} batch {batch:2} threads {threads}: relu {med['relu'] * 1e3:8.3f} ms | " +
                          " | ".join(f"{k} {row['ratio_to_relu'][k]:.3f}x" for k in TARGETS) +
                          f" | custom/thresholded-relu {med['custom'] / med['thresholded-relu']:.3f}", flush=True)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f} (the ratios are fairer than the times on a shared machine)")
    print("\n| model | batch | threads | ReLU ms | " + " | ".join(TARGETS) + " | custom / thresholded-relu |")
    print("|---|---|---|---|" + "---|" * len(TARGETS) + "---|")
    for r in results:
        m = r["median_ms"]
        print(f"| {r['model']} | {r['batch']} | {r['threads']} | {m['relu']:.3f} | " +
              " | ".join(f"{r['ratio_to_relu'][k]:.2f}×" for k in TARGETS) +
              f" | {m['custom'] / m['thresholded-relu']:.2f} |")
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps({"onnxruntime": ort.__version__, "load_average_end": os.getloadavg()[0],
                                                    "results": results}, indent=2))


if __name__ == "__main__":
    main()
