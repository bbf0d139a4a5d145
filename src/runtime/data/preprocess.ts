// Turning uint8 images into the float32 NCHW tensors that models take.
//
// The arithmetic is done in float32, one rounding per operation, in the order torchvision's
// ToTensor + Normalize use: x = p / 255, then (x - mean[c]) / std[c]. Each step is computed in double and
// rounded with Math.fround, which is exactly float32 arithmetic for a single +, -, * or /. So the tensors
// here are bit-identical to PyTorch's/NumPy's for the same statistics.

import { imageSize, type ImageSet } from './images.js';

/** Per-channel statistics, in the [0, 1] pixel scale. One value each is broadcast to every channel. */
export interface Normalisation {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

export const MNIST_NORMALISATION: Normalisation = Object.freeze({ mean: [0.1307], std: [0.3081] });
export const CIFAR10_NORMALISATION: Normalisation = Object.freeze({
  mean: [0.4914, 0.4822, 0.4465],
  std: [0.2023, 0.1994, 0.201],
});
/** No normalisation: the model takes x / 255 in [0, 1]. */
export const IDENTITY_NORMALISATION: Normalisation = Object.freeze({ mean: [0], std: [1] });

export interface Range {
  readonly start?: number;
  readonly count?: number;
}

function resolveRange(set: ImageSet, range: Range): [number, number] {
  const start = range.start ?? 0;
  const count = range.count ?? set.count - start;
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > set.count) {
    throw new RangeError(`images [${start}, ${start + count}) are outside 0..${set.count}`);
  }
  return [start, count];
}

function perChannel(values: readonly number[], channels: number, what: string): Float32Array {
  if (values.length !== 1 && values.length !== channels) {
    throw new RangeError(`${what} has ${values.length} values for ${channels} channels`);
  }
  return Float32Array.from({ length: channels }, (_, c) => values[values.length === 1 ? 0 : c]!);
}

/** Images scaled to [0, 1] (p / 255 in float32), NCHW. */
export function scaleTo01(set: ImageSet, range: Range = {}): Float32Array {
  const [start, count] = resolveRange(set, range);
  const size = imageSize(set);
  const src = set.pixels.subarray(start * size, (start + count) * size);
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! / 255; // the store rounds to float32
  return out;
}

/** Images as ((p / 255) - mean[c]) / std[c] in float32, NCHW: the input of a mean/std-normalised model. */
export function normalise(set: ImageSet, norm: Normalisation, range: Range = {}): Float32Array {
  const [start, count] = resolveRange(set, range);
  const { channels } = set;
  const plane = set.height * set.width;
  const mean = perChannel(norm.mean, channels, 'mean');
  const std = perChannel(norm.std, channels, 'std');
  if (std.some((s) => !(s > 0))) throw new RangeError('std values must be positive');
  const size = imageSize(set);
  const src = set.pixels.subarray(start * size, (start + count) * size);
  const out = new Float32Array(src.length);
  // a lookup table per channel: 256 possible bytes
  const table = new Float32Array(256 * channels);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < 256; p++) {
      const x = Math.fround(p / 255);
      table[c * 256 + p] = Math.fround(x - mean[c]!) / std[c]!;
    }
  }
  for (let i = 0; i < src.length; i++) {
    const c = Math.floor(i / plane) % channels;
    out[i] = table[c * 256 + src[i]!]!;
  }
  return out;
}

/** The normalised values of pixel 0 and pixel 255 for each channel: the box the inputs live in. */
export function normalisedBounds(norm: Normalisation, channels: number): { min: Float32Array; max: Float32Array } {
  const mean = perChannel(norm.mean, channels, 'mean');
  const std = perChannel(norm.std, channels, 'std');
  return {
    min: Float32Array.from({ length: channels }, (_, c) => Math.fround(0 - mean[c]!) / std[c]!),
    max: Float32Array.from({ length: channels }, (_, c) => Math.fround(1 - mean[c]!) / std[c]!),
  };
}

/** The NCHW shape of `count` images of a set. */
export function nchwShape(set: ImageSet, count: number): [number, number, number, number] {
  return [count, set.channels, set.height, set.width];
}
