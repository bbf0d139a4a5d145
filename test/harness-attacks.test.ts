// Attacks on models with known geometry: a linear classifier built with the IR (DeepFool's minimal
// perturbation has a closed form there), plus fast-check properties on small ReLU/JumpReLU networks:
// perturbations stay in bounds, and a reported success really changes the prediction in a fresh ORT session.

import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';

import { encodeModel } from '../src/ir/encode.js';
import { retrofit } from '../src/index.js';
import type { Model } from '../src/ir/model.js';
import { ModelOracle } from '../src/runtime/oracle.js';
import { Clamp, SpaceMap } from '../src/runtime/space.js';
import { makeAttack, resolveAttackParams, ATTACK_NAMES, type AttackName } from '../src/runtime/attacks/registry.js';
import { predictions, outcomes, summarise } from '../src/runtime/metrics.js';
import { ModelBuilder, linearClassifier } from './helpers/build-model.js';

const SHAPE = { channels: 1, height: 2, width: 3 }; // D = 6

/** A small MLP with ReLUs: 6 → h → ReLU → h → ReLU → classes (random weights). */
function mlp(seed: number, hidden: number, classes: number) {
  const mb = new ModelBuilder({ seed, opset: 17 });
  mb.uniqueNodeNames = true;
  const g = mb.main;
  g.batchSymbol = 'N';
  const x = g.input('input', [1, 1, 2, 3]);
  const h1 = g.relu(g.gemm(g.flatten(x), hidden, { name: 'fc1' }), { name: 'act1' });
  const h2 = g.relu(g.gemm(h1, hidden, { name: 'fc2' }), { name: 'act2' });
  g.output(g.gemm(h2, classes, { name: 'fc3', out: 'logits' }));
  return mb.model;
}

const space = new SpaceMap('normalized', SHAPE, [0], [1]);
const wide = new Clamp('box', Float32Array.of(-1e6), Float32Array.of(1e6), 6);

function oracleOf(model: Model, kappa = 0, batch = 64) {
  return new ModelOracle(model, { kappa, threads: 1, batch, space });
}

function logitsOf(W: number[], b: number[], C: number, x: Float32Array, i: number): number[] {
  return Array.from({ length: C }, (_, k) => b[k]! + W.slice(k * 6, k * 6 + 6).reduce((s, w, p) => s + w * x[i * 6 + p]!, 0));
}

test('DeepFool L2 on a linear classifier: one step, the closed-form minimal perturbation × overshoot', async () => {
  const C = 4;
  const W = [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0.5, 0, 0, -1, -1, 0, 0, 0, 0.3];
  const b = [0.5, 0, -0.2, 0.1];
  const model = linearClassifier(W, b, C, 2, 3);
  const x = Float32Array.of(2, 0.5, 0.1, 0, 0, 0, 0.1, 1.5, 0.2, 0, 0, 0);
  const labels = Int32Array.of(0, 1);
  const oracle = oracleOf(model);
  const attack = makeAttack('deepfool2', resolveAttackParams('deepfool2', 'mnist'));
  const out = await attack.run({ oracle, x, labels, n: 2, clamp: wide });
  const adv = predictions(await oracle.forward(out.adv, 2), 2);
  for (let i = 0; i < 2; i++) {
    const f = logitsOf(W, b, C, x, i);
    const l = labels[i]!;
    assert.equal(f.indexOf(Math.max(...f)), l, 'the sample starts correct');
    let dmin = Infinity;
    for (let k = 0; k < C; k++) {
      if (k === l) continue;
      const dw = Array.from({ length: 6 }, (_, p) => W[k * 6 + p]! - W[l * 6 + p]!);
      dmin = Math.min(dmin, Math.abs(f[k]! - f[l]!) / Math.hypot(...dw));
    }
    let d2 = 0;
    for (let p = 0; p < 6; p++) d2 += (out.adv[i * 6 + p]! - x[i * 6 + p]!) ** 2;
    assert.ok(Math.abs(Math.sqrt(d2) - 1.02 * (dmin + 1e-4)) < 1e-5, `sample ${i}: |δ|₂ ${Math.sqrt(d2)} vs 1.02·(d_min + 1e-4) = ${1.02 * (dmin + 1e-4)}`);
    assert.equal(out.iterations[i], 1, 'a linear model is fooled in one DeepFool step');
    assert.notEqual(adv[i], l);
  }
  await oracle.release();
});

test('DeepFool L∞ on a linear classifier: sign step of |Δf|/‖Δw‖₁ (the dual norm)', async () => {
  const C = 3;
  const W = [1, 2, 0, 0, 0, -1, 0, 0, 1, 1, 0, 0, -1, 0, 0, 0, 3, 0];
  const b = [1, 0, 0];
  const model = linearClassifier(W, b, C, 2, 3);
  const x = Float32Array.of(1, 0.2, 0, 0.1, -0.3, 0);
  const labels = Int32Array.of(0);
  const oracle = oracleOf(model);
  const out = await makeAttack('deepfoolinf', resolveAttackParams('deepfoolinf', 'mnist')).run({ oracle, x, labels, n: 1, clamp: wide });
  const f = logitsOf(W, b, C, x, 0);
  let dmin = Infinity;
  for (let k = 1; k < C; k++) {
    const l1 = Array.from({ length: 6 }, (_, p) => Math.abs(W[k * 6 + p]! - W[p]!)).reduce((a, v) => a + v, 0);
    dmin = Math.min(dmin, Math.abs(f[k]! - f[0]!) / l1);
  }
  const dinf = Math.max(...Array.from({ length: 6 }, (_, p) => Math.abs(out.adv[p]! - x[p]!)));
  assert.ok(Math.abs(dinf - 1.02 * (dmin + 1e-4)) < 1e-5, `‖δ‖∞ ${dinf} vs ${1.02 * (dmin + 1e-4)}`);
  assert.notEqual(predictions(await oracle.forward(out.adv, 1), 1)[0], 0);
  await oracle.release();
});

test('FGSM on a linear classifier: x + ε·sign(Wᵀ(softmax − onehot)), clamped', async () => {
  const C = 3;
  const W = [1, -2, 0.5, 0, 0, 1, 0, 1, -1, 2, 0, 0, -1, 0, 0, 1, 1, -1];
  const b = [0, 0.1, -0.1];
  const model = linearClassifier(W, b, C, 2, 3);
  const x = Float32Array.of(0.3, -0.2, 0.1, 0.4, 0.2, -0.1);
  const oracle = oracleOf(model);
  const f = logitsOf(W, b, C, x, 0);
  const label = f.indexOf(Math.max(...f));
  const eps = 0.05;
  const out = await makeAttack('fgsm', { eps }).run({ oracle, x, labels: Int32Array.of(label), n: 1, clamp: wide });
  const m = Math.max(...f);
  const e = f.map((v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  for (let p = 0; p < 6; p++) {
    let g = 0;
    for (let k = 0; k < C; k++) g += W[k * 6 + p]! * (e[k]! / s - (k === label ? 1 : 0));
    assert.ok(Math.abs(out.adv[p]! - (x[p]! + eps * Math.sign(g))) < 1e-6, `pixel ${p}`);
  }
  // a box clamp keeps the step inside
  const box = new Clamp('box', Float32Array.of(0), Float32Array.of(0.35), 6);
  const clamped = await makeAttack('fgsm', { eps: 1 }).run({ oracle, x, labels: Int32Array.of(label), n: 1, clamp: box });
  for (const v of clamped.adv) assert.ok(v >= 0 && v <= Math.fround(0.35));
  await oracle.release();
});

test('misclassified samples are not attacked; early stopping freezes fooled samples', async () => {
  const C = 2;
  const W = [1, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0];
  const model = linearClassifier(W, [0, 0], C, 2, 3);
  const x = Float32Array.of(0.5, 0, 0, 0, 0, 0, 0.025, 0, 0, 0, 0, 0);
  const labels = Int32Array.of(1, 0); // sample 0 is wrong from the start
  const oracle = oracleOf(model);
  const out = await makeAttack('ifgsm', { step: 0.01, iterations: 40 }).run({ oracle, x, labels, n: 2, clamp: wide });
  assert.deepEqual(Array.from(out.adv.subarray(0, 6)), Array.from(x.subarray(0, 6)));
  assert.equal(out.attacked[0], 0);
  assert.equal(out.iterations[0], 0);
  // sample 1: f0 − f1 = 2·x0 = 0.05; each step lowers x0 by 0.01 → fooled once x0 < 0: 3 steps
  assert.equal(out.iterations[1], 3);
  // the curve has the schedule's full length (40 steps + the start) whatever the samples: flat once none is left
  assert.deepEqual(out.curve, [1, 1, 1, ...Array(38).fill(0)]);
  const rows = outcomes('linf', x, out.adv, 6, labels, Int32Array.of(0, 0), predictions(await oracle.forward(out.adv, 2), 2), out.iterations, out.zeroGradient);
  const s = summarise(rows, out.attacked);
  assert.equal(s.accuracy, 0);
  assert.equal(s.fooling_rate, 1);
  assert.ok(Math.abs(s.rho_all - (0.03 / 0.025) / 2) < 1e-5, `ρ̃ over all samples counts the untouched one as 0: ${s.rho_all}`);
  assert.ok(Math.abs(s.rho_success - 0.03 / 0.025) < 1e-5);
  await oracle.release();
});

test('trust region: the step never exceeds the radius; the adaptive radius stays in its bounds', async () => {
  const C = 3;
  const W = [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
  const model = linearClassifier(W, [0, 0, 0], C, 2, 3);
  const x = Float32Array.of(1, 0, 0, 0, 0, 0);
  const oracle = oracleOf(model);
  for (const name of ['tr2', 'trinf', 'tr2-adaptive'] as const) {
    const params: Record<string, number | string | boolean> = { ...resolveAttackParams(name, 'mnist'), iterations: 500 };
    const out = await makeAttack(name, params).run({ oracle, x, labels: Int32Array.of(0), n: 1, clamp: wide });
    const d2 = Math.hypot(...Array.from({ length: 6 }, (_, p) => out.adv[p]! - x[p]!));
    const dinf = Math.max(...Array.from({ length: 6 }, (_, p) => Math.abs(out.adv[p]! - x[p]!)));
    const rmax = Number(params['adaptive'] ? params['radius_max'] : params['radius']);
    const per = (rmax + 1e-4) * 1.02;
    const d = name === 'trinf' ? dinf : d2;
    assert.ok(d <= out.iterations[0]! * per + 1e-6, `${name}: ${d} after ${out.iterations[0]} steps of at most ${per}`);
    assert.notEqual(predictions(await oracle.forward(out.adv, 1), 1)[0], 0, `${name} fools the linear model`);
    if (name === 'tr2-adaptive') assert.ok(out.iterations[0]! < 60, `the adaptive radius grows: ${out.iterations[0]} steps`);
  }
  await oracle.release();
});

test('properties: in bounds, successes re-verified in a fresh ORT session, iterations bounded (fast-check)', async () => {
  const attacks: AttackName[] = ['fgsm', 'ifgsm', 'pgd', 'deepfool2', 'deepfoolinf', 'tr2', 'trinf-adaptive'];
  assert.ok(attacks.every((a) => (ATTACK_NAMES as readonly string[]).includes(a)));
  await fc.assert(fc.asyncProperty(
    fc.integer({ min: 1, max: 1000 }), fc.constantFrom(...attacks), fc.constantFrom(0, 0.1, 0.5),
    fc.array(fc.float({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true }), { minLength: 6 * 5, maxLength: 6 * 5 }),
    fc.constantFrom<'batch-minmax' | 'box'>('batch-minmax', 'box'),
    async (seed, name, kappa, values, rule) => {
      const model = mlp(seed, 8, 4);
      retrofit(model, { kappa });
      const n = 5;
      const x = Float32Array.from(values);
      const oracle = new ModelOracle(model, { kappa, threads: 1, batch: 3, space });
      const clamp = rule === 'box' ? new Clamp('box', Float32Array.of(-1), Float32Array.of(1.5), 6) : Clamp.batchMinMax(x, SHAPE);
      if (rule === 'box') clamp.apply(x);
      const clean = predictions(await oracle.forward(x, n), n);
      const labels = Int32Array.from(clean, (p, i) => (i === 4 ? (p + 1) % 4 : p)); // sample 4 starts misclassified
      const params: Record<string, number | string | boolean> = { ...resolveAttackParams(name, 'mnist'), ...(name.startsWith('tr') ? { iterations: 60 } : {}) };
      const out = await makeAttack(name, params, seed).run({ oracle, x, labels, n, clamp });
      for (let i = 0; i < out.adv.length; i++) {
        assert.ok(out.adv[i]! >= clamp.lo[0]! && out.adv[i]! <= clamp.hi[0]!, `value ${out.adv[i]} outside [${clamp.lo[0]}, ${clamp.hi[0]}]`);
      }
      if (name === 'pgd') for (let i = 0; i < out.adv.length; i++) assert.ok(Math.abs(out.adv[i]! - x[i]!) <= Number(params['eps']) + 1e-6);
      const maxIt = Number(params['iterations'] ?? 1);
      for (let i = 0; i < n; i++) assert.ok(out.iterations[i]! <= maxIt);
      assert.equal(out.attacked[4], 0);
      assert.deepEqual(Array.from(out.adv.subarray(24, 30)), Array.from(x.subarray(24, 30)), 'misclassified samples stay untouched');
      // re-run in an independent session built from the retrofitted model's bytes
      const s = await ort.InferenceSession.create(encodeModel(model).toBytes());
      const res = await s.run({ input: new ort.Tensor('float32', out.adv.slice(), [n, 1, 2, 3]) });
      const fresh = predictions(res[s.outputNames[0]!]!.data as Float32Array, n);
      const mine = predictions(await oracle.forward(out.adv, n), n);
      assert.deepEqual(Array.from(fresh), Array.from(mine));
      const rows = outcomes('l2', x, out.adv, 6, labels, clean, fresh, out.iterations, out.zeroGradient);
      for (const r of rows) if (r.success) assert.notEqual(fresh[r.index], labels[r.index]);
      // the crafting curve ends at the number still correct
      const still = Array.from(fresh).filter((p, i) => p === labels[i]).length;
      assert.equal(out.curve[out.curve.length - 1], still);
      await s.release();
      await oracle.release();
    },
  ), { numRuns: 25, seed: 6 });
});
