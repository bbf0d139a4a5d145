// Per-sample and aggregate measurements of an attack's outcome on one model.
//   accuracy       fraction of all n samples still classified correctly
//   fooling_rate   of the samples the model got right before the attack, the fraction it gets wrong after
//   rho_all        the paper's ρ̃: mean over ALL samples of ‖x̃ − x‖p / ‖x‖p (0 for untouched samples)
//   rho_success    ART's empirical robustness: the same mean over successful attacks only
//   abs            ‖x̃ − x‖p in attack-space units

import type { AttackMode, AttackResult, Norm, WorstCase } from './report/schema.js';
import { argmax } from './oracle.js';
import { type Criterion, misclassification } from './criterion.js';

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
  iterations: Int32Array, zeroGradient: Uint8Array, indexOffset = 0, criterion: Criterion = misclassification,
): SampleOutcome[] {
  return Array.from({ length: labels.length }, (_, i) => {
    const { abs, rho } = perturbation(norm, x, adv, i, size);
    return {
      index: i + indexOffset, label: labels[i]!, clean_pred: cleanPred[i]!, adv_pred: advPred[i]!,
      success: cleanPred[i] === labels[i] && criterion.adversarial(advPred[i]!, labels[i]!, i + indexOffset), rho, abs, iterations: iterations[i]!, zero_gradient: zeroGradient[i] === 1,
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

/** A per-sample outcome of one (κ, attack, mode) cell. */
export type CellRow = { kappa: number; attack: string; mode: AttackMode } & SampleOutcome;

/** Perturbations this much above ε still count as within it (float rounding of projected steps). */
function within(abs: number, eps: number): boolean {
  return abs <= eps * (1 + 1e-5) + 1e-7;
}

/**
 * Worst case over attacks (AutoAttack's robust accuracy): for each κ and each threat model (norm, ε) of the
 * bounded attacks run, a sample is robust when it is classified correctly before any attack and no result of
 * that norm at that κ, in any mode, has a successful example within ε of it. `budgets` gives each attack's
 * ε-ball (null for minimal-perturbation attacks, which count where their example lies within ε).
 */
export function worstCase(
  results: readonly AttackResult[], rows: readonly CellRow[], budgets: ReadonlyMap<string, { norm: Norm; eps: number } | null>,
): WorstCase[] {
  const out: WorstCase[] = [];
  const kappas = [...new Set(results.map((r) => r.kappa))];
  for (const kappa of kappas) {
    const here = results.filter((r) => r.kappa === kappa);
    const models = new Map<string, { norm: Norm; eps: number }>();
    for (const r of here) {
      const b = budgets.get(r.attack);
      if (b) models.set(`${b.norm}:${b.eps}`, b);
    }
    for (const { norm, eps } of models.values()) {
      const cells = here.filter((r) => r.norm === norm);
      const n = cells[0]!.n;
      const broken = new Uint8Array(n);
      const clean = new Uint8Array(n);
      const perCell = cells.map(() => new Uint8Array(n));
      cells.forEach((cell, ci) => {
        for (const row of rows) {
          if (row.kappa !== kappa || row.attack !== cell.attack || row.mode !== cell.mode) continue;
          if (row.clean_pred === row.label) clean[row.index] = 1;
          if (row.success && within(row.abs, eps)) {
            perCell[ci]![row.index] = 1;
            broken[row.index] = 1;
          }
        }
      });
      let robust = 0;
      for (let i = 0; i < n; i++) if (clean[i] && !broken[i]) robust++;
      const unique = perCell.map((b) => {
        let u = 0;
        for (let i = 0; i < n; i++) if (b[i] && perCell.every((o, j) => o === b || !o[i])) u++;
        return u;
      });
      out.push({
        kappa, norm, eps, n, accuracy: n ? robust / n : 0,
        attacks: cells.map((c, ci) => {
          let ok = 0;
          for (let i = 0; i < n; i++) if (clean[i] && !perCell[ci]![i]) ok++;
          return { attack: c.attack, mode: c.mode, accuracy: n ? ok / n : 0 };
        }),
        unique_breaks: unique,
        bound: 'upper bound on robust accuracy',
      });
    }
  }
  return out;
}
