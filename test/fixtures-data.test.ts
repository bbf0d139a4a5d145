// The data loaders of src/runtime/data on synthetic bytes, on the committed held-out digits, and (when
// ../shared/data is present) on the real MNIST and CIFAR-10 files.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { gzipSync } from 'node:zlib';

import {
  parseIdx, readIdx, encodeIdxUint8, idxToImageSet, readIdxImageSet, parseCifarRecords, readCifarBinary,
  normalise, scaleTo01, normalisedBounds, sliceImages, maybeGunzip, DataFormatError,
  MNIST_NORMALISATION, CIFAR10_NORMALISATION,
} from '../src/runtime/data/index.js';
import {
  loadDefaultHeldout, readDefaultManifest, requireSharedData, sharedPaths, loadMnistTest, loadCifar10First1000,
} from './fixtures.js';

function idxHeader(typeCode: number, dims: number[]): Uint8Array {
  const h = new Uint8Array(4 + 4 * dims.length);
  const v = new DataView(h.buffer);
  h[2] = typeCode;
  h[3] = dims.length;
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  return h;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

test('idx: uint8 images and labels parse, raw and gzip, from files', async () => {
  const pixels = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 10);
  const images = encodeIdxUint8([2, 3, 4], pixels);
  const labels = encodeIdxUint8([2], Uint8Array.of(7, 3));
  const parsed = parseIdx(images);
  assert.equal(parsed.type, 'uint8');
  assert.deepEqual(parsed.dims, [2, 3, 4]);
  assert.deepEqual([...parsed.data], [...pixels]);

  const dir = await mkdtemp(join(tmpdir(), 'jumprelu-idx-'));
  try {
    await writeFile(join(dir, 'img.gz'), gzipSync(images));
    await writeFile(join(dir, 'lab'), labels);
    const set = await readIdxImageSet(join(dir, 'img.gz'), join(dir, 'lab'));
    assert.equal(set.count, 2);
    assert.equal(set.channels, 1);
    assert.equal(set.height, 3);
    assert.equal(set.width, 4);
    assert.deepEqual([...set.labels], [7, 3]);
    assert.deepEqual([...set.pixels], [...pixels]);
    assert.deepEqual((await readIdx(join(dir, 'lab'))).dims, [2]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('idx: big-endian int32 and float32 values', () => {
  const i32 = new Uint8Array(8);
  new DataView(i32.buffer).setInt32(0, -5);
  new DataView(i32.buffer).setInt32(4, 70000);
  assert.deepEqual([...parseIdx(concat(idxHeader(0x0c, [2]), i32)).data], [-5, 70000]);
  const f32 = new Uint8Array(4);
  new DataView(f32.buffer).setFloat32(0, 1.5);
  const f = parseIdx(concat(idxHeader(0x0d, [1, 1]), f32));
  assert.equal(f.type, 'float32');
  assert.deepEqual([...f.data], [1.5]);
});

test('idx: malformed files are rejected with DataFormatError', () => {
  assert.throws(() => parseIdx(Uint8Array.of(0, 0)), DataFormatError);
  assert.throws(() => parseIdx(concat(Uint8Array.of(1, 0, 8, 1), new Uint8Array(8))), DataFormatError); // bad magic
  assert.throws(() => parseIdx(concat(idxHeader(0x07, [1]), Uint8Array.of(1))), DataFormatError); // bad type
  assert.throws(() => parseIdx(concat(idxHeader(0x08, [3]), Uint8Array.of(1, 2))), DataFormatError); // truncated
  assert.throws(() => parseIdx(concat(idxHeader(0x08, [1]), Uint8Array.of(1, 2))), DataFormatError); // trailing
  const images = parseIdx(encodeIdxUint8([2, 2, 2], new Uint8Array(8)));
  assert.throws(() => idxToImageSet(images, parseIdx(encodeIdxUint8([3], new Uint8Array(3)))), DataFormatError);
});

test('idx: 4-D images need a layout; NHWC is transposed to NCHW', () => {
  // one 1x2 image with 3 channels, NHWC: pixel0 = (1,2,3), pixel1 = (4,5,6)
  const images = parseIdx(encodeIdxUint8([1, 1, 2, 3], Uint8Array.of(1, 2, 3, 4, 5, 6)));
  const labels = parseIdx(encodeIdxUint8([1], Uint8Array.of(9)));
  assert.throws(() => idxToImageSet(images, labels), DataFormatError);
  const set = idxToImageSet(images, labels, { layout: 'NHWC' });
  assert.deepEqual([set.channels, set.height, set.width], [3, 1, 2]);
  assert.deepEqual([...set.pixels], [1, 4, 2, 5, 3, 6]);
});

test('CIFAR records: label byte then channel planes; CIFAR-100 style two label bytes', () => {
  const rec = (label: number, fill: number) => concat(Uint8Array.of(label), new Uint8Array(3072).fill(fill));
  const set = parseCifarRecords(concat(rec(3, 10), rec(8, 20)));
  assert.equal(set.count, 2);
  assert.deepEqual([set.channels, set.height, set.width], [3, 32, 32]);
  assert.deepEqual([...set.labels], [3, 8]);
  assert.equal(set.pixels[3071], 10);
  assert.equal(set.pixels[3072], 20);
  assert.throws(() => parseCifarRecords(new Uint8Array(3074)), DataFormatError);
  const small = parseCifarRecords(Uint8Array.of(1, 42, 5, 6, 2, 43, 7, 8), { channels: 1, height: 1, width: 2, labelBytes: 2 });
  assert.deepEqual([...small.labels], [42, 43]);
  assert.deepEqual([...small.pixels], [5, 6, 7, 8]);
  assert.deepEqual([...maybeGunzip(gzipSync(Uint8Array.of(1, 2, 3)))], [1, 2, 3]);
});

test('normalise: float32 arithmetic, bit-identical to NumPy/torchvision (values computed with NumPy)', () => {
  const mnist = { count: 1, channels: 1, height: 2, width: 2, pixels: Uint8Array.of(0, 1, 128, 255), labels: Uint8Array.of(0) };
  assert.deepEqual([...normalise(mnist, MNIST_NORMALISATION)],
    [-0.4242129623889923, -0.4114847183227539, 1.2050011157989502, 2.821486711502075]);
  // three channels with their own mean/std (planes R, G, B)
  const cifar = { count: 1, channels: 3, height: 1, width: 2, pixels: Uint8Array.of(0, 255, 7, 200, 0, 255), labels: Uint8Array.of(0) };
  assert.deepEqual([...normalise(cifar, CIFAR10_NORMALISATION)],
    [-2.429065704345703, 2.5140879154205322, -2.2805869579315186, 1.5151140689849854, -2.22139310836792, 2.7537312507629395]);
  const b = normalisedBounds(MNIST_NORMALISATION, 1);
  assert.equal(b.min[0], -0.4242129623889923);
  assert.equal(b.max[0], 2.821486711502075);
  assert.deepEqual([...scaleTo01(mnist)], [0, Math.fround(1 / 255), Math.fround(128 / 255), 1]);
  // ranges and slices
  const two = { ...mnist, count: 2, pixels: Uint8Array.of(0, 1, 128, 255, 255, 255, 255, 255), labels: Uint8Array.of(0, 1) };
  assert.deepEqual([...normalise(two, MNIST_NORMALISATION, { start: 1, count: 1 })], new Array(4).fill(2.821486711502075));
  assert.deepEqual([...sliceImages(two, 1, 1).labels], [1]);
  assert.throws(() => normalise(two, MNIST_NORMALISATION, { start: 1, count: 2 }), RangeError);
  assert.throws(() => normalise(cifar, { mean: [0, 0], std: [1, 1] }), RangeError);
});

test('default held-out set: 1,000 committed digits with the class counts train_default.py recorded', async () => {
  const set = await loadDefaultHeldout();
  const manifest = (await readDefaultManifest()) as unknown as { data: { heldout_class_counts: number[] } };
  assert.deepEqual([set.count, set.channels, set.height, set.width], [1000, 1, 28, 28]);
  const counts = new Array(10).fill(0);
  for (const l of set.labels) counts[l]++;
  assert.deepEqual(counts, manifest.data.heldout_class_counts);
  let min = 255, max = 0;
  for (const p of set.pixels) {
    min = Math.min(min, p);
    max = Math.max(max, p);
  }
  assert.deepEqual([min, max], [0, 255]);
});

test('shared data: official MNIST test set and CIFAR-10 test images load', async (t) => {
  if (!requireSharedData(t)) return;
  const mnist = await loadMnistTest();
  assert.deepEqual([mnist.count, mnist.channels, mnist.height, mnist.width], [10000, 1, 28, 28]);
  assert.deepEqual([...mnist.labels.subarray(0, 10)], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  const counts = new Array(10).fill(0);
  for (const l of mnist.labels) counts[l]++;
  assert.deepEqual(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);

  const cifar = await loadCifar10First1000();
  assert.deepEqual([cifar.count, cifar.channels, cifar.height, cifar.width], [1000, 3, 32, 32]);
  assert.deepEqual([...cifar.labels.subarray(0, 10)], [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
  // image 0, row 0, first 4 columns of the R, G and B planes
  assert.deepEqual([...cifar.pixels.subarray(0, 4)], [158, 159, 165, 166]);
  assert.deepEqual([...cifar.pixels.subarray(1024, 1028)], [112, 111, 116, 118]);
  assert.deepEqual([...cifar.pixels.subarray(2048, 2052)], [49, 47, 51, 53]);
  let sum = 0;
  for (const p of cifar.pixels) sum += p;
  assert.equal(sum, 374560331);

  const jpeg = await readCifarBinary(sharedPaths().cifar10JpegQ75);
  assert.equal(jpeg.count, 10000);
  assert.deepEqual([...jpeg.labels.subarray(0, 10)], [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
});
