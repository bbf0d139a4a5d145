// Every VJP rule against finite differences (see autodiff-helpers.ts for the check and its tolerance):
// one small model per op and attribute combination, two random directions each.

import assert from 'node:assert/strict';
import test from 'node:test';

import type * as ort from 'onnxruntime-node';

import { gradientSignature, buildGradientModel } from '../src/autodiff/index.js';
import type { Model } from '../src/ir/model.js';
import { DataType } from '../src/ir/tensor.js';
import { type AttrSpec, F, type LeafData, TinyModel, assertGradient, distinctValues, f32, gridValues, rng } from './autodiff-helpers.js';

interface Case {
  model: Model;
  wrt: Record<string, LeafData>;
  fixed?: Record<string, ort.Tensor>;
  of?: string[];
  /** Opset the gradient model is expected to need (default: the model's). */
  opset?: number;
}

const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** Leaf data on the exact grid, away from the given kinks. */
function leaf(seed: number, dims: number[], lo = -2, hi = 2, avoid: number[] = []): LeafData {
  return { dims, values: gridValues(rng(seed), size(dims), lo, hi, avoid) };
}

function tensorOf(l: LeafData): ort.Tensor {
  return f32(l.values, l.dims);
}

function weights(seed: number, dims: number[], scale = 1): LeafData {
  return { dims, values: gridValues(rng(seed), size(dims), -scale, scale) };
}

/** An input of a one-op case: its run-time dims, optionally declared with symbolic dims, and its value range. */
interface InputSpec { dims: number[]; declared?: (number | string)[]; lo?: number; hi?: number; avoid?: number[] }

/** A case y = op(inputs…) where every input is a graph input and a leaf of the check. */
function opCase(op: string, inputs: Record<string, InputSpec>, attrs: Record<string, AttrSpec> = {}) {
  return (s: number): Case => {
    const m = new TinyModel();
    const wrt: Record<string, LeafData> = {};
    const values = Object.entries(inputs).map(([name, spec], i) => {
      wrt[name] = leaf(s + i, spec.dims, spec.lo, spec.hi, spec.avoid);
      return m.input(name, spec.declared ?? spec.dims);
    });
    return { model: m.output(m.one(op, values, attrs)), wrt };
  };
}

const cases: Record<string, (seed: number) => Case> = {};

// ---- elementwise arithmetic with broadcasting ----
cases['Add broadcast [2,3,4] + [3,1]'] = opCase('Add', { a: { dims: [2, 3, 4] }, b: { dims: [3, 1] } });
cases['Sub broadcast [2,3] − [3]'] = opCase('Sub', { a: { dims: [2, 3] }, b: { dims: [3] } });
cases['Mul broadcast [2,1,4] · [3,1]'] = opCase('Mul', { a: { dims: [2, 1, 4] }, b: { dims: [3, 1] } });
cases['Mul of a value by itself'] = (s) => {
  const m = new TinyModel();
  const a = m.input('a', [2, 3]);
  return { model: m.output(m.one('Mul', [a, a])), wrt: { a: leaf(s, [2, 3]) } };
};
cases['Div [2,3] / [2,1]'] = opCase('Div', { a: { dims: [2, 3] }, b: { dims: [2, 1], lo: 0.5, hi: 2 } });
cases['Sum of three, broadcast'] = opCase('Sum', { a: { dims: [2, 3] }, b: { dims: [3] }, c: { dims: [2, 1] } });
cases['symbolic batch: Add [N,3] + [1,3] (runtime shapes)'] = opCase('Add', { a: { dims: [4, 3], declared: ['N', 3] }, b: { dims: [1, 3], declared: ['M', 3] } });
for (const op of ['Neg', 'Exp', 'Log', 'Sqrt', 'Sigmoid', 'Tanh', 'Identity']) {
  const positive = op === 'Log' || op === 'Sqrt';
  cases[op] = opCase(op, { x: { dims: [2, 3, 2], lo: positive ? 0.5 : -2 } });
}

// ---- activations ----
cases['Relu'] = opCase('Relu', { x: { dims: [2, 3, 4], avoid: [0] } });
cases['ThresholdedRelu(alpha=0.5)'] = opCase('ThresholdedRelu', { x: { dims: [2, 3, 4], avoid: [0.5] } }, { alpha: F(0.5) });
cases['JumpReLU as Where(Greater(x, κ), x, 0)'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3, 4]);
  const k = m.init('kappa', [], [0.25]);
  const zero = m.init('zero', [], [0]);
  const mask = m.one('Greater', [x, k]);
  return { model: m.output(m.one('Where', [mask, x, zero])), wrt: { x: leaf(s, [2, 3, 4], -2, 2, [0.25]) } };
};
cases['LeakyRelu(alpha=0.1)'] = opCase('LeakyRelu', { x: { dims: [2, 3, 4], avoid: [0] } }, { alpha: F(0.1) });
cases['Clip(min, max) with gradients for the bounds'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3, 4]);
  const lo = m.init('lo', [], [-0.5]);
  const hi = m.init('hi', [], [0.75]);
  return {
    model: m.output(m.one('Clip', [x, lo, hi])),
    wrt: { x: leaf(s, [2, 3, 4], -2, 2, [-0.5, 0.75]), lo: { dims: [], values: [-0.5] }, hi: { dims: [], values: [0.75] } },
  };
};
cases['Clip(min only)'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3]);
  const lo = m.init('lo', [], [0.25]);
  return { model: m.output(m.one('Clip', [x, lo])), wrt: { x: leaf(s, [2, 3], -2, 2, [0.25]) } };
};
cases['Where(cond, a, b) with broadcasting'] = (s) => {
  const m = new TinyModel();
  const c = m.input('c', [2, 3]);
  const a = m.input('a', [2, 3]);
  const b = m.input('b', [3]);
  const zero = m.init('zero', [], [0]);
  const cond = m.one('Greater', [c, zero]);
  return {
    model: m.output(m.one('Where', [cond, a, b])),
    wrt: { a: leaf(s, [2, 3]), b: leaf(s + 1, [3]) },
    fixed: { c: tensorOf(leaf(s + 2, [2, 3], -1, 1, [0])) },
  };
};
cases['Softmax(axis=1) [2,5]'] = opCase('Softmax', { x: { dims: [2, 5] } }, { axis: 1 });
cases['Softmax(axis=-2) [2,3,4]'] = opCase('Softmax', { x: { dims: [2, 3, 4] } }, { axis: -2 });
cases['LogSoftmax(axis=-1) [2,3,4]'] = opCase('LogSoftmax', { x: { dims: [2, 3, 4] } }, { axis: -1 });
cases['Dropout (inference) and Cast float→double→float'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3]);
  const d = m.one('Dropout', [x]);
  const c = m.one('Cast', [m.one('Cast', [d], { to: DataType.DOUBLE })], { to: DataType.FLOAT });
  return { model: m.output(m.one('Mul', [c, x])), wrt: { x: leaf(s, [2, 3]) } };
};

// ---- linear layers ----
const matmuls: Array<[number[], number[]]> = [[[2, 3], [3, 4]], [[2, 2, 3], [3, 4]], [[2, 3], [2, 3, 4]], [[3], [3, 4]], [[2, 3], [3]], [[3], [3]], [[2, 1, 2, 3], [3, 3, 2]]];
for (const [da, db] of matmuls) cases[`MatMul [${da}]·[${db}]`] = opCase('MatMul', { a: { dims: da }, b: { dims: db } });
for (const transA of [0, 1]) {
  for (const transB of [0, 1]) {
    for (const cDims of [[4], [1, 4], [3, 4], [3, 1], []]) {
      cases[`Gemm transA=${transA} transB=${transB} C[${cDims}] alpha=0.75 beta=1.5`] = (s) => {
        const m = new TinyModel();
        const aDims = transA ? [5, 3] : [3, 5];
        const bDims = transB ? [4, 5] : [5, 4];
        const a = m.input('a', aDims);
        const b = m.init('b', bDims, weights(s + 1, bDims).values);
        const c = m.init('c', cDims, weights(s + 2, cDims).values);
        return {
          model: m.output(m.one('Gemm', [a, b, c], { transA, transB, alpha: F(0.75), beta: F(1.5) })),
          wrt: { a: leaf(s, aDims), b: weights(s + 1, bDims), c: weights(s + 2, cDims) },
        };
      };
    }
  }
}
cases['Gemm without C'] = opCase('Gemm', { a: { dims: [2, 3] }, b: { dims: [3, 4] } });

interface ConvSpec { x: number[]; w: number[]; attrs: Record<string, number[] | number | string>; bias?: boolean }
const convs: Record<string, ConvSpec> = {
  'plain 3x3': { x: [2, 2, 5, 5], w: [3, 2, 3, 3], attrs: {}, bias: true },
  'stride 2, asymmetric pads, floor drops a row': { x: [1, 2, 6, 7], w: [2, 2, 3, 2], attrs: { strides: [2, 2], pads: [1, 0, 2, 1] }, bias: true },
  'dilation 2, groups 2': { x: [2, 4, 7, 6], w: [4, 2, 2, 3], attrs: { dilations: [2, 1], group: 2 }, bias: true },
  'depthwise, stride 3': { x: [1, 3, 8, 8], w: [3, 1, 3, 3], attrs: { group: 3, strides: [3, 3], pads: [1, 1, 1, 1] } },
  'auto_pad SAME_UPPER stride 2': { x: [1, 2, 5, 6], w: [2, 2, 3, 3], attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] } },
  '1-D, stride 2, dilation 2': { x: [2, 3, 11], w: [4, 3, 3], attrs: { strides: [2], dilations: [2], pads: [2, 1] }, bias: true },
  // ≥ 16 input channels, map not growing: the input gradient is the flipped-weight Conv, not a ConvTranspose.
  '16 channels, pads 1 (input gradient as a Conv)': { x: [2, 16, 4, 5], w: [3, 16, 3, 3], attrs: { pads: [1, 1, 1, 1] }, bias: true },
  '16 channels, groups 4, dilation 2, asymmetric pads (input gradient as a Conv)': { x: [1, 16, 6, 6], w: [8, 4, 3, 2], attrs: { group: 4, dilations: [2, 1], pads: [2, 1, 2, 0] } },
};
/** Conv or ConvTranspose with weights (and bias) as initializer leaves. */
function convCase(op: 'Conv' | 'ConvTranspose', spec: ConvSpec) {
  const group = (spec.attrs.group as number | undefined) ?? 1;
  const outChannels = op === 'Conv' ? spec.w[0]! : spec.w[1]! * group;
  return (s: number): Case => {
    const m = new TinyModel();
    const ins = [m.input('x', spec.x), m.init('w', spec.w, weights(s + 1, spec.w, 0.5).values)];
    const wrt: Record<string, LeafData> = { x: leaf(s, spec.x), w: weights(s + 1, spec.w, 0.5) };
    if (spec.bias) {
      ins.push(m.init('b', [outChannels], weights(s + 2, [outChannels]).values));
      wrt.b = weights(s + 2, [outChannels]);
    }
    return { model: m.output(m.one(op, ins, spec.attrs)), wrt };
  };
}
for (const [name, spec] of Object.entries(convs)) cases[`Conv ${name}`] = convCase('Conv', spec);
const convTs: Record<string, ConvSpec> = {
  'stride 2, pads, output_padding 1': { x: [2, 2, 3, 4], w: [2, 3, 3, 3], attrs: { strides: [2, 2], pads: [1, 0, 1, 1], output_padding: [1, 1] }, bias: true },
  'groups 2, dilation 2': { x: [1, 4, 3, 3], w: [4, 1, 2, 2], attrs: { group: 2, dilations: [2, 2] }, bias: true },
  '1-D stride 3': { x: [2, 2, 4], w: [2, 2, 3], attrs: { strides: [3] } },
};
for (const [name, spec] of Object.entries(convTs)) cases[`ConvTranspose ${name}`] = convCase('ConvTranspose', spec);
cases['BatchNormalization (inference), all inputs'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3, 2, 2]);
  const init = (n: string, lo: number, hi: number, k: number) => m.init(n, [3], gridValues(rng(s + k), 3, lo, hi));
  const ins = [x, init('scale', -1, 1, 1), init('bias', -1, 1, 2), init('mean', -1, 1, 3), init('var', 0.5, 2, 4)];
  return {
    model: m.output(m.one('BatchNormalization', ins, { epsilon: F(0.01) })),
    wrt: {
      x: leaf(s, [2, 3, 2, 2]),
      scale: { dims: [3], values: gridValues(rng(s + 1), 3, -1, 1) },
      bias: { dims: [3], values: gridValues(rng(s + 2), 3, -1, 1) },
      mean: { dims: [3], values: gridValues(rng(s + 3), 3, -1, 1) },
      var: { dims: [3], values: gridValues(rng(s + 4), 3, 0.5, 2) },
    },
  };
};

// ---- pooling ----
interface PoolSpec { x: number[]; attrs: Record<string, number[] | number>; opset?: number; expectOpset?: number }
const maxPools: Record<string, PoolSpec> = {
  'k2 s2 (no overlap)': { x: [2, 2, 4, 6], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
  'k3 s2 p1 (overlapping windows: opset 16 scatter-add)': { x: [1, 2, 7, 7], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, expectOpset: 16 },
  'k2 s2 ceil_mode': { x: [1, 2, 5, 5], attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 } },
  'k2 dilation 2 s1 (overlapping, opset 17 model)': { x: [1, 1, 6, 6], attrs: { kernel_shape: [2, 2], dilations: [2, 2] }, opset: 17 },
  '1-D k3 s3 pad': { x: [2, 3, 8], attrs: { kernel_shape: [3], strides: [3], pads: [1, 0] } },
};
for (const [name, spec] of Object.entries(maxPools)) {
  cases[`MaxPool ${name}`] = (s) => {
    const m = new TinyModel(spec.opset ?? 13);
    const x = m.input('x', spec.x);
    return {
      model: m.output(m.one('MaxPool', [x], spec.attrs)),
      wrt: { x: { dims: spec.x, values: distinctValues(rng(s), size(spec.x)) } },
      ...(spec.expectOpset ? { opset: spec.expectOpset } : {}),
    };
  };
}
const avgPools: Record<string, PoolSpec> = {
  'k3 s2 p1 count_include_pad=0': { x: [2, 2, 7, 6], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
  'k3 s2 p1 count_include_pad=1': { x: [1, 2, 7, 6], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 } },
  'k2 s2 ceil_mode': { x: [1, 2, 5, 5], attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 } },
  'k3 s1 asymmetric pads, floor': { x: [1, 1, 6, 5], attrs: { kernel_shape: [3, 2], strides: [2, 1], pads: [0, 1, 2, 0] } },
};
for (const [name, spec] of Object.entries(avgPools)) {
  cases[`AveragePool ${name}`] = (s) => {
    const m = new TinyModel();
    const x = m.input('x', spec.x);
    return { model: m.output(m.one('AveragePool', [x], spec.attrs)), wrt: { x: leaf(s, spec.x) } };
  };
}
cases['GlobalAveragePool'] = opCase('GlobalAveragePool', { x: { dims: [2, 3, 4, 5] } });
cases['GlobalAveragePool, symbolic spatial dims'] = opCase('GlobalAveragePool', { x: { dims: [2, 3, 4, 5], declared: ['N', 3, 'H', 'W'] } });

// ---- reshapes and data movement ----
cases['Flatten(axis=2), Reshape(-1, 6), Transpose, Squeeze/Unsqueeze'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3, 2, 2]);
  const f = m.one('Flatten', [x], { axis: 2 });
  const r = m.one('Reshape', [f, m.ints('shape', [-1, 6])]);
  const t = m.one('Transpose', [r], { perm: [1, 0] });
  const u = m.one('Unsqueeze', [t, m.ints('uaxes', [0, 2])]);
  const q = m.one('Squeeze', [u, m.ints('qaxes', [0])]);
  const w = m.init('w', [6, 1, 4], weights(s + 5, [6, 1, 4]).values);
  return { model: m.output(m.one('Mul', [q, w])), wrt: { x: leaf(s, [2, 3, 2, 2]) } };
};
cases['Transpose without perm (reverse)'] = opCase('Transpose', { x: { dims: [2, 3, 4] } });
cases['Concat(axis=1) of three'] = opCase('Concat', { a: { dims: [2, 1, 3] }, b: { dims: [2, 2, 3] }, c: { dims: [2, 3, 3] } }, { axis: 1 });
cases['Concat(axis=0) with a symbolic axis (runtime Split)'] = opCase('Concat', { a: { dims: [2, 3], declared: ['N', 3] }, b: { dims: [3, 3], declared: ['M', 3] } }, { axis: 0 });
cases['Split(axis=1, [1, 3]) with one output unused'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 4, 2]);
  const [, second] = m.op('Split', [x, m.ints('split', [1, 3])], { axis: 1 }, 2);
  return { model: m.output(second!), wrt: { x: leaf(s, [2, 4, 2]) } };
};
cases['Split into equal parts, both used'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 4]);
  const [p, q] = m.op('Split', [x], { axis: 1 }, 2);
  return { model: m.output(m.one('Mul', [p!, q!])), wrt: { x: leaf(s, [2, 4]) } };
};
cases['Slice steps 1, 2 and −1, negative starts, axes'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [3, 7, 6]);
  const y = m.one('Slice', [x, m.ints('st', [1, -1, 0]), m.ints('en', [3, -8, 5]), m.ints('ax', [0, 1, 2]), m.ints('sp', [1, -2, 2])]);
  return { model: m.output(y), wrt: { x: leaf(s, [3, 7, 6]) } };
};
cases['Slice of a symbolic axis taken whole'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', ['N', 5]);
  const y = m.one('Slice', [x, m.ints('st', [0, 1]), m.ints('en', [2 ** 62, 4])]);
  return { model: m.output(y), wrt: { x: leaf(s, [2, 5]) } };
};
cases['Pad constant, positive and negative pads'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3, 4]);
  const y = m.one('Pad', [x, m.ints('pads', [0, 1, -1, 1, 2, 0]), m.init('cv', [], [0.5])]);
  return { model: m.output(y), wrt: { x: leaf(s, [2, 3, 4]) } };
};
cases['Gather(axis=1) unique constant indices incl. negative'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 5, 3]);
  const y = m.one('Gather', [x, m.ints('idx', [4, 0, -3])], { axis: 1 });
  return { model: m.output(y), wrt: { x: leaf(s, [2, 5, 3]) } };
};
cases['Gather(axis=0) repeated 2-D indices (opset 16 scatter-add)'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [4, 3]);
  const idx = m.init('idx', [2, 3], [1, 3, 1, 0, 1, 3], DataType.INT64);
  return { model: m.output(m.one('Gather', [x, idx], { axis: 0 })), wrt: { x: leaf(s, [4, 3]) }, opset: 16 };
};
cases['Gather scalar index'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [3, 4]);
  const idx = m.init('idx', [], [2], DataType.INT64);
  return { model: m.output(m.one('Gather', [x, idx], { axis: 1 })), wrt: { x: leaf(s, [3, 4]) } };
};
cases['Expand'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [3, 1]);
  return { model: m.output(m.one('Expand', [x, m.ints('shape', [2, 3, 4])])), wrt: { x: leaf(s, [3, 1]) } };
};
for (const keepdims of [0, 1]) {
  cases[`ReduceSum axes [0,2] keepdims=${keepdims}`] = (s) => {
    const m = new TinyModel();
    const x = m.input('x', [2, 3, 4]);
    return { model: m.output(m.one('ReduceSum', [x, m.ints('axes', [0, -1])], { keepdims })), wrt: { x: leaf(s, [2, 3, 4]) } };
  };
  cases[`ReduceMean (opset 13 attribute axes) keepdims=${keepdims}`] = (s) => {
    const m = new TinyModel();
    const x = m.input('x', [2, 3, 4]);
    return { model: m.output(m.one('ReduceMean', [x], { axes: [1], keepdims })), wrt: { x: leaf(s, [2, 3, 4]) } };
  };
}
cases['ReduceSum over all axes'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3]);
  return { model: m.output(m.one('ReduceSum', [x], { keepdims: 0 })), wrt: { x: leaf(s, [2, 3]) } };
};
cases['ReduceMean (opset 18 input axes), symbolic dims'] = (s) => {
  const m = new TinyModel(18);
  const x = m.input('x', ['N', 3, 4]);
  return { model: m.output(m.one('ReduceMean', [x, m.ints('axes', [0, 2])], { keepdims: 0 })), wrt: { x: leaf(s, [2, 3, 4]) } };
};
cases['Constant node feeding Mul'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3]);
  const c = m.one('Constant', [], { value_floats: { floats: [0.5, -1, 2] } });
  return { model: m.output(m.one('Mul', [x, c])), wrt: { x: leaf(s, [2, 3]) } };
};

// ---- vision-zoo activations and arithmetic (MobileNetV3, EfficientNet, transformers) ----
cases['HardSigmoid(alpha=0.5, beta=0.5) across both kinks'] = opCase('HardSigmoid', { x: { dims: [2, 3, 4], lo: -2, hi: 2, avoid: [-1, 1] } }, { alpha: F(0.5), beta: F(0.5) });
cases['HardSigmoid (defaults: MobileNetV3 alpha=1/6)'] = opCase('HardSigmoid', { x: { dims: [2, 3, 4], lo: -4, hi: 4, avoid: [-3, 3] } }, { alpha: F(1 / 6) });
cases['HardSwish across −3 and 3 (opset 14)'] = (s) => {
  const m = new TinyModel(14);
  const x = m.input('x', [2, 3, 4]);
  return { model: m.output(m.one('HardSwish', [x])), wrt: { x: leaf(s, [2, 3, 4], -4, 4, [-3, 3]) } };
};
cases['Elu(alpha=0.7)'] = opCase('Elu', { x: { dims: [2, 3, 4], avoid: [0] } }, { alpha: F(0.7) });
cases['Selu'] = opCase('Selu', { x: { dims: [2, 3, 4], avoid: [0] } });
cases['Softplus'] = opCase('Softplus', { x: { dims: [2, 3, 4] } });
cases['Softsign'] = opCase('Softsign', { x: { dims: [2, 3, 4], avoid: [0] } });
cases['Mish (opset 18)'] = (s) => {
  const m = new TinyModel(18);
  const x = m.input('x', [2, 3, 4]);
  return { model: m.output(m.one('Mish', [x])), wrt: { x: leaf(s, [2, 3, 4]) } };
};
cases['PRelu, per-channel slope [3,1,1] with its gradient'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3, 2, 2]);
  const slope = m.init('slope', [3, 1, 1], [0.25, -0.5, 0.125]);
  return { model: m.output(m.one('PRelu', [x, slope])), wrt: { x: leaf(s, [2, 3, 2, 2], -2, 2, [0]), slope: { dims: [3, 1, 1], values: [0.25, -0.5, 0.125] } } };
};
cases['Erf'] = opCase('Erf', { x: { dims: [2, 3, 4] } });
for (const approximate of ['none', 'tanh']) {
  cases[`Gelu approximate=${approximate} (opset 20)`] = (s) => {
    const m = new TinyModel(20);
    const x = m.input('x', [2, 3, 4]);
    return { model: m.output(m.one('Gelu', [x], { approximate })), wrt: { x: leaf(s, [2, 3, 4], -3, 3) } };
  };
}
cases['GELU as exported by TorchScript: x·½(1 + erf(x/√2))'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3, 4]);
  const e = m.one('Erf', [m.one('Div', [x, m.init('sqrt2', [], [Math.SQRT2])])]);
  const y = m.one('Mul', [m.one('Mul', [x, m.one('Add', [e, m.init('one', [], [1])])]), m.init('half', [], [0.5])]);
  return { model: m.output(y), wrt: { x: leaf(s, [2, 3, 4], -3, 3) } };
};
for (const k of [2, 0.5, 3, -1.5]) {
  cases[`Pow with constant exponent ${k}`] = (s) => {
    const m = new TinyModel();
    const x = m.input('x', [2, 3, 4]);
    return { model: m.output(m.one('Pow', [x, m.init('k', [], [k])])), wrt: { x: leaf(s, [2, 3, 4], 0.5, 2) } };
  };
}
cases['Pow, both base and exponent (broadcast [3])'] = opCase('Pow', { a: { dims: [2, 3], lo: 0.5, hi: 2 }, b: { dims: [3], lo: -1.5, hi: 1.5 } });
cases['Reciprocal'] = opCase('Reciprocal', { x: { dims: [2, 3, 4], lo: 0.5, hi: 2 } });
cases['Abs'] = opCase('Abs', { x: { dims: [2, 3, 4], avoid: [0] } });
cases['Max and Min of three, broadcast'] = (s) => {
  const m = new TinyModel();
  const [a, b, c] = [m.input('a', [2, 3]), m.input('b', [3]), m.input('c', [2, 1])];
  const y = m.one('Add', [m.one('Max', [a, b, c]), m.one('Min', [a, b])]);
  // One pool of distinct values for all three, so no two inputs come close to a tie on the probe segment.
  const pool = distinctValues(rng(s), 11);
  return {
    model: m.output(y),
    wrt: { a: { dims: [2, 3], values: pool.slice(0, 6) }, b: { dims: [3], values: pool.slice(6, 9) }, c: { dims: [2, 1], values: pool.slice(9) } },
  };
};

// ---- reductions beyond sum and mean ----
for (const op of ['ReduceMax', 'ReduceMin', 'ReduceL2', 'ReduceL1', 'ReduceSumSquare', 'ReduceLogSumExp', 'ReduceLogSum']) {
  for (const keepdims of [0, 1]) {
    cases[`${op} axes [1] keepdims=${keepdims} (opset 13 attribute)`] = (s) => {
      const m = new TinyModel();
      const x = m.input('x', [2, 3, 4]);
      const positive = op === 'ReduceLogSum';
      const values = op === 'ReduceMax' || op === 'ReduceMin' ? distinctValues(rng(s), 24) : gridValues(rng(s), 24, positive ? 0.5 : -2, 2, op === 'ReduceL1' ? [0] : []);
      return { model: m.output(m.one(op, [x], { axes: [1], keepdims })), wrt: { x: { dims: [2, 3, 4], values } } };
    };
  }
}
cases['ReduceMax over all axes (opset 18, no axes input)'] = (s) => {
  const m = new TinyModel(18);
  const x = m.input('x', [2, 3]);
  return { model: m.output(m.one('ReduceMax', [x], { keepdims: 0 })), wrt: { x: { dims: [2, 3], values: distinctValues(rng(s), 6) } } };
};
cases['ReduceL2 (opset 18 input axes [-1, 0])'] = (s) => {
  const m = new TinyModel(18);
  const x = m.input('x', [2, 3, 4]);
  return { model: m.output(m.one('ReduceL2', [x, m.ints('axes', [-1, 0])], { keepdims: 1 })), wrt: { x: leaf(s, [2, 3, 4]) } };
};

// ---- normalisation ----
cases['InstanceNormalization, scale and bias gradients'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3, 3, 4]);
  const scale = weights(s + 1, [3]);
  const bias = weights(s + 2, [3]);
  const y = m.one('InstanceNormalization', [x, m.init('scale', [3], scale.values), m.init('bias', [3], bias.values)], { epsilon: F(0.01) });
  return { model: m.output(y), wrt: { x: leaf(s, [2, 3, 3, 4]), scale, bias } };
};

// ---- data movement ----
cases['GatherElements(axis=1) with repeated indices (opset 16 scatter-add)'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 4]);
  const idx = m.init('idx', [2, 3], [0, 3, 0, 1, 1, 2], DataType.INT64);
  return { model: m.output(m.one('GatherElements', [x, idx], { axis: 1 })), wrt: { x: leaf(s, [2, 4]) }, opset: 16 };
};
cases['Tile [2,1,3] × [1,3,2]'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 1, 3]);
  return { model: m.output(m.one('Tile', [x, m.ints('reps', [1, 3, 2])])), wrt: { x: leaf(s, [2, 1, 3]) } };
};
cases['Tile with a symbolic batch'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', ['N', 3]);
  return { model: m.output(m.one('Tile', [x, m.ints('reps', [2, 2])])), wrt: { x: leaf(s, [2, 3]) } };
};
cases['Gather with indices computed from a Shape (treated as constants)'] = (s) => {
  const m = new TinyModel();
  const x = m.input('x', [2, 4, 3]);
  // index = shape(x)[2] − 2 = 1, through Shape → Gather → Sub, as exporters write x[:, -2]-style indexing.
  const dim = m.one('Gather', [m.one('Shape', [x]), m.init('two', [], [2], DataType.INT64)], { axis: 0 });
  const idx = m.one('Sub', [dim, m.init('k', [], [2], DataType.INT64)]);
  return { model: m.output(m.one('Gather', [x, idx], { axis: 1 })), wrt: { x: leaf(s, [2, 4, 3]) } };
};

cases['Gather with indices known only at run time (Range over a symbolic batch; repeated, negative; opset 16)'] = (s) => {
  const m = new TinyModel(16);
  const x = m.input('x', ['N', 5]);
  // r = Range(1, N + 1), idx = Concat(r, r) − 5: [−4, −3, −4, −3] for N = 2, as the dynamo exporter writes as_strided.
  const n = m.one('Gather', [m.one('Shape', [x]), m.init('zero', [], [0], DataType.INT64)], { axis: 0 });
  const r = m.one('Range', [m.init('one', [], [1], DataType.INT64), m.one('Add', [n, m.init('one_', [], [1], DataType.INT64)]), m.init('step', [], [1], DataType.INT64)]);
  const idx = m.one('Sub', [m.one('Concat', [r, r], { axis: 0 }), m.init('five', [], [5], DataType.INT64)]);
  return { model: m.output(m.one('Gather', [x, idx], { axis: 1 })), wrt: { x: leaf(s, [2, 5]) }, opset: 16 };
};
cases['Resize linear (half_pixel) ×2 by scales, symbolic batch (opset 18, as F.interpolate exports)'] = (s) => {
  const m = new TinyModel(18);
  const x = m.input('x', ['N', 2, 3, 4]);
  const y = m.one('Resize', [x, null, m.init('scales', [4], [1, 1, 2, 2])], { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' });
  return { model: m.output(y), wrt: { x: leaf(s, [2, 2, 3, 4]) } };
};
cases['Resize nearest by sizes (asymmetric, floor)'] = (s) => {
  const m = new TinyModel(13);
  const x = m.input('x', [1, 2, 3, 4]);
  const y = m.one('Resize', [x, null, null, m.ints('sizes', [1, 2, 5, 6])], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
  return { model: m.output(y), wrt: { x: leaf(s, [1, 2, 3, 4]) } };
};


let worst = 0;
let worstFraction = 0;
for (const [name, make] of Object.entries(cases)) {
  test(`VJP rule vs finite differences: ${name}`, async (t) => {
    for (const seed of [11, 23]) {
      const c = make(seed * 101);
      const res = await assertGradient(c.model, { wrt: c.wrt, of: c.of ?? [c.model.graph.outputs[0]!.name], seed, fixed: c.fixed });
      worst = Math.max(worst, res.relative);
      worstFraction = Math.max(worstFraction, res.error / res.tolerance);
      t.diagnostic(`seed ${seed}: D=${res.derivative.toPrecision(8)} FD=${res.slope.toPrecision(8)} error ${res.error.toExponential(2)} (tolerance ${res.tolerance.toExponential(2)}, relative to Σ|g·v| ${res.relative.toExponential(2)})`);
      if (c.opset) {
        const g = buildGradientModel(c.model, { wrt: [c.model.graph.inputs[0]!.name], of: [c.model.graph.outputs[0]!.name] });
        assert.equal(gradientSignature(g)!.opset, c.opset);
      }
    }
  });
}

test('VJP rules: largest error relative to Σ|g·v| over all cases', (t) => {
  t.diagnostic(`max error relative to Σ|g·v| ${worst.toExponential(2)}; largest error/tolerance ${worstFraction.toFixed(3)}`);
  assert.ok(worst < 2 ** -14);
});
