// `jumprelu tune MODEL --data KIND:PATH --max-accuracy-drop 0.5`: sweep κ (or per-layer quantiles with
// --scale-aware), attack each candidate, and pick the most robust one within the clean-accuracy budget.
// Only argument parsing here: the work is the library's tune() (src/runtime/tune-run.ts).

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { Objective } from '../runtime/tune.js';
import { tune } from '../runtime/tune-run.js';
import { type HarnessArgs, emit, harnessOptions, harnessSetup, numberList, onInterrupt } from './eval-command.js';

export interface TuneArgs extends HarnessArgs {
  maxAccuracyDrop: number;
  objective?: string;
  scaleAware?: boolean;
  quantiles?: string;
}

export async function runTune(a: TuneArgs): Promise<void> {
  const { options } = await harnessSetup(a);
  const done = onInterrupt(options.report?.dir);
  try {
    const run = await tune({
      ...options, maxAccuracyDrop: a.maxAccuracyDrop,
      ...(a.kappa !== undefined ? { kappas: numberList(a.kappa, '--kappa', { min: 0 }) } : {}),
      ...(a.objective !== undefined ? { objective: a.objective as Objective } : {}),
      ...(a.scaleAware ? { scaleAware: a.quantiles !== undefined ? { quantiles: numberList(a.quantiles, '--quantiles', { min: 0 }) } : {} } : {}),
    });
    await emit(a, run);
  } finally {
    done();
  }
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
