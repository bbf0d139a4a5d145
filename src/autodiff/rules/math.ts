// VJP rules of the arithmetic the exporters decompose normalisations and GELU into: Pow, Reciprocal,
// Abs, and elementwise Max/Min.

import type { Value } from '../../ir/value.js';
import { constantOf } from '../../ir/analysis/constants.js';
import { type Rule, type RuleContext, elemOf, input, unbroadcast, zerosLike } from './context.js';

const gy0 = (c: RuleContext) => c.gy[0]!;

/**
 * Pow(a, b) = a^b. With respect to the base: b·a^(b−1) (a constant exponent becomes constants: b = 2
 * gives 2a, b = ½ gives 1/(2y), b = 1 passes gy). With respect to the exponent: y·log(a), defined where
 * a > 0 (PyTorch's convention; the gradient is 0 where a^b is 0, NaN for a negative base).
 */
const pow: Rule = (c) => {
  const [a, b] = [input(c, 0), input(c, 1)];
  const y = c.node.outputs[0]!;
  const gy = gy0(c);
  const elem = elemOf(c, a);
  const out: (Value | null)[] = [];
  if (c.needs(0)) {
    const k = constantOf(b);
    const scalar = k && k.values.length === 1 && !c.needs(1) ? k.values[0]! : null;
    let d: Value;
    if (scalar === 1) d = c.e.scalar(1, elem);
    else if (scalar === 2) d = c.e.one('Mul', [a, c.e.scalar(2, elem)]);
    else if (scalar === 0.5) d = c.e.one('Div', [c.e.scalar(0.5, elem), y]);
    else if (scalar !== null) d = c.e.one('Mul', [c.e.one('Pow', [a, c.e.scalar(scalar - 1, elem)]), c.e.scalar(scalar, elem)]);
    else {
      const bf = c.info.elem(b) === elem ? b : c.e.one('Cast', [b], { to: elem });
      d = c.e.one('Mul', [c.e.one('Pow', [a, c.e.one('Sub', [bf, c.e.scalar(1, elem)])]), bf]);
    }
    out[0] = unbroadcast(c, scalar === 1 ? gy : c.e.one('Mul', [gy, d]), a);
  }
  if (c.needs(1)) {
    const zero = c.e.scalar(0, elem);
    const yLog = c.e.one('Mul', [y, c.e.one('Log', [a])]);
    // 0^b·log 0 is 0·(−∞): take the limit 0 there, as PyTorch does.
    const safe = c.e.one('Where', [c.e.one('Equal', [y, zero]), zero, yLog]);
    out[1] = unbroadcast(c, c.e.one('Mul', [gy, safe]), b);
  }
  return out;
};

/** Reciprocal: y = 1/x; dy/dx = −y². */
const reciprocal: Rule = (c) => {
  const y = c.node.outputs[0]!;
  return [c.e.one('Neg', [c.e.one('Mul', [gy0(c), c.e.one('Mul', [y, y])])])];
};

/** Abs: sign(x) (0 at 0, as PyTorch). */
const abs: Rule = (c) => [c.e.one('Mul', [gy0(c), c.e.one('Sign', [input(c, 0)])])];

/**
 * Elementwise Max/Min of any number of broadcasting inputs: the gradient goes to the inputs equal to
 * the result, shared equally among ties (PyTorch's maximum/minimum split a tie between the two).
 */
function extremum(c: RuleContext): (Value | null)[] {
  const y = c.node.outputs[0]!;
  const gy = gy0(c);
  const ins = c.node.inputs.map((v) => v!);
  if (ins.length === 1) return [gy];
  const elem = elemOf(c, y);
  const hits = ins.map((v) => c.e.one('Cast', [c.e.one('Equal', [v, y])], { to: elem }));
  const share = c.e.one('Div', [gy, hits.length === 1 ? hits[0]! : c.e.one('Sum', hits)]);
  return ins.map((v, i) => (c.needs(i) ? unbroadcast(c, c.e.one('Mul', [share, hits[i]!]), v) : null));
}

/** Sign, Floor, Ceil, Round: piecewise constant, zero gradient (as PyTorch). */
const zeroGradient: Rule = (c) => [zerosLike(c, input(c, 0))];

export const mathRules: Record<string, Rule> = {
  Pow: pow, Reciprocal: reciprocal, Abs: abs, Max: extremum, Min: extremum,
  Sign: zeroGradient, Floor: zeroGradient, Ceil: zeroGradient, Round: zeroGradient,
};
