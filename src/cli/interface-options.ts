// The harness's model-interface options (eval, tune, detect) and their parsed form (src/runtime/model-interface.ts).

import type { Argv } from 'yargs';
import { MODEL_LAYOUTS, type InterfaceRequest, type ModelLayout } from '../runtime/model-interface.js';

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
