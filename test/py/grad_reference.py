#!/usr/bin/env python3
"""Reference gradients from PyTorch autograd for the gradient compiler's tests (test/autodiff-torch.test.ts).

Loads the paper authors' weights (../shared/data/pretrained/*.pkl) into functional LeNetLike / ResNet-20
forwards written here (eval mode, BatchNorm with running statistics), with every activation replaced by
JumpReLU J(z) = z·1[z > κ] whose autograd derivative is 1[z > κ_grad] (κ_grad = κ unless given), and
computes for a float32 NCHW input batch:
  logits [N, 10]
  loss [N]            per-sample cross-entropy
  ce_grad [N, ...]    ∂(Σ_n loss_n)/∂x
  ld_grad [N, k, ...] ∂(f_candidate − f_label)/∂x for each of the k candidates
  pre<i> [N, ...]     the input of the i-th activation (call order) in the batch-N pass of the cross-entropy
                      gradient, so that a test can tell where the two float32 implementations put a
                      pre-activation on different sides of κ
  ld_pre<i> [N·k, ...] the same in the batch-N·k pass of the logit differences (input tiled k times)
Each is written as little-endian float32 to OUT/<name>.f32, with shapes in OUT/shapes.json.

Usage: grad_reference.py --arch lenet|resnet20 --pkl FILE --input FILE.f32 --shape N,C,H,W
                         --labels 7,2,... --candidates 1,2,3;0,4,5;... --kappa K [--grad-kappa G] --out DIR
Exit codes: 0 ok, 3 torch missing.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"grad_reference: PyTorch/numpy not importable with {sys.executable}: {exc}", file=sys.stderr)
    sys.exit(3)


class Jump(torch.autograd.Function):
    """z·1[z > kappa] forward, gradient g·1[z > grad_kappa]."""

    @staticmethod
    def forward(ctx, z, kappa, grad_kappa):
        ctx.save_for_backward(z)
        ctx.grad_kappa = grad_kappa
        return z * (z > kappa).to(z.dtype)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g * (z > ctx.grad_kappa).to(g.dtype), None, None


class Act:
    """The activation; records every pre-activation of the current forward pass (in call order)."""

    def __init__(self, kappa: float, grad_kappa: float):
        self.kappa, self.grad_kappa = kappa, grad_kappa
        self.record: list[torch.Tensor] | None = []

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        if self.record is not None:
            self.record.append(z.detach().clone())
        return Jump.apply(z, self.kappa, self.grad_kappa)


def lenet(p: dict, x: torch.Tensor, act: Act) -> torch.Tensor:
    x = act(F.max_pool2d(F.conv2d(x, p["conv1.weight"], p["conv1.bias"]), 2))
    x = act(F.max_pool2d(F.conv2d(x, p["conv2.weight"], p["conv2.bias"]), 2))
    x = torch.flatten(x, 1)
    x = act(F.linear(x, p["fc1.weight"], p["fc1.bias"]))
    x = act(F.linear(x, p["fc2.weight"], p["fc2.bias"]))
    return F.linear(x, p["fc3.weight"], p["fc3.bias"])


def bn(p: dict, prefix: str, x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(x, p[prefix + ".running_mean"], p[prefix + ".running_var"], p[prefix + ".weight"],
                        p[prefix + ".bias"], training=False, eps=1e-5)


def resnet20(p: dict, x: torch.Tensor, act: Act) -> torch.Tensor:
    x = act(bn(p, "bn1", F.conv2d(x, p["conv1.weight"], padding=1)))
    for stage in (1, 2, 3):
        for block in range(3):
            pre = f"layer{stage}.{block}"
            stride = 2 if stage > 1 and block == 0 else 1
            out = act(bn(p, pre + ".bn1", F.conv2d(x, p[pre + ".conv1.weight"], stride=stride, padding=1)))
            out = bn(p, pre + ".bn2", F.conv2d(out, p[pre + ".conv2.weight"], padding=1))
            if pre + ".downsample.0.weight" in p:
                shortcut = bn(p, pre + ".downsample.1", F.conv2d(x, p[pre + ".downsample.0.weight"], stride=stride))
            else:
                shortcut = x
            x = act(out + shortcut)
    x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
    return F.linear(x, p["fc.weight"], p["fc.bias"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=["lenet", "resnet20"], required=True)
    ap.add_argument("--pkl", type=Path, required=True)
    ap.add_argument("--input", type=Path, required=True)
    ap.add_argument("--shape", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--candidates", required=True)
    ap.add_argument("--kappa", type=float, default=0.0)
    ap.add_argument("--grad-kappa", type=float, default=None)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()

    state = torch.load(a.pkl, map_location="cpu")
    params = {(k[len("module."):] if k.startswith("module.") else k): v.float() for k, v in state.items()}
    shape = [int(s) for s in a.shape.split(",")]
    x = torch.from_numpy(np.fromfile(a.input, dtype="<f4")[: int(np.prod(shape))].reshape(shape).copy())
    labels = torch.tensor([int(v) for v in a.labels.split(",")])
    candidates = torch.tensor([[int(v) for v in row.split(",")] for row in a.candidates.split(";")])
    act = Act(a.kappa, a.kappa if a.grad_kappa is None else a.grad_kappa)
    forward = lenet if a.arch == "lenet" else resnet20

    xg = x.clone().requires_grad_(True)
    logits = forward(params, xg, act)
    loss = F.cross_entropy(logits, labels, reduction="none")
    (ce_grad,) = torch.autograd.grad(loss.sum(), xg)
    pre = act.record
    act.record = []

    n, k = candidates.shape
    xt = x.unsqueeze(1).expand(n, k, *shape[1:]).reshape(n * k, *shape[1:]).clone().requires_grad_(True)
    lt = forward(params, xt, act).reshape(n, k, -1)
    ld_pre = act.record
    diff = lt.gather(2, candidates.unsqueeze(2)).squeeze(2) - lt.gather(2, labels.view(n, 1, 1).expand(n, k, 1)).squeeze(2)
    (ld_grad,) = torch.autograd.grad(diff.sum(), xt)

    a.out.mkdir(parents=True, exist_ok=True)
    outputs = {
        "logits": logits.detach(), "loss": loss.detach(), "ce_grad": ce_grad,
        "ld_grad": ld_grad.reshape(n, k, *shape[1:]), "differences": diff.detach(),
    }
    for i, z in enumerate(pre):
        outputs[f"pre{i}"] = z
    for i, z in enumerate(ld_pre):
        outputs[f"ld_pre{i}"] = z
    for name, t in outputs.items():
        t.numpy().astype("<f4").tofile(a.out / f"{name}.f32")
    (a.out / "shapes.json").write_text(json.dumps({name: list(t.shape) for name, t in outputs.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
