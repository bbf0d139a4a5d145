// The detector's numerics against closed forms and against scikit-learn (issue 14): batched k-NN distances,
// the LID maximum-likelihood estimate (≈ d on a d-dimensional linear subspace), standardisation, logistic
// regression by Newton/IRLS (optimality conditions; coefficients vs scikit-learn), ROC/AUC (Mann–Whitney with
// ties; the binormal closed form; vs scikit-learn), the bootstrap interval, the folds and the noise.
// scikit-learn comes from requirements-dev.txt; without it those comparisons are skipped with the reason.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import {
  bootstrapAuc, choleskySolve, GramDistances, decisionValues, evaluateDetector, fitLogistic, fitStandardiser, gaussian, groupFolds, lidFeatures, lidMle,
  minibatches, nearestDistances, replaceNonFinite, noisyCounterparts, quantile, rocAuc, rocCurve, squaredDistances, standardise,
} from '../src/runtime/detect/index.js';
import { mulberry32 } from '../src/runtime/random.js';
import { Clamp } from '../src/runtime/space.js';

function normals(seed: number): () => number {
  return gaussian(mulberry32(seed));
}

/** n points of a random d-dimensional linear subspace of R^D (Gaussian coordinates in a random orthonormal basis). */
function subspacePoints(n: number, d: number, D: number, seed: number): Float32Array {
  const g = normals(seed);
  // orthonormal basis by Gram–Schmidt
  const basis: Float64Array[] = [];
  while (basis.length < d) {
    const v = Float64Array.from({ length: D }, () => g());
    for (const b of basis) {
      let dot = 0;
      for (let i = 0; i < D; i++) dot += v[i]! * b[i]!;
      for (let i = 0; i < D; i++) v[i]! -= dot * b[i]!;
    }
    const norm = Math.hypot(...v);
    basis.push(v.map((x) => x / norm));
  }
  const out = new Float32Array(n * D);
  for (let p = 0; p < n; p++) {
    for (const b of basis) {
      const c = g();
      for (let i = 0; i < D; i++) out[p * D + i]! += c * b[i]!;
    }
  }
  return out;
}

// --- scikit-learn -----------------------------------------------------------------------------------------

const SKLEARN = `
import json, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
d = json.load(sys.stdin)
out = {}
for case in d["logistic"]:
    X = np.array(case["x"], dtype=np.float64).reshape(-1, case["p"]); y = np.array(case["y"])
    m = LogisticRegression(C=1.0 / case["l2"], solver="newton-cg", tol=1e-12, max_iter=10000).fit(X, y)
    out.setdefault("logistic", []).append({"w": m.coef_[0].tolist(), "b": float(m.intercept_[0])})
out["auc"] = [float(roc_auc_score(np.array(c["y"]), np.array(c["s"]))) for c in d["auc"]]
X = np.array(d["scale"]["x"], dtype=np.float64).reshape(-1, d["scale"]["p"])
s = StandardScaler().fit(X)
out["scale"] = {"mean": s.mean_.tolist(), "std": s.scale_.tolist()}
print(json.dumps(out))
`;

type SklearnResult = { logistic: Array<{ w: number[]; b: number }>; auc: number[]; scale: { mean: number[]; std: number[] } };

/** Runs the reference script once (one Python start: importing scikit-learn takes seconds); null without scikit-learn. */
function sklearn(input: unknown): SklearnResult | null {
  const r = spawnSync('python3', ['-c', SKLEARN], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.error || (r.status !== 0 && /No module named '(sklearn|numpy)'/.test(r.stderr))) return null;
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as SklearnResult;
}

/** A logistic data set: p features, labels drawn from a known model. */
function logisticData(n: number, p: number, seed: number): { x: Float64Array; y: Uint8Array } {
  const g = normals(seed);
  const u = mulberry32(seed + 1);
  const w = Array.from({ length: p }, (_, j) => (j % 2 ? -1 : 1) * (0.5 + 0.3 * j));
  const x = new Float64Array(n * p);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let z = 0.3;
    for (let j = 0; j < p; j++) {
      x[i * p + j] = 2 * g() + j;
      z += w[j]! * (x[i * p + j]! - j) / 2;
    }
    y[i] = u() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return { x, y };
}

describe('k nearest neighbours', () => {
  test('squared distances equal the naive sums; the k smallest come sorted, with the excluded index left out', () => {
    const g = normals(1);
    const q = Float32Array.from({ length: 7 * 5 }, () => g());
    const r = Float32Array.from({ length: 9 * 5 }, () => g());
    const sq = squaredDistances(q, 7, r, 9, 5);
    for (let i = 0; i < 7; i++) {
      for (let j = 0; j < 9; j++) {
        let s = 0;
        for (let p = 0; p < 5; p++) s += (q[i * 5 + p]! - r[j * 5 + p]!) ** 2;
        assert.ok(Math.abs(sq[i * 9 + j]! - s) < 1e-12 * Math.max(1, s));
      }
    }
    const exclude = Int32Array.from({ length: 7 }, (_, i) => i);
    const nn = nearestDistances(sq, 7, 9, 4, exclude);
    for (let i = 0; i < 7; i++) {
      const expect = Array.from({ length: 9 }, (_, j) => j).filter((j) => j !== i).map((j) => Math.sqrt(sq[i * 9 + j]!)).sort((a, b) => a - b).slice(0, 4);
      assert.deepEqual(Array.from(nn.subarray(i * 4, i * 4 + 4)), expect);
    }
    assert.throws(() => nearestDistances(sq, 7, 9, 9, exclude), /k = 9/);
  });

  test('wide layers through ONNX Runtime (centred Gram matrix) agree with the exact loop, near neighbours included', async () => {
    // ReLU-like activations with a large common part (norms ≫ distances, where ‖q‖² + ‖r‖² − 2q·r cancels) and
    // pairs of near-duplicates (the distances LID is made of)
    const g = normals(6);
    const dim = 8000;
    const n = 30;
    const common = Float32Array.from({ length: dim }, () => 3 + Math.abs(g()));
    const r = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) for (let p = 0; p < dim; p++) r[i * dim + p] = Math.max(0, common[p]! + 0.3 * g());
    const q = Float32Array.from(r, (v) => v + 1e-3 * g());
    const exact = squaredDistances(q, n, r, n, dim);
    const engine = new GramDistances(1);
    try {
      const fast = await engine.squared(q, n, r, n, dim);
      let worst = 0;
      for (let i = 0; i < n * n; i++) worst = Math.max(worst, Math.abs(Math.sqrt(fast[i]!) - Math.sqrt(exact[i]!)) / Math.sqrt(exact[i]!));
      assert.ok(worst < 1e-3, `largest relative distance error ${worst}`);
      const k = 10;
      const ex = Int32Array.from({ length: n }, (_, i) => i);
      const a = nearestDistances(exact, n, n, k, ex);
      const b = nearestDistances(fast, n, n, k, ex);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(lidMle(a, i * k, k) - lidMle(b, i * k, k)) < 1e-3 * lidMle(a, i * k, k));
      // small problems take the exact loop itself
      assert.deepEqual(await engine.squared(q, 3, r, 3, 100), squaredDistances(q, 3, r, 3, 100));
    } finally {
      await engine.release();
    }
  });
});

describe('LID maximum-likelihood estimate', () => {
  test('the formula: −(1/k Σ log(r_i/r_k))⁻¹, and its degenerate cases', () => {
    const r = [1, 2, 4];
    const expect = -3 / (Math.log(1 / 4) + Math.log(2 / 4) + 0);
    assert.ok(Math.abs(lidMle(r, 0, 3) - expect) < 1e-12);
    assert.ok(Math.abs(lidMle([9, 1, 2, 4], 1, 3) - expect) < 1e-12, 'reads k values from the offset');
    // distances r_i = r_k (i/k)^{1/d}: Σ log(r_i/r_k) = (1/d) Σ log(i/k), so LID = −k·d / Σ log(i/k)
    const k = 20;
    for (const d of [1, 3, 7]) {
      const rr = Array.from({ length: k }, (_, i) => ((i + 1) / k) ** (1 / d));
      let s = 0;
      for (let i = 1; i <= k; i++) s += Math.log(i / k);
      assert.ok(Math.abs(lidMle(rr, 0, k) - (-k * d) / s) < 1e-9);
    }
    assert.equal(lidMle([2, 2, 2], 0, 3), Infinity, 'all equidistant');
    assert.equal(lidMle([0, 1, 2], 0, 3), 0, 'a duplicate neighbour');
    assert.equal(lidMle([0, 0, 0], 0, 3), 0, 'all neighbours coincide');
  });

  test('points on a d-dimensional linear subspace of R^12 give LID ≈ d (the estimator’s closed-form mean k·d/(k − 2))', () => {
    // For a locally uniform density, the (r_i/r_k)^d of the k − 1 inner neighbours are uniform order statistics,
    // so Σ log(r_k/r_i) ~ Gamma(k − 1)/d and E[LID] = k·E[1/Σ] = k·d/(k − 2): 1.11·d for k = 20.
    const D = 12;
    const k = 20;
    for (const d of [1, 2, 4, 6]) {
      const n = 1500 * d;
      const u = mulberry32(30 + d);
      const g = normals(40 + d);
      // a random orthonormal basis of a d-dimensional subspace, and points uniform in the cube [−1, 1]^d on it
      const basis = subspacePoints(d, d, D, 50 + d); // d random directions; orthonormalised below
      const b: Float64Array[] = [];
      for (let t = 0; t < d; t++) {
        const v = Float64Array.from(basis.subarray(t * D, (t + 1) * D), (x) => x + 1e-3 * g());
        for (const w of b) {
          let dot = 0;
          for (let i = 0; i < D; i++) dot += v[i]! * w[i]!;
          for (let i = 0; i < D; i++) v[i]! -= dot * w[i]!;
        }
        const norm = Math.hypot(...v);
        b.push(v.map((x) => x / norm));
      }
      const coords = Float64Array.from({ length: n * d }, () => 2 * u() - 1);
      const pts = new Float32Array(n * D);
      for (let p = 0; p < n; p++) for (let t = 0; t < d; t++) for (let i = 0; i < D; i++) pts[p * D + i]! += coords[p * d + t]! * b[t]![i]!;
      // queries: points well inside the cube (their neighbourhoods do not reach its faces)
      const inner: number[] = [];
      for (let p = 0; p < n && inner.length < 200; p++) {
        let ok = true;
        for (let t = 0; t < d; t++) if (Math.abs(coords[p * d + t]!) > 0.5) ok = false;
        if (ok) inner.push(p);
      }
      const q = new Float32Array(inner.length * D);
      inner.forEach((p, j) => q.set(pts.subarray(p * D, (p + 1) * D), j * D));
      const sq = squaredDistances(q, inner.length, pts, n, D);
      const nn = nearestDistances(sq, inner.length, n, k, Int32Array.from(inner));
      let mean = 0;
      for (let i = 0; i < inner.length; i++) mean += lidMle(nn, i * k, k) / inner.length;
      const expect = (k * d) / (k - 2);
      assert.ok(Math.abs(mean - expect) < 0.08 * expect, `d = ${d}: mean LID ${mean.toFixed(3)}, expected ${expect.toFixed(3)}`);
      assert.ok(Math.abs(mean - d) < 0.2 * d, `d = ${d}: mean LID ${mean.toFixed(3)}`);
    }
  });

  test('minibatch features: near-equal minibatches, k capped at B − 1, a sample’s own clean version never its neighbour', async () => {
    assert.deepEqual(minibatches(250, 100), [[0, 83], [83, 166], [166, 250]]);
    assert.deepEqual(minibatches(100, 100), [[0, 100]]);
    assert.deepEqual(minibatches(5, 100), [[0, 5]]);
    const D = 6;
    const n = 60;
    const clean = subspacePoints(n, 3, D, 3);
    const g = normals(4);
    const far = Float32Array.from(clean, (v) => v + 5 * g());
    // version 1 = an exact copy of the clean points: with its own clean version left out it has the clean rows' LIDs
    const f = await lidFeatures([[clean], [clean.slice()], [far]], [D], n, { batch: 25, k: 10 });
    assert.equal(f.minibatches, 3);
    assert.equal(f.kUsed, 10);
    for (let i = 0; i < n; i++) assert.equal(f.x[i * 3 + 1], f.x[i * 3], `sample ${i}`);
    // points far off the 3-dimensional subspace see all neighbours at almost the same distance: LID far above 3
    let lidClean = 0, lidFar = 0;
    for (let i = 0; i < n; i++) {
      lidClean += f.x[i * 3]! / n;
      lidFar += f.x[i * 3 + 2]! / n;
    }
    assert.ok(lidClean < 5 && lidFar > 2 * lidClean, `clean ${lidClean}, far ${lidFar}`);
    const inf = Float64Array.from([1, Infinity, 3, 2, Infinity, Infinity]);
    assert.deepEqual(replaceNonFinite(inf, 3, 2), [1, 2]);
    assert.deepEqual(Array.from(inf), [1, 2, 3, 2, 3, 2], '+∞ becomes its column’s largest finite value');
    const none = Float64Array.from([Infinity, Infinity]);
    assert.deepEqual(replaceNonFinite(none, 2, 1), [2]);
    assert.deepEqual(Array.from(none), [0, 0], 'a column with no finite value becomes 0');
    const small = await lidFeatures([[clean.subarray(0, 8 * D)]], [D], 8, { batch: 100, k: 20 });
    assert.equal(small.kUsed, 7);
  });
});

describe('standardisation and logistic regression', () => {
  test('standardised training columns have mean 0 and population std 1; constant columns stay finite', () => {
    const x = Float64Array.from([1, 5, 2, 5, 3, 5, 10, 5]);
    const st = fitStandardiser(x, 2, [0, 1, 2]);
    assert.deepEqual(Array.from(st.mean), [2, 5]);
    assert.ok(Math.abs(st.std[0]! - Math.sqrt(2 / 3)) < 1e-15);
    assert.equal(st.std[1], 1);
    const z = standardise(st, x, 2, [0, 1, 2, 3]);
    assert.ok(Math.abs(z[0]! + z[2]! + z[4]!) < 1e-12);
    assert.equal(z[1], 0);
    assert.ok(Math.abs(z[6]! - 8 / Math.sqrt(2 / 3)) < 1e-12, 'held-out rows use the training statistics');
  });

  test('Cholesky solves an SPD system and refuses an indefinite one', () => {
    const a = Float64Array.from([4, 2, 0, 2, 5, 1, 0, 1, 3]);
    const b = Float64Array.from([2, 1, 3]);
    const v = b.slice();
    assert.ok(choleskySolve(a, v, 3));
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(a[i * 3]! * v[0]! + a[i * 3 + 1]! * v[1]! + a[i * 3 + 2]! * v[2]! - b[i]!) < 1e-12);
    assert.equal(choleskySolve(Float64Array.from([1, 2, 2, 1]), Float64Array.from([1, 1]), 2), false);
  });

  test('Newton/IRLS reaches the optimum: the penalised gradient vanishes (closed-form optimality conditions)', () => {
    const p = 3;
    const n = 400;
    const { x, y } = logisticData(n, p, 7);
    for (const l2 of [0, 0.1, 10]) {
      const m = fitLogistic(x, y, n, p, { l2 });
      assert.ok(m.converged, `λ = ${l2}`);
      const z = decisionValues(m, x, n, p);
      const g = new Float64Array(p + 1);
      for (let i = 0; i < n; i++) {
        const r = 1 / (1 + Math.exp(-z[i]!)) - y[i]!;
        for (let j = 0; j < p; j++) g[j]! += r * x[i * p + j]!;
        g[p]! += r;
      }
      for (let j = 0; j < p; j++) g[j]! += l2 * m.weights[j]!;
      for (const v of g) assert.ok(Math.abs(v) < 1e-6, `λ = ${l2}: gradient ${Array.from(g)}`);
    }
    // separable data with λ > 0: a finite optimum, no overflow
    const sx = Float64Array.from([-2, -1, 1, 2]);
    const sep = fitLogistic(sx, [0, 0, 1, 1], 4, 1, { l2: 0.01 });
    assert.ok(sep.converged && Number.isFinite(sep.weights[0]!) && sep.weights[0]! > 1);
  });

  test('coefficients, AUC and standardiser agree with scikit-learn on the same data', (t) => {
    const cases = [
      { ...logisticData(300, 4, 11), p: 4, l2: 1 },
      { ...logisticData(500, 2, 12), p: 2, l2: 0.01 },
      { ...logisticData(200, 6, 13), p: 6, l2: 5 },
    ];
    const g = normals(21);
    const auc = [
      // continuous scores, ties (rounded scores), imbalanced classes
      { s: Array.from({ length: 300 }, (_, i) => g() + (i % 3 === 0 ? 1 : 0)), y: Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? 1 : 0)) },
      { s: Array.from({ length: 200 }, (_, i) => Math.round(g() + (i % 2))), y: Array.from({ length: 200 }, (_, i) => i % 2) },
      { s: Array.from({ length: 101 }, (_, i) => g() * 0.5 + (i < 7 ? 0.8 : 0)), y: Array.from({ length: 101 }, (_, i) => (i < 7 ? 1 : 0)) },
    ];
    const scale = cases[0]!;
    const ref = sklearn({
      logistic: cases.map((c) => ({ x: Array.from(c.x), y: Array.from(c.y), p: c.p, l2: c.l2 })),
      auc, scale: { x: Array.from(scale.x), p: scale.p },
    });
    if (!ref) {
      t.skip('skipped: python3 has no scikit-learn (pip install -r requirements-dev.txt)');
      return;
    }
    cases.forEach((c, i) => {
      const m = fitLogistic(c.x, c.y, c.y.length, c.p, { l2: c.l2 });
      const r = ref.logistic[i]!;
      for (let j = 0; j < c.p; j++) assert.ok(Math.abs(m.weights[j]! - r.w[j]!) < 1e-6 * Math.max(1, Math.abs(r.w[j]!)), `case ${i} w${j}: ${m.weights[j]} vs ${r.w[j]}`);
      assert.ok(Math.abs(m.intercept - r.b) < 1e-6 * Math.max(1, Math.abs(r.b)), `case ${i} b: ${m.intercept} vs ${r.b}`);
    });
    auc.forEach((c, i) => assert.ok(Math.abs(rocAuc(c.s, c.y) - ref.auc[i]!) < 1e-12, `AUC case ${i}: ${rocAuc(c.s, c.y)} vs ${ref.auc[i]}`));
    const st = fitStandardiser(scale.x, scale.p, Array.from({ length: scale.y.length }, (_, i) => i));
    for (let j = 0; j < scale.p; j++) {
      assert.ok(Math.abs(st.mean[j]! - ref.scale.mean[j]!) < 1e-12);
      assert.ok(Math.abs(st.std[j]! - ref.scale.std[j]!) < 1e-12);
    }
  });
});

describe('ROC, AUC and the bootstrap', () => {
  test('the ROC curve and AUC on small cases: ties are one diagonal step, AUC = P(s⁺ > s⁻) + ½ P(s⁺ = s⁻)', () => {
    const c = rocCurve([0.9, 0.8, 0.8, 0.1], [1, 0, 1, 0]);
    assert.deepEqual(c.fpr, [0, 0, 0.5, 1]);
    assert.deepEqual(c.tpr, [0, 0.5, 1, 1]);
    assert.deepEqual(c.thresholds, [Infinity, 0.9, 0.8, 0.1]);
    assert.equal(rocAuc([0.9, 0.8, 0.8, 0.1], [1, 0, 1, 0]), 0.875); // pairs: (0.9>0.8, 0.9>0.1, tie, 0.8>0.1) → 3.5/4
    assert.equal(rocAuc([1, 2, 3, 4], [0, 0, 1, 1]), 1);
    assert.equal(rocAuc([1, 2, 3, 4], [1, 1, 0, 0]), 0);
    assert.equal(rocAuc([5, 5, 5, 5], [1, 0, 1, 0]), 0.5);
    assert.throws(() => rocCurve([1, 2], [1, 1]), /both classes/);
    assert.throws(() => rocCurve([NaN, 2], [1, 0]), /NaN/);
  });

  test('binormal scores: the AUC matches Φ(Δ/√2) and the bootstrap interval covers it with the expected width', () => {
    const g = normals(5);
    const delta = 1;
    const nPos = 400;
    const nNeg = 800;
    const s = [...Array.from({ length: nPos }, () => g() + delta), ...Array.from({ length: nNeg }, () => g())];
    const y = [...new Array<number>(nPos).fill(1), ...new Array<number>(nNeg).fill(0)];
    // Φ(1/√2) = 0.76025
    const truth = 0.5 * (1 + erf(delta / 2));
    const auc = rocAuc(s, y);
    assert.ok(Math.abs(auc - truth) < 0.03, `AUC ${auc} vs ${truth}`);
    const ci = bootstrapAuc(s, y, { resamples: 400, seed: 3 });
    assert.ok(ci.lo < auc && auc < ci.hi);
    assert.ok(ci.lo < truth && truth < ci.hi, `[${ci.lo}, ${ci.hi}] ∌ ${truth}`);
    // Hanley & McNeil's standard error of the AUC
    const q1 = truth / (2 - truth);
    const q2 = (2 * truth * truth) / (1 + truth);
    const se = Math.sqrt((truth * (1 - truth) + (nPos - 1) * (q1 - truth * truth) + (nNeg - 1) * (q2 - truth * truth)) / (nPos * nNeg));
    const width = ci.hi - ci.lo;
    assert.ok(Math.abs(width / (2 * 1.96 * se) - 1) < 0.25, `width ${width} vs ${2 * 1.96 * se}`);
    assert.deepEqual(bootstrapAuc(s, y, { resamples: 400, seed: 3 }), ci, 'seeded: the same interval again');
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  });
});

describe('folds, noise and the cross-validated detector', () => {
  test('group folds: every group in one fold, sizes within one, seeded', () => {
    const f = groupFolds(23, 5, 9);
    const sizes = [0, 0, 0, 0, 0];
    for (const v of f) sizes[v]!++;
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, String(sizes));
    assert.deepEqual(groupFolds(23, 5, 9), f);
    assert.notDeepEqual(groupFolds(23, 5, 10), f);
    assert.throws(() => groupFolds(3, 5), /cannot fill/);
  });

  test('noisy counterparts have the L2 size of the adversarial perturbation and stay in the clamp box', () => {
    const size = 50;
    const n = 4;
    const g = normals(2);
    const x = Float32Array.from({ length: n * size }, () => g());
    const adv = Float32Array.from(x, (v, i) => v + (i % size === 0 ? 0.5 * (1 + Math.floor(i / size)) : 0));
    const wide = new Clamp('box', Float32Array.of(-100), Float32Array.of(100), size);
    const noisy = noisyCounterparts(x, adv, n, size, wide, 1);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let p = 0; p < size; p++) s += (noisy[i * size + p]! - x[i * size + p]!) ** 2;
      assert.ok(Math.abs(Math.sqrt(s) - 0.5 * (i + 1)) < 1e-5, `sample ${i}: ${Math.sqrt(s)}`);
    }
    const tight = new Clamp('box', Float32Array.of(-0.1), Float32Array.of(0.1), size);
    for (const v of noisyCounterparts(x, adv, n, size, tight, 1)) assert.ok(v >= -0.1 - 1e-7 && v <= 0.1 + 1e-7);
  });

  test('cross-validation: informative features give a high out-of-fold AUC, pure noise ≈ 0.5', () => {
    const g = normals(8);
    const groups = 150;
    const make = (signal: number) => {
      const x = new Float64Array(groups * 3 * 2);
      const y = new Uint8Array(groups * 3);
      const group = new Int32Array(groups * 3);
      for (let i = 0; i < groups; i++) {
        for (let v = 0; v < 3; v++) {
          const r = i * 3 + v;
          y[r] = v === 2 ? 1 : 0;
          group[r] = i;
          x[r * 2] = g() + (v === 2 ? signal : 0);
          x[r * 2 + 1] = g();
        }
      }
      return evaluateDetector({ x, rows: groups * 3, p: 2, y, group, groups }, { folds: 5, l2: 1, seed: 1, bootstrap: 200 });
    };
    const good = make(2);
    assert.ok(good.auc > 0.85 && good.auc < 0.99, `AUC ${good.auc}`);
    assert.equal(good.foldAucs.length, 5);
    assert.ok(good.model.weights[0]! > 0.5 && Math.abs(good.model.weights[1]!) < 0.3);
    const none = make(0);
    assert.ok(Math.abs(none.auc - 0.5) < 0.1, `AUC ${none.auc}`);
    assert.ok(none.interval.lo < 0.5 + 0.02);
  });
});

/** erf by Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}
