// `jumprelu grad IN OUT --wrt input --of logits [--mode …]`: write the gradient model of IN.
// `jumprelu grad --check IN [--wrt …] [--of …]`: list every op on the path that has no gradient rule.

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UnsupportedModelError, UsageError } from '../ir/errors.js';
import { loadModel, saveModel } from '../ir/io.js';
import { customToStandardForm, describeStandardForm } from './standard-form.js';
import { withInterruptsHeld } from './interrupt.js';
import {
  GRADIENT_MODES, type GradientMode, type GradientSignature, buildGradientModel, gradientSignature, gradientSupport,
} from '../autodiff/index.js';

export interface GradArgs {
  input: string;
  output?: string;
  wrt?: string[];
  of?: string[];
  check?: boolean;
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
    .positional('output', { type: 'string', describe: 'where to write the gradient model (not with --check)' })
    .option('wrt', { type: 'string', array: true, describe: 'input(s) to differentiate with respect to (--check: default the first input)' })
    .option('of', { type: 'string', array: true, describe: 'output(s) to differentiate, the logits for the loss modes (--check: default the first output)' })
    .option('check', { type: 'boolean', describe: 'write nothing: list every op on the path from --wrt to --of that has no gradient rule (exit 1 if any)' })
    .check((a) => {
      if (a['check']) return true;
      for (const k of ['output', 'wrt', 'of']) if (a[k] === undefined) throw new UsageError(`Missing required argument: ${k}`);
      return true;
    })
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
  if (s.logitsFrom) {
    lines.push(`'${s.logitsFrom.output}' holds (log-)probabilities: the loss is taken on the logits '${s.logitsFrom.logits}' before ${s.logitsFrom.skipped.join(' and ')}`);
  }
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

/** --check: every op without a rule, at once; then, if there is none, whether the vjp model builds. */
function runCheck(a: GradArgs): void {
  const model = loadModel(a.input);
  const r = gradientSupport(model, { ...(a.wrt ? { wrt: a.wrt.map(String) } : {}), ...(a.of ? { of: a.of.map(String) } : {}) });
  const lines = [`checked ${a.input}: from ${r.wrt.join(', ')} to ${r.of.join(', ')}`];
  if (r.missing.length > 0) {
    lines.push(`${r.missing.length} op${r.missing.length === 1 ? '' : 's'} on the path ha${r.missing.length === 1 ? 's' : 've'} no gradient rule:`);
    for (const m of r.missing) {
      const more = m.nodes.length > 1 ? ` and ${m.nodes.length - 1} more` : '';
      lines.push(`  ${m.op}: ${m.nodes.length} node${m.nodes.length === 1 ? '' : 's'} ('${m.nodes[0]}'${more}; path: ${m.path})`);
    }
  }
  if (a.json) process.stdout.write(`${JSON.stringify({ input: a.input, ...r }, null, 2)}\n`);
  else process.stdout.write(`${lines.join('\n')}\n`);
  if (r.missing.length > 0) {
    throw new UnsupportedModelError(`no gradient rule for ${r.missing.map((m) => m.op).join(', ')} on the path from ${r.wrt.join(', ')} to ${r.of.join(', ')}`,
      { code: 'no-gradient-rule' });
  }
  buildGradientModel(model, { wrt: r.wrt, of: r.of, mode: 'vjp' });
  if (!a.json) process.stdout.write('every op on the path has a gradient rule, and the vjp gradient model builds\n');
}

export async function runGrad(a: GradArgs): Promise<void> {
  if (a.check) {
    if (a.output !== undefined) throw new UsageError('--check writes nothing: give only the model');
    runCheck(a);
    return;
  }
  if (a.output === undefined || !a.wrt || !a.of) throw new UsageError('give the output path, --wrt and --of');
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
  withInterruptsHeld(a.output, () => saveModel(grad, a.output!));
  const signature = gradientSignature(grad)!;
  if (a.json) process.stdout.write(`${JSON.stringify({ input: a.input, output: a.output, ...signature }, null, 2)}\n`);
  else process.stdout.write(`wrote ${a.output}\n${formatSignature(signature)}\n`);
}

export const gradCommand: CommandModule<object, GradArgs> = {
  command: 'grad <input> [output]',
  describe: 'build the gradient model of an ONNX model (runs in ONNX Runtime)',
  builder: (y) => gradOptions(y),
  handler: async (argv: ArgumentsCamelCase<GradArgs>) => runGrad(argv),
};
