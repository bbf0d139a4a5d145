// Gradient models against PyTorch autograd on the paper authors' LeNetLike (MNIST) and ResNet-20
// (CIFAR-10), on real test images, for κ = 0 and κ > 0 (and a gradient κ different from the inference κ).
//
// ONNX side: the authors' weights exported by fixtures/export_authors.py (BatchNorm folded into the
// convolutions), retrofitted with the project's own pass, differentiated by buildGradientModel and run by
// onnxruntime-node. PyTorch side: test/py/grad_reference.py, functional forwards over the same .pkl
// weights with BatchNorm unfolded, JumpReLU z·1[z > κ] with derivative 1[z > κ_grad].
//
// Tolerance: the two sides are different float32 programs (folded vs unfolded BatchNorm, different
// convolution algorithms); their logits already differ by ~1e-7 relative. Each gradient element is the
// sum over a path through 4 (LeNet) or ~20 (ResNet-20) layers of products accumulated over up to a few
// thousand terms, so relative differences of 1e-5 are float32 noise. We require, per sample, the L2 norm
// of the difference to be at most 1e-4 of the norm of PyTorch's gradient (≈ 1700·2⁻²⁴), and report
// the maximum seen.
// - Cross-entropy: for a confidently classified sample the cotangent softmax − onehot is tiny and comes
//   from cancellation (exp(log p_label) − 1), so both sides carry an absolute error of a few u per
//   component whatever their agreement elsewhere. Through the Jacobian that is at most
//   ‖Δc‖₁·max_k‖∂(f_k − f_label)/∂x‖ with ‖Δc‖₁ ≲ 2·10·u; we allow 32·u·max_k‖∂(f_k − f_label)/∂x‖
//   (PyTorch's logit-difference gradients) on top of the relative bound.
// - JumpReLU is discontinuous: where the two implementations put a pre-activation on different sides
//   of κ (or of κ_grad), their outputs or gradients legitimately differ. The reference script returns
//   every pre-activation of both of its passes (batch N for cross-entropy, the input tiled to N·k for the
//   logit differences); each gradient model exposes its own pre-activations, read from the run its
//   gradients come from. A sample (cross-entropy) or sample-candidate pair (logit differences) with such a
//   flip is left out of the comparison and counted (at least half of each must remain).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';

import type * as ort from 'onnxruntime-node';

import { buildGradientModel, gradientSignature } from '../src/autodiff/index.js';
import { DataType } from '../src/ir/tensor.js';
import type { Value } from '../src/ir/value.js';
import { ValueInfo } from '../src/ir/value-info.js';
import { loadModel } from '../src/ir/io.js';
import type { Model } from '../src/ir/model.js';
import { retrofit } from '../src/passes/jumprelu.js';
import type { Target } from '../src/passes/retrofit-record.js';
import { distance, f32, i64, norm, readF32, run } from './autodiff-helpers.js';
import {
  type AuthorsModelName, authorsModelPath, loadCifar10First1000, loadMnistTest, readReferenceLogits, repoRoot,
  requireAuthorsCache, requireSharedData, requireTorch, sharedPaths,
} from './fixtures.js';

interface Scenario {
  model: AuthorsModelName;
  arch: 'lenet' | 'resnet20';
  pkl: string;
  count: number;
  kappa: number;
  gradKappa?: number;
  target?: Target;
}

const scenarios: Scenario[] = [
  { model: 'lenet_baseline', arch: 'lenet', pkl: 'LeNetLike_baseline.pkl', count: 16, kappa: 0 },
  { model: 'lenet_baseline', arch: 'lenet', pkl: 'LeNetLike_baseline.pkl', count: 16, kappa: 1, target: 'thresholded-relu' },
  { model: 'lenet_robust', arch: 'lenet', pkl: 'LeNetLike_robust.pkl', count: 16, kappa: 0.5, target: 'where' },
  { model: 'lenet_baseline', arch: 'lenet', pkl: 'LeNetLike_baseline.pkl', count: 16, kappa: 1.5, target: 'function' },
  { model: 'lenet_baseline', arch: 'lenet', pkl: 'LeNetLike_baseline.pkl', count: 16, kappa: 1, gradKappa: 0.25, target: 'thresholded-relu' },
  { model: 'resnet20_baseline', arch: 'resnet20', pkl: 'ResNet_baseline.pkl', count: 8, kappa: 0 },
  { model: 'resnet20_baseline', arch: 'resnet20', pkl: 'ResNet_baseline.pkl', count: 8, kappa: 0.05, target: 'thresholded-relu' },
  { model: 'resnet20_robust', arch: 'resnet20', pkl: 'ResNet_robust.pkl', count: 8, kappa: 0.09, gradKappa: 0, target: 'where' },
];

const RELATIVE_L2 = 1e-4;
/** float32 unit roundoff. */
const U = 2 ** -24;
/** CE gradients: per-sample absolute floor, in units of ‖∂(f_k − f_label)/∂x‖ (see the file comment). */
const CE_FLOOR = 32 * U;

function runReference(py: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(py, [join(repoRoot(), 'test', 'py', 'grad_reference.py'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/** The inputs of the activation sites, in node order (Relu, ThresholdedRelu, Where's x, JumpRelu call). */
function activationInputs(model: Model): Value[] {
  const out: Value[] = [];
  for (const n of model.graph.nodes) {
    if (n.opType === 'Relu' || n.opType === 'ThresholdedRelu' || n.opType === 'JumpRelu') out.push(n.inputs[0]!);
    else if (n.opType === 'Where' && n.inputs[0]?.producer?.opType === 'Greater') out.push(n.inputs[1]!);
  }
  return out;
}

/**
 * Exposes, in a gradient model of `model`, the pre-activations of `model`'s sites as extra outputs and returns
 * their names. The flips are then read from the very run the gradients come from: ORT optimises each graph on
 * its own (its layout stage depends on the CPU), so a separate forward-only model, or another gradient model,
 * may round a pre-activation near κ to the other side (test/autodiff-zoo.test.ts saw this on MobileNetV2).
 */
function exposePreActivations(model: Model, gm: Model): string[] {
  // By name: the gradient rules add Where/Greater nodes of their own to the backward part.
  const names = activationInputs(model).map((v) => v.name);
  for (const name of names) {
    const v = gm.graph.lookup(name) ?? assert.fail(`pre-activation '${name}' is not in the gradient model`);
    if (!gm.graph.outputs.includes(v)) gm.graph.addOutput(v, ValueInfo.tensor(DataType.FLOAT, null));
  }
  return names;
}

/**
 * Per row of a gradient model's forward pass, the number of pre-activations on different sides of κ or κ_grad
 * than in PyTorch's pass of the same batch; `theirRow` maps a row to the row of PyTorch's recording.
 */
function flipsPerRow(out: Record<string, ort.Tensor>, names: string[], theirs: (i: number) => Float32Array, rows: number, kappa: number, gradKappa: number): number[] {
  const flips = new Array<number>(rows).fill(0);
  names.forEach((name, i) => {
    const mine = out[name]!.data as Float32Array;
    const ref = theirs(i);
    assert.equal(mine.length, ref.length, `activation ${i}: ${mine.length} vs ${ref.length} values`);
    const per = mine.length / rows;
    for (let j = 0; j < mine.length; j++) {
      if ((mine[j]! > kappa) !== (ref[j]! > kappa) || (mine[j]! > gradKappa) !== (ref[j]! > gradKappa)) flips[Math.floor(j / per)]!++;
    }
  });
  return flips;
}

for (const s of scenarios) {
  const label = `${s.model} κ=${s.kappa}${s.gradKappa !== undefined ? ` κ_grad=${s.gradKappa}` : ''}${s.target ? ` (${s.target})` : ''}`;
  test(`gradients agree with PyTorch autograd: ${label}`, async (t) => {
    if (!requireSharedData(t)) return;
    const py = await requireTorch(t);
    if (!py) return;
    if (!(await requireAuthorsCache(t))) return;

    const { ref, input } = await readReferenceLogits(s.model);
    const per = ref.input_shape.slice(1).reduce((a, b) => a * b, 1);
    const shape = [s.count, ...ref.input_shape.slice(1)];
    const x = input.subarray(0, s.count * per);
    const images = s.arch === 'lenet' ? await loadMnistTest() : await loadCifar10First1000();
    const labels = Array.from(images.labels.subarray(0, s.count));
    // DeepFool's candidates: every other class (k = 9).
    const candidates = labels.map((l) => Array.from({ length: 10 }, (_, c) => c).filter((c) => c !== l));
    const k = 9;

    let model: Model = loadModel(authorsModelPath(s.model));
    if (s.kappa > 0 || s.gradKappa !== undefined) {
      retrofit(model, { kappa: s.kappa, target: s.target ?? 'thresholded-relu', ...(s.gradKappa !== undefined ? { gradKappa: s.gradKappa } : {}) });
    }
    const ce = buildGradientModel(model, { wrt: ['input'], of: ['logits'], mode: 'cross-entropy' });
    const ld = buildGradientModel(model, { wrt: ['input'], of: ['logits'], mode: 'logit-differences' });
    const ceSig = gradientSignature(ce)!;
    const ldSig = gradientSignature(ld)!;
    const ceNames = exposePreActivations(model, ce);
    const ldNames = exposePreActivations(model, ld);
    const ceOut = await run(ce, { input: f32(x, shape), labels: i64(labels, [s.count]) });
    const ldOut = await run(ld, { input: f32(x, shape), labels: i64(labels, [s.count]), candidates: i64(candidates.flat(), [s.count, k]) });

    const dir = mkdtempSync(join(tmpdir(), 'jumprelu-torch-ref-'));
    try {
      const args = [
        '--arch', s.arch, '--pkl', join(sharedPaths().pretrainedDir, s.pkl),
        '--input', join(repoRoot(), 'fixtures', '.cache', ref.input_file), '--shape', shape.join(','),
        '--labels', labels.join(','), '--candidates', candidates.map((r) => r.join(',')).join(';'),
        '--kappa', String(s.kappa), '--out', dir,
      ];
      if (s.gradKappa !== undefined) args.push('--grad-kappa', String(s.gradKappa));
      const res = await runReference(py, args);
      assert.equal(res.code, 0, `grad_reference.py failed: ${res.output}`);
      const refOut = (name: string) => readF32(join(dir, `${name}.f32`));
      const shapes = JSON.parse(readFileSync(join(dir, 'shapes.json'), 'utf8')) as Record<string, number[]>;

      // Samples (cross-entropy pass) and sample-candidate pairs (logit-difference pass, row n·k + c) where the
      // gradient model put some pre-activation on the other side of κ or κ_grad than PyTorch's pass of that batch.
      const layers = Object.keys(shapes).filter((n) => /^pre\d+$/.test(n)).length;
      assert.equal(ceNames.length, layers, `ONNX has ${ceNames.length} activation sites, PyTorch ${layers}`);
      const kg = s.gradKappa ?? s.kappa;
      const ceFlips = flipsPerRow(ceOut, ceNames, (i) => refOut(`pre${i}`), s.count, s.kappa, kg);
      const ldFlips = flipsPerRow(ldOut, ldNames, (i) => refOut(`ld_pre${i}`), s.count * k, s.kappa, kg);
      const compared = ceFlips.map((f, n) => (f === 0 ? n : -1)).filter((n) => n >= 0);
      const pairs = ldFlips.filter((f) => f === 0).length;

      const logits = ceOut[ceSig.outputs.logits!]!.data as Float32Array;
      const ceGrad = ceOut[ceSig.outputs.gradients.input!]!.data as Float32Array;
      const ldGrad = ldOut[ldSig.outputs.gradients.input!]!.data as Float32Array;
      const [refLogits, refLoss, refCe, refLd, refDiff] = ['logits', 'loss', 'ce_grad', 'ld_grad', 'differences'].map(refOut);
      const loss = ceOut[ceSig.outputs.loss!]!.data as Float32Array;
      const diffs = ldOut[ldSig.outputs.differences!]!.data as Float32Array;
      const tiledLogits = ldOut[ldSig.outputs.logits!]!.data as Float32Array;
      let worstLogits = 0;
      let worstLoss = 0;
      let worstCe = 0;
      let worstCeRel = 0;
      let worstCeLossy = -1;
      let worstLd = 0;
      for (let n = 0; n < s.count; n++) {
        const logitNorm = norm(refLogits!, n * 10, n * 10 + 10);
        const scale = 1 + Math.max(...Array.from(refLogits!.subarray(n * 10, n * 10 + 10), Math.abs));
        let jac = 0; // PyTorch's largest logit-difference gradient (the cross-entropy floor's unit)
        for (let c = 0; c < k; c++) {
          const from = (n * k + c) * per;
          const r = norm(refLd!, from, from + per);
          jac = Math.max(jac, r);
          if (ldFlips[n * k + c]! > 0) continue;
          const e = distance(ldGrad, refLd!, from, from + per);
          assert.ok(e <= RELATIVE_L2 * r, `sample ${n}, candidate ${candidates[n]![c]}: logit-difference gradient relative L2 ${e / r}`);
          worstLd = Math.max(worstLd, e / r);
        }
        if (ldFlips.slice(n * k, n * k + k).every((f) => f === 0)) {
          // The per-sample logits and the differences come from sample n's rows of the tiled pass.
          worstLogits = Math.max(worstLogits, distance(tiledLogits, refLogits!, n * 10, n * 10 + 10) / logitNorm);
          worstLoss = Math.max(worstLoss, distance(diffs, refDiff!, n * k, n * k + k) / scale);
        }
        if (ceFlips[n]! > 0) continue;
        worstLogits = Math.max(worstLogits, distance(logits, refLogits!, n * 10, n * 10 + 10) / logitNorm);
        worstLoss = Math.max(worstLoss, Math.abs(loss[n]! - refLoss![n]!) / scale);
        const e = distance(ceGrad, refCe!, n * per, (n + 1) * per);
        const r = norm(refCe!, n * per, (n + 1) * per);
        assert.ok(e <= RELATIVE_L2 * r + CE_FLOOR * jac,
          `sample ${n}: cross-entropy gradient differs by ${e} (‖g‖ ${r}, allowed ${RELATIVE_L2 * r + CE_FLOOR * jac})`);
        worstCe = Math.max(worstCe, e / (RELATIVE_L2 * r + CE_FLOOR * jac));
        worstCeRel = Math.max(worstCeRel, e / r);
        if (refLoss![n]! >= 0.01) worstCeLossy = Math.max(worstCeLossy, e / r);
      }
      t.diagnostic(`cross-entropy: ${compared.length}/${s.count} samples compared, logit differences: ${pairs}/${s.count * k} sample-candidate pairs `
        + `(the others have a pre-activation on the other side of κ or κ_grad than PyTorch's pass of the same batch); `
        + `worst: logits rel L2 ${worstLogits.toExponential(2)}, loss and differences ${worstLoss.toExponential(2)} (relative to 1 + max|logit|), `
        + `logit-difference gradients rel L2 ${worstLd.toExponential(2)}, cross-entropy gradient rel L2 ${worstCeRel.toExponential(2)} `
        + `(${(100 * worstCe).toFixed(1)} % of its allowance; ${worstCeLossy < 0 ? 'no sample' : worstCeLossy.toExponential(2)} over samples with loss ≥ 0.01)`);
      assert.ok(compared.length >= s.count / 2, `only ${compared.length} of ${s.count} samples have the same activation pattern as PyTorch in the cross-entropy pass`);
      assert.ok(pairs >= (s.count * k) / 2, `only ${pairs} of ${s.count * k} sample-candidate pairs have the same activation pattern as PyTorch in the logit-difference pass`);
      assert.ok(worstLogits < RELATIVE_L2, `logits differ: relative L2 ${worstLogits}`);
      assert.ok(worstLoss < RELATIVE_L2, `losses or logit differences differ by ${worstLoss} (relative to 1 + max|logit|)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
