"""The converter's real-world cases, built with onnx and onnxruntime, and their independent checks.

  python3 convert_cases.py make OUT_DIR        writes the models below into OUT_DIR
  python3 convert_cases.py check < CHECKS.json  runs checks (see check()), prints one JSON result per line

Cases (random weights, fixed seed):
  deduped.onnx        two Conv+Relu layers; after `jumprelu convert --target where` the test runs ORT's
                      basic optimisation on it (done by the test, which owns the conversion)
  clip_f16.onnx       float16 Conv + Clip(0, 6) (ReLU6) with float16 initializer bounds
  clip_const_*.onnx   Clip whose bounds come from Constant nodes (value, value_float, value_floats, value_int, value_ints)
  fused.onnx          com.microsoft FusedConv (Relu, Clip), FusedGemm (Relu), and a QLinearConv with a folded Relu
  relu_two_inputs.onnx a Relu with two inputs (invalid)
  fn_relu.onnx        a model-local function holding a Relu (opset imports listed twice for '')
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

rng = np.random.default_rng(7)
out = None


def make():
    def save(model, name):
        onnx.save(model, os.path.join(out, name))


    def conv_relu_model():
        x = h.make_tensor_value_info('x', T.FLOAT, [1, 3, 8, 8])
        y = h.make_tensor_value_info('y', T.FLOAT, [1, 4, 8, 8])
        inits = [nh.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), 'w1'),
                 nh.from_array(rng.normal(size=(4, 4, 3, 3)).astype(np.float32) * 0.3, 'w2')]
        nodes = [h.make_node('Conv', ['x', 'w1'], ['c1'], name='conv1', pads=[1, 1, 1, 1]),
                 h.make_node('Relu', ['c1'], ['r1'], name='relu1'),
                 h.make_node('Conv', ['r1', 'w2'], ['c2'], name='conv2', pads=[1, 1, 1, 1]),
                 h.make_node('Relu', ['c2'], ['y'], name='relu2')]
        g = h.make_graph(nodes, 'g', [x], [y], inits)
        return h.make_model(g, opset_imports=[h.make_opsetid('', 17)], ir_version=8)


    save(conv_relu_model(), 'deduped.onnx')

    # float16 ReLU6
    x = h.make_tensor_value_info('x', T.FLOAT16, [1, 3, 8, 8])
    y = h.make_tensor_value_info('y', T.FLOAT16, [1, 4, 8, 8])
    g = h.make_graph(
        [h.make_node('Conv', ['x', 'w'], ['c'], name='conv', pads=[1, 1, 1, 1]),
         h.make_node('Clip', ['c', 'lo', 'hi'], ['y'], name='relu6')],
        'g', [x], [y],
        [nh.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float16), 'w'),
         nh.from_array(np.array(0, np.float16), 'lo'), nh.from_array(np.array(6, np.float16), 'hi')])
    save(h.make_model(g, opset_imports=[h.make_opsetid('', 17)], ir_version=8), 'clip_f16.onnx')

    # Clip bounds from Constant nodes, in every value_* form
    forms = {
        'value': lambda v: dict(value=nh.from_array(np.array(v, np.float32))),
        'value_float': lambda v: dict(value_float=float(v)),
        'value_floats': lambda v: dict(value_floats=[float(v)]),
        'value_double': lambda v: dict(value=nh.from_array(np.array(v, np.float64))),
    }
    for form, make in forms.items():
        x = h.make_tensor_value_info('x', T.FLOAT, [1, 4])
        y = h.make_tensor_value_info('y', T.FLOAT, [1, 4])
        nodes = [h.make_node('Constant', [], ['lo'], name='lo_const', **make(0)),
                 h.make_node('Constant', [], ['hi'], name='hi_const', **make(6)),
                 h.make_node('Clip', ['x', 'lo', 'hi'], ['y'], name='relu6')]
        elem = T.DOUBLE if form == 'value_double' else T.FLOAT
        if form == 'value_double':
            x = h.make_tensor_value_info('x', T.DOUBLE, [1, 4])
            y = h.make_tensor_value_info('y', T.DOUBLE, [1, 4])
        save(h.make_model(h.make_graph(nodes, 'g', [x], [y]), opset_imports=[h.make_opsetid('', 17)], ir_version=8), f'clip_const_{form}.onnx')

    # Fused activations ORT can produce
    x = h.make_tensor_value_info('x', T.FLOAT, [1, 3, 8, 8])
    y1 = h.make_tensor_value_info('y1', T.FLOAT, None)
    y2 = h.make_tensor_value_info('y2', T.FLOAT, None)
    y3 = h.make_tensor_value_info('y3', T.FLOAT, None)
    nodes = [
        h.make_node('FusedConv', ['x', 'w'], ['y1'], name='fc_relu', domain='com.microsoft', activation='Relu'),
        h.make_node('FusedConv', ['x', 'w'], ['y2'], name='fc_relu6', domain='com.microsoft', activation='Clip', activation_params=[0.0, 6.0]),
        h.make_node('Flatten', ['x'], ['xf'], name='flat'),
        h.make_node('FusedGemm', ['xf', 'wg'], ['y3'], name='fg_relu', domain='com.microsoft', activation='Relu', transB=1),
    ]
    g = h.make_graph(nodes, 'g', [x], [y1, y2, y3],
                     [nh.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), 'w'),
                      nh.from_array(rng.normal(size=(5, 192)).astype(np.float32), 'wg')])
    save(h.make_model(g, opset_imports=[h.make_opsetid('', 17), h.make_opsetid('com.microsoft', 1)], ir_version=8), 'fused.onnx')

    # Invalid: a Relu with two inputs
    x = h.make_tensor_value_info('x', T.FLOAT, [1, 4])
    y = h.make_tensor_value_info('y', T.FLOAT, [1, 4])
    g = h.make_graph([h.make_node('Relu', ['x', 'x'], ['y'], name='bad')], 'g', [x], [y])
    save(h.make_model(g, opset_imports=[h.make_opsetid('', 17)], ir_version=8), 'relu_two_inputs.onnx')

    # A Relu inside a model-local function; the model lists the default domain twice ('' and 'ai.onnx')
    fn = h.make_function('local.fns', 'Act', ['X'], ['Y'],
                         [h.make_node('Relu', ['X'], ['Y'], name='relu_in_fn')],
                         opset_imports=[h.make_opsetid('', 17)])
    x = h.make_tensor_value_info('x', T.FLOAT, [1, 4])
    y = h.make_tensor_value_info('y', T.FLOAT, [1, 4])
    g = h.make_graph([h.make_node('Act', ['x'], ['y'], name='call', domain='local.fns')], 'g', [x], [y])
    m = h.make_model(g, opset_imports=[h.make_opsetid('', 17), h.make_opsetid('local.fns', 1)], functions=[fn], ir_version=8)
    save(m, 'fn_relu.onnx')
    # and one without functions at IR 7, for the function target
    g = h.make_graph([h.make_node('Relu', ['x'], ['y'], name='relu')], 'g', [x], [y])
    m = h.make_model(g, opset_imports=[h.make_opsetid('', 13), h.make_opsetid('ai.onnx', 13)], ir_version=7)
    save(m, 'ir7_dup_opset.onnx')
    m = h.make_model(g, opset_imports=[h.make_opsetid('', 13), h.make_opsetid('ai.onnx', 17)], ir_version=8)
    save(m, 'dup_opset_conflict.onnx')

    quantized(os.path.join(out, 'deduped.onnx'))


def quantized(float_model):
    """QDQ models from onnxruntime.quantization: the Relu folded away (the default) and kept."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{'x': np.random.default_rng(i).normal(size=(1, 3, 8, 8)).astype(np.float32)} for i in range(4)])

        def get_next(self):
            return next(self.it, None)

    for keep in (False, True):
        quantize_static(float_model, os.path.join(out, f'qdq_keep{int(keep)}.onnx'), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        extra_options={'QDQKeepRemovableActivations': keep})
    quantize_static(float_model, os.path.join(out, 'qoperator.onnx'), Reader(), quant_format=QuantFormat.QOperator)


# ---------------------------------------------------------------------------------------------- checks

def session(path, lib=None, optimize=True):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if lib:
        opts.register_custom_ops_library(lib)
    return ort.InferenceSession(path, opts, providers=['CPUExecutionProvider'])


DTYPES = {T.FLOAT: np.float32, T.FLOAT16: np.float16, T.DOUBLE: np.float64}


def feeds(model):
    r = np.random.default_rng(11)
    out = {}
    for i in model.graph.input:
        if i.name in {x.name for x in model.graph.initializer}:
            continue
        t = i.type.tensor_type
        shape = [d.dim_value or 1 for d in t.shape.dim]
        out[i.name] = (r.normal(size=shape) * 2).astype(DTYPES[t.elem_type])
    return out


def run(path, lib=None, optimize=True):
    m = onnx.load(path)
    s = session(path, lib, optimize)
    return s.run(None, feeds(m))


def with_output(path, value):
    """The model with `value` (an intermediate) added as an output."""
    m = onnx.load(path)
    m.graph.output.append(h.make_empty_tensor_value_info(value))
    return m.SerializeToString()


def check(c):
    kind = c['check']
    if kind == 'checker':
        try:
            onnx.checker.check_model(onnx.load(c['file']), full_check=True)
            return {'ok': True}
        except Exception as e:  # noqa: BLE001 - the message is the result
            return {'ok': False, 'error': str(e).splitlines()[0][:300]}
    if kind == 'same-outputs':
        # Two models on the same seeded input (with and without ORT's optimisations): bit-identical?
        res = {}
        for optimize in (False, True):
            a = run(c['a'], c.get('lib'), optimize)
            b = run(c['b'], c.get('lib_b'), optimize)
            res['optimized' if optimize else 'plain'] = bool(all(x.tobytes() == y.tobytes() for x, y in zip(a, b)))
        return res
    if kind == 'differ':
        a, b = run(c['a']), run(c['b'])
        return {'differ': bool(any(x.tobytes() != y.tobytes() for x, y in zip(a, b)))}
    if kind == 'relu6-jump':
        # The converted model's output equals clip(J_kappa(pre), lo, hi), with `pre` read from the
        # original model (an extra output), computed in numpy in the activation's own type.
        import onnxruntime as ort
        orig = onnx.load(c['original'])
        x = feeds(orig)
        s = ort.InferenceSession(with_output(c['original'], c['pre']), providers=['CPUExecutionProvider'])
        pre = s.run([c['pre']], x)[0]
        k = pre.dtype.type(c['kappa'])
        want = np.clip(np.where(pre > k, pre, pre.dtype.type(0)), pre.dtype.type(c['lo']), pre.dtype.type(c['hi']))
        got = session(c['converted']).run(None, x)[0]
        return {'equal': bool(got.dtype == want.dtype and got.tobytes() == want.tobytes()), 'dtype': str(got.dtype),
                'jumped': int(np.sum((pre > 0) & (pre <= k)))}
    if kind == 'rewrite-relu':
        # An independent rewrite: every Relu in the model becomes ThresholdedRelu(alpha=kappa).
        m = onnx.load(c['file'])
        for n in m.graph.node:
            if n.op_type == 'Relu':
                n.op_type = 'ThresholdedRelu'
                n.attribute.append(h.make_attribute('alpha', float(c['kappa'])))
        onnx.save(m, c['out'])
        return {'ok': True}
    raise SystemExit(f'unknown check {kind}')


if __name__ == '__main__':
    if sys.argv[1] == 'make':
        out = sys.argv[2]
        make()
    else:
        for c in json.load(sys.stdin):
            print(json.dumps(check(c)), flush=True)
