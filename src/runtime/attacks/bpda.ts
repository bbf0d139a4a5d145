// BPDA (Athalye, Carlini, Wagner, ICML 2018) against JumpReLU: the forward pass is the real model; the backward
// pass replaces each JumpReLU J(z) = z·1[z > κ] by the smooth relaxation z·σ((z − κ)/τ), whose derivative the
// gradient compiler emits (surrogateTau). A small sweep over τ picks the strongest per sample: the base attack
// runs with τ₁ on every sample, then with τ₂ on the samples τ₁ left unbroken, and so on; a sample is robust
// only if no τ breaks it (success is always checked on the real model).

import type { Attack, AttackInput, AttackOutput } from './common.js';
import { newOutput, padCurve } from './common.js';
import { mergeSub, stillRobust, subInput } from './subset.js';

export interface BpdaOptions {
  name: string;
  taus: number[];
  /** The gradient attack run with the surrogate's gradients (PGD or APGD-CE, restarts included). */
  base: Attack;
}

export function bpda(o: BpdaOptions): Attack {
  return {
    name: o.name,
    norm: o.base.norm,
    gradient: 'surrogate',
    ...(o.base.budget ? { budget: o.base.budget } : {}),
    params: { ...o.base.params, taus: o.taus.join(','), tau_choice: 'per sample (broken if any τ breaks it)' },
    async run(input: AttackInput): Promise<AttackOutput> {
      // No JumpReLU above κ = 0: the surrogate's gradient is the model's own; one plain run.
      if (!input.surrogate) return o.base.run(input);
      const size = input.oracle.space.size;
      const out = newOutput(input.x, input.n);
      let idx = Array.from({ length: input.n }, (_, i) => i);
      let runLength = 0;
      for (const [t, tau] of o.taus.entries()) {
        if (idx.length === 0) break;
        const surrogate = await input.surrogate(tau);
        const sub = subInput(input, idx);
        sub.oracle = surrogate;
        const res = await o.base.run(sub);
        runLength = res.curve.length;
        const real = { ...sub, oracle: input.oracle };
        const robust = new Set(await stillRobust(real, res.adv));
        mergeSub(out, res, idx, size, (j) => !robust.has(j));
        idx = idx.filter((_, j) => (t > 0 || res.attacked[j] === 1) && robust.has(j));
        input.onIteration?.(t, idx.length);
      }
      // τ runs with no sample left keep the curve flat (full length whatever the samples: shards add up)
      if (runLength > 0) padCurve(out, runLength + (o.taus.length - 1) * (runLength - 1));
      return out;
    },
  };
}
