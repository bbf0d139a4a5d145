// Checks of the data against the model, run before any attack: a figure computed on NaN pixels, on 0–255 values
// taken for [0,1], on labels the model cannot output, or on a model with nothing to retrofit is refused with one
// line instead of being reported.

import { UnsupportedModelError } from '../ir/errors.js';
import type { Model } from '../ir/model.js';
import { findSites } from '../passes/sites.js';
import { DataFormatError } from './data/images.js';
import type { Dataset } from './dataset.js';
import type { InputAnalysis } from './input-convention.js';

/** The model cannot be evaluated on these data (no ReLU, a shape it does not take): exit 1. */
export class ModelMismatchError extends UnsupportedModelError {
  override readonly name = 'ModelMismatchError';
}

const TOLERANCE = 1e-3;

/** NaN/Inf values, and values that `scale` does not map into [0, 1], among the first n samples. */
export function checkValues(ds: Dataset, scale: number, n: number): void {
  if (ds.values instanceof Uint8Array) {
    if (scale * 255 > 1 + TOLERANCE) throw new DataFormatError(`${ds.path}: 8-bit pixels with --scale ${scale} go up to ${scale * 255}, outside [0, 1]: use --scale ${1 / 255} (the default)`, { code: 'data-range' });
    return;
  }
  const size = ds.channels * ds.height * ds.width;
  let bad = -1;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n * size; i++) {
    const v = ds.values[i]!;
    if (!Number.isFinite(v)) {
      bad = i;
      break;
    }
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (bad >= 0) {
    const count = ds.values.subarray(0, n * size).reduce((c, v) => c + (Number.isFinite(v) ? 0 : 1), 0);
    throw new DataFormatError(`${ds.path}: ${count} pixel value(s) are NaN or infinite (first in sample ${Math.floor(bad / size)})`, { code: 'data-nan' });
  }
  const [a, b] = [lo * scale, hi * scale];
  if (a < -TOLERANCE || b > 1 + TOLERANCE) {
    const hint = hi > 2 && hi <= 255 + TOLERANCE && lo >= -TOLERANCE
      ? `: they look like 0–255 pixels, pass --scale ${1 / 255}`
      : lo < 0 ? ': they look already normalised; store [0,1] or 0–255 pixels (the harness normalises them, or the model does)' : '';
    throw new DataFormatError(`${ds.path}: float pixel values span [${round(lo)}, ${round(hi)}], which --scale ${scale} maps outside [0, 1]${hint}`, { code: 'data-range' });
  }
}

/** The data's C×H×W against what the model's (cut) input declares. */
export function checkShape(ds: Dataset, analysis: InputAnalysis): void {
  const [c, h, w] = analysis.shape;
  const want = [c, h, w];
  const got = [ds.channels, ds.height, ds.width];
  if (want.some((d, i) => d !== null && d !== got[i])) {
    const fmt = (v: readonly (number | null)[]) => v.map((d) => d ?? '?').join('×');
    const layout = analysis.layout === 'NHWC' ? ` (its input is NHWC ${fmt([h, w, c])})` : '';
    throw new DataFormatError(`the data are ${fmt(got)} images but the model takes ${fmt(want)}${layout}`, { code: 'data-shape' });
  }
}

/** Labels against the number of classes the model outputs. */
export function checkLabels(ds: Dataset, labels: Int32Array, classes: number): void {
  let max = -1;
  for (const v of labels) if (v > max) max = v;
  if (max >= classes) {
    const count = labels.reduce((c, v) => c + (v >= classes ? 1 : 0), 0);
    throw new DataFormatError(`${ds.path}: ${count} label(s) reach ${max}, but the model has ${classes} classes (0…${classes - 1})`, { code: 'data-labels' });
  }
}

/** A model with no ReLU has nothing for κ to change: every figure would be the ReLU model's. */
export function checkSites(model: Model): void {
  const sites = findSites(model);
  const convertible = sites.filter((s) => s.kind === 'relu' || s.kind === 'jumprelu').length;
  if (convertible > 0) return;
  const clip = sites.filter((s) => s.kind === 'clip').length;
  const fused = sites.filter((s) => s.kind === 'fused').length;
  const other = [clip ? `${clip} Clip(min=0) (convert the model with --relu6 first)` : '', fused ? `${fused} fused op(s) with a built-in ReLU (unfuse them)` : '']
    .filter(Boolean).join(', ');
  throw new ModelMismatchError(`the model has no ReLU for JumpReLU to replace${other ? ` (it has ${other})` : ''}: every κ would give the same model, so there is nothing to evaluate`, { code: 'no-relu-sites' });
}

function round(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}
