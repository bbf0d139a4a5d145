// VJP rules of the linear layers: Conv, ConvTranspose, Gemm, MatMul, BatchNormalization (inference).
//
// Conv's input gradient is the ConvTranspose of the output gradient with the same weights; its weight
// gradient is a Conv that correlates the input with the output gradient (batch and channel axes swapped,
// stride and dilation exchanged). ConvTranspose is the mirror image.

import type { Value } from '../../ir/value.js';
import { attrFloat, attrInt, attrInts, attrString } from '../../ir/analysis/attrs.js';
import { f } from '../emitter.js';
import { type WindowGeometry, windowGeometry } from '../../ir/analysis/shapes.js';
import {
  type Rule, type RuleContext, elemOf, fail, input, range, rankOf, staticDims, unbroadcast,
} from './context.js';

/**
 * Pads and output_padding for a ConvTranspose that is the adjoint of a window op (Conv, AveragePool)
 * whose input has spatial dims `xs` and output `os`: the full transposed extent s·(o−1) + (k−1)·d + 1
 * is cropped by the forward's begin pads, and cropped or extended at the end to land on `xs`.
 */
export function adjointPadding(g: WindowGeometry, xs: number[], os: number[]): { pads: number[]; outputPadding: number[] } {
  const begin: number[] = [];
  const end: number[] = [];
  const outputPadding: number[] = [];
  xs.forEach((x, i) => {
    const full = g.strides[i]! * (os[i]! - 1) + (g.kernel[i]! - 1) * g.dilations[i]! + 1;
    const cropEnd = full - g.padsBegin[i]! - x;
    begin.push(g.padsBegin[i]!);
    end.push(Math.max(cropEnd, 0));
    outputPadding.push(Math.max(-cropEnd, 0));
  });
  return { pads: [...begin, ...end], outputPadding };
}

/** Kernel spatial shape from the attribute or the weight's dims. */
function kernelOf(c: RuleContext, w: Value): number[] {
  const k = attrInts(c.node, 'kernel_shape');
  if (k) return k;
  return staticDims(c, c.info.shape(w)?.slice(2), 'kernel dims of the weight');
}

/**
 * Weight gradient of a grouped convolution as one Conv: `data` [N, G·a, …] is regrouped to [a, G·N, …]
 * (the batch), `filter` [N, G·b, …] to [G·b, N, …] (the weights); the result [a, G·b, k'…] is transposed
 * to [G·b, a, k'…] and cropped to the kernel. Used for Conv (data = input, filter = output gradient) and
 * for ConvTranspose (data = output gradient, filter = input).
 */
function correlate(
  c: RuleContext, data: Value, dataSpatial: number[], a: number, filter: Value, filterSpatial: number[], b: number,
  group: number, g: WindowGeometry,
): Value {
  const r = dataSpatial.length;
  const sp = range(r, 3);
  const d1 = c.e.one('Reshape', [data, c.e.ints([-1, group, a, ...dataSpatial])]);
  const d2 = c.e.one('Transpose', [d1], { perm: [2, 1, 0, ...sp] });
  const batch = c.e.one('Reshape', [d2, c.e.ints([a, -1, ...dataSpatial])]);
  const f1 = c.e.one('Reshape', [filter, c.e.ints([-1, group, b, ...filterSpatial])]);
  const f2 = c.e.one('Transpose', [f1], { perm: [1, 2, 0, ...sp] });
  const weights = c.e.one('Reshape', [f2, c.e.ints([group * b, -1, ...filterSpatial])]);
  const conv = c.e.one('Conv', [batch, weights], {
    strides: g.dilations, dilations: g.strides, pads: [...g.padsBegin, ...g.padsEnd], group,
  });
  const t = c.e.one('Transpose', [conv], { perm: [1, 0, ...range(r, 2)] });
  const got = c.info.shape(conv)?.slice(2);
  if (got && got.every((d, i) => d === g.kernel[i])) return t;
  return c.e.one('Slice', [t, c.e.ints(new Array<number>(r).fill(0)), c.e.ints(g.kernel), c.e.ints(range(r, 2))]);
}

function biasGrad(c: RuleContext, gy: Value, rank: number): Value {
  return c.e.one('ReduceSum', [gy, c.e.ints([0, ...range(rank - 2, 2)])], { keepdims: 0 });
}

/**
 * Input gradient of a Conv. With unit strides it is itself a Conv ("full" correlation): the weights
 * transposed per group ([M, C/G, k…] → [C, M/G, k…]) and flipped spatially, pads (k−1)·d − p. ORT folds
 * the weight transform into a constant and runs its fast (NCHWc) Conv kernels. That pays when the
 * gradient has enough channels (NCHWc pads channels to blocks of 8 or 16) and the map does not grow
 * much (a full correlation computes every output of the larger input map); otherwise, and for other
 * strides, ConvTranspose, which does exactly the forward's multiply-adds.
 */
/** Thresholds for the Conv form of a Conv's input gradient (measured in ORT 1.30 CPU, docs/gradients.md). */
const FULL_CONV_MIN_CHANNELS = 16;
const FULL_CONV_MAX_GROWTH = 1.3;

function convInputGrad(c: RuleContext, gy: Value, w: Value, g: WindowGeometry, xs: number[], os: number[], group: number): Value {
  const r = g.kernel.length;
  const fullBegin = g.kernel.map((k, i) => (k - 1) * g.dilations[i]! - g.padsBegin[i]!);
  const fullEnd = g.kernel.map((k, i) => (k - 1) * g.dilations[i]! - g.padsEnd[i]!);
  const ws = c.info.shape(w)?.slice(0, 2);
  const growth = xs.reduce((a, b) => a * b, 1) / os.reduce((a, b) => a * b, 1);
  const channels = typeof ws?.[1] === 'number' ? ws[1] * group : 0;
  if (g.strides.every((s) => s === 1) && [...fullBegin, ...fullEnd].every((p) => p >= 0) && ws && ws.every((d) => typeof d === 'number')
    && channels >= FULL_CONV_MIN_CHANNELS && growth <= FULL_CONV_MAX_GROWTH) {
    const [m, cg] = ws as [number, number];
    const sp = range(r, 3);
    const transposed = group === 1
      ? c.e.one('Transpose', [w], { perm: [1, 0, ...range(r, 2)] })
      : c.e.one('Reshape', [
        c.e.one('Transpose', [c.e.one('Reshape', [w, c.e.ints([group, m / group, cg, ...g.kernel])])], { perm: [0, 2, 1, ...sp] }),
        c.e.ints([group * cg, m / group, ...g.kernel]),
      ]);
    const flipped = c.e.one('Slice', [
      transposed, c.e.ints(new Array<number>(r).fill(-1)), c.e.ints(new Array<number>(r).fill(-(2 ** 62))),
      c.e.ints(range(r, 2)), c.e.ints(new Array<number>(r).fill(-1)),
    ]);
    return c.e.one('Conv', [gy, flipped], { dilations: g.dilations, pads: [...fullBegin, ...fullEnd], group, kernel_shape: g.kernel });
  }
  const { pads, outputPadding } = adjointPadding(g, xs, os);
  const attrs: Record<string, number[] | number> = { strides: g.strides, dilations: g.dilations, pads, group, kernel_shape: g.kernel };
  if (outputPadding.some((p) => p > 0)) attrs.output_padding = outputPadding;
  return c.e.one('ConvTranspose', [gy, w], attrs);
}

const conv: Rule = (c) => {
  const x = input(c, 0);
  const w = input(c, 1);
  const gy = c.gy[0]!;
  const rank = rankOf(c, x);
  const kernel = kernelOf(c, w);
  const group = attrInt(c.node, 'group', 1);
  const xs = staticDims(c, c.info.shape(x)?.slice(2), 'spatial dims of the input');
  const g = windowGeometry(c.node, xs, kernel);
  const os = staticDims(c, g.out, 'spatial dims of the output');
  const out: (Value | null)[] = [];
  if (c.needs(0)) out[0] = convInputGrad(c, gy, w, g, xs, os, group);
  if (c.needs(1)) {
    const ws = staticDims(c, c.info.shape(w)?.slice(0, 2), 'channel dims of the weight');
    out[1] = correlate(c, x, xs, ws[1]!, gy, os, ws[0]! / group, group, g);
  }
  if (c.node.inputs[2] && c.needs(2)) out[2] = biasGrad(c, gy, rank);
  return out;
};

const convTranspose: Rule = (c) => {
  const x = input(c, 0);
  const w = input(c, 1);
  const gy = c.gy[0]!;
  const rank = rankOf(c, x);
  if (attrInts(c.node, 'output_shape')) fail(c, 'the output_shape attribute is not supported (give pads and output_padding)');
  const autoPad = attrString(c.node, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') fail(c, `auto_pad=${autoPad} is not supported`);
  const kernel = kernelOf(c, w);
  const group = attrInt(c.node, 'group', 1);
  const r = rank - 2;
  const g: WindowGeometry = {
    kernel,
    strides: attrInts(c.node, 'strides') ?? new Array<number>(r).fill(1),
    dilations: attrInts(c.node, 'dilations') ?? new Array<number>(r).fill(1),
    padsBegin: autoPad === 'VALID' ? new Array<number>(r).fill(0) : (attrInts(c.node, 'pads') ?? new Array<number>(2 * r).fill(0)).slice(0, r),
    padsEnd: autoPad === 'VALID' ? new Array<number>(r).fill(0) : (attrInts(c.node, 'pads') ?? new Array<number>(2 * r).fill(0)).slice(r),
    ceilMode: false,
    out: [],
  };
  const out: (Value | null)[] = [];
  if (c.needs(0)) {
    out[0] = c.e.one('Conv', [gy, w], {
      strides: g.strides, dilations: g.dilations, pads: [...g.padsBegin, ...g.padsEnd], group, kernel_shape: kernel,
    });
  }
  if (c.needs(1)) {
    const xs = staticDims(c, c.info.shape(x)?.slice(2), 'spatial dims of the input');
    const ys = staticDims(c, c.info.shape(c.node.outputs[0]!)?.slice(2), 'spatial dims of the output');
    const ws = staticDims(c, c.info.shape(w)?.slice(0, 2), 'channel dims of the weight');
    // gW[ci, o, k] = Σ x[n, ci, p] · gy[n, g·b + o, p·s + k·d − pad]: data = gy (a = b = Cout/G), filter = x.
    out[1] = correlate(c, gy, ys, ws[1]!, x, xs, ws[0]! / group, group, g);
  }
  if (c.node.inputs[2] && c.needs(2)) out[2] = biasGrad(c, gy, rank);
  return out;
};

/** Y = α·op(A)·op(B) + β·C. */
const gemm: Rule = (c) => {
  const [a, b] = [input(c, 0), input(c, 1)];
  const C = c.node.inputs[2] ?? null;
  const gy = c.gy[0]!;
  const alpha = attrFloat(c.node, 'alpha', 1);
  const beta = attrFloat(c.node, 'beta', 1);
  const ta = attrInt(c.node, 'transA', 0);
  const tb = attrInt(c.node, 'transB', 0);
  const out: (Value | null)[] = [];
  if (c.needs(0)) {
    out[0] = ta === 0
      ? c.e.one('Gemm', [gy, b], { alpha: f(alpha), transB: tb ? 0 : 1 })
      : c.e.one('Gemm', [b, gy], { alpha: f(alpha), transA: tb, transB: 1 });
  }
  if (c.needs(1)) {
    out[1] = tb === 0
      ? c.e.one('Gemm', [a, gy], { alpha: f(alpha), transA: ta ? 0 : 1 })
      : c.e.one('Gemm', [gy, a], { alpha: f(alpha), transA: 1, transB: ta });
  }
  if (C && c.needs(2)) {
    const scaled = beta === 1 ? gy : c.e.one('Mul', [gy, c.e.scalar(beta, elemOf(c, gy))]);
    out[2] = unbroadcast(c, scaled, C);
  }
  return out;
};

function swapLast(c: RuleContext, v: Value, rank: number): Value {
  return c.e.one('Transpose', [v], { perm: [...range(rank - 2), rank - 1, rank - 2] });
}

/** numpy matmul: 1-D operands are promoted to matrices and the added axis removed again. */
const matmul: Rule = (c) => {
  const [a, b] = [input(c, 0), input(c, 1)];
  const gy = c.gy[0]!;
  const ra = rankOf(c, a);
  const rb = rankOf(c, b);
  if (ra === 1 && rb === 1) {
    return [c.needs(0) ? c.e.one('Mul', [gy, b]) : null, c.needs(1) ? c.e.one('Mul', [gy, a]) : null];
  }
  const a2 = ra === 1 ? c.e.one('Unsqueeze', [a, c.e.ints([0])]) : a;
  const b2 = rb === 1 ? c.e.one('Unsqueeze', [b, c.e.ints([1])]) : b;
  let g2 = gy;
  if (ra === 1) g2 = c.e.one('Unsqueeze', [g2, c.e.ints([-2])]);
  if (rb === 1) g2 = c.e.one('Unsqueeze', [g2, c.e.ints([-1])]);
  const out: (Value | null)[] = [];
  if (c.needs(0)) {
    const ga = unbroadcast(c, c.e.one('MatMul', [g2, swapLast(c, b2, Math.max(rb, 2))]), a2);
    out[0] = ra === 1 ? c.e.one('Reshape', [ga, c.e.shapeOf(a)]) : ga;
  }
  if (c.needs(1)) {
    const gb = unbroadcast(c, c.e.one('MatMul', [swapLast(c, a2, Math.max(ra, 2)), g2]), b2);
    out[1] = rb === 1 ? c.e.one('Reshape', [gb, c.e.shapeOf(b)]) : gb;
  }
  return out;
};

/** Inference BatchNormalization: y = (x − mean)·scale/√(var + ε) + bias, per channel (axis 1). */
const batchNorm: Rule = (c) => {
  if (attrInt(c.node, 'training_mode', 0) === 1 || c.node.outputs.filter((o) => o.name !== '').length > 1) {
    fail(c, 'training-mode BatchNormalization is not supported');
  }
  const [x, scale, , mean, variance] = [0, 1, 2, 3, 4].map((i) => input(c, i));
  const gy = c.gy[0]!;
  const rank = rankOf(c, x);
  const elem = elemOf(c, x);
  const spatial = range(rank - 2, 1);
  const perChannel = (v: Value) => (spatial.length ? c.e.one('Unsqueeze', [v, c.e.ints(spatial)]) : v);
  const varEps = c.e.one('Add', [variance, c.e.scalar(attrFloat(c.node, 'epsilon', 1e-5), elem)]);
  const inv = c.e.one('Div', [scale, c.e.one('Sqrt', [varEps])]);
  const reduceAxes = c.e.ints([0, ...range(rank - 2, 2)]);
  const channelSum = (v: Value) => c.e.one('ReduceSum', [v, reduceAxes], { keepdims: 0 });
  const out: (Value | null)[] = [];
  if (c.needs(0)) out[0] = c.e.one('Mul', [gy, perChannel(inv)]);
  const centred = c.needs(1) || c.needs(4) ? c.e.one('Sub', [x, perChannel(mean)]) : null;
  if (c.needs(1)) {
    const xhat = c.e.one('Div', [centred!, perChannel(c.e.one('Sqrt', [varEps]))]);
    out[1] = channelSum(c.e.one('Mul', [gy, xhat]));
  }
  if (c.needs(2)) out[2] = channelSum(gy);
  if (c.needs(3)) out[3] = c.e.one('Neg', [c.e.one('Mul', [channelSum(gy), inv])]);
  if (c.needs(4)) {
    // d/dvar of scale·(x − mean)·(var + ε)^(−1/2) = −½·scale·(x − mean)·(var + ε)^(−3/2)
    const coef = c.e.one('Mul', [c.e.one('Div', [inv, varEps]), c.e.scalar(-0.5, elem)]);
    out[4] = c.e.one('Mul', [channelSum(c.e.one('Mul', [gy, centred!])), coef]);
  }
  return out;
};

export const linearRules: Record<string, Rule> = {
  Conv: conv, ConvTranspose: convTranspose, Gemm: gemm, MatMul: matmul, BatchNormalization: batchNorm,
};
