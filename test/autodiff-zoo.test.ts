// The gradient compiler on the vision zoo: torchvision and timm classifiers with random weights, each exported
// by PyTorch's TorchScript exporter (opsets 13 and 17) and by its dynamo exporter (opsets 18 and 20), every one of
// these configurations in `npm test`, built in the test by test/py/zoo_reference.py, which also writes PyTorch
// autograd's gradients. For each model, the vjp, cross-entropy and
// logit-difference gradient models that buildGradientModel writes, run in onnxruntime-node, must agree
// with autograd; for models with ReLUs also after the project's retrofit (JumpReLU, κ = 0.05, as
// ThresholdedRelu) against autograd through z·1[z > κ].
//
// Tolerance, as in autodiff-torch.test.ts: the two sides are different float32 programs, so per sample
// the L2 norm of the difference must be at most 1e-4 of the norm of PyTorch's gradient (≈ 1700·2⁻²⁴);
// cross-entropy gradients of confidently classified samples carry the cancellation noise of
// softmax − onehot, allowed as 32·u·max_k‖∂(f_k − f_label)/∂x‖ on top.
// Where the two implementations put a ReLU/JumpReLU/ReLU6/HardSwish/HardSigmoid input on different sides of a
// kink (rounding; or exactly on it, where the two backward conventions differ: test/helpers/kink-flips.ts), a whole
// path switches on or off and the gradients legitimately differ: the reference script records every such input
// (PyTorch's call order = the exported node order), and the same for every max_pool2d input, whose window
// arg-max the two may pick differently (a near-tie under rounding). These are checked on the forward pass each
// gradient was computed from, on both sides: the vjp and cross-entropy gradients come from a pass at batch N,
// the logit differences from one at batch N·k (the input tiled), and ORT optimises each gradient model's graph on
// its own (mobilenet_v2: a ReLU6 input of sample 0 is +6.0e-7 in the forward model, at batch 2 as at 6, and in
// the vjp and cross-entropy models, −4.2e-7 in the logit-difference model, −1.6e-6 in all of them without ORT's
// layout optimisation (NCHWc convolutions, level 'all'), +7.1e-6 in PyTorch). The ONNX side is read from the
// gradient model's own run (the values its rules decide by,
// exposed as extra outputs; MaxPool: the Indices output its rule scatters through, against ORT's MaxPool on
// PyTorch's input). A sample (a sample-candidate pair for the logit differences) with a flip is left out of that
// mode and counted; every run (κ = 0, JumpReLU) must compare at least one in every mode.
//
// The dynamo exporter's models (names *_dynamo18/20: torch.onnx.export(..., dynamo=True), weights in external
// data as it writes them) need torch >= 2.5 with onnxscript: PyPI's torch 2.15, which .ci/run installs into
// fixtures/.cache/torch2 and the test runs with python3 and that folder on PYTHONPATH (or $JUMPRELU_TORCH2_PYTHON).
// Configurations are named <model>_ts13, _ts17, _dynamo18, _dynamo20 (ZOO below). They are cached in
// fixtures/.cache/zoo-<hash of the script>/ (or $JUMPRELU_ZOO_DIR), built once: one Python process per exporter
// (the two at once), each model built and its autograd reference computed once for both of its opsets, and each
// configuration checked as soon as it is built. JUMPRELU_ZOO=a,b runs some (a model name stands for its four
// configurations).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';


import type * as ort from 'onnxruntime-node';

import { buildGradientModel, gradientSignature } from '../src/autodiff/index.js';
import { attrFloat } from '../src/ir/analysis/attrs.js';
import { constantOf } from '../src/ir/analysis/constants.js';
import { decodeModel } from '../src/ir/decode.js';
import { DataType } from '../src/ir/tensor.js';
import { Value } from '../src/ir/value.js';
import { Node } from '../src/ir/node.js';
import { ValueInfo } from '../src/ir/value-info.js';
import { loadModel, saveModel, sessionBytes } from '../src/ir/io.js';
import { Attribute, AttributeType } from '../src/ir/attribute.js';
import type { Model } from '../src/ir/model.js';
import { evalCommand } from '../src/cli/eval-command.js';
import { retrofit } from '../src/passes/jumprelu.js';
import { TinyModel, distance, f32, i64, norm, readF32, run } from './autodiff-helpers.js';
import { repoRoot, requireTorch } from './fixtures.js';
import { runCommands, captureStdout } from './helpers/cli.js';
import { npy } from './helpers/arrays.js';
import { type OnnxActivation, argmaxRows, familyOf, familyOfKind, flippedRows } from './helpers/kink-flips.js';

const RELATIVE_L2 = 1e-4;
const U = 2 ** -24;
const CE_FLOOR = 32 * U;

interface Meta {
  name: string; opset: number; size: number; exporter: Exporter; batch: number; classes: number; kappa: number | null;
  labels: number[]; candidates: number[][]; parameters: number; shapes: Record<string, number[]>; activations: string[];
  pools: number;
}

const script = join(repoRoot(), 'test', 'py', 'zoo_reference.py');

/** The zoo's models and their image sizes (MODELS in zoo_reference.py; each test checks its meta.json against this). */
const MODELS: Record<string, number> = {
  resnet18: 32, resnet50: 32, mobilenet_v2: 32, mobilenet_v3_small: 32, mobilenet_v3_large: 32, squeezenet1_1: 64, vgg11_bn: 32,
  densenet121: 64, googlenet: 64, efficientnet_b0: 32, shufflenet_v2_x0_5: 32, regnet_y_400mf: 32, convnext_narrow: 32,
  vit_b_16_narrow: 64, swin_t_narrow: 32, timm_vit_tiny: 32, timm_deit_tiny: 32,
};
type Exporter = 'torchscript' | 'dynamo';
/** Every model is exported in each of these (the issue's matrix): TorchScript at 13 and 17, dynamo at 18 and 20. */
const EXPORTS: ReadonlyArray<{ suffix: string; exporter: Exporter; opset: number }> = [
  { suffix: 'ts13', exporter: 'torchscript', opset: 13 }, { suffix: 'ts17', exporter: 'torchscript', opset: 17 },
  { suffix: 'dynamo18', exporter: 'dynamo', opset: 18 }, { suffix: 'dynamo20', exporter: 'dynamo', opset: 20 },
];
/**
 * The zoo's configurations, "<model>_<suffix>" (resnet18_ts13, …): the full matrix, all in `npm test`, plus two
 * dynamo-only models for op forms the torchvision zoo lacks: ops_mix (GroupNorm, Split num_outputs, Resize
 * linear, Pad and Reduce* with input axes, Gelu tanh) at 18 and 20 and the ViT with one tanh GELU at 20.
 */
const ZOO: Record<string, { model: string; size: number; opset: number; exporter: Exporter }> = Object.fromEntries([
  ...Object.entries(MODELS).flatMap(([model, size]) => EXPORTS.map((e) => [`${model}_${e.suffix}`, { model, size, opset: e.opset, exporter: e.exporter }] as const)),
  ['ops_mix_dynamo18', { model: 'ops_mix', size: 16, opset: 18, exporter: 'dynamo' }],
  ['ops_mix_dynamo20', { model: 'ops_mix', size: 16, opset: 20, exporter: 'dynamo' }],
  ['vit_b_16_narrow_gelus_dynamo20', { model: 'vit_b_16_narrow_gelus', size: 64, opset: 20, exporter: 'dynamo' }],
]);
/**
 * JUMPRELU_ZOO: unset or 'all' for every configuration (what `npm test` runs: the whole matrix fits its budget, see
 * docs/gradients.md for the figures), else a comma-separated list of configurations or models (a model: all of its).
 */
const wanted = process.env['JUMPRELU_ZOO'];
const selected = (!wanted || wanted === 'all' ? Object.keys(ZOO)
  : wanted.split(',').flatMap((w) => (ZOO[w] || !Object.values(ZOO).some((c) => c.model === w) ? [w] : Object.keys(ZOO).filter((n) => ZOO[n]!.model === w))))
  // TorchScript first: their checks run while the slower dynamo exports are still being built.
  .sort((a, b) => Number(ZOO[a]?.exporter === 'dynamo') - Number(ZOO[b]?.exporter === 'dynamo'));

function cacheDir(): string {
  if (process.env['JUMPRELU_ZOO_DIR']) return process.env['JUMPRELU_ZOO_DIR'];
  const hash = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12);
  return join(repoRoot(), 'fixtures', '.cache', `zoo-${hash}`);
}

/** Where .ci/run installs PyPI's torch 2.x, torchvision and onnxscript (pip --target) for the dynamo exporter. */
const TORCH2_DIR = join(repoRoot(), 'fixtures', '.cache', 'torch2');
/** Where .ci/run installs timm (--no-deps), for both interpreters. */
const PY_DEPS = join(repoRoot(), 'fixtures', '.cache', 'py');
const withPath = (env: NodeJS.ProcessEnv, ...dirs: string[]) => ({ ...env, PYTHONPATH: [...dirs, env['PYTHONPATH']].filter(Boolean).join(':') });

/**
 * The interpreter and environment that run the dynamo exports: $JUMPRELU_TORCH2_PYTHON as it is, else python3 on
 * PATH with fixtures/.cache/torch2 first on PYTHONPATH; undefined with the reason when it cannot import
 * torch ≥ 2.5, torchvision and onnxscript.
 */
async function torch2Python(): Promise<{ py: string; env: NodeJS.ProcessEnv } | { reason: string }> {
  const own = process.env['JUMPRELU_TORCH2_PYTHON'];
  const py = own ?? 'python3';
  const env = own ? withPath(process.env, PY_DEPS) : withPath(process.env, TORCH2_DIR, PY_DEPS);
  const probe = 'import torch, torchvision, onnxscript; v = tuple(int(p) for p in torch.__version__.split(".")[:2]); assert v >= (2, 5), torch.__version__';
  const res = await new Promise<{ code: number; output: string }>((resolve) => {
    const child = spawn(py, ['-c', probe], { stdio: ['ignore', 'ignore', 'pipe'], env });
    let output = '';
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', (e) => resolve({ code: -1, output: String(e) }));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
  if (res.code === 0) return { py, env };
  return { reason: `needs torch >= 2.5 with torchvision and onnxscript for the dynamo exporter (${own ? `JUMPRELU_TORCH2_PYTHON=${own}` : `python3 with ${TORCH2_DIR}; .ci/run installs it`}): ${res.output.trim().split('\n').pop()}` };
}

/** Runs zoo_reference.py; `onLine` sees each line of its standard output as it comes. */
function runPython(py: string, args: string[], env: NodeJS.ProcessEnv, onLine: (line: string) => void): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(py, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    let partial = '';
    child.stdout.on('data', (b: Buffer) => {
      output += b.toString();
      const lines = (partial + b.toString()).split('\n');
      partial = lines.pop()!;
      lines.forEach(onLine);
    });
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (partial) onLine(partial);
      resolve({ code: code ?? -1, output });
    });
  });
}

type Built = { ok: true; dir: string } | { ok: false; reason: string; fail?: boolean };
let builds: Map<string, Promise<Built>> | undefined;

/**
 * The folder of one configuration, built on first use: every selected configuration missing from the cache is
 * built by one zoo_reference.py process per exporter (Debian's torch for TorchScript, torch 2.x for dynamo; the
 * two run at once), which writes each model's configurations into a temporary folder and prints `zoo-built NAME`
 * for each; the test moves it into the cache then, so a model's checks start while the next model is being
 * built. Resolves with the reason when the configuration cannot be built here (torchvision, timm or torch 2.x
 * absent: `fail` unless that is a skip).
 */
function zooConfig(py: string, name: string): Promise<Built> {
  if (!builds) {
    const all = new Map<string, Promise<Built>>();
    builds = all;
    const dir = cacheDir();
    const missing = selected.filter((n) => ZOO[n] && !existsSync(join(dir, n, 'meta.json')));
    for (const n of selected) if (!missing.includes(n)) all.set(n, Promise.resolve({ ok: true, dir: join(dir, n) }));
    const settle = new Map<string, (b: Built) => void>();
    for (const n of missing) all.set(n, new Promise((resolve) => settle.set(n, resolve)));
    const finish = (n: string, b: Built) => { settle.get(n)?.(b); settle.delete(n); };
    const family = async (exporter: Exporter) => {
      const names = missing.filter((n) => ZOO[n]!.exporter === exporter);
      if (names.length === 0) return;
      let run: { py: string; env: NodeJS.ProcessEnv } | { reason: string } = { py, env: withPath(process.env, PY_DEPS) };
      if (exporter === 'dynamo') run = await torch2Python();
      if ('reason' in run) { for (const n of names) finish(n, { ok: false, reason: run.reason }); return; }
      const tmp = `${dir}.tmp-${process.pid}-${exporter}`;
      try {
        const res = await runPython(run.py, ['--out', tmp, '--models', names.join(',')], run.env, (line) => {
          const done = /^zoo-built (\S+)$/.exec(line)?.[1];
          if (!done || !settle.has(done)) return;
          const why = join(tmp, done, 'skipped.txt');
          if (existsSync(why)) { finish(done, { ok: false, reason: readFileSync(why, 'utf8').trim() }); return; }
          rmSync(join(dir, done), { recursive: true, force: true });
          mkdirSync(dir, { recursive: true });
          renameSync(join(tmp, done), join(dir, done));
          finish(done, { ok: true, dir: join(dir, done) });
        });
        const reason = res.code === 3 ? `needs torchvision (apt-get install python3-torchvision): ${res.output.trim().split('\n').pop()}`
          : `zoo_reference.py (${exporter} exporter, ${run.py}) failed (exit ${res.code}):\n${res.output}`;
        for (const n of names) finish(n, { ok: false, reason, fail: res.code !== 3 });
      } catch (e) {
        for (const n of names) finish(n, { ok: false, reason: String(e), fail: true });
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    };
    void Promise.all([family('torchscript'), family('dynamo')]);
  }
  return builds.get(name) ?? Promise.resolve({ ok: false, reason: `unknown zoo configuration '${name}' in JUMPRELU_ZOO`, fail: true });
}

/** The configuration's folder, or undefined after skipping the test (failing it for a build error or under JUMPRELU_REQUIRE_FIXTURES=1). */
async function requireConfig(t: TestContext, name: string): Promise<string | undefined> {
  const py = await requireTorch(t);
  if (!py) return undefined;
  const built = await zooConfig(py, name);
  if (built.ok) return built.dir;
  if (built.fail) throw new Error(built.reason);
  if (process.env['JUMPRELU_REQUIRE_FIXTURES'] === '1') throw new Error(`${built.reason} (JUMPRELU_REQUIRE_FIXTURES=1 turns this skip into a failure)`);
  t.skip(built.reason);
  return undefined;
}

/** The worst relative errors of one run, and how many samples (logit differences: sample-candidate pairs) each mode compared. */
interface Worst {
  logits: number; logitScale?: number; leftOut?: string[]; vjp: number; ld: number; ce: number; ceAllowance: number;
  compared: { vjp: number; ce: number; ld: number };
}

/** The activation nodes PyTorch's recorded calls correspond to, in node order (TorchScript keeps call order). */
function activationNodes(model: Model): Array<{ node: Node; act: OnnxActivation }> {
  const out: Array<{ node: Node; act: OnnxActivation }> = [];
  for (const n of model.graph.nodes) {
    if (n.opType === 'Relu') out.push({ node: n, act: { op: 'Relu', kappa: 0 } });
    else if (n.opType === 'ThresholdedRelu') {
      const kappa = attrFloat(n, 'alpha', 1);
      assert.ok(kappa >= 0, `ThresholdedRelu '${n.name}' with alpha ${kappa} < 0: its gradient mask is not y > 0`);
      out.push({ node: n, act: { op: 'ThresholdedRelu', kappa } });
    } else if (n.opType === 'Clip') {
      const [lo, hi] = [n.inputs[1], n.inputs[2]].map((v) => (v ? constantOf(v)?.values[0] ?? assert.fail(`Clip '${n.name}' with a bound known only at run time`) : undefined));
      out.push({ node: n, act: { op: 'Clip', lo: lo ?? -Infinity, hi: hi ?? Infinity } });
    } else if (n.opType === 'HardSigmoid') out.push({ node: n, act: { op: 'HardSigmoid', alpha: attrFloat(n, 'alpha', 0.2), beta: attrFloat(n, 'beta', 0.5) } });
    else if (n.opType === 'HardSwish') out.push({ node: n, act: { op: 'HardSwish' } });
  }
  return out;
}

/** Per batch row of a gradient model's forward pass, whether it is left out, and the reasons counted. */
interface Flips { rows: boolean[]; why: string[] }

/**
 * Runs a gradient model with the values its backward pass decides by exposed as extra outputs, and marks the
 * batch rows of its forward pass where some ReLU/JumpReLU/ReLU6/HardSwish/HardSigmoid site uses a different
 * derivative piece than PyTorch's backward does on PyTorch's recorded input of the same pass (`pass`: '' for
 * the batch-N pass of the vjp and cross-entropy gradients, 'ld_' for the batch-N·k pass of the logit
 * differences), or some MaxPool picks a different arg-max. The gradients are read from this same run, so the
 * exposed values are exactly those they came from (a forward-only model, or another gradient model, may round
 * differently: ORT's layout optimisation treats each graph on its own).
 */
async function runChecked(gm: Model, feeds: Record<string, ort.Tensor>, meta: Meta, dir: string, prefix: string, pass: '' | 'ld_', rows: number, label: (row: number) => string): Promise<{ out: Record<string, ort.Tensor>; flips: Flips }> {
  const sites = activationNodes(gm);
  assert.deepEqual(sites.map((s) => familyOf(s.act)), meta.activations.map(familyOfKind), 'ONNX activation nodes and PyTorch activation calls do not correspond');
  // Relu and ThresholdedRelu rules read the output (y > 0); the others the input.
  const read = sites.map((s) => (familyOf(s.act) === 'relu' ? s.node.outputs[0]! : s.node.inputs[0]!));
  for (const v of read) if (!gm.graph.outputs.includes(v)) gm.graph.addOutput(v, ValueInfo.tensor(DataType.FLOAT, null));
  const pools = gm.graph.nodes.filter((n) => n.opType === 'MaxPool');
  assert.equal(pools.length, meta.pools, 'ONNX MaxPool nodes and PyTorch max_pool2d calls do not correspond');
  const indices = pools.map((p, i) => p.outputs[1] ?? assert.fail(`MaxPool ${i} of the gradient model has no Indices output (its rule adds one)`));
  for (const v of indices) gm.graph.addOutput(v, ValueInfo.tensor(DataType.INT64, null));
  const out = await run(gm, feeds);
  const kappa = prefix === 'jump_' ? meta.kappa : null;
  const flipped = new Array<boolean>(rows).fill(false);
  const counts = new Map<string, number>(); // "sample s[, candidate c]: what" → elements
  const note = (per: number[], what: string) => per.forEach((c, r) => {
    if (c === 0) return;
    flipped[r] = true;
    const key = `${label(r)}: ${what}`;
    counts.set(key, (counts.get(key) ?? 0) + c);
  });
  sites.forEach((s, i) => {
    const mine = out[read[i]!.name]!;
    assert.equal(mine.dims[0], rows, `activation ${i}: ${mine.dims[0]} rows, not ${rows}`);
    note(flippedRows(s.act, meta.activations[i]!, kappa, mine.data as Float32Array, readF32(join(dir, `${prefix}${pass}pre${i}.f32`)), rows), `${familyOf(s.act)} ${i} kink`);
  });
  if (pools.length > 0) {
    // ORT's arg-max on PyTorch's input of each MaxPool (a copy of the node with the Indices output).
    const theirs = new TinyModel(Number(gm.opsetVersion('')));
    const tf: Record<string, ort.Tensor> = {};
    const outs = pools.map((p, i) => {
      const name = `${prefix}${pass}pool${i}`;
      tf[name] = f32(readF32(join(dir, `${name}.f32`)), meta.shapes[name]!);
      const copy = new Node('MaxPool', [theirs.input(name, meta.shapes[name]!)], { name: `theirs_pool${i}`, attributes: [...p.attributes.values()], outputNames: [`theirs_pool${i}_y`, `theirs_pool${i}_indices`] });
      theirs.graph.append(copy);
      theirs.graph.addOutput(copy.outputs[1]!, ValueInfo.tensor(DataType.INT64, null));
      return copy.outputs[1]!.name;
    });
    const ref = await run(theirs.model, tf);
    pools.forEach((_, i) => note(argmaxRows(out[indices[i]!.name]!.data as BigInt64Array, ref[outs[i]!]!.data as BigInt64Array, rows), `MaxPool ${i} arg-max`));
  }
  return { out, flips: { rows: flipped, why: [...counts].map(([k, c]) => `${k} ×${c}`) } };
}

/** All three modes of `model` against the reference files with the given prefix. */
async function compare(model: Model, meta: Meta, dir: string, prefix: string): Promise<Worst> {
  const ref = (name: string) => readF32(join(dir, `${prefix}${name}.f32`));
  const x = readF32(join(dir, 'input.f32'));
  const n = meta.batch;
  const k = meta.candidates[0]!.length;
  const C = meta.classes;
  const shape = [n, 3, meta.size, meta.size];
  const per = x.length / n;
  const input = f32(x, shape);
  const labels = i64(meta.labels, [n]);

  const vjp = buildGradientModel(model, { wrt: ['input'], of: ['logits'], mode: 'vjp' });
  const ce = buildGradientModel(model, { wrt: ['input'], of: ['logits'], mode: 'cross-entropy' });
  const ld = buildGradientModel(model, { wrt: ['input'], of: ['logits'], mode: 'logit-differences' });
  const [vs, cs, ls] = [vjp, ce, ld].map((m) => gradientSignature(m)!);
  // Each gradient model is checked for flips on its own forward pass (ORT optimises each graph on its own),
  // against PyTorch's pass of the same batch.
  const sample = (r: number) => `sample ${r}`;
  const pair = (r: number) => `sample ${Math.floor(r / k)}, candidate ${meta.candidates[Math.floor(r / k)]![r % k]}`;
  const v = await runChecked(vjp, { input, [vs!.inputs.cotangents!['logits']!]: f32(readF32(join(dir, 'cotangent.f32')), [n, C]) }, meta, dir, prefix, '', n, sample);
  const c = await runChecked(ce, { input, labels }, meta, dir, prefix, '', n, sample);
  const l = await runChecked(ld, { input, labels, candidates: i64(meta.candidates.flat(), [n, k]) }, meta, dir, prefix, 'ld_', n * k, pair);

  const [refLogits, refLoss, refVjp, refCe, refLd] = ['logits', 'loss', 'vjp_grad', 'ce_grad', 'ld_grad'].map(ref);
  const logits = c.out[cs!.outputs.logits!]!.data as Float32Array;
  const vGrad = v.out[vs!.outputs.gradients['input']!]!.data as Float32Array;
  const cGrad = c.out[cs!.outputs.gradients['input']!]!.data as Float32Array;
  const lGrad = l.out[ls!.outputs.gradients['input']!]!.data as Float32Array;
  const loss = c.out[cs!.outputs.loss!]!.data as Float32Array;
  const w: Worst = { logits: 0, vjp: 0, ld: 0, ce: 0, ceAllowance: 0, compared: { vjp: 0, ce: 0, ld: 0 } };
  for (let s = 0; s < n; s++) {
    if (!v.flips.rows[s]) {
      w.compared.vjp++;
      // (A JumpReLU model can have a zero gradient, when a layer is all below κ: then it must be exactly zero.)
      const rv = norm(refVjp!, s * per, (s + 1) * per);
      const ev = distance(vGrad, refVjp!, s * per, (s + 1) * per);
      assert.ok(ev <= RELATIVE_L2 * rv, `sample ${s}: vjp gradient differs by ${ev} (‖g‖ ${rv})`);
      w.vjp = Math.max(w.vjp, rv > 0 ? ev / rv : 0);
    }
    let jac = 0; // the cross-entropy allowance's Jacobian scale (PyTorch's gradients: no flip matters)
    for (let j = 0; j < k; j++) {
      const from = (s * k + j) * per;
      const r = norm(refLd!, from, from + per);
      jac = Math.max(jac, r);
      if (l.flips.rows[s * k + j]) continue;
      w.compared.ld++;
      const e = distance(lGrad, refLd!, from, from + per);
      assert.ok(e <= RELATIVE_L2 * r, `sample ${s}, candidate ${meta.candidates[s]![j]}: logit-difference gradient differs by ${e} (‖g‖ ${r})`);
      w.ld = Math.max(w.ld, r > 0 ? e / r : 0);
    }
    if (c.flips.rows[s]) continue;
    w.compared.ce++;
    w.logits = Math.max(w.logits, distance(logits, refLogits!, s * C, (s + 1) * C) / Math.max(norm(refLogits!, s * C, (s + 1) * C), 1e-30));
    assert.ok(Math.abs(loss[s]! - refLoss![s]!) <= RELATIVE_L2 * (1 + Math.abs(refLoss![s]!)), `sample ${s}: loss ${loss[s]} vs ${refLoss![s]}`);
    const e = distance(cGrad, refCe!, s * per, (s + 1) * per);
    const r = norm(refCe!, s * per, (s + 1) * per);
    const allowed = RELATIVE_L2 * r + CE_FLOOR * jac;
    assert.ok(e <= allowed, `sample ${s}: cross-entropy gradient differs by ${e} (‖g‖ ${r}, allowed ${allowed})`);
    w.ce = Math.max(w.ce, r > 0 ? e / r : 0);
    w.ceAllowance = Math.max(w.ceAllowance, allowed > 0 ? e / allowed : 0);
  }
  w.leftOut = [...v.flips.why.map((y) => `vjp ${y}`), ...c.flips.why.map((y) => `cross-entropy ${y}`), ...l.flips.why.map((y) => `logit differences ${y}`)];
  if (w.logits > RELATIVE_L2) {
    // Relative to the logits themselves the check fails when they cancel: each logit is a sum Σ_j W_ij·h_j + b_i
    // whose float32 error (in either program, and from the error of h) scales with Σ_j |W_ij·h_j| + |b_i|, not with
    // its result. So a sample is held to 1e-4 of ‖|W|·|h| + |b|‖ instead, h being ONNX Runtime's input of the final
    // Gemm (the same 1e-4, against the size of the terms the logits are summed from).
    const scale = await summandScale(model, input, n, C);
    w.logitScale = 0;
    for (let s = 0; s < n; s++) {
      if (c.flips.rows[s]) continue;
      const e = distance(logits, refLogits!, s * C, (s + 1) * C);
      w.logitScale = Math.max(w.logitScale, e / scale[s]!);
      assert.ok(e <= RELATIVE_L2 * scale[s]!, `sample ${s}: logits differ from PyTorch's by ${e} (‖logits‖ ${norm(refLogits!, s * C, (s + 1) * C)}, ‖|W|·|h| + |b|‖ ${scale[s]})`);
    }
  }
  return w;
}

/** Per sample, ‖|W|·|h| + |b|‖₂ of the Gemm that writes the logits (h: its input as ONNX Runtime computes it). */
async function summandScale(model: Model, input: ort.Tensor, n: number, C: number): Promise<number[]> {
  const probe = decodeModel(sessionBytes(model));
  const logits = probe.graph.outputs[0]!;
  const gemm = logits.producer;
  assert.ok(gemm?.opType === 'Gemm', `the logits come from ${gemm?.opType ?? 'no node'}, not a Gemm: no summand scale`);
  assert.ok(Number(gemm.attr('transA')?.asInt() ?? 0) === 0, 'Gemm with transA');
  const transB = Number(gemm.attr('transB')?.asInt() ?? 0) === 1;
  const alpha = Math.abs(gemm.attr('alpha')?.asFloat() ?? 1);
  const beta = Math.abs(gemm.attr('beta')?.asFloat() ?? 1);
  const W = constantOf(gemm.inputs[1]) ?? assert.fail('the final Gemm has no constant weight');
  const b = gemm.inputs[2] ? constantOf(gemm.inputs[2])?.values ?? assert.fail('the final Gemm has no constant bias') : null;
  probe.graph.addOutput(gemm.inputs[0]!, ValueInfo.tensor(DataType.FLOAT, null));
  const h = (await run(probe, { input }))[gemm.inputs[0]!.name]!.data as Float32Array;
  const K = h.length / n;
  const out: number[] = [];
  for (let s = 0; s < n; s++) {
    let sq = 0;
    for (let i = 0; i < C; i++) {
      let t = 0;
      for (let j = 0; j < K; j++) t += Math.abs(W.values[transB ? i * K + j : j * C + i]! * h[s * K + j]!);
      t = alpha * t + (b ? beta * Math.abs(b[b.length === 1 ? 0 : i]!) : 0);
      sq += t * t;
    }
    out.push(Math.sqrt(sq));
  }
  return out;
}

const fmt = (w: Worst, meta: Meta) => `compared: vjp ${w.compared.vjp} and cross-entropy ${w.compared.ce} of ${meta.batch} samples, logit differences ${w.compared.ld} of ${meta.batch * meta.candidates[0]!.length} sample-candidate pairs; logits ${w.logits.toExponential(1)}${w.logitScale !== undefined ? ` (${w.logitScale.toExponential(1)} of ‖|W|·|h| + |b|‖)` : ''}, vjp ${w.vjp.toExponential(1)}, logit differences ${w.ld.toExponential(1)}, `
  + `cross-entropy ${w.ce.toExponential(1)} (${(100 * w.ceAllowance).toFixed(0)} % of its allowance)${w.leftOut?.length ? `; left out: ${w.leftOut.join('; ')}` : ''}`;

/**
 * Known failures, reported as TODO (the test still runs and prints its result), each with what is known of it.
 * (mobilenet_v2 at opset 13 was one until each gradient model was checked for flips on its own forward pass:
 * ORT's logit-difference model rounds a ReLU6 input of sample 0 to −4.2e-7, the forward model it was checked
 * on to +6.0e-7, PyTorch to +7.1e-6.)
 */
const KNOWN_FAILURES: Record<string, string> = {};

for (const name of selected) {
  const spec = ZOO[name];
  const todo = KNOWN_FAILURES[name];
  test(`zoo: ${spec?.model ?? name} (${spec?.exporter === 'dynamo' ? 'dynamo' : 'TorchScript'} export, opset ${spec?.opset}, ${spec?.size} px) gradients agree with PyTorch autograd`, todo ? { todo } : {}, async (t) => {
    assert.ok(spec, `unknown zoo configuration '${name}' in JUMPRELU_ZOO (configurations: <model>_{${EXPORTS.map((e) => e.suffix).join(',')}} or a model name)`);
    const dir = await requireConfig(t, name);
    if (!dir) return;
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
    assert.deepEqual([meta.opset, meta.size, meta.exporter], [spec.opset, spec.size, spec.exporter], `${name}: meta.json does not match the test's ZOO`);
    const model = loadModel(join(dir, 'model.onnx'));
    const plain = await compare(model, meta, dir, '');
    t.diagnostic(`${meta.parameters} parameters; κ = 0 (as exported): ${fmt(plain, meta)}`);
    const runs: Array<[string, Worst]> = [['κ = 0', plain]];
    if (meta.kappa !== null) {
      const report = retrofit(model, { kappa: meta.kappa, target: 'thresholded-relu' });
      assert.ok(report.sites.length > 0, 'the retrofit found no ReLU to convert');
      const jump = await compare(model, meta, dir, 'jump_');
      runs.push([`JumpReLU κ = ${meta.kappa}`, jump]);
      t.diagnostic(`JumpReLU κ = ${meta.kappa} at ${report.sites.length} sites: ${fmt(jump, meta)}`);
    }
    // Samples with a flip check only the logits and the correspondences: every run must compare some sample
    // (some sample-candidate pair) in every mode.
    for (const [run, w] of runs) {
      for (const [mode, count] of Object.entries(w.compared)) {
        assert.ok(count >= 1, `${run}, ${mode}: every sample has a pre-activation on the other side of a kink or a MaxPool arg-max that differs in PyTorch (${w.leftOut?.join('; ')})`);
      }
    }
  });
}

// ---- jumprelu eval on one CNN and one transformer of the zoo --------------------------------------

// A transformer has GELU only: eval refuses it ('no-relu-sites', every κ would give the same model) unless
// --allow-no-sites asks for its own figures at κ = 0, which the report then says.
const NO_RELU = new Set(['timm_vit_tiny_ts17']);
const EVAL_MODELS = ['resnet18_ts13', 'mobilenet_v3_large_ts17', 'timm_vit_tiny_ts17'].filter((n) => selected.includes(n));

interface EvalReport {
  results: Array<{ attack: string; n: number; accuracy: number; fooling_rate: number; rho_all: number }>; warnings: string[];
  model: { interface?: { input: string; output: string; layout: string } }; input_convention: { cut: string[] };
}

/** 8 random images in [0, 1] labelled with the model's own predictions (random weights: no other truth), as npy files. */
async function evalData(meta: Meta, modelPath: string, dir: string): Promise<string> {
  const n = 8;
  const shape = [n, 3, meta.size, meta.size];
  let seed = 12345;
  const x = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  });
  const out = await run(loadModel(modelPath), { input: f32(x, shape) });
  const logits = out['logits']!.data as Float32Array;
  const labels = Array.from({ length: n }, (_, i) => {
    const row = Array.from(logits.subarray(i * meta.classes, (i + 1) * meta.classes));
    return row.indexOf(Math.max(...row));
  });
  writeFileSync(join(dir, 'x.npy'), npy('<f4', shape, new Uint8Array(x.buffer)));
  writeFileSync(join(dir, 'y.npy'), npy('<i8', [n], new Uint8Array(BigInt64Array.from(labels.map(BigInt)).buffer)));
  return `npy:${join(dir, 'x.npy')},${join(dir, 'y.npy')}`;
}

async function evalJson(modelPath: string, data: string, extra: string[]): Promise<EvalReport> {
  const printed = await captureStdout(() => runCommands([evalCommand], ['eval', modelPath, '--data', data, '--attacks', 'fgsm,deepfool2',
    '--preprocessing', 'none', '--limit', '8', '--threads', '1', '--json', ...extra]));
  return JSON.parse(printed) as EvalReport;
}

const evalResults = new Map<string, EvalReport>();

for (const name of EVAL_MODELS) {
  test(`zoo: jumprelu eval runs FGSM and DeepFool-L2 on 8 samples of ${name}`, async (t) => {
    const zoo = await requireConfig(t, name);
    if (!zoo) return;
    const meta = JSON.parse(readFileSync(join(zoo, 'meta.json'), 'utf8')) as Meta;
    const modelPath = join(zoo, 'model.onnx');
    const dir = mkdtempSync(join(tmpdir(), 'jumprelu-zoo-eval-'));
    try {
      const report = await evalJson(modelPath, await evalData(meta, modelPath, dir), NO_RELU.has(name) ? ['--allow-no-sites'] : []);
      evalResults.set(name, report);
      if (NO_RELU.has(name)) assert.ok(report.warnings.some((w) => /no ReLU for JumpReLU.*κ = 0 only/.test(w)), report.warnings.join(' | '));
      const byAttack = new Map(report.results.map((r) => [r.attack, r]));
      for (const a of ['fgsm', 'deepfool2']) {
        const r = byAttack.get(a);
        assert.ok(r, `no ${a} result in the report`);
        assert.equal(r.n, 8);
        assert.ok(Number.isFinite(r.rho_all) && r.rho_all >= 0, `${a}: ρ̃ ${r.rho_all}`);
      }
      // DeepFool on a random-weight network moves every sample across its nearest boundary.
      assert.ok(byAttack.get('deepfool2')!.fooling_rate > 0.5, `DeepFool fooled ${byAttack.get('deepfool2')!.fooling_rate} of the samples`);
      t.diagnostic(report.results.map((r) => `${r.attack}: fooling rate ${r.fooling_rate.toFixed(2)}, ρ̃ ${r.rho_all.toExponential(2)}`).join('; '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// ---- eval on the model as users wrap it: NHWC input, (log-)probabilities, several outputs ----------------

/** resnet18 with an NHWC input (Transpose to NCHW in front) and two outputs: its pooled features [N, 512] and Softmax probabilities. */
function nhwcWithProbabilities(model: Model, size: number): Model {
  const g = model.graph;
  const x = g.inputs[0]!;
  const logits = g.outputs[0]!;
  const gemm = logits.producer!;
  const nhwc = new Value('image_nhwc');
  const perm = new Attribute('perm', { type: AttributeType.INTS, value: [0n, 3n, 1n, 2n] });
  const toNchw = new Node('Transpose', [nhwc], { name: 'to_nchw', attributes: [perm], outputNames: ['image_nchw'] });
  x.replaceAllUsesWith(toNchw.outputs[0]!);
  g.replaceInput(x, nhwc, ValueInfo.tensor(DataType.FLOAT, ['N', size, size, 3]));
  g.prepend(toNchw);
  const axis = new Attribute('axis', { type: AttributeType.INT, value: 1n });
  const softmax = new Node('Softmax', [logits], { name: 'probabilities', attributes: [axis], outputNames: ['probs'] });
  g.append(softmax);
  g.setOutputs([{ value: gemm.inputs[0]!, info: ValueInfo.tensor(DataType.FLOAT, ['N', 512]) }, { value: softmax.outputs[0]!, info: ValueInfo.tensor(DataType.FLOAT, ['N', 10]) }]);
  return model;
}

/** resnet18 whose only output is log-probabilities written as Log(Softmax(logits)). */
function logOfSoftmax(model: Model): Model {
  const g = model.graph;
  const logits = g.outputs[0]!;
  const softmax = new Node('Softmax', [logits], { name: 'softmax', outputNames: ['probs'] });
  const log = new Node('Log', [softmax.outputs[0]!], { name: 'log', outputNames: ['log_probs'] });
  g.append(softmax);
  g.append(log);
  g.setOutputs([{ value: log.outputs[0]!, info: ValueInfo.tensor(DataType.FLOAT, ['N', 10]) }]);
  return model;
}

if (selected.includes('resnet18_ts13')) {
  test('zoo: jumprelu eval on resnet18 wrapped as users export it (NHWC input, probabilities next to features, log-probabilities) gives the figures of the plain model', async (t) => {
    const zoo = await requireConfig(t, 'resnet18_ts13');
    if (!zoo) return;
    const meta = JSON.parse(readFileSync(join(zoo, 'meta.json'), 'utf8')) as Meta;
    const modelPath = join(zoo, 'model.onnx');
    const dir = mkdtempSync(join(tmpdir(), 'jumprelu-zoo-wrapped-'));
    try {
      const data = await evalData(meta, modelPath, dir);
      const plain = evalResults.get('resnet18_ts13') ?? await evalJson(modelPath, data, []);
      const wrapped = join(dir, 'nhwc_probs.onnx');
      saveModel(nhwcWithProbabilities(loadModel(modelPath), meta.size), wrapped);
      const logp = join(dir, 'log_softmax.onnx');
      saveModel(logOfSoftmax(loadModel(modelPath)), logp);
      const a = await evalJson(wrapped, data, ['--output', 'probs']);
      assert.equal(a.model.interface?.layout, 'NHWC', JSON.stringify(a.model.interface));
      assert.equal(a.model.interface?.output, 'probs');
      assert.ok(a.input_convention.cut.some((c) => /Softmax/.test(c)), `the final Softmax is not cut: ${a.input_convention.cut.join('; ')}`);
      const b = await evalJson(logp, data, []);
      for (const [label, r] of [['NHWC + probabilities (--output probs)', a], ['Log(Softmax) output', b]] as const) {
        for (const p of plain.results) {
          const q = r.results.find((x) => x.attack === p.attack && x.n === p.n);
          assert.ok(q, `${label}: no ${p.attack} result`);
          assert.equal(q.fooling_rate, p.fooling_rate, `${label} ${p.attack}: fooling rate ${q.fooling_rate} vs ${p.fooling_rate} on the plain model`);
          assert.ok(Math.abs(q.rho_all - p.rho_all) <= 1e-3 * p.rho_all, `${label} ${p.attack}: ρ̃ ${q.rho_all} vs ${p.rho_all} on the plain model`);
        }
        t.diagnostic(`${label}: ${r.results.map((x) => `${x.attack} fooling rate ${x.fooling_rate.toFixed(2)}, ρ̃ ${x.rho_all.toExponential(3)}`).join('; ')}`);
      }
      t.diagnostic(`plain: ${plain.results.map((x) => `${x.attack} fooling rate ${x.fooling_rate.toFixed(2)}, ρ̃ ${x.rho_all.toExponential(3)}`).join('; ')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
