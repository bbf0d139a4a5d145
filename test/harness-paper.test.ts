// The paper's MNIST rows on the authors' LeNetLike (and the pipeline on their CIFAR-10 ResNet-20), through
// the evaluation driver. Skips with a message when ../shared/data or the authors' ONNX cache is absent.
// Sample counts are limited to keep this file near a minute on 2 cores; the full-test-set numbers are in
// docs/reproduction.md with the commands that made them.

import assert from 'node:assert/strict';
import test from 'node:test';

import { loadDataset } from '../src/runtime/dataset.js';
import { evaluate } from '../src/runtime/evaluate.js';
import { authorsModelPath, requireAuthorsCache, requireSharedData, sharedPaths } from './fixtures.js';
import { dirname } from 'node:path';

const mnistDir = () => dirname(sharedPaths().mnistTestImages);

for (const [variant, accs] of [['baseline', [0.9955, 0.9953]], ['robust', [0.995, 0.9947]]] as const) {
  test(`LeNetLike ${variant}: clean accuracy on the official MNIST test set is the paper's, exactly`, async (t) => {
    if (!requireSharedData(t) || !(await requireAuthorsCache(t))) return;
    const dataset = await loadDataset(`mnist:${mnistDir()}`);
    const run = await evaluate({
      modelPath: authorsModelPath(`lenet_${variant}`), dataset, preprocessing: dataset.defaults, space: 'normalized', clamp: 'batch-minmax',
      kappas: [0, 1], attacks: [], modes: [], limit: null, batch: 1000, threads: 2,
    });
    assert.deepEqual(run.report.clean.map((c) => c.accuracy), [...accs]);
    assert.equal(run.report.clean[0]!.n, 10000);
  });
}

test('LeNetLike: white-box DeepFool ρ̃ rises from ≈18–23 % at κ = 0 to well above 30 % at κ = 1 (first 300 test digits)', async (t) => {
  if (!requireSharedData(t) || !(await requireAuthorsCache(t))) return;
  const dataset = await loadDataset(`mnist:${mnistDir()}`);
  for (const variant of ['baseline', 'robust'] as const) {
    const run = await evaluate({
      modelPath: authorsModelPath(`lenet_${variant}`), dataset, preprocessing: dataset.defaults, space: 'normalized', clamp: 'batch-minmax',
      kappas: [0, 1], attacks: ['deepfool2', 'deepfoolinf'], modes: ['white-box'], limit: 300, batch: 300, threads: 2,
    });
    const rho = (kappa: number, attack: string) => run.report.results.find((r) => r.kappa === kappa && r.attack === attack)!.rho_all;
    const acc = (kappa: number, attack: string) => run.report.results.find((r) => r.kappa === kappa && r.attack === attack)!.accuracy;
    t.diagnostic(`${variant}: DF2 ${rho(0, 'deepfool2').toFixed(3)} → ${rho(1, 'deepfool2').toFixed(3)}, DF∞ ${rho(0, 'deepfoolinf').toFixed(3)} → ${rho(1, 'deepfoolinf').toFixed(3)}`);
    if (variant === 'baseline') {
      // paper: DF∞ 17.9 → 34.1 %, DF2 21.8 → 44.9 %
      assert.ok(rho(0, 'deepfool2') > 0.18 && rho(0, 'deepfool2') < 0.26, `DF2 κ=0 ${rho(0, 'deepfool2')}`);
      assert.ok(rho(0, 'deepfoolinf') > 0.14 && rho(0, 'deepfoolinf') < 0.22, `DF∞ κ=0 ${rho(0, 'deepfoolinf')}`);
      assert.ok(rho(1, 'deepfool2') > 0.35, `DF2 κ=1 ${rho(1, 'deepfool2')}`);
      assert.ok(rho(1, 'deepfoolinf') > 0.28, `DF∞ κ=1 ${rho(1, 'deepfoolinf')}`);
    } else {
      // paper: DF∞ 28.4 → 46.6 %, DF2 31.4 → 53.3 %
      assert.ok(rho(0, 'deepfool2') > 0.25, `robust DF2 κ=0 ${rho(0, 'deepfool2')}`);
      assert.ok(rho(1, 'deepfool2') > rho(0, 'deepfool2') + 0.1, 'robust DF2 rises with κ');
      assert.ok(rho(1, 'deepfoolinf') > rho(0, 'deepfoolinf') + 0.08, 'robust DF∞ rises with κ');
    }
    // DeepFool is a minimal-perturbation attack: at κ = 0 it fools (almost) everything
    assert.ok(acc(0, 'deepfool2') < 0.02);
  }
});

test('LeNetLike gray-box: IFGSM and DeepFool crafted on κ = 0 lose strength on κ = 1 (Table 1 direction)', async (t) => {
  if (!requireSharedData(t) || !(await requireAuthorsCache(t))) return;
  const dataset = await loadDataset(`mnist:${mnistDir()}`);
  const run = await evaluate({
    modelPath: authorsModelPath('lenet_baseline'), dataset, preprocessing: dataset.defaults, space: 'normalized', clamp: 'batch-minmax',
    kappas: [0, 1], attacks: ['ifgsm', 'deepfool2'], modes: ['gray-box'], limit: 300, batch: 300, threads: 2,
  });
  for (const attack of ['ifgsm', 'deepfool2']) {
    const at = (k: number) => run.report.results.find((r) => r.kappa === k && r.attack === attack && r.mode === 'gray-box')!;
    assert.equal(at(1).source_kappa, 0);
    assert.ok(at(1).accuracy > at(0).accuracy + 0.1, `${attack}: accuracy κ=0 ${at(0).accuracy}, κ=1 ${at(1).accuracy}`);
  }
  assert.ok(run.report.transfer && run.report.transfer.accuracy.length === 1 && run.report.transfer.accuracy[0]!.length === 2);
});

test('ResNet-20 (authors, CIFAR-10 first 1000 test images): the pipeline runs white-box and gray-box', async (t) => {
  if (!requireSharedData(t) || !(await requireAuthorsCache(t))) return;
  const dataset = await loadDataset(`cifar10:${sharedPaths().cifar10First1000}`);
  const clean = await evaluate({
    modelPath: authorsModelPath('resnet20_baseline'), dataset, preprocessing: dataset.defaults, space: 'normalized', clamp: 'batch-minmax',
    kappas: [0], attacks: [], modes: [], limit: null, batch: 250, threads: 2,
  });
  t.diagnostic(`clean accuracy on 1000: ${clean.report.clean[0]!.accuracy}`);
  assert.ok(clean.report.clean[0]!.accuracy > 0.85);
  const run = await evaluate({
    modelPath: authorsModelPath('resnet20_baseline'), dataset, preprocessing: dataset.defaults, space: 'normalized', clamp: 'batch-minmax',
    kappas: [0, 0.05], attacks: ['ifgsm', 'deepfool2'], modes: ['white-box', 'gray-box'], limit: 40, batch: 40, threads: 2,
  });
  for (const r of run.report.results) {
    t.diagnostic(`κ=${r.kappa} ${r.attack} ${r.mode}: acc ${r.accuracy.toFixed(3)} ρ̃ ${r.rho_all.toFixed(4)}`);
    assert.ok(r.n === 40 && r.rho_all >= 0 && r.accuracy >= 0 && r.accuracy <= 1);
  }
  const df0 = run.report.results.find((r) => r.kappa === 0 && r.attack === 'deepfool2' && r.mode === 'white-box')!;
  assert.ok(df0.accuracy < 0.1, 'DeepFool fools the ReLU ResNet-20');
  assert.equal(run.report.data.preprocessing.mean.length, 3);
});
