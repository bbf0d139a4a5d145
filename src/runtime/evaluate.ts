// One evaluation run: clean accuracy per κ, then every (κ, attack, mode), with the per-sample outcomes, the
// gray-box transfer matrix, accuracy-vs-iteration curves, example pictures and gradient-masking warnings.
//
// Modes
//   white-box  each κ model attacked with its own gradients (derivative 1[z > κ])
//   adaptive   gradients of the same model with κ_grad = 0 (the ReLU surrogate), inference at κ
//   gray-box   examples crafted once on the source model (κ = 0 by default), evaluated on every κ model
// Attacks whose gradients are not the model's own run where they belong whatever --mode says: a score-based
// attack (square: no gradients) with white-box, BPDA (its own surrogate gradients) with adaptive. Neither is
// crafted for gray-box transfer.
// For each κ and threat model (norm, ε of the bounded attacks run) the worst case over all attacks is
// computed per sample (metrics.worstCase): an upper bound on true robust accuracy.

import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { KappaMap } from '../passes/kappa-map.js';
import type { Attack, AttackOutput } from './attacks/common.js';
import { type DatasetFamily, type ParamValue, makeAttack, resolveAttackParams, isAttackName } from './attacks/registry.js';
import { UsageError } from '../ir/errors.js';
import { type Dataset, checkPreprocessing, toAttackSpace } from './dataset.js';
import { checkLabels, checkShape, checkValues, ModelMismatchError } from './data-checks.js';
import { type InterfaceRequest, type ResolvedInterface, adaptInterface, checkBatch, interfaceRecord, knownClasses, resolveInterface } from './model-interface.js';
import { type SitePlan, type SiteOptions, checkRetrofitSites, formatCensus } from './site-check.js';
import { type InputAnalysis, type PreprocessMode, type ResolvedInput, analyseInput, resolveInput } from './input-convention.js';
import { loadModel } from '../ir/io.js';
import { type SampleOutcome, outcomes, predictions, summarise, worstCase } from './metrics.js';
import { maskingFindings, verdict } from './verdict.js';
import { type ModelSource, ModelOracle, type Oracle, retrofittedModel } from './oracle.js';
import { OraclePool } from './oracle-pool.js';
import { batchForBudget, chooseThreads, estimateMemory, formatSize, peakRss } from './resources.js';
import { type Progress, silentProgress } from './progress.js';
import type {
  AttackMode, AttackResult, ClampRule, CleanResult, ExampleImage, InputSpace, IterationCurve, Preprocessing, Report, TransferMatrix,
} from './report/schema.js';
import { Clamp, type ImageShape, SpaceMap } from './space.js';
import { toolVersion } from './version.js';
import { type Criterion, misclassification } from './criterion.js';
import { CHECKPOINT_DIR, Checkpoint, checkResumable } from './report/checkpoint.js';
import { PER_SAMPLE_FILE, ReportWriteError, perSampleLine, prepareReportDir, writeFileAtomic, writeReportFiles } from './report/write.js';
import { SHARD_SCHEME, type ShardSpec, shardRange } from './shard.js';
import { type ExecutionProvider, checkExecutionProvider } from './execution-provider.js';

export const MODES: readonly AttackMode[] = ['white-box', 'gray-box', 'adaptive'];

export interface EvalOptions {
  modelPath: string;
  dataset: Dataset;
  /** What to feed the model: auto (read its graph; the default), normalize (with mean/std), none ([0,1] pixels). */
  preprocess?: PreprocessMode;
  /** Explicit scale/mean/std (flags); left out: the data kind's scale, and mean/std from the graph or data kind. */
  preprocessing?: Partial<Preprocessing>;
  /** The space of ε, clamping and ρ; left out: resolved with the input convention (input-convention.ts). */
  space?: InputSpace;
  clamp: ClampRule;
  kappas: number[];
  attacks: string[];
  attackParams?: Record<string, Record<string, ParamValue>>;
  modes: AttackMode[];
  limit: number | null;
  /** Samples per ONNX Runtime call (the most; `maxMemory` may choose fewer). */
  batch: number;
  /** ONNX Runtime intra-op threads; left out: chosen by batch size (resources.ts chooseThreads). */
  threads?: number;
  /** Memory budget in bytes: the batch is derived from it (resources.ts estimateMemory; at most `batch`). */
  maxMemory?: number;
  seed?: number;
  /** Gray-box source κ (default 0). */
  sourceKappa?: number;
  /** Craft on every κ for the transfer matrix (white-box crafts are reused either way). */
  transfer?: boolean;
  /** Adaptive mode's gradient κ (default 0). */
  adaptiveGradKappa?: number;
  /** Pictures per (κ, attack, mode) (default 2). */
  examples?: number;
  /** Per-κ kappa maps (scale-aware per-layer κ); `kappa` then only labels the candidate. */
  kappaMaps?: Map<number, KappaMap>;
  progress?: Progress;
  kind?: 'eval' | 'tune';
  /**
   * Report folder written as the run goes: per-sample rows appended after each (κ, attack, mode) cell,
   * report.json/html rewritten atomically, finished crafts checkpointed; `resume` continues the run
   * checkpointed there (same settings) and ends with the report an uninterrupted run gives.
   */
  report?: { dir: string; resume?: boolean };
  /** What counts as a successful attack (default: misclassification); recorded in settings.criterion. */
  criterion?: Criterion;
  /**
   * A model with no ReLU site is refused (every κ would give the same model); with this set it is evaluated as
   * it is, at κ = 0 only, and a warning says why: a baseline robustness figure for a ReLU-free model.
   */
  allowNoSites?: boolean;
  /**
   * Evaluate only shard `index` of `count` (contiguous, shard.ts) of the samples; everything that depends on
   * the whole set (the batch-min/max clamp, the data checks) still comes from all of them, and each sample's
   * random stream from its index in the whole set, so `jumprelu merge` of all shards gives the unsharded report.
   */
  shard?: ShardSpec;
  /** ONNX Runtime execution provider (default cpu; refused up front where the binding cannot run it). */
  ep?: ExecutionProvider;
  /** --input, --output, --model-layout: left out, read from the model (model-interface.ts). */
  modelInterface?: InterfaceRequest;
  /** The converter's site options (--relu6, --require) for the retrofit at every κ. */
  sites?: SiteOptions;
}

/** `index` is the sample's index in the whole evaluated set; `attacked` is set by evaluate (shard reports keep it). */
export type PerSampleRow = { kappa: number; attack: string; mode: AttackMode; attacked?: boolean } & SampleOutcome;

export interface EvalRun {
  report: Report;
  perSample: PerSampleRow[];
}

export function datasetFamily(ds: Dataset): DatasetFamily {
  return ds.kind === 'mnist' || ds.kind === 'fashion-mnist' ? 'mnist' : ds.kind === 'cifar10' ? 'cifar10' : ds.channels === 3 ? 'cifar10' : 'mnist';
}

const TOL = 0.005;

export async function evaluate(o: EvalOptions): Promise<EvalRun> {
  const pool = new OraclePool();
  try {
    return await evaluateWith(o, pool);
  } finally {
    await pool.releaseAll(); // on an error too: no session outlives the run
  }
}

async function evaluateWith(o: EvalOptions, pool: OraclePool): Promise<EvalRun> {
  const progress = o.progress ?? silentProgress;
  if (o.report?.resume) checkResumable(o.report.dir); // before prepareReportDir, which would create the folder
  if (o.report) prepareReportDir(o.report.dir); // an unwritable folder is refused before anything runs
  const ds = o.dataset;
  const total = o.limit === null ? ds.count : Math.min(o.limit, ds.count);
  if (total <= 0) throw new UsageError('no samples to evaluate');
  // a shard: samples [first, first + n) of the whole set of `total`; unsharded: all of them
  const { start: first, end } = o.shard ? shardRange(o.shard, total) : { start: 0, end: total };
  const n = end - first;
  if (o.kappas.length === 0) throw new UsageError('give at least one κ');
  for (const m of o.modes) if (!MODES.includes(m)) throw new UsageError(`unknown mode '${m}' (one of ${MODES.join(', ')})`);
  const { attackParams, attacks, seed } = prepareAttacks(o);
  // a shard's samples, with the value checks and the clamp of the whole set
  const samples = prepareSamples(o, total, progress, o.shard ? { start: first, end } : undefined);
  const { input, preprocessing, spaceName, space, clamp, warnings, x, labels } = samples;
  if (input.noSites) o = { ...o, kappas: [0] };
  const source: ModelSource = { path: o.modelPath, interface: input.interface, ...(o.sites ? { sites: o.sites } : {}) };
  const { batch, threads, threadRule, memoryRule } = resolveResources(o, source, n, space, attacks, progress);
  const size = space.size;
  const ep = o.ep ?? 'cpu';
  await checkExecutionProvider(ep, o.modelPath);
  const dataSha = samples.dataSha256 ?? '';
  const ids = Int32Array.from({ length: n }, (_, i) => first + i);
  if (o.shard) progress.log(`shard ${o.shard.index}/${o.shard.count}: samples ${first}…${end - 1} of ${total}`);
  const nExamples = o.examples ?? 2;
  const sourceKappa = o.sourceKappa ?? 0;
  const adaptiveGradKappa = o.adaptiveGradKappa ?? 0;

  // The κ models: one alive at a time (oracle-pool.ts), each phase below walking κ in order, so that memory is
  // that of one κ setting whatever the grid; the adaptive and BPDA gradients are variants of the κ model's oracle
  // (one more gradient session, not another model), the gray-box transfer keeps crafted examples, not sessions.
  pool.make = (kappa) => {
    const map = o.kappaMaps?.get(kappa);
    return new ModelOracle(retrofittedModel(source, kappa, map), { kappa, ...(map ? { kappaMap: map } : {}), threads, batch, space, ep });
  };
  const cleanPred = new Map<number, Int32Array>();
  const cleanPredFor = async (kappa: number): Promise<Int32Array> => {
    let p = cleanPred.get(kappa);
    if (!p) {
      p = predictions(await (await pool.get(kappa)).forward(x, n), n);
      cleanPred.set(kappa, p);
    }
    return p;
  };

  // the labels against the model's classes, before any attack
  checkLabels(ds, o.shard ? ds.labels.subarray(0, total) : labels, (await (await pool.get(o.kappas[0]!)).forward(x.subarray(0, size), 1)).length);
  const clean: CleanResult[] = [];
  for (const kappa of o.kappas) {
    const p = await cleanPredFor(kappa);
    let c = 0;
    for (let i = 0; i < n; i++) if (p[i] === labels[i]) c++;
    clean.push({ kappa, n, accuracy: c / n });
    progress.log(`κ=${kappa}: clean accuracy ${(100 * c / n).toFixed(2)}% (${c}/${n})`);
  }

  const results: AttackResult[] = [];
  const perSample: PerSampleRow[] = [];
  const curves: IterationCurve[] = [];
  const examples: ExampleImage[] = [];
  const crafted = new Map<string, { out: AttackOutput; wall: number }>();
  const keepCrafts = o.modes.includes('gray-box');

  const modelSha = createHash('sha256').update(readFileSync(o.modelPath)).digest('hex');
  const settings: Report['settings'] = {
    kappas: [...o.kappas], attacks: attackParams, modes: [...o.modes], limit: o.limit, batch, ort_threads: threads, ort_threads_rule: threadRule, seed,
    examples_per_result: nExamples, execution_provider: ep,
  };
  if (input.sitePlan) settings.retrofit = {
    relu6: !!o.sites?.relu6, sites_changed: input.sitePlan.changed, activations: formatCensus(input.sitePlan.census),
    ...(o.sites?.kappaMap ? { kappa_map: o.sites.kappaMapJson ?? null, only_mapped: !!o.sites.onlyMapped } : {}),
  };
  if (memoryRule && o.maxMemory) settings.max_memory = { bytes: o.maxMemory, batch_rule: memoryRule };
  const criterion = o.criterion ?? misclassification;
  if (criterion !== misclassification) settings.criterion = criterion.name;
  if (o.modes.includes('gray-box')) settings.gray_box_source_kappa = sourceKappa;
  if (o.modes.includes('adaptive')) settings.adaptive_grad_kappa = adaptiveGradKappa;
  const transfers: TransferMatrix[] = [];
  const created = new Date().toISOString();
  const budgets = new Map(attacks.map((a) => [a.name, a.budget ?? null]));
  /** The report of what has finished so far (the final one when `final`). */
  const snapshot = (final: boolean): Report => {
    const report: Report = {
      format: 1,
      kind: o.kind ?? 'eval',
      created,
      tool: { name: 'jumprelu', version: toolVersion() },
      input_convention: input.resolved.convention,
      model: { path: o.modelPath, sha256: modelSha, interface: interfaceRecord(input.interface) },
      data: {
        kind: ds.kind, path: ds.path, n, preprocessing, space: spaceName, clamp: o.clamp,
        bounds: { min: clamp.min, max: clamp.max },
      },
      settings,
      clean,
      results: [...results],
      warnings: [...warnings, ...maskingWarnings(results)],
    };
    // rows indexed within this run's samples (a shard's rows carry their index in the whole set)
    const rows = first ? perSample.map((r) => ({ ...r, index: r.index - first })) : perSample;
    const worst = worstCase(results, rows, budgets);
    if (worst.length) report.worst_case = worst;
    const findings = maskingFindings(results, rows, worst);
    report.warnings.push(...findings.map((f) => `gradient masking: ${f.message}`));
    if (results.length) report.verdict = verdict(clean, results, worst, findings);
    if (!final) report.partial = { results_done: results.length, note: `interrupted runs continue with --resume ${o.report?.dir ?? 'DIR'}` };
    if (transfers.length) {
      report.transfer = transfers[0]!;
      report.transfers = [...transfers];
    }
    if (curves.length) report.curves = [...curves];
    if (examples.length) report.examples = [...examples];
    if (o.shard) {
      report.shard = {
        index: o.shard.index, count: o.shard.count, scheme: SHARD_SCHEME, first, end, total, data_sha256: dataSha,
        base_warnings: [...warnings], host: hostname(),
      };
    }
    report.resources = { peak_rss_bytes: peakRss() };
    return report;
  };
  // the checkpoint: what identifies the run (a resumed run must be the same run)
  const fingerprint = {
    model_sha256: modelSha, data: `${ds.kind}:${ds.path}`, n, preprocessing, space: spaceName, clamp: o.clamp, settings,
    source_kappa: sourceKappa, transfer: !!o.transfer, kappa_maps: o.kappaMaps ? [...o.kappaMaps].map(([k, m]) => [k, m]) : null, kind: o.kind ?? 'eval',
    ...(o.shard ? { shard: `${o.shard.index}/${o.shard.count}` } : {}),
  };
  if (o.report && !o.report.resume && existsSync(join(o.report.dir, CHECKPOINT_DIR))) {
    progress.log(`${o.report.dir} held an interrupted run: starting afresh (--resume ${o.report.dir} would have continued it)`);
  }
  const checkpoint = o.report ? (o.report.resume ? Checkpoint.resume(o.report.dir, fingerprint, x) : Checkpoint.fresh(o.report.dir, fingerprint, x)) : null;
  if (checkpoint && o.report?.resume) progress.log(`resuming ${o.report.dir}: ${checkpoint.size} finished craft(s) replayed from its checkpoint`);
  const perSampleFile = o.report ? join(o.report.dir, PER_SAMPLE_FILE) : null;
  if (perSampleFile) writeFileAtomic(perSampleFile, []);
  /** After each cell: its per-sample rows appended, report.json/html rewritten atomically. */
  const persist = (rows: readonly PerSampleRow[]) => {
    if (!o.report || !perSampleFile) return;
    try {
      if (rows.length) appendFileSync(perSampleFile, `${rows.map((r) => perSampleLine(r, !!o.shard)).join('\n')}\n`);
    } catch (e) {
      throw new ReportWriteError(`cannot append to ${perSampleFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    writeReportFiles(o.report.dir, snapshot(false));
  };

  const craft = async (
    attack: Attack, oracle: ModelOracle, label: string, surrogate: ((tau: number) => Promise<Oracle>) | null = null,
  ): Promise<{ out: AttackOutput; wall: number }> => {
    const saved = checkpoint?.get(label);
    if (saved) {
      progress.log(`${label}: replayed from the checkpoint`);
      return saved;
    }
    const total = Number(attack.params['iterations'] ?? attack.params['queries'] ?? 1);
    progress.start(label, total);
    const t0 = performance.now();
    const out = await attack.run({ oracle, x, labels, n, clamp, ids, surrogate, onIteration: (it) => progress.update(it + 1) });
    const wall = (performance.now() - t0) / 1000;
    progress.end();
    checkpoint?.put(label, { out, wall });
    return { out, wall };
  };

  /** The model at κ on crafted examples (and the seconds it took). */
  const predict = async (kappa: number, adv: Float32Array): Promise<{ pred: Int32Array; seconds: number }> => {
    const t0 = performance.now();
    const pred = predictions(await (await pool.get(kappa)).forward(adv, n), n);
    return { pred, seconds: (performance.now() - t0) / 1000 };
  };

  const record = async (
    kappa: number, attack: Attack, mode: AttackMode, c: { out: AttackOutput; wall: number }, extra: Partial<AttackResult> = {},
    given?: { pred: Int32Array; seconds: number },
  ): Promise<AttackResult> => {
    const t0 = performance.now();
    const advPred = given?.pred ?? (await predict(kappa, c.out.adv)).pred;
    const cp = await cleanPredFor(kappa);
    const rows = outcomes(attack.norm, x, c.out.adv, size, labels, cp, advPred, c.out.iterations, c.out.zeroGradient, first, criterion);
    const s = summarise(rows, c.out.attacked);
    const wall = c.wall + (given?.seconds ?? 0) + (performance.now() - t0) / 1000;
    const r: AttackResult = {
      kappa, attack: attack.name, mode, norm: attack.norm, n, accuracy: s.accuracy, fooling_rate: s.fooling_rate,
      rho_all: s.rho_all, rho_success: s.rho_success, abs_perturbation_mean: s.abs_perturbation_mean,
      iterations_mean: s.iterations_mean, wall_s: wall, zero_gradient_rate: s.zero_gradient_rate,
      ...(attack.budget ? { eps: attack.budget.eps } : {}), ...extra,
    };
    results.push(r);
    const cellRows = rows.map((row, i) => ({ kappa, attack: attack.name, mode, ...row, attacked: c.out.attacked[i] === 1 }));
    for (const row of cellRows) perSample.push(row);
    let taken = 0;
    for (const row of rows) {
      if (taken >= nExamples) break;
      if (!row.success) continue;
      taken++;
      const i = row.index - first;
      examples.push({
        kappa, attack: attack.name, mode, index: row.index, label: row.label, clean_pred: row.clean_pred, adv_pred: row.adv_pred,
        channels: ds.channels, height: ds.height, width: ds.width,
        clean: Array.from(space.toPixels(x.subarray(i * size, (i + 1) * size)), round6),
        adversarial: Array.from(space.toPixels(c.out.adv.subarray(i * size, (i + 1) * size)), round6),
      });
    }
    persist(cellRows);
    progress.log(`κ=${kappa} ${attack.name} ${mode}${extra.source_kappa !== undefined ? ` (from κ=${extra.source_kappa})` : ''}: accuracy ${pct(s.accuracy)}, ρ̃ ${pct(s.rho_all)} (successful: ${pct(s.rho_success)}), ${wall.toFixed(1)}s`);
    return r;
  };

  const curveOf = (kappa: number, attack: Attack, mode: AttackMode, out: AttackOutput) => {
    if (out.curve.length < 2) return;
    curves.push({ kappa, attack: attack.name, mode, iterations: out.curve.map((_, t) => t), accuracy: out.curve.map((c) => c / n) });
  };

  const gradientOf = (a: Attack) => a.gradient ?? 'model';
  const whiteBox = o.modes.includes('white-box') ? attacks.filter((a) => gradientOf(a) !== 'surrogate') : attacks.filter((a) => gradientOf(a) === 'none');
  const adaptive = attacks.filter((a) => gradientOf(a) === 'surrogate' || (o.modes.includes('adaptive') && gradientOf(a) === 'model'));
  const grayBox = o.modes.includes('gray-box') ? attacks.filter((a) => gradientOf(a) === 'model') : [];
  if (whiteBox.length) {
    for (const kappa of o.kappas) {
      for (const attack of whiteBox) {
        const c = await craft(attack, await pool.get(kappa), `κ=${kappa} ${attack.name} white-box`);
        if (keepCrafts) crafted.set(`${attack.name}@${kappa}`, c);
        await record(kappa, attack, 'white-box', c);
        curveOf(kappa, attack, 'white-box', c.out);
      }
    }
  }

  if (adaptive.length) {
    for (const kappa of o.kappas) {
      const map = o.kappaMaps?.get(kappa);
      const model = await pool.get(kappa);
      let relu: ModelOracle | null = null;
      // BPDA's surrogate oracles, one τ at a time (its sweep asks for each τ once, in turn): none when nothing
      // thresholds above 0 (the surrogate is then the model)
      let smooth: { tau: number; oracle: ModelOracle } | null = null;
      const surrogate = kappa === 0 && !map ? null : async (tau: number): Promise<Oracle> => {
        if (smooth?.tau !== tau) {
          if (smooth) await smooth.oracle.release();
          smooth = { tau, oracle: model.withGradients({ surrogateTau: tau }) };
        }
        return smooth.oracle;
      };
      for (const attack of adaptive) {
        if (gradientOf(attack) === 'surrogate') {
          const c = await craft(attack, model, `κ=${kappa} ${attack.name} adaptive (BPDA surrogate)`, surrogate);
          await record(kappa, attack, 'adaptive', c, { gradient: `bpda: z·σ((z−κ)/τ), τ ∈ {${String(attack.params['taus'] ?? '')}}` });
          curveOf(kappa, attack, 'adaptive', c.out);
          continue;
        }
        relu ??= model.withGradients({ gradKappa: adaptiveGradKappa });
        const c = await craft(attack, relu, `κ=${kappa} ${attack.name} adaptive (κ_grad=${adaptiveGradKappa})`);
        await record(kappa, attack, 'adaptive', c, { grad_kappa: adaptiveGradKappa, gradient: `κ_grad=${adaptiveGradKappa}` });
        curveOf(kappa, attack, 'adaptive', c.out);
      }
      if (relu) await relu.release();
      if (smooth) await (smooth as { oracle: ModelOracle }).oracle.release();
    }
  }

  if (grayBox.length) {
    // Which crafts each attack's matrix needs: the source κ's, and every κ's crafted white-box (or, with
    // --transfer, crafted here). Crafted source κ by source κ, predicted target κ by target κ (one κ model alive
    // at a time), then recorded in the attack-major order of the report.
    const plans = grayBox.map((attack) => ({
      attack, sources: [sourceKappa, ...o.kappas.filter((k) => k !== sourceKappa && (o.transfer || crafted.has(`${attack.name}@${k}`)))],
    }));
    for (const s of new Set(plans.flatMap((p) => p.sources))) {
      for (const { attack, sources } of plans) {
        if (!sources.includes(s) || crafted.has(`${attack.name}@${s}`)) continue;
        crafted.set(`${attack.name}@${s}`, await craft(attack, await pool.get(s), `κ=${s} ${attack.name} (gray-box source)`));
      }
    }
    const transferred = new Map<string, { pred: Int32Array; seconds: number }>();
    for (const t of o.kappas) {
      for (const { attack, sources } of plans) {
        for (const s of sources) transferred.set(`${attack.name}@${s}>${t}`, await predict(t, crafted.get(`${attack.name}@${s}`)!.out.adv));
      }
    }
    for (const { attack, sources } of plans) {
      const matrix: number[][] = [];
      for (const s of sources) {
        const c = crafted.get(`${attack.name}@${s}`)!;
        const row: number[] = [];
        for (const t of o.kappas) {
          const p = transferred.get(`${attack.name}@${s}>${t}`)!;
          if (s === sourceKappa) {
            const r = await record(t, attack, 'gray-box', c, { source_kappa: s }, p);
            row.push(r.accuracy);
          } else {
            let ok = 0;
            for (let i = 0; i < n; i++) if (p.pred[i] === labels[i]) ok++;
            row.push(ok / n);
          }
        }
        matrix.push(row);
      }
      transfers.push({ attack: attack.name, source_kappas: sources, target_kappas: [...o.kappas], accuracy: matrix });
    }
  }

  const report = snapshot(true);
  if (o.report) {
    writeReportFiles(o.report.dir, report);
    checkpoint?.finish();
  }
  return { report, perSample };
}

/**
 * The attacks of a run (eval or detect), from their names and `--attack-param`s: every name and parameter checked
 * (usage errors), defaults resolved for the data's family, one instance per name sharing the run's seed.
 */
export function prepareAttacks(o: Pick<EvalOptions, 'dataset' | 'attacks' | 'attackParams' | 'seed'>): {
  attackParams: Record<string, Record<string, ParamValue>>; attacks: Attack[]; seed: number;
} {
  for (const a of o.attacks) if (!isAttackName(a)) makeAttack(a, {}); // throws the usage error
  for (const a of Object.keys(o.attackParams ?? {})) {
    if (!o.attacks.includes(a)) throw new UsageError(`--attack-param for '${a}', which is not among --attacks (${o.attacks.join(', ')})`);
  }
  const family = datasetFamily(o.dataset);
  const attackParams: Record<string, Record<string, ParamValue>> = {};
  for (const a of o.attacks) if (isAttackName(a)) attackParams[a] = resolveAttackParams(a, family, o.attackParams?.[a]);
  const seed = o.seed ?? 0;
  return { attackParams, attacks: o.attacks.map((a) => makeAttack(a, attackParams[a]!, seed)), seed };
}

/**
 * The first `n` samples of a run (eval or detect) in the space the attacks work in: the input convention resolved
 * and printed, the values checked against it, the clamp fixed over the whole evaluated set, and the warnings the
 * report starts with. A model let through without ReLU sites (`allowNoSites`) is said here, with the κ it drops.
 * With `part` (a shard) only samples [start, end) are returned, but the checks, the clamp and `dataSha256` (the
 * hash of all n as attacked: float32 samples, then int32 labels) still cover all n, read in chunks.
 */
export function prepareSamples(
  o: Pick<EvalOptions, 'modelPath' | 'dataset' | 'preprocess' | 'preprocessing' | 'space' | 'allowNoSites' | 'clamp' | 'kappas' | 'modelInterface' | 'sites'>,
  n: number, progress: Progress, part?: { start: number; end: number },
): {
  input: ReturnType<typeof resolveEvalInput>; preprocessing: Preprocessing; spaceName: InputSpace; shape: ImageShape;
  space: SpaceMap; x: Float32Array; labels: Int32Array; clamp: Clamp; warnings: string[]; dataSha256?: string;
} {
  const ds = o.dataset;
  const input = resolveEvalInput(o);
  const { preprocessing, space: spaceName } = input;
  progress.log(input.interface.summary);
  progress.log(input.resolved.summary);
  if (input.sitePlan?.warning) {
    progress.log(`warning: ${input.sitePlan.warning}`);
    input.resolved.notes.push(`retrofit: ${input.sitePlan.warning}`);
  }
  if (input.sitePlan?.existing) {
    progress.log(`note: ${input.sitePlan.existing}`);
    input.resolved.notes.push(`retrofit: ${input.sitePlan.existing}`);
  }
  if (input.noSites) {
    const dropped = o.kappas.filter((k) => k !== 0);
    progress.log(`warning: ${input.noSites}`);
    input.resolved.notes.push(`${input.noSites}${dropped.length ? ` (κ = ${dropped.join(', ')} left out)` : ''}`);
  }
  checkValues(ds, preprocessing.scale, n);
  const shape = { channels: ds.channels, height: ds.height, width: ds.width };
  const space = new SpaceMap(spaceName, shape, preprocessing.mean, preprocessing.std, input.resolved.feed);
  const from = part?.start ?? 0;
  const to = part?.end ?? n;
  const x = toAttackSpace(ds, preprocessing, spaceName, to - from, from);
  const labels = ds.labels.slice(from, to);
  const warnings = [...ds.warnings, ...input.resolved.notes];
  if (!part) {
    const clamp = o.clamp === 'box' ? Clamp.box(spaceName, shape, preprocessing.mean, preprocessing.std) : Clamp.batchMinMax(x, shape);
    return { input, preprocessing, spaceName, shape, space, x, labels, clamp, warnings };
  }
  // a shard: the whole set's min/max and hash, 4 MiB of samples at a time
  const hash = createHash('sha256');
  let lo = Infinity;
  let hi = -Infinity;
  const chunk = Math.max(1, Math.floor((1 << 20) / space.size));
  for (let s = 0; s < n; s += chunk) {
    const c = toAttackSpace(ds, preprocessing, spaceName, Math.min(chunk, n - s), s);
    for (const v of c) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    hash.update(bytesOf(c));
  }
  hash.update(bytesOf(ds.labels.slice(0, n)));
  // the batch-min/max clamp of all n (Clamp.batchMinMax of the two extremes is that of the whole set)
  const clamp = o.clamp === 'box' ? Clamp.box(spaceName, shape, preprocessing.mean, preprocessing.std) : Clamp.batchMinMax(Float32Array.of(lo, hi), shape);
  return { input, preprocessing, spaceName, shape, space, x, labels, clamp, warnings, dataSha256: hash.digest('hex') };
}

/**
 * The input convention of a run, resolved before anything runs: reads the model's graph, checks it has ReLUs to
 * retrofit and takes the data's shape, and decides what is fed and which space ε is measured in.
 */
export function resolveEvalInput(o: Pick<EvalOptions, 'modelPath' | 'dataset' | 'preprocess' | 'preprocessing' | 'space' | 'allowNoSites' | 'modelInterface' | 'sites'>): {
  preprocessing: Preprocessing; space: InputSpace; resolved: ResolvedInput; analysis: InputAnalysis;
  /** The model's interface (input, output, layout, batch) as resolved from the model and the flags. */
  interface: ResolvedInterface;
  /** What the retrofit changes with the site options (absent when `noSites`). */
  sitePlan?: SitePlan;
  /** Set when the model has no ReLU site and `allowNoSites` let it through: why κ cannot act. */
  noSites?: string;
} {
  const model = loadModel(o.modelPath);
  const ds = o.dataset;
  let iface = resolveInterface(model, o.modelInterface ?? {}, { channels: ds.channels, height: ds.height, width: ds.width, classes: knownClasses(ds) });
  adaptInterface(model, iface);
  const analysis = analyseInput(model);
  checkShape(o.dataset, analysis);
  let noSites: string | undefined;
  let sitePlan: SitePlan | undefined;
  try {
    sitePlan = checkRetrofitSites(model, o.sites);
  } catch (e) {
    if (!(o.allowNoSites && e instanceof ModelMismatchError)) throw e;
    noSites = `${e.message.replace(/: every κ would give.*$/, '')}: evaluated as it is, at κ = 0 only (--allow-no-sites); these are the model's own figures, JumpReLU does not act on it`;
  }
  if (iface.run === 'free') iface = checkBatch(o.modelPath, iface, model);
  const p = o.preprocessing ?? {};
  const resolved = resolveInput(analysis, {
    ...(o.preprocess ? { preprocess: o.preprocess } : {}), ...(o.space ? { space: o.space } : {}),
    ...(p.mean ? { mean: p.mean } : {}), ...(p.std ? { std: p.std } : {}),
  }, o.dataset);
  const preprocessing: Preprocessing = { scale: p.scale ?? o.dataset.defaults.scale, mean: resolved.mean, std: resolved.std, layout: 'NCHW' };
  checkPreprocessing(preprocessing, o.dataset.channels);
  return { preprocessing, space: resolved.space, resolved, analysis, interface: iface, ...(sitePlan ? { sitePlan } : {}), ...(noSites ? { noSites } : {}) };
}

/**
 * The batch and intra-op threads of a run: the batch from --max-memory when given (the estimate of the first κ
 * model, printed), the threads by the batch the run's calls will have (at most n), both said on stderr.
 */
function resolveResources(
  o: EvalOptions, source: ModelSource, n: number, space: SpaceMap, attacks: readonly Attack[], progress: Progress,
): { batch: number; threads: number; threadRule: string; memoryRule: string | null } {
  let batch = o.batch;
  let memoryRule: string | null = null;
  if (o.maxMemory !== undefined) {
    const model = retrofittedModel(source, o.kappas[0]!, o.kappaMaps?.get(o.kappas[0]!));
    const input = model.graph.inputs.find((v) => !v.initializer)?.name ?? '';
    const tiled = attacks.some((a) => TILED_ATTACK.test(a.name));
    const e = estimateMemory(model, input, space.shape, tiled);
    batch = batchForBudget(e, o.maxMemory, o.batch);
    memoryRule = `batch ${batch} from --max-memory ${formatSize(o.maxMemory)}: estimated ${formatSize(e.fixed)} fixed (weights ${formatSize(e.weights)}) + ${formatSize(e.perSample)} per sample (activations ${formatSize(e.activations)}${tiled ? ', ×4 for logit-difference tiling' : ''}${e.unknown ? `; ${e.unknown} tensors of unknown size counted as the input's` : ''})${batch === o.batch ? ` (capped by --batch ${o.batch})` : ''}`;
    progress.log(memoryRule);
  }
  // a model run one sample per call (model-interface.ts: batch-less, or a batch of 1 that cannot be freed) has calls of 1
  const t = chooseThreads(o.threads, source.interface?.run === 'one' ? 1 : Math.min(batch, n));
  progress.log(`ONNX Runtime: ${t.threads} intra-op thread${t.threads === 1 ? '' : 's'} (${t.rule}), batch ${batch}`);
  return { batch, threads: t.threads, threadRule: t.rule, memoryRule };
}

/** Attacks that ask for logit differences (the oracle tiles a call's samples by the candidates). */
const TILED_ATTACK = /^(deepfool|tr)/;

function pct(v: number): string {
  return `${(100 * v).toFixed(2)}%`;
}

function bytesOf(a: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

/** The gradient-masking sanity checks, as readable warnings. */
export function maskingWarnings(results: readonly AttackResult[]): string[] {
  const w: string[] = [];
  const find = (kappa: number, attack: string, mode: string) => results.find((r) => r.kappa === kappa && r.attack === attack && r.mode === mode);
  for (const r of results) {
    if ((r.zero_gradient_rate ?? 0) > 0.01) {
      w.push(`gradient masking? κ=${r.kappa} ${r.attack} ${r.mode}: ${pct(r.zero_gradient_rate!)} of the attacked samples had an exactly zero input gradient`);
    }
  }
  for (const r of results) {
    if (r.attack === 'ifgsm' || r.attack === 'pgd') {
      const single = find(r.kappa, 'fgsm', r.mode);
      if (single && r.accuracy > single.accuracy + TOL) {
        w.push(`gradient masking? κ=${r.kappa} ${r.mode}: iterative ${r.attack} leaves accuracy ${pct(r.accuracy)}, above single-step fgsm's ${pct(single.accuracy)}`);
      }
    }
  }
  // adaptive, gray-box and score-based attacks against white-box ones: verdict.ts's maskingFindings (paired tests)
  return w;
}
