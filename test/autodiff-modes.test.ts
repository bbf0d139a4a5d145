// The gradient model's modes and options: what each mode computes (against the vjp mode and closed
// forms), the JumpReLU gradient κ (recorded per site, overridden by gradKappa, every lowering), opset
// handling, error messages, onnx.checker, and freeing a fixed batch dimension.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import test from 'node:test';

import {
  GRADIENT_METADATA_KEY, RETROFIT_METADATA_KEY, buildGradientModel, freeBatchDimension, gradientSignature,
} from '../src/autodiff/index.js';
import { Attribute, AttributeType } from '../src/ir/attribute.js';
import { decodeModel } from '../src/ir/decode.js';
import { Graph } from '../src/ir/graph.js';
import { Node } from '../src/ir/node.js';
import { encodeModel } from '../src/ir/encode.js';
import { JumpReluError, UnsupportedModelError, UsageError } from '../src/ir/errors.js';
import { loadModel } from '../src/ir/io.js';
import type { Model } from '../src/ir/model.js';
import { DataType } from '../src/ir/tensor.js';
import { ValueInfo } from '../src/ir/value-info.js';
import { retrofit } from '../src/passes/jumprelu.js';
import type { Target } from '../src/passes/retrofit-record.js';
import { F, TinyModel, f32, gridValues, hasOnnxChecker, i64, onnxCheck, rng, run } from './autodiff-helpers.js';
import { sharedPaths } from './fixtures.js';

/** A small CNN classifier: Conv → Relu → MaxPool → Flatten → Gemm → Relu → Gemm, input [N,1,6,6], 4 classes. */
function smallCnn(seed = 1, batch: number | string = 'N'): Model {
  const r = rng(seed);
  const m = new TinyModel();
  const x = m.input('x', [batch, 1, 6, 6]);
  const w = (name: string, dims: number[], scale: number) => m.init(name, dims, gridValues(r, dims.reduce((a, b) => a * b, 1), -scale, scale));
  const c = m.one('Conv', [x, w('cw', [3, 1, 3, 3], 0.6), w('cb', [3], 0.2)], { pads: [1, 1, 1, 1] });
  const a = m.one('Relu', [c]);
  const p = m.one('MaxPool', [a], { kernel_shape: [2, 2], strides: [2, 2] });
  const f = m.one('Flatten', [p]);
  const h = m.one('Relu', [m.one('Gemm', [f, w('w1', [8, 27], 0.4), w('b1', [8], 0.2)], { transB: 1 })]);
  const y = m.one('Gemm', [h, w('w2', [4, 8], 0.6), w('b2', [4], 0.2)], { transB: 1 });
  y.name = 'logits';
  return m.output(y);
}

function batchInput(seed: number, n: number): Float32Array {
  return Float32Array.from(gridValues(rng(seed), n * 36, -1, 1));
}

function softmaxRows(logits: Float32Array, classes: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let n = 0; n < logits.length / classes; n++) {
    const row = Array.from(logits.subarray(n * classes, (n + 1) * classes));
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v, c) => { out[n * classes + c] = v / s; });
  }
  return out;
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i]! - b[i]!) <= rtol * (scale + 1e-30), `${what}[${i}]: ${a[i]} vs ${b[i]} (scale ${scale})`);
  }
}

// Same float32 ops on the same data in both models: results agree to rounding of a few operations.
const SAME_OPS = 1e-6;

test('vjp mode: signature, names and declared types', async () => {
  const g = buildGradientModel(smallCnn(), { wrt: ['x'], of: ['logits'] });
  const sig = gradientSignature(g)!;
  assert.deepEqual(sig.inputs.cotangents, { logits: 'logits_cotangent' });
  assert.deepEqual(sig.outputs.gradients, { x: 'x_grad' });
  assert.equal(sig.mode, 'vjp');
  assert.equal(sig.opset, 13);
  assert.deepEqual(g.graph.inputs.map((v) => v.name), ['x', 'logits_cotangent']);
  assert.deepEqual(g.graph.outputs.map((v) => v.name), ['logits', 'x_grad']);
  assert.equal(g.getMetadata(GRADIENT_METADATA_KEY), JSON.stringify(sig));
  const out = await run(g, { x: f32(batchInput(1, 3), [3, 1, 6, 6]), logits_cotangent: f32(new Float32Array(12).fill(1), [3, 4]) });
  assert.deepEqual(out['x_grad']!.dims, [3, 1, 6, 6]);
});

test('the argument model is not modified', () => {
  const m = smallCnn();
  const before = encodeModel(m).toBytes();
  buildGradientModel(m, { wrt: ['x'], of: ['logits'], mode: 'logit-differences' });
  buildGradientModel(m, { wrt: ['x'], of: ['logits'], mode: 'cross-entropy', withRespectToInitializers: true });
  assert.deepEqual(encodeModel(m).toBytes(), before);
});

test('cross-entropy mode: per-sample loss and the gradient of their sum (= vjp with softmax − onehot)', async () => {
  const m = smallCnn(2);
  const n = 5;
  const x = f32(batchInput(3, n), [n, 1, 6, 6]);
  const labels = [0, 3, 1, 2, 3];
  const ce = buildGradientModel(m, { wrt: ['x'], of: ['logits'], mode: 'cross-entropy' });
  const sig = gradientSignature(ce)!;
  assert.equal(sig.reduction, 'sum');
  assert.deepEqual(ce.graph.outputs.map((v) => v.name), ['logits', 'loss', 'x_grad']);
  assert.deepEqual(ce.graph.inputs.map((v) => v.name), ['x', 'labels']);
  const out = await run(ce, { x, labels: i64(labels, [n]) });
  const logits = out['logits']!.data as Float32Array;
  const p = softmaxRows(logits, 4);
  const expectedLoss = labels.map((l, i) => -Math.log(p[i * 4 + l]!));
  assertClose(out['loss']!.data as Float32Array, expectedLoss, 1e-5, 'loss');

  const cot = Float32Array.from(p, (v, i) => v - (labels[Math.floor(i / 4)] === i % 4 ? 1 : 0));
  const vjp = buildGradientModel(m, { wrt: ['x'], of: ['logits'] });
  const ref = await run(vjp, { x, logits_cotangent: f32(cot, [n, 4]) });
  assertClose(out['x_grad']!.data as Float32Array, ref['x_grad']!.data as Float32Array, 1e-5, 'x_grad');

  // Sum over the batch: each sample's gradient is that of its own loss.
  const one = await run(ce, { x: f32((x.data as Float32Array).subarray(36, 72), [1, 1, 6, 6]), labels: i64([3], [1]) });
  assertClose(one['x_grad']!.data as Float32Array, (out['x_grad']!.data as Float32Array).subarray(36, 72), SAME_OPS, 'sample 1 alone');
});

/** smallCnn with a head after its logits: probabilities, log-probabilities (one op or Log(Softmax)), or a Softmax over the batch. */
function smallCnnWithHead(head: 'Softmax' | 'LogSoftmax' | 'Log(Softmax)' | 'Softmax(axis=0)'): Model {
  const model = smallCnn();
  const g = model.graph;
  const z = g.outputs[0]!;
  const add = (op: string, input: typeof z, attributes: Attribute[] = []) => {
    const n = new Node(op, [input], { name: `head_${op}`, attributes, outputNames: [`head_${op}_out`] });
    g.append(n);
    return n.outputs[0]!;
  };
  const axis = (a: number) => [new Attribute('axis', { type: AttributeType.INT, value: BigInt(a) })];
  let y;
  if (head === 'Softmax') y = add('Softmax', z, axis(1));
  else if (head === 'LogSoftmax') y = add('LogSoftmax', z, axis(-1));
  else if (head === 'Log(Softmax)') y = add('Log', add('Softmax', z));
  else y = add('Softmax', z, axis(0));
  g.setOutputs([{ value: y, info: ValueInfo.tensor(DataType.FLOAT, ['N', 4]) }]);
  return model;
}

test('loss modes on (log-)probability outputs use the logits feeding them, and the signature says so', async () => {
  const plain = smallCnn();
  const x = f32(gridValues(rng(5), 3 * 36, -1, 1), [3, 1, 6, 6]);
  const labels = i64([0, 2, 3], [3]);
  const candidates = i64([1, 2, 0, 1, 3, 0], [3, 2]);
  const ref = await run(buildGradientModel(plain, { wrt: ['x'], of: ['logits'], mode: 'cross-entropy' }), { x, labels });
  const refLd = await run(buildGradientModel(plain, { wrt: ['x'], of: ['logits'], mode: 'logit-differences' }), { x, labels, candidates });
  const expected = { Softmax: ["Softmax 'head_Softmax'"], LogSoftmax: ["LogSoftmax 'head_LogSoftmax'"], 'Log(Softmax)': ["Log 'head_Log'", "Softmax 'head_Softmax'"] };
  for (const [head, skipped] of Object.entries(expected)) {
    const model = smallCnnWithHead(head as keyof typeof expected);
    const out = model.graph.outputs[0]!.name;
    const ce = buildGradientModel(model, { wrt: ['x'], of: [out], mode: 'cross-entropy' });
    const sig = gradientSignature(ce)!;
    assert.deepEqual(sig.logitsFrom, { output: out, skipped, logits: 'logits' }, head);
    assert.equal(sig.outputs.logits, 'logits');
    const got = await run(ce, { x, labels });
    assert.deepEqual(Array.from(got['logits']!.data as Float32Array), Array.from(ref['logits']!.data as Float32Array), head);
    assert.deepEqual(Array.from(got[sig.outputs.loss!]!.data as Float32Array), Array.from(ref['loss']!.data as Float32Array), head);
    assert.deepEqual(Array.from(got['x_grad']!.data as Float32Array), Array.from(ref['x_grad']!.data as Float32Array), head);
    const ld = buildGradientModel(model, { wrt: ['x'], of: [out], mode: 'logit-differences' });
    assert.deepEqual(gradientSignature(ld)!.logitsFrom?.skipped, skipped);
    const gotLd = await run(ld, { x, labels, candidates });
    assert.deepEqual(Array.from(gotLd['x_grad']!.data as Float32Array), Array.from(refLd['x_grad']!.data as Float32Array), head);
    // vjp differentiates the output as it is (a cotangent on probabilities is the caller's choice).
    assert.equal(gradientSignature(buildGradientModel(model, { wrt: ['x'], of: [out] }))!.logitsFrom, undefined);
  }
  // A Softmax over another axis than the classes is not a classifier head: the output is taken as it is.
  const other = smallCnnWithHead('Softmax(axis=0)');
  assert.equal(gradientSignature(buildGradientModel(other, { wrt: ['x'], of: [other.graph.outputs[0]!.name], mode: 'cross-entropy' }))!.logitsFrom, undefined);
});

test('logit-differences mode: one run gives every candidate gradient (= k vjp runs)', async () => {
  const m = smallCnn(4);
  const n = 3;
  const k = 3;
  const x = f32(batchInput(5, n), [n, 1, 6, 6]);
  const labels = [1, 0, 3];
  const candidates = [[0, 2, 3], [1, 2, 3], [2, 0, 1]];
  const ld = buildGradientModel(m, { wrt: ['x'], of: ['logits'], mode: 'logit-differences' });
  const sig = gradientSignature(ld)!;
  assert.deepEqual(ld.graph.inputs.map((v) => v.name), ['x', 'labels', 'candidates']);
  assert.deepEqual(ld.graph.outputs.map((v) => v.name), ['logits', 'logits_differences', 'x_grad']);
  assert.equal(sig.outputs.differences, 'logits_differences');
  const out = await run(ld, { x, labels: i64(labels, [n]), candidates: i64(candidates.flat(), [n, k]) });
  assert.deepEqual(out['x_grad']!.dims, [n, k, 1, 6, 6]);

  const plain = await run(m, { x });
  assertClose(out['logits']!.data as Float32Array, plain['logits']!.data as Float32Array, SAME_OPS, 'logits');
  const lg = plain['logits']!.data as Float32Array;
  const diffs = candidates.flatMap((row, i) => row.map((c) => lg[i * 4 + c]! - lg[i * 4 + labels[i]!]!));
  assertClose(out['logits_differences']!.data as Float32Array, diffs, SAME_OPS, 'differences');

  const vjp = buildGradientModel(m, { wrt: ['x'], of: ['logits'] });
  const grads = out['x_grad']!.data as Float32Array;
  for (let c = 0; c < k; c++) {
    const cot = new Float32Array(n * 4);
    for (let i = 0; i < n; i++) { cot[i * 4 + candidates[i]![c]!] += 1; cot[i * 4 + labels[i]!] -= 1; }
    const ref = (await run(vjp, { x, logits_cotangent: f32(cot, [n, 4]) }))['x_grad']!.data as Float32Array;
    for (let i = 0; i < n; i++) {
      assertClose(grads.subarray((i * k + c) * 36, (i * k + c + 1) * 36), ref.subarray(i * 36, (i + 1) * 36), SAME_OPS, `sample ${i} candidate ${c}`);
    }
  }
});

test('vjp of two outputs, and of an output that does not depend on wrt (zero gradient)', async () => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3]);
  const z = m.input('z', [2, 3]);
  const y1 = m.one('Mul', [x, x]);
  const y2 = m.one('Tanh', [z]);
  const model = m.output(y1, y2);
  const g = buildGradientModel(model, { wrt: ['x'], of: [y1.name, y2.name] });
  const xv = [0.5, -1, 2, 0.25, 1.5, -0.75];
  const out = await run(g, {
    x: f32(xv, [2, 3]), z: f32(xv, [2, 3]),
    [`${y1.name}_cotangent`]: f32([1, 2, 3, 4, 5, 6], [2, 3]), [`${y2.name}_cotangent`]: f32([1, 1, 1, 1, 1, 1], [2, 3]),
  });
  assertClose(out['x_grad']!.data as Float32Array, xv.map((v, i) => 2 * v * (i + 1)), SAME_OPS, 'd(x²)');
  const gz = buildGradientModel(model, { wrt: ['x'], of: [y2.name] });
  const outZ = await run(gz, { x: f32(xv, [2, 3]), z: f32(xv, [2, 3]), [`${y2.name}_cotangent`]: f32([1, 1, 1, 1, 1, 1], [2, 3]) });
  assert.deepEqual(Array.from(outZ['x_grad']!.data as Float32Array), [0, 0, 0, 0, 0, 0]);
});

test('initializer gradients: every float initializer on the path, named <init>_grad', async () => {
  const g = buildGradientModel(smallCnn(), { wrt: ['x'], of: ['logits'], mode: 'cross-entropy', withRespectToInitializers: true });
  const sig = gradientSignature(g)!;
  assert.deepEqual(Object.keys(sig.outputs.gradients).sort(), ['b1', 'b2', 'cb', 'cw', 'w1', 'w2', 'x']);
  const out = await run(g, { x: f32(batchInput(1, 2), [2, 1, 6, 6]), labels: i64([1, 2], [2]) });
  assert.deepEqual(out['cw_grad']!.dims, [3, 1, 3, 3]);
  assert.deepEqual(out['b2_grad']!.dims, [4]);
  assert.throws(() => buildGradientModel(smallCnn(), { wrt: ['x'], of: ['logits'], mode: 'logit-differences', withRespectToInitializers: true }), UsageError);
});

// ---- JumpReLU gradient κ ----

/** The small CNN retrofitted with κ (every lowering), gradients at points away from every threshold. */
async function gradientsOf(model: Model, gradKappa?: number): Promise<Float32Array> {
  const g = buildGradientModel(model, { wrt: ['x'], of: ['logits'], mode: 'cross-entropy', ...(gradKappa !== undefined ? { gradKappa } : {}) });
  const out = await run(g, { x: f32(batchInput(9, 4), [4, 1, 6, 6]), labels: i64([0, 1, 2, 3], [4]) });
  return out['x_grad']!.data as Float32Array;
}

function retrofitted(target: Target, kappa: number, gradKappa?: number): Model {
  const m = smallCnn(6);
  retrofit(m, { kappa, target, ...(gradKappa !== undefined ? { gradKappa } : {}) });
  return m;
}

/**
 * The κ-model's gradient with κ_grad must equal the gradient of a model whose activations threshold at
 * κ_grad in the backward pass only. Equivalent and independent: ThresholdedRelu(κ) forward with a Relu
 * (κ_grad = 0) backward is what gradKappa = 0 must give on every lowering.
 */
for (const target of ['thresholded-relu', 'where', 'function'] as const) {
  test(`JumpReLU (${target}): gradKappa = 0 gives the ReLU-surrogate gradient; the recorded grad_kappa is used`, async () => {
    const kappa = 0.2;
    const base = await gradientsOf(retrofitted('thresholded-relu', kappa), 0);
    const lowered = retrofitted(target, kappa);
    const viaOverride = await gradientsOf(lowered, 0);
    assertClose(viaOverride, base, SAME_OPS, 'override');
    const recorded = await gradientsOf(retrofitted(target, kappa, 0));
    assertClose(recorded, base, SAME_OPS, 'recorded grad_kappa = 0');
    // Without a gradient κ the mask is 1[z > κ], which differs from the surrogate's.
    const own = await gradientsOf(lowered);
    assert.ok(own.some((v, i) => Math.abs(v - base[i]!) > 1e-4), 'κ mask and κ_grad mask gave the same gradient');
    assertClose(own, await gradientsOf(retrofitted('thresholded-relu', kappa)), SAME_OPS, 'same κ on every lowering');
  });
}

test('JumpReLU custom op (com.jumprelu): the gradient uses grad_kappa, else kappa, else the override', () => {
  const m = smallCnn(6);
  retrofit(m, { kappa: 0.3, gradKappa: 0.1, target: 'custom' });
  const thresholds = (g: Model) => g.graph.nodes
    .filter((n) => n.opType === 'Greater' && n.name.startsWith('grad/'))
    .map((n) => n.inputs[1]!.initializer!.float32Data(() => new Uint8Array())[0]!);
  assert.deepEqual(thresholds(buildGradientModel(m, { wrt: ['x'], of: ['logits'] })), [Math.fround(0.1), Math.fround(0.1)]);
  assert.deepEqual(thresholds(buildGradientModel(m, { wrt: ['x'], of: ['logits'], gradKappa: 0 })), [0, 0]);
  // Without the record, the node's own grad_kappa attribute still applies.
  m.deleteMetadata(RETROFIT_METADATA_KEY);
  assert.deepEqual(thresholds(buildGradientModel(m, { wrt: ['x'], of: ['logits'] })), [Math.fround(0.1), Math.fround(0.1)]);
});

test('a κ = 0 site kept as Relu follows its recorded grad_kappa; a plain Relu does not', async () => {
  const build = () => {
    const m = new TinyModel();
    const x = m.input('x', ['N', 4]);
    const y = m.one('Relu', [x]);
    return { model: m.output(y), y: y.name };
  };
  const xv = [-1, 0.2, 0.5, 2];
  const gradOf = async (model: Model, y: string, options = {}) => {
    const g = buildGradientModel(model, { wrt: ['x'], of: [y], ...options });
    return Array.from((await run(g, { x: f32(xv, [1, 4]), [`${y}_cotangent`]: f32([1, 1, 1, 1], [1, 4]) }))['x_grad']!.data as Float32Array);
  };
  const recorded = build();
  retrofit(recorded.model, { kappa: 0, gradKappa: 0.3 });
  assert.equal(recorded.model.graph.nodes[0]!.opType, 'Relu');
  assert.deepEqual(await gradOf(recorded.model, recorded.y), [0, 0, 1, 1]);
  assert.deepEqual(await gradOf(recorded.model, recorded.y, { gradKappa: 1 }), [0, 0, 0, 1]);
  const plain = build();
  assert.deepEqual(await gradOf(plain.model, plain.y, { gradKappa: 1 }), [0, 1, 1, 1]);
});

test('per-channel κ (where lowering): the gradient mask is per channel too', async () => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3, 2, 2]);
  const kappa = m.init('kappa', [3, 1, 1], [0.1, 0.5, -0.25]);
  const zero = m.init('zero', [], [0]);
  const y = m.one('Where', [m.one('Greater', [x, kappa]), x, zero]);
  const model = m.output(y);
  const whereNode = model.graph.nodes.find((nd) => nd.opType === 'Where')!;
  model.setMetadata(RETROFIT_METADATA_KEY, JSON.stringify({ format: 1, sites: [{ graph: 'main', node: whereNode.name, target: 'where', kappa: [0.1, 0.5, -0.25], grad_kappa: [0, 1, 0] }] }));
  const g = buildGradientModel(model, { wrt: ['x'], of: [y.name] });
  const xv = gridValues(rng(3), 24, -2, 2, [0, 1, 0.1, 0.5, -0.25]);
  const out = await run(g, { x: f32(xv, [2, 3, 2, 2]), [`${y.name}_cotangent`]: f32(new Float32Array(24).fill(1), [2, 3, 2, 2]) });
  const expected = xv.map((v, i) => (v > [0, 1, 0][Math.floor(i / 4) % 3]! ? 1 : 0));
  assert.deepEqual(Array.from(out['x_grad']!.data as Float32Array), expected);
});

// ---- opsets and errors ----

test('opset: a model older than 13 with only unchanged ops is moved to 13; others get a clear error', async () => {
  const m = new TinyModel(10);
  const x = m.input('x', [2, 3]);
  const y = m.one('ThresholdedRelu', [m.one('Gemm', [x, m.init('w', [3, 2], [1, 2, 3, 4, 5, 6])])], { alpha: F(0.5) });
  const g = buildGradientModel(m.output(y), { wrt: ['x'], of: [y.name] });
  assert.equal(g.opsetVersion(''), 13n);
  assert.ok(g.irVersion >= 7n);
  const out = await run(g, { x: f32([0.1, 0.2, 0.3, -0.1, -0.2, 0.4], [2, 3]), [`${y.name}_cotangent`]: f32([1, 1, 1, 1], [2, 2]) });
  assert.deepEqual(out['x_grad']!.dims, [2, 3]);

  const old = new TinyModel(11);
  const ox = old.input('x', [2, 3]);
  const os = old.one('Softmax', [ox]);
  assert.throws(() => buildGradientModel(old.output(os), { wrt: ['x'], of: [os.name] }),
    (e: unknown) => e instanceof UnsupportedModelError && e.code === 'gradient-opset' && /opset 11/.test(e.message) && /Softmax/.test(e.message));
});

test('errors name the op and the node: unsupported op, control flow, unknown names, non-float wrt', async () => {
  const m = new TinyModel();
  const x = m.input('x', [2, 3]);
  // Hardmax has no gradient rule (its derivative is zero almost everywhere and nothing differentiates through it).
  const e = m.one('Hardmax', [m.one('Exp', [x])]);
  const model = m.output(e);
  assert.throws(() => buildGradientModel(model, { wrt: ['x'], of: [e.name] }),
    (err: unknown) => err instanceof UnsupportedModelError && err.kind === 'unsupported-model' && err.code === 'no-gradient-rule'
      && err.message.includes("node 'n1_Hardmax'") && err.message.includes('op Hardmax') && err.message.includes("path: x → Exp 'n0_Exp' → Hardmax 'n1_Hardmax'"));
  assert.throws(() => buildGradientModel(model, { wrt: ['nope'], of: [e.name] }), /wrt 'nope' is not a value/);
  assert.throws(() => buildGradientModel(model, { wrt: ['x'], of: ['nope'] }), /of 'nope' is not a value/);
  assert.throws(() => buildGradientModel(model, { wrt: ['x'], of: [e.name], mode: 'hessian' as never }), /unknown gradient mode/);
  assert.throws(() => buildGradientModel(model, { wrt: ['x'], of: [e.name, e.name], mode: 'cross-entropy' }), /exactly one output/);

  const c = new TinyModel();
  const cx = c.input('x', [2, 3]);
  const idx = c.input('i', [2], DataType.INT64);
  const cy = c.one('Gather', [cx, idx]);
  // Indices fed at run time: the gradient w.r.t. the data for this run's indices (scatter-add, opset 16).
  const gm = buildGradientModel(c.output(cy), { wrt: ['x'], of: [cy.name] });
  assert.equal(gradientSignature(gm)!.opset, 16);
  const sig = gradientSignature(gm)!;
  const out = await run(gm, { x: f32([1, 2, 3, 4, 5, 6], [2, 3]), i: i64([1, -1], [2]), [sig.inputs.cotangents![cy.name]!]: f32([1, 1, 1, 1, 1, 1], [2, 3]) });
  assert.deepEqual(Array.from(out[sig.outputs.gradients['x']!]!.data as Float32Array), [0, 0, 0, 2, 2, 2]);
  assert.throws(() => buildGradientModel(c.model, { wrt: ['i'], of: [cy.name] }), /not a floating-point tensor/);
  for (const err of [UsageError]) assert.ok(new err('x') instanceof JumpReluError);
});

test('control flow on the path is rejected with a clear error', () => {
  const bytes = ifModelBytes();
  const model = decodeModel(bytes);
  assert.throws(() => buildGradientModel(model, { wrt: ['x'], of: ['y'] }),
    (e: unknown) => e instanceof UnsupportedModelError && /control flow/.test(e.message) && /If/.test(e.message));
});

/** y = If(cond, then: Relu(x), else: Neg(x)), built through the IR. */
function ifModelBytes(): Uint8Array {
  const m = new TinyModel();
  const x = m.input('x', [2]);
  const cond = m.input('cond', [], DataType.BOOL);
  const branch = (op: string) => {
    const g = new Graph(op, m.graph);
    const n = g.append(new Node(op, [x], { outputNames: [`${op}_out`] }));
    g.addOutput(n.outputs[0]!, ValueInfo.tensor(DataType.FLOAT, [2]));
    return g;
  };
  const node = new Node('If', [cond], {
    name: 'the_if', outputNames: ['y'],
    attributes: [
      new Attribute('then_branch', { type: AttributeType.GRAPH, value: branch('Relu') }),
      new Attribute('else_branch', { type: AttributeType.GRAPH, value: branch('Neg') }),
    ],
  });
  m.graph.append(node);
  m.output(node.outputs[0]!);
  return encodeModel(m.model).toBytes();
}

// ---- onnx.checker ----

test('gradient models pass onnx.checker.check_model(full_check=True)', (t) => {
  if (!hasOnnxChecker()) { t.skip('skipped: python3 with the onnx package is not available (pip install onnx)'); return; }
  const models: Record<string, Model> = {};
  for (const mode of ['vjp', 'cross-entropy', 'logit-differences'] as const) {
    models[`cnn-${mode}`] = buildGradientModel(smallCnn(), { wrt: ['x'], of: ['logits'], mode });
    for (const target of ['thresholded-relu', 'where', 'function'] as const) {
      models[`cnn-${target}-${mode}`] = buildGradientModel(retrofitted(target, 0.2, 0.1), { wrt: ['x'], of: ['logits'], mode });
    }
  }
  models['cnn-initializers'] = buildGradientModel(smallCnn(), { wrt: ['x'], of: ['logits'], mode: 'cross-entropy', withRespectToInitializers: true });
  const failures = onnxCheck(models);
  assert.deepEqual(failures, {});
  t.diagnostic(`${Object.keys(models).length} gradient models checked`);
});

// ---- freeing a fixed batch dimension ----

test('freeBatchDimension: resnet20_cifar10_pre.onnx (batch fixed by a Reshape constant) runs on batches', async (t) => {
  const file = sharedPaths().resnet20Pre;
  if (!existsSync(file)) { t.skip(`skipped: needs ${file} (the shared data folder)`); return; }
  const original = loadModel(file);
  assert.throws(() => buildGradientModel(original, { wrt: ['input'], of: ['output'], mode: 'logit-differences' }), /free it first/);

  const freed = loadModel(file);
  const report = freeBatchDimension(freed);
  assert.deepEqual(report.inputs, ['input']);
  assert.deepEqual(report.outputs, ['output']);
  assert.equal(report.reshapes.length, 1);
  t.diagnostic(`freed: inputs ${report.inputs}, outputs ${report.outputs}, Reshape nodes ${report.reshapes}`);

  const n = 3;
  const x = Float32Array.from(gridValues(rng(7), n * 3072, -2, 2));
  const batched = (await run(freed, { input: f32(x, [n, 3, 32, 32]) }))['output']!.data as Float32Array;
  for (let i = 0; i < n; i++) {
    const single = (await run(original, { input: f32(x.subarray(i * 3072, (i + 1) * 3072), [1, 3, 32, 32]) }))['output']!.data as Float32Array;
    assertClose(batched.subarray(i * 10, i * 10 + 10), single, 1e-5, `sample ${i}`);
  }

  // The gradient of the opset-10 model: upgraded to 13, batch freed on the way, candidates tiled.
  const ld = buildGradientModel(original, { wrt: ['input'], of: ['output'], mode: 'logit-differences', freeBatch: true });
  const vjp = buildGradientModel(original, { wrt: ['input'], of: ['output'] });
  const out = await run(ld, { input: f32(x, [n, 3, 32, 32]), labels: i64([0, 1, 2], [n]), candidates: i64([5, 6, 7], [n, 1]) });
  const grads = out['input_grad']!.data as Float32Array;
  for (let i = 0; i < n; i++) {
    const cot = new Float32Array(10);
    cot[5 + i] = 1;
    cot[i] = -1;
    const ref = (await run(vjp, { input: f32(x.subarray(i * 3072, (i + 1) * 3072), [1, 3, 32, 32]), output_cotangent: f32(cot, [1, 10]) }))['input_grad']!.data as Float32Array;
    assertClose(grads.subarray(i * 3072, (i + 1) * 3072), ref, 1e-5, `gradient of sample ${i}`);
  }
});

test('freeBatchDimension says where it cannot free the batch', () => {
  const m = new TinyModel();
  const x = m.input('x', [1, 4]);
  const flat = m.one('Reshape', [x, m.ints('shape', [4])]);
  const y = m.one('Reshape', [m.one('Relu', [flat]), m.ints('back', [1, 4])]);
  const model = m.output(y);
  assert.throws(() => freeBatchDimension(model),
    (e: unknown) => e instanceof UnsupportedModelError && /keeps batch 1/.test(e.message) && /Reshape node 'n0_Reshape'/.test(e.message));
  const free = new TinyModel();
  const fx = free.input('x', ['N', 4]);
  assert.equal(freeBatchDimension(free.output(free.one('Relu', [fx]))).alreadyFree, true);
});
