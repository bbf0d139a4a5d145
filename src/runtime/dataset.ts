// `--data KIND:PATH`: loading a labelled image set and turning it into attack-space tensors, with the
// preprocessing declared explicitly (scale, per-channel mean/std, NCHW) and recorded in every report.
//
//   mnist:DIR / fashion-mnist:DIR   idx files (t10k-… for --split test, train-… for train; .gz or raw),
//                                   or mnist:IMAGES,LABELS (two idx files)
//   cifar10:FILE                    CIFAR binary records (.bin or .bin.gz)
//   npy:IMAGES.npy,LABELS.npy       NumPy arrays
//   npz:FILE.npz                    arrays named x/images/X/data and y/labels/Y/targets (or the only 2 arrays)
//   pb:IMAGES.pb,LABELS.pb          ONNX TensorProto files
// Images may be N×H×W, N×C×H×W or N×H×W×C (--layout when ambiguous); uint8 or float.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { JumpReluError, UsageError } from '../ir/errors.js';
import { fileNotFound, fileReadError } from '../ir/file-errors.js';
import {
  type ImageSet, type NdArray, DataFormatError, readIdxImageSet, readCifarBinary, normalise, scaleTo01, readNpy, readNpz, readTensorProto, toNumbers,
  MNIST_NORMALISATION, CIFAR10_NORMALISATION,
} from './data/index.js';
import type { DataKind, InputSpace, Preprocessing } from './report/schema.js';
import type { ImageShape } from './space.js';

export const DATA_KINDS: readonly DataKind[] = ['mnist', 'fashion-mnist', 'cifar10', 'npy', 'npz', 'pb'];

export interface Dataset extends ImageShape {
  kind: DataKind;
  path: string;
  count: number;
  /** uint8 pixels (0–255), or float values that `scale` maps to [0, 1]; NCHW. */
  values: Uint8Array | Float32Array;
  labels: Int32Array;
  /** The preprocessing used unless the user overrides it. */
  defaults: Preprocessing;
  warnings: string[];
}

/** Fashion-MNIST statistics of the training set (x/255): mean 0.2860, std 0.3530. */
export const FASHION_MNIST_NORMALISATION = { mean: [0.286], std: [0.353] };

export function parseDataSpec(spec: string): { kind: DataKind; path: string } {
  const at = spec.indexOf(':');
  const kind = (at > 0 ? spec.slice(0, at) : '') as DataKind;
  if (at <= 0 || !DATA_KINDS.includes(kind)) {
    throw new UsageError(`--data '${spec}': expected KIND:PATH with KIND one of ${DATA_KINDS.join(', ')} (e.g. mnist:../shared/data/mnist)`);
  }
  const path = spec.slice(at + 1);
  if (path === '') throw new UsageError(`--data '${spec}': the path is empty`);
  return { kind, path };
}

function idxFile(dir: string, stem: string): string {
  for (const f of [`${stem}.gz`, stem, stem.replace('-idx', '.idx')]) {
    const p = join(dir, f);
    if (existsSync(p)) return p;
  }
  throw new JumpReluError(`--data: no ${stem}[.gz] in ${dir}`, { code: 'file-not-found' });
}

function fromImageSet(kind: DataKind, path: string, set: ImageSet, defaults: Preprocessing): Dataset {
  return {
    kind, path, count: set.count, channels: set.channels, height: set.height, width: set.width,
    values: set.pixels, labels: Int32Array.from(set.labels), defaults, warnings: [],
  };
}

function pre(mean: readonly number[], std: readonly number[], scale = 1 / 255): Preprocessing {
  return { scale, mean: [...mean], std: [...std], layout: 'NCHW' };
}

/** Images + labels arrays → Dataset (NCHW, labels as integers). */
export function fromArrays(kind: DataKind, path: string, images: NdArray, labels: NdArray, layout?: 'NCHW' | 'NHWC'): Dataset {
  const s = images.shape;
  let n: number, c: number, h: number, w: number;
  let lay: 'NCHW' | 'NHWC' = 'NCHW';
  if (s.length === 3) [n, h, w, c] = [s[0]!, s[1]!, s[2]!, 1];
  else if (s.length === 4) {
    lay = layout ?? (s[1] === 1 || s[1] === 3 ? 'NCHW' : s[3] === 1 || s[3] === 3 ? 'NHWC' : 'NCHW');
    if (lay === 'NCHW') [n, c, h, w] = s as [number, number, number, number];
    else [n, h, w, c] = s as [number, number, number, number];
  } else throw new DataFormatError(`${path}: images must be N×H×W or 4-D, got shape [${s.join(', ')}]`);
  const lab = toNumbers(labels);
  let labelsOut: Int32Array;
  if (labels.shape.length === 1) labelsOut = Int32Array.from(lab);
  else if (labels.shape.length === 2 && labels.shape[1]! > 1) {
    // one-hot or scores: argmax per row
    const k = labels.shape[1]!;
    labelsOut = Int32Array.from({ length: labels.shape[0]! }, (_, i) => {
      let b = 0;
      for (let j = 1; j < k; j++) if (lab[i * k + j]! > lab[i * k + b]!) b = j;
      return b;
    });
  } else labelsOut = Int32Array.from(lab);
  if (labels.shape.length > 2 || (labels.shape.length === 2 && labels.shape[0] !== n)) {
    throw new DataFormatError(`${path}: labels of shape [${labels.shape.join(', ')}] for ${n} images (expected [${n}] or one-hot [${n}, classes])`);
  }
  if (labelsOut.length !== n) throw new DataFormatError(`${path}: ${n} images but ${labelsOut.length} labels`);
  if (lab.some((v) => !Number.isInteger(v))) throw new DataFormatError(`${path}: labels must be whole class indices (found ${lab.find((v) => !Number.isInteger(v))})`);
  if (labelsOut.some((v) => v < 0)) throw new DataFormatError(`${path}: negative labels`);
  const size = c * h * w;
  const uint8 = images.dtype === 'uint8';
  const src = uint8 ? (images.data as Uint8Array) : Float32Array.from(toNumbers(images));
  let values: Uint8Array | Float32Array = src;
  if (lay === 'NHWC') {
    values = uint8 ? new Uint8Array(src.length) : new Float32Array(src.length);
    const hw = h * w;
    for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) for (let ch = 0; ch < c; ch++) values[i * size + ch * hw + p] = src[i * size + p * c + ch]!;
  }
  const warnings: string[] = [];
  const defaults = pre([0], [1], uint8 ? 1 / 255 : 1);
  // the value range is checked against --scale before any attack (data-checks.ts)
  return { kind, path, count: n, channels: c, height: h, width: w, values, labels: labelsOut, defaults, warnings };
}

function pickArray(arrays: Map<string, NdArray>, names: string[], rank: (r: number) => boolean, path: string, what: string): NdArray {
  for (const k of names) if (arrays.has(k)) return arrays.get(k)!;
  const fits = [...arrays.values()].filter((a) => rank(a.shape.length));
  if (arrays.size === 2 && fits.length === 1) return fits[0]!;
  throw new DataFormatError(`${path}: no ${what} array (name it ${names.join(' or ')}; found ${[...arrays.keys()].join(', ')})`);
}

export async function loadDataset(spec: string, options: { split?: 'test' | 'train'; layout?: 'NCHW' | 'NHWC' } = {}): Promise<Dataset> {
  const { kind, path } = parseDataSpec(spec);
  const split = options.split ?? 'test';
  const prefix = split === 'test' ? 't10k' : 'train';
  const two = () => {
    const parts = path.split(',');
    if (parts.length !== 2) throw new UsageError(`--data ${kind}:IMAGES,LABELS needs two comma-separated files`);
    return parts as [string, string];
  };
  try {
    switch (kind) {
      case 'mnist':
      case 'fashion-mnist': {
        // A folder of t10k-/train- files, or IMAGES,LABELS: two idx files (e.g. the bundled held-out digits).
        const files = path.includes(',') ? two() : null;
        if (!files && !existsSync(path)) throw fileNotFound(path, '--data', 'folder');
        for (const f of files ?? []) if (!existsSync(f)) throw fileNotFound(f, '--data');
        const set = files
          ? await readIdxImageSet(files[0], files[1])
          : await readIdxImageSet(idxFile(path, `${prefix}-images-idx3-ubyte`), idxFile(path, `${prefix}-labels-idx1-ubyte`));
        const norm = kind === 'mnist' ? MNIST_NORMALISATION : FASHION_MNIST_NORMALISATION;
        return fromImageSet(kind, path, set, pre(norm.mean, norm.std));
      }
      case 'cifar10': {
        if (!existsSync(path)) throw fileNotFound(path, '--data');
        return fromImageSet(kind, path, await readCifarBinary(path), pre(CIFAR10_NORMALISATION.mean, CIFAR10_NORMALISATION.std));
      }
      case 'npy': {
        const [a, b] = two();
        return fromArrays(kind, path, await readNpy(a), await readNpy(b), options.layout);
      }
      case 'pb': {
        const [a, b] = two();
        return fromArrays(kind, path, await readTensorProto(a), await readTensorProto(b), options.layout);
      }
      case 'npz': {
        const arrays = await readNpz(path);
        const images = pickArray(arrays, ['x', 'images', 'X', 'data', 'x_test'], (r) => r >= 3, path, 'images');
        const labels = pickArray(arrays, ['y', 'labels', 'Y', 'targets', 'y_test'], (r) => r <= 2, path, 'labels');
        return fromArrays(kind, path, images, labels, options.layout);
      }
    }
  } catch (e) {
    if (e instanceof JumpReluError) throw e; // usage errors (exit 2), DataFormatError and missing files (exit 1)
    const err = e as NodeJS.ErrnoException;
    // a file that is missing, a folder or unreadable: io (exit 1), like a missing model
    if (typeof err.code === 'string' && typeof err.syscall === 'string') throw fileReadError(err.path ?? path, e, '--data');
    throw e;
  }
}

/**
 * `count` samples from sample `from` (default: the first) in the attack space: [0,1] pixels (`pixel`) or ((v·scale) − mean)/std (`normalized`),
 * computed in float32 exactly like torchvision's ToTensor + Normalize for uint8 images.
 */
export function toAttackSpace(ds: Dataset, p: Preprocessing, space: InputSpace, count: number, from = 0): Float32Array {
  const size = ds.channels * ds.height * ds.width;
  const n = Math.max(0, Math.min(count, ds.count - from));
  if (ds.values instanceof Uint8Array && Math.abs(p.scale - 1 / 255) < 1e-15) {
    const set: ImageSet = { count: ds.count, channels: ds.channels, height: ds.height, width: ds.width, pixels: ds.values, labels: new Uint8Array(ds.count) };
    return space === 'pixel' ? scaleTo01(set, { start: from, count: n }) : normalise(set, { mean: p.mean, std: p.std }, { start: from, count: n });
  }
  const pick = (v: readonly number[], c: number) => Math.fround(v[v.length === 1 ? 0 : c]!);
  const out = new Float32Array(n * size);
  const plane = ds.height * ds.width;
  const base = from * size;
  for (let i = 0; i < n * size; i++) {
    const x = Math.fround(ds.values[base + i]! * p.scale);
    if (space === 'pixel') out[i] = x;
    else {
      const c = Math.floor(i / plane) % ds.channels;
      out[i] = Math.fround(x - pick(p.mean, c)) / pick(p.std, c);
    }
  }
  return out;
}

export function checkPreprocessing(p: Preprocessing, channels: number): void {
  for (const [k, v] of [['mean', p.mean], ['std', p.std]] as const) {
    if (v.length !== 1 && v.length !== channels) throw new UsageError(`--${k} has ${v.length} values for ${channels} channels`);
    if (v.some((x) => !Number.isFinite(x))) throw new UsageError(`--${k} values must be finite numbers`);
  }
  if (p.std.some((s) => !(s > 0))) throw new UsageError('--std values must be positive');
  if (!(p.scale > 0) || !Number.isFinite(p.scale)) throw new UsageError('--scale must be a positive number');
}
