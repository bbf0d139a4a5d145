// `jumprelu detect MODEL --data KIND:PATH --kappa 0,K --attacks ifgsm,deepfoolinf,deepfool2,tr [--batch B --k K]`:
// the paper's LID detector (§4.1.5, Table 3) — ROC AUC of telling adversarial from clean and noisy inputs, per κ
// and attack, white-box and adaptive; report.json and report.html in --report (docs/detection.md).

import { availableParallelism } from 'node:os';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UsageError } from '../ir/errors.js';
import { ATTACK_NAMES } from '../runtime/attacks/registry.js';
import { DETECT_DEFAULTS, DETECT_MODES, type DetectMode, type DetectReport, detect, writeDetectReport } from '../runtime/detect/index.js';
import { PREPROCESS_MODES } from '../runtime/input-convention.js';
import { prepareReportDir } from '../runtime/report/write.js';
import { type HarnessArgs, harnessSetup, numberList } from './eval-command.js';
import { type SiteArgs, siteOptions } from './site-options.js';
import { withInterruptsHeld } from './interrupt.js';
import { type InterfaceArgs, interfaceOptions } from './interface-options.js';
import { SINGLE_THREAD_MAX_BATCH } from '../runtime/resources.js';

export interface DetectArgs extends SiteArgs, InterfaceArgs {
  model: string;
  data: string;
  split: string;
  kappa: string;
  attacks: string;
  mode: string;
  limit?: number;
  report?: string;
  preprocessing: string;
  space?: string;
  clamp?: string;
  scale?: number;
  mean?: string;
  std?: string;
  layout?: string;
  batch: number;
  k: number;
  folds: number;
  l2: number;
  bootstrap: number;
  ortBatch: number;
  threads?: number;
  seed: number;
  attackParam?: string[];
  adaptiveGradKappa: number;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

function pct(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? (100 * v).toFixed(2) : '—';
}

export function formatDetectTable(r: DetectReport): string {
  const lines = [
    `model ${r.model.path}; data ${r.data.kind}:${r.data.path} (n=${r.data.n}); LID: minibatch ${r.settings.minibatch}, k ${r.settings.k}; ${r.layers.length} features (${r.layers.map((l) => l.name).join(', ')})`,
    `clean accuracy: ${r.clean.map((c) => `κ=${c.kappa} ${pct(c.accuracy)}%`).join(', ')}`,
    `detector: logistic regression (L2 λ=${r.settings.l2}) on standardised LID; ${r.settings.split}`,
    '',
    'κ        attack          mode        acc %   detected   ρ̃ succ %   AUC %   95% interval',
  ];
  for (const x of r.results) {
    const ci = x.auc_interval ? `[${pct(x.auc_interval[0])}, ${pct(x.auc_interval[1])}]` : x.skipped ?? '';
    lines.push(`${String(x.kappa).padEnd(8)} ${x.attack.padEnd(15)} ${x.mode.padEnd(10)} ${pct(x.attack_accuracy).padStart(6)}  ${String(x.successful).padStart(8)}   ${pct(x.rho_success).padStart(8)}  ${pct(x.auc).padStart(6)}   ${ci}`);
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

export async function runDetect(a: DetectArgs): Promise<void> {
  const modes = a.mode.split(',').map((s) => s.trim()).filter(Boolean) as DetectMode[];
  for (const m of modes) if (!DETECT_MODES.includes(m)) throw new UsageError(`--mode '${m}': one of ${DETECT_MODES.join(', ')}`);
  // the data, input convention and attack flags are the eval command's (same checks, same messages)
  const h: HarnessArgs = {
    model: a.model, data: a.data, split: a.split, attacks: a.attacks, mode: 'white-box', preprocessing: a.preprocessing,
    batch: a.ortBatch, seed: a.seed, sourceKappa: 0, adaptiveGradKappa: a.adaptiveGradKappa, examples: 0,
    ...(a.limit !== undefined ? { limit: a.limit } : {}), ...(a.space ? { space: a.space } : {}), ...(a.clamp ? { clamp: a.clamp } : {}),
    ...(a.scale !== undefined ? { scale: a.scale } : {}), ...(a.mean !== undefined ? { mean: a.mean } : {}), ...(a.std !== undefined ? { std: a.std } : {}),
    ...(a.layout ? { layout: a.layout } : {}), ...(a.threads !== undefined ? { threads: a.threads } : {}),
    ...(a.attackParam ? { attackParam: a.attackParam } : {}), ...(a.quiet ? { quiet: true } : {}), ...(a.json ? { json: true } : {}),
    ...(a.input !== undefined ? { input: a.input } : {}), ...(a.output !== undefined ? { output: a.output } : {}),
    ...(a.modelLayout !== undefined ? { modelLayout: a.modelLayout } : {}), ...(a.relu6 ? { relu6: true } : {}), ...(a.require !== undefined ? { require: a.require } : {}),
  };
  const { options } = await harnessSetup(h);
  const kappas = numberList(a.kappa, '--kappa', { min: 0 });
  // an unwritable --report fails now, not after the attacks
  if (a.report) prepareReportDir(a.report);
  const report = await detect({
    modelPath: options.modelPath, dataset: options.dataset, clamp: options.clamp, kappas, attacks: options.attacks, limit: options.limit,
    threads: options.threads, seed: options.seed ?? 0, modes, adaptiveGradKappa: a.adaptiveGradKappa, batch: a.ortBatch,
    minibatch: a.batch, k: a.k, folds: a.folds, l2: a.l2, bootstrap: a.bootstrap,
    ...(options.preprocess ? { preprocess: options.preprocess } : {}), ...(options.preprocessing ? { preprocessing: options.preprocessing } : {}),
    ...(options.space ? { space: options.space } : {}), ...(options.attackParams ? { attackParams: options.attackParams } : {}),
    ...(options.progress ? { progress: options.progress } : {}),
    ...(options.modelInterface ? { modelInterface: options.modelInterface } : {}), ...(options.sites ? { sites: options.sites } : {}),
  });
  if (a.report) {
    const dir = a.report;
    // Ctrl-C while the report is written: the atomic writes finish first (interrupt.ts)
    const w = withInterruptsHeld(dir, () => writeDetectReport(dir, report));
    if (!a.json) process.stderr.write(`wrote ${w.json}, ${w.html}\n`);
  }
  process.stdout.write(a.json ? `${JSON.stringify(report, null, 1)}\n` : `${formatDetectTable(report)}\n`);
}

export const detectCommand: CommandModule<object, DetectArgs> = {
  command: 'detect <model>',
  describe: 'the paper\'s LID detector (Table 3): ROC AUC of detecting adversarial examples, per κ and attack',
  builder: (y: Argv) => interfaceOptions(siteOptions(y))
    .positional('model', { type: 'string', describe: 'ONNX classifier (one image input: [N,C,H,W], [N,H,W,C], [C,H,W] or [N,C·H·W]; logits out)', demandOption: true })
    .option('data', { type: 'string', demandOption: true, describe: 'KIND:PATH — mnist:DIR, fashion-mnist:DIR, cifar10:FILE, npy:X.npy,Y.npy, npz:FILE, pb:X.pb,Y.pb' })
    .option('split', { type: 'string', choices: ['test', 'train'], default: 'test', describe: 'idx split (mnist, fashion-mnist)' })
    .option('kappa', { type: 'string', default: '0', describe: 'comma list of κ values (0: the ReLU model), e.g. 0,1' })
    .option('attacks', { type: 'string', default: 'ifgsm,deepfoolinf,deepfool2,tr', describe: `comma list of ${ATTACK_NAMES.join(', ')}` })
    .option('mode', { type: 'string', default: DETECT_MODES.join(','), describe: 'white-box (own gradients) and/or adaptive (gradients at --adaptive-grad-kappa)' })
    .option('adaptive-grad-kappa', { type: 'number', default: 0, describe: 'adaptive: gradient κ (0: the ReLU surrogate)' })
    .option('limit', { type: 'number', describe: 'evaluate the first N samples only' })
    .option('report', { type: 'string', describe: 'folder for report.json and report.html' })
    .option('batch', { type: 'number', default: DETECT_DEFAULTS.minibatch, describe: 'B: clean samples per LID minibatch (the neighbour pool)' })
    .option('k', { type: 'number', default: DETECT_DEFAULTS.k, describe: 'nearest neighbours of the LID estimate (capped at B − 1)' })
    .option('folds', { type: 'number', default: DETECT_DEFAULTS.folds, describe: 'cross-validation folds (by sample)' })
    .option('l2', { type: 'number', default: DETECT_DEFAULTS.l2, describe: 'λ of the logistic regression\'s L2 penalty (scikit-learn C = 1/λ)' })
    .option('bootstrap', { type: 'number', default: DETECT_DEFAULTS.bootstrap, describe: 'bootstrap resamples of the AUC interval' })
    .option('ort-batch', { type: 'number', default: DETECT_DEFAULTS.batch, describe: 'samples per ONNX Runtime call' })
    .option('preprocessing', { type: 'string', choices: [...PREPROCESS_MODES], default: 'auto', describe: 'what the model is fed (as for eval)' })
    .option('space', { type: 'string', choices: ['normalized', 'pixel'], describe: 'space of ε, clamping and ρ (as for eval)' })
    .option('clamp', { type: 'string', choices: ['batch-minmax', 'box'], describe: 'clamp rule (as for eval; default batch-minmax)' })
    .option('scale', { type: 'number', describe: 'multiplier from stored values to [0,1]' })
    .option('mean', { type: 'string', describe: 'per-channel mean (comma list)' })
    .option('std', { type: 'string', describe: 'per-channel std (comma list)' })
    .option('layout', { type: 'string', choices: ['NCHW', 'NHWC'], describe: 'layout of 4-D npy/npz/pb images' })
    .option('threads', { type: 'number', describe: `ONNX Runtime intra-op threads (default: 1 at --ort-batch ≤ ${SINGLE_THREAD_MAX_BATCH}, else min(4, cores) = ${Math.min(4, availableParallelism())})` })
    .option('seed', { type: 'number', default: 0, describe: 'seed of the noise, folds, bootstrap and random starts' })
    .option('attack-param', { type: 'string', array: true, describe: 'ATTACK.KEY=VALUE, e.g. tr.iterations=200' })
    .option('json', { type: 'boolean', describe: 'print report.json to stdout instead of the table' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'no progress on stderr' })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'stack traces on errors' }) as unknown as Argv<DetectArgs>,
  handler: async (argv: ArgumentsCamelCase<DetectArgs>) => runDetect(argv),
};
