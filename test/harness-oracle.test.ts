// The Oracle interface: the analytic oracle (a model given with its Jacobian) and the ONNX Runtime oracle agree
// on the same linear classifier (logits, cross-entropy gradient, logit differences), so an attack gives the same
// examples on either.

import assert from 'node:assert/strict';
import test from 'node:test';

import { AnalyticOracle, linearModel } from '../src/runtime/analytic-oracle.js';
import { makeAttack, resolveAttackParams } from '../src/runtime/attacks/registry.js';
import { ModelOracle } from '../src/runtime/oracle.js';
import { Clamp, SpaceMap } from '../src/runtime/space.js';
import { linearClassifier } from './helpers/build-model.js';

const SHAPE = { channels: 1, height: 2, width: 3 };
const C = 4;
const W = [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0.5, 0, 0, -1, -1, 0, 0, 0, 0.3];
const B = [0.5, 0, -0.2, 0.1];

function close(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

test('AnalyticOracle and ModelOracle agree on a linear classifier, and DeepFool crafts the same examples on both', async () => {
  const analytic = new AnalyticOracle(linearModel(SHAPE, W, B));
  const ort = new ModelOracle(linearClassifier(W, B, C, 2, 3), { kappa: 0, threads: 1, batch: 8, space: new SpaceMap('normalized', SHAPE, [0], [1]) });
  const x = Float32Array.of(2, 0.5, 0.1, 0, 0, 0, 0.1, 1.5, 0.2, 0, 0, 0, -0.3, 0.2, 0.9, 0.4, 0.1, -1);
  const labels = Int32Array.of(0, 1, 2);
  const n = 3;
  assert.equal(analytic.classes, C);
  close(await analytic.forward(x, n), await ort.forward(x, n), 1e-5, 'logits');
  const ceA = await analytic.crossEntropy(x, labels, n);
  const ceO = await ort.crossEntropy(x, labels, n);
  close(ceA.grad, ceO.grad, 1e-5, 'cross-entropy gradient');
  assert.ok(ceA.grad.some((v) => Math.abs(v) > 1e-3), 'the gradient is not trivially zero');
  const cand = Int32Array.of(1, 3, 0, 2, 1, 3);
  const dA = await analytic.differences(x, labels, cand, n, 2);
  const dO = await ort.differences(x, labels, cand, n, 2);
  close(dA.diffs, dO.diffs, 1e-5, 'differences');
  close(dA.grads, dO.grads, 1e-6, 'difference gradients');
  const clamp = new Clamp('box', Float32Array.of(-10), Float32Array.of(10), 6);
  const attack = makeAttack('deepfool2', resolveAttackParams('deepfool2', 'mnist'));
  const advA = (await attack.run({ oracle: analytic, x, labels, n, clamp })).adv;
  const advO = (await attack.run({ oracle: ort, x, labels, n, clamp })).adv;
  close(advA, advO, 1e-4, 'DeepFool examples');
  await ort.release();
});
