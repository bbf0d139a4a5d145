// `tune` as a library call: sweep κ (or, scale-aware, per-layer quantile candidates), evaluate every candidate
// and select one within the clean-accuracy budget (tune.ts's chooseKappa). The CLI's `tune` only parses into this.

import { UsageError } from '../ir/errors.js';
import { toAttackSpace } from './dataset.js';
import { type EvalOptions, type EvalRun, datasetFamily, evaluate, resolveEvalInput } from './evaluate.js';
import { SpaceMap } from './space.js';
import { type Objective, chooseKappa, quantileMaps, siteQuantiles } from './tune.js';

export const TUNE_SWEEPS = { mnist: [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5], cifar10: [0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.09], other: [0, 0.25, 0.5, 1] };
export const DEFAULT_QUANTILES = [0, 0.05, 0.1, 0.2, 0.3];

export interface TuneOptions extends Omit<EvalOptions, 'kappas' | 'kind' | 'kappaMaps'> {
  /** Candidate κ values (0 is always added); default: the sweep of the data's family (TUNE_SWEEPS). */
  kappas?: number[];
  /** Largest clean-accuracy loss from κ = 0, in percentage points. */
  maxAccuracyDrop: number;
  /** Default: rho_all for DeepFool/trust region, accuracy otherwise. */
  objective?: Objective;
  /** Per-layer κ_l from quantiles of each layer's positive pre-activations (quantile 0 is always added). */
  scaleAware?: { quantiles?: number[] };
}

export async function tune(o: TuneOptions): Promise<EvalRun> {
  if (!Number.isFinite(o.maxAccuracyDrop) || o.maxAccuracyDrop < 0) throw new UsageError('--max-accuracy-drop must be a number ≥ 0 (percentage points)');
  const attack = o.attacks[0];
  if (!attack || o.attacks.length > 1) throw new UsageError('tune attacks with one attack (--attacks NAME)');
  const mode = o.modes[0];
  if (!mode || o.modes.length > 1) throw new UsageError('tune uses one mode (--mode white-box|gray-box|adaptive)');
  const objective = o.objective ?? (/^(deepfool|tr)/.test(attack) ? 'rho_all' : 'accuracy');
  if (objective !== 'rho_all' && objective !== 'accuracy') throw new UsageError("--objective must be 'rho_all' or 'accuracy'");
  const ds = o.dataset;
  if (o.scaleAware) {
    const quantiles = [...(o.scaleAware.quantiles ?? DEFAULT_QUANTILES)];
    if (quantiles.some((q) => !(q >= 0 && q < 1))) throw new UsageError('--quantiles must lie in [0, 1)');
    if (!quantiles.includes(0)) quantiles.unshift(0);
    const n = Math.min(o.limit ?? ds.count, ds.count, 1000);
    const input = resolveEvalInput(o);
    const space = new SpaceMap(input.space, ds, input.preprocessing.mean, input.preprocessing.std, input.resolved.feed);
    const x = toAttackSpace(ds, input.preprocessing, input.space, n);
    const q = await siteQuantiles(o.modelPath, x, n, space, quantiles, o.threads, o.batch);
    const run = await evaluate({ ...o, kappas: quantiles, kappaMaps: quantileMaps(q, quantiles), kind: 'tune' });
    const perLayer: Record<string, Record<string, number>> = {};
    quantiles.forEach((quant, j) => {
      perLayer[String(quant)] = Object.fromEntries(q.sites.map((s, i) => [`${s.key} ${s.node}`, q.kappas[i]![j]!]));
    });
    run.report.settings.per_layer_kappa = perLayer;
    const tuning = chooseKappa(run.report.clean, run.report.results, attack, mode, objective, o.maxAccuracyDrop);
    tuning.objective += '; candidates are quantiles q: κ_l = q-quantile of layer l\'s positive pre-activations';
    tuning.per_layer = tuning.chosen_kappa === null ? null : { quantile: tuning.chosen_kappa, kappas: perLayer[String(tuning.chosen_kappa)]! };
    run.report.tuning = tuning;
    return run;
  }
  let kappas = o.kappas ?? TUNE_SWEEPS[datasetFamily(ds)];
  if (!kappas.includes(0)) kappas = [0, ...kappas];
  const run = await evaluate({ ...o, kappas, kind: 'tune' });
  run.report.tuning = chooseKappa(run.report.clean, run.report.results, attack, mode, objective, o.maxAccuracyDrop);
  return run;
}
