// The gradient compiler on the vision zoo: torchvision and timm classifiers with random weights, exported
// by PyTorch's TorchScript exporter (opsets 13 and 17) and built in the test by test/py/zoo_reference.py,
// which also writes PyTorch autograd's gradients. For each model, the vjp, cross-entropy and
// logit-difference gradient models that buildGradientModel writes, run in onnxruntime-node, must agree
// with autograd; for models with ReLUs also after the project's retrofit (JumpReLU, κ = 0.05, as
// ThresholdedRelu) against autograd through z·1[z > κ].
//
// Tolerance, as in autodiff-torch.test.ts: the two sides are different float32 programs, so per sample
// the L2 norm of the difference must be at most 1e-4 of the norm of PyTorch's gradient (≈ 1700·2⁻²⁴);
// cross-entropy gradients of confidently classified samples carry the cancellation noise of
// softmax − onehot, allowed as 32·u·max_k‖∂(f_k − f_label)/∂x‖ on top.
// Where the two implementations put a ReLU/JumpReLU/ReLU6 input on different sides of a kink (rounding),
// a whole path switches on or off and the gradients legitimately differ: the reference script records
// every such input (PyTorch's call order = the exported node order), and samples with a flip are left
// out and counted (at least one of the two must remain).
//
// The dynamo exporter's models (names *_dynamo18/20: torch.onnx.export(..., dynamo=True), weights in external
// data as it writes them) need torch >= 2.5 with onnxscript: PyPI's torch 2.15, which .ci/run installs into
// fixtures/.cache/torch2 and the test runs with python3 and that folder on PYTHONPATH (or $JUMPRELU_TORCH2_PYTHON).
// The models are cached in fixtures/.cache/zoo-<hash of the script>/ (or $JUMPRELU_ZOO_DIR), built once;
// JUMPRELU_ZOO=all runs every model, JUMPRELU_ZOO=name,name a subset.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';


import type * as ort from 'onnxruntime-node';

import { buildGradientModel, gradientSignature } from '../src/autodiff/index.js';
import { constantOf } from '../src/ir/analysis/constants.js';
import { decodeModel } from '../src/ir/decode.js';
import { DataType } from '../src/ir/tensor.js';
import type { Value } from '../src/ir/value.js';
import { ValueInfo } from '../src/ir/value-info.js';
import { loadModel, sessionBytes } from '../src/ir/io.js';
import type { Model } from '../src/ir/model.js';
import { evalCommand } from '../src/cli/eval-command.js';
import { retrofit } from '../src/passes/jumprelu.js';
import { distance, f32, i64, norm, readF32, run } from './autodiff-helpers.js';
import { repoRoot, requireTorch } from './fixtures.js';
import { runCommands, captureStdout } from './helpers/cli.js';
import { npy } from './helpers/arrays.js';

const RELATIVE_L2 = 1e-4;
const U = 2 ** -24;
const CE_FLOOR = 32 * U;

interface Meta {
  name: string; opset: number; size: number; batch: number; classes: number; kappa: number | null;
  labels: number[]; candidates: number[][]; parameters: number; shapes: Record<string, number[]>; activations: string[];
}

const script = join(repoRoot(), 'test', 'py', 'zoo_reference.py');
/**
 * The zoo (ci: in `npm test`, chosen to cover every op family within the test budget; the rest run with
 * JUMPRELU_ZOO=all or by name).
 */
const ZOO: Record<string, { size: number; opset: number; ci?: true; exporter?: 'dynamo' }> = {
  resnet18: { size: 32, opset: 13, ci: true }, resnet50: { size: 32, opset: 17 }, mobilenet_v2: { size: 32, opset: 13, ci: true },
  mobilenet_v3_small: { size: 32, opset: 13 }, mobilenet_v3_large: { size: 32, opset: 17, ci: true }, squeezenet1_1: { size: 64, opset: 17, ci: true },
  vgg11_bn: { size: 32, opset: 13 }, densenet121: { size: 64, opset: 17 }, googlenet: { size: 64, opset: 13 },
  efficientnet_b0: { size: 32, opset: 17 }, shufflenet_v2_x0_5: { size: 32, opset: 13 }, regnet_y_400mf: { size: 32, opset: 17 },
  convnext_narrow: { size: 32, opset: 13, ci: true }, convnext_narrow_17: { size: 32, opset: 17 },
  vit_b_16_narrow: { size: 64, opset: 13 }, vit_b_16_narrow_17: { size: 64, opset: 17, ci: true }, swin_t_narrow: { size: 32, opset: 17, ci: true },
  timm_vit_tiny: { size: 32, opset: 17, ci: true }, timm_deit_tiny: { size: 32, opset: 13 },
  // The dynamo exporter (torch.onnx.export(..., dynamo=True), PyPI torch 2.15 + onnxscript from fixtures/.cache/torch2).
  ops_mix_dynamo18: { size: 16, opset: 18, exporter: 'dynamo' }, ops_mix_dynamo20: { size: 16, opset: 20, exporter: 'dynamo', ci: true },
  resnet18_dynamo18: { size: 32, opset: 18, exporter: 'dynamo', ci: true }, vit_b_16_narrow_gelus_dynamo20: { size: 64, opset: 20, exporter: 'dynamo', ci: true },
  swin_t_narrow_dynamo18: { size: 32, opset: 18, exporter: 'dynamo' }, convnext_narrow_dynamo20: { size: 32, opset: 20, exporter: 'dynamo' },
  mobilenet_v3_large_dynamo20: { size: 32, opset: 20, exporter: 'dynamo' },
};
const wanted = process.env['JUMPRELU_ZOO'];
const selected = wanted === 'all' ? Object.keys(ZOO) : wanted ? wanted.split(',') : Object.keys(ZOO).filter((n) => ZOO[n]!.ci);

function cacheDir(): string {
  if (process.env['JUMPRELU_ZOO_DIR']) return process.env['JUMPRELU_ZOO_DIR'];
  const hash = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12);
  return join(repoRoot(), 'fixtures', '.cache', `zoo-${hash}`);
}

/** Where .ci/run installs PyPI's torch 2.x, torchvision and onnxscript (pip --target) for the dynamo exporter. */
const TORCH2_DIR = join(repoRoot(), 'fixtures', '.cache', 'torch2');

/**
 * The interpreter and environment that run the dynamo exports: $JUMPRELU_TORCH2_PYTHON as it is, else python3 on
 * PATH with fixtures/.cache/torch2 first on PYTHONPATH; undefined with the reason when it cannot import
 * torch ≥ 2.5, torchvision and onnxscript.
 */
async function torch2Python(): Promise<{ py: string; env: NodeJS.ProcessEnv } | { reason: string }> {
  const own = process.env['JUMPRELU_TORCH2_PYTHON'];
  const py = own ?? 'python3';
  const env = own ? { ...process.env } : { ...process.env, PYTHONPATH: [TORCH2_DIR, process.env['PYTHONPATH']].filter(Boolean).join(':') };
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

function runPython(py: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(py, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

interface Zoo { ok: true; dir: string; skipped: Map<string, string> }
let building: Promise<Zoo | { ok: false; reason: string }> | undefined;

/**
 * Builds the selected models once: into a temporary folder, each model renamed into the cache when
 * complete. Models the script could not build (timm absent) are returned with the reason.
 */
function ensureZoo(py: string) {
  building ??= (async () => {
    const dir = cacheDir();
    const skipped = new Map<string, string>();
    const missing = selected.filter((n) => !existsSync(join(dir, n, 'meta.json')));
    if (missing.length === 0) return { ok: true as const, dir, skipped };
    const tmp = `${dir}.tmp-${process.pid}`;
    const pydeps = join(repoRoot(), 'fixtures', '.cache', 'py'); // .ci/run installs timm there (--no-deps)
    const env = { ...process.env, PYTHONPATH: [pydeps, process.env['PYTHONPATH']].filter(Boolean).join(':') };
    try {
      const scripted = missing.filter((n) => ZOO[n]?.exporter !== 'dynamo');
      const dynamo = missing.filter((n) => ZOO[n]?.exporter === 'dynamo');
      const built: string[] = [];
      if (scripted.length > 0) {
        const res = await runPython(py, ['--out', tmp, '--models', scripted.join(',')], env);
        if (res.code === 3) return { ok: false as const, reason: `needs torchvision (apt-get install python3-torchvision): ${res.output.trim().split('\n').pop()}` };
        if (res.code !== 0) throw new Error(`zoo_reference.py failed (exit ${res.code}):\n${res.output}`);
        built.push(...scripted);
      }
      if (dynamo.length > 0) {
        const t2 = await torch2Python();
        if ('reason' in t2) for (const n of dynamo) skipped.set(n, t2.reason);
        else {
          const res = await runPython(t2.py, ['--out', tmp, '--models', dynamo.join(',')], t2.env);
          if (res.code !== 0) throw new Error(`zoo_reference.py (dynamo exporter, ${t2.py}) failed (exit ${res.code}):\n${res.output}`);
          built.push(...dynamo);
        }
      }
      for (const n of built) {
        const why = join(tmp, n, 'skipped.txt');
        if (existsSync(why)) { skipped.set(n, readFileSync(why, 'utf8').trim()); continue; }
        rmSync(join(dir, n), { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        renameSync(join(tmp, n), join(dir, n));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return { ok: true as const, dir, skipped };
  })();
  return building;
}

interface Worst { logits: number; vjp: number; ld: number; ce: number; ceAllowance: number; compared: number }

/** The activation nodes PyTorch's recorded calls correspond to, in node order (TorchScript keeps call order). */
function activationNodes(model: Model): Array<{ family: 'relu' | 'clip'; input: Value; kinks: number[] }> {
  const out: Array<{ family: 'relu' | 'clip'; input: Value; kinks: number[] }> = [];
  for (const n of model.graph.nodes) {
    if (n.opType === 'Relu') out.push({ family: 'relu', input: n.inputs[0]!, kinks: [0] });
    else if (n.opType === 'ThresholdedRelu') out.push({ family: 'relu', input: n.inputs[0]!, kinks: [n.attr('alpha')?.asFloat() ?? 1] });
    else if (n.opType === 'Clip') {
      const bounds = [n.inputs[1], n.inputs[2]].map((v) => constantOf(v)?.values[0]).filter((v): v is number => v !== undefined);
      out.push({ family: 'clip', input: n.inputs[0]!, kinks: bounds });
    }
  }
  return out;
}

/**
 * Per sample, whether some ReLU/JumpReLU/ReLU6 input lies on one side of a kink in ONNX Runtime and on
 * the other in PyTorch (the two float32 programs differ by rounding): such a sample's gradients
 * legitimately differ (a whole path switches on or off), so it is left out and counted.
 */
async function flippedSamples(model: Model, meta: Meta, dir: string, prefix: string, input: ort.Tensor): Promise<boolean[]> {
  const sites = activationNodes(model);
  const families = meta.activations.map((k) => (k === 'relu' ? 'relu' : 'clip'));
  assert.deepEqual(sites.map((s) => s.family), families, 'ONNX activation nodes and PyTorch activation calls do not correspond');
  const probe = decodeModel(sessionBytes(model));
  const values = activationNodes(probe);
  for (const s of values) probe.graph.addOutput(s.input, ValueInfo.tensor(DataType.FLOAT, null));
  const out = await run(probe, { input });
  const flipped = new Array<boolean>(meta.batch).fill(false);
  values.forEach((s, i) => {
    const mine = out[s.input.name]!.data as Float32Array;
    const theirs = readF32(join(dir, `${prefix}pre${i}.f32`));
    assert.equal(mine.length, theirs.length, `activation ${i}: ${mine.length} vs ${theirs.length} values`);
    const per = mine.length / meta.batch;
    for (let j = 0; j < mine.length; j++) {
      for (const k of s.kinks) if ((mine[j]! > k) !== (theirs[j]! > k)) flipped[Math.floor(j / per)] = true;
    }
  });
  return flipped;
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
  const vOut = await run(vjp, { input, [vs!.inputs.cotangents!['logits']!]: f32(readF32(join(dir, 'cotangent.f32')), [n, C]) });
  const cOut = await run(ce, { input, labels });
  const lOut = await run(ld, { input, labels, candidates: i64(meta.candidates.flat(), [n, k]) });

  const [refLogits, refLoss, refVjp, refCe, refLd] = ['logits', 'loss', 'vjp_grad', 'ce_grad', 'ld_grad'].map(ref);
  const logits = cOut[cs!.outputs.logits!]!.data as Float32Array;
  const vGrad = vOut[vs!.outputs.gradients['input']!]!.data as Float32Array;
  const cGrad = cOut[cs!.outputs.gradients['input']!]!.data as Float32Array;
  const lGrad = lOut[ls!.outputs.gradients['input']!]!.data as Float32Array;
  const loss = cOut[cs!.outputs.loss!]!.data as Float32Array;
  const flipped = await flippedSamples(model, meta, dir, prefix, input);
  const w: Worst = { logits: 0, vjp: 0, ld: 0, ce: 0, ceAllowance: 0, compared: 0 };
  for (let s = 0; s < n; s++) {
    if (flipped[s]) continue;
    w.compared++;
    w.logits = Math.max(w.logits, distance(logits, refLogits!, s * C, (s + 1) * C) / Math.max(norm(refLogits!, s * C, (s + 1) * C), 1e-30));
    assert.ok(Math.abs(loss[s]! - refLoss![s]!) <= RELATIVE_L2 * (1 + Math.abs(refLoss![s]!)), `sample ${s}: loss ${loss[s]} vs ${refLoss![s]}`);
    // (A JumpReLU model can have a zero gradient, when a layer is all below κ: then it must be exactly zero.)
    const rv = norm(refVjp!, s * per, (s + 1) * per);
    const ev = distance(vGrad, refVjp!, s * per, (s + 1) * per);
    assert.ok(ev <= RELATIVE_L2 * rv, `sample ${s}: vjp gradient differs by ${ev} (‖g‖ ${rv})`);
    w.vjp = Math.max(w.vjp, rv > 0 ? ev / rv : 0);
    let jac = 0;
    for (let c = 0; c < k; c++) {
      const from = (s * k + c) * per;
      const r = norm(refLd!, from, from + per);
      jac = Math.max(jac, r);
      const e = distance(lGrad, refLd!, from, from + per);
      assert.ok(e <= RELATIVE_L2 * r, `sample ${s}, candidate ${meta.candidates[s]![c]}: logit-difference gradient differs by ${e} (‖g‖ ${r})`);
      w.ld = Math.max(w.ld, r > 0 ? e / r : 0);
    }
    const e = distance(cGrad, refCe!, s * per, (s + 1) * per);
    const r = norm(refCe!, s * per, (s + 1) * per);
    const allowed = RELATIVE_L2 * r + CE_FLOOR * jac;
    assert.ok(e <= allowed, `sample ${s}: cross-entropy gradient differs by ${e} (‖g‖ ${r}, allowed ${allowed})`);
    w.ce = Math.max(w.ce, r > 0 ? e / r : 0);
    w.ceAllowance = Math.max(w.ceAllowance, allowed > 0 ? e / allowed : 0);
  }
  assert.ok(w.compared >= 1, `every sample has a pre-activation on the other side of a kink in PyTorch (${n} of ${n})`);
  assert.ok(w.logits <= RELATIVE_L2, `logits differ from PyTorch's: relative L2 ${w.logits}`);
  return w;
}

const fmt = (w: Worst) => `${w.compared} of 2 samples compared; logits ${w.logits.toExponential(1)}, vjp ${w.vjp.toExponential(1)}, logit differences ${w.ld.toExponential(1)}, `
  + `cross-entropy ${w.ce.toExponential(1)} (${(100 * w.ceAllowance).toFixed(0)} % of its allowance)`;

for (const name of selected) {
  const spec = ZOO[name];
  test(`zoo: ${name} (${spec?.exporter === 'dynamo' ? 'dynamo' : 'TorchScript'} export, opset ${spec?.opset}, ${spec?.size} px) gradients agree with PyTorch autograd`, async (t) => {
    assert.ok(spec, `unknown zoo model '${name}' in JUMPRELU_ZOO`);
    const py = await requireTorch(t);
    if (!py) return;
    const zoo = await ensureZoo(py);
    if (!zoo.ok) { t.skip(zoo.reason); return; }
    const dir = join(zoo.dir, name);
    const why = zoo.skipped.get(name);
    if (why) {
      if (process.env['JUMPRELU_REQUIRE_FIXTURES'] === '1') throw new Error(`${why} (JUMPRELU_REQUIRE_FIXTURES=1 turns this skip into a failure)`);
      t.skip(why);
      return;
    }
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
    assert.equal(meta.opset, spec.opset);
    const model = loadModel(join(dir, 'model.onnx'));
    const plain = await compare(model, meta, dir, '');
    t.diagnostic(`${meta.parameters} parameters; κ = 0 (as exported): ${fmt(plain)}`);
    if (meta.kappa !== null) {
      const report = retrofit(model, { kappa: meta.kappa, target: 'thresholded-relu' });
      assert.ok(report.sites.length > 0, 'the retrofit found no ReLU to convert');
      const jump = await compare(model, meta, dir, 'jump_');
      t.diagnostic(`JumpReLU κ = ${meta.kappa} at ${report.sites.length} sites: ${fmt(jump)}`);
    }
  });
}

// ---- jumprelu eval on one CNN and one transformer of the zoo --------------------------------------

// A transformer has GELU only: eval refuses it ('no-relu-sites', every κ would give the same model) unless
// --allow-no-sites asks for its own figures at κ = 0, which the report then says.
const NO_RELU = new Set(['timm_vit_tiny']);
const EVAL_MODELS = ['resnet18', 'mobilenet_v3_large', 'timm_vit_tiny'].filter((n) => selected.includes(n));
for (const name of EVAL_MODELS) {
  test(`zoo: jumprelu eval runs FGSM and DeepFool-L2 on 8 samples of ${name}`, async (t) => {
    const py = await requireTorch(t);
    if (!py) return;
    const zoo = await ensureZoo(py);
    if (!zoo.ok) { t.skip(zoo.reason); return; }
    const meta = JSON.parse(readFileSync(join(zoo.dir, name, 'meta.json'), 'utf8')) as Meta;
    const modelPath = join(zoo.dir, name, 'model.onnx');
    const dir = mkdtempSync(join(tmpdir(), 'jumprelu-zoo-eval-'));
    try {
      // 8 random images in [0, 1], labelled with the model's own predictions (random weights: no other truth).
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
      const printed = await captureStdout(() => runCommands([evalCommand], ['eval', modelPath, '--data', `npy:${join(dir, 'x.npy')},${join(dir, 'y.npy')}`, '--attacks', 'fgsm,deepfool2',
          '--preprocessing', 'none', '--limit', String(n), '--threads', '1', '--json', ...(NO_RELU.has(name) ? ['--allow-no-sites'] : [])]));
      const report = JSON.parse(printed) as { results: Array<{ attack: string; n: number; accuracy: number; fooling_rate: number; rho_all: number }>; warnings: string[] };
      if (NO_RELU.has(name)) assert.ok(report.warnings.some((w) => /no ReLU for JumpReLU.*κ = 0 only/.test(w)), report.warnings.join(' | '));
      const byAttack = new Map(report.results.map((r) => [r.attack, r]));
      for (const a of ['fgsm', 'deepfool2']) {
        const r = byAttack.get(a);
        assert.ok(r, `no ${a} result in the report`);
        assert.equal(r.n, n);
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

