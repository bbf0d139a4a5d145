// The in-memory form of a labelled image set, shared by the idx and CIFAR loaders.

import { DataError } from '../../ir/errors.js';

/**
 * Images as unsigned bytes in NCHW order (image, channel, row, column), with one label per image.
 * `pixels.length === count * channels * height * width` and `labels.length === count`.
 */
export interface ImageSet {
  readonly count: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
}

/** Error raised for malformed data files or inconsistent image sets (exit 1: what the data is, not a usage mistake). */
export class DataFormatError extends DataError {
  override readonly name = 'DataFormatError';
  static override readonly defaults = { kind: 'data' as const, code: 'data-format' };
}

/** Values per image (channels × height × width). */
export function imageSize(set: Pick<ImageSet, 'channels' | 'height' | 'width'>): number {
  return set.channels * set.height * set.width;
}

/** Checks the invariants of an ImageSet and returns it. */
export function checkImageSet(set: ImageSet): ImageSet {
  const dims = [set.count, set.channels, set.height, set.width];
  if (!dims.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new DataFormatError(`image set dimensions must be non-negative integers, got ${dims.join(' x ')}`);
  }
  if (set.pixels.length !== set.count * imageSize(set)) {
    throw new DataFormatError(
      `image set holds ${set.pixels.length} pixel values, expected ${set.count} x ${imageSize(set)}`,
    );
  }
  if (set.labels.length !== set.count) {
    throw new DataFormatError(`image set holds ${set.labels.length} labels for ${set.count} images`);
  }
  return set;
}

/** Images [start, start + count) of a set, sharing its memory. */
export function sliceImages(set: ImageSet, start: number, count: number): ImageSet {
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > set.count) {
    throw new RangeError(`slice [${start}, ${start + count}) is outside 0..${set.count}`);
  }
  const size = imageSize(set);
  return {
    count,
    channels: set.channels,
    height: set.height,
    width: set.width,
    pixels: set.pixels.subarray(start * size, (start + count) * size),
    labels: set.labels.subarray(start, start + count),
  };
}
