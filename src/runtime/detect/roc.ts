// The receiver operating characteristic of a score (larger = more likely positive) and the area under it.
// Tied scores form one step (a diagonal segment), so the trapezoidal area equals the Mann–Whitney probability
// P(score⁺ > score⁻) + ½ P(score⁺ = score⁻) — scikit-learn's roc_auc_score.

export interface RocCurve {
  /** False and true positive rates, from (0, 0) to (1, 1), one point per distinct threshold. */
  fpr: number[];
  tpr: number[];
  /** The score at or above which a sample is called positive; +∞ for the first point. */
  thresholds: number[];
}

function counts(labels: ArrayLike<number>, n: number): { pos: number; neg: number } {
  let pos = 0;
  for (let i = 0; i < n; i++) if (labels[i] === 1) pos++;
  return { pos, neg: n - pos };
}

/** The ROC curve; needs at least one positive and one negative. */
export function rocCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): RocCurve {
  const n = scores.length;
  const { pos, neg } = counts(labels, n);
  if (pos === 0 || neg === 0) throw new RangeError(`rocCurve: needs both classes (positives ${pos}, negatives ${neg})`);
  for (let i = 0; i < n; i++) if (Number.isNaN(scores[i]!)) throw new RangeError('rocCurve: a score is NaN');
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const fpr = [0];
  const tpr = [0];
  const thresholds = [Infinity];
  let tp = 0;
  let fp = 0;
  for (let t = 0; t < n; ) {
    const s = scores[order[t]!]!;
    while (t < n && scores[order[t]!]! === s) {
      if (labels[order[t]!] === 1) tp++;
      else fp++;
      t++;
    }
    fpr.push(fp / neg);
    tpr.push(tp / pos);
    thresholds.push(s);
  }
  return { fpr, tpr, thresholds };
}

/** Trapezoidal area under a curve given by increasing x. */
export function areaUnder(x: readonly number[], y: readonly number[]): number {
  let a = 0;
  for (let i = 1; i < x.length; i++) a += (x[i]! - x[i - 1]!) * (y[i]! + y[i - 1]!) / 2;
  return a;
}

/** ROC AUC of the scores. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const c = rocCurve(scores, labels);
  return areaUnder(c.fpr, c.tpr);
}

/**
 * The curve at fixed false positive rates (the largest TPR reached at FPR ≤ each grid value), for plots:
 * a few dozen points draw the step curve faithfully where thousands of markers would not.
 */
export function rocOnGrid(c: RocCurve, grid: readonly number[]): Array<[number, number]> {
  return grid.map((g) => {
    let best = 0;
    for (let i = 0; i < c.fpr.length; i++) if (c.fpr[i]! <= g + 1e-12) best = Math.max(best, c.tpr[i]!);
    return [g, best] as [number, number];
  });
}
