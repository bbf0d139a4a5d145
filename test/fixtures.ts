// Locating the models and data that tests and benchmarks run on.
//
// - the project's own default models and held-out digits, committed under fixtures/default/
// - third-party data in ../shared/data beside the checkout (or $JUMPRELU_SHARED_DATA): never in the repo
// - the paper authors' models exported to ONNX in the git-ignored cache fixtures/.cache/, built on demand
//   by fixtures/export_authors.py (needs ../shared/data and a Python with PyTorch)
//
// When something optional is missing, the `require*` helpers call t.skip() with the reason, so the test is
// reported as skipped (never as a silent pass). Set JUMPRELU_REQUIRE_FIXTURES=1 to make them fail instead.
//
// This module has no side effects on import: Node's test runner also loads it as a file of tests.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { TestContext } from 'node:test';

import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';

import {
  type ImageSet, type Normalisation, readIdxImageSet, readCifarBinary, normalise, nchwShape, sliceImages,
  MNIST_NORMALISATION, CIFAR10_NORMALISATION,
} from '../src/runtime/data/index.js';
import { packageRoot } from '../src/package-root.js';

// ---------------------------------------------------------------------------------------------- paths

/** The repository root: the folder of jumprelu's package.json. */
export const repoRoot = packageRoot;

/** ../shared/data beside the checkout, or $JUMPRELU_SHARED_DATA. */
export function sharedDataDir(): string {
  const env = process.env['JUMPRELU_SHARED_DATA'];
  return env ? resolve(env) : resolve(repoRoot(), '..', 'shared', 'data');
}

/** Paths of the third-party files in the shared data folder (they may be absent: check with hasSharedData). */
export function sharedPaths() {
  const d = sharedDataDir();
  return {
    dir: d,
    mnistTestImages: join(d, 'mnist', 't10k-images-idx3-ubyte.gz'),
    mnistTestLabels: join(d, 'mnist', 't10k-labels-idx1-ubyte.gz'),
    mnistTrainImages: join(d, 'mnist', 'train-images-idx3-ubyte.gz'),
    mnistTrainLabels: join(d, 'mnist', 'train-labels-idx1-ubyte.gz'),
    /** CIFAR-10 test images 0-999, lossless. */
    cifar10First1000: join(d, 'cifar10', 'test_batch_first1000.bin'),
    /** All 10,000 CIFAR-10 test images from JPEG q75 copies: lossy, for pipelines only, not for quoting accuracies. */
    cifar10JpegQ75: join(d, 'cifar10', 'test_batch_jpeg_q75.bin.gz'),
    pretrainedDir: join(d, 'pretrained'),
    /** Independent ResNet-20 in ONNX (opset 10, batch fixed to 1), x/255 with ImageNet mean/std. */
    resnet20Pre: join(d, 'pretrained', 'resnet20_cifar10_pre.onnx'),
  };
}

/** ImageNet statistics, which resnet20_cifar10_pre.onnx expects. */
export const IMAGENET_NORMALISATION: Normalisation = Object.freeze({
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
});

export function hasSharedData(): boolean {
  const p = sharedPaths();
  return [p.mnistTestImages, p.mnistTestLabels, p.cifar10First1000, p.pretrainedDir].every((f) => existsSync(f));
}

// ---------------------------------------------------------------------------------- default models

export type DefaultVariant = 'baseline' | 'robust';

export interface Accuracy {
  readonly n: number;
  readonly correct: number;
  readonly percent: number;
}

export interface DefaultModelEntry {
  readonly file: string;
  readonly card: string;
  readonly relu_nodes: number;
  readonly heldout_accuracy: Accuracy;
  readonly heldout_fgsm: readonly (Accuracy & { eps_normalised: number; eps_pixel_0_1: number })[];
  readonly official_test_accuracy: Accuracy | null;
  readonly weights_sha256: string;
}

export interface DefaultManifest {
  readonly torch: string;
  readonly data: {
    readonly heldout_n: number;
    readonly heldout_files: readonly [string, string];
    readonly normalisation: Normalisation;
  };
  readonly training: { readonly seed: number; readonly epochs: number };
  readonly models: Readonly<Record<DefaultVariant, DefaultModelEntry>>;
}

export function defaultModelsDir(): string {
  return join(repoRoot(), 'fixtures', 'default');
}

/** The committed default model (LeNetLike on MNIST digits; input `input` [N,1,28,28] normalised, output `logits`). */
export function defaultModelPath(variant: DefaultVariant = 'baseline'): string {
  return join(defaultModelsDir(), `lenet_mnist_${variant}.onnx`);
}

export function defaultHeldoutPaths(): { images: string; labels: string } {
  return {
    images: join(defaultModelsDir(), 'mnist-heldout-1000-images-idx3-ubyte.gz'),
    labels: join(defaultModelsDir(), 'mnist-heldout-1000-labels-idx1-ubyte.gz'),
  };
}

/** fixtures/default/models.json: what train_default.py measured when it wrote the defaults. */
export async function readDefaultManifest(): Promise<DefaultManifest> {
  return JSON.parse(await readFile(join(defaultModelsDir(), 'models.json'), 'utf8')) as DefaultManifest;
}

/** The 1,000 held-out digits committed with the default models (always available). */
export async function loadDefaultHeldout(): Promise<ImageSet> {
  const p = defaultHeldoutPaths();
  return readIdxImageSet(p.images, p.labels);
}

// ---------------------------------------------------------------------------- authors' model cache

export type AuthorsModelName = 'lenet_baseline' | 'lenet_robust' | 'resnet20_baseline' | 'resnet20_robust';
export const AUTHORS_MODELS: readonly AuthorsModelName[] = ['lenet_baseline', 'lenet_robust', 'resnet20_baseline', 'resnet20_robust'];
export const AUTHORS_CACHE_FORMAT = 1;

export interface AuthorsModelEntry {
  readonly file: string;
  readonly architecture: string;
  readonly dataset: 'mnist' | 'cifar10';
  readonly source: string;
  readonly source_md5: string;
  readonly normalisation: { readonly scale: string; readonly mean: readonly number[]; readonly std: readonly number[] };
  readonly input: { readonly name: string; readonly shape: readonly (string | number)[] };
  readonly output: { readonly name: string; readonly shape: readonly (string | number)[] };
  readonly relu_nodes: number;
  readonly expected_percent: number | null;
  readonly accuracy: readonly (Accuracy & { split: string; lossless: boolean; source: Record<string, string> })[];
  readonly reference: string;
}

export interface AuthorsManifest {
  readonly format: number;
  readonly torch: string;
  readonly opset: number;
  readonly models: Readonly<Partial<Record<AuthorsModelName, AuthorsModelEntry>>>;
}

export interface ReferenceLogits {
  readonly model: string;
  readonly indices: readonly number[];
  readonly input_file: string;
  readonly input_shape: readonly number[];
  readonly logits_shape: readonly number[];
  readonly logits: readonly number[];
}

export function authorsCacheDir(): string {
  return join(repoRoot(), 'fixtures', '.cache');
}

export function authorsModelPath(name: AuthorsModelName): string {
  return join(authorsCacheDir(), `${name}.onnx`);
}

function readCompleteManifest(): AuthorsManifest | undefined {
  const path = join(authorsCacheDir(), 'manifest.json');
  if (!existsSync(path)) return undefined;
  let m: AuthorsManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as AuthorsManifest;
  } catch {
    return undefined;
  }
  if (m.format !== AUTHORS_CACHE_FORMAT) return undefined;
  for (const name of AUTHORS_MODELS) {
    const e = m.models[name];
    if (!e || !existsSync(join(authorsCacheDir(), e.file)) || !existsSync(join(authorsCacheDir(), e.reference))) return undefined;
    // stale when the shared weights changed since the export
    const source = join(sharedDataDir(), e.source);
    if (existsSync(source) && createHash('md5').update(readFileSync(source)).digest('hex') !== e.source_md5) return undefined;
  }
  return m;
}

export type Availability<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

function runScript(args: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('sh', [join(repoRoot(), 'fixtures', 'torch-python.sh'), ...args], {
      cwd: repoRoot(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, output }));
  });
}

let torchPythonPromise: Promise<string | undefined> | undefined;

/** The Python interpreter with PyTorch that the fixture scripts use, or undefined when there is none. */
export function torchPython(): Promise<string | undefined> {
  torchPythonPromise ??= runScript(['--which']).then((r) => (r.code === 0 ? r.output.trim() : undefined));
  return torchPythonPromise;
}

let authorsPromise: Promise<Availability<AuthorsManifest>> | undefined;

/**
 * The authors' models in ONNX, exported into fixtures/.cache/ by `npm run fixtures:authors` if the cache
 * is missing or incomplete. Unavailable (with a reason) when ../shared/data or PyTorch is absent; throws
 * when the export script itself fails (for example, an accuracy check), since that is a real error.
 */
export function ensureAuthorsCache(): Promise<Availability<AuthorsManifest>> {
  authorsPromise ??= (async (): Promise<Availability<AuthorsManifest>> => {
    const existing = readCompleteManifest();
    if (existing) return { ok: true, value: existing };
    if (!hasSharedData()) {
      return { ok: false, reason: `the authors' models need the shared data folder ${sharedDataDir()} (absent); set JUMPRELU_SHARED_DATA` };
    }
    const { code, output } = await runScript([join(repoRoot(), 'fixtures', 'export_authors.py')]);
    if (code === 3) {
      return {
        ok: false,
        reason: `the authors' ONNX cache is missing and no Python with PyTorch was found to build it ` +
          `(apt-get install python3-torch, or set JUMPRELU_TORCH_PYTHON): ${output.trim().split('\n')[0]}`,
      };
    }
    if (code === 4) return { ok: false, reason: `export_authors.py found no shared data: ${output.trim().split('\n')[0]}` };
    if (code !== 0) throw new Error(`fixtures/export_authors.py failed (exit ${code}):\n${output}`);
    const built = readCompleteManifest();
    if (!built) throw new Error(`fixtures/export_authors.py exited 0 but the cache in ${authorsCacheDir()} is incomplete:\n${output}`);
    return { ok: true, value: built };
  })();
  return authorsPromise;
}

export async function readReferenceLogits(name: AuthorsModelName): Promise<{ ref: ReferenceLogits; input: Float32Array }> {
  const ref = JSON.parse(await readFile(join(authorsCacheDir(), `${name}.reference.json`), 'utf8')) as ReferenceLogits;
  const raw = await readFile(join(authorsCacheDir(), ref.input_file));
  if (raw.byteLength % 4 !== 0) throw new Error(`${ref.input_file}: ${raw.byteLength} bytes is not whole float32s`);
  const input = new Float32Array(raw.byteLength / 4);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < input.length; i++) input[i] = view.getFloat32(4 * i, true);
  return { ref, input };
}

// ------------------------------------------------------------------------------------ skip helpers

function skipOrFail(t: TestContext, reason: string): void {
  if (process.env['JUMPRELU_REQUIRE_FIXTURES'] === '1') {
    throw new Error(`${reason} (JUMPRELU_REQUIRE_FIXTURES=1 turns this skip into a failure)`);
  }
  t.skip(reason);
}

/** Skips the test (with the reason) when ../shared/data is absent; returns whether it is present. */
export function requireSharedData(t: TestContext): boolean {
  if (hasSharedData()) return true;
  skipOrFail(t, `skipped: needs the third-party data folder ${sharedDataDir()} (absent; see docs/fixtures.md)`);
  return false;
}

/** Skips the test when no Python with PyTorch is available; returns the interpreter otherwise. */
export async function requireTorch(t: TestContext): Promise<string | undefined> {
  const py = await torchPython();
  if (py === undefined) {
    skipOrFail(t, 'skipped: needs a Python with PyTorch (apt-get install python3-torch, or set JUMPRELU_TORCH_PYTHON)');
  }
  return py;
}

/** The authors' ONNX cache (built on demand), or undefined after skipping the test with the reason. */
export async function requireAuthorsCache(t: TestContext): Promise<AuthorsManifest | undefined> {
  const a = await ensureAuthorsCache();
  if (a.ok) return a.value;
  skipOrFail(t, `skipped: ${a.reason}`);
  return undefined;
}

// ----------------------------------------------------------------------------------- data + models

/** The official MNIST test set (10,000) from the shared folder. */
export function loadMnistTest(): Promise<ImageSet> {
  const p = sharedPaths();
  return readIdxImageSet(p.mnistTestImages, p.mnistTestLabels);
}

/** CIFAR-10 test images 0-999 (lossless) from the shared folder. */
export function loadCifar10First1000(): Promise<ImageSet> {
  return readCifarBinary(sharedPaths().cifar10First1000);
}

export function normalisationFor(dataset: 'mnist' | 'cifar10'): Normalisation {
  return dataset === 'mnist' ? MNIST_NORMALISATION : CIFAR10_NORMALISATION;
}

/** Runs a session on one float32 NCHW batch and returns the first output's values. */
export async function runLogits(
  session: ort.InferenceSession, input: Float32Array, shape: readonly number[],
  inputName = session.inputNames[0]!, outputName = session.outputNames[0]!,
): Promise<Float32Array> {
  const out = await session.run({ [inputName]: new ort.Tensor('float32', input, [...shape]) });
  const t = out[outputName];
  if (!t) throw new Error(`model has no output ${outputName}`);
  return t.data as Float32Array;
}

export function argmaxRows(logits: Float32Array, classes: number): Uint8Array {
  const n = logits.length / classes;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[i * classes + k]! > logits[i * classes + best]!) best = k;
    out[i] = best;
  }
  return out;
}

/** Clean accuracy of a classifier on an image set, evaluated in batches. */
export async function evaluateAccuracy(
  session: ort.InferenceSession, set: ImageSet, norm: Normalisation, batch = 1000,
): Promise<Accuracy> {
  let correct = 0;
  for (let start = 0; start < set.count; start += batch) {
    const count = Math.min(batch, set.count - start);
    const logits = await runLogits(session, normalise(set, norm, { start, count }), nchwShape(set, count));
    const pred = argmaxRows(logits, logits.length / count);
    const labels = sliceImages(set, start, count).labels;
    for (let i = 0; i < count; i++) if (pred[i] === labels[i]) correct++;
  }
  return { n: set.count, correct, percent: Math.round((10000 * correct) / set.count) / 100 };
}

// ------------------------------------------------------------------------------------- ONNX summary

export interface OnnxSummary {
  /** Opset version of the default ('' or 'ai.onnx') domain. */
  readonly opset: number;
  readonly opTypes: readonly string[];
  /** Graph inputs that are not initializers, with their dims (a number, a symbolic name, or null). */
  readonly inputs: readonly { name: string; dims: (number | string | null)[] }[];
  readonly outputs: readonly { name: string; dims: (number | string | null)[] }[];
}

/** Reads the bits of an ONNX file that fixture tests check (independently of the project's own codec). */
export async function summariseOnnx(path: string): Promise<OnnxSummary> {
  const { onnx } = onnxProto;
  const m = onnx.ModelProto.decode(await readFile(path));
  const g = m.graph;
  if (!g) throw new Error(`${path}: no graph`);
  const initializers = new Set((g.initializer ?? []).map((t) => t.name));
  const dimsOf = (v: onnxProto.onnx.IValueInfoProto) =>
    (v.type?.tensorType?.shape?.dim ?? []).map((d) =>
      d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null && String(d.dimValue) !== '0' ? Number(d.dimValue) : null);
  const opsetEntry = (m.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return {
    opset: opsetEntry ? Number(opsetEntry.version) : 0,
    opTypes: (g.node ?? []).map((n) => n.opType ?? ''),
    inputs: (g.input ?? []).filter((v) => !initializers.has(v.name)).map((v) => ({ name: v.name ?? '', dims: dimsOf(v) })),
    outputs: (g.output ?? []).map((v) => ({ name: v.name ?? '', dims: dimsOf(v) })),
  };
}
