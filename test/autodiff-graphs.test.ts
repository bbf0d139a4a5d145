// Generated graphs (fast-check): random op sequences over a 4-D or 2-D input, each step picking an op
// that fits the current shapes (convolutions, pooling, normalisations (batch, layer, instance), reshapes,
// gathers, tiling, broadcasts, resizing, matrix products (Gemm, MatMul, Einsum), activations, ops on positive
// values (Sqrt, Log, Reciprocal, Pow, Exp), broadcasting arithmetic with constants and with earlier values). Every graph's vjp model
// is checked against finite differences (autodiff-helpers.ts: same check and tolerance as the per-op
// tests); a graph whose piecewise ops change branch along the probe segment is discarded, not passed.
// All gradient models built along the way then go through onnx.checker (full_check) in one batch.

import assert from 'node:assert/strict';
import test from 'node:test';

import fc from 'fast-check';

import { buildGradientModel } from '../src/autodiff/index.js';
import type { Model } from '../src/ir/model.js';
import { DataType } from '../src/ir/tensor.js';
import type { Value } from '../src/ir/value.js';
import {
  BranchChange, F, TinyModel, directionalCheck, gridValues, hasOnnxChecker, onnxCheck, rng,
} from './autodiff-helpers.js';

interface Shaped { v: Value; shape: number[] }

const STEP_OPS = [
  'conv', 'maxpool', 'avgpool', 'gap', 'bn', 'pad', 'slice', 'transpose', 'flatten', 'concat', 'split',
  'gemm', 'matmul', 'softmax', 'logsoftmax', 'reduce', 'unary', 'const-binary', 'value-binary',
  'positive', 'reshape', 'expand', 'tile', 'gather', 'resize', 'einsum', 'layernorm', 'instancenorm', 'prelu',
  'batch-matmul', 'gather-elements', 'groupnorm', 'where-const',
] as const;
const UNARY = [
  'Relu', 'Sigmoid', 'Tanh', 'LeakyRelu', 'ThresholdedRelu', 'Neg', 'Identity', 'Clip', 'JumpWhere', 'HardSigmoid', 'Elu',
  'Softplus', 'Erf', 'HardSwish', 'Selu', 'Cast', 'Gelu', 'GeluTanh', 'Dropout',
] as const;
/** Ops defined on positive inputs only, applied to x² + ½. */
const POSITIVE = ['Sqrt', 'Log', 'Reciprocal', 'Pow', 'ExpNeg'] as const;

interface Step { op: (typeof STEP_OPS)[number]; a: number; b: number }

// COPIES: no step fills an axis with copies of one value (Tile, Gather, Resize or Concat of a size-1 axis, as after a
// reduction or GlobalAveragePool). A softmax or a normalisation over such an axis is invariant to that value
// (shift and scale), so the function is constant there: its true derivative is 0 and any float32 gradient is
// rounding noise, which a relative tolerance cannot pass.

const size = (s: number[]) => s.reduce((x, y) => x * y, 1);

/** Builds the model a step list describes; steps that do not fit the current shape are skipped. */
function buildGraph(fourD: boolean, steps: Step[], seed: number): { model: Model; input: number[]; ops: string[] } {
  const r = rng(seed);
  // Opset 21: GroupNormalization with per-channel scale (21), Gelu (20), LayerNormalization (17), HardSwish (14);
  // reductions take their axes as an input (18).
  const m = new TinyModel(21);
  const inputShape = fourD ? [2, 3, 5, 5] : [3, 6];
  const values: Shaped[] = [{ v: m.input('x', inputShape), shape: inputShape }];
  const ops: string[] = [];
  let k = 0;
  const weight = (dims: number[], fanIn: number) => m.init(`w${k++}`, dims, gridValues(r, size(dims), -1, 1).map((v) => v / Math.sqrt(fanIn)));
  const push = (v: Value, shape: number[], what: string) => { values.push({ v, shape }); ops.push(what); };

  for (const { op, a, b } of steps) {
    const cur = values[values.length - 1]!;
    const s = cur.shape;
    const is4 = s.length === 4;
    switch (op) {
      case 'conv': {
        if (!is4) break;
        const kk = 1 + (a % 3);
        const stride = 1 + (b % 2);
        const pad = (a >> 2) % 2;
        const [n, c, h, w] = s as [number, number, number, number];
        const oh = Math.floor((h + 2 * pad - kk) / stride) + 1;
        const ow = Math.floor((w + 2 * pad - kk) / stride) + 1;
        if (oh < 1 || ow < 1) break;
        const depthwise = b % 3 === 0;
        const mOut = depthwise ? c : 2 + (a % 3);
        const group = depthwise ? c : 1;
        const wv = weight([mOut, c / group, kk, kk], (c / group) * kk * kk);
        push(m.one('Conv', [cur.v, wv, weight([mOut], 4)], { strides: [stride, stride], pads: [pad, pad, pad, pad], group }), [n, mOut, oh, ow], `Conv k${kk} s${stride} p${pad} g${group}`);
        break;
      }
      case 'maxpool': case 'avgpool': {
        if (!is4 || s[2]! < 2 || s[3]! < 2) break;
        const overlapping = a % 2 === 1;
        const attrs: Record<string, number[]> = overlapping ? { kernel_shape: [2, 2], strides: [1, 1], pads: [0, 0, 1, 1] } : { kernel_shape: [2, 2], strides: [2, 2] };
        const out = overlapping ? [s[0]!, s[1]!, s[2]!, s[3]!] : [s[0]!, s[1]!, Math.floor(s[2]! / 2), Math.floor(s[3]! / 2)];
        const onnxOp = op === 'maxpool' ? 'MaxPool' : 'AveragePool';
        push(m.one(onnxOp, [cur.v], { ...attrs, ...(op === 'avgpool' ? { count_include_pad: b % 2 } : {}) }), out, `${onnxOp}${overlapping ? ' overlapping' : ''}`);
        break;
      }
      case 'gap':
        if (!is4) break;
        push(m.one('GlobalAveragePool', [cur.v]), [s[0]!, s[1]!, 1, 1], 'GlobalAveragePool');
        break;
      case 'bn': {
        if (!is4) break;
        const c = s[1]!;
        const p = (lo: number, hi: number) => m.init(`w${k++}`, [c], gridValues(r, c, lo, hi));
        push(m.one('BatchNormalization', [cur.v, p(0.5, 1.5), p(-0.5, 0.5), p(-0.5, 0.5), p(0.5, 2)]), s, 'BatchNormalization');
        break;
      }
      case 'pad': {
        const r2 = s.length;
        const pads = new Array<number>(2 * r2).fill(0);
        pads[r2 - 1] = a % 2;
        pads[2 * r2 - 1] = b % 3 === 0 ? -1 : 1;
        if (s[r2 - 1]! + pads[r2 - 1]! + pads[2 * r2 - 1]! < 1) break;
        const out = [...s];
        out[r2 - 1] = s[r2 - 1]! + pads[r2 - 1]! + pads[2 * r2 - 1]!;
        push(m.one('Pad', [cur.v, m.ints(`w${k++}`, pads)]), out, `Pad ${pads}`);
        break;
      }
      case 'slice': {
        const axis = s.length - 1 - (a % 2);
        if (s[axis]! < 3) break;
        const step = 1 + (b % 2);
        const out = [...s];
        out[axis] = Math.ceil((s[axis]! - 1) / step);
        push(m.one('Slice', [cur.v, m.ints(`w${k++}`, [1]), m.ints(`w${k++}`, [s[axis]!]), m.ints(`w${k++}`, [axis]), m.ints(`w${k++}`, [step])]), out, `Slice axis ${axis} step ${step}`);
        break;
      }
      case 'transpose': {
        const perm = is4 ? [0, 1, 3, 2] : [1, 0];
        if (!is4) break; // keep the batch axis first for 2-D graphs (Gemm follows)
        push(m.one('Transpose', [cur.v], { perm }), perm.map((p) => s[p]!), 'Transpose');
        break;
      }
      case 'flatten':
        if (!is4) break;
        push(m.one('Flatten', [cur.v]), [s[0]!, size(s.slice(1))], 'Flatten');
        break;
      case 'concat': {
        if (s[1]! < 2) break; // (see COPIES)
        const other = values.filter((x) => x.shape.join() === s.join());
        const pick = other[a % other.length]!;
        const out = [...s];
        out[1] = s[1]! * 2;
        push(m.one('Concat', [cur.v, pick.v], { axis: 1 }), out, 'Concat');
        break;
      }
      case 'split': {
        if (s[1]! < 2) break;
        const first = 1 + (a % (s[1]! - 1));
        const [p, q] = m.op('Split', [cur.v, m.ints(`w${k++}`, [first, s[1]! - first])], { axis: 1 }, 2);
        push(m.one('Concat', [q!, p!], { axis: 1 }), s, 'Split+Concat');
        break;
      }
      case 'gemm': case 'matmul': {
        if (is4) break;
        const out = 2 + (a % 4);
        if (op === 'gemm') {
          const transB = b % 2;
          const wv = weight(transB ? [out, s[1]!] : [s[1]!, out], s[1]!);
          push(m.one('Gemm', [cur.v, wv, weight([out], 4)], { transB, alpha: F(0.75) }), [s[0]!, out], `Gemm transB=${transB}`);
        } else {
          push(m.one('MatMul', [cur.v, weight([s[1]!, out], s[1]!)]), [s[0]!, out], 'MatMul');
        }
        break;
      }
      case 'softmax': case 'logsoftmax': {
        // Any axis, negative ones included.
        const axis = (a % (2 * s.length)) - s.length;
        const d = s[(axis + s.length) % s.length]!;
        if (d < 2) break;
        push(m.one(op === 'softmax' ? 'Softmax' : 'LogSoftmax', [cur.v], { axis }), s, `${op} axis ${axis}`);
        break;
      }
      case 'reduce': {
        const axis = 1 + (a % (s.length - 1));
        const onnxOp = (['ReduceMean', 'ReduceSum', 'ReduceL2', 'ReduceMax'] as const)[b % 4]!;
        const out = [...s];
        out[axis] = 1;
        // ReduceL2 of x² + ½ (never 0, where it has no derivative); ReduceMax picks one element per slice, which
        // the probe's points keep unless two are within the segment of each other (distinct grid values).
        const x = onnxOp === 'ReduceL2' ? m.one('Add', [m.one('Mul', [cur.v, cur.v]), m.init(`w${k++}`, [], [0.5])]) : cur.v;
        push(m.one(onnxOp, [x, m.ints(`w${k++}`, [axis])]), out, `${onnxOp} axis ${axis}`);
        break;
      }
      case 'batch-matmul': {
        // MatMul broadcasting a [W, out] weight over the leading axes of a 4-D value.
        if (!is4) break;
        const out = 2 + (a % 3);
        push(m.one('MatMul', [cur.v, weight([s[3]!, out], s[3]!)]), [s[0]!, s[1]!, s[2]!, out], 'MatMul batched');
        break;
      }
      case 'gather-elements': {
        const axis = s.length - 1;
        const d = s[axis]!;
        const idx = Array.from({ length: size(s) }, (_, i) => (i * 7 + a) % d);
        push(m.one('GatherElements', [cur.v, m.init(`w${k++}`, s, idx, DataType.INT64)], { axis }), s, 'GatherElements');
        break;
      }
      case 'groupnorm': {
        if (!is4 || s[1]! % 2 !== 0) break;
        // Opset 21's form: scale and bias per channel (onnx.checker refuses opset 18's per-group form as deprecated).
        const groups = s[1]! / 2;
        const p = (lo: number, hi: number) => m.init(`w${k++}`, [s[1]!], gridValues(r, s[1]!, lo, hi));
        push(m.one('GroupNormalization', [cur.v, p(0.5, 1.5), p(-0.5, 0.5)], { num_groups: groups }), s, 'GroupNormalization');
        break;
      }
      case 'where-const': {
        // Where on a constant condition (a mask baked into the graph), the other branch a function of x too.
        const cond = m.init(`w${k++}`, s, Array.from({ length: size(s) }, (_, i) => ((i * 5 + a) % 3 === 0 ? 1 : 0)), DataType.BOOL);
        push(m.one('Where', [cond, cur.v, m.one('Mul', [cur.v, m.init(`w${k++}`, [], [-0.5])])]), s, 'Where const');
        break;
      }
      case 'unary': {
        const u = UNARY[a % UNARY.length]!;
        let y: Value;
        if (u === 'LeakyRelu') y = m.one(u, [cur.v], { alpha: F(0.1) });
        else if (u === 'ThresholdedRelu') y = m.one(u, [cur.v], { alpha: F(0.25) });
        else if (u === 'HardSigmoid') y = m.one(u, [cur.v], { alpha: F(0.5), beta: F(0.5) });
        else if (u === 'Gelu' || u === 'GeluTanh') y = m.one('Gelu', [cur.v], u === 'GeluTanh' ? { approximate: 'tanh' } : {});
        else if (u === 'Dropout') y = m.one('Dropout', [cur.v]); // inference: the identity
        else if (u === 'Cast') y = m.one('Cast', [m.one('Cast', [cur.v], { to: 11 })], { to: 1 }); // through double and back
        else if (u === 'Clip') y = m.one(u, [cur.v, m.init(`w${k++}`, [], [-1]), m.init(`w${k++}`, [], [1])]);
        else if (u === 'JumpWhere') {
          y = m.one('Where', [m.one('Greater', [cur.v, m.init(`w${k++}`, [], [0.25])]), cur.v, m.init(`w${k++}`, [], [0])]);
        } else y = m.one(u, [cur.v]);
        push(y, s, u);
        break;
      }
      case 'positive': {
        const p = POSITIVE[a % POSITIVE.length]!;
        const base = m.one('Add', [m.one('Mul', [cur.v, cur.v]), m.init(`w${k++}`, [], [0.5])]);
        const y = p === 'Pow' ? m.one('Pow', [base, m.init(`w${k++}`, [], [1.5])])
          : p === 'ExpNeg' ? m.one('Exp', [m.one('Neg', [base])]) : m.one(p, [base]);
        push(y, s, `${p}(x² + ½)`);
        break;
      }
      case 'reshape': {
        // Unsqueeze + Squeeze, or Reshape to [N, -1] and back: the shapes round-trip, the gradient must too.
        if (a % 2 === 0) {
          const axis = m.ints(`w${k++}`, [1 + (b % s.length)]);
          push(m.one('Squeeze', [m.one('Unsqueeze', [cur.v, axis]), axis]), s, 'Unsqueeze+Squeeze');
        } else {
          const flat = m.one('Reshape', [cur.v, m.ints(`w${k++}`, [s[0]!, -1])]);
          push(m.one('Reshape', [flat, m.ints(`w${k++}`, s)]), s, 'Reshape+Reshape');
        }
        break;
      }
      case 'expand': {
        // A value reduced over its last axis, broadcast back with Expand (its gradient sums over the copies) and
        // added to the value (alone it would be constant along the axis, and a following softmax constant).
        const axis = s.length - 1;
        if (s[axis]! < 2) break;
        const mean = m.one('ReduceMean', [cur.v, m.ints(`w${k++}`, [axis])]);
        push(m.one('Add', [cur.v, m.one('Expand', [mean, m.ints(`w${k++}`, s)])]), s, 'x + Expand(ReduceMean x)');
        break;
      }
      case 'tile': {
        const axis = s.length - 1;
        if (s[axis]! > 6 || s[axis]! < 2) break; // (see COPIES)
        const reps = s.map((_, i) => (i === axis ? 2 : 1));
        const out = s.map((d, i) => d * reps[i]!);
        push(m.one('Tile', [cur.v, m.ints(`w${k++}`, reps)]), out, 'Tile');
        break;
      }
      case 'gather': {
        // Constant indices along the last axis, with a repeat and a negative one (the gradient adds them up).
        const axis = s.length - 1;
        const d = s[axis]!;
        if (d < 2) break; // (see COPIES)
        const indices = [d - 1, 0, a % d, -1];
        const out = [...s];
        out[axis] = indices.length;
        push(m.one('Gather', [cur.v, m.ints(`w${k++}`, indices)], { axis }), out, `Gather ${indices}`);
        break;
      }
      case 'resize': {
        if (!is4 || s[2]! > 6 || s[2]! < 2 || s[3]! < 2) break; // (see COPIES)
        const mode = b % 2 ? 'linear' : 'nearest';
        const scales = m.init(`w${k++}`, [4], [1, 1, 2, 2]);
        push(m.one('Resize', [cur.v, null, scales], { mode }), [s[0]!, s[1]!, s[2]! * 2, s[3]! * 2], `Resize ${mode}`);
        break;
      }
      case 'einsum': {
        if (is4) break;
        const out = 2 + (a % 3);
        push(m.one('Einsum', [cur.v, weight([out, s[1]!], s[1]!)], { equation: 'ij,kj->ik' }), [s[0]!, out], 'Einsum ij,kj->ik');
        break;
      }
      case 'layernorm': {
        const c = s[s.length - 1]!;
        if (c < 3) break; // two values normalise to ±1 whatever they are: a zero gradient, all rounding noise
        const p = (lo: number, hi: number) => m.init(`w${k++}`, [c], gridValues(r, c, lo, hi));
        push(m.one('LayerNormalization', [cur.v, p(0.5, 1.5), p(-0.5, 0.5)], { axis: -1 }), s, 'LayerNormalization');
        break;
      }
      case 'instancenorm': {
        if (!is4 || s[2]! * s[3]! < 3) break; // as for LayerNormalization
        const c = s[1]!;
        const p = (lo: number, hi: number) => m.init(`w${k++}`, [c], gridValues(r, c, lo, hi));
        push(m.one('InstanceNormalization', [cur.v, p(0.5, 1.5), p(-0.5, 0.5)]), s, 'InstanceNormalization');
        break;
      }
      case 'prelu': {
        const slopeShape = is4 ? [s[1]!, 1, 1] : [s[1]!];
        push(m.one('PRelu', [cur.v, m.init(`w${k++}`, slopeShape, gridValues(r, s[1]!, 0.05, 0.5))]), s, 'PRelu');
        break;
      }
      case 'const-binary': {
        const binOps = ['Add', 'Sub', 'Mul', 'Div'] as const;
        const bop = binOps[a % 4]!;
        const cshape = is4 ? (b % 2 ? [s[1]!, 1, 1] : [s[3]!]) : [s[1]!];
        const c = m.init(`w${k++}`, cshape, gridValues(r, size(cshape), 0.5, 1.5));
        // The constant comes first sometimes (both operand orders), never as a divisor's numerator: c/x near 0 is ill-conditioned.
        const swap = b % 3 === 0 && bop !== 'Div';
        push(m.one(bop, swap ? [c, cur.v] : [cur.v, c]), s, `${bop} const[${cshape}]`);
        break;
      }
      case 'value-binary': {
        const other = values.filter((x) => x.shape.join() === s.join() || (x.shape.length === s.length && x.shape.every((d, i) => d === s[i] || d === 1)));
        const pick = other[a % other.length]!;
        const bop = b % 2 ? 'Mul' : 'Add';
        push(m.one(bop, [cur.v, pick.v]), s, `${bop} value`);
        break;
      }
    }
  }
  if (ops.length === 0) push(m.one('Tanh', [values[0]!.v]), inputShape, 'Tanh');
  const last = values[values.length - 1]!;
  return { model: m.output(last.v), input: inputShape, ops };
}

const gradientModels: Record<string, Model> = {};
let checked = 0;
let discarded = 0;
let worst = 0;
let worstCase = '';
/** ONNX op types of the graphs checked (not discarded). */
const covered = new Set<string>();

test('generated graphs: vjp against finite differences (fast-check)', async (t) => {
  const step = fc.record({ op: fc.constantFrom(...STEP_OPS), a: fc.nat({ max: 1000 }), b: fc.nat({ max: 1000 }) });
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.array(step, { minLength: 1, maxLength: 7 }), fc.integer({ min: 1, max: 2 ** 30 }), async (fourD, steps, seed) => {
      const { model, input, ops } = buildGraph(fourD, steps, seed);
      const x = gridValues(rng(seed + 1), size(input), -2, 2, [0, 0.25, 1, -1]);
      try {
        const res = await directionalCheck(model, { wrt: { x: { dims: input, values: x } }, of: [model.graph.outputs[0]!.name], seed });
        checked++;
        for (const n of model.graph.nodes) covered.add(n.opType);
        if (res.error / res.tolerance > worst) {
          worst = res.error / res.tolerance;
          worstCase = `${ops.join(' → ')} (error ${res.error.toExponential(2)}, tolerance ${res.tolerance.toExponential(2)})`;
        }
        if (Object.keys(gradientModels).length < 40) {
          gradientModels[`g${checked}`] = buildGradientModel(model, { wrt: ['x'], of: [model.graph.outputs[0]!.name] });
        }
        assert.ok(res.error <= res.tolerance, `${ops.join(' → ')}: D=${res.derivative} FD=${res.slope} error ${res.error} > ${res.tolerance}`);
      } catch (e) {
        if (e instanceof BranchChange) {
          discarded++;
          fc.pre(false);
        }
        throw e;
      }
    }),
    { numRuns: 400, seed: 20240611, endOnFailure: true, includeErrorInReport: true },
  );
  t.diagnostic(`${checked} graphs checked, ${discarded} discarded (a piecewise op changed branch along the probe); largest error/tolerance ${worst.toFixed(3)}: ${worstCase}`);
  assert.ok(checked >= 300, `only ${checked} graphs were checked`);
  // Every op the generator can emit was in some checked graph (the fixed seed decides which graphs there are).
  const emitted = ['Conv', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'BatchNormalization', 'Pad', 'Slice', 'Transpose', 'Flatten',
    'Concat', 'Split', 'Gemm', 'MatMul', 'Softmax', 'LogSoftmax', 'ReduceMean', 'ReduceSum', 'Add', 'Sub', 'Mul', 'Div',
    ...UNARY.filter((u) => u !== 'JumpWhere' && u !== 'GeluTanh'), 'Where', 'ReduceL2', 'ReduceMax', 'GatherElements', 'GroupNormalization', 'Greater', 'Sqrt', 'Log', 'Reciprocal', 'Pow', 'Exp', 'Unsqueeze', 'Squeeze',
    'Reshape', 'Expand', 'Tile', 'Gather', 'Resize', 'Einsum', 'LayerNormalization', 'InstanceNormalization', 'PRelu'];
  assert.deepEqual(emitted.filter((op) => !covered.has(op)), [], 'ops the generator emits but no checked graph contained');
});

test('generated gradient models pass onnx.checker (full_check)', (t) => {
  if (!hasOnnxChecker()) { t.skip('skipped: python3 with the onnx package is not available (pip install onnx)'); return; }
  assert.ok(Object.keys(gradientModels).length > 0);
  assert.deepEqual(onnxCheck(gradientModels), {});
  t.diagnostic(`${Object.keys(gradientModels).length} models checked`);
});
