// ONNX Runtime intra-op threads against batch size, for the harness's thread rule (src/runtime/resources.ts):
// the authors' ResNet-20 (fixtures/.cache, `npm run fixtures:authors`) retrofitted at κ, its forward model and
// cross-entropy gradient model (what FGSM/PGD run) with the harness's session options, at 1 and 2 threads.
//   npm run build && nice -n 10 node dist/bench/threads.bench.js [--rounds 15] [--batches 1,4,16,64] [--kappa 0.05]
// Per batch: the 4 sessions (forward/gradient × 1/2 threads) alternate run by run (a round runs each once, in
// rotated order), after one warm-up run each; medians of the rounds, in ms per call; ratios from the same rounds.

import { availableParallelism, loadavg } from 'node:os';
import * as ort from 'onnxruntime-node';
import { buildGradientModel, gradientSignature } from '../src/autodiff/index.js';
import { encodeModel } from '../src/ir/encode.js';
import { sessionOptions, retrofittedModel } from '../src/runtime/oracle.js';
import { freeBatchDimension } from '../src/autodiff/index.js';
import { authorsModelPath } from '../test/fixtures.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const rounds = Number(arg('--rounds', '15'));
const batches = arg('--batches', '1,4,16,64').split(',').map(Number);
const kappa = Number(arg('--kappa', '0.05'));
const THREADS = [1, 2];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const model = retrofittedModel(authorsModelPath('resnet20_baseline'), kappa);
freeBatchDimension(model);
const input = model.graph.inputs.find((v) => !v.initializer)!.name;
const output = model.graph.outputs[0]!.name;
const grad = buildGradientModel(model, { wrt: [input], of: [output], mode: 'cross-entropy', freeBatch: true });
const sig = gradientSignature(grad)!;
const fwdBytes = encodeModel(model).toBytes();
const gradBytes = encodeModel(grad).toBytes();

console.log(`ResNet-20 (authors' baseline) at κ=${kappa}; ${availableParallelism()} logical CPUs; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start`);
console.log('batch  fwd 1t ms  fwd 2t ms  grad 1t ms  grad 2t ms  grad/fwd 1t  grad/fwd 2t  fwd 2t/1t  grad 2t/1t');
for (const b of batches) {
  const x = new Float32Array(b * 3 * 32 * 32).map((_, i) => Math.sin(i) * 0.5);
  const labels = BigInt64Array.from({ length: b }, (_, i) => BigInt(i % 10));
  const cells: Array<{ name: string; run: () => Promise<unknown>; times: number[]; release: () => Promise<void> }> = [];
  for (const t of THREADS) {
    const f = await ort.InferenceSession.create(fwdBytes, sessionOptions(t));
    const g = await ort.InferenceSession.create(gradBytes, sessionOptions(t));
    const feedF = { [input]: new ort.Tensor('float32', x, [b, 3, 32, 32]) };
    const feedG = { ...feedF, [sig.inputs.labels!]: new ort.Tensor('int64', labels, [b]) };
    cells.push({ name: `fwd${t}`, run: () => f.run(feedF), times: [], release: () => f.release() });
    cells.push({ name: `grad${t}`, run: () => g.run(feedG), times: [], release: () => g.release() });
  }
  for (const c of cells) await c.run();
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < cells.length; j++) {
      const c = cells[(j + r) % cells.length]!;
      const t0 = performance.now();
      await c.run();
      c.times.push(performance.now() - t0);
    }
  }
  const m = Object.fromEntries(cells.map((c) => [c.name, median(c.times)])) as Record<string, number>;
  // per-round ratios, then their median (the pair ran back to back in the same round)
  const ratio = (a: string, z: string) => median(cells.find((c) => c.name === a)!.times.map((v, i) => v / cells.find((c) => c.name === z)!.times[i]!));
  const f = (v: number, w = 9) => v.toFixed(v < 10 ? 2 : 1).padStart(w);
  console.log(`${String(b).padStart(5)} ${f(m.fwd1!, 10)} ${f(m.fwd2!, 10)} ${f(m.grad1!, 11)} ${f(m.grad2!, 11)} ${f(ratio('grad1', 'fwd1'), 12)} ${f(ratio('grad2', 'fwd2'), 12)} ${f(ratio('fwd2', 'fwd1'), 10)} ${f(ratio('grad2', 'grad1'), 11)}`);
  for (const c of cells) await c.release();
}
console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at end`);
