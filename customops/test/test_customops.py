"""Tests of the JumpRelu custom-op library (customops/) in Python onnxruntime and through the C API.

The library is built once per test session with customops/build.sh into customops/build (set
JUMPRELU_CUSTOMOPS_LIB to test an already built library instead). Each model with the custom op
(domain com.jumprelu) is compared with the same graph lowered to ONNX's ThresholdedRelu(alpha=kappa), which
ONNX Runtime implements natively, or, where ORT has no kernel (float16, per-channel kappa), with a NumPy
reference. Outputs must agree bit for bit.

Optional: JUMPRELU_CUSTOM_MODEL_PAIRS="custom.onnx,reference.onnx:custom2.onnx,reference2.onnx" compares
converter outputs (e.g. --target custom against --target thresholded-relu) on random inputs.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import threading

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

HERE = pathlib.Path(__file__).resolve().parent
CUSTOMOPS = HERE.parent
REPO = CUSTOMOPS.parent
DOMAIN = "com.jumprelu"


# --------------------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope="session")
def lib() -> str:
    given = os.environ.get("JUMPRELU_CUSTOMOPS_LIB")
    if given:
        return given
    out = subprocess.run(
        [str(CUSTOMOPS / "build.sh"), str(CUSTOMOPS / "build")],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    path = out.stdout.strip().splitlines()[-1]
    assert os.path.isabs(path) and os.path.isfile(path), path
    return path


def session(model: onnx.ModelProto, lib: str | None, threads: int = 1) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    if lib is not None:
        so.register_custom_ops_library(lib)
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def make_model(
    op: str,
    dtype: int = TensorProto.FLOAT,
    shape=("n",),
    kappa: float | None = 0.0,
    kappa_input: str | None = None,  # "input": graph input "k"; "init": initializer; None: attribute only
    kappa_values: np.ndarray | None = None,
    extra_attrs: dict | None = None,
) -> onnx.ModelProto:
    """One-node model y = op(x). op is "JumpRelu" (custom domain) or "ThresholdedRelu" (alpha=kappa)."""
    inputs = [helper.make_tensor_value_info("x", dtype, list(shape))]
    initializers = []
    node_inputs = ["x"]
    attrs = dict(extra_attrs or {})
    if op == "JumpRelu":
        if kappa is not None:
            attrs["kappa"] = kappa
        if kappa_input == "input":
            inputs.append(helper.make_tensor_value_info("k", dtype, ["c"]))
            node_inputs.append("k")
        elif kappa_input == "init":
            initializers.append(numpy_helper.from_array(kappa_values, "k"))
            node_inputs.append("k")
        node = helper.make_node("JumpRelu", node_inputs, ["y"], domain=DOMAIN, **attrs)
    else:
        node = helper.make_node(op, ["x"], ["y"], alpha=kappa)
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("y", dtype, list(shape))],
                              initializer=initializers)
    opsets = [helper.make_opsetid("", 17)]
    if op == "JumpRelu":
        opsets.append(helper.make_opsetid(DOMAIN, 1))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8  # loadable by every ORT >= 1.14
    return model


def bits(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view({2: np.uint16, 4: np.uint32}[a.dtype.itemsize])


def assert_same_bits(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    diff = np.flatnonzero(bits(got).ravel() != bits(want).ravel())
    if diff.size:
        i = diff[:5]
        raise AssertionError(f"{diff.size} elements differ, e.g. at {i}: got {got.ravel()[i]} want {want.ravel()[i]}")


def reference(x: np.ndarray, kappa) -> np.ndarray:
    """y = x if x > kappa else +0, comparison in float32 (exact for float16 inputs), per channel if kappa is
    an array (broadcast along axis 1)."""
    k = np.asarray(kappa, dtype=np.float32)
    if k.ndim == 1 and k.size > 1:
        k = k.reshape((1, -1) + (1,) * (x.ndim - 2))
    with np.errstate(invalid="ignore"):
        keep = x.astype(np.float32) > k
    return np.where(keep, x, np.zeros((), x.dtype)).astype(x.dtype)


SPECIALS32 = np.array(
    [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, np.nan, -np.nan, np.inf, -np.inf, 1e-45, -1e-45, 1.17549435e-38,
     np.finfo(np.float32).max, -np.finfo(np.float32).max, np.nextafter(np.float32(0.5), np.float32(1)),
     np.nextafter(np.float32(0.5), np.float32(0)), 3.0, 0.25],
    dtype=np.float32,
)


def random_f32(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.5, n).astype(np.float32)
    if n:
        idx = rng.integers(0, n, size=min(n, len(SPECIALS32) * 3))
        x[idx] = np.resize(SPECIALS32, idx.size)
    return x


# --------------------------------------------------------------------------------------------------------
# Model validity


def test_custom_model_passes_onnx_checker():
    for kind in (None, "input"):
        m = make_model("JumpRelu", kappa=0.25, kappa_input=kind, shape=("n", "c", "h"),
                       extra_attrs={"grad_kappa": 1.0})
        onnx.checker.check_model(m)
    m = make_model("JumpRelu", kappa=0.25, kappa_input="init", kappa_values=np.ones(3, np.float32),
                   shape=("n", 3, "h"))
    onnx.checker.check_model(m)


def test_library_exports_only_the_entry_point(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, stdout=subprocess.PIPE, text=True).stdout
    names = sorted(line.split()[-1] for line in out.splitlines() if line.strip())
    assert names == ["RegisterCustomOps"], names


# --------------------------------------------------------------------------------------------------------
# float32 against ThresholdedRelu


@pytest.mark.parametrize("kappa", [0.0, 0.5, -0.5, 1e-3, 3.0, -1e-45])
@pytest.mark.parametrize("n", [1, 7, 1023, 4097, 3 * 65536 + 5])
def test_float32_matches_thresholded_relu(lib, kappa, n):
    x = random_f32(n, seed=n)
    x[: min(n, 3)] = np.float32(kappa)  # exact ties
    got = session(make_model("JumpRelu", kappa=kappa), lib).run(None, {"x": x})[0]
    want = session(make_model("ThresholdedRelu", kappa=kappa), None).run(None, {"x": x})[0]
    assert_same_bits(got, want)
    assert_same_bits(got, reference(x, kappa))


def test_float32_random_bit_patterns(lib):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2**32, size=1 << 20, dtype=np.uint64).astype(np.uint32).view(np.float32)
    for kappa in (0.0, 0.75, -2.0):
        got = session(make_model("JumpRelu", kappa=kappa), lib).run(None, {"x": x})[0]
        want = session(make_model("ThresholdedRelu", kappa=kappa), None).run(None, {"x": x})[0]
        assert_same_bits(got, want)
        assert_same_bits(got, reference(x, kappa))


def test_edge_case_semantics(lib):
    kappa = 0.5
    x = np.array([0.5, np.nextafter(np.float32(0.5), np.float32(1)), np.nan, np.inf, -np.inf, -0.0, 0.0, 7.0],
                 np.float32)
    y = session(make_model("JumpRelu", kappa=kappa), lib).run(None, {"x": x})[0]
    assert y[0] == 0.0  # x == kappa gives 0 (strict comparison)
    assert y[1] == x[1]
    assert y[2] == 0.0  # NaN > kappa is false
    assert y[3] == np.inf
    assert y[4] == 0.0
    assert bits(y[5:7]).tolist() == [0, 0]
    assert y[7] == 7.0
    # negative kappa: -0.0 passes and keeps its sign bit, like ThresholdedRelu
    y = session(make_model("JumpRelu", kappa=-1.0), lib).run(None, {"x": np.array([-0.0, -1.0], np.float32)})[0]
    assert bits(y).tolist() == [0x80000000, 0]


def test_kappa_zero_is_relu_except_negative_zero(lib):
    x = random_f32(10_000, seed=3)
    y = session(make_model("JumpRelu", kappa=0.0), lib).run(None, {"x": x})[0]
    with np.errstate(invalid="ignore"):
        relu = np.where(x > 0, x, np.float32(0))
    assert_same_bits(y, relu)


@pytest.mark.parametrize("kappa", [float("nan"), float("inf"), float("-inf")])
def test_special_kappa(lib, kappa):
    x = random_f32(4099, seed=11)
    got = session(make_model("JumpRelu", kappa=kappa), lib).run(None, {"x": x})[0]
    assert_same_bits(got, reference(x, kappa))
    if kappa == float("-inf"):
        assert np.isnan(got).sum() == 0 and (got == np.inf).sum() == (x == np.inf).sum()
    else:
        assert not got.any()


def test_missing_kappa_attribute_defaults_to_zero(lib):
    x = random_f32(1000, seed=5)
    got = session(make_model("JumpRelu", kappa=None), lib).run(None, {"x": x})[0]
    assert_same_bits(got, reference(x, 0.0))


def test_grad_kappa_is_accepted_and_ignored(lib):
    x = random_f32(1000, seed=6)
    got = session(make_model("JumpRelu", kappa=0.3, extra_attrs={"grad_kappa": 123.0}), lib).run(None, {"x": x})[0]
    assert_same_bits(got, reference(x, 0.3))


def test_kappa_attribute_of_wrong_type_is_an_error(lib):
    with pytest.raises(Exception, match="JumpRelu: attribute 'kappa' must be a float"):
        session(make_model("JumpRelu", kappa=None, extra_attrs={"kappa": 1}), lib)


@pytest.mark.parametrize("shape", [(0,), (2, 0, 3), (0, 4)])
def test_empty_tensors(lib, shape):
    x = np.zeros(shape, np.float32)
    got = session(make_model("JumpRelu", kappa=0.1, shape=[f"d{i}" for i in range(len(shape))]), lib).run(
        None, {"x": x})[0]
    assert got.shape == shape and got.dtype == np.float32


def test_empty_tensor_with_per_channel_kappa(lib):
    x = np.zeros((0, 3, 5), np.float32)
    m = make_model("JumpRelu", kappa_input="input", shape=("n", 3, 5))
    got = session(m, lib).run(None, {"x": x, "k": np.ones(3, np.float32)})[0]
    assert got.shape == (0, 3, 5)


def test_multidimensional_shapes_are_kept(lib):
    x = random_f32(2 * 3 * 5 * 7, seed=9).reshape(2, 3, 5, 7)
    m = make_model("JumpRelu", kappa=0.2, shape=("a", "b", "c", "d"))
    got = session(m, lib).run(None, {"x": x})[0]
    assert_same_bits(got, reference(x, 0.2))


# --------------------------------------------------------------------------------------------------------
# float16 (ORT has no CPU ThresholdedRelu for it: NumPy reference, exhaustive over all 65536 patterns)


@pytest.mark.parametrize("kappa", [0.0, 0.5, -0.5, 0.1, -0.1, 1e-8, -1e-8, 5.9604645e-08, 65504.0, 1e6,
                                   float("inf"), float("-inf"), float("nan")])
def test_float16_all_bit_patterns(lib, kappa):
    x = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
    m = make_model("JumpRelu", dtype=TensorProto.FLOAT16, kappa=kappa)
    got = session(m, lib).run(None, {"x": x})[0]
    assert_same_bits(got, reference(x, kappa))


@pytest.mark.parametrize("n", [1, 7, 1023, 4097, 3 * 65536 + 5])
def test_float16_sizes(lib, n):
    x = random_f32(n, seed=n + 1).astype(np.float16)
    x[: min(n, 2)] = np.float16(0.25)
    got = session(make_model("JumpRelu", dtype=TensorProto.FLOAT16, kappa=0.25), lib, threads=2).run(
        None, {"x": x})[0]
    assert_same_bits(got, reference(x, 0.25))
    assert not got[: min(n, 2)].any()


def test_bfloat16_has_no_cpu_kernel(lib):
    m = make_model("JumpRelu", dtype=TensorProto.BFLOAT16, kappa=0.0)
    with pytest.raises(Exception):
        session(m, lib)


# --------------------------------------------------------------------------------------------------------
# per-channel kappa (second input, broadcast along axis 1)


def per_channel_reference_session(shape, dtype=TensorProto.FLOAT) -> onnx.ModelProto:
    """Greater + Where with kappa reshaped to [C, 1, ..., 1]: what ORT computes without the custom op."""
    rank = len(shape)
    axes = numpy_helper.from_array(np.arange(1, rank - 1, dtype=np.int64), "axes")
    nodes = []
    kname = "k"
    if rank > 2:
        nodes.append(helper.make_node("Unsqueeze", ["k", "axes"], ["kb"]))
        kname = "kb"
    zero = numpy_helper.from_array(np.zeros((), helper.tensor_dtype_to_np_dtype(dtype)), "zero")
    nodes += [helper.make_node("Greater", ["x", kname], ["keep"]),
              helper.make_node("Where", ["keep", "x", "zero"], ["y"])]
    graph = helper.make_graph(
        nodes, "ref",
        [helper.make_tensor_value_info("x", dtype, list(shape)), helper.make_tensor_value_info("k", dtype, ["c"])],
        [helper.make_tensor_value_info("y", dtype, list(shape))],
        initializer=[axes, zero] if rank > 2 else [zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("shape", [(2, 3), (4, 5, 7), (2, 16, 9, 9), (1, 3, 1023), (3, 7, 333, 257)])
def test_per_channel_kappa(lib, shape):
    c = shape[1]
    x = random_f32(int(np.prod(shape)), seed=c).reshape(shape)
    kappa = np.linspace(-1.0, 2.0, c).astype(np.float32)
    flat = x.reshape(shape[0], c, -1)
    flat[:, :, 0] = kappa[None, :]  # exact ties in every channel
    m = make_model("JumpRelu", kappa=100.0, kappa_input="input", shape=shape)  # the input overrides kappa
    got = session(m, lib, threads=2).run(None, {"x": x, "k": kappa})[0]
    assert_same_bits(got, reference(x, kappa))
    # ORT's Where turns a selected -0.0 into +0.0, so compare values here (bits against NumPy above)
    want = session(per_channel_reference_session(shape), None).run(None, {"x": x, "k": kappa})[0]
    np.testing.assert_array_equal(got, want)


def test_per_channel_kappa_as_initializer(lib):
    shape = (2, 4, 3, 3)
    kappa = np.array([0.0, 0.5, -0.5, np.nan], np.float32)
    x = random_f32(int(np.prod(shape)), seed=21).reshape(shape)
    m = make_model("JumpRelu", kappa_input="init", kappa_values=kappa, shape=shape)
    onnx.checker.check_model(m)
    got = session(m, lib).run(None, {"x": x})[0]
    assert_same_bits(got, reference(x, kappa))
    assert not got[:, 3].any()  # NaN kappa: nothing passes


def test_one_element_kappa_input_overrides_attribute(lib):
    x = random_f32(5000, seed=2)
    m = make_model("JumpRelu", kappa=-100.0, kappa_input="input")
    got = session(m, lib).run(None, {"x": x, "k": np.array([0.4], np.float32)})[0]
    assert_same_bits(got, reference(x, 0.4))


def test_per_channel_kappa_float16(lib):
    shape = (3, 6, 11, 13)
    x = random_f32(int(np.prod(shape)), seed=8).reshape(shape).astype(np.float16)
    kappa = np.array([0.0, 0.1, -0.1, 1.0, np.inf, -np.inf], np.float16)
    m = make_model("JumpRelu", dtype=TensorProto.FLOAT16, kappa_input="input", shape=shape)
    got = session(m, lib, threads=2).run(None, {"x": x, "k": kappa})[0]
    assert_same_bits(got, reference(x, kappa.astype(np.float32)))


def test_empty_name_for_the_optional_kappa_input(lib):
    node = helper.make_node("JumpRelu", ["x", ""], ["h"], domain=DOMAIN, kappa=0.5)
    relu = helper.make_node("Relu", ["h"], ["y"])  # the custom op's output type must be inferred for this
    g = helper.make_graph([node, relu], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["n"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["n"])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(DOMAIN, 1)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    x = random_f32(300, seed=12).astype(np.float16)
    got = session(m, lib).run(None, {"x": x})[0]
    assert_same_bits(got, reference(x, 0.5))


def test_per_channel_kappa_of_wrong_length_is_an_error(lib):
    m = make_model("JumpRelu", kappa_input="input", shape=("n", "c", "h"))
    s = session(m, lib)
    with pytest.raises(Exception, match="JumpRelu: the kappa input has 4 values but x has 3 channels"):
        s.run(None, {"x": np.zeros((2, 3, 5), np.float32), "k": np.zeros(4, np.float32)})


def test_per_channel_kappa_needs_rank_two(lib):
    s = session(make_model("JumpRelu", kappa_input="input"), lib)
    with pytest.raises(Exception, match="needs x of rank >= 2"):
        s.run(None, {"x": np.zeros(5, np.float32), "k": np.zeros(5, np.float32)})


# --------------------------------------------------------------------------------------------------------
# Threads


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_large_tensor_intra_op_threads(lib, threads):
    n = (1 << 22) + 12345  # 64 parallel chunks plus a partial one
    x = random_f32(n, seed=threads)
    got = session(make_model("JumpRelu", kappa=0.1), lib, threads=threads).run(None, {"x": x})[0]
    want = session(make_model("ThresholdedRelu", kappa=0.1), None, threads=threads).run(None, {"x": x})[0]
    assert_same_bits(got, want)


def test_large_per_channel_tensor_intra_op_threads(lib):
    shape = (4, 37, 129, 67)  # runs of 8643 elements cross the 65536-element chunk boundaries
    x = random_f32(int(np.prod(shape)), seed=37).reshape(shape)
    kappa = np.linspace(-2, 2, 37).astype(np.float32)
    m = make_model("JumpRelu", kappa_input="input", shape=shape)
    got = session(m, lib, threads=3).run(None, {"x": x, "k": kappa})[0]
    assert_same_bits(got, reference(x, kappa))


def test_concurrent_runs_share_one_session(lib):
    s = session(make_model("JumpRelu", kappa=0.2), lib, threads=2)
    errors = []

    def worker(seed):
        try:
            for i in range(4):
                x = random_f32(300_000 + seed * 1000 + i, seed=seed * 10 + i)
                assert_same_bits(s.run(None, {"x": x})[0], reference(x, 0.2))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_library_registered_in_many_sessions(lib):
    x = random_f32(100, seed=1)
    for kappa in (0.0, 0.5, 1.0):
        s = session(make_model("JumpRelu", kappa=kappa), lib)
        assert_same_bits(s.run(None, {"x": x})[0], reference(x, kappa))
        del s


# --------------------------------------------------------------------------------------------------------
# A small network: Conv -> JumpRelu -> Conv -> JumpRelu -> GlobalAveragePool, with graph optimisations on


def conv_net(act: str, kappas) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(rng.normal(0, 0.1, 8).astype(np.float32), "b1")
    w2 = numpy_helper.from_array(rng.normal(0, 0.3, (4, 8, 3, 3)).astype(np.float32), "w2")
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1])]
    if act == "JumpRelu":
        nodes.append(helper.make_node("JumpRelu", ["c1"], ["a1"], domain=DOMAIN, kappa=kappas[0], grad_kappa=0.0))
    else:
        nodes.append(helper.make_node("ThresholdedRelu", ["c1"], ["a1"], alpha=kappas[0]))
    nodes.append(helper.make_node("Conv", ["a1", "w2"], ["c2"], pads=[1, 1, 1, 1]))
    if act == "JumpRelu":
        nodes.append(helper.make_node("JumpRelu", ["c2"], ["a2"], domain=DOMAIN, kappa=kappas[1]))
    else:
        nodes.append(helper.make_node("ThresholdedRelu", ["c2"], ["a2"], alpha=kappas[1]))
    nodes.append(helper.make_node("GlobalAveragePool", ["a2"], ["y"]))
    graph = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4, 1, 1])],
                              initializer=[w1, b1, w2])
    opsets = [helper.make_opsetid("", 17)]
    if act == "JumpRelu":
        opsets.append(helper.make_opsetid(DOMAIN, 1))
    m = helper.make_model(graph, opset_imports=opsets)
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def test_small_conv_net_matches_thresholded_relu_lowering(lib):
    x = np.random.default_rng(1).normal(0, 1, (5, 3, 16, 16)).astype(np.float32)
    got = session(conv_net("JumpRelu", (0.2, 0.05)), lib, threads=2).run(None, {"x": x})[0]
    want = session(conv_net("ThresholdedRelu", (0.2, 0.05)), None, threads=2).run(None, {"x": x})[0]
    assert_same_bits(got, want)


# --------------------------------------------------------------------------------------------------------
# C API: RegisterCustomOpsLibrary_V2 on the ONNX Runtime inside the Python wheel and inside onnxruntime-node


def ort_libraries():
    """(label, path) of ONNX Runtime shared libraries to load the custom-op library into through the C API:
    the Python wheel's, onnxruntime-node's, and any listed in JUMPRELU_EXTRA_ORT_LIBS (os.pathsep-separated;
    customops/test/ort-compat.sh fills it with older releases)."""
    found = {}
    capi = pathlib.Path(ort.__file__).parent / "capi"
    for p in sorted(capi.glob("libonnxruntime.so.*"))[:1]:
        found["python-wheel"] = p
    node = REPO / "node_modules" / "onnxruntime-node"
    for p in sorted(node.glob("bin/napi-v*/linux/x64/libonnxruntime.so*"))[:1]:
        found["onnxruntime-node"] = p
    for p in filter(None, os.environ.get("JUMPRELU_EXTRA_ORT_LIBS", "").split(os.pathsep)):
        found[f"extra:{p}"] = pathlib.Path(p)
    return found


C_API_TARGETS = ["python-wheel", "onnxruntime-node"] + [
    f"extra:{p}" for p in filter(None, os.environ.get("JUMPRELU_EXTRA_ORT_LIBS", "").split(os.pathsep))]


@pytest.mark.parametrize("which", C_API_TARGETS)
def test_c_api_loading(lib, tmp_path, which):
    libs = ort_libraries()
    if which not in libs:
        pytest.skip(f"no ONNX Runtime shared library from {which} here")
    smoke = pathlib.Path(lib).parent / "jumprelu_c_smoke"
    if not smoke.exists():
        pytest.skip("jumprelu_c_smoke not built (JUMPRELU_BUILD_C_SMOKE=OFF)")
    model_path = tmp_path / "m.onnx"
    onnx.save(make_model("JumpRelu", kappa=0.5), str(model_path))
    specials = ["0.5", "0.6", "-1", "nan", "inf", "-inf", "-0", "0", "0.49999997", "2.5"]
    # enough values for several parallel chunks (KernelContext_ParallelFor where the runtime has it)
    values = specials + [repr(float(v)) for v in random_f32(150_000, seed=4)]
    out = subprocess.run([str(smoke), str(libs[which]), lib, str(model_path)], input=" ".join(values),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120,
                         env=dict(os.environ, JUMPRELU_SMOKE_THREADS="2"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    header = lines[0].split()
    assert header[0] == "ort" and header[2] == "api"
    x = np.array([float(v) for v in values], np.float32)
    want = [f"0x{b:08x}" for b in bits(reference(x, 0.5)).tolist()]
    assert lines[1:] == want
    print(f"{which}: ORT {header[1]}, negotiated API {header[3]}")


# --------------------------------------------------------------------------------------------------------
# Optional: converter outputs given through JUMPRELU_CUSTOM_MODEL_PAIRS


def model_pairs():
    spec = os.environ.get("JUMPRELU_CUSTOM_MODEL_PAIRS", "")
    pairs = []
    for item in filter(None, spec.split(os.pathsep)):
        custom, _, ref = item.partition(",")
        pairs.append((custom, ref))
    return pairs


@pytest.mark.skipif(not model_pairs(), reason="JUMPRELU_CUSTOM_MODEL_PAIRS not set")
@pytest.mark.parametrize("pair", model_pairs() or [("", "")])
def test_given_model_pairs(lib, pair):
    custom_path, ref_path = pair
    onnx.checker.check_model(custom_path)
    custom = session(onnx.load(custom_path), lib, threads=2)
    ref = session(onnx.load(ref_path), None, threads=2)
    rng = np.random.default_rng(0)
    feeds = {}
    for inp in custom.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 2 for d in inp.shape]
        dtype = {"tensor(float)": np.float32, "tensor(float16)": np.float16}.get(inp.type)
        assert dtype is not None, f"unsupported input type {inp.type}"
        feeds[inp.name] = rng.normal(0, 1, shape).astype(dtype)
    got = custom.run(None, feeds)
    want = ref.run(None, feeds)
    for g, w in zip(got, want):
        assert_same_bits(g, w)


# --------------------------------------------------------------------------------------------------------
# Host helpers of the GPU check (test/gpu_check_host.h): float -> float16/bfloat16 conversion of test data


def test_gpu_check_host_conversions(tmp_path):
    src = tmp_path / "conv.cc"
    src.write_text(
        '#include "gpu_check_host.h"\n#include <cstdio>\n'
        "int main() { uint32_t u; while (fread(&u, 4, 1, stdin) == 1) { float f; std::memcpy(&f, &u, 4);\n"
        "  uint16_t o[2] = {gpu_check::float_to_half_bits(f), gpu_check::float_to_bf16_bits(f)};\n"
        "  fwrite(o, 2, 2, stdout); } }\n")
    exe = tmp_path / "conv"
    subprocess.run(["c++", "-std=c++17", "-O2", f"-I{HERE}", str(src), "-o", str(exe)], check=True)
    rng = np.random.default_rng(0)
    u = np.concatenate([
        rng.integers(0, 2**32, 1_000_000, dtype=np.uint64).astype(np.uint32),
        np.arange(0x33000000 - 3000, 0x33000000 + 3000, dtype=np.uint32),  # around half's 2^-25
        np.arange(0x38800000 - 100_000, 0x38800000 + 3000, dtype=np.uint32),  # subnormal/normal boundary
        np.arange(0x477FF000 - 3000, 0x477FF000 + 3000, dtype=np.uint32),  # overflow to inf
        np.array([0, 0x7F800000, 0x7FC00000], np.uint32)])
    u = np.concatenate([u, u | np.uint32(0x80000000)])
    out = np.frombuffer(subprocess.run([str(exe)], input=u.tobytes(), stdout=subprocess.PIPE, check=True).stdout,
                        np.uint16).reshape(-1, 2)
    f = u.view(np.float32)
    nan = np.isnan(f)
    with np.errstate(over="ignore", invalid="ignore"):
        want_half = f.astype(np.float16).view(np.uint16)
    assert np.array_equal(out[~nan, 0], want_half[~nan])
    assert np.isnan(out[nan, 0].view(np.float16)).all()
    # bfloat16: round to nearest even on the upper 16 bits
    want_bf16 = ((u.astype(np.uint64) + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    assert np.array_equal(out[~nan, 1], want_bf16[~nan])
    assert (out[nan, 1] & 0x7FFF > 0x7F80).all()


# --------------------------------------------------------------------------------------------------------
# The CUDA kernels' logic on the CPU: src/jumprelu_cuda.cu and the GPU check program compiled as plain C++
# against test/cuda_emulation.h (every grid thread run in turn), correctness part of the GPU check only


def test_cuda_kernels_in_cpu_emulation(tmp_path):
    exe = tmp_path / "gpu_check_emulated"
    subprocess.run(["c++", "-x", "c++", "-std=c++17", "-O2", "-fno-strict-aliasing", "-Wall", "-Wno-unknown-pragmas",
                    "-Werror", "-DJUMPRELU_CUDA_EMULATION", f"-I{CUSTOMOPS / 'src'}", f"-I{HERE}",
                    str(HERE / "gpu_check.cu"), str(CUSTOMOPS / "src" / "jumprelu_cuda.cu"), "-o", str(exe)],
                   check=True)
    out = subprocess.run([str(exe)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "every case matches the CPU kernels bit for bit" in out.stdout, out.stdout[-3000:]


# --------------------------------------------------------------------------------------------------------
# The CPU kernel's two x86 code paths and in-place execution


def test_sse2_loops_match_too(lib):
    """The bit-exact tests again with the SSE2 loops forced (this machine would otherwise run AVX2 only)."""
    env = {**os.environ, "JUMPRELU_CPU_ISA": "sse2", "JUMPRELU_CUSTOMOPS_LIB": lib}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HERE / "test_customops.py"),
                        "-k", "float32_matches or random_bit_patterns or edge_case or float16_sizes or "
                              "per_channel_kappa_float16 or chain_in_place"],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, r.stdout[-3000:]
    assert " passed" in r.stdout and " failed" not in r.stdout


def test_chain_in_place_matches_thresholded_relu(lib):
    """Three JumpRelu nodes in a row on a large tensor: ORT may run each in place on its input's buffer
    (MayInplace); the result must still equal the ThresholdedRelu chain bit for bit, with 1 and 2 threads."""
    shape = [4, 16, 64, 64]
    x = np.random.default_rng(7).normal(0, 1, shape).astype(np.float32)

    def chain(op):
        nodes, prev = [], "x"
        for i, k in enumerate((0.1, 0.5, 0.3)):
            out = "y" if i == 2 else f"t{i}"
            if op == "JumpRelu":
                nodes.append(helper.make_node("JumpRelu", [prev], [out], domain=DOMAIN, kappa=k))
            else:
                nodes.append(helper.make_node("ThresholdedRelu", [prev], [out], alpha=k))
            prev = out
        g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
        opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(DOMAIN, 1)] if op == "JumpRelu" else [])
        return helper.make_model(g, opset_imports=opsets)

    for threads in (1, 2):
        got = session(chain("JumpRelu"), lib, threads).run(None, {"x": x})[0]
        want = session(chain("ThresholdedRelu"), None, threads).run(None, {"x": x})[0]
        assert got.tobytes() == want.tobytes()
