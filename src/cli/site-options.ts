// The site options the converter and the harness share (one definition: `convert`, `eval`, `tune` and `detect`
// take the same flags with the same meaning), and their parsed form. Nothing here loads the model code (convert's
// --help must stay light: test/cli-startup.test.ts). SITE_OPTIONS is plain data so that the `jumprelu-convert`
// bin's own parser (convert-options.ts) reads the same definitions without yargs.

import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { UsageError } from '../ir/errors.js';
import { fileReadError } from '../ir/file-errors.js';
import { type Requirement, parseRequirement } from '../passes/coverage.js';
import { type KappaMap, parseKappaMap } from '../passes/kappa-map.js';

export interface SiteArgs {
  relu6?: boolean;
  require?: string;
}

/** The per-site κ flags: the converter's, and the harness's (where they apply to every κ > 0 of the sweep). */
export interface KappaMapArgs {
  kappaMap?: string;
  onlyMapped?: boolean;
}

export const SITE_OPTIONS = [
  { name: 'relu6', type: 'boolean', describe: 'also convert Clip(min=0[, max]) sites (ReLU6)' },
  { name: 'require', type: 'string', describe: "fail (exit 1, nothing written or run) unless 'all' ReLU-like sites, or this many, are converted" },
] as const;

export const KAPPA_MAP_OPTIONS = [
  { name: 'kappa-map', type: 'string', describe: 'JSON file: node name, /regex/ or #index → κ (or {kappa, grad_kappa})' },
  { name: 'only-mapped', type: 'boolean', describe: 'sites the kappa map does not cover stay ReLU' },
] as const;

/** The harness's per-site κ flags (eval, tune, detect): the converter's, applied at every κ > 0 of the sweep. */
export function kappaMapOptions<T>(y: Argv<T>): Argv<T & KappaMapArgs> {
  let b: Argv<T> = y;
  for (const o of KAPPA_MAP_OPTIONS) {
    b = b.option(o.name, { type: o.type, describe: o.name === 'kappa-map' ? `${o.describe}, applied at every κ > 0 of the sweep (κ = 0 stays the ReLU model)` : o.describe });
  }
  return b as unknown as Argv<T & KappaMapArgs>;
}

/**
 * The kappa map file's JSON. A file that is missing or unreadable is an io error (exit 1, like a missing
 * model); JSON that does not parse is a usage error (exit 2): the map is options the user wrote.
 */
export function readKappaMap(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw fileReadError(file, e, '--kappa-map');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`kappa map '${file}' is not valid JSON: ${(e as Error).message}`);
  }
}

/** The harness's parsed per-site κ flags. */
export function parseKappaMapArgs(a: KappaMapArgs): { kappaMap?: KappaMap; kappaMapJson?: unknown; onlyMapped?: boolean } {
  if (a.onlyMapped && a.kappaMap === undefined) throw new UsageError('--only-mapped needs --kappa-map');
  if (a.kappaMap === undefined) return {};
  const json = readKappaMap(a.kappaMap);
  return { kappaMap: parseKappaMap(json), kappaMapJson: json, ...(a.onlyMapped ? { onlyMapped: true } : {}) };
}

export function siteOptions<T>(y: Argv<T>): Argv<T & SiteArgs> {
  let b: Argv<T> = y;
  for (const o of SITE_OPTIONS) b = b.option(o.name, { type: o.type, describe: o.describe });
  return b as unknown as Argv<T & SiteArgs>;
}

export function parseSiteArgs(a: SiteArgs): { relu6?: boolean; require?: Requirement } {
  return { ...(a.relu6 ? { relu6: true } : {}), ...(a.require !== undefined ? { require: parseRequirement(a.require) } : {}) };
}
