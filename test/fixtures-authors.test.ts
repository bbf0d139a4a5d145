// The paper authors' trained models, exported to ONNX by fixtures/export_authors.py into the git-ignored
// cache fixtures/.cache/ (built here on demand). Needs ../shared/data and, to build the cache, a Python with
// PyTorch; skipped with the reason otherwise.

import assert from 'node:assert/strict';
import test from 'node:test';
import * as ort from 'onnxruntime-node';

import { normalise, type ImageSet } from '../src/runtime/data/index.js';
import {
  type AuthorsModelName, AUTHORS_MODELS, authorsModelPath, evaluateAccuracy, loadCifar10First1000, loadMnistTest,
  normalisationFor, readReferenceLogits, requireAuthorsCache, requireSharedData, runLogits, summariseOnnx,
} from './fixtures.js';

ort.env.logLevel = 'error';

/** The paper's clean accuracies for the authors' LeNetLike models on the official MNIST test set. */
const PAPER_MNIST_CORRECT: Partial<Record<AuthorsModelName, number>> = { lenet_baseline: 9955, lenet_robust: 9950 };

let mnist: Promise<ImageSet> | undefined;
let cifar: Promise<ImageSet> | undefined;
const dataFor = (dataset: 'mnist' | 'cifar10'): Promise<ImageSet> =>
  dataset === 'mnist' ? (mnist ??= loadMnistTest()) : (cifar ??= loadCifar10First1000());

for (const name of AUTHORS_MODELS) {
  test(`authors' ${name}: ONNX interface, dynamic batch, one Relu per activation`, async (t) => {
    if (!requireSharedData(t)) return;
    const manifest = await requireAuthorsCache(t);
    if (!manifest) return;
    const entry = manifest.models[name]!;
    const s = await summariseOnnx(authorsModelPath(name));
    assert.ok(s.opset >= 13, `opset ${s.opset}`);
    const [, c, h, w] = entry.input.shape;
    assert.deepEqual(s.inputs, [{ name: 'input', dims: ['batch', c, h, w] }]);
    assert.deepEqual(s.outputs, [{ name: 'logits', dims: ['batch', 10] }]);
    assert.equal(s.opTypes.filter((o) => o === 'Relu').length, entry.relu_nodes);
    assert.equal(entry.relu_nodes, name.startsWith('lenet') ? 4 : 19);
  });

  test(`authors' ${name}: onnxruntime logits equal PyTorch's on real test images (float32 tolerance)`, async (t) => {
    if (!requireSharedData(t)) return;
    const manifest = await requireAuthorsCache(t);
    if (!manifest) return;
    const entry = manifest.models[name]!;
    const { ref, input } = await readReferenceLogits(name);
    const set = await dataFor(entry.dataset);
    // our preprocessing reproduces the exporter's input tensor bit for bit
    const ours = normalise(set, normalisationFor(entry.dataset), { start: 0, count: ref.indices.length });
    assert.deepEqual(ref.indices, [...Array(ref.indices.length).keys()]);
    assert.equal(ours.length, input.length);
    let mismatches = 0;
    for (let i = 0; i < ours.length; i++) if (ours[i] !== input[i]) mismatches++;
    assert.equal(mismatches, 0, 'TypeScript preprocessing differs from PyTorch input');

    const session = await ort.InferenceSession.create(authorsModelPath(name));
    const logits = await runLogits(session, input, ref.input_shape);
    assert.equal(logits.length, ref.logits.length);
    let maxAbs = 0;
    for (let i = 0; i < logits.length; i++) {
      const want = Math.fround(ref.logits[i]!);
      const diff = Math.abs(logits[i]! - want);
      maxAbs = Math.max(maxAbs, diff);
      assert.ok(diff <= 1e-4 * Math.max(1, Math.abs(want)), `logit ${i}: onnxruntime ${logits[i]} vs PyTorch ${want}`);
    }
    t.diagnostic(`${name}: max |onnxruntime - PyTorch| = ${maxAbs.toExponential(2)} over ${ref.logits_shape.join('x')} logits`);
    // batch 1 gives the same logits as the batch of 64
    const size = input.length / ref.indices.length;
    const one = await runLogits(session, input.subarray(size * 5, size * 6), [1, ...ref.input_shape.slice(1)]);
    for (let k = 0; k < 10; k++) assert.ok(Math.abs(one[k]! - logits[50 + k]!) <= 1e-4 * Math.max(1, Math.abs(logits[50 + k]!)));
    await session.release();
  });

  test(`authors' ${name}: clean accuracy in onnxruntime-node`, async (t) => {
    if (!requireSharedData(t)) return;
    const manifest = await requireAuthorsCache(t);
    if (!manifest) return;
    const entry = manifest.models[name]!;
    const measured = entry.accuracy[0]!; // PyTorch's, on the first (lossless) evaluation set
    const set = await dataFor(entry.dataset);
    const session = await ort.InferenceSession.create(authorsModelPath(name));
    const acc = await evaluateAccuracy(session, set, normalisationFor(entry.dataset), 1000);
    await session.release();
    t.diagnostic(`${name}: ${acc.percent} % (${acc.correct}/${acc.n}) on ${measured.split}; PyTorch ${measured.percent} %`);
    assert.equal(acc.n, measured.n);
    const paper = PAPER_MNIST_CORRECT[name];
    if (paper !== undefined) {
      assert.equal(acc.correct, paper, `the paper reports ${paper / 100} % for ${name}`);
    } else {
      assert.ok(Math.abs(acc.correct - measured.correct) <= 1, `${acc.correct} vs PyTorch ${measured.correct}`);
      assert.ok(acc.percent > 85, `${acc.percent} %`);
    }
  });
}
