// What every attack shares: the result record, the active set (per-sample early stopping: only samples the
// crafting model still classifies correctly keep being attacked), gather/scatter of sub-batches, norms.

import type { Norm } from '../report/schema.js';
import { argmax, type Oracle } from '../oracle.js';
import type { Clamp } from '../space.js';
import { sampleStream } from '../random.js';

export interface AttackInput {
  oracle: Oracle;
  /** Clean samples in the attack space, n × size. */
  x: Float32Array;
  labels: Int32Array;
  n: number;
  clamp: Clamp;
  /**
   * BPDA: an oracle with the same forward pass whose JumpReLU derivatives are those of the smooth surrogate
   * z·σ((z − κ)/τ); null when the model has no JumpReLU with κ > 0 (the surrogate would be the model itself).
   */
  surrogate?: ((tau: number) => Promise<Oracle>) | null;
  /**
   * Each sample's index in the whole evaluated set (default: 0 … n−1): what seeds its random stream
   * (sampleRandom), so a sample's attack does not depend on the batch, shard or subset it runs in.
   */
  ids?: Int32Array;
  /** Called after each iteration with (iteration, samples still correct on the crafting model). */
  onIteration?: (iteration: number, stillCorrect: number) => void;
}

export interface AttackOutput {
  adv: Float32Array;
  /** Steps applied to each sample. */
  iterations: Int32Array;
  /** 1 when the sample was correctly classified at the start, so it was attacked. */
  attacked: Uint8Array;
  /** 1 when the first gradient the attack took for the sample was exactly zero. */
  zeroGradient: Uint8Array;
  /** curve[t]: samples still correct on the crafting model after t steps (t = 0 … iterations run). */
  curve: number[];
}

/** The threat model of an attack bounded by a radius: perturbations with ‖x̃ − x‖_norm ≤ eps. */
export interface Budget {
  norm: Norm;
  eps: number;
}

export interface Attack {
  name: string;
  norm: Norm;
  /**
   * Where its gradients come from: the oracle's own (default), a BPDA surrogate it builds itself through
   * AttackInput.surrogate (so it is adaptive by construction), or none (score-based: logits only).
   */
  gradient?: 'model' | 'surrogate' | 'none';
  /** The ε-ball it searches, when it has one (minimal-perturbation attacks such as DeepFool have none). */
  budget?: Budget;
  /** Parameters as recorded in the report. */
  params: Record<string, number | string | boolean>;
  run(input: AttackInput): Promise<AttackOutput>;
}

export function newOutput(x: Float32Array, n: number): AttackOutput {
  return {
    adv: x.slice(), iterations: new Int32Array(n), attacked: new Uint8Array(n), zeroGradient: new Uint8Array(n), curve: [],
  };
}

/** Copies samples `idx` of `src` into a dense sub-batch. */
export function gather(src: Float32Array, idx: readonly number[], size: number): Float32Array {
  const out = new Float32Array(idx.length * size);
  idx.forEach((i, j) => out.set(src.subarray(i * size, (i + 1) * size), j * size));
  return out;
}

export function gatherLabels(labels: Int32Array, idx: readonly number[]): Int32Array {
  return Int32Array.from(idx, (i) => labels[i]!);
}

export function l2(v: Float32Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

export function l1(v: Float32Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += Math.abs(v[i]!);
  return s;
}

export function linf(v: Float32Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s = Math.max(s, Math.abs(v[i]!));
  return s;
}

/** Splits the active samples into those still correct (kept) and the rest, from logits of the sub-batch. */
export function stillCorrect(active: number[], logits: Float32Array, labels: Int32Array, classes: number): { keep: number[]; rows: number[] } {
  const keep: number[] = [];
  const rows: number[] = [];
  active.forEach((i, j) => {
    if (argmax(logits, classes, j) === labels[i]) {
      keep.push(i);
      rows.push(j);
    }
  });
  return { keep, rows };
}

/** Final check of the samples still active after the last step (a forward pass, no gradient). */
export async function finalCheck(input: AttackInput, out: AttackOutput, active: number[], extra = 0): Promise<void> {
  const size = input.oracle.space.size;
  if (active.length === 0) {
    out.curve.push(extra);
    return;
  }
  const logits = await input.oracle.forward(gather(out.adv, active, size), active.length);
  const classes = logits.length / active.length;
  out.curve.push(stillCorrect(active, logits, input.labels, classes).keep.length + extra);
}

export function numberParam(params: Record<string, number | string | boolean>, key: string): number {
  const v = params[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`attack parameter ${key} is not a number`);
  return v;
}

/** Salts of the attacks' random streams: attacks with the same seed draw different numbers. */
export const STREAM = { pgd: 1, apgd: 2, square: 3 } as const;

/**
 * The random stream of sample `i` of this input for attack `salt` (STREAM) seeded with `seed`: per sample (see
 * AttackInput.ids), so the draws do not depend on the batch, the shard or the subset the sample runs in.
 */
export function sampleRandom(input: AttackInput, seed: number, i: number, salt: number): () => number {
  return sampleStream(seed, input.ids ? input.ids[i]! : i, salt);
}

/**
 * Pads a curve to the length a run over any set of samples gives (`length`: the iteration schedule's), with its
 * last value: a run stops early once no sample is left, and the samples it would still count stay where they
 * are. Full-length curves add up over disjoint sample sets, which is what merging shards relies on.
 */
export function padCurve(out: AttackOutput, length: number): void {
  const last = out.curve.length ? out.curve[out.curve.length - 1]! : 0;
  while (out.curve.length < length) out.curve.push(last);
}
