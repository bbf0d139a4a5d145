// k nearest neighbours by Euclidean distance, batched: every query row against every reference row of a
// [rows, dim] matrix, keeping the k smallest distances per query (ascending). Used by the LID estimate, where
// the queries are a minibatch's clean, noisy and adversarial activations and the references its clean ones.
//
// Distances are accumulated in float64 from the differences themselves, not from ‖a‖² + ‖b‖² − 2a·b: that
// shortcut cancels catastrophically for near neighbours, which are exactly the ones LID is made of.

/** Squared Euclidean distances [nq, nr] between the rows of `q` ([nq, dim]) and `r` ([nr, dim]). */
export function squaredDistances(q: Float32Array, nq: number, r: Float32Array, nr: number, dim: number): Float64Array {
  if (q.length < nq * dim || r.length < nr * dim) throw new RangeError(`squaredDistances: arrays shorter than ${nq}×${dim} and ${nr}×${dim}`);
  const out = new Float64Array(nq * nr);
  for (let i = 0; i < nq; i++) {
    const qi = i * dim;
    for (let j = 0; j < nr; j++) {
      const rj = j * dim;
      let s = 0;
      let p = 0;
      // four partial sums: fewer dependent additions per step, the same result up to rounding
      let s1 = 0, s2 = 0, s3 = 0;
      for (; p + 3 < dim; p += 4) {
        const d0 = q[qi + p]! - r[rj + p]!;
        const d1 = q[qi + p + 1]! - r[rj + p + 1]!;
        const d2 = q[qi + p + 2]! - r[rj + p + 2]!;
        const d3 = q[qi + p + 3]! - r[rj + p + 3]!;
        s += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
      }
      for (; p < dim; p++) {
        const d = q[qi + p]! - r[rj + p]!;
        s += d * d;
      }
      out[i * nr + j] = s + s1 + s2 + s3;
    }
  }
  return out;
}

/**
 * The k smallest distances (not squared, ascending) from each query to the references, [nq, k].
 * `exclude[i]` (optional) is a reference index query i may not use (its own clean version); −1: none.
 */
export function nearestDistances(sq: Float64Array, nq: number, nr: number, k: number, exclude?: Int32Array): Float64Array {
  const usable = nr - (exclude ? 1 : 0);
  if (!Number.isInteger(k) || k < 1 || k > usable) throw new RangeError(`nearestDistances: k = ${k} needs 1 ≤ k ≤ ${usable} references`);
  const out = new Float64Array(nq * k);
  const best = new Float64Array(k);
  for (let i = 0; i < nq; i++) {
    let filled = 0;
    const skip = exclude ? exclude[i]! : -1;
    for (let j = 0; j < nr; j++) {
      if (j === skip) continue;
      const d = sq[i * nr + j]!;
      if (filled < k) {
        // insertion into the sorted prefix
        let p = filled++;
        while (p > 0 && best[p - 1]! > d) {
          best[p] = best[p - 1]!;
          p--;
        }
        best[p] = d;
      } else if (d < best[k - 1]!) {
        let p = k - 1;
        while (p > 0 && best[p - 1]! > d) {
          best[p] = best[p - 1]!;
          p--;
        }
        best[p] = d;
      }
    }
    for (let t = 0; t < k; t++) out[i * k + t] = Math.sqrt(best[t]!);
  }
  return out;
}
