// What the retrofit pass records in the model's metadata_props, so a later run can find and update
// its own JumpReLU sites and the gradient compiler can read each site's gradient κ.

import type { Model } from '../ir/model.js';

export const RECORD_KEY = 'jumprelu.retrofit';

export type Target = 'thresholded-relu' | 'where' | 'function' | 'custom';
export const TARGETS: readonly Target[] = ['thresholded-relu', 'where', 'function', 'custom'];

/** A κ: one number, or one per channel (axis 1). */
export type Kappa = number | number[];

export interface SiteRecord {
  /** Graph path (see sites.ts), e.g. "main" or "main/loop_node.body". */
  graph: string;
  /** Name of the node that produces the site's output (ThresholdedRelu, Where, call, custom op, Relu). */
  node: string;
  /** How the site is lowered; 'relu' for a site whose κ is 0 (J₀ is ReLU, the Relu node is kept). */
  target: Target | 'relu';
  kappa: Kappa;
  /** κ used for gradients (absent: same as kappa). */
  grad_kappa?: Kappa;
  /** `where` lowering: the Greater node and the κ value feeding it. */
  mask_node?: string;
  kappa_value?: string;
  /** Set when the site came from a Clip(min=0, max) (ReLU6) that still follows it. */
  clip_node?: string;
}

export interface RetrofitRecord {
  format: 1;
  sites: SiteRecord[];
}

export function readRecord(model: Model): RetrofitRecord | null {
  const raw = model.getMetadata(RECORD_KEY);
  if (raw === undefined) return null;
  try {
    const parsed = JSON.parse(raw) as RetrofitRecord;
    if (parsed === null || typeof parsed !== 'object' || parsed.format !== 1 || !Array.isArray(parsed.sites)) return null;
    // The metadata comes with the model: entries that are not site objects (null, numbers, …) are ignored.
    const sites = (parsed.sites as unknown[]).filter((s): s is SiteRecord =>
      typeof s === 'object' && s !== null && !Array.isArray(s)
      && typeof (s as SiteRecord).graph === 'string' && typeof (s as SiteRecord).node === 'string');
    return sites.length === parsed.sites.length ? parsed : { ...parsed, sites };
  } catch {
    return null;
  }
}

export function writeRecord(model: Model, record: RetrofitRecord): void {
  const text = JSON.stringify(record);
  if (model.getMetadata(RECORD_KEY) !== text) model.setMetadata(RECORD_KEY, text);
}

export function sameKappa(a: Kappa | undefined, b: Kappa | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const x = typeof a === 'number' ? [a] : a;
  const y = typeof b === 'number' ? [b] : b;
  return typeof a === typeof b && x.length === y.length && x.every((v, i) => Math.fround(v) === Math.fround(y[i]!));
}

export function isZeroKappa(k: Kappa): boolean {
  return typeof k === 'number' ? k === 0 : k.every((v) => v === 0);
}
