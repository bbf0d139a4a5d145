// `jumprelu eval MODEL --data KIND:PATH --kappa 0,0.5,1 --attacks ifgsm,deepfool2 --mode white-box --report DIR`:
// attack the model retrofitted at each κ and report accuracy, fooling rate and ρ̃ (see docs/harness.md).

import { existsSync, statSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { JumpReluError, UsageError } from '../ir/errors.js';
import { type KappaMapArgs, type SiteArgs, kappaMapOptions, parseKappaMapArgs, parseSiteArgs, siteOptions } from './site-options.js';
import { type InterfaceArgs, interfaceOptions, parseInterfaceArgs } from './interface-options.js';
import { ATTACK_NAMES, parseAttackParams } from '../runtime/attacks/registry.js';
import { type Dataset, checkPreprocessing, loadDataset } from '../runtime/dataset.js';
import { type EvalOptions, type EvalRun, MODES, evaluate } from '../runtime/evaluate.js';
import { silentProgress, stderrProgress } from '../runtime/progress.js';
import type { AttackMode, ClampRule, InputSpace, Preprocessing, Report } from '../runtime/report/schema.js';
import { writeReportDir } from '../runtime/report/write.js';
import { PREPROCESS_MODES, type PreprocessMode } from '../runtime/input-convention.js';
import { type RayArgs, rayOptions, runEvalOnRay } from './ray-eval.js';
import { parseShard } from '../runtime/shard.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../runtime/execution-provider.js';
import { SINGLE_THREAD_MAX_BATCH, formatSize, parseSize } from '../runtime/resources.js';

export interface HarnessArgs extends SiteArgs, KappaMapArgs, InterfaceArgs {
  model: string;
  data: string;
  split: string;
  kappa?: string;
  attacks?: string;
  mode: string;
  limit?: number;
  report?: string;
  resume?: string;
  space?: string;
  preprocessing: string;
  clamp?: string;
  scale?: number;
  mean?: string;
  std?: string;
  layout?: string;
  batch: number;
  threads?: number;
  maxMemory?: string;
  seed: number;
  attackParam?: string[];
  sourceKappa: number;
  transfer?: boolean;
  adaptiveGradKappa: number;
  examples: number;
  json?: boolean;
  allowNoSites?: boolean;
  /** i/n: evaluate shard i of n (shard.ts). */
  shard?: string;
  /** ONNX Runtime execution provider: cpu (default) or cuda. */
  ep?: string;
  quiet?: boolean;
  verbose?: boolean;
}

export function numberList(value: string, what: string, { min = -Infinity }: { min?: number } = {}): number[] {
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new UsageError(`${what} needs at least one number`);
  return parts.map((s) => {
    const v = Number(s);
    if (!Number.isFinite(v) || v < min) throw new UsageError(`${what}: '${s}' is not a finite number${min > -Infinity ? ` ≥ ${min}` : ''}`);
    return v;
  });
}

export function harnessOptions(y: Argv, defaults: { attacks: string; mode: string }): Argv<HarnessArgs> {
  return interfaceOptions(kappaMapOptions(siteOptions(y)))
    .positional('model', { type: 'string', describe: 'ONNX classifier (one image input: [N,C,H,W], [N,H,W,C], [C,H,W] or [N,C·H·W]; logits out)', demandOption: true })
    .option('data', { type: 'string', demandOption: true, describe: 'KIND:PATH — mnist:DIR, fashion-mnist:DIR, cifar10:FILE, npy:X.npy,Y.npy, npz:FILE, pb:X.pb,Y.pb' })
    .option('split', { type: 'string', choices: ['test', 'train'], default: 'test', describe: 'idx split (mnist, fashion-mnist)' })
    .option('kappa', { alias: 'k', type: 'string', describe: 'comma list of κ values (eval default: 0)' })
    .option('attacks', { type: 'string', default: defaults.attacks, describe: `comma list of ${ATTACK_NAMES.join(', ')}` })
    .option('mode', { type: 'string', default: defaults.mode, describe: `comma list of ${MODES.join(', ')}` })
    .option('limit', { type: 'number', describe: 'evaluate the first N samples only' })
    .option('report', { type: 'string', describe: 'folder for report.json, report.html and per-sample.jsonl (rewritten after each cell)' })
    .option('resume', { type: 'string', describe: 'continue the run interrupted in this report folder (same model, data and flags)' })
    .option('preprocessing', { type: 'string', choices: [...PREPROCESS_MODES], default: 'auto', describe: 'what the model is fed: auto (read its graph: [0,1] pixels when it normalises itself, else the data kind\'s mean/std), normalize (--mean/--std), none ([0,1] pixels)' })
    .option('space', { type: 'string', choices: ['normalized', 'pixel'], describe: 'space of ε, clamping and ρ: the model\'s normalised input (the paper; default when the harness normalises) or [0,1] pixels (default when the model normalises itself)' })
    .option('clamp', { type: 'string', choices: ['batch-minmax', 'box'], describe: 'clamp to the min/max of the evaluated samples (the paper; default) or to the fixed box' })
    .option('scale', { type: 'number', describe: 'multiplier from stored values to [0,1] (default 1/255 for 8-bit data, 1 for floats)' })
    .option('mean', { type: 'string', describe: 'per-channel mean (comma list) of the model\'s normalisation (default per data kind)' })
    .option('std', { type: 'string', describe: 'per-channel std (comma list)' })
    .option('layout', { type: 'string', choices: ['NCHW', 'NHWC'], describe: 'layout of 4-D npy/npz/pb images (default: guessed from the channel count)' })
    .option('batch', { type: 'number', default: 500, describe: 'samples per ONNX Runtime call' })
    .option('threads', { type: 'number', describe: `ONNX Runtime intra-op threads (default: 1 at batches of ≤ ${SINGLE_THREAD_MAX_BATCH} samples, else min(4, cores))` })
    .option('max-memory', { type: 'string', describe: 'memory budget, e.g. 4G: the batch is derived from it (at most --batch); the choice is printed' })
    .option('seed', { type: 'number', default: 0, describe: 'seed of random starts' })
    .option('attack-param', { type: 'string', array: true, describe: 'ATTACK.KEY=VALUE, e.g. ifgsm.step=0.02, deepfool2.iterations=50, tr2.adaptive=true' })
    .option('source-kappa', { type: 'number', default: 0, describe: 'gray-box: κ of the model the examples are crafted on' })
    .option('transfer', { type: 'boolean', describe: 'gray-box: craft on every κ for the full transfer matrix (Figure 7)' })
    .option('adaptive-grad-kappa', { type: 'number', default: 0, describe: 'adaptive: gradient κ (0: the ReLU surrogate)' })
    .option('examples', { type: 'number', default: 2, describe: 'example pictures kept per (κ, attack, mode)' })
    .option('shard', { type: 'string', describe: 'i/n: evaluate only the i-th of n contiguous parts of the samples and write a shard report (needs --report); combine all n with `jumprelu merge`' })
    .option('ep', { type: 'string', choices: [...EXECUTION_PROVIDERS], default: 'cpu', describe: 'ONNX Runtime execution provider (cuda: only where the installed onnxruntime-node has it; refused otherwise)' })
    .option('allow-no-sites', { type: 'boolean', describe: 'eval: a model with no ReLU site is evaluated as it is at κ = 0 (a baseline figure) instead of refused' })
    .option('json', { type: 'boolean', describe: 'print report.json to stdout instead of the table' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'no progress on stderr' })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'stack traces on errors' }) as unknown as Argv<HarnessArgs>;
}

/** Everything but the κ list and the run kind, from the shared options. */
export async function harnessSetup(a: HarnessArgs): Promise<{ dataset: Dataset; options: Omit<EvalOptions, 'kappas'> }> {
  // the same errors (kind io, exit 1) as every other command's missing model file (loadModel), before the data is read
  if (!existsSync(a.model)) throw new JumpReluError(`cannot read '${a.model}': no such file`, { code: 'file-not-found' });
  if (!statSync(a.model).isFile()) throw new JumpReluError(`cannot read '${a.model}': not a regular file`, { code: 'not-a-file' });
  const modes = a.mode.split(',').map((s) => s.trim()).filter(Boolean) as AttackMode[];
  for (const m of modes) if (!MODES.includes(m)) throw new UsageError(`--mode '${m}': one of ${MODES.join(', ')}`);
  if (modes.length === 0) throw new UsageError('--mode needs at least one mode');
  const attacks = (a.attacks ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (attacks.length === 0) throw new UsageError('--attacks needs at least one attack');
  if (a.limit !== undefined && (!Number.isInteger(a.limit) || a.limit <= 0)) throw new UsageError('--limit must be a positive integer');
  if (!Number.isInteger(a.batch) || a.batch <= 0) throw new UsageError('--batch must be a positive integer');
  const threads = a.threads;
  if (threads !== undefined && (!Number.isInteger(threads) || threads <= 0)) throw new UsageError('--threads must be a positive integer');
  const maxMemory = a.maxMemory !== undefined ? parseSize(a.maxMemory) : undefined;
  if (!Number.isInteger(a.examples) || a.examples < 0) throw new UsageError('--examples must be a non-negative integer');
  const dataset = await loadDataset(a.data, { split: a.split as 'test' | 'train', ...(a.layout ? { layout: a.layout as 'NCHW' | 'NHWC' } : {}) });
  // only what the flags say: the rest is resolved from the model's graph and the data kind (input-convention.ts)
  const preprocessing: Partial<Preprocessing> = {
    ...(a.scale !== undefined ? { scale: a.scale } : {}),
    ...(a.mean !== undefined ? { mean: numberList(a.mean, '--mean') } : {}),
    ...(a.std !== undefined ? { std: numberList(a.std, '--std') } : {}),
  };
  checkPreprocessing({ scale: 1, mean: [0], std: [1], layout: 'NCHW', ...preprocessing }, dataset.channels);
  const quiet = a.quiet || a.json;
  if (a.resume !== undefined && a.report !== undefined && a.report !== a.resume) throw new UsageError('--resume DIR continues the report in DIR: drop --report (or give the same folder)');
  const reportDir = a.resume ?? a.report;
  const shard = a.shard !== undefined ? parseShard(a.shard) : undefined;
  if (shard && reportDir === undefined) throw new UsageError('--shard writes a shard report for `jumprelu merge`: give --report DIR', { code: 'shard-needs-report' });
  return {
    dataset,
    options: {
      modelPath: a.model, dataset, sites: { ...parseSiteArgs(a), ...parseKappaMapArgs(a) },
      modelInterface: parseInterfaceArgs(a), preprocess: a.preprocessing as PreprocessMode, preprocessing, ...(a.space ? { space: a.space as InputSpace } : {}),
      clamp: (a.clamp ?? 'batch-minmax') as ClampRule,
      attacks, attackParams: parseAttackParams(a.attackParam ?? []), modes, limit: a.limit ?? null, batch: a.batch,
      ...(threads !== undefined ? { threads } : {}), ...(maxMemory !== undefined ? { maxMemory } : {}), seed: a.seed,
      sourceKappa: a.sourceKappa, ...(a.transfer ? { transfer: true } : {}), adaptiveGradKappa: a.adaptiveGradKappa, examples: a.examples,
      progress: quiet ? silentProgress : stderrProgress(),
      ...(reportDir !== undefined ? { report: { dir: reportDir, ...(a.resume !== undefined ? { resume: true } : {}) } } : {}),
      ...(shard ? { shard } : {}), ...(a.ep !== undefined ? { ep: a.ep as ExecutionProvider } : {}),
    },
  };
}

function pct(v: number): string {
  return `${(100 * v).toFixed(2)}`.padStart(6);
}

export function formatTable(r: Report): string {
  const ic = r.input_convention;
  const lines = [
    // a shard's figures are its own: said before anything else
    ...(r.shard ? [`shard ${r.shard.index}/${r.shard.count}: samples ${r.shard.first}…${r.shard.end - 1} of ${r.shard.total}; the figures below are this shard's (merge all ${r.shard.count} with jumprelu merge)`] : []),
    // the verdict first (runtime/verdict.ts): what a person reads in five seconds
    ...(r.verdict?.lines.length ? [...r.verdict.lines.map((l, i) => (i === 0 ? `verdict: ${l}` : `  ${l}`)), ''] : []),
    ...(ic ? [`input: model expects ${ic.model_expects}; data gives ${ic.data_gives}; ε measured in ${ic.epsilon_in}${ic.cut.length ? `; cut ${ic.cut.join(', ')}` : ''}`] : []),
    `model ${r.model.path}; data ${r.data.kind}:${r.data.path} (n=${r.data.n}); space ${r.data.space}, clamp ${r.data.clamp} [${r.data.bounds.min.toFixed(4)}, ${r.data.bounds.max.toFixed(4)}]`,
    `ONNX Runtime: ${r.settings.ort_threads} intra-op thread${r.settings.ort_threads === 1 ? '' : 's'}${r.settings.ort_threads_rule ? ` (${r.settings.ort_threads_rule})` : ''}${r.settings.execution_provider && r.settings.execution_provider !== 'cpu' ? ` on ${r.settings.execution_provider}` : ''}, batch ${r.settings.batch}${r.settings.max_memory ? ` (--max-memory ${formatSize(r.settings.max_memory.bytes)})` : ''}${r.resources ? `; peak RSS ${formatSize(r.resources.peak_rss_bytes)}` : ''}`,
    ...(r.merged_from ? [`merged from ${r.merged_from.shards} shards (${r.merged_from.hosts.join(', ')})`] : []),
    `clean accuracy: ${r.clean.map((c) => `κ=${c.kappa} ${pct(c.accuracy).trim()}%`).join(', ')}`,
    '',
    'κ        attack          mode        acc %   fool %  ρ̃ all %  ρ̃ succ %  iters   wall s',
  ];
  for (const x of r.results) {
    lines.push(`${String(x.kappa).padEnd(8)} ${x.attack.padEnd(15)} ${x.mode.padEnd(10)} ${pct(x.accuracy)}  ${pct(x.fooling_rate)}  ${pct(x.rho_all)}   ${pct(x.rho_success)}   ${x.iterations_mean.toFixed(1).padStart(5)}  ${x.wall_s.toFixed(1).padStart(6)}`);
  }
  if (r.worst_case?.length) {
    lines.push('', 'worst case over attacks (robust accuracy %, an upper bound: a stronger attack could lower it)');
    for (const w of r.worst_case) {
      lines.push(`  κ=${String(w.kappa).padEnd(6)} ${w.norm === 'linf' ? 'L∞' : 'L2'} ε=${w.eps}: ${pct(w.accuracy).trim()}  (${w.attacks.map((a) => `${a.attack} ${a.mode} ${pct(a.accuracy).trim()}`).join(', ')})`);
    }
  }
  for (const t of r.transfers ?? (r.transfer ? [r.transfer] : [])) {
    lines.push('', `transfer (${t.attack}): accuracy %, rows = source κ, columns = target κ ${t.target_kappas.join(', ')}`);
    t.accuracy.forEach((row, i) => lines.push(`  from κ=${String(t.source_kappas[i]).padEnd(6)} ${row.map(pct).join(' ')}`));
  }
  if (r.tuning) {
    lines.push('', `tuning: ${r.tuning.objective}`);
    lines.push(`  chosen κ: ${r.tuning.chosen_kappa === null ? 'none within the budget' : r.tuning.chosen_kappa}`);
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

/**
 * Ctrl-C during a run with a report folder: the folder already holds every finished cell (it is rewritten
 * atomically after each), so say how to continue and exit 130.
 */
export function onInterrupt(dir: string | undefined): () => void {
  if (dir === undefined) return () => {};
  const handler = () => {
    process.stderr.write(`\ninterrupted: ${dir} keeps every finished cell; continue with the same command and --resume ${dir}\n`);
    process.exit(130);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

export async function emit(a: HarnessArgs, run: EvalRun): Promise<void> {
  const dir = a.resume ?? a.report;
  if (dir) {
    const written = await writeReportDir(dir, run.report, run.perSample);
    if (!a.json) process.stderr.write(`wrote ${written.json}, ${written.html}, ${written.perSample}\n`);
  }
  process.stdout.write(a.json ? `${JSON.stringify(run.report, null, 1)}\n` : `${formatTable(run.report)}\n`);
}

export async function runEval(a: HarnessArgs): Promise<void> {
  const { options } = await harnessSetup(a);
  const kappas = a.kappa !== undefined ? numberList(a.kappa, '--kappa', { min: 0 }) : [0];
  const done = onInterrupt(options.report?.dir);
  try {
    const run = await evaluate({ ...options, kappas, kind: 'eval', ...(a.allowNoSites ? { allowNoSites: true } : {}) });
    await emit(a, run);
  } finally {
    done();
  }
}

export const evalCommand: CommandModule<object, HarnessArgs> = {
  command: 'eval <model>',
  describe: 'attack the model retrofitted with JumpReLU at each κ; report accuracy, fooling rate and ρ̃',
  builder: (y) => rayOptions(harnessOptions(y, { attacks: 'ifgsm,deepfool2,deepfoolinf', mode: 'white-box' })),
  // --ray: the shards as Ray jobs, then merged (ray-eval.ts)
  handler: async (argv: ArgumentsCamelCase<HarnessArgs>) => {
    const r = argv as ArgumentsCamelCase<HarnessArgs & RayArgs>;
    return r.ray !== undefined ? runEvalOnRay(r, argv) : runEval(argv);
  },
};
