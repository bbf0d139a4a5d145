// Per-layer κ: a JSON object mapping sites to κ. Keys are node names, `/regex/` patterns over node
// names, or `#N` site indices (as printed by --list). Values are a κ (number), a per-channel κ
// (array), or `{ "kappa": …, "grad_kappa": … }`.
// Precedence: exact name, then index, then the first matching regex in file order.

import { UsageError } from '../ir/errors.js';
import type { Kappa } from './retrofit-record.js';

export interface KappaSpec {
  kappa: Kappa;
  gradKappa?: Kappa;
}

export interface KappaMap {
  byName: Map<string, KappaSpec>;
  byIndex: Map<number, KappaSpec>;
  byRegex: Array<{ pattern: RegExp; spec: KappaSpec }>;
}

export function checkKappa(value: unknown, what: string): Kappa {
  const check = (v: unknown): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new UsageError(`${what} must be a finite number ≥ 0, got ${typeof v === 'number' ? String(v) : JSON.stringify(v) ?? String(v)}`);
    }
    return v;
  };
  if (Array.isArray(value)) {
    if (value.length === 0) throw new UsageError(`${what}: a per-channel κ needs at least one value`);
    return value.map(check);
  }
  return check(value);
}

function parseSpec(value: unknown, key: string): KappaSpec {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const unknownKeys = Object.keys(o).filter((k) => k !== 'kappa' && k !== 'grad_kappa');
    if (unknownKeys.length > 0) throw new UsageError(`kappa map entry '${key}': unknown field '${unknownKeys[0]}'`);
    const spec: KappaSpec = { kappa: checkKappa(o['kappa'], `kappa map entry '${key}'`) };
    if (o['grad_kappa'] !== undefined) spec.gradKappa = checkKappa(o['grad_kappa'], `grad_kappa of '${key}'`);
    return spec;
  }
  return { kappa: checkKappa(value, `kappa map entry '${key}'`) };
}

export function parseKappaMap(json: unknown): KappaMap {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UsageError('kappa map must be a JSON object mapping node names, /regex/ or #index to κ');
  }
  const map: KappaMap = { byName: new Map(), byIndex: new Map(), byRegex: [] };
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const spec = parseSpec(value, key);
    const regex = /^\/(.*)\/([a-z]*)$/s.exec(key);
    const index = /^#(\d+)$/.exec(key);
    if (regex) {
      try {
        // Without g/y: those make RegExp.test stateful (lastIndex), so it would match only every other site.
        map.byRegex.push({ pattern: new RegExp(regex[1]!, regex[2]!.replace(/[gy]/g, '')), spec });
      } catch (e) {
        throw new UsageError(`kappa map key '${key}' is not a valid regular expression`);
      }
    } else if (index) {
      map.byIndex.set(Number(index[1]), spec);
    } else {
      map.byName.set(key, spec);
    }
  }
  return map;
}

export function lookupKappa(map: KappaMap, name: string, index: number): KappaSpec | undefined {
  return map.byName.get(name) ?? map.byIndex.get(index) ?? map.byRegex.find((r) => r.pattern.test(name))?.spec;
}

/**
 * Like lookupKappa for a site known by several names (a ReLU6 site: its Clip and its JumpReLU node):
 * exact names first, in order, then the index, then the first regex matching any name.
 */
export function lookupKappaByNames(map: KappaMap, names: readonly string[], index: number): KappaSpec | undefined {
  for (const n of names) {
    const hit = map.byName.get(n);
    if (hit) return hit;
  }
  return map.byIndex.get(index) ?? map.byRegex.find((r) => names.some((n) => r.pattern.test(n)))?.spec;
}
