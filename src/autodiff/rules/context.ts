// What a VJP rule sees, and the helpers most rules share (summing a broadcast gradient back to an
// input's shape, zeros of a value's shape, masks).

import { UnsupportedModelError } from '../../ir/errors.js';
import type { Node } from '../../ir/node.js';
import { DataType } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import type { Emitter } from '../emitter.js';
import type { KappaResolver } from '../kappa.js';
import type { Dim, ShapeInfo } from '../../ir/analysis/shapes.js';
import { makeTensor } from '../../ir/analysis/constants.js';

export interface RuleContext {
  readonly node: Node;
  /** Gradient of each output of the node; null where that output does not reach the differentiated outputs. */
  readonly gy: readonly (Value | null)[];
  readonly e: Emitter;
  readonly info: ShapeInfo;
  /** Opset of the default domain in the model being differentiated. */
  readonly opset: number;
  readonly kappa: KappaResolver;
  /** Whether a gradient is wanted for input `i`. */
  needs(i: number): boolean;
  /** Asks for a higher default-domain opset in the gradient model (for an emitted op's attribute). */
  requireOpset(version: number, why: string): void;
}

/** A rule returns the gradient of each input (index-aligned; null or missing where none is needed). */
export type Rule = (c: RuleContext) => (Value | null | undefined)[];

export function fail(c: RuleContext, why: string): never {
  throw new UnsupportedModelError(`cannot differentiate ${c.node.opType} node '${c.node.label}': ${why}`, { code: 'gradient-unsupported' });
}

export function input(c: RuleContext, i: number): Value {
  const v = c.node.inputs[i];
  if (!v) fail(c, `input ${i} is missing`);
  return v;
}

/** The element type gradients of `v` have (float when unknown). */
export function elemOf(c: Pick<RuleContext, 'info'>, v: Value): number {
  return c.info.elem(v) ?? DataType.FLOAT;
}

export function rankOf(c: RuleContext, v: Value, what = 'input'): number {
  const r = c.info.rank(v);
  if (r === null) fail(c, `the rank of its ${what} '${v.name}' is unknown`);
  return r;
}

/** Spatial dims that must be known numbers for a rule. */
export function staticDims(c: RuleContext, dims: readonly Dim[] | null | undefined, what: string): number[] {
  if (!dims || dims.some((d) => typeof d !== 'number')) {
    fail(c, `the ${what} must be known numbers (got [${(dims ?? ['?']).map((d) => d ?? '?').join(', ')}])`);
  }
  return dims as number[];
}

/** The `value` attribute of a ConstantOfShape that fills with zeros. */
export function zeroFill(elem: number) {
  return makeTensor('value', elem, [1], [0]);
}

export function zerosLike(c: Pick<RuleContext, 'e' | 'info'>, v: Value): Value {
  return c.e.one('ConstantOfShape', [c.e.shapeOf(v)], { value: zeroFill(elemOf(c, v)) });
}

/**
 * gy where `mask` holds, 0 elsewhere, as gy·float(mask): ORT runs Cast + Mul faster than a Where with a
 * broadcast scalar. (A non-finite gy under a false mask gives NaN instead of 0.)
 */
export function masked(c: RuleContext, mask: Value, gy: Value): Value {
  return c.e.one('Mul', [gy, c.e.one('Cast', [mask], { to: elemOf(c, gy) })]);
}

function sameDims(a: readonly Dim[], b: readonly Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => d !== null && d === b[i]);
}

/**
 * Sums a gradient that has the broadcast shape of an elementwise op back to the shape of input `x`.
 * Static axes where the shapes tell; otherwise the axes are found at run time (dims of x equal to 1).
 */
export function unbroadcast(c: RuleContext, g: Value, x: Value): Value {
  const gs = c.info.shape(g);
  const xs = c.info.shape(x);
  if (gs && xs && sameDims(gs, xs)) return g;
  if (gs && xs && gs.length >= xs.length) {
    const lead = gs.length - xs.length;
    const axes: number[] = [];
    for (let i = 0; i < lead; i++) axes.push(i);
    let known = true;
    xs.forEach((xd, j) => {
      const gd = gs[j + lead]!;
      if (xd === gd && xd !== null) return;
      if (xd === 1) axes.push(j + lead);
      else if (typeof xd !== 'number') known = false; // x's dim might be 1 at run time
    });
    if (known) {
      if (axes.length === 0) return g;
      let r = c.e.one('ReduceSum', [g, c.e.ints(axes)], { keepdims: 1 });
      if (lead > 0) r = c.e.one('Reshape', [r, c.e.shapeOf(x)]);
      return r;
    }
  }
  const gRank = c.info.rank(g);
  const xRank = c.info.rank(x);
  if (gRank === null || xRank === null) fail(c, `cannot reduce a broadcast gradient to the shape of '${x.name}' (unknown rank)`);
  const lead = gRank - xRank;
  let padded = c.e.shapeOf(x);
  if (lead > 0) padded = c.e.one('Concat', [c.e.ints(new Array<number>(lead).fill(1)), padded], { axis: 0 });
  const isOne = c.e.one('Equal', [padded, c.e.ints([1])]);
  const axes = c.e.one('Reshape', [c.e.one('NonZero', [isOne]), c.e.ints([-1])]);
  const summed = c.e.one('ReduceSum', [g, axes], { keepdims: 1, noop_with_empty_axes: 1 });
  return c.e.one('Reshape', [summed, c.e.shapeOf(x)]);
}

/** gy reshaped to the shape of x (gradient of any op that only reshapes). */
export function reshapeLike(c: RuleContext, gy: Value, x: Value): Value {
  return c.e.one('Reshape', [gy, c.e.shapeOf(x)]);
}

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

/**
 * A Reduce* node over constant axes, with axes as an attribute or an input as the opset wants
 * (ReduceSum takes an input from opset 13, the others from 18; the gradient model's opset is raised
 * at most to 16, so the model's opset decides).
 */
export function reduce(c: Pick<RuleContext, 'e' | 'opset'>, op: string, x: Value, axes: readonly number[], keepdims: 0 | 1 = 1): Value {
  const fromInput = op === 'ReduceSum' ? 13 : 18;
  if (c.opset >= fromInput) return c.e.one(op, [x, c.e.ints(axes)], { keepdims });
  return c.e.one(op, [x], { axes: [...axes], keepdims });
}
