// VJP rules of the normalisations that transformers and some CNNs use: LayerNormalization (opset 17),
// GroupNormalization (opset 18: scale/bias per group; opset 21: per channel), InstanceNormalization.
// BatchNormalization (inference: a per-channel affine map) is in linear.ts.
//
// Over the normalised axes A (n elements), x̂ = (x − μ)·r with r = 1/√(var + ε), and for a gradient g
// of x̂: ∂/∂x = r·(g − mean_A(g) − x̂·mean_A(g·x̂)). The statistics are recomputed in the gradient
// graph (the optional Mean/InvStdDev outputs are not differentiable and need not be asked for).

import type { Value } from '../../ir/value.js';
import { attrFloat, attrInt } from '../../ir/analysis/attrs.js';
import { type Rule, type RuleContext, elemOf, fail, input, normAxis, range, rankOf, reduce, unbroadcast } from './context.js';

interface Normalised { xhat: Value; inv: Value }

/** x̂ and r of `x` normalised over `axes` (statistics kept with size-1 dims). */
function normalise(c: RuleContext, x: Value, axes: number[], epsilon: number): Normalised {
  const elem = elemOf(c, x);
  const centred = c.e.one('Sub', [x, reduce(c, 'ReduceMean', x, axes)]);
  const variance = reduce(c, 'ReduceMean', c.e.one('Mul', [centred, centred]), axes);
  const inv = c.e.one('Reciprocal', [c.e.one('Sqrt', [c.e.one('Add', [variance, c.e.scalar(epsilon, elem)])])]);
  return { xhat: c.e.one('Mul', [centred, inv]), inv };
}

/** ∂/∂x from the gradient g of x̂. */
function normaliseBackward(c: RuleContext, n: Normalised, g: Value, axes: number[]): Value {
  const meanG = reduce(c, 'ReduceMean', g, axes);
  const meanGX = reduce(c, 'ReduceMean', c.e.one('Mul', [g, n.xhat]), axes);
  const inner = c.e.one('Sub', [c.e.one('Sub', [g, meanG]), c.e.one('Mul', [n.xhat, meanGX])]);
  return c.e.one('Mul', [inner, n.inv]);
}

function noStatisticGradients(c: RuleContext): void {
  if (c.gy.slice(1).some((g) => g)) fail(c, 'its Mean/InvStdDev outputs are not differentiable');
}

/** LayerNormalization(X, Scale, B?): normalised over axes [axis, rank). */
const layerNorm: Rule = (c) => {
  noStatisticGradients(c);
  const x = input(c, 0);
  const scale = input(c, 1);
  const bias = c.node.inputs[2] ?? null;
  const r = rankOf(c, x);
  const axes = range(r - normAxis(attrInt(c.node, 'axis', -1), r), normAxis(attrInt(c.node, 'axis', -1), r));
  const gy = c.gy[0]!;
  const n = normalise(c, x, axes, attrFloat(c.node, 'epsilon', 1e-5));
  const out: (Value | null)[] = [];
  if (c.needs(0)) out[0] = normaliseBackward(c, n, c.e.one('Mul', [gy, scale]), axes);
  if (c.needs(1)) out[1] = unbroadcast(c, c.e.one('Mul', [gy, n.xhat]), scale);
  if (bias && c.needs(2)) out[2] = unbroadcast(c, gy, bias);
  return out;
};

/** A per-channel [C] tensor aligned with axis 1 of a rank-r tensor ([C, 1, …, 1]). */
function perChannel(c: RuleContext, v: Value, r: number): Value {
  return r > 2 ? c.e.one('Unsqueeze', [v, c.e.ints(range(r - 2, 1))]) : v;
}

/** InstanceNormalization(input, scale[C], B[C]): normalised per sample and channel over the spatial axes. */
const instanceNorm: Rule = (c) => {
  const x = input(c, 0);
  const [scale, bias] = [input(c, 1), input(c, 2)];
  const r = rankOf(c, x);
  if (r < 3) fail(c, `its input has rank ${r} (at least 3: [N, C, spatial…])`);
  const axes = range(r - 2, 2);
  const gy = c.gy[0]!;
  const n = normalise(c, x, axes, attrFloat(c.node, 'epsilon', 1e-5));
  const channelAxes = [0, ...axes];
  const out: (Value | null)[] = [];
  if (c.needs(0)) out[0] = normaliseBackward(c, n, c.e.one('Mul', [gy, perChannel(c, scale, r)]), axes);
  if (c.needs(1)) out[1] = reduce(c, 'ReduceSum', c.e.one('Mul', [gy, n.xhat]), channelAxes, 0);
  if (c.needs(2)) out[2] = reduce(c, 'ReduceSum', gy, channelAxes, 0);
  return out;
};

/**
 * GroupNormalization(X, scale, bias, num_groups): x viewed as [N, G, C/G·spatial] and normalised over
 * the last axis. Opset 18–20 take scale and bias per group ([G]), opset 21 per channel ([C]).
 */
const groupNorm: Rule = (c) => {
  const x = input(c, 0);
  const [scale, bias] = [input(c, 1), input(c, 2)];
  const r = rankOf(c, x);
  const groups = attrInt(c.node, 'num_groups', 0);
  if (groups <= 0) fail(c, 'it has no positive num_groups');
  const perGroup = c.opset < 21;
  const gy = c.gy[0]!;
  const grouped = (v: Value) => c.e.one('Reshape', [v, c.e.ints([0, groups, -1])]);
  const n = normalise(c, grouped(x), [2], attrFloat(c.node, 'epsilon', 1e-5));
  const back = (v: Value) => c.e.one('Reshape', [v, c.e.shapeOf(x)]);
  const out: (Value | null)[] = [];
  if (c.needs(0)) {
    const g = perGroup
      ? c.e.one('Mul', [grouped(gy), c.e.one('Unsqueeze', [scale, c.e.ints([1])])])
      : grouped(c.e.one('Mul', [gy, perChannel(c, scale, r)]));
    out[0] = back(normaliseBackward(c, n, g, [2]));
  }
  const sums = (v: Value) => perGroup
    ? reduce(c, 'ReduceSum', grouped(v), [0, 2], 0)
    : reduce(c, 'ReduceSum', v, [0, ...range(r - 2, 2)], 0);
  if (c.needs(1)) out[1] = sums(c.e.one('Mul', [gy, back(n.xhat)]));
  if (c.needs(2)) out[2] = sums(gy);
  return out;
};

export const normalizationRules: Record<string, Rule> = {
  LayerNormalization: layerNorm, InstanceNormalization: instanceNorm, GroupNormalization: groupNorm,
};
