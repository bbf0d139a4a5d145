// Standardisation of feature columns: (x − mean) / std with the population std (ddof 0, like scikit-learn's
// StandardScaler). Fitted on the training rows only and applied to the held-out ones, so no statistic of a
// test fold leaks into its detector. A constant column gets std 1 (it then stays 0 and carries no weight).

export interface Standardiser {
  mean: Float64Array;
  std: Float64Array;
}

/** Column means and stds of `rows` (indices into x, [n, p] row-major). */
export function fitStandardiser(x: Float64Array, p: number, rows: ArrayLike<number>): Standardiser {
  const mean = new Float64Array(p);
  const std = new Float64Array(p);
  const n = rows.length;
  if (n === 0) throw new RangeError('fitStandardiser: no rows');
  for (let t = 0; t < n; t++) {
    const base = rows[t]! * p;
    for (let j = 0; j < p; j++) mean[j]! += x[base + j]!;
  }
  for (let j = 0; j < p; j++) mean[j] = mean[j]! / n;
  for (let t = 0; t < n; t++) {
    const base = rows[t]! * p;
    for (let j = 0; j < p; j++) {
      const d = x[base + j]! - mean[j]!;
      std[j]! += d * d;
    }
  }
  for (let j = 0; j < p; j++) {
    const s = Math.sqrt(std[j]! / n);
    // relative to the column's magnitude: a column that is constant up to rounding is constant
    std[j] = s > 1e-12 * Math.max(1, Math.abs(mean[j]!)) ? s : 1;
  }
  return { mean, std };
}

/** The standardised copy of `rows` of x, [rows.length, p]. */
export function standardise(s: Standardiser, x: Float64Array, p: number, rows: ArrayLike<number>): Float64Array {
  const out = new Float64Array(rows.length * p);
  for (let t = 0; t < rows.length; t++) {
    const base = rows[t]! * p;
    for (let j = 0; j < p; j++) out[t * p + j] = (x[base + j]! - s.mean[j]!) / s.std[j]!;
  }
  return out;
}
