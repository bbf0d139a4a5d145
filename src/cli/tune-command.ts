// `jumprelu tune MODEL --data KIND:PATH --max-accuracy-drop 0.5`: sweep κ (or per-layer quantiles with
// --scale-aware), attack each candidate, and pick the most robust one within the clean-accuracy budget.

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UsageError } from '../ir/errors.js';
import { datasetFamily, evaluate, resolveEvalInput } from '../runtime/evaluate.js';
import { toAttackSpace } from '../runtime/dataset.js';
import { SpaceMap } from '../runtime/space.js';
import { type Objective, chooseKappa, quantileMaps, siteQuantiles } from '../runtime/tune.js';
import { type HarnessArgs, emit, harnessOptions, harnessSetup, numberList, onInterrupt } from './eval-command.js';

export interface TuneArgs extends HarnessArgs {
  maxAccuracyDrop: number;
  objective?: string;
  scaleAware?: boolean;
  quantiles?: string;
}

const SWEEPS = { mnist: [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5], cifar10: [0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.09], other: [0, 0.25, 0.5, 1] };

export async function runTune(a: TuneArgs): Promise<void> {
  if (!Number.isFinite(a.maxAccuracyDrop) || a.maxAccuracyDrop < 0) throw new UsageError('--max-accuracy-drop must be a number ≥ 0 (percentage points)');
  const { dataset, options } = await harnessSetup(a);
  const done = onInterrupt(options.report?.dir);
  const attack = options.attacks[0]!;
  if (options.attacks.length > 1) throw new UsageError('tune attacks with one attack (--attacks NAME)');
  const mode = options.modes[0]!;
  if (options.modes.length > 1) throw new UsageError('tune uses one mode (--mode white-box|gray-box|adaptive)');
  const objective = (a.objective ?? (/^(deepfool|tr)/.test(attack) ? 'rho_all' : 'accuracy')) as Objective;
  if (objective !== 'rho_all' && objective !== 'accuracy') throw new UsageError("--objective must be 'rho_all' or 'accuracy'");
  let kappas: number[];
  let run;
  if (a.scaleAware) {
    const quantiles = a.quantiles !== undefined ? numberList(a.quantiles, '--quantiles', { min: 0 }) : [0, 0.05, 0.1, 0.2, 0.3];
    if (quantiles.some((q) => q >= 1)) throw new UsageError('--quantiles must lie in [0, 1)');
    if (!quantiles.includes(0)) quantiles.unshift(0);
    const n = Math.min(options.limit ?? dataset.count, dataset.count, 1000);
    const input = resolveEvalInput(options);
    const space = new SpaceMap(input.space, dataset, input.preprocessing.mean, input.preprocessing.std);
    const x = toAttackSpace(dataset, input.preprocessing, input.space, n);
    const q = await siteQuantiles(options.modelPath, x, n, space, quantiles, options.threads, options.batch);
    const maps = quantileMaps(q, quantiles);
    kappas = quantiles;
    run = await evaluate({ ...options, kappas, kappaMaps: maps, kind: 'tune' });
    const perLayer: Record<string, Record<string, number>> = {};
    quantiles.forEach((quant, j) => {
      perLayer[String(quant)] = Object.fromEntries(q.sites.map((s, i) => [`${s.key} ${s.node}`, q.kappas[i]![j]!]));
    });
    run.report.settings.per_layer_kappa = perLayer;
    const tuning = chooseKappa(run.report.clean, run.report.results, attack, mode, objective, a.maxAccuracyDrop);
    tuning.objective += '; candidates are quantiles q: κ_l = q-quantile of layer l\'s positive pre-activations';
    tuning.per_layer = tuning.chosen_kappa === null ? null : { quantile: tuning.chosen_kappa, kappas: perLayer[String(tuning.chosen_kappa)]! };
    run.report.tuning = tuning;
  } else {
    kappas = a.kappa !== undefined ? numberList(a.kappa, '--kappa', { min: 0 }) : SWEEPS[datasetFamily(dataset)];
    if (!kappas.includes(0)) kappas = [0, ...kappas];
    run = await evaluate({ ...options, kappas, kind: 'tune' });
    run.report.tuning = chooseKappa(run.report.clean, run.report.results, attack, mode, objective, a.maxAccuracyDrop);
  }
  await emit(a, run);
  done();
}

export const tuneCommand: CommandModule<object, TuneArgs> = {
  command: 'tune <model>',
  describe: 'pick the κ that maximises robustness within a clean-accuracy budget',
  builder: (y) => (harnessOptions(y, { attacks: 'deepfool2', mode: 'white-box' }) as unknown as Argv<TuneArgs>)
    .option('max-accuracy-drop', { type: 'number', default: 0.5, describe: 'largest clean-accuracy loss from κ = 0, in percentage points' })
    .option('objective', { type: 'string', choices: ['rho_all', 'accuracy'], describe: 'maximise ρ̃ (default for DeepFool/TR) or accuracy under attack (default for FGSM/IFGSM/PGD)' })
    .option('scale-aware', { type: 'boolean', describe: 'per-layer κ_l from quantiles of each layer\'s positive pre-activations (on the evaluated samples, at most 1000)' })
    .option('quantiles', { type: 'string', describe: 'with --scale-aware: candidate quantiles (default 0,0.05,0.1,0.2,0.3)' }) as unknown as Argv<TuneArgs>,
  handler: async (argv: ArgumentsCamelCase<TuneArgs>) => runTune(argv),
};
