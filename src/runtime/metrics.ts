// Per-sample and aggregate measurements of an attack's outcome on one model.
//   accuracy       fraction of all n samples still classified correctly
//   fooling_rate   of the samples the model got right before the attack, the fraction it gets wrong after
//   rho_all        the paper's ρ̃: mean over ALL samples of ‖x̃ − x‖p / ‖x‖p (0 for untouched samples)
//   rho_success    ART's empirical robustness: the same mean over successful attacks only
//   abs            ‖x̃ − x‖p in attack-space units

import type { AttackResult, Norm } from './report/schema.js';
import { argmax } from './oracle.js';

export interface SampleOutcome {
  index: number;
  label: number;
  clean_pred: number;
  adv_pred: number;
  success: boolean;
  rho: number;
  abs: number;
  iterations: number;
  zero_gradient: boolean;
}

/** The aggregate fields of a report result (same names and meaning as report.json's). */
export type Summary =
  Pick<AttackResult, 'n' | 'accuracy' | 'fooling_rate' | 'rho_all' | 'rho_success' | 'abs_perturbation_mean' | 'iterations_mean'>
  & { zero_gradient_rate: number };

export function perturbation(norm: Norm, x: Float32Array, adv: Float32Array, i: number, size: number): { abs: number; rho: number } {
  let num = 0;
  let den = 0;
  const base = i * size;
  for (let p = base; p < base + size; p++) {
    const d = adv[p]! - x[p]!;
    if (norm === 'l2') {
      num += d * d;
      den += x[p]! * x[p]!;
    } else {
      num = Math.max(num, Math.abs(d));
      den = Math.max(den, Math.abs(x[p]!));
    }
  }
  if (norm === 'l2') {
    num = Math.sqrt(num);
    den = Math.sqrt(den);
  }
  return { abs: num, rho: den > 0 ? num / den : 0 };
}

export function predictions(logits: Float32Array, n: number): Int32Array {
  const classes = logits.length / n;
  return Int32Array.from({ length: n }, (_, i) => argmax(logits, classes, i));
}

export function outcomes(
  norm: Norm, x: Float32Array, adv: Float32Array, size: number, labels: Int32Array, cleanPred: Int32Array, advPred: Int32Array,
  iterations: Int32Array, zeroGradient: Uint8Array, indexOffset = 0,
): SampleOutcome[] {
  return Array.from({ length: labels.length }, (_, i) => {
    const { abs, rho } = perturbation(norm, x, adv, i, size);
    return {
      index: i + indexOffset, label: labels[i]!, clean_pred: cleanPred[i]!, adv_pred: advPred[i]!,
      success: cleanPred[i] === labels[i] && advPred[i] !== labels[i], rho, abs, iterations: iterations[i]!, zero_gradient: zeroGradient[i] === 1,
    };
  });
}

export function summarise(rows: readonly SampleOutcome[], attacked: Uint8Array): Summary {
  const n = rows.length;
  let correct = 0, cleanCorrect = 0, fooled = 0, rho = 0, rhoS = 0, abs = 0, iters = 0, att = 0, zero = 0;
  rows.forEach((r, i) => {
    if (r.adv_pred === r.label) correct++;
    if (r.clean_pred === r.label) cleanCorrect++;
    if (r.success) {
      fooled++;
      rhoS += r.rho;
    }
    rho += r.rho;
    abs += r.abs;
    if (attacked[i]) {
      att++;
      iters += r.iterations;
      if (r.zero_gradient) zero++;
    }
  });
  return {
    n,
    accuracy: n ? correct / n : 0,
    fooling_rate: cleanCorrect ? fooled / cleanCorrect : 0,
    rho_all: n ? rho / n : 0,
    rho_success: fooled ? rhoS / fooled : 0,
    abs_perturbation_mean: n ? abs / n : 0,
    iterations_mean: att ? iters / att : 0,
    zero_gradient_rate: att ? zero / att : 0,
  };
}
