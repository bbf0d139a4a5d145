// The masking-aware verdict: what a person reads first in a report. Per κ it compares white-box, adaptive (κ_grad,
// BPDA) and gray-box attacks — and a score-based attack against the white-box gradient attacks — on accuracy and
// on ρ̃, with tests that account for the sample count, and sums up in a few lines: clean accuracy cost, robust
// accuracy gain under the strongest attack (the worst case over attacks), and how much of the white-box ρ̃ gain
// survives adaptive attack.
//
// Tests (paired: the same samples are attacked both ways)
//   accuracy  McNemar's exact test: b = samples robust under the white-box attack but broken by the other one,
//             c = the reverse; masking evidence when P(X ≥ b | X ~ Bin(b + c, ½)) < 0.01. Two samples of 300
//             (b = 2, c = 0: p = 0.25) are no evidence; thirty are.
//   ρ̃        mean of the per-sample differences d = ρ_white − ρ_other, evidence when it exceeds 2.58 standard
//             errors (one-sided 0.5 %) and the other attack's ρ̃ is below 80 % of the white-box one (a material gap).

import type { CellRow } from './metrics.js';
import type { AttackResult, CleanResult, MaskingFinding, Verdict, VerdictKappa, WorstCase } from './report/schema.js';

const P_MAX = 0.01;
const Z = 2.58;
const RHO_RATIO = 0.8;

/** One-sided exact binomial tail P(X ≥ b), X ~ Bin(b + c, ½). */
export function mcnemarP(b: number, c: number): number {
  const n = b + c;
  if (n === 0 || b === 0) return 1;
  // Σ_{k ≥ b} C(n, k) / 2^n in logs
  let logC = 0; // log C(n, 0)
  const terms: number[] = [];
  for (let k = 0; k <= n; k++) {
    if (k > 0) logC += Math.log(n - k + 1) - Math.log(k);
    if (k >= b) terms.push(logC - n * Math.LN2);
  }
  const m = Math.max(...terms);
  return Math.min(1, Math.exp(m) * terms.reduce((s, t) => s + Math.exp(t - m), 0));
}

/** Paired ρ difference: mean and its standard error. */
export function pairedDifference(a: readonly number[], b: readonly number[]): { mean: number; se: number } {
  const n = Math.min(a.length, b.length);
  if (n < 2) return { mean: 0, se: Infinity };
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i]! - b[i]!;
  const mean = s / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (a[i]! - b[i]! - mean) ** 2;
  return { mean, se: Math.sqrt(v / (n - 1) / n) };
}

function pct(v: number): string {
  return `${(100 * v).toFixed(1)} %`;
}

function pts(v: number): string {
  return `${v >= 0 ? '+' : '−'}${Math.abs(100 * v).toFixed(1)} pts`;
}

type Cell = { attack: string; mode: string };
const label = (c: Cell & { gradient?: string | undefined }) => `${c.attack} ${c.mode}${c.gradient ? ` (${c.gradient})` : ''}`;

/** Evidence of gradient masking at each κ (see the header). */
export function maskingFindings(results: readonly AttackResult[], rows: readonly CellRow[], worst: readonly WorstCase[]): MaskingFinding[] {
  const out: MaskingFinding[] = [];
  const byCell = new Map<string, CellRow[]>();
  for (const r of rows) {
    const key = `${r.kappa}\u0000${r.attack}\u0000${r.mode}`;
    let list = byCell.get(key);
    if (!list) byCell.set(key, (list = []));
    list[r.index] = r;
  }
  const cell = (kappa: number, attack: string, mode: string) => byCell.get(`${kappa}\u0000${attack}\u0000${mode}`);
  const seen = new Set<string>();
  const compare = (kappa: number, white: AttackResult, other: AttackResult, why: string) => {
    const key = `${kappa}\u0000${white.attack}\u0000${other.attack}\u0000${other.mode}`;
    if (seen.has(key)) return;
    seen.add(key);
    const w = cell(kappa, white.attack, white.mode);
    const o = cell(kappa, other.attack, other.mode);
    if (!w || !o) return;
    let b = 0;
    let c = 0;
    const n = Math.min(w.length, o.length);
    for (let i = 0; i < n; i++) {
      if (!w[i] || !o[i] || w[i]!.clean_pred !== w[i]!.label) continue;
      if (!w[i]!.success && o[i]!.success) b++;
      else if (w[i]!.success && !o[i]!.success) c++;
    }
    const p = mcnemarP(b, c);
    if (p < P_MAX) {
      out.push({
        kappa, metric: 'accuracy', attack: other.attack, mode: other.mode, against: white.attack, white: white.accuracy, other: other.accuracy,
        statistic: p, message: `κ=${kappa}: ${label(other)} leaves accuracy ${pct(other.accuracy)}, below white-box ${white.attack}'s ${pct(white.accuracy)} — ${b} samples it breaks survive the white-box attack, ${c} the other way (McNemar p = ${p.toExponential(1)}); ${why}`,
      });
    }
    if (white.norm === other.norm && !white.eps && !other.eps) {
      const d = pairedDifference(w.map((r) => r?.rho ?? 0), o.map((r) => r?.rho ?? 0));
      if (d.mean > Z * d.se && other.rho_all < RHO_RATIO * white.rho_all) {
        out.push({
          kappa, metric: 'rho', attack: other.attack, mode: other.mode, against: white.attack, white: white.rho_all, other: other.rho_all,
          statistic: d.se > 0 ? d.mean / d.se : Infinity,
          message: `κ=${kappa}: ${label(other)} finds ρ̃ ${pct(other.rho_all)}, below white-box ${white.attack}'s ${pct(white.rho_all)} (difference ${(d.mean / d.se).toFixed(1)} standard errors); ${why}`,
        });
      }
    }
  };
  for (const r of results) {
    if (r.mode === 'white-box') continue;
    if (r.mode === 'gray-box' && r.kappa === r.source_kappa) continue;
    const white = results.find((x) => x.kappa === r.kappa && x.attack === r.attack && x.mode === 'white-box');
    if (white) compare(r.kappa, white, r, r.mode === 'adaptive' ? 'the white-box gradient hides how close the boundary is' : 'examples made on another model transfer better than the model\'s own gradients find');
  }
  // per threat model: anything that is not a white-box gradient attack against the strongest white-box gradient attack
  for (const wc of worst) {
    const cells = results.filter((r) => r.kappa === wc.kappa && wc.attacks.some((a) => a.attack === r.attack && a.mode === r.mode));
    const whiteGradient = cells.filter((r) => r.mode === 'white-box' && r.eps === wc.eps && !/^square/.test(r.attack));
    if (whiteGradient.length === 0) continue;
    const strongest = whiteGradient.reduce((a, b) => (b.accuracy < a.accuracy ? b : a));
    for (const r of cells) {
      // bounded attacks of this ε only: a minimal-perturbation attack's successes lie at any distance
      if (whiteGradient.includes(r) || r.eps !== wc.eps) continue;
      const why = /^square/.test(r.attack) ? 'a gradient-free attack beating the gradient attacks is the sign of masked gradients' : 'the white-box gradient hides how close the boundary is';
      compare(wc.kappa, strongest, r, why);
    }
  }
  return out;
}

/**
 * The worst-case rows (one per κ) of the headline threat model: of the (norm, ε) pairs run, the one with the
 * most attacks counted; empty when no bounded attack ran. The verdict and tune's objective both read it.
 */
export function headlineThreatModel(worst: readonly WorstCase[]): WorstCase[] {
  const models = new Map<string, WorstCase[]>();
  for (const w of worst) {
    const key = `${w.norm}:${w.eps}`;
    let list = models.get(key);
    if (!list) models.set(key, (list = []));
    list.push(w);
  }
  return [...models.values()].sort((a, b) => b[0]!.attacks.length - a[0]!.attacks.length)[0] ?? [];
}

/** The verdict of a run: per κ the figures, and the lines a person reads first. */
export function verdict(
  clean: readonly CleanResult[], results: readonly AttackResult[], worst: readonly WorstCase[], findings: readonly MaskingFinding[],
): Verdict {
  const ref = clean.find((c) => c.kappa === 0);
  const kappas: VerdictKappa[] = [];
  const main = headlineThreatModel(worst);
  const refWorst = main.find((w) => w.kappa === 0);
  // the minimal-perturbation attack run both white-box and adaptively, for the ρ̃ gain
  // (DeepFool first, the paper's headline figure; then trust region; ifgsm last)
  const rank = (a: string) => (/^deepfool/.test(a) ? 0 : /^tr/.test(a) ? 1 : 2);
  const rhoAttack = results
    .filter((r) => r.eps === undefined && r.mode === 'adaptive' && results.some((x) => x.attack === r.attack && x.mode === 'white-box'))
    .sort((a, b) => rank(a.attack) - rank(b.attack))[0]?.attack;
  for (const c of clean) {
    const v: VerdictKappa = { kappa: c.kappa, clean_accuracy: c.accuracy, masking: findings.some((f) => f.kappa === c.kappa) };
    if (ref) v.clean_cost = ref.accuracy - c.accuracy;
    const w = main.find((x) => x.kappa === c.kappa);
    if (w) {
      v.worst_case = { norm: w.norm, eps: w.eps, accuracy: w.accuracy, attacks: w.attacks.length };
      if (refWorst) v.worst_case.gain = w.accuracy - refWorst.accuracy;
    }
    if (rhoAttack) {
      const wb = (k: number) => results.find((r) => r.kappa === k && r.attack === rhoAttack && r.mode === 'white-box')?.rho_all;
      const ad = results.filter((r) => r.kappa === c.kappa && r.attack === rhoAttack && r.mode === 'adaptive').map((r) => r.rho_all);
      const w0 = wb(0);
      const wk = wb(c.kappa);
      if (w0 !== undefined && wk !== undefined && ad.length) {
        const worstAd = Math.min(wk, ...ad);
        const gain = wk - w0;
        v.rho = { attack: rhoAttack, white_box_gain: gain, adaptive_gain: worstAd - w0, ...(gain > 0 ? { survives: Math.max(0, (worstAd - w0) / gain) } : {}) };
      }
    }
    kappas.push(v);
  }
  const lines: string[] = [];
  const candidates = kappas.filter((k) => k.kappa !== 0);
  const gained = candidates.filter((k) => (k.worst_case?.gain ?? 0) > 0);
  if (candidates.length && main.length && refWorst) {
    const best = candidates.reduce((a, b) => ((b.worst_case?.accuracy ?? -1) > (a.worst_case?.accuracy ?? -1) ? b : a));
    const wc = best.worst_case;
    if (!wc || gained.length === 0) {
      lines.push(`No κ raises robust accuracy under the strongest attacks (${refWorst.norm === 'linf' ? 'L∞' : 'L2'} ε = ${refWorst.eps}, worst case over ${refWorst.attacks.length} attack/mode results): ReLU keeps ${pct(refWorst.accuracy)}, the best κ (${best.kappa}) ${wc ? pct(wc.accuracy) : '—'}.`);
    } else {
      lines.push(`Best κ = ${best.kappa}: robust accuracy ${pct(wc.accuracy)} vs ${pct(refWorst.accuracy)} for ReLU (${pts(wc.gain ?? 0)}) under the worst case over ${wc.attacks} attack/mode results (${wc.norm === 'linf' ? 'L∞' : 'L2'} ε = ${wc.eps}).`);
    }
  }
  // a line per κ > 0; κ = 0 too when it is all there is or shows masking itself
  if (worst.length === 0) {
    lines.push('No bounded attack ran (pgd, apgd-*, square*, bpda, fgsm with an ε): there is no worst-case robust accuracy, only ρ̃ and accuracy per attack.');
  }
  for (const k of kappas.filter((x) => x.kappa !== 0 || x.masking || kappas.length === 1)) {
    const parts: string[] = [`κ=${k.kappa}:`];
    if (k.clean_cost !== undefined && k.kappa !== 0) parts.push(`clean accuracy ${pct(k.clean_accuracy)} (${pts(-k.clean_cost)});`);
    if (k.kappa === 0) parts.push(`clean accuracy ${pct(k.clean_accuracy)};`);
    if (k.worst_case) parts.push(`worst-case robust accuracy ${pct(k.worst_case.accuracy)}${k.worst_case.gain !== undefined && k.kappa !== 0 ? ` (${pts(k.worst_case.gain)} vs ReLU)` : ''};`);
    if (k.rho && k.kappa !== 0) {
      parts.push(k.rho.survives !== undefined
        ? `${Math.round(100 * k.rho.survives)} % of the white-box ρ̃ gain (${pts(k.rho.white_box_gain)}, ${k.rho.attack}) survives adaptive attack;`
        : `no white-box ρ̃ gain (${k.rho.attack});`);
    }
    parts.push(k.masking ? 'GRADIENT MASKING: the white-box figures overstate robustness (see the masking findings).' : 'no masking evidence.');
    lines.push(parts.join(' '));
  }
  if (worst.length) lines.push('Robust accuracies are upper bounds on true robust accuracy: a stronger attack could lower them.');
  return { lines, kappas, masking: [...findings] };
}
