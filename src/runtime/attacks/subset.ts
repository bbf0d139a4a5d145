// Running an attack on a subset of the samples (restarts, τ sweeps, the samples still unbroken) and merging
// its outcome into the full-batch output.

import type { AttackInput, AttackOutput } from './common.js';
import { gather, gatherLabels } from './common.js';

/** The attack input restricted to samples `idx` (clean x and labels gathered; the clamp box is shared). */
export function subInput(input: AttackInput, idx: readonly number[]): AttackInput {
  const size = input.oracle.space.size;
  const sub: AttackInput = { ...input, x: gather(input.x, idx, size), labels: gatherLabels(input.labels, idx), n: idx.length };
  sub.ids = Int32Array.from(idx, (i) => (input.ids ? input.ids[i]! : i));
  delete sub.onIteration;
  return sub;
}

/** The samples (of `idx`, or all) that `oracle` still classifies correctly at `adv`. */
export async function stillRobust(input: AttackInput, adv: Float32Array, idx?: readonly number[]): Promise<number[]> {
  const size = input.oracle.space.size;
  const all = idx ?? Array.from({ length: input.n }, (_, i) => i);
  if (all.length === 0) return [];
  const logits = await input.oracle.forward(gather(adv, all, size), all.length);
  const classes = logits.length / all.length;
  return all.filter((i, j) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[j * classes + c]! > logits[j * classes + best]!) best = c;
    return best === input.labels[i];
  });
}

/**
 * Copies sub-run results for samples `idx` into `out`: the adversarial example where `take(j)` holds (the
 * sub-run broke sample j), iterations added, attacked/zero-gradient flags or-ed, and the sub-run's curve
 * appended (its first point, the samples it started with, repeats the last point of `out`'s curve).
 */
export function mergeSub(out: AttackOutput, sub: AttackOutput, idx: readonly number[], size: number, take: (j: number) => boolean): void {
  idx.forEach((i, j) => {
    if (take(j)) out.adv.set(sub.adv.subarray(j * size, (j + 1) * size), i * size);
    out.iterations[i] = out.iterations[i]! + sub.iterations[j]!;
    if (sub.attacked[j]) out.attacked[i] = 1;
    if (sub.zeroGradient[j] && out.iterations[i] === sub.iterations[j]) out.zeroGradient[i] = 1;
  });
  const base = out.curve.length ? out.curve[out.curve.length - 1]! - (sub.curve[0] ?? 0) : 0;
  const from = out.curve.length ? 1 : 0;
  for (let t = from; t < sub.curve.length; t++) out.curve.push(base + sub.curve[t]!);
}
