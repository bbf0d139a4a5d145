#!/usr/bin/env python3
"""The vision zoo for the gradient compiler's tests (test/autodiff-zoo.test.ts): builds torchvision and timm
classifiers with random weights, exports each to ONNX with the TorchScript exporter or the dynamo exporter, and
writes PyTorch autograd's gradients for the test to compare with.

Per model (OUT/<name>/): model.onnx (input 'input' [N, 3, S, S], output 'logits' [N, 10], N symbolic),
and little-endian float32 files, shapes in shapes.json:
  input [N, 3, S, S]     a random batch (N = 2; BATCHES below for models that need more)
  cotangent [N, 10]      a random cotangent for the vjp
  logits, loss [N], vjp_grad, ce_grad [N, 3, S, S], ld_grad [N, k, 3, S, S], differences [N, k]
  labels, candidates     as JSON in meta.json (with the opset, image size, parameter count, κ)
  pre<i>                 the input of the i-th ReLU / ReLU6 / hardswish / hardsigmoid call (kinds in meta.json
                         "activations") in the forward pass at batch N that the vjp and cross-entropy gradients
                         are taken from
  pool<i>                the input of the i-th F.max_pool2d call (count in meta.json "pools"), same pass
  ld_pre<i>, ld_pool<i>  the same in the forward pass at batch N·k (the input tiled sample-major, as the ONNX
                         gradient model tiles it) that the logit-difference gradients are taken from: a
                         convolution at another batch size may round differently (another kernel or
                         blocking), so each gradient is checked against the pass it came from
and, for models that have ReLUs, the same gradients of the model with every ReLU replaced by JumpReLU
z·1[z > κ] (derivative 1[z > κ]) in jump_*.f32, for the test to compare with the ONNX model retrofitted
by the project's own pass.

Random weights: each model is built with torch.manual_seed; BatchNorm running statistics are set by
forward passes in training mode over random images (so activations have realistic scales instead of
growing through depth); a linear layer initialised to zeros (torchvision ViT's head) gets random weights.

Configurations (ZOO): every model of MODELS exported by the TorchScript exporter at opsets 13 and 17 and by the dynamo
exporter at 18 and 20, named <model>_ts13, _ts17, _dynamo18, _dynamo20, plus dynamo-only extras. One process builds
any number of them; each model is built and its gradients computed once, then exported in each of its configurations.
After each configuration's folder is complete the script prints "zoo-built <configuration>".

Usage: zoo_reference.py --out DIR [--models a,b,…] [--list]
Exit codes: 0 ok, 3 torch/torchvision missing (a timm model without timm, or a dynamo configuration under a torch
without the dynamo exporter, gets OUT/<name>/skipped.txt).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
    from torchvision import models as tvm
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"zoo_reference: torch/torchvision not importable with {sys.executable}: {exc}", file=sys.stderr)
    sys.exit(3)

CLASSES = 10
BATCH = 2
# Models that need more samples for some to be free of flips (test/autodiff-zoo.test.ts leaves out a sample whose
# pre-activation the two float32 programs put on different sides of a kink, or whose MaxPool window arg-max
# differs, and requires one compared sample per run and gradient mode): googlenet's JumpReLU run has arg-max
# near-ties in its inception branches' 3×3 stride-1 pools in most samples (both of 2 on the 2026-12-02 machine).
BATCHES = {"googlenet": 8}
CANDIDATES = 3
KAPPA = 0.05


def vgg11_bn_small() -> nn.Module:
    # vgg11_bn's convolutional features as they are; its 25088×4096 classifier (100 M weights, built for
    # 224 px) replaced by a small one after a global pool.
    m = tvm.vgg11_bn(num_classes=CLASSES)
    m.avgpool = nn.AdaptiveAvgPool2d(1)
    m.classifier = nn.Sequential(nn.Linear(512, 64), nn.ReLU(True), nn.Dropout(), nn.Linear(64, CLASSES))
    return m


def vit_b_16_narrow() -> nn.Module:
    # torchvision's VisionTransformer (vit_b_16's code: patch 16, class token, nn.MultiheadAttention) at
    # 64 px, 2 layers of width 192 instead of 12 of width 768 (the same ops, 1/40 of the weights).
    from torchvision.models.vision_transformer import VisionTransformer
    return VisionTransformer(image_size=64, patch_size=16, num_layers=2, num_heads=3, hidden_dim=192, mlp_dim=768, num_classes=CLASSES)


def swin_t_narrow() -> nn.Module:
    # torchvision's SwinTransformer (swin_t's code: windows 7 padded, shifted every second block, patch
    # merging, relative position bias) with two stages of depth 2 and width 48 instead of [2, 2, 6, 2] and
    # 96; at 32 px the first stage's 8×8 map is padded to 14×14 and shifted.
    from torchvision.models.swin_transformer import SwinTransformer
    return SwinTransformer(patch_size=[4, 4], embed_dim=48, depths=[2, 2], num_heads=[3, 6], window_size=[7, 7],
                           stochastic_depth_prob=0.0, num_classes=CLASSES)


def convnext_narrow() -> nn.Module:
    # torchvision's ConvNeXt (convnext_tiny's code: 7×7 depthwise, LayerNorm2d, GELU, layer scale) with
    # depths [1, 1, 2, 1] and widths 24…192 instead of [3, 3, 9, 3] and 96…768.
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    setting = [CNBlockConfig(24, 48, 1), CNBlockConfig(48, 96, 1), CNBlockConfig(96, 192, 2), CNBlockConfig(192, None, 1)]
    return ConvNeXt(setting, stochastic_depth_prob=0.0, num_classes=CLASSES)


def vit_b_16_narrow_gelus() -> nn.Module:
    # vit_b_16_narrow with its first block's GELU in the tanh approximation (the second keeps erf), so that one
    # opset-20 dynamo export holds Gelu with both approximate='none' and approximate='tanh'.
    m = vit_b_16_narrow()
    gelus = [mod for mod in m.modules() if isinstance(mod, nn.GELU)]
    assert len(gelus) == 2, len(gelus)
    gelus[0].approximate = "tanh"
    return m


class OpsMix(nn.Module):
    """A small convolutional classifier built to hold the op forms the dynamo exporter writes at opsets 18 and 20
    that the torchvision zoo lacks: GroupNorm (exported as Reshape + InstanceNormalization + Reshape), chunk
    (Split with num_outputs, 18), GELU tanh (Gelu(approximate='tanh') at 20, Tanh/Pow decomposition at 18),
    bilinear upsampling (Resize linear with scales), F.pad (Pad with pads as an input), amax / mean / sum over
    axes given as an input (ReduceMax/ReduceMean/ReduceSum, 18)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.gn = nn.GroupNorm(2, 8)
        self.fc = nn.Linear(4 * 16 * 16, CLASSES)

    def forward(self, x):
        y = self.gn(self.conv(x))
        a, b = y.chunk(2, dim=1)
        y = F.gelu(a, approximate="tanh") * torch.sigmoid(b)
        y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        y = F.max_pool2d(y, 2)
        y = F.pad(y, (1, 1, 1, 1))[:, :, 1:-1, 1:-1]
        return self.fc(y.flatten(1)) + y.amax(dim=(1, 2, 3)).unsqueeze(1) + y.pow(2).mean(dim=(2, 3)).sum(1, keepdim=True)


class Unavailable(Exception):
    """A model whose library is not installed (written to OUT/<name>/skipped.txt)."""


def timm_model(name: str, **kw):
    def build() -> nn.Module:
        try:
            import timm
        except ImportError as exc:
            raise Unavailable(f"skipped: needs timm (.ci/run installs it into fixtures/.cache/py): {exc}") from exc
        return timm.create_model(name, pretrained=False, num_classes=CLASSES, **kw)
    return build


# The zoo's models: name -> (builder, image size). Each is exported in every configuration of EXPORTS (the test's
# matrix): the TorchScript exporter at opsets 13 and 17 (Debian's torch 1.13) and the dynamo exporter at 18 and 20
# (torch.onnx.export(..., dynamo=True), which needs torch >= 2.5 and onnxscript: the test runs those with the PyPI
# torch in fixtures/.cache/torch2, see .ci/run).
MODELS = {
    "resnet18": (lambda: tvm.resnet18(num_classes=CLASSES), 32),
    "resnet50": (lambda: tvm.resnet50(num_classes=CLASSES), 32),
    "mobilenet_v2": (lambda: tvm.mobilenet_v2(num_classes=CLASSES), 32),
    "mobilenet_v3_small": (lambda: tvm.mobilenet_v3_small(num_classes=CLASSES), 32),
    "mobilenet_v3_large": (lambda: tvm.mobilenet_v3_large(num_classes=CLASSES), 32),
    "squeezenet1_1": (lambda: tvm.squeezenet1_1(num_classes=CLASSES), 64),
    "vgg11_bn": (vgg11_bn_small, 32),
    "densenet121": (lambda: tvm.densenet121(num_classes=CLASSES), 64),
    "googlenet": (lambda: tvm.googlenet(num_classes=CLASSES, aux_logits=False, init_weights=True), 64),
    "efficientnet_b0": (lambda: tvm.efficientnet_b0(num_classes=CLASSES), 32),
    "shufflenet_v2_x0_5": (lambda: tvm.shufflenet_v2_x0_5(num_classes=CLASSES), 32),
    "regnet_y_400mf": (lambda: tvm.regnet_y_400mf(num_classes=CLASSES), 32),
    "convnext_narrow": (convnext_narrow, 32),
    "vit_b_16_narrow": (vit_b_16_narrow, 64),
    "swin_t_narrow": (swin_t_narrow, 32),
    "timm_vit_tiny": (timm_model("vit_tiny_patch16_224", img_size=32, patch_size=8), 32),
    "timm_deit_tiny": (timm_model("deit_tiny_patch16_224", img_size=32, patch_size=8), 32),
    # Outside the matrix, dynamo only: op forms the torchvision zoo lacks.
    "ops_mix": (OpsMix, 16),
    "vit_b_16_narrow_gelus": (vit_b_16_narrow_gelus, 64),
}

# (suffix, exporter, opset) of every export configuration of the matrix.
EXPORTS = (("ts13", "torchscript", 13), ("ts17", "torchscript", 17), ("dynamo18", "dynamo", 18), ("dynamo20", "dynamo", 20))
EXTRAS = {"ops_mix": ("dynamo18", "dynamo20"), "vit_b_16_narrow_gelus": ("dynamo20",)}

# Configuration name ("<model>_<suffix>", e.g. resnet18_ts13) -> (builder, image size, opset, exporter, model name).
ZOO = {
    f"{model}_{suffix}": (builder, size, opset, exporter, model)
    for model, (builder, size) in MODELS.items()
    for suffix, exporter, opset in EXPORTS
    if suffix in EXTRAS.get(model, tuple(s for s, _, _ in EXPORTS))
}


def exporter_of(name: str) -> str:
    return ZOO[name][3]


def dynamo_available() -> str | None:
    """None when this torch has the dynamo exporter with onnxscript, else why not."""
    major, minor = (int(p) for p in torch.__version__.split(".")[:2])
    if (major, minor) < (2, 5):
        return f"torch {torch.__version__} has no dynamo ONNX exporter (needs >= 2.5)"
    try:
        import onnxscript  # noqa: F401
    except ImportError as exc:
        return f"the dynamo exporter needs onnxscript: {exc}"
    return None


class Jump(torch.autograd.Function):
    """z·1[z > kappa] forward, gradient g·1[z > kappa]."""

    @staticmethod
    def forward(ctx, z, kappa):
        mask = (z > kappa).to(z.dtype)
        ctx.save_for_backward(mask)
        return z * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask, None


class Activations:
    """While active: records the input of every F.relu / torch.relu, F.hardtanh (ReLU6), F.hardswish and
    F.hardsigmoid call and of every F.max_pool2d call between start() and take(), in call order (so that the
    test can tell where the two float32 implementations put a pre-activation on different sides of a kink,
    or pick a different arg-max), and with `kappa` computes JumpReLU in place of ReLU (nn.ReLU calls F.relu)."""

    def __init__(self, kappa: float | None):
        self.kappa = kappa
        self.record: list[tuple[str, torch.Tensor]] | None = None
        self.pools: list[torch.Tensor] | None = None

    def start(self) -> None:
        self.record, self.pools = [], []

    def take(self) -> tuple[list[tuple[str, torch.Tensor]], list[torch.Tensor]]:
        out = (self.record, self.pools)
        self.record = self.pools = None
        return out

    def _note(self, kind: str, x: torch.Tensor) -> None:
        if self.record is not None:
            self.record.append((kind, x.detach().clone()))

    def __enter__(self):
        self.saved = (F.relu, torch.relu, torch.relu_, F.hardtanh, F.hardswish, F.hardsigmoid, F.max_pool2d)
        # F.relu itself calls torch.relu; nn.ReLU6 is a Hardtanh and calls F.hardtanh.
        relu, hardtanh, hardswish, hardsigmoid, max_pool2d = torch.relu, F.hardtanh, F.hardswish, F.hardsigmoid, F.max_pool2d

        def jump_or_relu(x, inplace=False):
            self._note("relu", x)
            return Jump.apply(x, self.kappa) if self.kappa is not None else relu(x)

        def hardtanh_recorded(x, min_val=-1.0, max_val=1.0, inplace=False):
            self._note(f"clip:{min_val}:{max_val}", x)
            return hardtanh(x, min_val, max_val)

        def hardswish_recorded(x, inplace=False):
            self._note("hardswish", x)
            return hardswish(x)

        def hardsigmoid_recorded(x, inplace=False):
            self._note("hardsigmoid", x)
            return hardsigmoid(x)

        def max_pool2d_recorded(x, *args, **kwargs):
            if self.pools is not None:
                self.pools.append(x.detach().clone())
            return max_pool2d(x, *args, **kwargs)

        F.max_pool2d = max_pool2d_recorded
        F.relu = jump_or_relu
        torch.relu = lambda x: jump_or_relu(x)
        torch.relu_ = lambda x: jump_or_relu(x)
        F.hardtanh = hardtanh_recorded
        F.hardswish = hardswish_recorded
        F.hardsigmoid = hardsigmoid_recorded
        return self

    def __exit__(self, *exc):
        F.relu, torch.relu, torch.relu_, F.hardtanh, F.hardswish, F.hardsigmoid, F.max_pool2d = self.saved


def calibrate(model: nn.Module, size: int) -> None:
    """BatchNorm running statistics from random images; zero-initialised linear layers made random."""
    for m in model.modules():
        if isinstance(m, nn.Linear) and not m.weight.detach().any():
            nn.init.normal_(m.weight, std=0.05)
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        model.train()
        with torch.no_grad():
            for _ in range(3):
                model(torch.randn(8, 3, size, size))
    model.eval()


def gradients(model: nn.Module, x: torch.Tensor, cot: torch.Tensor, labels: torch.Tensor, candidates: torch.Tensor, acts: Activations) -> dict:
    # One forward pass at batch N gives the vjp and the cross-entropy gradient, one at batch N·k (each sample
    # tiled k times, sample-major, as the ONNX gradient model tiles it) the logit differences; the activation
    # and max-pool inputs of each pass are recorded.
    acts.start()
    xg = x.clone().requires_grad_(True)
    logits = model(xg)
    pre, pools = acts.take()
    (vjp,) = torch.autograd.grad((logits * cot).sum(), xg, retain_graph=True)
    loss = F.cross_entropy(logits, labels, reduction="none")
    (ce,) = torch.autograd.grad(loss.sum(), xg)
    n, k = candidates.shape
    xt = x.unsqueeze(1).expand(n, k, *x.shape[1:]).reshape(n * k, *x.shape[1:]).clone().requires_grad_(True)
    acts.start()
    lt = model(xt).reshape(n, k, -1)
    ld_pre, ld_pools = acts.take()
    diff = lt.gather(2, candidates.unsqueeze(2)).squeeze(2) - lt.gather(2, labels.view(n, 1, 1).expand(n, k, 1)).squeeze(2)
    (ld,) = torch.autograd.grad(diff.sum(), xt)
    out = {
        "logits": logits.detach(), "loss": loss.detach(), "vjp_grad": vjp, "ce_grad": ce,
        "ld_grad": ld.reshape(n, k, *x.shape[1:]), "differences": diff.detach(),
    }
    assert [kind for kind, _ in ld_pre] == [kind for kind, _ in pre] and len(ld_pools) == len(pools)
    for tag, (p, q) in {"": (pre, pools), "ld_": (ld_pre, ld_pools)}.items():
        for i, (_, z) in enumerate(p):
            out[f"{tag}pre{i}"] = z
        for i, z in enumerate(q):
            out[f"{tag}pool{i}"] = z
    return out, [kind for kind, _ in pre]


def export(model: nn.Module, x: torch.Tensor, exporter: str, opset: int, path: Path) -> None:
    if exporter == "dynamo":
        # As users call it: torch.export with a symbolic batch, torchlib translation, onnxscript's optimiser (default).
        # The batch stays symbolic for N >= 2 (torch.export specialises 0 and 1), so export with N >= 2 samples.
        batch = torch.export.Dim("N", min=2, max=1024)
        torch.onnx.export(model, (x,), str(path), dynamo=True, opset_version=opset, input_names=["input"],
                          output_names=["logits"], dynamic_shapes=({0: batch},), verbose=False)
    else:
        torch.onnx.export(model, x, str(path), opset_version=opset, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, do_constant_folding=True)


def build(model_name: str, configs: list[str], out: Path) -> list[dict]:
    """One model of MODELS in the given configurations of ZOO: built, calibrated and its PyTorch gradients computed
    once (they do not depend on the export), then exported once per configuration into OUT/<configuration>/."""
    builder, size = MODELS[model_name]
    for name in configs:
        if exporter_of(name) == "dynamo" and (why := dynamo_available()):
            raise Unavailable(f"skipped: {why} (the test uses the PyPI torch that .ci/run installs into fixtures/.cache/torch2)")
    seed = sum(map(ord, model_name))
    t0 = time.process_time()
    torch.manual_seed(seed)
    model = builder()
    calibrate(model, size)
    samples = BATCHES.get(model_name, BATCH)
    x = torch.randn(samples, 3, size, size)
    t1 = time.process_time()
    g = torch.Generator().manual_seed(seed + 1)
    cot = torch.randn(samples, CLASSES, generator=g)
    labels = torch.randint(0, CLASSES, (samples,), generator=g)
    candidates = torch.stack([torch.tensor([c for c in torch.randperm(CLASSES, generator=g).tolist() if c != int(l)][:CANDIDATES]) for l in labels])
    with Activations(None) as acts:
        plain, kinds = gradients(model, x, cot, labels, candidates, acts)
    outputs = {"input": x, "cotangent": cot, **plain}
    has_relu = "relu" in kinds
    if has_relu:
        with Activations(KAPPA) as acts:
            jump, jump_kinds = gradients(model, x, cot, labels, candidates, acts)
        assert jump_kinds == kinds
        outputs.update({f"jump_{k}": v for k, v in jump.items()})
    arrays = {k: v.detach().numpy().astype("<f4") for k, v in outputs.items()}
    t2 = time.process_time()
    metas = []
    for name in configs:
        opset, exporter = ZOO[name][2], exporter_of(name)
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        t3 = time.process_time()
        export(model, x, exporter, opset, d / "model.onnx")
        t4 = time.process_time()
        for k, v in arrays.items():
            v.tofile(d / f"{k}.f32")
        meta = {
            "name": name, "model": model_name, "opset": opset, "exporter": exporter, "size": size, "batch": samples, "classes": CLASSES,
            "kappa": KAPPA if has_relu else None, "labels": labels.tolist(), "candidates": candidates.tolist(),
            "parameters": sum(p.numel() for p in model.parameters()), "activations": kinds,
            "pools": sum(1 for k in plain if k.startswith("pool")), "torch": torch.__version__, "torchvision": torchvision.__version__,
            # CPU seconds spent, all threads (the model's build and its reference gradients are shared by its
            # configurations; CPU time rather than wall time since the machines that run this are often shared).
            "build_s": round(t1 - t0, 2), "reference_s": round(t2 - t1, 2), "export_s": round(t4 - t3, 2),
            "shapes": {k: list(v.shape) for k, v in outputs.items()},
        }
        (d / "meta.json").write_text(json.dumps(meta))
        metas.append(meta)
        # The folder is complete: the test moves it into its cache and checks it while the next one is built.
        print(f"zoo-built {name}", flush=True)
    return metas


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    ap.add_argument("--models", default=",".join(ZOO), help="configurations of ZOO (e.g. resnet18_ts13), comma-separated")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list:
        print(json.dumps({k: {"model": v[4], "size": v[1], "opset": v[2], "exporter": v[3]} for k, v in ZOO.items()}))
        return 0
    if a.out is None:
        ap.error("--out is required")
    # One thread: the test runs the TorchScript and the dynamo builds at once, next to its own checks; and PyPI's
    # torch 2.15 is 10-100x slower at two threads than at one on these small batches (shufflenet_v2_x0_5's
    # reference gradients: 4.3 s vs 0.08 s on a 2-core machine; Debian's torch 1.13 the same at either).
    torch.set_num_threads(1)
    by_model: dict[str, list[str]] = {}
    for name in a.models.split(","):
        if name not in ZOO:
            print(f"zoo_reference: unknown configuration '{name}' (known: {', '.join(ZOO)})", file=sys.stderr)
            return 2
        by_model.setdefault(ZOO[name][4], []).append(name)
    for model_name, configs in by_model.items():
        t0 = time.process_time()
        try:
            metas = build(model_name, configs, a.out)
        except Unavailable as exc:
            for name in configs:
                (a.out / name).mkdir(parents=True, exist_ok=True)
                (a.out / name / "skipped.txt").write_text(str(exc))
                print(f"zoo-built {name}", flush=True)
            print(f"{model_name}: {exc}", flush=True)
            continue
        m = metas[0]
        exports = ", ".join(f"{x['name']} {x['export_s']:.1f} s" for x in metas)
        print(f"{model_name}: {m['size']} px, {m['parameters']} parameters, {time.process_time() - t0:.1f} CPU s (build {m['build_s']:.1f} s, "
              f"reference gradients {m['reference_s']:.1f} s, exports: {exports})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
