// The site options the converter and the harness share (one definition: `convert`, `eval`, `tune` and `detect`
// take the same flags with the same meaning), the harness's model-interface options, and their parsed forms.

import type { Argv } from 'yargs';
import { type Requirement, parseRequirement } from '../passes/coverage.js';
import { MODEL_LAYOUTS, type InterfaceRequest, type ModelLayout } from '../runtime/model-interface.js';

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

export interface InterfaceArgs {
  input?: string;
  output?: string;
  modelLayout?: string;
}

/** --input, --output, --model-layout (eval, tune, detect): left out, read from the model (model-interface.ts). */
export function interfaceOptions<T>(y: Argv<T>): Argv<T & InterfaceArgs> {
  return y
    .option('input', { type: 'string', describe: 'the model\'s image input (default: its only input that is not a weight)' })
    .option('output', { type: 'string', describe: 'the model\'s logits output (default: its only float output of rank 2; a final Softmax is cut)' })
    .option('model-layout', { type: 'string', choices: [...MODEL_LAYOUTS], describe: 'layout of the model\'s input (default: read from its declared shape; refused when the shape contradicts it)' }) as unknown as Argv<T & InterfaceArgs>;
}

export function parseInterfaceArgs(a: InterfaceArgs): InterfaceRequest {
  return {
    ...(a.input !== undefined ? { input: a.input } : {}), ...(a.output !== undefined ? { output: a.output } : {}),
    ...(a.modelLayout !== undefined ? { layout: a.modelLayout as ModelLayout } : {}),
  };
}
