// VJP rules of the reductions beyond ReduceSum/ReduceMean (shape.ts): ReduceMax/ReduceMin (the
// gradient shared among ties, as PyTorch's amax/amin), ReduceL1, ReduceL2, ReduceSumSquare,
// ReduceLogSumExp. Each is gy broadcast back over the reduced axes times a local derivative.

import type { Value } from '../../ir/value.js';
import { attrInt } from '../../ir/analysis/attrs.js';
import { axesOf, reduceAxesInputOpset } from '../../ir/analysis/shapes.js';
import { type Rule, type RuleContext, elemOf, fail, input, normAxis, range, rankOf, reduce } from './context.js';

interface Kept {
  /** The reduced axes (sorted, non-negative), or null for "no reduction" (noop_with_empty_axes). */
  axes: number[] | null;
  /** gy and y with the reduced axes as size-1 dims. */
  gy: Value;
  y: Value;
}

function kept(c: RuleContext): Kept {
  const x = input(c, 0);
  const r = rankOf(c, x);
  const axes = axesOf(c.node, c.info, c.opset, reduceAxesInputOpset(c.node.opType));
  if (axes === null) fail(c, 'its axes must be a constant');
  const gy = c.gy[0]!;
  const y = c.node.outputs[0]!;
  const empty = !axes || axes.length === 0;
  if (empty && attrInt(c.node, 'noop_with_empty_axes', 0) === 1) return { axes: null, gy, y };
  const reduced = empty ? range(r) : [...new Set(axes.map((a) => normAxis(a, r)))].sort((a, b) => a - b);
  if (attrInt(c.node, 'keepdims', 1) === 1) return { axes: reduced, gy, y };
  const unsqueeze = (v: Value) => c.e.one('Unsqueeze', [v, c.e.ints(reduced)]);
  return { axes: reduced, gy: unsqueeze(gy), y: unsqueeze(y) };
}

/** A rule dx = gy·local(x, y) with gy and y broadcast back over the reduced axes. */
function reductionRule(local: (c: RuleContext, x: Value, y: Value, axes: number[]) => Value): Rule {
  return (c) => {
    const x = input(c, 0);
    const k = kept(c);
    // ONNX leaves open what these ops compute without axes and noop_with_empty_axes: refuse to guess.
    if (k.axes === null) fail(c, 'noop_with_empty_axes with no axes is not supported');
    return [c.e.one('Mul', [k.gy, local(c, x, k.y, k.axes)])];
  };
}

const extremum = reductionRule((c, x, y, axes) => {
  const hit = c.e.one('Cast', [c.e.one('Equal', [x, y])], { to: elemOf(c, x) });
  return c.e.one('Div', [hit, reduce(c, 'ReduceSum', hit, axes)]);
});

const l1 = reductionRule((c, x) => c.e.one('Sign', [x]));

/** ∂‖x‖₂/∂x = x/‖x‖₂, and 0 where the norm is 0 (PyTorch's subgradient). */
const l2 = reductionRule((c, x, y) => {
  const zero = c.e.scalar(0, elemOf(c, x));
  return c.e.one('Where', [c.e.one('Equal', [y, zero]), zero, c.e.one('Div', [x, y])]);
});

const sumSquare = reductionRule((c, x) => c.e.one('Mul', [x, c.e.scalar(2, elemOf(c, x))]));

const logSumExp = reductionRule((c, x, y) => c.e.one('Exp', [c.e.one('Sub', [x, y])]));

/** ReduceLogSum: log Σx, ∂/∂x = 1/Σx = exp(−y). */
const logSum = reductionRule((c, x, y) => c.e.one('Expand', [c.e.one('Exp', [c.e.one('Neg', [y])]), c.e.shapeOf(x)]));

export const reduceRules: Record<string, Rule> = {
  ReduceMax: extremum, ReduceMin: extremum, ReduceL1: l1, ReduceL2: l2, ReduceSumSquare: sumSquare,
  ReduceLogSumExp: logSumExp, ReduceLogSum: logSum,
};
