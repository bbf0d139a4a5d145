// APGD (Croce & Hein, ICML 2020, the core of AutoAttack): projected gradient ascent with momentum 0.75 and a
// step size that adapts at checkpoints, on the cross-entropy (APGD-CE) or the Difference of Logits Ratio
// (APGD-DLR), in an L∞ or L2 ball of radius eps.
//
//   start     x₀ = x + eps·t/‖t‖ (L∞: t uniform in [−1, 1]^d scaled so max|t| = 1; L2: t Gaussian), clamped
//   step      z = P(x_k + η·s(∇)), s = sign (L∞) or ∇/‖∇‖₂ (L2);  x_{k+1} = P(x_k + α(z − x_k) + (1 − α)(x_k − x_{k−1}))
//             with α = 1 at the first step and 0.75 after; P projects onto the ball and clamps
//   η         starts at 2·eps; checkpoints after w₁ = ⌊0.22·N⌋ iterations, then each previous length minus
//             0.03·N, at least 0.06·N; at a checkpoint η halves (and the iterate restarts from the best
//             point) for samples where at most 75 % of the steps since the last checkpoint increased the loss,
//             or where η was not reduced at the last checkpoint and the best loss has not improved since
// The result is the first misclassified iterate (a sample leaves the active set once broken: later steps
// cannot change whether it is robust), or for an unbroken sample its highest-loss point. DLR's gradient is assembled from the logit-difference gradients of
// the best other class, π1 and π3: ∇DLR = (g_m·b + a·(g_π1 − g_π3))/b² with g_c = ∇(z_c − z_y),
// a = z_y − z_m, b = z_π1 − z_π3 + 1e-12; or, where the oracle has a vjp, one backward pass with cotangent ∂DLR/∂z.

import type { Norm } from '../report/schema.js';
import type { Attack, AttackInput, AttackOutput } from './common.js';
import { gather, gatherLabels, newOutput, padCurve, sampleRandom, STREAM } from './common.js';
import { crossEntropyLoss, ranked } from './losses.js';

export type ApgdLoss = 'ce' | 'dlr';

export interface ApgdOptions {
  name: string;
  norm: Norm;
  loss: ApgdLoss;
  eps: number;
  iterations: number;
  /** Fraction of the checkpoint's steps that must increase the loss to keep η (0.75). */
  rho: number;
  seed: number;
}

/** The checkpoint iterations of AutoAttack's schedule for `n` iterations. */
export function apgdCheckpoints(n: number): number[] {
  const first = Math.max(Math.floor(0.22 * n), 1);
  const decrease = Math.max(Math.floor(0.03 * n), 1);
  const min = Math.max(Math.floor(0.06 * n), 1);
  const out: number[] = [];
  let at = 0;
  let len = first;
  while (at + len <= n) {
    at += len;
    out.push(at);
    len = Math.max(len - decrease, min);
  }
  return out;
}

function gaussian(rnd: () => number): number {
  const u = Math.max(rnd(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
}

export function apgd(o: ApgdOptions): Attack {
  return {
    name: o.name,
    norm: o.norm,
    gradient: 'model',
    budget: { norm: o.norm, eps: o.eps },
    params: { eps: o.eps, iterations: o.iterations, loss: o.loss === 'ce' ? 'cross-entropy' : 'dlr', rho: o.rho, momentum: 0.75, initial_step: '2·eps', seed: o.seed },
    run: (input) => runApgd(input, o),
  };
}

async function runApgd(input: AttackInput, o: ApgdOptions): Promise<AttackOutput> {
  const out = await apgdRun(input, o);
  padCurve(out, o.iterations + 1);
  return out;
}

async function apgdRun(input: AttackInput, o: ApgdOptions): Promise<AttackOutput> {
  const { oracle, x, labels, n, clamp } = input;
  const size = oracle.space.size;
  const out = newOutput(x, n);
  const eps = o.eps;

  const project = (v: Float32Array, i: number) => {
    const b = i * size;
    if (o.norm === 'linf') {
      for (let p = 0; p < size; p++) {
        const c = x[b + p]!;
        const w = v[b + p]!;
        v[b + p] = w > c + eps ? c + eps : w < c - eps ? c - eps : w;
      }
    } else {
      let s = 0;
      for (let p = 0; p < size; p++) s += (v[b + p]! - x[b + p]!) ** 2;
      const len = Math.sqrt(s);
      if (len > eps) {
        const f = eps / len;
        for (let p = 0; p < size; p++) v[b + p] = x[b + p]! + (v[b + p]! - x[b + p]!) * f;
      }
    }
    clamp.apply(v, b, b + size);
  };

  // Loss and its gradient at cur for the samples `idx` (null rows: misclassified there).
  const evaluate = async (cur: Float32Array, idx: number[]): Promise<{ correct: boolean[]; loss: Float64Array; grad: Float32Array }> => {
    const xs = gather(cur, idx, size);
    const ys = gatherLabels(labels, idx);
    const m = idx.length;
    const loss = new Float64Array(m);
    const correct: boolean[] = [];
    let grad: Float32Array;
    let logits: Float32Array;
    let classes: number;
    if (o.loss === 'ce') {
      const r = await oracle.crossEntropy(xs, ys, m);
      logits = r.logits;
      grad = r.grad;
      classes = logits.length / m;
      for (let j = 0; j < m; j++) loss[j] = crossEntropyLoss(logits, classes, j, ys[j]!);
    } else {
      const f = await oracle.forward(xs, m);
      classes = f.length / m;
      const cand = new Int32Array(m * 3);
      for (let j = 0; j < m; j++) {
        const { top, other } = ranked(f, classes, j, ys[j]!);
        cand.set([other, top[0], top[2]], j * 3);
      }
      if (oracle.vjp) {
        // ∂DLR/∂z: −1/b at y, +1/b at the best other class m, +a/b² at π1, −a/b² at π3 (a = z_y − z_m, b = z_π1 − z_π3)
        const cot = new Float32Array(m * classes);
        for (let j = 0; j < m; j++) {
          const [m1, p1, p3] = [cand[j * 3]!, cand[j * 3 + 1]!, cand[j * 3 + 2]!];
          const y = ys[j]!;
          const a = f[j * classes + y]! - f[j * classes + m1]!;
          const b = f[j * classes + p1]! - f[j * classes + p3]! + 1e-12;
          loss[j] = -a / b;
          const row = j * classes;
          cot[row + y] = cot[row + y]! - 1 / b;
          cot[row + m1] = cot[row + m1]! + 1 / b;
          cot[row + p1] = cot[row + p1]! + a / (b * b);
          cot[row + p3] = cot[row + p3]! - a / (b * b);
        }
        const r = await oracle.vjp(xs, cot, m);
        logits = r.logits;
        grad = r.grad;
      } else {
        const r = await oracle.differences(xs, ys, cand, m, 3);
        logits = r.logits;
        grad = new Float32Array(m * size);
        for (let j = 0; j < m; j++) {
          // differences: z_c − z_y for c = other, π1, π3
          const dm = r.diffs[j * 3]!;
          const d1 = r.diffs[j * 3 + 1]!;
          const d3 = r.diffs[j * 3 + 2]!;
          const a = -dm;
          const b = d1 - d3 + 1e-12;
          loss[j] = -a / b;
          const gm = (j * 3) * size;
          const g1 = (j * 3 + 1) * size;
          const g3 = (j * 3 + 2) * size;
          const inv = 1 / (b * b);
          for (let p = 0; p < size; p++) {
            grad[j * size + p] = (r.grads[gm + p]! * b + a * (r.grads[g1 + p]! - r.grads[g3 + p]!)) * inv;
          }
        }
      }
    }
    for (let j = 0; j < m; j++) correct.push(argmaxIs(logits, classes, j, ys[j]!));
    return { correct, loss, grad };
  };

  // Start: only the samples classified correctly are attacked.
  const all = Array.from({ length: n }, (_, i) => i);
  const clean = await oracle.forward(x, n);
  const classes = clean.length / n;
  let active = all.filter((i) => argmaxIs(clean, classes, i, labels[i]!));
  for (const i of active) out.attacked[i] = 1;
  out.curve.push(active.length);
  if (active.length === 0 || o.iterations === 0) return out;

  const cur = x.slice();
  for (const i of active) {
    const b = i * size;
    const rnd = sampleRandom(input, o.seed, i, STREAM.apgd);
    if (o.norm === 'linf') {
      let mx = 0;
      const t = new Float64Array(size);
      for (let p = 0; p < size; p++) {
        t[p] = 2 * rnd() - 1;
        mx = Math.max(mx, Math.abs(t[p]!));
      }
      for (let p = 0; p < size; p++) cur[b + p] = x[b + p]! + (eps * t[p]!) / (mx || 1);
    } else {
      const t = new Float64Array(size);
      let s = 0;
      for (let p = 0; p < size; p++) {
        t[p] = gaussian(rnd);
        s += t[p]! * t[p]!;
      }
      const f = eps / (Math.sqrt(s) || 1);
      for (let p = 0; p < size; p++) cur[b + p] = x[b + p]! + t[p]! * f;
    }
    clamp.apply(cur, b, b + size);
  }

  const prev = cur.slice();
  const best = cur.slice();
  const grad = new Float32Array(n * size);
  const gradBest = new Float32Array(n * size);
  const lossBest = new Float64Array(n).fill(-Infinity);
  const lossLastCheck = new Float64Array(n);
  const reducedLastCheck = new Uint8Array(n).fill(1);
  const increases = new Int32Array(n);
  const lastLoss = new Float64Array(n).fill(-Infinity);
  const step = new Float64Array(n).fill(2 * eps);

  // Evaluate at the start; samples already misclassified there are done.
  const settle = async (idx: number[], first: boolean): Promise<number[]> => {
    const r = await evaluate(cur, idx);
    const keep: number[] = [];
    idx.forEach((i, j) => {
      const g = r.grad.subarray(j * size, (j + 1) * size);
      if (first && g.every((v) => v === 0)) out.zeroGradient[i] = 1;
      if (!r.correct[j]) {
        out.adv.set(cur.subarray(i * size, (i + 1) * size), i * size);
        return;
      }
      keep.push(i);
      grad.set(g, i * size);
      const l = r.loss[j]!;
      if (!first && l > lastLoss[i]!) increases[i] = increases[i]! + 1;
      lastLoss[i] = l;
      if (l > lossBest[i]!) {
        lossBest[i] = l;
        best.set(cur.subarray(i * size, (i + 1) * size), i * size);
        gradBest.set(g, i * size);
      }
    });
    return keep;
  };
  active = await settle(active, true);
  for (const i of active) lossLastCheck[i] = lossBest[i]!;

  const checkpoints = new Set(apgdCheckpoints(o.iterations));
  let sinceCheck = 0;
  for (let it = 0; it < o.iterations && active.length > 0; it++) {
    const alpha = it === 0 ? 1 : 0.75;
    const z = new Float32Array(size);
    const tmp = new Float32Array(size);
    for (const i of active) {
      const b = i * size;
      const g = grad.subarray(b, b + size);
      let gn = 0;
      if (o.norm === 'l2') {
        for (let p = 0; p < size; p++) gn += g[p]! * g[p]!;
        gn = Math.sqrt(gn) + 1e-12;
      }
      const eta = step[i]!;
      // z = P(x_k + η s(∇))
      tmp.set(cur.subarray(b, b + size));
      for (let p = 0; p < size; p++) {
        const gp = g[p]!;
        cur[b + p] = tmp[p]! + eta * (o.norm === 'linf' ? (gp > 0 ? 1 : gp < 0 ? -1 : 0) : gp / gn);
      }
      project(cur, i);
      z.set(cur.subarray(b, b + size));
      // x_{k+1} = P(x_k + α(z − x_k) + (1 − α)(x_k − x_{k−1}))
      for (let p = 0; p < size; p++) {
        const xk = tmp[p]!;
        cur[b + p] = xk + alpha * (z[p]! - xk) + (1 - alpha) * (xk - prev[b + p]!);
      }
      prev.set(tmp, b);
      project(cur, i);
      out.iterations[i] = out.iterations[i]! + 1;
    }
    active = await settle(active, false);
    out.curve.push(active.length);
    input.onIteration?.(it, active.length);
    sinceCheck++;
    if (checkpoints.has(it + 1)) {
      for (const i of active) {
        const oscillating = increases[i]! <= sinceCheck * o.rho;
        const stalled = !reducedLastCheck[i] && lossLastCheck[i]! >= lossBest[i]!;
        const reduce = oscillating || stalled;
        reducedLastCheck[i] = reduce ? 1 : 0;
        lossLastCheck[i] = lossBest[i]!;
        if (reduce) {
          step[i] = step[i]! / 2;
          const b = i * size;
          cur.set(best.subarray(b, b + size), b);
          grad.set(gradBest.subarray(b, b + size), b);
        }
        increases[i] = 0;
      }
      sinceCheck = 0;
    }
  }
  // unbroken samples keep their highest-loss point (what transfers best to other models)
  for (const i of active) out.adv.set(best.subarray(i * size, (i + 1) * size), i * size);
  return out;
}

function argmaxIs(logits: Float32Array, classes: number, i: number, y: number): boolean {
  let best = 0;
  for (let c = 1; c < classes; c++) if (logits[i * classes + c]! > logits[i * classes + best]!) best = c;
  return best === y;
}
