// The project's own default models (fixtures/default/, made by fixtures/train_default.py) load in
// onnxruntime-node, have the expected interface, and reach their model card's accuracy on the committed
// held-out digits. These tests need nothing outside the repository.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import * as ort from 'onnxruntime-node';

import { MNIST_NORMALISATION, normalise } from '../src/runtime/data/index.js';
import {
  type DefaultVariant, defaultModelPath, defaultModelsDir, evaluateAccuracy, loadDefaultHeldout, loadMnistTest,
  readDefaultManifest, requireSharedData, runLogits, summariseOnnx,
} from './fixtures.js';

ort.env.logLevel = 'error';

const VARIANTS: DefaultVariant[] = ['baseline', 'robust'];

for (const variant of VARIANTS) {
  test(`default ${variant}: interface is input [batch,1,28,28] -> logits [batch,10], 4 Relu nodes`, async () => {
    assert.ok(existsSync(defaultModelPath(variant)), defaultModelPath(variant));
    const s = await summariseOnnx(defaultModelPath(variant));
    assert.ok(s.opset >= 13, `opset ${s.opset}`);
    assert.deepEqual(s.inputs, [{ name: 'input', dims: ['batch', 1, 28, 28] }]);
    assert.deepEqual(s.outputs, [{ name: 'logits', dims: ['batch', 10] }]);
    assert.equal(s.opTypes.filter((o) => o === 'Relu').length, 4);
  });

  test(`default ${variant}: held-out accuracy matches its model card`, async (t) => {
    const manifest = await readDefaultManifest();
    const entry = manifest.models[variant];
    const card = readFileSync(join(defaultModelsDir(), entry.card), 'utf8');
    assert.match(card, new RegExp(`held-out clean accuracy\\*\\* \\| \\*\\*${entry.heldout_accuracy.percent.toFixed(2)} %`));

    const session = await ort.InferenceSession.create(defaultModelPath(variant));
    const set = await loadDefaultHeldout();
    const acc = await evaluateAccuracy(session, set, MNIST_NORMALISATION, 250);
    t.diagnostic(`${variant}: ${acc.percent} % (${acc.correct}/${acc.n}) in onnxruntime-node; card ${entry.heldout_accuracy.percent} %`);
    // PyTorch measured the card's number; onnxruntime may flip at most a borderline digit (0.1 point)
    assert.ok(Math.abs(acc.correct - entry.heldout_accuracy.correct) <= 1, `${acc.correct} vs ${entry.heldout_accuracy.correct}`);
    assert.ok(acc.percent > 97, `${acc.percent} %`);
    await session.release();
  });

  test(`default ${variant}: the batch dimension is dynamic (batch 1, 3 and 16 agree)`, async () => {
    const session = await ort.InferenceSession.create(defaultModelPath(variant));
    const set = await loadDefaultHeldout();
    const x = normalise(set, MNIST_NORMALISATION, { start: 0, count: 16 });
    const all = await runLogits(session, x, [16, 1, 28, 28]);
    const one = await runLogits(session, x.subarray(0, 784), [1, 1, 28, 28]);
    const three = await runLogits(session, x.subarray(784 * 5, 784 * 8), [3, 1, 28, 28]);
    for (let i = 0; i < 10; i++) assert.ok(Math.abs(one[i]! - all[i]!) <= 1e-4 * Math.max(1, Math.abs(all[i]!)));
    for (let i = 0; i < 30; i++) assert.ok(Math.abs(three[i]! - all[50 + i]!) <= 1e-4 * Math.max(1, Math.abs(all[50 + i]!)));
    await session.release();
  });

  test(`default ${variant}: official MNIST test accuracy matches models.json`, async (t) => {
    if (!requireSharedData(t)) return;
    const entry = (await readDefaultManifest()).models[variant];
    if (!entry.official_test_accuracy) {
      t.skip('skipped: models.json has no official-test accuracy (../shared/data was absent when it was trained)');
      return;
    }
    const session = await ort.InferenceSession.create(defaultModelPath(variant));
    const acc = await evaluateAccuracy(session, await loadMnistTest(), MNIST_NORMALISATION, 1000);
    t.diagnostic(`${variant}: ${acc.percent} % on the official test set; models.json ${entry.official_test_accuracy.percent} %`);
    assert.ok(Math.abs(acc.correct - entry.official_test_accuracy.correct) <= 2, `${acc.correct} vs ${entry.official_test_accuracy.correct}`);
    await session.release();
  });
}

test('default models: the robust one is recorded as more robust to FGSM than the baseline', async () => {
  const m = await readDefaultManifest();
  const base = m.models.baseline.heldout_fgsm;
  const robust = m.models.robust.heldout_fgsm;
  assert.equal(base.length, robust.length);
  for (let i = 0; i < base.length; i++) {
    assert.equal(base[i]!.eps_normalised, robust[i]!.eps_normalised);
    if (base[i]!.eps_normalised >= 0.3) {
      assert.ok(robust[i]!.percent >= base[i]!.percent + 2, `eps ${base[i]!.eps_normalised}: ${robust[i]!.percent} vs ${base[i]!.percent}`);
    }
  }
  // and robustness was not bought with a large loss of clean accuracy
  assert.ok(m.models.robust.heldout_accuracy.percent >= m.models.baseline.heldout_accuracy.percent - 1);
});
