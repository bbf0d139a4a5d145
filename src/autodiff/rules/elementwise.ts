// VJP rules of elementwise ops: arithmetic with broadcasting, activations (JumpReLU forms included),
// Softmax/LogSoftmax, and the ops that pass gradients through unchanged.

import { Value } from '../../ir/value.js';
import { attrFloat, attrInt } from '../../ir/analysis/attrs.js';
import type { KappaValue } from '../kappa.js';
import { FLOAT_TYPES, constantOf } from '../../ir/analysis/constants.js';
import { formOfNode, whereForm } from '../../retrofit/forms/index.js';
import {
  type Rule, type RuleContext, elemOf, fail, input, masked, normAxis, rankOf, unbroadcast,
} from './context.js';

const gy0 = (c: RuleContext) => c.gy[0]!;

const add: Rule = (c) => [
  c.needs(0) ? unbroadcast(c, gy0(c), input(c, 0)) : null,
  c.needs(1) ? unbroadcast(c, gy0(c), input(c, 1)) : null,
];

const sub: Rule = (c) => [
  c.needs(0) ? unbroadcast(c, gy0(c), input(c, 0)) : null,
  c.needs(1) ? unbroadcast(c, c.e.one('Neg', [gy0(c)]), input(c, 1)) : null,
];

const sum: Rule = (c) => c.node.inputs.map((v, i) => (c.needs(i) ? unbroadcast(c, gy0(c), v!) : null));

const mul: Rule = (c) => {
  const [a, b] = [input(c, 0), input(c, 1)];
  return [
    c.needs(0) ? unbroadcast(c, c.e.one('Mul', [gy0(c), b]), a) : null,
    c.needs(1) ? unbroadcast(c, c.e.one('Mul', [gy0(c), a]), b) : null,
  ];
};

const div: Rule = (c) => {
  const [a, b] = [input(c, 0), input(c, 1)];
  const y = c.node.outputs[0]!;
  return [
    c.needs(0) ? unbroadcast(c, c.e.one('Div', [gy0(c), b]), a) : null,
    // d(a/b)/db = -a/b² = -y/b
    c.needs(1) ? unbroadcast(c, c.e.one('Neg', [c.e.one('Div', [c.e.one('Mul', [gy0(c), y]), b])]), b) : null,
  ];
};

const neg: Rule = (c) => [c.e.one('Neg', [gy0(c)])];
const identity: Rule = (c) => [gy0(c)];

const exp: Rule = (c) => [c.e.one('Mul', [gy0(c), c.node.outputs[0]!])];
const log: Rule = (c) => [c.e.one('Div', [gy0(c), input(c, 0)])];
const sqrt: Rule = (c) => {
  const y = c.node.outputs[0]!;
  return [c.e.one('Div', [gy0(c), c.e.one('Mul', [y, c.e.scalar(2, elemOf(c, y))])])];
};

/** A threshold as a constant that broadcasts against x: a scalar, or [C, 1, …, 1] per channel. */
function threshold(c: RuleContext, x: Value, kappa: KappaValue): Value {
  const elem = elemOf(c, x);
  if (typeof kappa === 'number') return c.e.scalar(kappa, elem);
  const rank = rankOf(c, x);
  const channels = c.info.shape(x)?.[1];
  if (rank < 2 || (typeof channels === 'number' && channels !== kappa.length)) {
    fail(c, `a per-channel κ of ${kappa.length} values does not fit input '${x.name}'`);
  }
  return c.e.constant(elem, [kappa.length, ...new Array<number>(rank - 2).fill(1)], kappa);
}

/** Gradient of an activation whose derivative is 1[x > κ] (ReLU, JumpReLU forms). */
function step(c: RuleContext, x: Value, kappa: KappaValue | Value): Value {
  const k = typeof kappa === 'number' || Array.isArray(kappa) ? threshold(c, x, kappa) : kappa;
  return masked(c, c.e.one('Greater', [x, k]), gy0(c));
}

function sameKappa(a: readonly number[], b: KappaValue): boolean {
  const bs = typeof b === 'number' ? [b] : b;
  return a.length === bs.length && a.every((v, i) => Math.fround(v) === Math.fround(bs[i]!));
}

/**
 * Gradient of a JumpReLU y = x·1[x > κ] (ReLU: κ = 0) whose derivative is 1[x > κ_grad]. When κ_grad is
 * the forward κ and κ ≥ 0, 1[x > κ] = 1[y > 0]: the backward pass then reads only y, which leaves ORT
 * free to fuse the producer of x with the activation (Conv + Relu).
 */
function activation(c: RuleContext, x: Value, forwardKappa: readonly number[] | null, gradKappa: KappaValue | Value, kappaValue?: Value): Value {
  const tau = c.kappa.surrogateTau;
  if (tau !== null) {
    if (forwardKappa !== null && forwardKappa.some((k) => k !== 0)) return smooth(c, x, forwardKappa.length === 1 ? forwardKappa[0]! : [...forwardKappa], tau);
    if (forwardKappa === null && kappaValue) return smooth(c, x, kappaValue, tau);
  }
  const same = forwardKappa !== null && !(gradKappa instanceof Value) && sameKappa(forwardKappa, gradKappa);
  if (same && forwardKappa.every((k) => k >= 0)) {
    const y = c.node.outputs[0]!;
    return masked(c, c.e.one('Greater', [y, c.e.scalar(0, elemOf(c, y))]), gy0(c));
  }
  return step(c, x, gradKappa);
}

/**
 * BPDA's smooth surrogate of a JumpReLU at threshold κ: the derivative of z·σ((z − κ)/τ),
 * σ(u) + z·σ(u)(1 − σ(u))/τ with u = (z − κ)/τ, times the incoming gradient.
 */
function smooth(c: RuleContext, x: Value, kappa: KappaValue | Value, tau: number): Value {
  const elem = elemOf(c, x);
  const k = kappa instanceof Value ? kappa : threshold(c, x, kappa);
  const invTau = c.e.scalar(1 / tau, elem);
  const s = c.e.one('Sigmoid', [c.e.one('Mul', [c.e.one('Sub', [x, k]), invTau])]);
  const slope = c.e.one('Mul', [c.e.one('Mul', [x, invTau]), c.e.one('Mul', [s, c.e.one('Sub', [c.e.scalar(1, elem), s])])]);
  return c.e.one('Mul', [gy0(c), c.e.one('Add', [s, slope])]);
}

/** ReLU; a Relu that the retrofit recorded as a κ = 0 JumpReLU site follows that site's gradient κ. */
const relu: Rule = (c) => [activation(c, input(c, 0), [0], c.kappa.site(c.node) ? c.kappa.gradKappa(c.node, 0)! : 0)];

/**
 * The output node of a JumpReLU form (src/retrofit/forms) other than `where`: ThresholdedRelu(alpha), the
 * model-local function call (attribute kappa, its default from the function) and the custom op
 * (attributes kappa and grad_kappa, or a per-channel κ tensor as input 1). The form says where x and κ are.
 */
const jumpRelu: Rule = (c) => {
  input(c, 0);
  const g = formOfNode(c.node)?.gradient(c.node, (name) => c.kappa.functionDefault(c.node, name)) ?? null;
  if (!g) fail(c, "it has no float attribute 'kappa'");
  const { x, kappaInput } = g;
  if (kappaInput) {
    // The custom op's per-channel κ is [C]: align it with axis 1 of x.
    const rank = rankOf(c, x);
    const aligned = rank > 2 ? c.e.one('Unsqueeze', [kappaInput, c.e.ints(Array.from({ length: rank - 2 }, (_, i) => i + 1))]) : kappaInput;
    const kg = c.kappa.distinctGradKappa(c.node);
    const forward = constantOf(kappaInput)?.values ?? null;
    return [kg !== null && c.kappa.surrogateTau === null ? step(c, x, kg) : activation(c, x, forward, forward ?? aligned, aligned), null];
  }
  const kappa = g.kappa!;
  return [activation(c, x, [kappa], c.kappa.gradKappa(c.node, g.gradKappa ?? kappa)!)];
};

const leakyRelu: Rule = (c) => {
  const x = input(c, 0);
  const alpha = attrFloat(c.node, 'alpha', 0.01);
  const gy = gy0(c);
  const positive = c.e.one('Greater', [x, c.e.scalar(0, elemOf(c, x))]);
  return [c.e.one('Where', [positive, gy, c.e.one('Mul', [gy, c.e.scalar(alpha, elemOf(c, gy))])])];
};

const sigmoid: Rule = (c) => {
  const y = c.node.outputs[0]!;
  const one = c.e.scalar(1, elemOf(c, y));
  return [c.e.one('Mul', [gy0(c), c.e.one('Mul', [y, c.e.one('Sub', [one, y])])])];
};

const tanh: Rule = (c) => {
  const y = c.node.outputs[0]!;
  const one = c.e.scalar(1, elemOf(c, y));
  return [c.e.one('Mul', [gy0(c), c.e.one('Sub', [one, c.e.one('Mul', [y, y])])])];
};

/** Clip (opset ≥ 11: min and max are optional inputs). Inside [min, max] inclusive, as PyTorch's clamp. */
const clip: Rule = (c) => {
  const x = input(c, 0);
  const [lo, hi] = [c.node.inputs[1] ?? null, c.node.inputs[2] ?? null];
  const gy = gy0(c);
  const conds = [];
  if (lo) conds.push(c.e.one('GreaterOrEqual', [x, lo]));
  if (hi) conds.push(c.e.one('LessOrEqual', [x, hi]));
  const out: (ReturnType<typeof masked> | null)[] = [];
  if (c.needs(0)) {
    if (conds.length === 0) out[0] = gy;
    else out[0] = masked(c, conds.length === 2 ? c.e.one('And', [conds[0]!, conds[1]!]) : conds[0]!, gy);
  }
  if (lo && c.needs(1)) out[1] = unbroadcast(c, masked(c, c.e.one('Less', [x, lo]), gy), lo);
  if (hi && c.needs(2)) out[2] = unbroadcast(c, masked(c, c.e.one('Greater', [x, hi]), gy), hi);
  return out;
};

/**
 * Where(cond, a, b). A JumpReLU lowered as Greater(x, κ) → Where(mask, x, 0) gets its mask rebuilt with the
 * gradient κ when that differs (recorded site or override).
 */
const where: Rule = (c) => {
  let cond = input(c, 0);
  const [a, b] = [input(c, 1), input(c, 2)];
  const gy = gy0(c);
  const jump = constantOf(whereForm.gradient(c.node, () => undefined)?.kappaInput)?.values ?? null;
  if (jump || c.kappa.site(c.node) !== undefined) {
    if (jump && c.kappa.surrogateTau !== null && jump.some((k) => k !== 0) && c.needs(1) && !c.needs(2)) return [null, activation(c, a, jump, jump), null];
    const kg = c.kappa.distinctGradKappa(c.node);
    if (kg !== null) cond = c.e.one('Greater', [a, threshold(c, a, kg)]);
    else if (jump && c.needs(1) && !c.needs(2)) return [null, activation(c, a, jump, jump), null];
  }
  const zero = c.e.scalar(0, elemOf(c, gy));
  return [
    null,
    c.needs(1) ? unbroadcast(c, c.e.one('Where', [cond, gy, zero]), a) : null,
    c.needs(2) ? unbroadcast(c, c.e.one('Where', [cond, zero, gy]), b) : null,
  ];
};

/** Softmax/LogSoftmax of opset ≥ 13: one axis. */
function softmaxAxis(c: RuleContext): number {
  if (c.opset < 13) fail(c, 'Softmax before opset 13 (coerced to 2-D) is not supported');
  const y = c.node.outputs[0]!;
  return normAxis(attrInt(c.node, 'axis', -1), rankOf(c, y, 'output'));
}

const softmax: Rule = (c) => {
  const y = c.node.outputs[0]!;
  const axes = c.e.ints([softmaxAxis(c)]);
  const gy = gy0(c);
  const dot = c.e.one('ReduceSum', [c.e.one('Mul', [gy, y]), axes], { keepdims: 1 });
  return [c.e.one('Mul', [y, c.e.one('Sub', [gy, dot])])];
};

const logSoftmax: Rule = (c) => {
  const y = c.node.outputs[0]!;
  const axes = c.e.ints([softmaxAxis(c)]);
  const gy = gy0(c);
  const total = c.e.one('ReduceSum', [gy, axes], { keepdims: 1 });
  return [c.e.one('Sub', [gy, c.e.one('Mul', [c.e.one('Exp', [y]), total])])];
};

const dropout: Rule = (c) => {
  const training = c.node.inputs[2] ? constantOf(c.node.inputs[2]) : null;
  if (c.node.inputs[2] && !training) fail(c, 'its training_mode input is not a constant');
  // Training mode with a constant ratio of 0 drops nothing (torchvision 0.14's Swin calls F.dropout(p=0)
  // without training=False, so its export has training_mode = true).
  const ratio = c.node.inputs[1] ? constantOf(c.node.inputs[1]) : null;
  const dropsNothing = ratio !== null && ratio.values.length === 1 && ratio.values[0] === 0;
  if (training && training.values[0] && !dropsNothing) fail(c, 'training_mode is true (only inference Dropout, or a ratio of 0, is supported)');
  return [gy0(c)];
};

const cast: Rule = (c) => {
  const x = input(c, 0);
  const elem = c.info.elem(x);
  if (elem === null || !FLOAT_TYPES.has(elem)) return [null];
  return [c.e.one('Cast', [gy0(c)], { to: elem })];
};

export const elementwiseRules: Record<string, Rule> = {
  Add: add, Sub: sub, Sum: sum, Mul: mul, Div: div, Neg: neg, Exp: exp, Log: log, Sqrt: sqrt,
  Identity: identity, Dropout: dropout, Cast: cast,
  Relu: relu, ThresholdedRelu: jumpRelu, LeakyRelu: leakyRelu, Sigmoid: sigmoid, Tanh: tanh, Clip: clip,
  Where: where, Softmax: softmax, LogSoftmax: logSoftmax,
};

export const jumpReluRule = jumpRelu;
