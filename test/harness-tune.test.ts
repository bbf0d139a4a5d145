// `tune` optimises what survives: the worst case over every attack and mode (adaptive always included), within
// the clean-accuracy budget; it refines the grid around the best candidate, says when the choice sits at the
// grid's edge, leads the report's verdict with the choice, and never selects a κ whose worst-case robust
// accuracy is below the ReLU model's.

import assert from 'node:assert/strict';
import test from 'node:test';

import { loadDataset } from '../src/runtime/dataset.js';
import type { AttackResult, CleanResult, WorstCase } from '../src/runtime/report/schema.js';
import { chooseByWorstCase, refineAround } from '../src/runtime/tune.js';
import { tune } from '../src/runtime/tune-run.js';
import { defaultHeldoutPaths, defaultModelPath } from './fixtures.js';

const clean = (kappa: number, accuracy: number): CleanResult => ({ kappa, n: 100, accuracy });
const worst = (kappa: number, accuracy: number): WorstCase => ({
  kappa, norm: 'linf', eps: 0.1, n: 100, accuracy, attacks: [{ attack: 'pgd', mode: 'white-box', accuracy: 0.9 }, { attack: 'bpda', mode: 'adaptive', accuracy }],
  unique_breaks: [0, 0], bound: 'upper bound on robust accuracy',
});
const white = (kappa: number, accuracy: number): AttackResult => ({
  kappa, attack: 'pgd', mode: 'white-box', norm: 'linf', n: 100, accuracy, fooling_rate: 0, rho_all: 0, rho_success: 0, abs_perturbation_mean: 0,
  iterations_mean: 0, wall_s: 0, eps: 0.1,
});

test('chooseByWorstCase: the white-box favourite loses when the worst case says so; budget and grid edge', () => {
  // white-box PGD says κ = 1.5 is the most robust (masking); the worst case over attacks says it is below ReLU
  const cl = [clean(0, 0.99), clean(1, 0.985), clean(1.5, 0.98)];
  const res = [white(0, 0.7), white(1, 0.83), white(1.5, 0.9)];
  let t = chooseByWorstCase(cl, res, [worst(0, 0.7), worst(1, 0.72), worst(1.5, 0.55)], 'accuracy', 100);
  assert.equal(t.chosen_kappa, 1);
  assert.equal(t.edge, undefined);
  t = chooseByWorstCase(cl, res, [worst(0, 0.7), worst(1, 0.6), worst(1.5, 0.55)], 'accuracy', 100);
  assert.equal(t.chosen_kappa, 0, 'nothing beats the ReLU model: it is kept');
  t = chooseByWorstCase(cl, res, [worst(0, 0.7), worst(1, 0.72), worst(1.5, 0.8)], 'accuracy', 100);
  assert.equal(t.chosen_kappa, 1.5);
  assert.match(t.edge!, /largest candidate/);
  t = chooseByWorstCase(cl, res, [worst(0, 0.7), worst(1, 0.72), worst(1.5, 0.8)], 'accuracy', 0.6);
  assert.equal(t.chosen_kappa, 1, 'κ = 1.5 costs 1 point of clean accuracy, over the 0.6-point budget');
  assert.deepEqual(refineAround([0, 0.5, 1, 1.5], 1), [0.75, 1.25]);
  assert.deepEqual(refineAround([0, 0.5, 1], 0), [0.25]);
  assert.deepEqual(refineAround([0, 1], 1), [0.5]);
});

test('tune on the default LeNet (PGD and BPDA, ε = 0.1 pixels): never below the ReLU model\'s worst case; refined; the choice leads the report', async () => {
  const { images, labels } = defaultHeldoutPaths();
  const dataset = await loadDataset(`mnist:${images},${labels}`);
  const run = await tune({
    modelPath: defaultModelPath('baseline'), dataset, space: 'pixel', clamp: 'box', kappas: [0, 1, 1.5], attacks: ['pgd', 'bpda'],
    attackParams: { pgd: { eps: 0.1, iterations: 20 }, bpda: { eps: 0.1, iterations: 20, taus: '0.1,0.5' } },
    modes: ['white-box'], limit: 50, batch: 100, threads: 1, maxAccuracyDrop: 100,
  });
  const t = run.report.tuning!;
  assert.ok(run.report.settings.modes.includes('adaptive'), 'the adaptive mode always runs');
  assert.ok(t.refined && t.refined.length > 0, 'the grid is refined around the best candidate');
  const relu = t.candidates.find((c) => c.kappa === 0)!;
  const chosen = t.candidates.find((c) => c.kappa === t.chosen_kappa)!;
  assert.ok(chosen.robust_accuracy >= relu.robust_accuracy, `chose κ=${chosen.kappa} with worst case ${chosen.robust_accuracy} < ReLU ${relu.robust_accuracy}`);
  for (const c of t.candidates) {
    const w = run.report.worst_case!.find((x) => x.kappa === c.kappa && x.eps === 0.1)!;
    assert.equal(c.robust_accuracy, w.accuracy, 'candidates are scored by the worst case');
    assert.ok(chosen.robust_accuracy >= c.robust_accuracy);
  }
  assert.match(run.report.verdict!.lines[0]!, /^tune chose κ = /);
  assert.match(t.objective, /worst case over every attack and mode/);
});
