// What a run may use of the machine: ONNX Runtime intra-op threads chosen by batch size, the batch size derived
// from a memory budget (--max-memory), and the process's peak resident memory for the run summary and report.

import { availableParallelism } from 'node:os';
import { UsageError } from '../ir/errors.js';
import { ShapeInfo, declaredShape } from '../ir/analysis/index.js';
import type { Model } from '../ir/model.js';
import type { ImageShape } from './space.js';

// ------------------------------------------------------------------------------------------------ threads

/**
 * Batches of at most this many samples per ONNX Runtime call run on one intra-op thread unless --threads says
 * otherwise. Measured on ResNet-20 (bench/threads.bench.ts, docs/harness.md 'Threads'): at batch 1 a second
 * thread barely speeds a call up and, on a loaded machine, makes the gradient model stall (the issue saw 15.7×
 * the forward with 2 threads against 2.58× with 1); larger batches split their work across threads.
 */
export const SINGLE_THREAD_MAX_BATCH = 8;

/** Most intra-op threads chosen without --threads. */
export const MAX_AUTO_THREADS = 4;

export interface ThreadChoice {
  threads: number;
  /** Why, in words (printed and recorded in settings.ort_threads_rule). */
  rule: string;
}

/**
 * The intra-op threads of a run's sessions: --threads when given, else 1 when the largest ONNX Runtime call has at
 * most SINGLE_THREAD_MAX_BATCH samples, else min(MAX_AUTO_THREADS, logical CPUs).
 */
export function chooseThreads(explicit: number | undefined, batch: number, cores = availableParallelism()): ThreadChoice {
  if (explicit !== undefined) {
    if (!Number.isInteger(explicit) || explicit <= 0) throw new UsageError('--threads must be a positive integer');
    return { threads: explicit, rule: '--threads' };
  }
  if (batch <= SINGLE_THREAD_MAX_BATCH) {
    return { threads: 1, rule: `batch ${batch} ≤ ${SINGLE_THREAD_MAX_BATCH}: 1 thread, as more stall small calls on a loaded machine; --threads overrides` };
  }
  const threads = Math.max(1, Math.min(MAX_AUTO_THREADS, cores));
  return { threads, rule: `batch ${batch} > ${SINGLE_THREAD_MAX_BATCH}: min(${MAX_AUTO_THREADS}, ${cores} logical CPUs) = ${threads}` };
}

// ------------------------------------------------------------------------------------------------- memory

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** '4G', '512M', '1.5G', '2GB', '300MiB', a plain byte count: bytes (powers of 1024). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`--max-memory '${text}': give a size such as 4G, 512M or 1.5G`);
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
  if (!(bytes > 0)) throw new UsageError(`--max-memory '${text}' must be more than 0`);
  return bytes;
}

export function formatSize(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/**
 * The memory model behind --max-memory, an upper bound fitted to measured peaks (docs/harness.md 'Memory'):
 *   peak ≈ BASE + WEIGHT_COPIES × weights + batch × TILE × GRADIENT_FACTOR × activations-per-sample
 * BASE: Node, ONNX Runtime and the harness before any model (~180 MB measured); the weights are held by the IR,
 * the file bytes, the encoded models and the forward and gradient sessions with their pre-packed copies (9–10×
 * the weights measured on VGG-11 at 32×32: 515 MB peak with 35 MB of weights at batch 1–32 under FGSM); a
 * gradient call costs ~4× the sum of the forward's intermediate tensors per sample it runs (DeepFool, measured);
 * DeepFool/trust-region's logit-difference model tiles a call's samples by the candidates (the oracle keeps that
 * at ≤ 4 × batch).
 */
export const MEMORY_MODEL = { BASE: 256 * 2 ** 20, WEIGHT_COPIES: 10, GRADIENT_FACTOR: 4, TILE: 4 };

export interface MemoryEstimate {
  /** Bytes of the float weights (initializers). */
  weights: number;
  /** Bytes of every intermediate float tensor for one sample (inferred shapes; see `unknown`). */
  activations: number;
  /** Node outputs whose per-sample size inference could not tell (counted as the input's size). */
  unknown: number;
  /** Bytes that do not grow with the batch. */
  fixed: number;
  /** Bytes per sample of one ONNX Runtime call, gradients and tiling included. */
  perSample: number;
}

const ELEM_BYTES: Record<number, number> = { 1: 4, 10: 2, 11: 8, 16: 2, 6: 4, 7: 8, 9: 1, 2: 1, 3: 1 };

/**
 * Per-sample activation bytes of a classifier (its input's batch dimension set to 1, shapes inferred) and its
 * weight bytes, and the memory model's fixed and per-sample costs. `tiled`: the run has an attack that asks for
 * logit differences (DeepFool, trust region).
 */
export function estimateMemory(model: Model, input: string, shape: ImageShape, tiled: boolean): MemoryEstimate {
  const g = model.graph;
  let weights = 0;
  for (const v of g.initializers.values()) {
    const t = v.initializer;
    if (t) weights += t.dims.reduce((a, d) => a * Number(d), 1) * (ELEM_BYTES[t.dataType] ?? 4);
  }
  const x = g.inputs.find((v) => v.name === input);
  const inputBytes = 4 * shape.channels * shape.height * shape.width;
  // one sample: the declared input shape with its symbolic (batch) dimensions set to 1, or [1, C, H, W]
  const declared = x ? declaredShape(g.declaredType(x)) : null;
  const one = declared?.shape ? declared.shape.map((d) => (typeof d === 'number' ? d : 1)) : [1, shape.channels, shape.height, shape.width];
  const seed = new Map(x ? [[x, { elem: declared?.elemType || 1, shape: one }]] : []);
  const info = new ShapeInfo(g, Number(model.opsetVersion('') ?? 17n), seed);
  let activations = 0;
  let unknown = 0;
  for (const node of g.nodes) {
    for (const o of node.outputs) {
      if (!o.name) continue;
      const s = info.staticShape(o);
      if (!s) {
        unknown++;
        activations += inputBytes;
        continue;
      }
      activations += s.reduce((a, d) => a * d, 1) * (ELEM_BYTES[info.elem(o) ?? 1] ?? 4);
    }
  }
  const M = MEMORY_MODEL;
  return {
    weights, activations, unknown,
    fixed: M.BASE + M.WEIGHT_COPIES * weights,
    perSample: (tiled ? M.TILE : 1) * M.GRADIENT_FACTOR * activations,
  };
}

/** The largest batch (≤ `most`) whose estimate fits `budget` bytes; a usage error when not even one sample does. */
export function batchForBudget(e: MemoryEstimate, budget: number, most: number): number {
  const b = Math.floor((budget - e.fixed) / e.perSample);
  if (b < 1) {
    throw new UsageError(`--max-memory ${formatSize(budget)} is below what one sample needs by the harness's estimate (${formatSize(e.fixed + e.perSample)}: ${formatSize(e.fixed)} for the process and the model's weights, ${formatSize(e.perSample)} per sample)`);
  }
  return Math.min(b, most);
}

/** The process's peak resident set size so far, in bytes. */
export function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}
