// Percentile bootstrap intervals for the ROC AUC. Positives and negatives are resampled separately (with
// replacement, each to its own count), so every resample has both classes and the class balance of the data;
// the interval is the (α/2, 1 − α/2) quantiles of the resampled AUCs. It reflects the sampling of the scored
// examples only — not the variation of the detector's training (the scores are out-of-fold, see detector.ts).

import { mulberry32 } from '../random.js';
import { rocAuc } from './roc.js';

export interface BootstrapOptions {
  /** Number of resamples (default 1000). */
  resamples?: number;
  /** Coverage (default 0.95). */
  level?: number;
  seed?: number;
}

export interface Interval {
  lo: number;
  hi: number;
  level: number;
  resamples: number;
}

/** The q-quantile of sorted values, linearly interpolated (NumPy's default). */
export function quantile(sorted: readonly number[] | Float64Array, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export function bootstrapAuc(scores: ArrayLike<number>, labels: ArrayLike<number>, o: BootstrapOptions = {}): Interval {
  const resamples = o.resamples ?? 1000;
  const level = o.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`bootstrapAuc: resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrapAuc: level must be in (0, 1), got ${level}`);
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < scores.length; i++) (labels[i] === 1 ? pos : neg).push(scores[i]!);
  if (pos.length === 0 || neg.length === 0) throw new RangeError('bootstrapAuc: needs both classes');
  const rand = mulberry32(o.seed ?? 0);
  const s = new Float64Array(pos.length + neg.length);
  const y = new Uint8Array(pos.length + neg.length);
  y.fill(1, 0, pos.length);
  const aucs = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < pos.length; i++) s[i] = pos[Math.floor(rand() * pos.length)]!;
    for (let i = 0; i < neg.length; i++) s[pos.length + i] = neg[Math.floor(rand() * neg.length)]!;
    aucs[b] = rocAuc(s, y);
  }
  aucs.sort();
  const alpha = 1 - level;
  return { lo: quantile(aucs, alpha / 2), hi: quantile(aucs, 1 - alpha / 2), level, resamples };
}
