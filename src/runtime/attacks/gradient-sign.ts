// FGSM, the paper's iterative FGSM ("IFGSM/PGD": repeated sign steps of size ε on the cross-entropy, only on
// samples still classified correctly, no projection), and projected PGD (the same steps, projected onto the
// L∞ ball of radius eps around the clean sample, optionally from a random start).

import type { Attack, AttackInput, AttackOutput } from './common.js';
import { finalCheck, gather, gatherLabels, newOutput, padCurve, sampleRandom, STREAM, stillCorrect } from './common.js';

export interface SignAttackOptions {
  name: string;
  /** Step size (the paper's ε). */
  step: number;
  iterations: number;
  /** Radius of the L∞ ball to project onto; null for none (the paper's version). */
  projectEps: number | null;
  /** Uniform random start in the ball (projected variant only). */
  randomStart?: boolean;
  seed?: number;
}

export function signAttack(o: SignAttackOptions): Attack {
  const params: Record<string, number | string | boolean> = { step: o.step, iterations: o.iterations, loss: 'cross-entropy', projection: o.projectEps !== null };
  if (o.projectEps !== null) {
    params['eps'] = o.projectEps;
    params['random_start'] = !!o.randomStart;
  }
  return {
    name: o.name,
    norm: 'linf',
    params,
    async run(input: AttackInput): Promise<AttackOutput> {
      const { oracle, x, labels, n, clamp } = input;
      const size = oracle.space.size;
      const out = newOutput(x, n);
      const adv = out.adv;
      let active = Array.from({ length: n }, (_, i) => i);
      let started = false;
      for (let it = 0; it < o.iterations && active.length > 0; it++) {
        const res = await oracle.crossEntropy(gather(adv, active, size), gatherLabels(labels, active), active.length);
        const classes = res.logits.length / active.length;
        const { keep, rows } = stillCorrect(active, res.logits, labels, classes);
        if (!started) {
          for (const i of keep) out.attacked[i] = 1;
          // random start only for the samples that are attacked; the start counts as part of step 1
          if (o.projectEps !== null && o.randomStart) {
            for (const i of keep) {
              const rnd = sampleRandom(input, o.seed ?? 0, i, STREAM.pgd);
              for (let p = i * size; p < (i + 1) * size; p++) adv[p] = adv[p]! + (2 * rnd() - 1) * o.projectEps;
              clamp.apply(adv, i * size, (i + 1) * size);
            }
          }
        }
        out.curve.push(keep.length);
        input.onIteration?.(it, keep.length);
        keep.forEach((i, r) => {
          const j = rows[r]!;
          const g = res.grad.subarray(j * size, (j + 1) * size);
          let zero = true;
          const base = i * size;
          for (let p = 0; p < size; p++) {
            const gp = g[p]!;
            if (gp !== 0) zero = false;
            const s = gp > 0 ? 1 : gp < 0 ? -1 : 0;
            let v = adv[base + p]! + o.step * s;
            if (o.projectEps !== null) {
              const c = x[base + p]!;
              if (v > c + o.projectEps) v = c + o.projectEps;
              else if (v < c - o.projectEps) v = c - o.projectEps;
            }
            adv[base + p] = v;
          }
          if (!started && zero) out.zeroGradient[i] = 1;
          clamp.apply(adv, base, base + size);
          out.iterations[i] = out.iterations[i]! + 1;
        });
        started = true;
        active = keep;
      }
      if (!started) out.curve.push(0);
      else if (active.length > 0) await finalCheck(input, out, active);
      padCurve(out, o.iterations + 1);
      return out;
    },
  };
}
