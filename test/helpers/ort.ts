// Running a model in onnxruntime-node from its bytes (or from a file path, so ORT resolves external
// data itself), with float32 feeds. Sessions are single-threaded: the test machines are small and
// shared, and one thread keeps results independent of scheduling.

import * as ort from 'onnxruntime-node';

export interface FloatTensor {
  data: Float32Array;
  dims: readonly number[];
}

export type Feeds = Record<string, FloatTensor>;
export type Outputs = Record<string, FloatTensor>;

export interface RunOptions {
  /** ORT graph optimisation level; default 'all' (what users get). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

export async function runModel(model: Uint8Array | string, feeds: Feeds, options: RunOptions = {}): Promise<Outputs> {
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: options.optimization ?? 'all',
    logSeverityLevel: 3,
  };
  const session = typeof model === 'string'
    ? await ort.InferenceSession.create(model, sessionOptions)
    : await ort.InferenceSession.create(model, sessionOptions);
  try {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor('float32', t.data, t.dims);
    const results = await session.run(ortFeeds);
    const out: Outputs = {};
    for (const name of session.outputNames) {
      const r = results[name]!;
      if (r.type !== 'float32') throw new Error(`output '${name}' is ${r.type}, not float32`);
      out[name] = { data: Float32Array.from(r.data as Float32Array), dims: [...r.dims] };
    }
    return out;
  } finally {
    await session.release();
  }
}

/** Uniform random float32 values in ±scale from a seeded source. */
export function randomFeed(rng: () => number, dims: readonly number[], scale = 1): FloatTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return { data: new Float32Array(n).map(() => (rng() * 2 - 1) * scale), dims };
}

export function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Bit-for-bit equality of two output sets (same names, dims and float32 bytes). */
export function sameOutputs(a: Outputs, b: Outputs): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.join('\u0000') !== kb.join('\u0000')) return false;
  return ka.every((k) => a[k]!.dims.join() === b[k]!.dims.join() && bytesOf(a[k]!.data).equals(bytesOf(b[k]!.data)));
}

/** A readable account of the first difference between two output sets (for assertion messages). */
export function describeDifference(a: Outputs, b: Outputs): string {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[k];
    const y = b[k];
    if (!x || !y) return `output '${k}' present in only one`;
    if (x.dims.join() !== y.dims.join()) return `output '${k}' dims [${x.dims}] vs [${y.dims}]`;
    for (let i = 0; i < x.data.length; i++) {
      if (!Object.is(x.data[i], y.data[i])) return `output '${k}'[${i}]: ${x.data[i]} vs ${y.data[i]}`;
    }
  }
  return 'no difference';
}
