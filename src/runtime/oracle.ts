// A classifier retrofitted with JumpReLU at one κ, run in onnxruntime-node, with the gradient oracles the
// attacks need: cross-entropy (FGSM, IFGSM/PGD) and logit differences (DeepFool, trust region).
// Everything takes and returns values in the attack space (see space.ts) and works in chunks of at most
// `batch` samples, so any number of samples can be passed.

import * as ort from 'onnxruntime-node';
import { buildGradientModel, gradientSignature, freeBatchDimension, type GradientSignature } from '../autodiff/index.js';
import { InvalidModelError, JumpReluError, UnsupportedModelError } from '../ir/errors.js';
import { loadModel, sessionBytes } from '../ir/io.js';
import type { Model } from '../ir/model.js';
import type { KappaMap } from '../passes/kappa-map.js';
import { retrofit } from '../index.js';
import type { SpaceMap } from './space.js';
import { prepareClassifier } from './input-convention.js';
import { type ExecutionProvider, providerOptions } from './execution-provider.js';
import { type ResolvedInterface, adaptInterface } from './model-interface.js';
import { type SiteOptions, harnessTarget } from './site-check.js';

export interface OracleOptions {
  /** κ of every JumpReLU (0: the ReLU model). */
  kappa: number;
  /** Per-site κ (scale-aware tuning); sites it does not name get `kappa`. */
  kappaMap?: KappaMap;
  /** Threshold of the JumpReLU derivative in the gradient models (default: κ itself; 0 for the adaptive attack). */
  gradKappa?: number;
  /** BPDA: gradients of the smooth surrogate z·σ((z − κ)/τ) at JumpReLU sites with κ > 0 (excludes gradKappa). */
  surrogateTau?: number;
  threads: number;
  batch: number;
  space: SpaceMap;
  /** Execution provider of the sessions (default cpu; execution-provider.ts checks it can run first). */
  ep?: ExecutionProvider;
}

export interface CeResult {
  logits: Float32Array;
  /** ∂ loss_i / ∂ x_i for each sample, in the attack space. */
  grad: Float32Array;
}

export interface DiffResult {
  logits: Float32Array;
  /** f_candidate − f_label, [n, k]. */
  diffs: Float32Array;
  /** ∂(f_candidate − f_label)/∂x, [n, k, size], in the attack space. */
  grads: Float32Array;
}

/**
 * What an attack may ask of a classifier: logits, the cross-entropy gradient, and logit-difference gradients, all
 * in the attack space. ModelOracle (ONNX Runtime) is one implementation; AnalyticOracle (analytic-oracle.ts)
 * runs a model given as a function with its Jacobian, so attacks can be tested on models with known answers.
 */
export interface Oracle {
  /** The attack space (sample shape, size and the map to the model's input). */
  readonly space: SpaceMap;
  /** Number of classes (0 until the first call when the model's output shape does not say). */
  readonly classes: number;
  /** Logits [n, classes] at x (n samples, attack space). */
  forward(x: Float32Array, n: number): Promise<Float32Array>;
  /** Logits and ∂ CE(logits_i, label_i) / ∂ x_i per sample. */
  crossEntropy(x: Float32Array, labels: Int32Array, n: number): Promise<CeResult>;
  /** Logits, f_c − f_label for the k candidates c of each sample ([n, k]), and their gradients ([n, k, size]). */
  differences(x: Float32Array, labels: Int32Array, candidates: Int32Array, n: number, k: number): Promise<DiffResult>;
  /**
   * Optional: Σ_c cotangent[i, c] · ∂logit_c/∂x_i per sample (a loss of the logits other than CE, e.g. DLR,
   * in one backward pass); attacks fall back to `differences` without it.
   */
  vjp?(x: Float32Array, cotangent: Float32Array, n: number): Promise<CeResult>;
  /** Frees what the oracle holds (sessions); optional. */
  release?(): Promise<void>;
}

/** Counts of model evaluations (samples), for throughput figures. */
export interface OracleCounts {
  forward: number;
  ce: number;
  diff: number;
}

/** The session options of every oracle session (exported for the benches). */
export function sessionOptions(threads: number, ep: ExecutionProvider = 'cpu'): ort.InferenceSession.SessionOptions {
  // logSeverityLevel 4 (fatal only): ORT's own coloured log lines never reach the user; its errors come back
  // as exceptions, which ortCall turns into one line.
  return { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 4, ...providerOptions(ep) };
}

/** An ONNX Runtime error as one plain line: no colour codes, no stack, the status prefix dropped. */
export function ortMessage(e: unknown): string {
  const raw = e instanceof Error ? e.message : String(e);
  // eslint-disable-next-line no-control-regex
  const plain = raw.replace(/\x1b\[[0-9;]*m/g, '').replace(/^\s*\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*[A-Z_]+\s*:\s*/, '');
  return plain.split('\n').map((l) => l.trim()).filter(Boolean).join(' ').slice(0, 400);
}

/** Runs an ONNX Runtime call; its failure (a shape or type the model does not take) becomes a one-line error. */
export async function ortCall<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof JumpReluError) throw e;
    throw new UnsupportedModelError(`ONNX Runtime cannot ${what}: ${ortMessage(e)}`, { code: 'ort-failed' });
  }
}

/** The one non-initializer graph input and the first output of a classifier. */
export function classifierInterface(model: Model): { input: string; output: string } {
  const inputs = model.graph.inputs.filter((v) => !v.initializer);
  if (inputs.length !== 1) {
    throw new UnsupportedModelError(`the harness evaluates classifiers with exactly one input (this model has ${inputs.length}: ${inputs.map((v) => v.name).join(', ')})`, { code: 'classifier-inputs' });
  }
  const out = model.graph.outputs[0];
  if (!out) throw new InvalidModelError('the model has no output', { code: 'no-output' });
  return { input: inputs[0]!.name, output: out.name };
}

/** A model file with what was resolved about it: its interface (model-interface.ts) and the site options. */
export interface ModelSource {
  path: string;
  interface?: ResolvedInterface;
  sites?: SiteOptions;
}

/** Models the harness runs one sample per call (a batch-less model, or a batch of 1 that cannot be freed). */
const oneAtATime = new WeakSet<Model>();

/**
 * Loads a classifier, adapts its interface (one float NCHW input, the logits out: model-interface.ts), cuts its
 * input conversions and final Softmax (input-convention.ts), and retrofits it at κ (or a per-site map) with the
 * site options; the returned model is new.
 */
export function retrofittedModel(source: string | ModelSource, kappa: number, kappaMap?: KappaMap, gradKappa?: number): Model {
  const src: ModelSource = typeof source === 'string' ? { path: source } : source;
  const m = loadModel(src.path);
  if (src.interface) adaptInterface(m, src.interface);
  prepareClassifier(m);
  // the user's --kappa-map acts at every κ > 0 of the sweep (κ = 0 is the ReLU baseline); a map given here (tune's
  // scale-aware candidates) comes first
  const sites = src.sites;
  const map = kappaMap ?? (kappa > 0 ? sites?.kappaMap : undefined);
  retrofit(m, {
    kappa, target: harnessTarget(m), ...(map ? { kappaMap: map } : {}), ...(gradKappa !== undefined ? { gradKappa } : {}), ...(sites?.relu6 ? { relu6: true } : {}),
    ...(map && !kappaMap && sites?.onlyMapped ? { onlyMapped: true } : {}),
  });
  if (src.interface?.run === 'one') oneAtATime.add(m);
  return m;
}

export class ModelOracle implements Oracle {
  readonly counts: OracleCounts = { forward: 0, ce: 0, diff: 0 };
  private forwardSession: Promise<ort.InferenceSession> | null = null;
  private ceSession: Promise<{ s: ort.InferenceSession; sig: GradientSignature }> | null = null;
  private diffSession: Promise<{ s: ort.InferenceSession; sig: GradientSignature }> | null = null;
  private vjpSession: Promise<{ s: ort.InferenceSession; sig: GradientSignature }> | null = null;
  readonly input: string;
  readonly output: string;
  classes = 0;
  /** One sample per ONNX Runtime call (the model's batch is fixed to 1); logit differences then go through vjp. */
  private readonly one: boolean;

  /** Set for a gradient variant (withGradients): the oracle whose model and forward session it shares. */
  private readonly parent: ModelOracle | null;

  constructor(readonly model: Model, readonly options: OracleOptions, parent?: ModelOracle) {
    this.parent = parent ?? null;
    if (parent) {
      ({ input: this.input, output: this.output } = parent);
      this.one = parent.one;
      return;
    }
    ({ input: this.input, output: this.output } = classifierInterface(model));
    this.one = oneAtATime.has(model);
    if (!this.one) try {
      freeBatchDimension(model);
    } catch (e) {
      if (!(e instanceof JumpReluError)) throw e;
      throw new UnsupportedModelError(`cannot run the model on batches: ${e.message}`, { code: 'fixed-batch' });
    }
  }

  /**
   * The same model at the same κ with other gradients (the adaptive attack's κ_grad, BPDA's surrogate τ): it
   * shares this oracle's model and forward session (the inference model does not depend on the gradients), so
   * a variant costs one gradient session, not another copy of the model; its release() frees only that.
   */
  withGradients(g: Pick<OracleOptions, 'gradKappa' | 'surrogateTau'>): ModelOracle {
    const { gradKappa: _g, surrogateTau: _t, ...rest } = this.options;
    return new ModelOracle(this.model, { ...rest, ...g }, this);
  }

  static fromPath(path: string | ModelSource, options: OracleOptions): ModelOracle {
    return new ModelOracle(retrofittedModel(path, options.kappa, options.kappaMap), options);
  }

  /** Samples per ONNX Runtime call. */
  private get chunk(): number {
    return this.one ? 1 : this.options.batch;
  }

  get space(): SpaceMap {
    return this.options.space;
  }

  private forwardS(): Promise<ort.InferenceSession> {
    if (this.parent) return this.parent.forwardS();
    this.forwardSession ??= ortCall('load the model', () => ort.InferenceSession.create(sessionBytes(this.model), sessionOptions(this.options.threads, this.options.ep)));
    return this.forwardSession;
  }

  private gradS(mode: 'cross-entropy' | 'logit-differences' | 'vjp') {
    const make = async () => {
      const g = buildGradientModel(this.model, {
        wrt: [this.input], of: [this.output], mode, freeBatch: !this.one,
        ...(this.options.gradKappa !== undefined ? { gradKappa: this.options.gradKappa } : {}),
        ...(this.options.surrogateTau !== undefined ? { surrogateTau: this.options.surrogateTau } : {}),
      });
      const sig = gradientSignature(g);
      if (!sig) throw new Error('gradient model without a signature');
      const s = await ortCall('load the gradient model', () => ort.InferenceSession.create(sessionBytes(g), sessionOptions(this.options.threads, this.options.ep)));
      return { s, sig };
    };
    if (mode === 'cross-entropy') return (this.ceSession ??= make());
    if (mode === 'vjp') return (this.vjpSession ??= make());
    return (this.diffSession ??= make());
  }

  private shape(n: number): number[] {
    const { channels, height, width } = this.space.shape;
    return [n, channels, height, width];
  }

  /** Logits [n, classes] at x (attack space). */
  async forward(x: Float32Array, n: number): Promise<Float32Array> {
    const s = await this.forwardS();
    const size = this.space.size;
    const parts: Float32Array[] = [];
    for (let start = 0; start < n; start += this.chunk) {
      const m = Math.min(this.chunk, n - start);
      const xin = this.space.toModel(x.subarray(start * size, (start + m) * size));
      const out = await ortCall('run the model', () => s.run({ [this.input]: new ort.Tensor('float32', xin, this.shape(m)) }));
      parts.push(out[this.output]!.data as Float32Array);
    }
    this.counts.forward += n;
    return this.concat(parts, n);
  }

  private concat(parts: Float32Array[], n: number): Float32Array {
    if (parts.length === 1) {
      this.classes ||= parts[0]!.length / n;
      return parts[0]!;
    }
    const total = parts.reduce((a, p) => a + p.length, 0);
    const out = new Float32Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    this.classes ||= total / n;
    return out;
  }

  /** Logits and the per-sample cross-entropy gradient. */
  async crossEntropy(x: Float32Array, labels: Int32Array, n: number): Promise<CeResult> {
    const { s, sig } = await this.gradS('cross-entropy');
    const size = this.space.size;
    const logits: Float32Array[] = [];
    const grad = new Float32Array(n * size);
    for (let start = 0; start < n; start += this.chunk) {
      const m = Math.min(this.chunk, n - start);
      const xin = this.space.toModel(x.subarray(start * size, (start + m) * size));
      const lab = BigInt64Array.from(labels.subarray(start, start + m), (v) => BigInt(v));
      const out = await ortCall('run the gradient model', () => s.run({
        [this.input]: new ort.Tensor('float32', xin, this.shape(m)),
        [sig.inputs.labels!]: new ort.Tensor('int64', lab, [m]),
      }));
      logits.push(out[sig.outputs.logits!]!.data as Float32Array);
      grad.set(out[sig.outputs.gradients[this.input]!]!.data as Float32Array, start * size);
    }
    this.counts.ce += n;
    return { logits: this.concat(logits, n), grad: this.space.gradToSpace(grad) };
  }

  /** Logits and Σ_c cotangent[i, c] ∂logit_c/∂x_i (one forward and backward pass). */
  async vjp(x: Float32Array, cotangent: Float32Array, n: number): Promise<CeResult> {
    const { s, sig } = await this.gradS('vjp');
    const size = this.space.size;
    const logits: Float32Array[] = [];
    const grad = new Float32Array(n * size);
    const classes = cotangent.length / n;
    for (let start = 0; start < n; start += this.chunk) {
      const m = Math.min(this.chunk, n - start);
      const xin = this.space.toModel(x.subarray(start * size, (start + m) * size));
      const out = await ortCall('run the gradient model', () => s.run({
        [this.input]: new ort.Tensor('float32', xin, this.shape(m)),
        [sig.inputs.cotangents![this.output]!]: new ort.Tensor('float32', cotangent.slice(start * classes, (start + m) * classes), [m, classes]),
      }));
      logits.push(out[this.output]!.data as Float32Array);
      grad.set(out[sig.outputs.gradients[this.input]!]!.data as Float32Array, start * size);
    }
    this.counts.ce += n;
    return { logits: this.concat(logits, n), grad: this.space.gradToSpace(grad) };
  }

  /** Logits, f_c − f_label for k candidates per sample, and their gradients. */
  async differences(x: Float32Array, labels: Int32Array, candidates: Int32Array, n: number, k: number): Promise<DiffResult> {
    if (this.one) return this.differencesByVjp(x, labels, candidates, n, k);
    const { s, sig } = await this.gradS('logit-differences');
    const size = this.space.size;
    const logits: Float32Array[] = [];
    const diffs = new Float32Array(n * k);
    const grads = new Float32Array(n * k * size);
    // the gradient model tiles the batch k times: keep n·k near `batch`
    const chunk = Math.max(1, Math.floor(this.options.batch / Math.max(1, Math.ceil(k / 4))));
    for (let start = 0; start < n; start += chunk) {
      const m = Math.min(chunk, n - start);
      const xin = this.space.toModel(x.subarray(start * size, (start + m) * size));
      const lab = BigInt64Array.from(labels.subarray(start, start + m), (v) => BigInt(v));
      const cand = BigInt64Array.from(candidates.subarray(start * k, (start + m) * k), (v) => BigInt(v));
      const out = await ortCall('run the gradient model', () => s.run({
        [this.input]: new ort.Tensor('float32', xin, this.shape(m)),
        [sig.inputs.labels!]: new ort.Tensor('int64', lab, [m]),
        [sig.inputs.candidates!]: new ort.Tensor('int64', cand, [m, k]),
      }));
      logits.push(out[sig.outputs.logits!]!.data as Float32Array);
      diffs.set(out[sig.outputs.differences!]!.data as Float32Array, start * k);
      grads.set(out[sig.outputs.gradients[this.input]!]!.data as Float32Array, start * k * size);
    }
    this.counts.diff += n;
    return { logits: this.concat(logits, n), diffs, grads: this.space.gradToSpace(grads) };
  }

  /**
   * Logit differences of a model run one sample at a time (its batch cannot be tiled k times): one vjp per
   * candidate with the cotangent e_c − e_label, which is the gradient of f_c − f_label.
   */
  private async differencesByVjp(x: Float32Array, labels: Int32Array, candidates: Int32Array, n: number, k: number): Promise<DiffResult> {
    const size = this.space.size;
    const logits = await this.forward(x, n);
    const classes = logits.length / n;
    const diffs = new Float32Array(n * k);
    const grads = new Float32Array(n * k * size);
    const before = this.counts.ce;
    for (let j = 0; j < k; j++) {
      const cot = new Float32Array(n * classes);
      for (let i = 0; i < n; i++) {
        const c = candidates[i * k + j]!;
        const l = labels[i]!;
        if (c === l) continue;
        cot[i * classes + c] = 1;
        cot[i * classes + l] = -1;
        diffs[i * k + j] = logits[i * classes + c]! - logits[i * classes + l]!;
      }
      const { grad } = await this.vjp(x, cot, n);
      for (let i = 0; i < n; i++) grads.set(grad.subarray(i * size, (i + 1) * size), (i * k + j) * size);
    }
    this.counts.ce = before;
    this.counts.forward -= n;
    this.counts.diff += n;
    return { logits, diffs, grads };
  }

  /** Builds the sessions now (so that timings exclude it). */
  async warm(which: { ce?: boolean; diff?: boolean } = {}): Promise<void> {
    await this.forwardS();
    if (which.ce) await this.gradS('cross-entropy');
    if (which.diff) await this.gradS('logit-differences');
  }

  /** Frees the gradient sessions (built again when next asked for); the forward session stays. */
  async releaseGradients(): Promise<void> {
    const held = [this.ceSession, this.diffSession, this.vjpSession];
    this.ceSession = this.diffSession = this.vjpSession = null;
    // a session that failed to build has nothing to free (its error was the caller's)
    for (const p of held) if (p) await p.then((v) => v.s.release(), () => undefined);
  }

  /** Frees every session this oracle built (a variant's: its gradient sessions only, not the shared forward). */
  async release(): Promise<void> {
    await this.releaseGradients();
    const f = this.forwardSession;
    this.forwardSession = null;
    if (f) await f.then((v) => v.release(), () => undefined);
  }
}

export function argmax(logits: Float32Array, classes: number, i: number): number {
  let best = 0;
  const base = i * classes;
  for (let k = 1; k < classes; k++) if (logits[base + k]! > logits[base + best]!) best = k;
  return best;
}
