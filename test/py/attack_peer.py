"""Run torchattacks (PyPI) on a classifier given as the graph of an ONNX model, for the harness's peer test.

Usage: attack_peer.py DIR   where DIR holds (written by test/harness-peer.test.ts):
  graph.json  {input, output, nodes: [{op, inputs, outputs, attrs}], initializers: {name: {dims, file}},
               mean, std, n, shape, attacks: [{name, kind, ...params}]}
  x.f32       n images in [0, 1], float32, NCHW; y.i32 their labels (int32)
Writes DIR/peer.json: {attack name: {"robust": [0/1 per sample: correct at the returned example],
"robust_any_iterate": [0/1: correct at every iterate the attack evaluated], "max_linf", "seconds"}, "clean": …}.

The model is evaluated op by op with torch (Conv, MaxPool, Relu, ThresholdedRelu, Flatten, Gemm), after
(x − mean)/std, so that torchattacks attacks the [0, 1] image exactly as the harness does in pixel space with a
[0, 1] box. ThresholdedRelu's autograd derivative is 1[z > α], the harness's white-box JumpReLU derivative.

torchattacks' package __init__ imports every attack, some of which need scipy; only the modules used here are
loaded (apgd, pgd, square, deepfool and their base class), so scipy is not needed.
"""

import importlib.util
import json
import os
import sys
import time
import types

import numpy as np
import torch
import torch.nn.functional as F


def load_torchattacks():
    spec = importlib.util.find_spec("torchattacks")
    if spec is None or not spec.submodule_search_locations:
        print("attack_peer: torchattacks is not installed (pip install --no-deps torchattacks)", file=sys.stderr)
        sys.exit(3)
    root = list(spec.submodule_search_locations)[0]
    for name, path in (("torchattacks", root), ("torchattacks.attacks", os.path.join(root, "attacks"))):
        pkg = types.ModuleType(name)
        pkg.__path__ = [path]
        sys.modules[name] = pkg
    from torchattacks.attacks.apgd import APGD
    from torchattacks.attacks.pgd import PGD
    from torchattacks.attacks.square import Square
    from torchattacks.attacks.deepfool import DeepFool
    return APGD, PGD, Square, DeepFool


class Tracking(torch.nn.Module):
    """Records which samples any forward pass over the whole batch misclassified: the harness's attacks stop
    at a sample's first misclassified iterate, torchattacks' PGD returns its last one."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.labels = None
        self.fooled = None

    def forward(self, x):
        z = self.model(x)
        if self.labels is not None and z.shape[0] == self.labels.shape[0]:
            self.fooled |= z.detach().argmax(1) != self.labels
        return z


class OnnxGraph(torch.nn.Module):
    def __init__(self, g, folder):
        super().__init__()
        self.g = g
        self.params = torch.nn.ParameterDict()
        self.names = {}
        for i, (name, t) in enumerate(g["initializers"].items()):
            data = np.fromfile(os.path.join(folder, t["file"]), dtype=np.float32).reshape(t["dims"])
            key = f"p{i}"
            self.params[key] = torch.nn.Parameter(torch.from_numpy(data.copy()), requires_grad=False)
            self.names[name] = key
        c = len(g["mean"])
        self.register_buffer("mean", torch.tensor(g["mean"], dtype=torch.float32).reshape(1, c, 1, 1))
        self.register_buffer("std", torch.tensor(g["std"], dtype=torch.float32).reshape(1, c, 1, 1))

    def value(self, env, name):
        return env[name] if name in env else self.params[self.names[name]]

    def forward(self, x):
        env = {self.g["input"]: (x - self.mean) / self.std}
        for n in self.g["nodes"]:
            a = n["attrs"]
            ins = [self.value(env, v) for v in n["inputs"] if v]
            op = n["op"]
            if op == "Conv":
                pads = a.get("pads", [0, 0, 0, 0])
                assert pads[:2] == pads[2:], "asymmetric pads"
                y = F.conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None, stride=a.get("strides", 1),
                             padding=pads[:2], dilation=a.get("dilations", 1), groups=a.get("group", 1))
            elif op == "MaxPool":
                pads = a.get("pads", [0, 0, 0, 0])
                y = F.max_pool2d(ins[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]), pads[:2],
                                 ceil_mode=bool(a.get("ceil_mode", 0)))
            elif op == "Relu":
                y = F.relu(ins[0])
            elif op == "ThresholdedRelu":
                alpha = a.get("alpha", 1.0)
                y = torch.where(ins[0] > alpha, ins[0], torch.zeros_like(ins[0]))
            elif op == "Flatten":
                y = torch.flatten(ins[0], a.get("axis", 1))
            elif op == "Gemm":
                A, B = ins[0], ins[1]
                if a.get("transA", 0):
                    A = A.t()
                if a.get("transB", 0):
                    B = B.t()
                y = a.get("alpha", 1.0) * (A @ B)
                if len(ins) > 2:
                    y = y + a.get("beta", 1.0) * ins[2]
            else:
                raise SystemExit(f"attack_peer: op {op} is not supported")
            env[n["outputs"][0]] = y
        return env[self.g["output"]]


def main():
    folder = sys.argv[1]
    g = json.load(open(os.path.join(folder, "graph.json")))
    APGD, PGD, Square, DeepFool = load_torchattacks()
    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ.get("PEER_THREADS", "1")))
    n = g["n"]
    x = torch.from_numpy(np.fromfile(os.path.join(folder, "x.f32"), dtype=np.float32).reshape([n, *g["shape"]]).copy())
    y = torch.from_numpy(np.fromfile(os.path.join(folder, "y.i32"), dtype=np.int32).astype(np.int64))
    model = OnnxGraph(g, folder).eval()
    tracked = Tracking(model).eval()
    out = {}
    with torch.no_grad():
        clean = model(x).argmax(1) == y
    for spec in g["attacks"]:
        kind = spec["kind"]
        if kind == "apgd":
            atk = APGD(tracked, norm=spec["norm"], eps=spec["eps"], steps=spec["steps"], n_restarts=1, seed=0,
                       loss=spec["loss"], rho=0.75)
        elif kind == "pgd":
            atk = PGD(tracked, eps=spec["eps"], alpha=spec["alpha"], steps=spec["steps"], random_start=False)
        elif kind == "square":
            atk = Square(tracked, norm=spec["norm"], eps=spec["eps"], n_queries=spec["queries"], n_restarts=1,
                         p_init=0.8, loss="margin", resc_schedule=True, seed=0)
        elif kind == "deepfool":
            atk = DeepFool(tracked, steps=spec["steps"], overshoot=spec.get("overshoot", 0.02))
        else:
            raise SystemExit(f"attack_peer: unknown attack kind {kind}")
        tracked.labels, tracked.fooled = y, torch.zeros_like(y, dtype=torch.bool)
        t0 = time.time()
        adv = atk(x, y)
        seconds = time.time() - t0
        any_iterate = clean & ~tracked.fooled
        tracked.labels = None
        with torch.no_grad():
            robust = (model(adv).argmax(1) == y) & clean
            linf = (adv - x).abs().flatten(1).max(1)[0].max().item()
        out[spec["name"]] = {"robust": robust.int().tolist(), "robust_any_iterate": any_iterate.int().tolist(),
                             "max_linf": linf, "seconds": seconds}
    out["clean"] = {"robust": clean.int().tolist()}
    json.dump(out, open(os.path.join(folder, "peer.json"), "w"))


if __name__ == "__main__":
    main()
