// The site options the converter and the harness share (one definition: `convert`, `eval`, `tune` and `detect`
// take the same flags with the same meaning), and their parsed form. Nothing here loads the model code (convert's
// --help must stay light: test/cli-startup.test.ts). SITE_OPTIONS is plain data so that the `jumprelu-convert`
// bin's own parser (convert-options.ts) reads the same definitions without yargs.

import type { Argv } from 'yargs';
import { type Requirement, parseRequirement } from '../passes/coverage.js';

export interface SiteArgs {
  relu6?: boolean;
  require?: string;
}

export const SITE_OPTIONS = [
  { name: 'relu6', type: 'boolean', describe: 'also convert Clip(min=0[, max]) sites (ReLU6)' },
  { name: 'require', type: 'string', describe: "fail (exit 1, nothing written or run) unless 'all' ReLU-like sites, or this many, are converted" },
] as const;

export function siteOptions<T>(y: Argv<T>): Argv<T & SiteArgs> {
  let b: Argv<T> = y;
  for (const o of SITE_OPTIONS) b = b.option(o.name, { type: o.type, describe: o.describe });
  return b as unknown as Argv<T & SiteArgs>;
}

export function parseSiteArgs(a: SiteArgs): { relu6?: boolean; require?: Requirement } {
  return { ...(a.relu6 ? { relu6: true } : {}), ...(a.require !== undefined ? { require: parseRequirement(a.require) } : {}) };
}
