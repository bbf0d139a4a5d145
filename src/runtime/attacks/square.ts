// Square attack (Andriushchenko, Croce, Flammarion, Hein, ECCV 2020): score-based random search, no gradients.
// It only reads logits, so it is the check that a defense whose gradients are uninformative (a jump, a step)
// is not robust for that reason alone.
//
// Loss: the margin z_y − max_{i≠y} z_i; a proposal replaces the current point when it lowers the margin, and
// a sample is done once its margin is ≤ 0 (misclassified). The square side follows p, the fraction of pixels
// changed: p = p_init at first, halved at (rescaled to 10 000 queries) 10, 50, 200, 500, 1000, 2000, 4000,
// 6000 and 8000; side = round(√(p·h·w)) (at least 1; L2: at least 3 and odd).
//   L∞: start from vertical stripes of ±eps (one sign per column and channel); a proposal sets one random
//       square to ±eps (one sign per channel) around the clean sample.
//   L2: start from a 5×5 grid of "pseudo-Gaussian" windows (each a sum of nested rectangles weighted 1/r², top
//       half positive, bottom half negative, optionally transposed), random sign per window and channel, scaled
//       to ‖δ‖₂ = eps; a proposal moves the mass of a second random window into the first, keeping ‖δ‖₂ = eps.
// Random squares are drawn per sample (AutoAttack draws one per batch), from the sample's own random stream
// (seeded by its index in the whole set), so its attack does not depend on which other samples run with it.

import type { Norm } from '../report/schema.js';
import type { Attack, AttackInput, AttackOutput } from './common.js';
import { gather, newOutput, padCurve, sampleRandom, STREAM } from './common.js';
import { margin } from './losses.js';

export interface SquareOptions {
  name: string;
  norm: Norm;
  eps: number;
  /** Queries per sample, the starting point included (AutoAttack: 5000). */
  queries: number;
  /** Initial fraction of pixels a square covers (AutoAttack: 0.8). */
  pInit: number;
  seed: number;
}

/** The fraction p at query `it` of `total` (AutoAttack's schedule, rescaled to 10 000 queries). */
export function squareP(pInit: number, it: number, total: number): number {
  const t = Math.floor((it / total) * 10000);
  const bounds = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  let p = pInit;
  for (const b of bounds) if (t > b) p /= 2;
  return p;
}

/** Nested rectangles centred in an a × b window, weighted 1/(r+1)², unit L2 norm. */
function etaRectangles(a: number, b: number): Float64Array {
  const d = new Float64Array(a * b);
  const xc = Math.floor(a / 2) + 1;
  const yc = Math.floor(b / 2) + 1;
  let c0 = xc - 1;
  let c1 = yc - 1;
  for (let r = 0; r < Math.max(xc, yc); r++) {
    const w = 1 / ((r + 1) * (r + 1));
    for (let i = Math.max(c0, 0); i < Math.min(c0 + 2 * r + 1, a); i++) {
      for (let j = Math.max(c1, 0); j < Math.min(c1 + 2 * r + 1, b); j++) d[i * b + j] = d[i * b + j]! + w;
    }
    c0--;
    c1--;
  }
  return unit(d);
}

function unit(d: Float64Array): Float64Array {
  let s = 0;
  for (const v of d) s += v * v;
  const f = s > 0 ? 1 / Math.sqrt(s) : 0;
  return d.map((v) => v * f);
}

/** The L2 Square attack's s × s window: +rectangles on the top half, − on the bottom, transposed half the time. */
export function squareWindow(s: number, rnd: () => number): Float64Array {
  const d = new Float64Array(s * s);
  const top = Math.floor(s / 2);
  if (top > 0) d.set(etaRectangles(top, s), 0);
  const bottom = etaRectangles(s - top, s);
  for (let i = 0; i < bottom.length; i++) d[top * s + i] = -bottom[i]!;
  const u = unit(d);
  if (rnd() > 0.5) {
    const t = new Float64Array(s * s);
    for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) t[j * s + i] = u[i * s + j]!;
    return t;
  }
  return u;
}

export function square(o: SquareOptions): Attack {
  return {
    name: o.name,
    norm: o.norm,
    gradient: 'none',
    budget: { norm: o.norm, eps: o.eps },
    params: { eps: o.eps, queries: o.queries, p_init: o.pInit, loss: 'margin', seed: o.seed },
    run: (input) => runSquare(input, o),
  };
}

async function runSquare(input: AttackInput, o: SquareOptions): Promise<AttackOutput> {
  const out = await squareRun(input, o);
  padCurve(out, Math.max(1, o.queries));
  return out;
}

async function squareRun(input: AttackInput, o: SquareOptions): Promise<AttackOutput> {
  const { oracle, x, labels, n, clamp } = input;
  const { channels: C, height: H, width: W } = oracle.space.shape;
  const size = oracle.space.size;
  const plane = H * W;
  const out = newOutput(x, n);
  const streams = new Map<number, () => number>();
  let rnd: () => number = () => 0;
  /** Makes sample i's stream the current one. */
  const use = (i: number) => {
    let r = streams.get(i);
    if (!r) streams.set(i, (r = sampleRandom(input, o.seed, i, STREAM.square)));
    rnd = r;
  };
  const sign = () => (rnd() < 0.5 ? -1 : 1);
  const randInt = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const eps = o.eps;
  const best = x.slice();
  const marginBest = new Float64Array(n);

  const margins = async (cand: Float32Array, idx: number[]): Promise<Float64Array> => {
    const logits = await oracle.forward(gather(cand, idx, size), idx.length);
    const classes = logits.length / idx.length;
    return Float64Array.from(idx, (i, j) => margin(logits, classes, j, labels[i]!));
  };
  const l2Scale = (d: Float64Array, base: number) => {
    // best = clamp(x + δ/‖δ‖·eps)
    let s = 0;
    for (let p = 0; p < size; p++) s += d[p]! * d[p]!;
    const f = s > 0 ? eps / Math.sqrt(s) : 0;
    for (let p = 0; p < size; p++) best[base + p] = x[base + p]! + d[p]! * f;
  };

  const clean = await margins(x, Array.from({ length: n }, (_, i) => i));
  let active: number[] = [];
  for (let i = 0; i < n; i++) if (clean[i]! > 0) active.push(i);
  for (const i of active) out.attacked[i] = 1;
  out.curve.push(active.length);
  if (active.length === 0 || o.queries <= 0) return out;

  // the starting point
  for (const i of active) {
    const b = i * size;
    use(i);
    if (o.norm === 'linf') {
      for (let c = 0; c < C; c++) {
        for (let w = 0; w < W; w++) {
          const v = eps * sign();
          for (let h = 0; h < H; h++) best[b + c * plane + h * W + w] = x[b + c * plane + h * W + w]! + v;
        }
      }
    } else {
      const d = new Float64Array(size);
      const s = Math.max(1, Math.floor(H / 5));
      const start = Math.floor((H - 5 * s) / 2);
      for (let vh = start; vh + s <= H && vh < start + 5 * s; vh += s) {
        for (let vw = start; vw + s <= W && vw < start + 5 * s; vw += s) {
          const win = squareWindow(s, rnd);
          for (let c = 0; c < C; c++) {
            const sg = sign();
            for (let a = 0; a < s; a++) for (let e = 0; e < s; e++) d[c * plane + (vh + a) * W + vw + e] += win[a * s + e]! * sg;
          }
        }
      }
      l2Scale(d, b);
    }
    clamp.apply(best, b, b + size);
  }
  const m0 = await margins(best, active);
  active.forEach((i, j) => (marginBest[i] = m0[j]!));
  const done = (i: number) => marginBest[i]! <= 0;
  for (const i of active) if (done(i)) out.adv.set(best.subarray(i * size, (i + 1) * size), i * size);
  active = active.filter((i) => !done(i));

  const cand = x.slice();
  for (let it = 1; it < o.queries && active.length > 0; it++) {
    const p = squareP(o.pInit, it, o.queries);
    for (const i of active) {
      const b = i * size;
      use(i);
      cand.set(best.subarray(b, b + size), b);
      if (o.norm === 'linf') {
        const s = Math.min(H, Math.max(1, Math.round(Math.sqrt(p * plane))));
        const vh = randInt(0, H - s);
        const vw = randInt(0, W - s);
        for (let c = 0; c < C; c++) {
          const v = eps * sign();
          for (let a = 0; a < s; a++) {
            for (let e = 0; e < s; e++) {
              const q = b + c * plane + (vh + a) * W + vw + e;
              cand[q] = x[q]! + v;
            }
          }
        }
      } else {
        let s = Math.max(3, Math.round(Math.sqrt(p * plane)));
        if (s % 2 === 0) s++;
        s = Math.min(s, H, W);
        const vh = randInt(0, H - s);
        const vw = randInt(0, W - s);
        const vh2 = randInt(0, H - s);
        const vw2 = randInt(0, W - s);
        const d = new Float64Array(size);
        let normImage = 0;
        for (let q = 0; q < size; q++) {
          d[q] = best[b + q]! - x[b + q]!;
          normImage += d[q]! * d[q]!;
        }
        const inWin = (h: number, w: number, ph: number, pw: number) => h >= ph && h < ph + s && w >= pw && w < pw + s;
        let normWindows = 0;
        for (let c = 0; c < C; c++) {
          for (let h = 0; h < H; h++) {
            for (let w = 0; w < W; w++) {
              if (inWin(h, w, vh, vw) || inWin(h, w, vh2, vw2)) normWindows += d[c * plane + h * W + w]! ** 2;
            }
          }
        }
        const budget = Math.sqrt(Math.max(eps * eps - normImage, 0) / C + normWindows);
        const win = squareWindow(s, rnd);
        const next = new Float64Array(s * s * C);
        for (let c = 0; c < C; c++) {
          let n1 = 0;
          for (let a = 0; a < s; a++) for (let e = 0; e < s; e++) n1 += d[c * plane + (vh + a) * W + vw + e]! ** 2;
          n1 = Math.sqrt(n1);
          const sg = sign();
          let nn = 0;
          for (let a = 0; a < s; a++) {
            for (let e = 0; e < s; e++) {
              const v = win[a * s + e]! * sg + d[c * plane + (vh + a) * W + vw + e]! / (1e-12 + n1);
              next[c * s * s + a * s + e] = v;
              nn += v * v;
            }
          }
          const f = budget / (1e-12 + Math.sqrt(nn));
          for (let q = 0; q < s * s; q++) next[c * s * s + q] = next[c * s * s + q]! * f;
        }
        for (let c = 0; c < C; c++) {
          for (let a = 0; a < s; a++) for (let e = 0; e < s; e++) d[c * plane + (vh2 + a) * W + vw2 + e] = 0;
          for (let a = 0; a < s; a++) for (let e = 0; e < s; e++) d[c * plane + (vh + a) * W + vw + e] = next[c * s * s + a * s + e]!;
        }
        let sn = 0;
        for (let q = 0; q < size; q++) sn += d[q]! * d[q]!;
        const f = sn > 0 ? eps / Math.sqrt(sn) : 0;
        for (let q = 0; q < size; q++) cand[b + q] = x[b + q]! + d[q]! * f;
      }
      clamp.apply(cand, b, b + size);
    }
    const m = await margins(cand, active);
    const next: number[] = [];
    active.forEach((i, j) => {
      const b = i * size;
      out.iterations[i] = out.iterations[i]! + 1;
      if (m[j]! < marginBest[i]!) {
        marginBest[i] = m[j]!;
        best.set(cand.subarray(b, b + size), b);
      }
      if (done(i)) out.adv.set(best.subarray(b, b + size), b);
      else next.push(i);
    });
    active = next;
    out.curve.push(active.length);
    input.onIteration?.(it - 1, active.length);
  }
  return out;
}
