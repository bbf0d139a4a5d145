// LID features (Ma et al. 2018, §4): for every sample, its clean, noisy and adversarial versions are each
// described by one LID estimate per layer. The estimate is taken in a minibatch of B clean samples: a point's
// neighbours are the k nearest clean activations of its minibatch in that layer, leaving out the sample's own
// clean version (Ma et al.'s code drops the nearest neighbour of every point, which for the clean point is
// itself and for its noisy and adversarial versions almost always their clean original; leaving the original
// out by index says that directly). k is capped at B − 1.
//
// The samples are split into ⌈n/B⌉ minibatches of near-equal size (not B, B, …, remainder), so no minibatch
// is much smaller than B. Non-finite estimates (all k neighbours equidistant, LID = +∞) are replaced by the
// largest finite value of their column and counted.

import { lidRows } from './lid.js';
import { nearestDistances, squaredDistances } from './knn.js';

export interface LidFeatureOptions {
  /** Clean samples per minibatch (B, default 100). */
  batch: number;
  /** Neighbours (k, default 20). */
  k: number;
}

export interface LidFeatures {
  /** [n · versions, layers], row i·versions + v = sample i, version v. */
  x: Float64Array;
  rows: number;
  layers: number;
  /** The k actually used (the smallest over the minibatches, ≤ B − 1). */
  kUsed: number;
  minibatches: number;
  /** Estimates that were +∞ and were replaced, per layer. */
  nonFinite: number[];
}

/** Minibatch boundaries: ⌈n/B⌉ ranges whose sizes differ by at most one. */
export function minibatches(n: number, batch: number): Array<[number, number]> {
  const m = Math.max(1, Math.ceil(n / batch));
  const out: Array<[number, number]> = [];
  for (let b = 0; b < m; b++) out.push([Math.floor((b * n) / m), Math.floor(((b + 1) * n) / m)]);
  return out;
}

/**
 * LID estimates of one minibatch: `acts[v][l]` holds version v's activations (0 = clean, the neighbour pool) at
 * layer l, [size, dims[l]]. Returns [size · versions, layers], row j·versions + v; k is capped at size − 1.
 */
export type SquaredDistances = (q: Float32Array, nq: number, r: Float32Array, nr: number, dim: number) => Float64Array | Promise<Float64Array>;

export async function minibatchLid(
  acts: Float32Array[][], dims: readonly number[], size: number, kWanted: number, distances: SquaredDistances = squaredDistances,
): Promise<{ x: Float64Array; k: number }> {
  const versions = acts.length;
  const layers = dims.length;
  if (size < 2) throw new RangeError(`LID needs a minibatch of at least 2 samples, got ${size}`);
  if (!Number.isInteger(kWanted) || kWanted < 1) throw new RangeError(`k must be a positive integer, got ${kWanted}`);
  const k = Math.min(kWanted, size - 1);
  const x = new Float64Array(size * versions * layers);
  // all versions' rows against the clean rows in one call (one Gram matrix for wide layers); row v·size + j
  // may not use reference j, its own clean version
  const exclude = Int32Array.from({ length: versions * size }, (_, t) => t % size);
  for (let l = 0; l < layers; l++) {
    const d = dims[l]!;
    const ref = acts[0]![l]!;
    const q = new Float32Array(versions * size * d);
    for (let v = 0; v < versions; v++) q.set(acts[v]![l]!.subarray(0, size * d), v * size * d);
    const lid = lidRows(nearestDistances(await distances(q, versions * size, ref, size, d), versions * size, size, k, exclude), versions * size, k);
    for (let v = 0; v < versions; v++) for (let j = 0; j < size; j++) x[(j * versions + v) * layers + l] = lid[v * size + j]!;
  }
  return { x, k };
}

/** Replaces non-finite entries of each column by its largest finite value (0 if none); counts per column. */
export function replaceNonFinite(x: Float64Array, rows: number, layers: number): number[] {
  const counts = new Array<number>(layers).fill(0);
  for (let l = 0; l < layers; l++) {
    let max = -Infinity;
    for (let r = 0; r < rows; r++) {
      const v = x[r * layers + l]!;
      if (Number.isFinite(v) && v > max) max = v;
    }
    for (let r = 0; r < rows; r++) {
      if (!Number.isFinite(x[r * layers + l]!)) {
        x[r * layers + l] = Number.isFinite(max) ? max : 0;
        counts[l]!++;
      }
    }
  }
  return counts;
}

/** All minibatches at once, for activations held in memory: `acts[v][l]` is [n, dims[l]]. */
export async function lidFeatures(
  acts: Float32Array[][], dims: readonly number[], n: number, o: LidFeatureOptions, distances: SquaredDistances = squaredDistances,
): Promise<LidFeatures> {
  const versions = acts.length;
  const layers = dims.length;
  if (!Number.isInteger(o.batch) || o.batch < 2) throw new RangeError(`the minibatch needs at least 2 samples, got ${o.batch}`);
  const x = new Float64Array(n * versions * layers);
  let kUsed = o.k;
  const ranges = minibatches(n, o.batch);
  for (const [s, e] of ranges) {
    const part = acts.map((layersOfV) => layersOfV.map((a, l) => a.subarray(s * dims[l]!, e * dims[l]!)));
    const { x: chunk, k } = await minibatchLid(part, dims, e - s, o.k, distances);
    kUsed = Math.min(kUsed, k);
    x.set(chunk, s * versions * layers);
  }
  const nonFinite = replaceNonFinite(x, n * versions, layers);
  return { x, rows: n * versions, layers, kUsed, minibatches: ranges.length, nonFinite };
}
