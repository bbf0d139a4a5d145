// The JumpReLU vocabulary both the retrofit pass and the gradient compiler speak, below both of them:
// the target names, the domains and op names of the lowered forms, and the record the pass keeps in the
// model's metadata_props (so a later run can find and update its own sites and the gradient compiler can
// read each site's gradient κ). One writer (the pass), one reader (readRecord) for everybody.

import { InvalidModelError } from '../ir/errors.js';
import type { Model } from '../ir/model.js';

/** Domain of the custom op `com.jumprelu::JumpRelu` (the library built from customops/). */
export const CUSTOM_DOMAIN = 'com.jumprelu';
/** Domain of the model-local function the `function` target adds. */
export const FUNCTION_DOMAIN = 'com.jumprelu.functions';
/** Op name of both the custom op and the model-local function. */
export const JUMPRELU_OP = 'JumpRelu';

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

function isKappa(v: unknown): v is Kappa {
  return typeof v === 'number' || (Array.isArray(v) && v.every((x) => typeof x === 'number'));
}

/**
 * The record, or null when the model has none. Lenient (the pass's default): a record that is not JSON
 * or not format 1 counts as none, and entries that are not site objects are dropped, since the pass
 * rewrites it anyway. Strict (the gradient compiler, which trusts each κ): any malformed part is an
 * InvalidModelError with code 'retrofit-record'.
 */
export function readRecord(model: Model, options: { strict?: boolean } = {}): RetrofitRecord | null {
  const raw = model.getMetadata(RECORD_KEY);
  if (raw === undefined) return null;
  const bad = (why: string): null => {
    if (options.strict) throw new InvalidModelError(`metadata '${RECORD_KEY}'${why.startsWith(':') ? '' : ' '}${why}`, { code: 'retrofit-record' });
    return null;
  };
  let parsed: RetrofitRecord;
  try {
    parsed = JSON.parse(raw) as RetrofitRecord;
  } catch {
    return bad('is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || !Array.isArray(parsed.sites)) return bad('has no "sites" list');
  if (options.strict) {
    for (const s of parsed.sites as unknown[]) {
      const site = s as SiteRecord | null;
      if (typeof site?.node !== 'string' || !isKappa(site.kappa)) bad(': a site lacks "node" or a numeric "kappa"');
      if (site!.grad_kappa !== undefined && !isKappa(site!.grad_kappa)) bad(`: site '${site!.node}' has a non-numeric "grad_kappa"`);
    }
    return parsed;
  }
  if (parsed.format !== 1) return null;
  // The metadata comes with the model: entries that are not site objects (null, numbers, …) are ignored.
  const sites = (parsed.sites as unknown[]).filter((s): s is SiteRecord =>
    typeof s === 'object' && s !== null && !Array.isArray(s)
    && typeof (s as SiteRecord).graph === 'string' && typeof (s as SiteRecord).node === 'string');
  return sites.length === parsed.sites.length ? parsed : { ...parsed, sites };
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
