// The converter on real trained networks: the paper authors' LeNetLike (MNIST) and an independent
// ResNet-20 (CIFAR-10). Converted outputs equal a hand-written float64 reference on real images, and
// the LeNetLike keeps the paper's clean accuracies: 99.55 % at κ = 0 and 99.53 % at κ = 1.0.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import test from 'node:test';
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../src/ir/encode.js';
import { loadModel } from '../src/ir/io.js';
import { retrofit } from '../src/index.js';
import type { Target } from '../src/passes/retrofit-record.js';
import { normalise, nchwShape } from '../src/runtime/data/index.js';
import {
  IMAGENET_NORMALISATION, authorsModelPath, evaluateAccuracy, hasSharedData, loadCifar10First1000, loadMnistTest,
  normalisationFor, requireAuthorsCache, requireSharedData, runLogits, sharedPaths,
} from './fixtures.js';
import { referenceEval } from './helpers/reference-eval.js';

ort.env.logLevel = 'error';

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes);
}

function convert(file: string, kappa: number, target: Target = 'thresholded-relu'): Uint8Array {
  const m = loadModel(file);
  retrofit(m, { kappa, target });
  return encodeModel(m).toBytes();
}

test('LeNetLike baseline keeps the paper\'s clean accuracy: 99.55 % at κ = 0, 99.53 % at κ = 1.0', async (t) => {
  if (!(await requireAuthorsCache(t))) return;
  const file = authorsModelPath('lenet_baseline');
  const mnist = await loadMnistTest();
  const norm = normalisationFor('mnist');
  const zero = convert(file, 0);
  assert.ok(Buffer.from(zero).equals(fs.readFileSync(file)), 'κ = 0 must leave the model byte-identical');
  const acc0 = await evaluateAccuracy(await session(zero), mnist, norm);
  const acc1 = await evaluateAccuracy(await session(convert(file, 1.0)), mnist, norm);
  assert.equal(acc0.n, 10000);
  assert.equal(acc0.correct, 9955);
  assert.equal(acc1.correct, 9953);
});

test('converted LeNetLike equals a hand-computed reference on real MNIST digits, for every lowering', async (t) => {
  if (!(await requireAuthorsCache(t))) return;
  const file = authorsModelPath('lenet_baseline');
  const mnist = await loadMnistTest();
  const count = 16;
  const x = normalise(mnist, normalisationFor('mnist'), { start: 0, count });
  const shape = nchwShape(mnist, count);
  const kappa = 1.0;
  const m = loadModel(file);
  retrofit(m, { kappa });
  const perImage = x.length / count;
  const ref: number[] = [];
  for (let i = 0; i < count; i++) ref.push(...referenceEval(m, x.subarray(i * perImage, (i + 1) * perImage), [1, ...shape.slice(1)]).data);
  const outputs: Record<string, Float32Array> = {};
  for (const target of ['thresholded-relu', 'where', 'function'] as const) {
    outputs[target] = await runLogits(await session(convert(file, kappa, target)), x, shape);
    const worst = Math.max(...ref.map((r, i) => Math.abs(r - outputs[target]![i]!) / (1 + Math.abs(r))));
    assert.ok(worst < 1e-4, `${target}: max relative error ${worst} against the reference`);
  }
  assert.deepEqual(outputs['where'], outputs['thresholded-relu']);
  assert.deepEqual(outputs['function'], outputs['thresholded-relu']);
});

test('converted resnet20_cifar10_pre.onnx equals a hand-computed reference on real CIFAR-10 images', async (t) => {
  if (!requireSharedData(t)) return;
  const file = sharedPaths().resnet20Pre;
  const cifar = await loadCifar10First1000();
  const kappa = 0.05;
  const m = loadModel(file);
  retrofit(m, { kappa });
  const s = await session(encodeModel(m).toBytes());
  for (let i = 0; i < 3; i++) {
    const x = normalise(cifar, IMAGENET_NORMALISATION, { start: i, count: 1 });
    const got = await runLogits(s, x, nchwShape(cifar, 1));
    const ref = referenceEval(m, x, nchwShape(cifar, 1)).data;
    const worst = Math.max(...[...ref].map((r, k) => Math.abs(r - got[k]!) / (1 + Math.abs(r))));
    assert.ok(worst < 1e-4, `image ${i}: max relative error ${worst}`);
  }
  // And the retrofit really changed something at this κ.
  const original = await session(fs.readFileSync(file));
  const x0 = normalise(cifar, IMAGENET_NORMALISATION, { start: 0, count: 1 });
  assert.notDeepEqual(await runLogits(original, x0, nchwShape(cifar, 1)), await runLogits(s, x0, nchwShape(cifar, 1)));
});

void hasSharedData;
