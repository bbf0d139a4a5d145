#!/usr/bin/env python3
"""PyTorch's backward/forward time ratio for the zoo models of test/py/zoo_reference.py (same builders,
random weights), for bench/grad.bench.ts --zoo: per model and batch, the median time of a forward pass
under no_grad and of forward + backward of the summed cross-entropy w.r.t. the input (what FGSM runs),
alternated, on the given number of threads. Prints JSON {model: {batch: {forward_ms, ce_ms}}}.

Usage: torch_grad_ratio.py --models a,b --batches 1,16 --threads 2 --runs 10
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test" / "py"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import zoo_reference as zoo  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", required=True)
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out: dict = {}
    for name in a.models.split(","):
        builder, size = zoo.ZOO[name][:2]
        torch.manual_seed(0)
        model = builder()
        zoo.calibrate(model, size)
        out[name] = {}
        for n in [int(b) for b in a.batches.split(",")]:
            x = torch.randn(n, 3, size, size)
            labels = torch.arange(n) % zoo.CLASSES
            fwd, ce = [], []

            def forward():
                with torch.no_grad():
                    model(x)

            def gradient():
                xg = x.clone().requires_grad_(True)
                torch.autograd.grad(F.cross_entropy(model(xg), labels, reduction="sum"), xg)

            forward(); gradient()
            for _ in range(a.runs):
                t0 = time.perf_counter(); forward(); fwd.append(time.perf_counter() - t0)
                t0 = time.perf_counter(); gradient(); ce.append(time.perf_counter() - t0)
            out[name][n] = {"forward_ms": 1e3 * statistics.median(fwd), "ce_ms": 1e3 * statistics.median(ce)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
