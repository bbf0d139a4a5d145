// The site options the converter and the harness share (one definition: `convert`, `eval`, `tune` and `detect`
// take the same flags with the same meaning), and their parsed form. Nothing here loads the model code (convert's
// --help must stay light: test/cli-startup.test.ts).

import type { Argv } from 'yargs';
import { type Requirement, parseRequirement } from '../passes/coverage.js';

export interface SiteArgs {
  relu6?: boolean;
  require?: string;
}

export function siteOptions<T>(y: Argv<T>): Argv<T & SiteArgs> {
  return y
    .option('relu6', { type: 'boolean', describe: 'also convert Clip(min=0[, max]) sites (ReLU6)' })
    .option('require', { type: 'string', describe: "fail (exit 1, nothing written or run) unless 'all' ReLU-like sites, or this many, are converted" }) as unknown as Argv<T & SiteArgs>;
}

export function parseSiteArgs(a: SiteArgs): { relu6?: boolean; require?: Requirement } {
  return { ...(a.relu6 ? { relu6: true } : {}), ...(a.require !== undefined ? { require: parseRequirement(a.require) } : {}) };
}
