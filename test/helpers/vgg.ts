// A VGG-style classifier (3×3 Conv + Relu stages, 2×2 MaxPool, one Gemm head) with random weights, and an npy
// data set labelled with the model's own predictions (every sample starts correctly classified, so every
// attack works on all of them): the model of the memory test and bench/eval-memory.bench.ts.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { npy } from './arrays.js';
import { ModelBuilder, makeRng } from './build-model.js';

/** VGG-11's convolution widths ('M': a pool), as for 32×32 CIFAR images. */
export const VGG11 = [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'] as const;

export interface VggOptions {
  /** Stages: widths and 'M' pools (default VGG11). */
  stages?: ReadonlyArray<number | 'M'>;
  /** Divides every width (2: half as wide). */
  shrink?: number;
  size?: number;
  classes?: number;
  seed?: number;
}

/** The model's ONNX bytes and its parameter count. */
export function vggModel(o: VggOptions = {}): { bytes: Uint8Array; parameters: number } {
  const size = o.size ?? 32;
  const mb = new ModelBuilder({ seed: o.seed ?? 1, opset: 17 });
  mb.uniqueNodeNames = true;
  const g = mb.main;
  g.batchSymbol = 'N';
  let x = g.input('input', [1, 3, size, size]);
  for (const s of o.stages ?? VGG11) {
    x = s === 'M' ? g.maxPool(x) : g.relu(g.conv(x, Math.max(1, Math.round(s / (o.shrink ?? 1))), 3, 1));
  }
  const logits = g.gemm(g.flatten(x), o.classes ?? 10);
  g.output(logits);
  let parameters = 0;
  for (const v of mb.model.graph.initializers.values()) parameters += v.initializer!.dims.reduce((a, b) => a * Number(b), 1);
  return { bytes: mb.bytes(), parameters };
}

/**
 * Writes model.onnx, x.npy ([n, 3, size, size] float32 in [0, 1]) and y.npy (int64: the model's predictions)
 * into `dir`; returns their paths and the `--data` argument.
 */
export async function writeVggCase(dir: string, n: number, o: VggOptions = {}): Promise<{ model: string; data: string; parameters: number }> {
  mkdirSync(dir, { recursive: true });
  const size = o.size ?? 32;
  const { bytes, parameters } = vggModel(o);
  const model = join(dir, 'model.onnx');
  writeFileSync(model, bytes);
  const rng = makeRng((o.seed ?? 1) + 1);
  const x = Float32Array.from({ length: n * 3 * size * size }, () => rng());
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const out = await s.run({ input: new ort.Tensor('float32', x, [n, 3, size, size]) });
  await s.release();
  const logits = Object.values(out)[0]!.data as Float32Array;
  const classes = logits.length / n;
  const y = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[i * classes + k]! > logits[i * classes + best]!) best = k;
    y[i] = BigInt(best);
  }
  writeFileSync(join(dir, 'x.npy'), npy('<f4', [n, 3, size, size], new Uint8Array(x.buffer)));
  writeFileSync(join(dir, 'y.npy'), npy('<i8', [n], new Uint8Array(y.buffer)));
  return { model, data: `npy:${join(dir, 'x.npy')},${join(dir, 'y.npy')}`, parameters };
}
