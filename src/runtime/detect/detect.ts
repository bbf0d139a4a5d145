// detect(): the paper's §4.1.5 / Table 3 experiment on any ONNX classifier. For each κ and attack (and mode),
// craft adversarial examples with the harness's attacks, make Gaussian-noise counterparts of the same L2 size,
// describe the clean, noisy and successful adversarial versions of every successfully attacked sample by their
// LID in each ReLU/JumpReLU layer and the logits (features.ts), and score a logistic-regression detector by
// 5-fold cross-validation (detector.ts). The AUCs are against attacks that do not know about the detector: an
// upper bound on what it achieves against one that does.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Attack } from '../attacks/common.js';
import { gather } from '../attacks/common.js';
import { UsageError } from '../../ir/errors.js';
import { checkLabels } from '../data-checks.js';
import { type EvalOptions, prepareAttacks, prepareSamples } from '../evaluate.js';
import { outcomes, perturbation, predictions, summarise } from '../metrics.js';
import { interfaceRecord } from '../model-interface.js';
import { type ModelSource, ModelOracle, type Oracle, retrofittedModel } from '../oracle.js';
import { chooseThreads } from '../resources.js';
import { silentProgress } from '../progress.js';
import type { CleanResult } from '../report/schema.js';
import { toolVersion } from '../version.js';
import { ActivationProbe } from './activations.js';
import { evaluateDetector } from './detector.js';
import { GramDistances } from './gram-distances.js';
import { minibatchLid, minibatches, replaceNonFinite } from './features.js';
import { noisyCounterparts } from './noise.js';
import { DETECT_MODES, type DetectLayer, type DetectMode, type DetectReport, type DetectResult, type DetectSettings } from './schema.js';

export interface DetectOptions extends Pick<EvalOptions,
  'modelPath' | 'dataset' | 'preprocess' | 'preprocessing' | 'space' | 'clamp' | 'kappas' | 'attacks' | 'attackParams' | 'limit' | 'threads' | 'seed' | 'progress'
  | 'modelInterface' | 'sites'> {
  /** white-box and/or adaptive (default both). */
  modes?: DetectMode[];
  adaptiveGradKappa?: number;
  /** Samples per ONNX Runtime call (default 500). */
  batch?: number;
  /** B, clean samples per LID minibatch (default 100). */
  minibatch?: number;
  /** k nearest neighbours (default 20). */
  k?: number;
  folds?: number;
  l2?: number;
  bootstrap?: number;
}

export const DETECT_DEFAULTS = { minibatch: 100, k: 20, folds: 5, l2: 1, bootstrap: 1000, batch: 500 } as const;

const VERSIONS = ['clean', 'noisy', 'adversarial'] as const;

/** A 32-bit FNV-1a hash: per-cell seeds that depend on (seed, cell label) only. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function round(v: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function positiveInt(v: number, what: string, min = 1): number {
  if (!Number.isInteger(v) || v < min) throw new UsageError(`${what} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

export async function detect(o: DetectOptions): Promise<DetectReport> {
  const progress = o.progress ?? silentProgress;
  const ds = o.dataset;
  const n = o.limit === null ? ds.count : Math.min(o.limit, ds.count);
  if (n <= 0) throw new UsageError('no samples to evaluate');
  if (o.kappas.length === 0) throw new UsageError('give at least one κ');
  const modes = o.modes ?? [...DETECT_MODES];
  for (const m of modes) if (!DETECT_MODES.includes(m)) throw new UsageError(`detect: unknown mode '${m}' (one of ${DETECT_MODES.join(', ')})`);
  if (modes.length === 0) throw new UsageError('detect: give at least one mode');
  const minibatch = positiveInt(o.minibatch ?? DETECT_DEFAULTS.minibatch, '--batch (LID minibatch)', 2);
  const k = positiveInt(o.k ?? DETECT_DEFAULTS.k, '--k');
  const folds = positiveInt(o.folds ?? DETECT_DEFAULTS.folds, '--folds', 2);
  const bootstrap = positiveInt(o.bootstrap ?? DETECT_DEFAULTS.bootstrap, '--bootstrap');
  const ortBatch = positiveInt(o.batch ?? DETECT_DEFAULTS.batch, '--ort-batch');
  const l2 = o.l2 ?? DETECT_DEFAULTS.l2;
  if (!(l2 >= 0) || !Number.isFinite(l2)) throw new UsageError(`--l2 must be a finite number ≥ 0, got ${l2}`);
  if (k >= minibatch) throw new UsageError(`--k ${k} needs a minibatch of more than ${k} samples (--batch ${minibatch})`);
  const { attackParams, attacks, seed } = prepareAttacks(o);
  const gradKappa = o.adaptiveGradKappa ?? 0;

  const { input, preprocessing, spaceName, space, x, labels, clamp, warnings } = prepareSamples(o, n, progress);
  const size = space.size;
  const source: ModelSource = { path: o.modelPath, interface: input.interface, ...(o.sites ? { sites: o.sites } : {}) };
  // intra-op threads by the batch of its ONNX Runtime calls, as evaluate() chooses them (resources.ts)
  const threadChoice = chooseThreads(o.threads, Math.min(ortBatch, n));
  const threads = threadChoice.threads;
  progress.log(`ONNX Runtime: ${threads} intra-op thread${threads === 1 ? '' : 's'} (${threadChoice.rule})`);
  const oracleOptions = { threads, batch: ortBatch, space };

  const clean: CleanResult[] = [];
  const results: DetectResult[] = [];
  let layers: DetectLayer[] = [];
  let layersSkipped: string[] = [];
  // fewer successful samples than this and the cross-validated AUC is not worth printing
  const minSamples = Math.max(2 * folds, k + 1, 10);

  for (const [ki, kappa] of o.kappas.entries()) {
    const probe = new ActivationProbe(retrofittedModel(source, kappa), oracleOptions);
    const gram = new GramDistances(threads);
    const oracle = new ModelOracle(retrofittedModel(source, kappa), { kappa, ...oracleOptions });
    const cleanLogits = await oracle.forward(x, n);
    if (ki === 0) checkLabels(ds, labels, cleanLogits.length / n);
    const cleanPred = predictions(cleanLogits, n);
    let correct = 0;
    for (let i = 0; i < n; i++) if (cleanPred[i] === labels[i]) correct++;
    clean.push({ kappa, n, accuracy: correct / n });
    progress.log(`κ=${kappa}: clean accuracy ${(100 * correct / n).toFixed(2)}% (${correct}/${n})`);

    // The cells of this κ, as evaluate() runs them: attacks with the model's gradients white-box and adaptive
    // (κ_grad); a score-based attack (no gradients) white-box only; BPDA (its own surrogate gradients) adaptive
    // only, with the smooth-surrogate oracles it asks for (none at κ = 0: the surrogate is then the model).
    // Both are gradient variants of this κ's oracle (its model and forward session shared; one τ at a time), as in
    // evaluate(): one model per κ in memory.
    let relu: ModelOracle | null = null;
    let smooth: { tau: number; oracle: ModelOracle } | null = null;
    const surrogate = kappa === 0 ? null : async (tau: number): Promise<Oracle> => {
      if (smooth?.tau !== tau) {
        if (smooth) await smooth.oracle.release();
        smooth = { tau, oracle: oracle.withGradients({ surrogateTau: tau }) };
      }
      return smooth.oracle;
    };
    const cells: Array<{ attack: Attack; mode: DetectMode; gradient: string }> = [];
    for (const attack of attacks) {
      const g = attack.gradient ?? 'model';
      if (g !== 'surrogate' && modes.includes('white-box')) cells.push({ attack, mode: 'white-box', gradient: g === 'none' ? 'none (score-based)' : 'own' });
      if (g === 'surrogate') cells.push({ attack, mode: 'adaptive', gradient: `bpda: z·σ((z−κ)/τ), τ ∈ {${String(attack.params['taus'] ?? '')}}` });
      else if (g === 'model' && modes.includes('adaptive')) {
        if (kappa === gradKappa) progress.log(`κ=${kappa} ${attack.name}: the adaptive attack (κ_grad=${gradKappa}) is the white-box one here; not run twice`);
        else cells.push({ attack, mode: 'adaptive', gradient: `κ_grad=${gradKappa}` });
      }
    }
    for (const { attack, mode, gradient } of cells) {
      const bpda = gradient.startsWith('bpda');
      let crafter: ModelOracle = oracle;
      if (mode === 'adaptive' && !bpda) crafter = relu ??= oracle.withGradients({ gradKappa });
      const label = `κ=${kappa} ${attack.name} ${mode}${mode === 'adaptive' ? ` (${bpda ? 'BPDA surrogate' : `κ_grad=${gradKappa}`})` : ''}`;
      const t0 = performance.now();
      progress.start(label, Number(attack.params['iterations'] ?? 1));
      const out = await attack.run({ oracle: crafter, x, labels, n, clamp, surrogate: bpda ? surrogate : null, onIteration: (it) => progress.update(it + 1) });
      progress.end();
      const advPred = predictions(await oracle.forward(out.adv, n), n);
      const rows = outcomes(attack.norm, x, out.adv, size, labels, cleanPred, advPred, out.iterations, out.zeroGradient);
      const summary = summarise(rows, out.attacked);
      const chosen = rows.filter((r) => r.success).map((r) => r.index);
      const m = chosen.length;
      let l2Sum = 0;
      for (const i of chosen) l2Sum += perturbation('l2', x, out.adv, i, size).abs;
      const base: DetectResult = {
        kappa, attack: attack.name, mode, ...(mode === 'adaptive' && !bpda ? { grad_kappa: gradKappa } : {}), gradient, norm: attack.norm, n,
        clean_correct: correct, attack_accuracy: summary.accuracy, successful: m, positives: m, negatives: 2 * m,
        rho_success: summary.rho_success, l2_mean: m ? l2Sum / m : 0, noisy_correct: 0, k_used: 0, minibatches: 0,
        non_finite_lid: [], lid_mean: { clean: [], noisy: [], adversarial: [] }, auc: null, auc_interval: null, fold_auc: [],
        roc: null, coefficients: null, wall_s: 0,
      };
      if (m < minSamples) {
        base.skipped = `${m} successful adversarial examples; the detector needs at least ${minSamples} (${folds} folds, k = ${k})`;
        base.wall_s = (performance.now() - t0) / 1000;
        results.push(base);
        warnings.push(`${label}: no AUC — ${base.skipped}`);
        progress.log(`${label}: ${base.skipped}`);
        continue;
      }
      const xs = gather(x, chosen, size);
      const advs = gather(out.adv, chosen, size);
      const noisy = noisyCounterparts(xs, advs, m, size, clamp, (seed ^ hash32(label)) >>> 0);
      const noisyPred = predictions(await oracle.forward(noisy, m), m);
      let noisyOk = 0;
      chosen.forEach((i, j) => { if (noisyPred[j] === labels[i]) noisyOk++; });

      // LID per minibatch: activations of B samples × 3 versions at a time, never all of them at once
      const nl = probe.layers.length;
      const feats = new Float64Array(m * 3 * nl);
      let kUsed = k;
      const ranges = minibatches(m, minibatch);
      for (const [s, e] of ranges) {
        const sz = e - s;
        const acts = [];
        for (const v of [xs, noisy, advs]) acts.push(await probe.run(v.subarray(s * size, e * size), sz));
        const lid = await minibatchLid(acts, probe.layers.map((l) => l.dim), sz, k, (q, nq, r, nr, d) => gram.squared(q, nq, r, nr, d));
        kUsed = Math.min(kUsed, lid.k);
        feats.set(lid.x, s * 3 * nl);
      }
      const nonFinite = replaceNonFinite(feats, 3 * m, nl);
      if (layers.length === 0) {
        layers = probe.layers.map((l) => ({ name: l.name, kind: l.kind, dim: l.dim }));
        layersSkipped = [...probe.skipped];
      }
      const y = Uint8Array.from({ length: 3 * m }, (_, r) => (r % 3 === 2 ? 1 : 0));
      const group = Int32Array.from({ length: 3 * m }, (_, r) => Math.floor(r / 3));
      const ev = evaluateDetector({ x: feats, rows: 3 * m, p: nl, y, group, groups: m }, { folds, l2, seed, bootstrap });
      const lidMean = VERSIONS.map((_, v) => Array.from({ length: nl }, (_, l) => {
        let s = 0;
        for (let j = 0; j < m; j++) s += feats[(j * 3 + v) * nl + l]!;
        return round(s / m, 4);
      }));
      Object.assign(base, {
        noisy_correct: noisyOk / m, k_used: kUsed, minibatches: ranges.length, non_finite_lid: nonFinite,
        lid_mean: { clean: lidMean[0]!, noisy: lidMean[1]!, adversarial: lidMean[2]! },
        auc: ev.auc, auc_interval: [ev.interval.lo, ev.interval.hi], fold_auc: ev.foldAucs.map((a) => round(a)),
        roc: { fpr: ev.roc.fpr.map((v) => round(v)), tpr: ev.roc.tpr.map((v) => round(v)) },
        coefficients: { intercept: round(ev.model.intercept), weights: Array.from(ev.model.weights, (w) => round(w)) },
        wall_s: (performance.now() - t0) / 1000,
      } satisfies Partial<DetectResult>);
      results.push(base);
      const bad = nonFinite.reduce((a, b) => a + b, 0);
      if (bad > 0) warnings.push(`${label}: ${bad} LID estimates were +∞ (all k neighbours equidistant) and were replaced by their layer's largest finite value`);
      if (kUsed < k) warnings.push(`${label}: k capped at ${kUsed} (minibatches of ${Math.min(...ranges.map(([s, e]) => e - s))} samples)`);
      progress.log(`${label}: ${m} successful (accuracy under attack ${(100 * summary.accuracy).toFixed(2)}%, ρ̃ ${(100 * summary.rho_success).toFixed(2)}%), detector AUC ${(100 * ev.auc).toFixed(2)}% [${(100 * ev.interval.lo).toFixed(1)}, ${(100 * ev.interval.hi).toFixed(1)}], ${base.wall_s.toFixed(1)}s`);
    }
    if (relu) await relu.release();
    if (smooth) await (smooth as { oracle: ModelOracle }).oracle.release();
    await oracle.release();
    await probe.release();
    await gram.release();
  }
  if (layers.length === 0) {
    // every cell skipped: still name the feature columns
    const probe = new ActivationProbe(retrofittedModel(source, o.kappas[0]!), oracleOptions);
    await probe.run(x.subarray(0, size), 1);
    layers = probe.layers.map((l) => ({ name: l.name, kind: l.kind, dim: l.dim }));
    layersSkipped = [...probe.skipped];
    await probe.release();
  }
  if (layersSkipped.length) warnings.push(`${layersSkipped.length} site(s) give no LID feature: ${layersSkipped.join('; ')}`);

  const settings: DetectSettings = {
    kappas: [...o.kappas], attacks: attackParams, modes: [...modes], adaptive_grad_kappa: gradKappa, limit: o.limit,
    minibatch, k, folds, l2, bootstrap, level: 0.95, seed, ort_batch: ortBatch, ort_threads: threads,
    negatives: 'the clean and the noisy version of every successfully attacked sample; positives: its adversarial example',
    noise: 'Gaussian, scaled per sample to the L2 norm of its adversarial perturbation (attack space), then clamped like the attack',
    bound: 'upper bound: the attacks do not know about the detector; an attacker who does can lower the AUC',
    split: `${folds}-fold cross-validation by sample (a sample's three rows share a fold); standardiser and detector fitted on the training folds; out-of-fold scores pooled into one ROC`,
  };
  return {
    format: 1,
    kind: 'detect',
    created: new Date().toISOString(),
    tool: { name: 'jumprelu', version: toolVersion() },
    input_convention: input.resolved.convention,
    model: { path: o.modelPath, sha256: createHash('sha256').update(readFileSync(o.modelPath)).digest('hex'), interface: interfaceRecord(input.interface) },
    data: {
      kind: ds.kind, path: ds.path, n, preprocessing, space: spaceName, clamp: o.clamp,
      bounds: { min: clamp.min, max: clamp.max },
    },
    settings,
    layers,
    layers_skipped: layersSkipped,
    clean,
    results,
    warnings,
  };
}
