// Random restarts: an attack run again (with another seed) on the samples that every earlier run left
// classified correctly; a sample is robust only if no run breaks it.

import type { Attack, AttackInput, AttackOutput } from './common.js';
import { newOutput, padCurve } from './common.js';
import { mergeSub, stillRobust, subInput } from './subset.js';

/** `make(r)` builds run r (0-based); run 0 sees every sample, later runs only those still robust. */
export function withRestarts(restarts: number, make: (run: number) => Attack): Attack {
  const first = make(0);
  if (restarts <= 1) return first;
  return {
    ...first,
    params: { ...first.params, restarts },
    async run(input: AttackInput): Promise<AttackOutput> {
      return runRestarts(input, restarts, make);
    },
  };
}

export async function runRestarts(input: AttackInput, restarts: number, make: (run: number) => Attack): Promise<AttackOutput> {
  const size = input.oracle.space.size;
  const out = newOutput(input.x, input.n);
  let idx = Array.from({ length: input.n }, (_, i) => i);
  let runLength = 0;
  for (let r = 0; r < restarts && idx.length > 0; r++) {
    const sub = subInput(input, idx);
    const res = await make(r).run(sub);
    runLength = res.curve.length;
    const robust = new Set(await stillRobust(sub, res.adv));
    mergeSub(out, res, idx, size, (j) => !robust.has(j));
    if (r === 0) {
      // samples misclassified before any attack are never attacked, by this run or later ones
      idx = idx.filter((_, j) => res.attacked[j] === 1 && robust.has(j));
    } else {
      idx = idx.filter((_, j) => robust.has(j));
    }
    input.onIteration?.(r, idx.length);
  }
  // the runs that had no sample left keep the curve flat: every run's full length, whatever the samples
  if (runLength > 0) padCurve(out, runLength + (restarts - 1) * (runLength - 1));
  return out;
}
