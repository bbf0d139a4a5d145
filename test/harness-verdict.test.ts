// The masking-aware verdict (src/runtime/verdict.ts): paired tests that account for the sample count (two samples
// of 300 are no evidence, ρ̃ 5.5 % against 0.8 % is), a constructed masked model (a step function whose gradient
// is zero everywhere: white-box PGD cannot move, the gradient-free Square attack breaks it) on which the verdict
// fires, and the ReLU model (κ = 0), on which it stays silent.

import assert from 'node:assert/strict';
import test from 'node:test';

import { Node } from '../src/ir/node.js';
import { fromArrays, loadDataset } from '../src/runtime/dataset.js';
import { evaluate } from '../src/runtime/evaluate.js';
import type { CellRow } from '../src/runtime/metrics.js';
import { ModelOracle } from '../src/runtime/oracle.js';
import { mulberry32 } from '../src/runtime/random.js';
import type { AttackResult } from '../src/runtime/report/schema.js';
import { SpaceMap } from '../src/runtime/space.js';
import { maskingFindings, mcnemarP, pairedDifference } from '../src/runtime/verdict.js';
import { encodeModel } from '../src/ir/encode.js';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTable } from '../src/cli/eval-command.js';
import { renderReportHtml } from '../src/runtime/report/html.js';
import { ModelBuilder } from './helpers/build-model.js';
import { defaultHeldoutPaths, defaultModelPath } from './fixtures.js';

test('McNemar: 2 of 300 is no evidence (p = 0.25), 12 against 1 is; the paired ρ difference has its standard error', () => {
  assert.equal(mcnemarP(2, 0), 0.25);
  assert.ok(mcnemarP(12, 1) < 0.01);
  assert.ok(mcnemarP(5, 5) > 0.5);
  assert.equal(mcnemarP(0, 9), 1);
  const d = pairedDifference([1, 2, 3, 4], [0, 1, 2, 3]);
  assert.equal(d.mean, 1);
  assert.equal(d.se, 0);
});

function synthetic(n: number, whiteRho: (i: number) => number, otherRho: (i: number) => number, brokenOnlyByOther: number) {
  const result = (mode: 'white-box' | 'adaptive', rhos: number[], broken: number): AttackResult => ({
    kappa: 0.1, attack: 'deepfool2', mode, norm: 'l2', n, accuracy: (n - broken) / n, fooling_rate: 0, rho_all: rhos.reduce((a, b) => a + b, 0) / n,
    rho_success: 0, abs_perturbation_mean: 0, iterations_mean: 0, wall_s: 0,
  });
  const row = (mode: 'white-box' | 'adaptive', i: number, rho: number, success: boolean): CellRow => ({
    kappa: 0.1, attack: 'deepfool2', mode, index: i, label: 0, clean_pred: 0, adv_pred: success ? 1 : 0, success, rho, abs: rho, iterations: 1, zero_gradient: false,
  });
  const w = Array.from({ length: n }, (_, i) => whiteRho(i));
  const o = Array.from({ length: n }, (_, i) => otherRho(i));
  const rows = [
    ...w.map((r, i) => row('white-box', i, r, false)),
    ...o.map((r, i) => row('adaptive', i, r, i < brokenOnlyByOther)),
  ];
  return { results: [result('white-box', w, 0), result('adaptive', o, brokenOnlyByOther)], rows };
}

test('masking findings: silent on 2 samples of 300, fires on ρ̃ 5.5 % vs 0.8 % and on 30 samples of 300', () => {
  const r = mulberry32(4);
  const quiet = synthetic(300, () => 0.05 + 0.01 * r(), () => 0.05 + 0.01 * r(), 2);
  assert.deepEqual(maskingFindings(quiet.results, quiet.rows, []), []);
  const rho = synthetic(300, () => 0.055 * 2 * r(), () => 0.008 * 2 * r(), 0);
  const f = maskingFindings(rho.results, rho.rows, []);
  assert.equal(f.length, 1);
  assert.equal(f[0]!.metric, 'rho');
  assert.match(f[0]!.message, /standard errors/);
  const acc = synthetic(300, () => 0.05, () => 0.05, 30);
  assert.deepEqual(maskingFindings(acc.results, acc.rows, []).map((x) => x.metric), ['accuracy']);
});

/** x [N,1,4,4] → step 1[x > 0.5] (zero gradient everywhere) → Gemm → Relu → Gemm → 3 logits. */
function maskedModel() {
  const mb = new ModelBuilder({ seed: 11, opset: 17 });
  mb.uniqueNodeNames = true;
  const g = mb.main;
  g.batchSymbol = 'N';
  const x = g.input('input', [1, 1, 4, 4]);
  const graph = mb.model.graph;
  const half = g.initializer('half', [], 1, [0.5]);
  const one = g.initializer('one', [], 1, [1]);
  const zero = g.initializer('zero', [], 1, [0]);
  const cond = graph.append(new Node('Greater', [x.value, half], { outputNames: ['bits'], name: 'threshold' })).outputs[0]!;
  const step = graph.append(new Node('Where', [cond, one, zero], { outputNames: ['step'], name: 'step' })).outputs[0]!;
  const flat = g.flatten({ value: step, shape: [1, 1, 4, 4] });
  const h = g.relu(g.gemm(flat, 12));
  const out = g.gemm(h, 3);
  g.output(out);
  return mb.model;
}

test('the verdict fires on a model whose step function zeroes every gradient (Square breaks what white-box PGD cannot)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jumprelu-masked-'));
  try {
    const model = maskedModel();
    const path = join(dir, 'masked.onnx');
    writeFileSync(path, encodeModel(model).toBytes());
    const n = 80;
    const r = mulberry32(9);
    const images = Float32Array.from({ length: n * 16 }, () => r());
    const oracle = new ModelOracle(model, { kappa: 0, threads: 1, batch: 100, space: new SpaceMap('pixel', { channels: 1, height: 4, width: 4 }, [0], [1]) });
    const logits = await oracle.forward(images, n);
    await oracle.release();
    const labels = Int32Array.from({ length: n }, (_, i) => {
      let b = 0;
      for (let c = 1; c < 3; c++) if (logits[i * 3 + c]! > logits[i * 3 + b]!) b = c;
      return b;
    });
    const dataset = fromArrays('npy', 'masked', { dtype: 'float32', shape: [n, 1, 4, 4], data: images }, { dtype: 'int32', shape: [n], data: labels });
    const run = await evaluate({
      modelPath: path, dataset, preprocess: 'none', space: 'pixel', clamp: 'box', kappas: [0], attacks: ['pgd', 'square'],
      attackParams: { pgd: { eps: 0.3, step: 0.05, iterations: 10 }, square: { eps: 0.3, queries: 300 } },
      modes: ['white-box'], limit: null, batch: 100, threads: 1,
    });
    const pgd = run.report.results.find((x) => x.attack === 'pgd')!;
    const square = run.report.results.find((x) => x.attack === 'square')!;
    assert.equal(pgd.accuracy, 1, 'PGD cannot move without a gradient');
    assert.ok(square.accuracy < 0.8, `Square left ${square.accuracy}`);
    const v = run.report.verdict!;
    assert.equal(v.kappas[0]!.masking, true);
    assert.ok(v.masking.some((f) => f.attack === 'square' && f.metric === 'accuracy'), JSON.stringify(v.masking));
    assert.ok(run.report.warnings.some((w) => /gradient masking: .*square/.test(w)));
    assert.ok(run.report.warnings.some((w) => /exactly zero input gradient/.test(w)));
    assert.equal(run.report.worst_case![0]!.accuracy, square.accuracy);
    // the verdict opens the CLI summary and report.html; the worst case is labelled an upper bound
    const table = formatTable(run.report);
    assert.match(table.split('\n')[0]!, /^verdict: /);
    assert.match(table, /GRADIENT MASKING/);
    assert.match(table, /worst case over attacks .*upper bound/);
    const html = renderReportHtml(run.report);
    assert.ok(html.indexOf('id="verdict"') > 0 && html.indexOf('id="verdict"') < html.indexOf('id="run"'), 'the verdict section comes first');
    assert.match(html, /upper bounds on true robust accuracy/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the verdict stays silent on the ReLU model (κ = 0: white-box, adaptive and Square agree)', async () => {
  const { images, labels } = defaultHeldoutPaths();
  const dataset = await loadDataset(`mnist:${images},${labels}`);
  const run = await evaluate({
    modelPath: defaultModelPath('baseline'), dataset, kappas: [0], attacks: ['pgd', 'square'], clamp: 'box', space: 'pixel',
    attackParams: { pgd: { eps: 0.1, iterations: 20 }, square: { eps: 0.1, queries: 200 } },
    modes: ['white-box', 'adaptive'], limit: 60, batch: 100, threads: 1,
  });
  const v = run.report.verdict!;
  assert.deepEqual(v.masking, []);
  assert.equal(v.kappas[0]!.masking, false);
  assert.ok(!run.report.warnings.some((w) => /gradient masking/.test(w)), run.report.warnings.join('\n'));
  assert.ok(v.lines.some((l) => /upper bounds/.test(l)));
});
