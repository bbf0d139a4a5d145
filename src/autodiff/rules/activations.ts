// VJP rules of the smooth and piecewise activations of the vision zoo beyond ReLU: HardSigmoid and
// HardSwish (MobileNetV3), Elu, Selu, Softplus, Softsign, PRelu, Gelu (both approximations), Erf, Mish.
//
// Piecewise rules take PyTorch's side at the kinks (hardsigmoid's gradient is 0 at ±3, hardswish's is
// x/3 + ½ on [−3, 3], ELU's derivative at 0 is the left one), so gradients match autograd everywhere.

import type { Value } from '../../ir/value.js';
import { attrFloat, attrString } from '../../ir/analysis/attrs.js';
import { type Rule, type RuleContext, elemOf, fail, input, unbroadcast } from './context.js';

const gy0 = (c: RuleContext) => c.gy[0]!;

function mul(c: RuleContext, ...vs: Value[]): Value {
  return vs.reduce((a, b) => c.e.one('Mul', [a, b]));
}

/** HardSigmoid: y = max(0, min(1, α·x + β)); dy/dx = α strictly inside (0, 1), 0 outside. */
const hardSigmoid: Rule = (c) => {
  const x = input(c, 0);
  const elem = elemOf(c, x);
  const alpha = attrFloat(c.node, 'alpha', 0.2);
  const beta = attrFloat(c.node, 'beta', 0.5);
  const t = c.e.one('Add', [c.e.one('Mul', [x, c.e.scalar(alpha, elem)]), c.e.scalar(beta, elem)]);
  const inside = c.e.one('And', [c.e.one('Greater', [t, c.e.scalar(0, elem)]), c.e.one('Less', [t, c.e.scalar(1, elem)])]);
  const scaled = alpha === 1 ? gy0(c) : c.e.one('Mul', [gy0(c), c.e.scalar(alpha, elem)]);
  return [c.e.one('Mul', [scaled, c.e.one('Cast', [inside], { to: elem })])];
};

/**
 * HardSwish: y = x·max(0, min(1, x/6 + ½)); dy/dx = 0 below −3, x/3 + ½ on [−3, 3], 1 above 3
 * (PyTorch's hardswish_backward).
 */
const hardSwish: Rule = (c) => {
  const x = input(c, 0);
  const elem = elemOf(c, x);
  const inner = c.e.one('Add', [c.e.one('Mul', [x, c.e.scalar(1 / 3, elem)]), c.e.scalar(0.5, elem)]);
  const upper = c.e.one('Where', [c.e.one('LessOrEqual', [x, c.e.scalar(3, elem)]), inner, c.e.scalar(1, elem)]);
  const d = c.e.one('Where', [c.e.one('Less', [x, c.e.scalar(-3, elem)]), c.e.scalar(0, elem), upper]);
  return [c.e.one('Mul', [gy0(c), d])];
};

/** γ·Elu_α: y = γ·x for x > 0, γ·α·(eˣ − 1) else; dy/dx = γ or y + γ·α (Elu is γ = 1, Selu fixes both). */
function scaledElu(alphaDefault: number, gammaDefault: number | null): Rule {
  return (c) => {
    const x = input(c, 0);
    const y = c.node.outputs[0]!;
    const elem = elemOf(c, x);
    const alpha = attrFloat(c.node, 'alpha', alphaDefault);
    const gamma = gammaDefault === null ? 1 : attrFloat(c.node, 'gamma', gammaDefault);
    const d = c.e.one('Where', [
      c.e.one('Greater', [x, c.e.scalar(0, elem)]), c.e.scalar(gamma, elem), c.e.one('Add', [y, c.e.scalar(gamma * alpha, elem)]),
    ]);
    return [c.e.one('Mul', [gy0(c), d])];
  };
}

/** Elu (no γ attribute). */
const elu = scaledElu(1, null);

/** Selu, with ONNX's default α and γ. */
const selu = scaledElu(1.67326319217681884765625, 1.05070102214813232421875);

/** Softplus: y = log(1 + eˣ); dy/dx = sigmoid(x). */
const softplus: Rule = (c) => [c.e.one('Mul', [gy0(c), c.e.one('Sigmoid', [input(c, 0)])])];

/** Softsign: y = x / (1 + |x|); dy/dx = 1 / (1 + |x|)². */
const softsign: Rule = (c) => {
  const x = input(c, 0);
  const denom = c.e.one('Add', [c.e.one('Abs', [x]), c.e.scalar(1, elemOf(c, x))]);
  return [c.e.one('Div', [gy0(c), c.e.one('Mul', [denom, denom])])];
};

/** Mish: y = x·tanh(softplus(x)); dy/dx = t + x·sigmoid(x)·(1 − t²), t = tanh(softplus(x)). */
const mish: Rule = (c) => {
  const x = input(c, 0);
  const elem = elemOf(c, x);
  const t = c.e.one('Tanh', [c.e.one('Softplus', [x])]);
  const sech2 = c.e.one('Sub', [c.e.scalar(1, elem), c.e.one('Mul', [t, t])]);
  const d = c.e.one('Add', [t, mul(c, x, c.e.one('Sigmoid', [x]), sech2)]);
  return [c.e.one('Mul', [gy0(c), d])];
};

/** PRelu: y = x for x > 0, slope·x else (slope broadcasts to x); gradients for x and slope. */
const prelu: Rule = (c) => {
  const x = input(c, 0);
  const slope = input(c, 1);
  const elem = elemOf(c, x);
  const gy = gy0(c);
  const positive = c.e.one('Greater', [x, c.e.scalar(0, elem)]);
  const out: (Value | null)[] = [];
  if (c.needs(0)) out[0] = unbroadcast(c, c.e.one('Where', [positive, gy, c.e.one('Mul', [gy, slope])]), x);
  if (c.needs(1)) out[1] = unbroadcast(c, c.e.one('Where', [positive, c.e.scalar(0, elem), c.e.one('Mul', [gy, x])]), slope);
  return out;
};

/** 2/√π·e^(−x²): the derivative of erf. */
function erfDerivative(c: RuleContext, x: Value, scale = 1): Value {
  const elem = elemOf(c, x);
  const e = c.e.one('Exp', [c.e.one('Neg', [c.e.one('Mul', [x, x])])]);
  return c.e.one('Mul', [e, c.e.scalar(scale * 2 / Math.sqrt(Math.PI), elem)]);
}

const erf: Rule = (c) => [c.e.one('Mul', [gy0(c), erfDerivative(c, input(c, 0))])];

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_TANH_COEF = 0.044715;

/**
 * Gelu (opset 20). approximate='none': y = x·Φ(x), dy/dx = Φ(x) + x·φ(x).
 * approximate='tanh': y = ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³);
 * dy/dx = ½(1 + tanh u) + ½x(1 − tanh² u)·√(2/π)(1 + 3·0.044715x²).
 */
const gelu: Rule = (c) => {
  const x = input(c, 0);
  const elem = elemOf(c, x);
  const s = (v: number) => c.e.scalar(v, elem);
  const approximate = attrString(c.node, 'approximate', 'none');
  let d: Value;
  if (approximate === 'none') {
    const cdf = mul(c, c.e.one('Add', [c.e.one('Erf', [c.e.one('Mul', [x, s(Math.SQRT1_2)])]), s(1)]), s(0.5));
    const pdf = c.e.one('Mul', [c.e.one('Exp', [mul(c, x, x, s(-0.5))]), s(1 / Math.sqrt(2 * Math.PI))]);
    d = c.e.one('Add', [cdf, c.e.one('Mul', [x, pdf])]);
  } else if (approximate === 'tanh') {
    const x2 = c.e.one('Mul', [x, x]);
    const u = mul(c, x, c.e.one('Add', [c.e.one('Mul', [x2, s(GELU_TANH_COEF)]), s(1)]), s(SQRT_2_OVER_PI));
    const t = c.e.one('Tanh', [u]);
    const du = c.e.one('Add', [c.e.one('Mul', [x2, s(3 * GELU_TANH_COEF * SQRT_2_OVER_PI)]), s(SQRT_2_OVER_PI)]);
    const sech2 = c.e.one('Sub', [s(1), c.e.one('Mul', [t, t])]);
    d = c.e.one('Add', [mul(c, c.e.one('Add', [t, s(1)]), s(0.5)), mul(c, x, sech2, du, s(0.5))]);
  } else {
    fail(c, `approximate='${approximate}' is not a Gelu approximation`);
  }
  return [c.e.one('Mul', [gy0(c), d])];
};

export const activationRules: Record<string, Rule> = {
  HardSigmoid: hardSigmoid, HardSwish: hardSwish, Elu: elu, Selu: selu, Softplus: softplus, Softsign: softsign,
  Mish: mish, PRelu: prelu, Erf: erf, Gelu: gelu,
};
