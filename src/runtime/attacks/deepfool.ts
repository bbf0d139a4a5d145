// DeepFool (Moosavi-Dezfooli et al.) as the JumpReLU authors ran it, and the trust-region attack of Yao et
// al. 2018, which shares its linearisation.
//
// Candidates: the label (the top class while the sample is still correct) and the next `candidates`
// classes by logit. For each candidate k, w_k = ∇(f_k − f_label) and per_k = |f_k − f_label| / ‖w_k‖_q with
// q = 2 for the L2 attack and q = 1 (the dual norm) for L∞.
// DeepFool: step along w/‖w‖₂ (L2) or sign(w) (L∞) of the closest candidate:
//   x ← clamp(x + (per + 1e-4) · overshoot · dir)         (overshoot = 1.02 in the authors' code)
// Trust region: the target is the closest candidate at the first iteration (kept fixed, as in TRAttack's
// select_index); the step length is min(per, r) with radius r, fixed or adapted per sample:
//   ratio = achieved increase of f_target − f_label / the linear model's predicted increase (step · ‖w‖_q);
//   r ← r·1.2 when ratio > 0.9, r/1.2 when ratio < 0.5, clamped to [r_min, r_max].

import type { Norm } from '../report/schema.js';
import type { Attack, AttackInput, AttackOutput } from './common.js';
import { finalCheck, gather, gatherLabels, l1, l2, newOutput, padCurve, stillCorrect } from './common.js';

export interface DeepFoolOptions {
  name: string;
  norm: Norm;
  iterations: number;
  /** Candidate classes besides the label (the authors: 9). */
  candidates: number;
  /** Multiplicative overshoot (1.02). */
  overshoot: number;
  /** Added to per before the step (1e-4). */
  epsilon: number;
}

export interface TrustRegionOptions extends DeepFoolOptions {
  radius: number;
  adaptive: boolean;
  radiusMin: number;
  radiusMax: number;
}

/** Candidate classes for each active sample: all other classes when c ≥ classes − 1, else the next c by logit. */
async function candidatesFor(
  input: AttackInput, adv: Float32Array, active: number[], c: number, classes: number,
): Promise<{ k: number; cand: Int32Array; logits: Float32Array | null }> {
  const { labels, oracle } = input;
  if (classes > 0 && c >= classes - 1) {
    const k = classes - 1;
    const cand = new Int32Array(active.length * k);
    active.forEach((i, j) => {
      let at = 0;
      for (let cl = 0; cl < classes; cl++) if (cl !== labels[i]) cand[j * k + at++] = cl;
    });
    return { k, cand, logits: null };
  }
  const logits = await oracle.forward(gather(adv, active, oracle.space.size), active.length);
  const C = logits.length / active.length;
  const k = Math.min(c, C - 1);
  const cand = new Int32Array(active.length * k);
  active.forEach((i, j) => {
    const order = Array.from({ length: C }, (_, cl) => cl).filter((cl) => cl !== labels[i])
      .sort((a, b) => logits[j * C + b]! - logits[j * C + a]!);
    for (let t = 0; t < k; t++) cand[j * k + t] = order[t]!;
  });
  return { k, cand, logits };
}

function dualNorm(norm: Norm, g: Float32Array, from: number, to: number): number {
  return norm === 'l2' ? l2(g, from, to) : l1(g, from, to);
}

/** x[base..] += scale · dir(w), dir = w/‖w‖₂ (L2) or sign(w) (L∞). */
function stepAlong(norm: Norm, adv: Float32Array, base: number, w: Float32Array, wFrom: number, size: number, scale: number, wNorm: number): void {
  if (norm === 'l2') {
    const f = scale / wNorm;
    for (let p = 0; p < size; p++) adv[base + p] = adv[base + p]! + f * w[wFrom + p]!;
  } else {
    for (let p = 0; p < size; p++) {
      const v = w[wFrom + p]!;
      adv[base + p] = adv[base + p]! + scale * (v > 0 ? 1 : v < 0 ? -1 : 0);
    }
  }
}

export function deepFool(o: DeepFoolOptions): Attack {
  return {
    name: o.name,
    norm: o.norm,
    params: { iterations: o.iterations, candidates: o.candidates, overshoot: o.overshoot, epsilon: o.epsilon, dual_norm: o.norm === 'l2' ? 'l2' : 'l1' },
    async run(input: AttackInput): Promise<AttackOutput> {
      return iterate(input, o, null);
    },
  };
}

export function trustRegion(o: TrustRegionOptions): Attack {
  return {
    name: o.name,
    norm: o.norm,
    params: {
      iterations: o.iterations, candidates: o.candidates, overshoot: o.overshoot, epsilon: o.epsilon,
      radius: o.radius, adaptive: o.adaptive, radius_min: o.radiusMin, radius_max: o.radiusMax,
    },
    async run(input: AttackInput): Promise<AttackOutput> {
      return iterate(input, o, o);
    },
  };
}

async function iterate(input: AttackInput, o: DeepFoolOptions, tr: TrustRegionOptions | null): Promise<AttackOutput> {
  const { oracle, x, labels, n, clamp } = input;
  const size = oracle.space.size;
  const out = newOutput(x, n);
  const adv = out.adv;
  let active = Array.from({ length: n }, (_, i) => i);
  let classes = oracle.classes;
  // trust region state per sample
  const target = new Int32Array(n).fill(-1);
  const radius = new Float64Array(n).fill(tr?.radius ?? 0);
  const lastDiff = new Float64Array(n);
  const predicted = new Float64Array(n);
  let started = false;
  let stuck = 0;
  for (let it = 0; it < o.iterations && active.length > 0; it++) {
    // after the first iteration the trust region attack only needs its fixed target's gradient
    const { k, cand } = tr && started
      ? { k: 1, cand: Int32Array.from(active, (i) => target[i]!) }
      : await candidatesFor(input, adv, active, o.candidates, classes);
    const res = await oracle.differences(gather(adv, active, size), gatherLabels(labels, active), cand, active.length, k);
    classes = res.logits.length / active.length;
    const { keep, rows } = stillCorrect(active, res.logits, labels, classes);
    if (!started) for (const i of keep) out.attacked[i] = 1;
    out.curve.push(keep.length + stuck);
    input.onIteration?.(it, keep.length + stuck);
    const next: number[] = [];
    keep.forEach((i, r) => {
      const j = rows[r]!;
      // the closest candidate (or the fixed TR target)
      let best = -1;
      let bestPer = Infinity;
      let bestNorm = 0;
      let allZero = true;
      for (let t = 0; t < k; t++) {
        const from = (j * k + t) * size;
        const wn = dualNorm(o.norm, res.grads, from, from + size);
        if (wn > 0) allZero = false;
        if (tr && target[i]! >= 0 && cand[j * k + t] !== target[i]) continue;
        if (!(wn > 0)) continue;
        const per = Math.abs(res.diffs[j * k + t]!) / wn;
        if (per < bestPer) {
          bestPer = per;
          best = t;
          bestNorm = wn;
        }
      }
      if (!started && allZero) out.zeroGradient[i] = 1;
      if (best < 0) {
        stuck++; // no usable gradient: the sample cannot move; it stays correct and leaves the active set
        return;
      }
      const from = (j * k + best) * size;
      const diff = res.diffs[j * k + best]!;
      let len = bestPer;
      if (tr) {
        if (target[i]! < 0) target[i] = cand[j * k + best]!;
        else if (tr.adaptive && predicted[i]! > 0) {
          const ratio = (diff - lastDiff[i]!) / predicted[i]!;
          if (ratio > 0.9) radius[i] = radius[i]! * 1.2;
          else if (ratio < 0.5) radius[i] = radius[i]! / 1.2;
          radius[i] = Math.min(tr.radiusMax, Math.max(tr.radiusMin, radius[i]!));
        }
        len = Math.min(bestPer, radius[i]!);
      }
      const scale = (len + o.epsilon) * o.overshoot;
      stepAlong(o.norm, adv, i * size, res.grads, from, size, scale, bestNorm);
      clamp.apply(adv, i * size, (i + 1) * size);
      lastDiff[i] = diff;
      predicted[i] = scale * bestNorm;
      out.iterations[i] = out.iterations[i]! + 1;
      next.push(i);
    });
    started = true;
    active = next;
  }
  if (!started) out.curve.push(0);
  else if (active.length > 0) await finalCheck(input, out, active, stuck);
  padCurve(out, o.iterations + 1);
  return out;
}
