// `jumprelu grad IN OUT --wrt input --of logits [--mode …]`: write the gradient model of IN.

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UsageError } from '../ir/errors.js';
import { loadModel, saveModel } from '../ir/io.js';
import { customToStandardForm, describeStandardForm } from './standard-form.js';
import { GRADIENT_MODES, type GradientMode, type GradientSignature, buildGradientModel, gradientSignature } from '../autodiff/index.js';

export interface GradArgs {
  input: string;
  output: string;
  wrt: string[];
  of: string[];
  mode: string;
  freeBatch?: boolean;
  gradKappa?: number;
  initializers?: boolean;
  json?: boolean;
  verbose?: boolean;
}

export function gradOptions(y: Argv): Argv<GradArgs> {
  return y
    .positional('input', { type: 'string', describe: 'ONNX model to differentiate', demandOption: true })
    .positional('output', { type: 'string', describe: 'where to write the gradient model', demandOption: true })
    .option('wrt', { type: 'string', array: true, demandOption: true, describe: 'input(s) to differentiate with respect to' })
    .option('of', { type: 'string', array: true, demandOption: true, describe: 'output(s) to differentiate (the logits for the loss modes)' })
    .option('mode', {
      type: 'string', choices: GRADIENT_MODES as string[], default: 'vjp',
      describe: 'vjp: cotangent inputs; cross-entropy: labels in, loss and gradient of the summed loss out; '
        + 'logit-differences: labels and candidates in, gradients of f_candidate − f_label out',
    })
    .option('free-batch', { type: 'boolean', describe: 'first free a batch dimension fixed to 1' })
    .option('grad-kappa', { type: 'number', describe: 'threshold of every JumpReLU derivative 1[z > κ] (overrides the recorded ones; 0: ReLU surrogate)' })
    .option('initializers', { type: 'boolean', describe: 'also output the gradient of every float initializer' })
    .option('json', { type: 'boolean', describe: 'print the gradient model signature as JSON' })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'stack traces on errors' }) as unknown as Argv<GradArgs>;
}

export function formatSignature(s: GradientSignature): string {
  const lines = [`mode ${s.mode}, opset ${s.opset}`];
  const ins = [
    ...Object.entries(s.inputs.cotangents ?? {}).map(([of, name]) => `${name} (cotangent of ${of})`),
    ...(s.inputs.labels ? [`${s.inputs.labels} (int64 labels [N])`] : []),
    ...(s.inputs.candidates ? [`${s.inputs.candidates} (int64 candidate classes [N, k])`] : []),
  ];
  if (ins.length) lines.push(`added inputs: ${ins.join(', ')}`);
  const outs = [
    ...(s.outputs.logits ? [`${s.outputs.logits} (logits)`] : []),
    ...(s.outputs.loss ? [`${s.outputs.loss} (per-sample cross-entropy; the gradient is of their sum)`] : []),
    ...(s.outputs.differences ? [`${s.outputs.differences} (f_candidate − f_label [N, k])`] : []),
    ...Object.entries(s.outputs.gradients).map(([w, name]) => `${name} (gradient w.r.t. ${w})`),
  ];
  lines.push(`outputs: ${outs.join(', ')}`);
  return lines.join('\n');
}

export async function runGrad(a: GradArgs): Promise<void> {
  if (a.gradKappa !== undefined && !Number.isFinite(a.gradKappa)) throw new UsageError('--grad-kappa needs a finite number');
  const model = loadModel(a.input);
  // A gradient model with the custom op would need the library wherever it runs, and onnxruntime-node cannot load it.
  process.stderr.write(describeStandardForm(customToStandardForm(model), 'the gradient model is written without the custom-op library'));
  const grad = buildGradientModel(model, {
    wrt: a.wrt.map(String),
    of: a.of.map(String),
    mode: a.mode as GradientMode,
    ...(a.freeBatch ? { freeBatch: true } : {}),
    ...(a.gradKappa !== undefined ? { gradKappa: a.gradKappa } : {}),
    ...(a.initializers ? { withRespectToInitializers: true } : {}),
  });
  saveModel(grad, a.output);
  const signature = gradientSignature(grad)!;
  if (a.json) process.stdout.write(`${JSON.stringify({ input: a.input, output: a.output, ...signature }, null, 2)}\n`);
  else process.stdout.write(`wrote ${a.output}\n${formatSignature(signature)}\n`);
}

export const gradCommand: CommandModule<object, GradArgs> = {
  command: 'grad <input> <output>',
  describe: 'build the gradient model of an ONNX model (runs in ONNX Runtime)',
  builder: (y) => gradOptions(y),
  handler: async (argv: ArgumentsCamelCase<GradArgs>) => runGrad(argv),
};
