// The bounded attacks (PGD with restarts, APGD-CE/DLR, Square, BPDA; L∞ and L2) on a linear classifier, where
// the smallest perturbation that changes the class is closed-form: for logits z = Wx + b and a sample of class
// y, d_p = min_{k≠y} (z_y − z_k) / ‖w_y − w_k‖_q with q the dual norm (L∞ → ‖·‖₁, L2 → ‖·‖₂). No attack may
// break a sample with d_p > ε (that would be a projection bug); a sound attack breaks those with d_p < ε.
// Also: APGD's checkpoint schedule, the ORT oracle's vjp path (APGD-DLR on the ONNX copy of the same model),
// and the worst case over attacks.

import assert from 'node:assert/strict';
import test from 'node:test';

import { AnalyticOracle, linearModel } from '../src/runtime/analytic-oracle.js';
import { apgdCheckpoints } from '../src/runtime/attacks/apgd.js';
import type { Attack } from '../src/runtime/attacks/common.js';
import { makeAttack, resolveAttackParams, type AttackName, type ParamValue } from '../src/runtime/attacks/registry.js';
import { squareP } from '../src/runtime/attacks/square.js';
import { outcomes, predictions, worstCase } from '../src/runtime/metrics.js';
import { ModelOracle } from '../src/runtime/oracle.js';
import { mulberry32 } from '../src/runtime/random.js';
import { Clamp, SpaceMap } from '../src/runtime/space.js';
import { linearClassifier } from './helpers/build-model.js';

const SHAPE = { channels: 1, height: 8, width: 8 };
const SIZE = 64;
const C = 3;
const N = 40;

function problem(seed: number) {
  const r = mulberry32(seed);
  const W = Array.from({ length: C * SIZE }, () => 2 * r() - 1);
  // class 2 lies far away: near the samples the model is binary (0 against 1), so the cross-entropy's ascent
  // direction is the closest boundary's normal and a sound attack must find every example within ε
  const B = [0.2 * (2 * r() - 1), 0.2 * (2 * r() - 1), -30];
  const x = Float32Array.from({ length: N * SIZE }, () => 2 * r() - 1);
  const model = linearModel(SHAPE, W, B);
  const labels = new Int32Array(N);
  const dist = { linf: new Float64Array(N), l2: new Float64Array(N) };
  for (let i = 0; i < N; i++) {
    const z = model.evaluate(x.subarray(i * SIZE, (i + 1) * SIZE), false).logits;
    let y = 0;
    for (let c = 1; c < C; c++) if (z[c]! > z[y]!) y = c;
    labels[i] = y; // every sample is correct: the distances decide
    let dInf = Infinity;
    let d2 = Infinity;
    for (let k = 0; k < C; k++) {
      if (k === y) continue;
      let n1 = 0;
      let n2 = 0;
      for (let j = 0; j < SIZE; j++) {
        const w = W[y * SIZE + j]! - W[k * SIZE + j]!;
        n1 += Math.abs(w);
        n2 += w * w;
      }
      dInf = Math.min(dInf, (z[y]! - z[k]!) / n1);
      d2 = Math.min(d2, (z[y]! - z[k]!) / Math.sqrt(n2));
    }
    dist.linf[i] = dInf;
    dist.l2[i] = d2;
  }
  return { W, B, x, labels, model, dist };
}

const wide = () => new Clamp('box', Float32Array.of(-100), Float32Array.of(100), SIZE);

function median(v: Float64Array): number {
  const s = Array.from(v).sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function check(name: AttackName, overrides: Record<string, ParamValue>, seed = 3) {
  const p = problem(seed);
  const norm = name.endsWith('-l2') ? 'l2' : 'linf';
  const eps = median(p.dist[norm]);
  const attack: Attack = makeAttack(name, resolveAttackParams(name, 'mnist', { ...overrides, eps }), 7);
  const oracle = new AnalyticOracle(p.model);
  const out = await attack.run({ oracle, x: p.x, labels: p.labels, n: N, clamp: wide() });
  const adv = predictions(await oracle.forward(out.adv, N), N);
  let easy = 0;
  let brokeEasy = 0;
  for (let i = 0; i < N; i++) {
    const d = p.dist[norm][i]!;
    const rows = outcomes(norm, p.x, out.adv, SIZE, p.labels, p.labels, adv, out.iterations, out.zeroGradient);
    const r = rows[i]!;
    assert.ok(r.abs <= eps * (1 + 1e-5) + 1e-6, `${name}: sample ${i} moved ${r.abs} > ε ${eps}`);
    if (d > eps * 1.001) assert.equal(r.success, false, `${name}: broke sample ${i} at distance ${d} > ε ${eps}`);
    if (d < eps * 0.9) {
      easy++;
      if (r.success) brokeEasy++;
    }
  }
  return { easy, brokeEasy, attack };
}

for (const [name, overrides, need] of [
  ['pgd', { step: 0.05, iterations: 40 }, 1],
  ['pgd', { step: 0.05, iterations: 10, restarts: 3, random_start: true }, 1],
  ['apgd-ce', { iterations: 50 }, 1],
  ['apgd-dlr', { iterations: 50 }, 1],
  ['apgd-ce-l2', { iterations: 50 }, 1],
  ['apgd-dlr-l2', { iterations: 50 }, 1],
  ['square', { queries: 600 }, 0.9],
  ['square-l2', { queries: 1000 }, 0.8],
  ['bpda', { step: 0.05, iterations: 40 }, 1],
] as Array<[AttackName, Record<string, ParamValue>, number]>) {
  test(`${name} ${JSON.stringify(overrides)} on a linear classifier: nothing beyond the closed-form distance, ≥ ${need * 100}% of the samples within 0.9ε`, async () => {
    const { easy, brokeEasy } = await check(name, overrides);
    assert.ok(easy >= 10, `only ${easy} samples within 0.9ε`);
    assert.ok(brokeEasy >= need * easy, `${name} broke ${brokeEasy} of ${easy} samples that lie within 0.9ε`);
  });
}

test('APGD checkpoints follow AutoAttack (w₁ = 0.22N, then −0.03N per period, at least 0.06N); Square halves p on its schedule', () => {
  assert.deepEqual(apgdCheckpoints(100), [22, 41, 57, 70, 80, 87, 93, 99]);
  assert.equal(squareP(0.8, 5, 10000), 0.8);
  assert.equal(squareP(0.8, 11, 10000), 0.4);
  assert.equal(squareP(0.8, 501, 10000), 0.8 / 16);
  assert.equal(squareP(0.8, 9000, 10000), 0.8 / 512);
  assert.equal(squareP(0.8, 101, 1000), 0.8 / 32); // rescaled to 10 000 queries
});

test('APGD-DLR through the ONNX Runtime oracle (one vjp pass) crafts what the analytic oracle (logit differences) crafts', async () => {
  const p = problem(5);
  const ort = new ModelOracle(linearClassifier(p.W, p.B, C, 8, 8), { kappa: 0, threads: 1, batch: 64, space: new SpaceMap('normalized', SHAPE, [0], [1]) });
  const eps = median(p.dist.linf);
  const attack = makeAttack('apgd-dlr', resolveAttackParams('apgd-dlr', 'mnist', { eps, iterations: 20 }), 1);
  const a = await attack.run({ oracle: new AnalyticOracle(p.model), x: p.x, labels: p.labels, n: N, clamp: wide() });
  const b = await attack.run({ oracle: ort, x: p.x, labels: p.labels, n: N, clamp: wide() });
  await ort.release();
  let differ = 0;
  for (let i = 0; i < a.adv.length; i++) if (Math.abs(a.adv[i]! - b.adv[i]!) > 1e-3) differ++;
  assert.ok(differ <= SIZE * 2, `${differ} coordinates differ`);
  assert.ok(a.attacked.every((v) => v === 1));
});

test('worst case over attacks: a sample is robust only if no attack of that norm broke it within ε; minimal attacks count within ε only', () => {
  const row = (attack: string, index: number, success: boolean, abs: number) => ({
    kappa: 1, attack, mode: 'white-box' as const, index, label: 0, clean_pred: index === 3 ? 1 : 0, adv_pred: success ? 1 : 0,
    success, rho: abs, abs, iterations: 1, zero_gradient: false,
  });
  const res = (attack: string, norm: 'linf' | 'l2') => ({
    kappa: 1, attack, mode: 'white-box' as const, norm, n: 4, accuracy: 0, fooling_rate: 0, rho_all: 0, rho_success: 0,
    abs_perturbation_mean: 0, iterations_mean: 0, wall_s: 0,
  });
  const rows = [
    row('pgd', 0, true, 0.1), row('pgd', 1, false, 0.1), row('pgd', 2, false, 0.1), row('pgd', 3, false, 0),
    row('square', 0, false, 0.1), row('square', 1, true, 0.1), row('square', 2, false, 0.1), row('square', 3, false, 0),
    // DeepFool-L∞ breaks sample 2 but beyond ε: it does not count
    row('deepfoolinf', 0, true, 0.05), row('deepfoolinf', 1, true, 0.05), row('deepfoolinf', 2, true, 0.5), row('deepfoolinf', 3, false, 0),
    row('deepfool2', 2, true, 0.01),
  ];
  const budgets = new Map([['pgd', { norm: 'linf' as const, eps: 0.1 }], ['square', { norm: 'linf' as const, eps: 0.1 }], ['deepfoolinf', null], ['deepfool2', null]]);
  const w = worstCase([res('pgd', 'linf'), res('square', 'linf'), res('deepfoolinf', 'linf'), res('deepfool2', 'l2')], rows, budgets);
  assert.equal(w.length, 1);
  assert.equal(w[0]!.eps, 0.1);
  assert.equal(w[0]!.accuracy, 0.25); // sample 2 survives; 3 was misclassified clean
  assert.deepEqual(w[0]!.attacks.map((a) => [a.attack, a.accuracy]), [['pgd', 0.5], ['square', 0.5], ['deepfoolinf', 0.25]]);
  assert.deepEqual(w[0]!.unique_breaks, [0, 0, 0]);
  assert.match(w[0]!.bound, /upper bound/);
});
