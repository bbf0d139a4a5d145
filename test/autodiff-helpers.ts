// Test helpers for the gradient compiler: a tiny model builder (any op, any attribute), ONNX Runtime
// runs, and the directional-derivative check against finite differences.
//
// The finite-difference check, and why its tolerance is what it is
// -----------------------------------------------------------------
// For a model f, a random cotangent w and a random direction v, the gradient model gives
// D = Σ_j g_j·v_j with g = ∇⟨w, f⟩. The reference is the slope at t = 0 of L(t) = ⟨w, f(x + t·v)⟩,
// evaluated by ONNX Runtime in float32 at 13 points t = k·h, k = −6…6, and fitted by least squares with
// a cubic (so curvature and the cubic term do not bias the slope; the quintic term is O(h⁴)).
//   - Inputs move exactly: x lies on a 2⁻¹² grid, v is an integer in [−4, 4] and h = 2⁻¹⁰, so every
//     x + k·h·v is a float32 without rounding and no error enters before the model runs.
//   - The float32 rounding inside the forward pass is noise on L(t). The residual of the fit measures
//     it, and the slope's standard error σ̂ follows (9 degrees of freedom); we allow 8σ̂.
//   - Non-smooth ops (ReLU, JumpReLU, LeakyReLU, Clip, MaxPool's arg-max, Where) must not change branch
//     along the segment: the probe model outputs their inputs (MaxPool: the arg-max indices), and the
//     check refuses a segment on which any branch changes (so the fit is of a smooth function).
//   - The gradient itself is computed in float32: each g_j is a sum of at most a few hundred products
//     in these test graphs, whose worst-case rounding error is below n·u·Σ|terms| with u = 2⁻²⁴; we
//     allow 2⁻¹⁴·Σ_j|g_j·v_j| (1024 u), a worst-case bound for n ≤ 1024 accumulated terms.
// So |D − slope| ≤ 8σ̂ + 2⁻¹⁴·Σ|g_j·v_j|. Nothing here is tuned to the results.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as ort from 'onnxruntime-node';

import { type GradientOptions, buildGradientModel, gradientSignature } from '../src/autodiff/index.js';
import { ShapeInfo } from '../src/ir/analysis/shapes.js';
import { Attribute, AttributeType } from '../src/ir/attribute.js';
import { decodeModel } from '../src/ir/decode.js';
import { encodeModel } from '../src/ir/encode.js';
import { sessionBytes } from '../src/ir/io.js';
import { Graph } from '../src/ir/graph.js';
import { Model } from '../src/ir/model.js';
import { Node } from '../src/ir/node.js';
import { DataType, type Tensor } from '../src/ir/tensor.js';
import { Value } from '../src/ir/value.js';
import { ValueInfo } from '../src/ir/value-info.js';
import { makeTensor } from '../src/ir/analysis/constants.js';
import { makeRng } from './helpers/build-model.js';

ort.env.logLevel = 'error';

// ---- random numbers --------------------------------------------------------------------------------

/** A seeded PRNG, uniform in [0, 1) (the project's test helper). */
export const rng = makeRng;

export function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Values on the 2⁻¹² grid, uniform in [lo, hi], at least `margin` away from each of `avoid`. */
export function gridValues(r: () => number, n: number, lo = -2, hi = 2, avoid: number[] = [], margin = 0.05): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const v = Math.round((lo + (hi - lo) * r()) * 4096) / 4096;
    if (avoid.every((a) => Math.abs(v - a) >= margin)) out.push(v);
  }
  return out;
}

/** Distinct values spaced `gap` apart in random order (MaxPool inputs with no near-ties). */
export function distinctValues(r: () => number, n: number, gap = 0.0625): number[] {
  const vals = Array.from({ length: n }, (_, i) => (i - n / 2) * gap);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [vals[i], vals[j]] = [vals[j]!, vals[i]!];
  }
  return vals;
}

// ---- a tiny model builder --------------------------------------------------------------------------

export type AttrSpec = number | number[] | string | { float: number } | { floats: number[] } | Tensor;

function toAttr(name: string, v: AttrSpec): Attribute {
  if (typeof v === 'number') return Attribute.int(name, v);
  if (typeof v === 'string') return Attribute.string(name, v);
  if (Array.isArray(v)) return new Attribute(name, { type: AttributeType.INTS, value: v.map((x) => BigInt(x)) });
  if ('float' in v) return Attribute.float(name, v.float);
  if ('floats' in v) return new Attribute(name, { type: AttributeType.FLOATS, value: v.floats });
  return new Attribute(name, { type: AttributeType.TENSOR, value: v });
}

export const F = (v: number) => ({ float: v });

/** Builds models node by node through the IR; shapes are declared for inputs, outputs left to inference. */
export class TinyModel {
  readonly graph = new Graph('tiny');
  readonly model = new Model(this.graph);
  private count = 0;

  constructor(opset = 13) {
    this.model.irVersion = opset >= 15 ? 8n : 7n;
    this.model.opsetImports.push({ domain: '', version: BigInt(opset) });
  }

  input(name: string, dims: (number | string)[], elem: number = DataType.FLOAT): Value {
    const v = new Value(name);
    v.scope = this.graph;
    this.graph.addInput(v, ValueInfo.tensor(elem, dims));
    return v;
  }

  init(name: string, dims: number[], values: number[], elem: number = DataType.FLOAT): Value {
    return this.graph.addInitializer(makeTensor(name, elem, dims, values));
  }

  ints(name: string, values: number[]): Value {
    return this.init(name, [values.length], values, DataType.INT64);
  }

  op(opType: string, inputs: (Value | null)[], attrs: Record<string, AttrSpec> = {}, outputs = 1, domain = ''): Value[] {
    const id = this.count++;
    const node = new Node(opType, inputs, {
      domain, name: `n${id}_${opType}`,
      attributes: Object.entries(attrs).map(([k, v]) => toAttr(k, v)),
      outputNames: Array.from({ length: outputs }, (_, i) => `v${id}_${i}`),
    });
    this.graph.append(node);
    return [...node.outputs];
  }

  one(opType: string, inputs: (Value | null)[], attrs: Record<string, AttrSpec> = {}): Value {
    return this.op(opType, inputs, attrs)[0]!;
  }

  /** Declares graph outputs, typed from shape inference. */
  output(...values: Value[]): Model {
    const info = new ShapeInfo(this.graph, Number(this.model.opsetVersion('')));
    for (const v of values) {
      this.graph.addOutput(v, ValueInfo.tensor(info.elem(v) ?? DataType.FLOAT, info.shape(v)));
    }
    return this.model;
  }
}

// ---- running models --------------------------------------------------------------------------------

export type Feed = ort.Tensor;

export function f32(values: ArrayLike<number>, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(values), dims);
}

export function i64(values: number[], dims: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values.map((v) => BigInt(v))), dims);
}

const sessions = new WeakMap<Model, Promise<ort.InferenceSession>>();

/** The model's bytes for a session, external data brought inline (dynamo exports keep weights in model.onnx.data). */
export function bytesOf(model: Model): Uint8Array {
  return sessionBytes(model);
}

/** One session per model object (single-threaded: deterministic, and polite to shared CPUs). */
export function session(model: Model): Promise<ort.InferenceSession> {
  let s = sessions.get(model);
  if (!s) {
    s = ort.InferenceSession.create(bytesOf(model), { intraOpNumThreads: 1, interOpNumThreads: 1 });
    sessions.set(model, s);
  }
  return s;
}

export async function run(model: Model, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  return (await session(model)).run(feeds);
}

// ---- the directional check -------------------------------------------------------------------------

/** A value the probe model outputs, and how to read which branch each element is on. */
interface Branch {
  name: string;
  /** Thresholds an element is compared with (float values); none: compare exactly (bool, indices). */
  cuts: number[] | null;
}

export interface LeafData {
  dims: number[];
  values: number[];
}

export interface CheckResult {
  derivative: number;
  slope: number;
  error: number;
  tolerance: number;
  /** |D − slope| / Σ|g_j·v_j|: the error relative to the gradient's scale. */
  relative: number;
}

function constantNumbers(v: Value | null | undefined): number[] | null {
  if (!v) return null;
  if (v.initializer) return Array.from(new Float32Array(v.initializer.float32Data(() => new Uint8Array())));
  return null;
}

/**
 * Forward probe: the model with, as extra outputs, what decides the branch of every piecewise op: the
 * input of Relu/LeakyRelu/PRelu/Elu/Selu/Abs/HardSigmoid/HardSwish/ThresholdedRelu/JumpRelu/Clip (with the
 * thresholds it is compared with), the
 * condition of Where, the output of Greater, MaxPool's arg-max indices.
 */
function probeModel(model: Model): { probe: Model; branches: Branch[] } {
  const probe = decodeModel(encodeModel(model).toBytes());
  const g = probe.graph;
  const info = new ShapeInfo(g, Number(probe.opsetVersion('') ?? 13n));
  const branches: Branch[] = [];
  const expose = (v: Value, elem: number, cuts: number[] | null) => {
    if (!g.outputs.includes(v)) {
      g.addOutput(v, ValueInfo.tensor(elem, null));
    }
    branches.push({ name: v.name, cuts });
  };
  for (const n of g.nodes) {
    const x = n.inputs[0];
    switch (n.opType) {
      case 'Relu': case 'LeakyRelu': case 'PRelu': case 'Elu': case 'Selu': case 'Abs':
        expose(x!, info.elem(x) ?? DataType.FLOAT, [0]);
        break;
      case 'HardSigmoid': {
        const alpha = n.attr('alpha')?.asFloat() ?? 0.2;
        const beta = n.attr('beta')?.asFloat() ?? 0.5;
        expose(x!, info.elem(x) ?? DataType.FLOAT, [-beta / alpha, (1 - beta) / alpha]);
        break;
      }
      case 'HardSwish': expose(x!, info.elem(x) ?? DataType.FLOAT, [-3, 3]); break;
      case 'ThresholdedRelu': expose(x!, info.elem(x) ?? DataType.FLOAT, [n.attr('alpha')?.asFloat() ?? 1]); break;
      case 'JumpRelu': expose(x!, info.elem(x) ?? DataType.FLOAT, [n.attr('kappa')?.asFloat() ?? 0, n.attr('grad_kappa')?.asFloat() ?? 0]); break;
      case 'Clip': {
        const cuts = [...(constantNumbers(n.inputs[1]) ?? []), ...(constantNumbers(n.inputs[2]) ?? [])];
        expose(x!, info.elem(x) ?? DataType.FLOAT, cuts);
        break;
      }
      case 'Where': expose(x!, DataType.BOOL, null); break;
      case 'Max': case 'Min': {
        // Which inputs equal the result.
        for (const v of n.inputs) {
          const hit = new Node('Equal', [v, n.outputs[0]!], { name: `${n.name}__probe_hit_${v!.name}`, outputNames: [`${n.name}__probe_hit_${v!.name}`] });
          g.append(hit);
          expose(hit.outputs[0]!, DataType.BOOL, null);
        }
        break;
      }
      case 'Greater': expose(n.outputs[0]!, DataType.BOOL, null); break;
      case 'MaxPool': {
        let idx = n.outputs[1];
        if (!idx || idx.name === '') {
          idx = new Value(`${n.outputs[0]!.name}__probe_indices`);
          const rep = new Node('MaxPool', [...n.inputs], { name: n.name, attributes: [...n.attributes.values()], outputs: [n.outputs[0]!, idx] });
          g.insertBefore(n, rep);
          g.remove(n, true);
        }
        expose(idx, DataType.INT64, null);
        break;
      }
    }
  }
  return { probe, branches };
}

function branchSignature(out: Record<string, ort.Tensor>, branches: Branch[]): string {
  return branches.map(({ name, cuts }) => {
    const d = out[name]!.data as ArrayLike<number | bigint | boolean>;
    if (!cuts) return Array.from(d, String).join(',');
    return Array.from(d as ArrayLike<number>, (x) => cuts.map((c) => (x > c ? '+' : x < c ? '-' : '0')).join('')).join(',');
  }).join('|');
}

/** Least-squares cubic fit of y(t) at t = k·h: slope at 0 and its standard error. */
function cubicSlope(ks: number[], ys: number[], h: number): { slope: number; stderr: number } {
  // Normal equations in k (well conditioned for |k| ≤ 6), then rescale by h.
  const X = ks.map((k) => [1, k, k * k, k * k * k]);
  const XtX = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => X.reduce((s, r) => s + r[i]! * r[j]!, 0)));
  const Xty = [0, 1, 2, 3].map((i) => X.reduce((s, r, n) => s + r[i]! * ys[n]!, 0));
  const inv = invert4(XtX);
  const beta = inv.map((row) => row.reduce((s, v, j) => s + v * Xty[j]!, 0));
  const resid = ys.map((y, n) => y - X[n]!.reduce((s, v, j) => s + v * beta[j]!, 0));
  const dof = ks.length - 4;
  const sigma2 = resid.reduce((s, r) => s + r * r, 0) / dof;
  return { slope: beta[1]! / h, stderr: Math.sqrt(sigma2 * inv[1]![1]!) / h };
}

function invert4(m: number[][]): number[][] {
  const n = 4;
  const a = m.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    [a[c], a[p]] = [a[p]!, a[c]!];
    const d = a[c]![c]!;
    for (let j = 0; j < 2 * n; j++) a[c]![j]! /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r]![c]!;
      for (let j = 0; j < 2 * n; j++) a[r]![j]! -= f * a[c]![j]!;
    }
  }
  return a.map((row) => row.slice(n));
}

export class BranchChange extends Error {}

export interface CheckOptions {
  /** Leaves (graph inputs or initializers) to differentiate, with their values at the base point. */
  wrt: Record<string, LeafData>;
  /** Other inputs (fixed). */
  fixed?: Record<string, ort.Tensor>;
  of: string[];
  seed: number;
  gradientOptions?: Partial<GradientOptions>;
}

/** Checks the vjp model of `model` against finite differences along one random direction. */
export async function directionalCheck(model: Model, o: CheckOptions): Promise<CheckResult> {
  const r = rng(o.seed);
  const wrtNames = Object.keys(o.wrt);
  const initNames = wrtNames.filter((n) => model.graph.initializers.has(n) && !model.graph.inputs.some((v) => v.name === n));
  const inputNames = wrtNames.filter((n) => !initNames.includes(n));
  const grad = buildGradientModel(model, {
    wrt: inputNames.length ? inputNames : [model.graph.inputs[0]!.name],
    of: o.of, mode: 'vjp',
    ...(initNames.length ? { withRespectToInitializers: initNames } : {}),
    ...o.gradientOptions,
  });
  const sig = gradientSignature(grad)!;
  // Initializers being differentiated become inputs of the probe so they can move.
  const { probe, branches } = probeModel(withInitializersAsInputs(model, initNames));
  const probeSession = await session(probe);
  const outShapes = new Map<string, number[]>();

  const direction: Record<string, number[]> = {};
  for (const n of wrtNames) direction[n] = o.wrt[n]!.values.map(() => Math.floor(r() * 9) - 4);
  const cot: Record<string, Float32Array> = {};

  const feedsAt = (t: number): Record<string, ort.Tensor> => {
    const feeds: Record<string, ort.Tensor> = { ...o.fixed };
    for (const n of wrtNames) {
      const { dims, values } = o.wrt[n]!;
      feeds[n] = f32(values.map((x, i) => x + t * direction[n]![i]!), dims);
    }
    return feeds;
  };
  const base = await probeSession.run(feedsAt(0));
  for (const of of o.of) {
    const t = base[of]!;
    outShapes.set(of, [...t.dims]);
    cot[of] = Float32Array.from({ length: t.data.length }, () => Math.fround(normal(r)));
  }

  const h = 2 ** -10;
  const ks = [-6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6];
  const ys: number[] = [];
  let signature0: string | null = null;
  for (const k of ks) {
    const out = await probeSession.run(feedsAt(k * h));
    let y = 0;
    for (const of of o.of) {
      const data = out[of]!.data as Float32Array;
      const w = cot[of]!;
      for (let i = 0; i < data.length; i++) y += w[i]! * data[i]!;
    }
    ys.push(y);
    const pattern = branchSignature(out, branches);
    if (signature0 === null) signature0 = pattern;
    else if (pattern !== signature0) throw new BranchChange('a piecewise op changes branch along the probe segment');
  }
  const { slope, stderr } = cubicSlope(ks, ys, h);

  const gradFeeds: Record<string, ort.Tensor> = { ...o.fixed };
  for (const n of inputNames) gradFeeds[n] = f32(o.wrt[n]!.values, o.wrt[n]!.dims);
  if (!inputNames.length) {
    const first = model.graph.inputs[0]!.name;
    if (!(first in gradFeeds)) throw new Error('directionalCheck: give a value for the first input');
  }
  for (const of of o.of) gradFeeds[sig.inputs.cotangents![of]!] = f32(cot[of]!, outShapes.get(of)!);
  // Initializer leaves keep their values inside the gradient model.
  const gout = await run(grad, gradFeeds);
  let derivative = 0;
  let scale = 0;
  for (const n of wrtNames) {
    const g = gout[sig.outputs.gradients[n]!]!.data as Float32Array;
    assert.equal(g.length, o.wrt[n]!.values.length, `gradient of ${n} has ${g.length} values`);
    const v = direction[n]!;
    for (let i = 0; i < g.length; i++) {
      derivative += g[i]! * v[i]!;
      scale += Math.abs(g[i]! * v[i]!);
    }
  }
  const tolerance = 8 * stderr + 2 ** -14 * scale;
  const error = Math.abs(derivative - slope);
  return { derivative, slope, error, tolerance, relative: scale > 0 ? error / scale : error };
}

function withInitializersAsInputs(model: Model, names: string[]): Model {
  if (names.length === 0) return model;
  const copy = decodeModel(encodeModel(model).toBytes());
  for (const n of names) {
    const v = copy.graph.initializers.get(n)!;
    const t = v.initializer!;
    copy.graph.removeInitializer(v);
    v.initializer = null;
    copy.graph.addInput(v, ValueInfo.tensor(t.dataType, t.dims.map(Number)));
  }
  return copy;
}

/** Runs `directionalCheck` and asserts the result is within tolerance. */
export async function assertGradient(model: Model, o: CheckOptions): Promise<CheckResult> {
  const res = await directionalCheck(model, o);
  assert.ok(res.error <= res.tolerance,
    `directional derivative ${res.derivative} vs finite differences ${res.slope}: error ${res.error} > tolerance ${res.tolerance}`);
  return res;
}

// ---- Python oracles --------------------------------------------------------------------------------

let checkerAvailable: boolean | undefined;

/** Whether `python3` has the onnx package (for onnx.checker). */
export function hasOnnxChecker(): boolean {
  checkerAvailable ??= spawnSync('python3', ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;
  return checkerAvailable;
}

/** onnx.checker.check_model(full_check=True) on each model; returns the error text per failing model. */
export function onnxCheck(models: Record<string, Model>): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'jumprelu-grad-check-'));
  try {
    const files: string[] = [];
    for (const [name, m] of Object.entries(models)) {
      const file = join(dir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.onnx`);
      writeFileSync(file, bytesOf(m));
      files.push(file);
    }
    const script = [
      'import json, sys, onnx',
      'out = {}',
      'for p in sys.argv[1:]:',
      '    try:',
      '        onnx.checker.check_model(onnx.load(p), full_check=True)',
      '    except Exception as e:',
      '        out[p] = str(e)',
      'print(json.dumps(out))',
    ].join('\n');
    const res = spawnSync('python3', ['-c', script, ...files], { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`onnx checker script failed: ${res.stderr}`);
    const failures = JSON.parse(res.stdout) as Record<string, string>;
    const named: Record<string, string> = {};
    Object.keys(models).forEach((name, i) => { if (failures[files[i]!]) named[name] = failures[files[i]!]!; });
    return named;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A raw little-endian float32 file (the Python reference scripts' output). */
export function readF32(file: string): Float32Array {
  const b = readFileSync(file);
  const out = new Float32Array(b.byteLength / 4);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

/** ‖a[from, to)‖₂. */
export function norm(a: Float32Array, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n += a[i]! ** 2;
  return Math.sqrt(n);
}

/** ‖a[from, to) − b[from, to)‖₂. */
export function distance(a: Float32Array, b: Float32Array, from: number, to: number): number {
  let d = 0;
  for (let i = from; i < to; i++) d += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(d);
}
