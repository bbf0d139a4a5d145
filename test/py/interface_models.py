# Models with the interfaces real exports have, for test/harness-interface.test.ts: external data, a
# labels-first output, an NHWC input with its normalisation before the Transpose, a batch-less input, an IR-3
# model that lists its weights as graph inputs (CNTK's mnist-8 layout), one whose batch cannot be freed, and a
# torchvision MobileNetV2 (ReLU6 only) — random weights, small inputs. Each folder gets x.npy (float [0,1] NCHW
# images) and y.npy (int64 labels: the model's own predictions, so clean accuracy at κ = 0 is 100 %).
# usage: interface_models.py OUT_DIR onnx|torch (the onnx models need onnx + onnxruntime; MobileNetV2 needs torch +
# torchvision, which may be another interpreter)
import os
import sys

import numpy as np

OUT = sys.argv[1]
PART = sys.argv[2]
def onnx_models():
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    N = 12


    def w(*shape, scale=0.5):
        return (rng.standard_normal(shape) * scale).astype(np.float32)


    def save(name, graph, opset=13, ir=None, external=False):
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)], producer_name='interface_models')
        m.ir_version = ir if ir is not None else 8  # what onnxruntime-node and the Debian onnxruntime load
        path = os.path.join(d, 'model.onnx')
        if external:
            onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location='model.onnx.data', size_threshold=0)
        else:
            onnx.save_model(m, path)
        return d, m


    def data(d, m, x_nchw, feed):
        """Writes x.npy (NCHW [0,1]) and y.npy (the model's predictions on `feed`, which is x in the model's layout)."""
        import onnxruntime as ort
        sess = ort.InferenceSession(os.path.join(d, 'model.onnx'), providers=['CPUExecutionProvider'])
        inp = [i.name for i in sess.get_inputs()]
        out = [o for o in sess.get_outputs() if o.type == 'tensor(float)'][0].name
        preds = []
        for f in feed:
            r = sess.run([out], {inp[0]: f})[0]
            preds.append(int(np.argmax(r.reshape(-1))))
        np.save(os.path.join(d, 'x.npy'), x_nchw.astype(np.float32))
        np.save(os.path.join(d, 'y.npy'), np.array(preds, dtype=np.int64))


    def conv_head(x, c_in, hw, prefix=''):
        """Conv 3x3 (8 ch) → Relu → GlobalAveragePool → Flatten → Gemm 10: nodes and initializers."""
        inits = [numpy_helper.from_array(w(8, c_in, 3, 3), prefix + 'conv_w'), numpy_helper.from_array(w(8, scale=0.1), prefix + 'conv_b'),
                 numpy_helper.from_array(w(10, 8), prefix + 'fc_w'), numpy_helper.from_array(w(10, scale=0.1), prefix + 'fc_b')]
        nodes = [helper.make_node('Conv', [x, prefix + 'conv_w', prefix + 'conv_b'], ['c'], pads=[1, 1, 1, 1]),
                 helper.make_node('Relu', ['c'], ['r']),
                 helper.make_node('GlobalAveragePool', ['r'], ['p']),
                 helper.make_node('Flatten', ['p'], ['f']),
                 helper.make_node('Gemm', ['f', prefix + 'fc_w', prefix + 'fc_b'], ['logits'], transB=1)]
        return nodes, inits


    x3 = rng.random((N, 3, 8, 8), dtype=np.float32)
    x1 = rng.random((N, 1, 8, 8), dtype=np.float32)

    # external data (loaded from another working directory by the test)
    nodes, inits = conv_head('input', 3, 8)
    g = helper.make_graph(nodes, 'ext', [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['N', 3, 8, 8])],
                          [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['N', 10])], inits)
    d, m = save('external', g, external=True)
    data(d, m, x3, [x3[i:i + 1] for i in range(N)])

    # the same model with its external data location leading out of its folder (refused)
    esc = onnx.load(os.path.join(d, 'model.onnx'), load_external_data=False)
    for t in esc.graph.initializer:
        for kv in t.external_data:
            if kv.key == 'location':
                kv.value = '../external/model.onnx.data'
    os.makedirs(os.path.join(OUT, 'escape'), exist_ok=True)
    onnx.save_model(esc, os.path.join(OUT, 'escape', 'model.onnx'))

    # labels first: [N] int64 labels, then the float logits
    nodes, inits = conv_head('input', 3, 8)
    nodes.append(helper.make_node('ArgMax', ['logits'], ['label'], axis=1, keepdims=0))
    g = helper.make_graph(nodes, 'labels_first', [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['N', 3, 8, 8])],
                          [helper.make_tensor_value_info('label', TensorProto.INT64, ['N']), helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['N', 10])], inits)
    d, m = save('labels_first', g)
    data(d, m, x3, [x3[i:i + 1] for i in range(N)])

    # two float [N, 10] outputs: which is the logits cannot be told
    nodes, inits = conv_head('input', 3, 8)
    nodes.append(helper.make_node('Relu', ['logits'], ['features']))
    g = helper.make_graph(nodes, 'two_outputs', [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['N', 3, 8, 8])],
                          [helper.make_tensor_value_info('features', TensorProto.FLOAT, ['N', 10]), helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['N', 10])], inits)
    d, m = save('two_outputs', g)
    data(d, m, x3, [x3[i:i + 1] for i in range(N)])

    # single channel without a channel dimension: [N, 8, 8]
    nodes, inits = conv_head('nchw', 1, 8)
    inits.append(numpy_helper.from_array(np.array([0, 1, 8, 8], np.int64), 'to4'))
    nodes = [helper.make_node('Reshape', ['image', 'to4'], ['nchw'])] + nodes
    g = helper.make_graph(nodes, 'channel_less', [helper.make_tensor_value_info('image', TensorProto.FLOAT, ['N', 8, 8])],
                          [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['N', 10])], inits)
    d, m = save('channel_less', g)
    data(d, m, x1, [x1[i:i + 1, 0] for i in range(N)])

    # NHWC: per-channel normalisation on the last axis, then Transpose to NCHW
    nodes, inits = conv_head('nchw', 3, 8)
    inits += [numpy_helper.from_array(np.array([0.5, 0.4, 0.3], np.float32), 'mean'), numpy_helper.from_array(np.array([0.2, 0.25, 0.3], np.float32), 'std')]
    nodes = [helper.make_node('Sub', ['image', 'mean'], ['centred']), helper.make_node('Div', ['centred', 'std'], ['normalised']),
             helper.make_node('Transpose', ['normalised'], ['nchw'], perm=[0, 3, 1, 2])] + nodes
    g = helper.make_graph(nodes, 'nhwc', [helper.make_tensor_value_info('image', TensorProto.FLOAT, ['N', 8, 8, 3])],
                          [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['N', 10])], inits)
    d, m = save('nhwc', g)
    data(d, m, x3, [x3[i:i + 1].transpose(0, 2, 3, 1) for i in range(N)])

    # batch-less: [3, 8, 8] in, [10] out
    nodes, inits = conv_head('batched', 3, 8)
    inits += [numpy_helper.from_array(np.array([1, 3, 8, 8], np.int64), 'to4'), numpy_helper.from_array(np.array([10], np.int64), 'to1')]
    nodes = [helper.make_node('Reshape', ['image', 'to4'], ['batched'])] + nodes
    nodes[-1].output[0] = 'logits2'
    nodes.append(helper.make_node('Reshape', ['logits2', 'to1'], ['logits']))
    g = helper.make_graph(nodes, 'batchless', [helper.make_tensor_value_info('image', TensorProto.FLOAT, [3, 8, 8])],
                          [helper.make_tensor_value_info('logits', TensorProto.FLOAT, [10])], inits)
    d, m = save('batchless', g)
    data(d, m, x3, [x3[i] for i in range(N)])


    def ir3(name, reshape_to, opset=9):
        """mnist-8's layout: IR 3, every weight also a graph input, batch fixed to 1, Reshape by an initializer shape."""
        inits = [numpy_helper.from_array(w(4, 1, 3, 3), 'W1'), numpy_helper.from_array(w(4, 1, 1, scale=0.1), 'B1'),
                 numpy_helper.from_array(np.array(reshape_to, np.int64), 'shape'), numpy_helper.from_array(w(64, 10, scale=0.2), 'W2'),
                 numpy_helper.from_array(w(1, 10, scale=0.1), 'B2')]
        nodes = [helper.make_node('Conv', ['Input3', 'W1'], ['c'], pads=[1, 1, 1, 1]), helper.make_node('Add', ['c', 'B1'], ['cb']),
                 helper.make_node('Relu', ['cb'], ['r']), helper.make_node('MaxPool', ['r'], ['p'], kernel_shape=[2, 2], strides=[2, 2])]
        if len(reshape_to) == 1:
            inits.append(numpy_helper.from_array(np.array([1, 64], np.int64), 'shape2'))
            nodes += [helper.make_node('Reshape', ['p', 'shape'], ['flat0']), helper.make_node('Reshape', ['flat0', 'shape2'], ['flat'])]
        else:
            nodes.append(helper.make_node('Reshape', ['p', 'shape'], ['flat']))
        nodes += [helper.make_node('MatMul', ['flat', 'W2'], ['mm']), helper.make_node('Add', ['mm', 'B2'], ['Plus214_Output_0'])]
        weights = [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in inits]
        g = helper.make_graph(nodes, name, [helper.make_tensor_value_info('Input3', TensorProto.FLOAT, [1, 1, 8, 8])] + weights,
                              [helper.make_tensor_value_info('Plus214_Output_0', TensorProto.FLOAT, [1, 10])], inits)
        d, m = save(name, g, opset=opset, ir=3)  # mnist-8 is opset 8, which the harness refuses (convert it first)
        data(d, m, x1, [x1[i:i + 1] for i in range(N)])


    ir3('ir3', [1, 64])
    ir3('ir3_fixed', [64])
    ir3('ir3_opset8', [1, 64], opset=8)


# MobileNetV2 (ReLU6 = Clip(0, 6) only), random weights, 32×32, dynamic batch
def torch_models():
    import torch
    import torchvision
    torch.manual_seed(0)
    net = torchvision.models.mobilenet_v2(num_classes=10).eval()
    d = os.path.join(OUT, 'mobilenet_v2')
    os.makedirs(d, exist_ok=True)
    x = torch.rand(8, 3, 32, 32)
    torch.onnx.export(net, x[:1], os.path.join(d, 'model.onnx'), opset_version=13, input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}})
    with torch.no_grad():
        y = net(x).argmax(1).numpy().astype(np.int64)
    np.save(os.path.join(d, 'x.npy'), x.numpy())
    np.save(os.path.join(d, 'y.npy'), y)
onnx_models() if PART == 'onnx' else torch_models()
print('ok')
