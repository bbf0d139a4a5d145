"""Checks that the converter kept the newer-ONNX fields of make_newer_onnx_model.py's model.

usage: check_newer_onnx_model.py ORIGINAL.onnx CONVERTED.onnx   (prints 'ok' or raises)
"""
import sys

import onnx


def main():
    a, b = onnx.load(sys.argv[1]), onnx.load(sys.argv[2])
    onnx.checker.check_model(b, full_check=True)
    assert b.configuration == a.configuration, "model configuration lost"
    assert b.graph.metadata_props == a.graph.metadata_props, "graph metadata_props lost"
    assert b.graph.value_info == a.graph.value_info, "value_info metadata_props lost"
    assert b.functions == a.functions, "local function (overload, metadata_props) changed"
    for name in ("f8", "i4", "w"):
        ta = next(t for t in a.graph.initializer if t.name == name)
        tb = next(t for t in b.graph.initializer if t.name == name)
        assert ta.SerializeToString() == tb.SerializeToString(), f"initializer {name} changed"
    nodes = {n.name: n for n in b.graph.node}
    old = {n.name: n for n in a.graph.node}
    assert nodes["mm"].SerializeToString() == old["mm"].SerializeToString(), "untouched MatMul changed"
    assert nodes["call"].SerializeToString() == old["call"].SerializeToString(), "untouched call (overload) changed"
    act = nodes["act"]
    assert act.op_type == "ThresholdedRelu", act.op_type
    assert act.metadata_props == old["act"].metadata_props, "the converted node lost the Relu's metadata_props"
    assert act.doc_string == old["act"].doc_string
    print("ok")


if __name__ == "__main__":
    main()
