// κ selection: sweep candidate κ values (or, scale-aware, per-layer κ_l = a quantile of layer l's positive
// pre-activations on the evaluated samples), attack each, and pick the most robust candidate whose clean
// accuracy is within the budget of the ReLU model's (κ = 0).

import { runVerified } from '../ir/verify.js';
import * as ort from 'onnxruntime-node';
import { UsageError } from '../ir/errors.js';
import { loadModel, sessionBytes } from '../ir/io.js';
import { DataType } from '../ir/tensor.js';
import { type KappaMap, parseKappaMap } from '../passes/kappa-map.js';
import { findSites } from '../passes/sites.js';
import { freeBatchDimension } from '../autodiff/index.js';
import { ValueInfo } from '../ir/value-info.js';
import { type ModelSource, classifierInterface } from './oracle.js';
import { adaptInterface } from './model-interface.js';
import { prepareClassifier } from './input-convention.js';
import type { AttackResult, CleanResult, Tuning, TuningCandidate, WorstCase } from './report/schema.js';
import type { SpaceMap } from './space.js';
import { headlineThreatModel } from './verdict.js';

export type Objective = 'rho_all' | 'accuracy';

/** Positive pre-activation values of every ReLU site, on samples x (attack space); returns the quantiles. */
export async function siteQuantiles(
  modelPath: string | ModelSource, x: Float32Array, n: number, space: SpaceMap, quantiles: readonly number[], threads: number, batch: number,
): Promise<{ sites: Array<{ key: string; node: string }>; kappas: number[][] }> {
  const src = typeof modelPath === 'string' ? { path: modelPath } : modelPath;
  const model = loadModel(src.path);
  if (src.interface) adaptInterface(model, src.interface);
  prepareClassifier(model); // the same float NCHW input and logits output the oracles run
  const { input } = classifierInterface(model);
  freeBatchDimension(model);
  const sites = findSites(model).filter((s) => s.kind === 'relu' && s.graphPath === 'main');
  if (sites.length === 0) throw new UsageError('the model has no ReLU in its main graph to tune');
  const g = model.graph;
  const names: string[] = [];
  runVerified(model, 'tune probes', () => {
    for (const s of sites) {
      const v = s.node.inputs[0];
      if (!v) throw new UsageError(`ReLU '${s.node.label}' has no input`);
      if (!g.hasOutput(v)) g.addOutput(v, ValueInfo.tensor(DataType.FLOAT, null));
      names.push(v.name);
    }
  }, false);
  const session = await ort.InferenceSession.create(sessionBytes(model), { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const positives: number[][] = sites.map(() => []);
  const { channels, height, width } = space.shape;
  for (let start = 0; start < n; start += batch) {
    const m = Math.min(batch, n - start);
    const xin = space.toModel(x.subarray(start * space.size, (start + m) * space.size));
    const out = await session.run({ [input]: new ort.Tensor('float32', xin, [m, channels, height, width]) });
    names.forEach((name, j) => {
      const d = out[name]!.data as Float32Array;
      const acc = positives[j]!;
      // a deterministic subsample keeps memory bounded on big layers
      const stride = Math.max(1, Math.floor(d.length / 200000));
      for (let i = 0; i < d.length; i += stride) if (d[i]! > 0) acc.push(d[i]!);
    });
  }
  await session.release();
  const kappas = positives.map((vals) => {
    vals.sort((a, b) => a - b);
    return quantiles.map((q) => {
      if (vals.length === 0 || q <= 0) return 0;
      const pos = Math.min(vals.length - 1, Math.max(0, q * (vals.length - 1)));
      const lo = Math.floor(pos);
      const hi = Math.ceil(pos);
      return vals[lo]! + (vals[hi]! - vals[lo]!) * (pos - lo);
    });
  });
  return { sites: sites.map((s) => ({ key: `#${s.index}`, node: s.node.label })), kappas };
}

/** Kappa maps (by site index) for each quantile. */
export function quantileMaps(q: { sites: Array<{ key: string }>; kappas: number[][] }, quantiles: readonly number[]): Map<number, KappaMap> {
  const maps = new Map<number, KappaMap>();
  quantiles.forEach((quantile, j) => {
    const json: Record<string, number> = {};
    q.sites.forEach((s, i) => (json[s.key] = q.kappas[i]![j]!));
    maps.set(quantile, parseKappaMap(json));
  });
  return maps;
}

/**
 * Picks the candidate that maximises robustness (ρ̃ over all samples, or accuracy under attack) among those
 * whose clean accuracy is at most `maxDropPoints` percentage points below the reference (the first
 * candidate, κ = 0). Ties go to the smaller κ.
 */
export function chooseKappa(
  clean: readonly CleanResult[], results: readonly AttackResult[], attack: string, mode: string, objective: Objective, maxDropPoints: number,
): Tuning {
  const ref = clean.find((c) => c.kappa === 0) ?? clean[0];
  const candidates: TuningCandidate[] = clean.map((c) => {
    const r = results.find((x) => x.kappa === c.kappa && x.attack === attack && x.mode === mode);
    return { kappa: c.kappa, clean_accuracy: c.accuracy, robust_accuracy: r?.accuracy ?? 0, rho_all: r?.rho_all ?? 0 };
  });
  let best: TuningCandidate | null = null;
  for (const c of candidates) {
    if (!ref || (ref.accuracy - c.clean_accuracy) * 100 > maxDropPoints + 1e-9) continue;
    const score = objective === 'rho_all' ? c.rho_all : c.robust_accuracy;
    const bestScore = best ? (objective === 'rho_all' ? best.rho_all : best.robust_accuracy) : -Infinity;
    if (score > bestScore + 1e-12 || (best && Math.abs(score - bestScore) <= 1e-12 && c.kappa < best.kappa)) best = c;
  }
  return {
    max_accuracy_drop: maxDropPoints,
    objective: `${objective === 'rho_all' ? 'maximise rho_all' : 'maximise accuracy under attack'} (${attack}, ${mode}) with clean accuracy at most ${maxDropPoints} points below κ=${ref?.kappa ?? 0}`,
    chosen_kappa: best ? best.kappa : null,
    candidates,
  };
}

/**
 * What `tune` optimises: the worst case over every attack and mode run (adaptive ones included), never the
 * white-box figure alone. objective 'accuracy': robust accuracy under the worst case of the threat model with
 * the most attacks counted; 'rho_all': the smallest ρ̃ of the minimal-perturbation attacks over all modes. Among
 * the candidates whose clean accuracy is within the budget of κ = 0's, the best score wins, ties to the smaller
 * κ; κ = 0 is always a candidate, so the choice is never below the ReLU model's worst case.
 */
export function chooseByWorstCase(
  clean: readonly CleanResult[], results: readonly AttackResult[], worst: readonly WorstCase[], objective: Objective, maxDropPoints: number,
): Tuning {
  const ref = clean.find((c) => c.kappa === 0) ?? clean[0];
  const main = headlineThreatModel(worst);
  if (objective === 'accuracy' && main.length === 0) {
    throw new UsageError('tune --objective accuracy needs a bounded attack (pgd, apgd-*, square*, bpda, fgsm) among --attacks');
  }
  const candidates: TuningCandidate[] = clean.map((c) => {
    const minimal = results.filter((r) => r.kappa === c.kappa && r.eps === undefined);
    return {
      kappa: c.kappa, clean_accuracy: c.accuracy,
      robust_accuracy: main.find((w) => w.kappa === c.kappa)?.accuracy ?? 0,
      rho_all: minimal.length ? Math.min(...minimal.map((r) => r.rho_all)) : 0,
    };
  });
  const score = (c: TuningCandidate) => (objective === 'rho_all' ? c.rho_all : c.robust_accuracy);
  let best: TuningCandidate | null = null;
  for (const c of [...candidates].sort((a, b) => a.kappa - b.kappa)) {
    if (!ref || (ref.accuracy - c.clean_accuracy) * 100 > maxDropPoints + 1e-9) continue;
    if (!best || score(c) > score(best) + 1e-12) best = c;
  }
  const what = objective === 'rho_all'
    ? 'maximise the smallest ρ̃ over every minimal-perturbation attack and mode (adaptive included)'
    : `maximise robust accuracy under the worst case over every attack and mode (adaptive included), ${main[0]!.norm === 'linf' ? 'L∞' : 'L2'} ε = ${main[0]!.eps}`;
  const t: Tuning = {
    max_accuracy_drop: maxDropPoints,
    objective: `${what}, with clean accuracy at most ${maxDropPoints} points below κ=${ref?.kappa ?? 0}`,
    chosen_kappa: best ? best.kappa : null,
    candidates,
  };
  if (objective === 'accuracy') t.threat_model = { norm: main[0]!.norm, eps: main[0]!.eps };
  const largest = Math.max(...candidates.map((c) => c.kappa));
  if (best && best.kappa > 0 && best.kappa === largest) t.edge = `the chosen κ = ${best.kappa} is the largest candidate tried: a larger one might score better (extend the grid)`;
  return t;
}

/** Points halfway between the best candidate and its neighbours in the sorted grid (not already tried). */
export function refineAround(kappas: readonly number[], best: number): number[] {
  const sorted = [...new Set(kappas)].sort((a, b) => a - b);
  const j = sorted.indexOf(best);
  if (j < 0) return [];
  const out: number[] = [];
  const round = (v: number) => Math.round(v * 1e6) / 1e6;
  if (j > 0 && best > 0) out.push(round((sorted[j - 1]! + best) / 2));
  if (j < sorted.length - 1) out.push(round((best + sorted[j + 1]!) / 2));
  return out.filter((v) => !sorted.includes(v));
}
