"""Where the time of each JumpReLU lowering goes in Python ONNX Runtime (CPU), against the ReLU model.

    python3 bench/customops_breakdown.py [--lib LIB] [--batches 1,64] [--threads 1] [--runs-small 200]
                                         [--runs-large 10] [--keep DIR] [--json OUT]

For the authors' LeNetLike and ResNet-20 (fixtures/.cache, `npm run fixtures:authors`), converted by the
project's CLI to thresholded-relu / where / function / custom, plus one candidate lowering built here
(relu+thresholded-relu: a Relu before each ThresholdedRelu, exact for κ >= 0), this prints
  1. what ORT makes of each model: the node types of the optimised graph that ORT writes with
     SessionOptions.optimized_model_filepath, at ORT_ENABLE_ALL (what users get: NCHWc layout) and at
     ORT_ENABLE_EXTENDED (no layout change), with fused activations ("Conv+Relu") and the NCHWc Conv's
     fused residual input ("+Sum") spelled out;
  2. ORT's own profile (enable_profiling) of the same sessions: the kernel time per run summed by
     category — conv, NCHWc reorders (ReorderInput/ReorderOutput), the activation kernels (Relu,
     ThresholdedRelu, Greater, Where, JumpRelu), residual Adds left unfused, the rest — and the run time
     (the profile's model_run event) minus the kernels' sum, which is the executor's per-node cost;
  3. for each lowering, its extra time over the ReLU model by category, at both levels.
Profiled runs are slower than plain ones (ORT records every node); bench/customops.bench.py measures the
plain latency. The sessions run interleaved, the order alternating between rounds, so load hits all alike;
the per-category times are medians over runs.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import statistics
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

from customops_common import CACHE, MODELS, PREBUILT_LIB, TARGETS, convert, require_inputs
LEVELS = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL, "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED}
CATEGORIES = ["conv", "reorder", "activation", "add", "other", "executor"]
ACTIVATIONS = {"Relu", "ThresholdedRelu", "Greater", "Where", "JumpRelu"}


def relu_then_threshold(src: pathlib.Path, dest: pathlib.Path) -> None:
    """The candidate lowering Relu -> ThresholdedRelu(κ) of every thresholded-relu site (exact for κ >= 0:
    Relu changes only values <= 0, which ThresholdedRelu maps to +0 anyway). Relu first lets ORT fuse it
    into the Conv; the question is whether that saves anything."""
    m = onnx.load(str(src))
    nodes = []
    for n in m.graph.node:
        if n.op_type == "ThresholdedRelu" and n.domain == "":
            mid = n.input[0] + "_relu_first"
            nodes.append(onnx.helper.make_node("Relu", [n.input[0]], [mid], name=n.name + "_relu_first"))
            n.input[0] = mid
        nodes.append(n)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    onnx.save(m, str(dest))


def category(op: str) -> str:
    if op in ("Conv", "FusedConv"):
        return "conv"
    if op in ("ReorderInput", "ReorderOutput"):
        return "reorder"
    if op in ACTIVATIONS:
        return "activation"
    if op in ("Add", "Sum"):
        return "add"
    return "other"


def graph_summary(path: pathlib.Path) -> dict[str, int]:
    """Node types of an optimised model; 'nchwc::Conv+Relu+Sum' is an NCHWc Conv with a fused Relu and residual."""
    counts: collections.Counter[str] = collections.Counter()
    for n in onnx.load(str(path)).graph.node:
        domain = {"": "", "com.microsoft": "ms::", "com.microsoft.nchwc": "nchwc::"}.get(n.domain, n.domain + "::")
        key = domain + n.op_type
        act = next((a.s.decode() for a in n.attribute if a.name == "activation"), None)
        if act:
            key += "+" + act
        if domain == "nchwc::" and n.op_type == "Conv" and len(n.input) > 3 and n.input[3]:
            key += "+Sum"
        counts[key] += 1
    return dict(sorted(counts.items()))


def options(lib: str, threads: int, level: str) -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = LEVELS[level]
    so.register_custom_ops_library(lib)
    return so


def per_run_categories(profile: pathlib.Path) -> list[dict[str, float]]:
    """Per run (model_run event), the kernel microseconds summed by category, plus the executor's rest."""
    events = json.loads(profile.read_text())
    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    kernels = sorted((e for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")),
                     key=lambda e: e["ts"])
    out = []
    k = 0
    for r in runs:
        sums = dict.fromkeys(CATEGORIES, 0.0)
        end = r["ts"] + r["dur"]
        while k < len(kernels) and kernels[k]["ts"] < r["ts"]:
            k += 1
        while k < len(kernels) and kernels[k]["ts"] <= end:
            sums[category(kernels[k]["args"]["op_name"])] += kernels[k]["dur"]
            k += 1
        sums["executor"] = r["dur"] - sum(sums[c] for c in CATEGORIES if c != "executor")
        sums["total"] = float(r["dur"])
        out.append(sums)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--lib", default=str(PREBUILT_LIB))
    p.add_argument("--batches", default="1,64")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs-small", type=int, default=200, help="profiled runs per session at batch 1")
    p.add_argument("--runs-large", type=int, default=10, help="profiled runs per session at larger batches")
    p.add_argument("--models", default="LeNetLike,ResNet-20")
    p.add_argument("--keep", help="write the converted and the optimised models here")
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args()
    models = [m for m in MODELS if m[0] in a.models.split(",")]
    require_inputs(a.lib, models)
    print(f"onnxruntime {ort.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
          f"{a.threads} intra-op thread(s); library {a.lib}")
    results = []
    with tempfile.TemporaryDirectory() as tmpdir:
        work = pathlib.Path(a.keep or tmpdir)
        work.mkdir(parents=True, exist_ok=True)
        for label, stem, kappa, chw in models:
            files = {"relu": CACHE / f"{stem}.onnx"}
            for t in TARGETS:
                files[t] = work / f"{stem}-{t}.onnx"
                convert(files["relu"], files[t], kappa, t)
            files["relu+thresholded-relu"] = work / f"{stem}-relu+thresholded-relu.onnx"
            relu_then_threshold(files["thresholded-relu"], files["relu+thresholded-relu"])
            print(f"\n## {label} (κ = {kappa}): optimised graphs")
            graphs = {}
            for level in LEVELS:
                for k, f in files.items():
                    so = options(a.lib, a.threads, level)
                    so.optimized_model_filepath = str(work / f"{stem}-{k}.opt-{level}.onnx")
                    ort.InferenceSession(str(f), so, providers=["CPUExecutionProvider"])
                    graphs[(k, level)] = graph_summary(pathlib.Path(so.optimized_model_filepath))
                    print(f"{level:8} {k:16} {graphs[(k, level)]}")
            for batch in (int(b) for b in a.batches.split(",")):
                x = np.random.default_rng(0).normal(size=(batch, *chw)).astype(np.float32)
                runs = a.runs_small if batch == 1 else a.runs_large
                sessions = {}
                for level in LEVELS:
                    for k, f in files.items():
                        so = options(a.lib, a.threads, level)
                        so.enable_profiling = True
                        so.profile_file_prefix = str(work / f"profile-{stem}-{k}-{level}-b{batch}")
                        sessions[(k, level)] = ort.InferenceSession(str(f), so, providers=["CPUExecutionProvider"])
                feeds = {key: {s.get_inputs()[0].name: x} for key, s in sessions.items()}
                for key, s in sessions.items():  # a breakdown of a wrong model would mean nothing
                    if key[0] not in ("relu", "thresholded-relu"):
                        # Against thresholded-relu at the same level: ORT's NCHWc and plain convolutions round
                        # differently, which can flip a site across κ between levels.
                        ref_key = ("thresholded-relu", key[1])
                        ref = sessions[ref_key].run(None, feeds[ref_key])[0]
                        out = s.run(None, feeds[key])[0]
                        assert np.allclose(out, ref, rtol=1e-4, atol=1e-4), (label, key)
                order = list(sessions)
                for r in range(runs):
                    for key in (order if r % 2 == 0 else order[::-1]):
                        sessions[key].run(None, feeds[key])
                med = {}
                for key, s in sessions.items():
                    per_run = per_run_categories(pathlib.Path(s.end_profiling()))[-runs:]
                    med[key] = {c: statistics.median(r[c] for r in per_run) / 1e3 for c in CATEGORIES + ["total"]}
                print(f"\n### {label} batch {batch}, {a.threads} thread(s): median ms per profiled run "
                      f"({runs} runs each), load average {os.getloadavg()[0]:.1f}")
                print("| model | level | total | " + " | ".join(CATEGORIES) + " | extra over ReLU (same level) |")
                print("|---|---|---|" + "---|" * len(CATEGORIES) + "---|")
                for (k, level), m in med.items():
                    base = med[("relu", level)]
                    extra = "" if k == "relu" else ", ".join(
                        f"{c} {m[c] - base[c]:+.3f}" for c in CATEGORIES if abs(m[c] - base[c]) >= 0.0005)
                    print(f"| {k} | {level} | {m['total']:.3f} | " + " | ".join(f"{m[c]:.3f}" for c in CATEGORIES) +
                          f" | {extra} |")
                results.append({"model": label, "kappa": kappa, "batch": batch, "threads": a.threads, "runs": runs,
                                "load": os.getloadavg()[0],
                                "graphs": {f"{k}/{lv}": g for (k, lv), g in graphs.items()},
                                "median_ms": {f"{k}/{lv}": m for (k, lv), m in med.items()}})
                for s in sessions.values():
                    del s
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps({"onnxruntime": ort.__version__, "results": results}, indent=2))


if __name__ == "__main__":
    main()
