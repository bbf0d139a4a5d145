"""Writes a model that uses ONNX fields newer than onnx-proto's schema (ONNX 1.10), for the codec test.

usage: make_newer_onnx_model.py OUT.onnx
Fields: node and graph metadata_props, value_info metadata_props, model configuration (ONNX 1.18+),
a local function with an overload and metadata_props, FLOAT8E4M3FN and INT4 initializers.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h


def entry(k, v):
    e = onnx.StringStringEntryProto()
    e.key, e.value = k, v
    return e


def main():
    out = sys.argv[1]
    w = h.make_tensor("w", T.FLOAT, [4, 4], np.random.RandomState(0).randn(16).astype(np.float32))
    f8 = h.make_tensor("f8", T.FLOAT8E4M3FN, [4], [0.5, 1.0, -2.0, 448.0])
    i4 = h.make_tensor("i4", T.INT4, [5], [1, -2, 3, -4, 7])
    mm = h.make_node("MatMul", ["x", "w"], ["z"], name="mm")
    mm.metadata_props.append(entry("origin", "layer1.linear"))
    relu = h.make_node("Relu", ["z"], ["r"], name="act")
    relu.metadata_props.append(entry("origin", "layer1.act"))
    relu.doc_string = "the first activation"
    call = h.make_node("Double", ["r"], ["y"], name="call", domain="local", overload="v2")
    g = h.make_graph([mm, relu, call], "g", [h.make_tensor_value_info("x", T.FLOAT, ["N", 4])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["N", 4])], initializer=[w, f8, i4])
    g.metadata_props.append(entry("graph-key", "graph-value"))
    vi = h.make_tensor_value_info("z", T.FLOAT, ["N", 4])
    vi.metadata_props.append(entry("vi-key", "vi-value"))
    g.value_info.append(vi)
    fbody = [h.make_node("Add", ["a", "a"], ["b"])]
    fn = h.make_function("local", "Double", ["a"], ["b"], fbody, [h.make_opsetid("", 21)])
    fn.overload = "v2"
    fn.metadata_props.append(entry("fn-key", "fn-value"))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 21), h.make_opsetid("local", 1)], functions=[fn])
    m.ir_version = 10
    cfg = m.configuration.add()
    cfg.name = "two-devices"
    cfg.num_devices = 2
    onnx.save(m, out)


if __name__ == "__main__":
    main()
