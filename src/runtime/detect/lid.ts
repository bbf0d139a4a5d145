// Local intrinsic dimensionality, the maximum-likelihood estimate of Ma et al. (ICLR 2018, arXiv 1801.02613,
// after Amsaleg et al. 2015): from the distances r_1 ≤ … ≤ r_k of a point to its k nearest neighbours,
//
//   LID = −( (1/k) Σ_{i=1..k} log(r_i / r_k) )⁻¹
//
// For points spread with a smooth density on a d-dimensional manifold, E[LID] → d as the sample grows.
// Degenerate neighbourhoods have no finite estimate: all k neighbours at the same distance (the sum is 0,
// LID = +∞) or a neighbour at distance 0 (a duplicate; LID = 0). Those are returned as they are and counted
// by the caller (features.ts), never silently turned into numbers.

/** The LID estimate from `k` ascending distances starting at `from` in `r`. */
export function lidMle(r: ArrayLike<number>, from: number, k: number): number {
  const rk = r[from + k - 1]!;
  if (!(rk > 0)) return 0; // every neighbour coincides with the point
  let s = 0;
  for (let i = 0; i < k; i++) s += Math.log(r[from + i]! / rk);
  // s ≤ 0; s = −∞ when some r_i = 0 (→ 0), s = 0 when all r_i = r_k (→ +∞)
  return s === 0 ? Infinity : -k / s;
}

/** LID of each row of an [n, k] matrix of ascending neighbour distances. */
export function lidRows(dist: Float64Array, n: number, k: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lidMle(dist, i * k, k);
  return out;
}
