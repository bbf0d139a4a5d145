// The zoo test's flip detection (test/helpers/kink-flips.ts): it must fire for every activation type on
// values that straddle a kink, and at an exact tie exactly when the two backward conventions differ. The
// pieces it assumes for the project's rules are checked against the gradient models those rules build, so
// the helper cannot drift from src/autodiff/rules.

import assert from 'node:assert/strict';
import test from 'node:test';

import { buildGradientModel, gradientSignature } from '../src/autodiff/index.js';
import { TinyModel, F, f32, run } from './autodiff-helpers.js';
import { type OnnxActivation, argmaxRows, flippedRows, onnxPiece, torchPiece } from './helpers/kink-flips.js';

const rows = (a: OnnxActivation, kind: string, kappa: number | null, mine: number[], theirs: number[], n: number) =>
  flippedRows(a, kind, kappa, Float32Array.from(mine), Float32Array.from(theirs), n);

test('kink flips: a value on the other side of a kink is detected for every activation type, in its row', () => {
  const relu: OnnxActivation = { op: 'Relu', kappa: 0 };
  // Relu: the ONNX side is the output y (the rule's mask y > 0), PyTorch's the input x.
  assert.deepEqual(rows(relu, 'relu', null, [0, 0.5, 0, 0], [-1e-7, 0.5, 1e-7, -2], 2), [0, 1]);
  const jump: OnnxActivation = { op: 'ThresholdedRelu', kappa: 0.05 };
  assert.deepEqual(rows(jump, 'relu', 0.05, [0, 0.0500001, 0, 0.3], [0.0500001, 0.0500001, 0.0499999, 0.3], 4), [1, 0, 0, 0]);
  const clip: OnnxActivation = { op: 'Clip', lo: 0, hi: 6 };
  assert.deepEqual(rows(clip, 'clip:0.0:6.0', null, [-4.2e-7, 3, 5.9999995, 6.0000005], [7.1e-6, 3, 6.0000005, 6.0000005], 4), [1, 0, 1, 0]);
  const hs: OnnxActivation = { op: 'HardSwish' };
  assert.deepEqual(rows(hs, 'hardswish', null, [-3.0000002, 2.9999998, 1, 3.0000002], [-2.9999998, 3.0000002, 1, 3.0000002], 4), [1, 1, 0, 0]);
  const hsig: OnnxActivation = { op: 'HardSigmoid', alpha: 1 / 6, beta: 0.5 };
  assert.deepEqual(rows(hsig, 'hardsigmoid', null, [-3.0001, 2.9999, 0], [-2.9999, 3.0001, 0], 3), [1, 1, 0]);
  // The logit-difference pass has N·k rows (sample-major): a flip marks only the row it is in.
  assert.deepEqual(rows(clip, 'clip:0.0:6.0', null, [1, 1, -1e-7, 1, 1, 1], [1, 1, 1e-7, 1, 1, 1], 6), [0, 0, 1, 0, 0, 0]);
  assert.deepEqual(argmaxRows(BigInt64Array.from([0n, 3n, 5n, 6n]), BigInt64Array.from([0n, 3n, 4n, 6n]), 2), [0, 1]);
  assert.throws(() => rows(relu, 'relu', null, [0, 1], [0, 1, 2], 1), /2 values in the ONNX model's pass, 3 in PyTorch's/);
  assert.throws(() => torchPiece('gelu', 0, null), /unknown activation kind 'gelu'/);
});

test('kink flips: an exact tie counts as a flip exactly when the two backward conventions differ', () => {
  // The Clip rule passes the gradient on [lo, hi] (as clamp), PyTorch's hardtanh (ReLU6) on (lo, hi).
  assert.deepEqual(rows({ op: 'Clip', lo: 0, hi: 6 }, 'clip:0.0:6.0', null, [0, 6, 3], [0, 6, 3], 3), [1, 1, 0]);
  // ReLU and JumpReLU: both strict.
  assert.deepEqual(rows({ op: 'Relu', kappa: 0 }, 'relu', null, [0], [0], 1), [0]);
  assert.deepEqual(rows({ op: 'ThresholdedRelu', kappa: 0.05 }, 'relu', 0.05, [0], [Math.fround(0.05)], 1), [0]);
  // HardSwish (opset ≥ 14) follows hardswish_backward at ±3; exported at opset 13 as x·HardSigmoid(x) it does not.
  assert.deepEqual(rows({ op: 'HardSwish' }, 'hardswish', null, [-3, 3], [-3, 3], 2), [0, 0]);
  assert.deepEqual(rows({ op: 'HardSigmoid', alpha: 1 / 6, beta: 0.5 }, 'hardswish', null, [-3, 3], [-3, 3], 2), [1, 1]);
  assert.deepEqual(rows({ op: 'HardSigmoid', alpha: 1 / 6, beta: 0.5 }, 'hardsigmoid', null, [-3, 3], [-3, 3], 2), [0, 0]);
});

/** d(Σ y)/dx of a one-node model at `xs`, from the gradient model the project builds. */
async function derivative(op: string, xs: number[], attrs: Record<string, ReturnType<typeof F> | number> = {}, opset = 14, bounds?: [number, number]): Promise<Float32Array> {
  const m = new TinyModel(opset);
  const x = m.input('x', [xs.length]);
  const inputs = bounds ? [x, m.init('lo', [], [bounds[0]]), m.init('hi', [], [bounds[1]])] : [x];
  const model = m.output(m.one(op, inputs, attrs));
  const g = buildGradientModel(model, { wrt: ['x'], of: [model.graph.outputs[0]!.name], mode: 'vjp' });
  const sig = gradientSignature(g)!;
  const out = await run(g, { x: f32(xs, [xs.length]), [Object.values(sig.inputs.cotangents!)[0]!]: f32(xs.map(() => 1), [xs.length]) });
  return out[sig.outputs.gradients['x']!]!.data as Float32Array;
}

test("kink flips: the pieces assumed for the project's rules are those its gradient models use, ties included", async () => {
  // Clip: derivative 1 exactly on piece 1.
  const cx = [-1, 0, 3, 6, 7];
  const clip: OnnxActivation = { op: 'Clip', lo: 0, hi: 6 };
  assert.deepEqual([...await derivative('Clip', cx, {}, 13, [0, 6])], cx.map((v) => (onnxPiece(clip, v) === 1 ? 1 : 0)));
  // Relu: derivative 1 exactly where the output is > 0 (piece 1), also at 0.
  const rx = [-1, 0, 1e-30, 2];
  assert.deepEqual([...await derivative('Relu', rx)], rx.map((v) => (onnxPiece({ op: 'Relu', kappa: 0 }, Math.max(v, 0)) === 1 ? 1 : 0)));
  // ThresholdedRelu at κ = 0.05: the output is x above κ, 0 at and below.
  const tx = [0, Math.fround(0.05), 0.0500001, 1];
  const jump: OnnxActivation = { op: 'ThresholdedRelu', kappa: 0.05 };
  assert.deepEqual([...await derivative('ThresholdedRelu', tx, { alpha: F(0.05) })], tx.map((v) => (onnxPiece(jump, v > Math.fround(0.05) ? v : 0) === 1 ? 1 : 0)));
  // HardSwish: 0 / x/3 + ½ / 1 on pieces 0, 1, 2, the ties at ±3 on piece 1.
  const hx = [-4, -3, 0, 3, 4];
  const hs = await derivative('HardSwish', hx);
  hx.forEach((v, i) => {
    const piece = onnxPiece({ op: 'HardSwish' }, v);
    assert.ok(Math.abs(hs[i]! - [0, v / 3 + 0.5, 1][piece]!) < 1e-6, `HardSwish'(${v}) = ${hs[i]}, piece ${piece}`);
  });
  // HardSigmoid(α = 1/6, β = ½): α strictly inside, 0 at the ties ±3 (t rounds to 0 and 1).
  const sx = [-4, -3, 0, 3, 4];
  const hsig: OnnxActivation = { op: 'HardSigmoid', alpha: 1 / 6, beta: 0.5 };
  const sd = await derivative('HardSigmoid', sx, { alpha: F(1 / 6), beta: F(0.5) });
  sx.forEach((v, i) => assert.equal(sd[i]! > 0, onnxPiece(hsig, v) === 1, `HardSigmoid'(${v}) = ${sd[i]}`));
});
