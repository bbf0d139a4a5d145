// VJP rules of the ops that move elements around: reshapes, Transpose, Concat/Split, Slice, Pad,
// Gather on constant indices, Expand, and the sum/mean reductions.

import { DataType } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import { attrInt, attrInts, attrString } from '../../ir/analysis/attrs.js';
import { axesOf, reduceAxesInputOpset, sliceParams, sliceRange } from '../../ir/analysis/shapes.js';
import { constantOf } from '../../ir/analysis/constants.js';
import { knownInts } from './movement.js';
import {
  type Rule, type RuleContext, elemOf, fail, input, normAxis, range, rankOf, reshapeLike, unbroadcast, zeroFill, zerosLike,
} from './context.js';

const BIG = 2 ** 62;

const reshape: Rule = (c) => [reshapeLike(c, c.gy[0]!, input(c, 0))];

const transpose: Rule = (c) => {
  const x = input(c, 0);
  const r = rankOf(c, x);
  const perm = attrInts(c.node, 'perm') ?? range(r).reverse();
  const inverse: number[] = [];
  perm.forEach((p, i) => { inverse[p] = i; });
  return [c.e.one('Transpose', [c.gy[0]!], { perm: inverse })];
};

/** The dims of `v` from `from` to `to` (exclusive) as a 1-D shape vector. */
function dimsOf(c: RuleContext, v: Value, from: number, to: number): Value {
  const s = c.info.shape(v)?.slice(from, to);
  if (s && s.every((d) => typeof d === 'number')) return c.e.ints(s as number[]);
  return c.e.one('Slice', [c.e.shapeOf(v), c.e.ints([from]), c.e.ints([to])]);
}

const concat: Rule = (c) => {
  const gy = c.gy[0]!;
  const ins = c.node.inputs.map((v) => v!);
  const axis = normAxis(attrInt(c.node, 'axis', 0), rankOf(c, ins[0]!));
  const sizes = ins.map((v) => c.info.shape(v)?.[axis]);
  if (sizes.every((d) => typeof d === 'number')) {
    let offset = 0;
    return ins.map((_, i) => {
      const start = offset;
      offset += sizes[i] as number;
      return c.needs(i) ? c.e.one('Slice', [gy, c.e.ints([start]), c.e.ints([offset]), c.e.ints([axis])]) : null;
    });
  }
  const split = c.e.one('Concat', ins.map((v) => dimsOf(c, v, axis, axis + 1)), { axis: 0 });
  const parts = c.e.op('Split', [gy, split], { axis }, ins.length);
  return parts.map((p, i) => (c.needs(i) ? p : null));
};

const split: Rule = (c) => {
  const x = input(c, 0);
  const r = rankOf(c, x);
  const axis = normAxis(attrInt(c.node, 'axis', 0), r);
  const parts = c.node.outputs.map((o, i) => c.gy[i] ?? zerosLike(c, o));
  return [c.e.one('Concat', parts, { axis })];
};

/**
 * Slice: the gradient goes back to the selected positions, zeros elsewhere. Per sliced axis: a Pad for
 * unit steps, else a ScatterElements with the (static) positions. Needs constant parameters and known
 * dims on the sliced axes (a symbolic axis is fine when it is taken whole).
 */
const slice: Rule = (c) => {
  const x = input(c, 0);
  const r = rankOf(c, x);
  const p = sliceParams(c.node, c.info, r) ?? fail(c, 'its starts/ends/axes/steps must be constants');
  const xs = c.info.shape(x)!;
  let g = c.gy[0]!;
  p.axes.forEach((axis, i) => {
    const dim = xs[axis];
    if (typeof dim !== 'number') {
      if (p.starts[i] === 0 && p.ends[i]! >= BIG && p.steps[i] === 1) return;
      fail(c, `axis ${axis} has no known length`);
    }
    const { start, step, count } = sliceRange(dim, p.starts[i]!, p.ends[i]!, p.steps[i]!);
    if (count === dim && step === 1) return;
    if (step === 1) {
      const pads = new Array<number>(2 * r).fill(0);
      pads[axis] = start;
      pads[axis + r] = dim - start - count;
      g = c.e.one('Pad', [g, c.e.ints(pads)]);
      return;
    }
    const positions = range(count).map((k) => start + k * step);
    const idxShape = new Array<number>(r).fill(1);
    idxShape[axis] = count;
    const indices = c.e.one('Expand', [c.e.constant(DataType.INT64, idxShape, positions), c.e.shapeOf(g)]);
    const target = c.e.one('Concat', [dimsOf(c, g, 0, axis), c.e.ints([dim]), dimsOf(c, g, axis + 1, r)], { axis: 0 });
    const zeros = c.e.one('ConstantOfShape', [target], { value: zeroFill(elemOf(c, g)) });
    g = c.e.one('ScatterElements', [zeros, indices, g], { axis });
  });
  return [g];
};

/** Constant-mode Pad: the gradient is the Pad with negated pads (crops what was added, zero-fills what was cut). */
const pad: Rule = (c) => {
  if (c.opset < 11) fail(c, 'Pad before opset 11 is not supported');
  const mode = attrString(c.node, 'mode', 'constant');
  if (mode !== 'constant') fail(c, `mode '${mode}' is not supported (only 'constant')`);
  if (c.needs(2)) fail(c, 'the gradient with respect to constant_value is not supported');
  const pads = input(c, 1);
  const known = constantOf(pads);
  const negated = known ? c.e.ints(known.values.map((v) => -v)) : c.e.one('Neg', [pads]);
  const axes = c.node.inputs[3] ?? null;
  return [c.e.one('Pad', axes ? [c.gy[0]!, negated, null, axes] : [c.gy[0]!, negated])];
};

/**
 * Gather whose indices are known only at run time (the dynamo exporter writes as_strided as a Gather on indices
 * built from Range over a symbolic batch): the same scatter-add, with the indices flattened, made non-negative
 * and broadcast at run time. The indices are integers, so no gradient flows through them; the gradient is the
 * derivative with respect to the data for the indices of this run.
 */
function gatherRuntime(c: RuleContext, x: Value, r: number, axis: number): Value {
  c.requireOpset(16, `Gather '${c.node.label}' has indices known only at run time, which may repeat (ScatterElements reduction='add')`);
  let idx = c.e.one('Reshape', [input(c, 1), c.e.ints([-1])]);
  if (elemOf(c, input(c, 1)) !== DataType.INT64) idx = c.e.one('Cast', [idx], { to: DataType.INT64 });
  const dim = dimsOf(c, x, axis, axis + 1);
  idx = c.e.one('Where', [c.e.one('Less', [idx, c.e.ints([0])]), c.e.one('Add', [idx, dim]), idx]);
  const target = c.e.one('Concat', [dimsOf(c, x, 0, axis), c.e.shapeOf(idx), dimsOf(c, x, axis + 1, r)], { axis: 0 });
  const updates = c.e.one('Reshape', [c.gy[0]!, target]);
  const idxShape = new Array<number>(r).fill(1);
  idxShape[axis] = -1;
  const indices = c.e.one('Expand', [c.e.one('Reshape', [idx, c.e.ints(idxShape)]), target]);
  return c.e.one('ScatterElements', [zerosLike(c, x), indices, updates], { axis, reduction: 'add' });
}

/** Gather: scatter the gradient back, adding where an index repeats (constant or folded indices; else at run time). */
const gather: Rule = (c) => {
  if (c.needs(1)) fail(c, 'indices are not differentiable');
  const x = input(c, 0);
  const r = rankOf(c, x);
  const axis = normAxis(attrInt(c.node, 'axis', 0), r);
  const known = knownInts(c, c.node.inputs[1]);
  if (known === null) return [gatherRuntime(c, x, r, axis)];
  let values = known;
  if (values.some((v) => v < 0)) {
    const dim = c.info.shape(x)?.[axis];
    if (typeof dim !== 'number') fail(c, 'negative indices on an axis of unknown length');
    values = values.map((v) => (v < 0 ? v + dim : v));
  }
  const unique = new Set(values).size === values.length;
  if (!unique) c.requireOpset(16, `Gather '${c.node.label}' repeats indices (ScatterElements reduction='add')`);
  const n = values.length;
  const target = c.e.one('Concat', [dimsOf(c, x, 0, axis), c.e.ints([n]), dimsOf(c, x, axis + 1, r)], { axis: 0 });
  const updates = c.e.one('Reshape', [c.gy[0]!, target]);
  const idxShape = new Array<number>(r).fill(1);
  idxShape[axis] = n;
  const indices = c.e.one('Expand', [c.e.constant(DataType.INT64, idxShape, values), target]);
  return [c.e.one('ScatterElements', [zerosLike(c, x), indices, updates], unique ? { axis } : { axis, reduction: 'add' })];
};

const expand: Rule = (c) => [unbroadcast(c, c.gy[0]!, input(c, 0)), null];

/** ReduceSum / ReduceMean: broadcast the gradient back over the reduced axes (divided by their size for the mean). */
function reduceRule(mean: boolean): Rule {
  return (c) => {
    const x = input(c, 0);
    const r = rankOf(c, x);
    const axes = axesOf(c.node, c.info, c.opset, reduceAxesInputOpset(c.node.opType));
    if (axes === null) fail(c, 'its axes must be a constant');
    const noop = attrInt(c.node, 'noop_with_empty_axes', 0) === 1;
    if ((!axes || axes.length === 0) && noop) return [c.gy[0]!];
    const all = !axes || axes.length === 0;
    const reduced = all ? range(r) : [...new Set(axes.map((a) => normAxis(a, r)))].sort((a, b) => a - b);
    let g = c.gy[0]!;
    if (attrInt(c.node, 'keepdims', 1) === 0) {
      g = all ? c.e.one('Reshape', [g, c.e.ints(new Array<number>(r).fill(1))]) : c.e.one('Unsqueeze', [g, c.e.ints(reduced)]);
    }
    if (mean) {
      const elem = elemOf(c, x);
      const dims = c.info.shape(x);
      const sizes = reduced.map((a) => dims?.[a]);
      let scale: Value;
      if (sizes.every((d) => typeof d === 'number')) {
        scale = c.e.scalar(1 / (sizes as number[]).reduce((a, b) => a * b, 1), elem);
      } else {
        const size = (v: Value) => c.e.one('Cast', [c.e.one('Size', [v])], { to: elem });
        scale = c.e.one('Div', [size(c.node.outputs[0]!), size(x)]);
      }
      g = c.e.one('Mul', [g, scale]);
    }
    return [c.e.one('Expand', [g, c.e.shapeOf(x)])];
  };
}

export const shapeRules: Record<string, Rule> = {
  Reshape: reshape, Flatten: reshape, Squeeze: reshape, Unsqueeze: reshape, Transpose: transpose,
  Concat: concat, Split: split, Slice: slice, Pad: pad, Gather: gather, Expand: expand,
  ReduceSum: reduceRule(false), ReduceMean: reduceRule(true),
};
