// `jumprelu detect` end to end on the committed default LeNet and held-out digits (issue 14): the activation
// probe reads every ReLU/JumpReLU site and the logits; 200 samples, κ = 0 and 1, DeepFool-L2 white-box and
// adaptive, give a report.json whose detector beats chance for the strong attack, and a report.html whose ROC
// plot renders in headless Chromium with no console errors and nothing fetched. Budget: about 60 s.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';

import { detectCommand } from '../src/cli/detect-command.js';
import { ActivationProbe, type DetectReport, renderDetectHtml } from '../src/runtime/detect/index.js';
import { loadDataset, toAttackSpace } from '../src/runtime/dataset.js';
import { ModelOracle, retrofittedModel } from '../src/runtime/oracle.js';
import { SpaceMap } from '../src/runtime/space.js';
import { CHROMIUM, inChromium } from './helpers/chromium.js';
import { defaultHeldoutPaths, defaultModelPath } from './fixtures.js';
import { runCommands, captureStdout } from './helpers/cli.js';

const DATA = `mnist:${defaultHeldoutPaths().images},${defaultHeldoutPaths().labels}`;

async function cli(args: string[]): Promise<void> {
  await runCommands([detectCommand], args);
}


const DETECT_CHECK = `(() => JSON.stringify({
  title: document.title,
  sections: [...document.querySelectorAll('section[id]')].map((s) => s.id),
  charts: document.querySelectorAll('svg.chart').length,
  rocLines: [...document.querySelectorAll('svg.chart g.series')].filter((g) => g.querySelector('path')).length,
  zeroSizeCharts: [...document.querySelectorAll('svg.chart')].filter((s) => { const r = s.getBoundingClientRect(); return r.width < 50 || r.height < 50; }).length,
  axisLabels: [...document.querySelectorAll('svg.chart .axis-label')].map((t) => t.textContent),
  tableRows: document.querySelectorAll('#summary tbody tr').length,
  textHasNaN: /NaN|undefined|Infinity/.test(document.body.innerText),
}))()`;

describe('detect on the default LeNet', () => {
  // first: while it captures stdout, the test runner's own report lines for earlier tests would land in the capture
  test('200 samples, κ = 0, 1, DeepFool-L2 white-box and adaptive: report.json with AUC > 0.5, report.html with ROC curves in Chromium', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'jumprelu-detect-'));
    try {
      const report = join(dir, 'report');
      const table = await captureStdout(() => cli([
        'detect', defaultModelPath(), '--data', DATA, '--kappa', '0,1', '--attacks', 'deepfool2', '--limit', '200',
        '--bootstrap', '300', '--threads', '1', '--quiet', '--report', report,
      ]));
      assert.match(table, /AUC %/);
      assert.deepEqual(readdirSync(report).sort(), ['report.html', 'report.json'], 'no temporary files left');
      const r = JSON.parse(readFileSync(join(report, 'report.json'), 'utf8')) as DetectReport;
      assert.equal(r.kind, 'detect');
      assert.equal(r.data.n, 200);
      assert.deepEqual(r.layers.map((l) => l.name).slice(-1), ['logits']);
      assert.equal(r.layers.length, 5);
      assert.equal(r.settings.minibatch, 100);
      assert.equal(r.settings.k, 20);
      assert.equal(r.settings.folds, 5);
      assert.deepEqual(r.results.map((x) => `${x.kappa} ${x.mode}`), ['0 white-box', '1 white-box', '1 adaptive']);
      for (const x of r.results) {
        assert.ok(x.successful >= 150, `κ=${x.kappa} ${x.mode}: ${x.successful} successful`);
        assert.equal(x.positives, x.successful);
        assert.equal(x.negatives, 2 * x.successful);
        assert.equal(x.k_used, 20);
        assert.equal(x.minibatches, Math.ceil(x.successful / 100));
        assert.ok(x.auc !== null && x.auc_interval !== null && x.roc !== null && x.coefficients !== null);
        // DeepFool-L2 is strong: the detector is clearly better than chance, lower bound included
        assert.ok(x.auc > 0.5 && x.auc_interval[0] > 0.5, `κ=${x.kappa} ${x.mode}: AUC ${x.auc} [${x.auc_interval}]`);
        assert.ok(x.auc_interval[0] <= x.auc && x.auc <= x.auc_interval[1]);
        assert.equal(x.fold_auc.length, 5);
        assert.deepEqual([x.roc.fpr[0], x.roc.tpr[0], x.roc.fpr.at(-1), x.roc.tpr.at(-1)], [0, 0, 1, 1]);
        assert.equal(x.coefficients.weights.length, 5);
        assert.equal(x.lid_mean.adversarial.length, 5);
        assert.ok(x.noisy_correct > 0.5, 'noise of the adversarial size rarely fools the model');
      }
      assert.equal(r.results[2]!.grad_kappa, 0);
      const html = readFileSync(join(report, 'report.html'), 'utf8');
      assert.equal(html, renderDetectHtml(r), 'the page is the report’s rendering');
      assert.match(html, /id="fig-roc-0"/);
      assert.doesNotMatch(html, /https?:|<script/i);

      if (!existsSync(CHROMIUM)) {
        t.skip(`${CHROMIUM} not found: install Debian's chromium to check the page in a browser`);
        return;
      }
      const run = await inChromium([join(report, 'report.html')], process.env.JUMPRELU_REPORT_SCREENSHOTS, join(dir, 'profile'), DETECT_CHECK);
      assert.deepEqual(run.problems, [], 'no console errors, exceptions or failed loads');
      assert.deepEqual(run.requests.filter((u) => !u.startsWith('data:')), [pathToFileURL(join(report, 'report.html')).href]);
      const c = run.checks[0] as unknown as { title: string; sections: string[]; charts: number; rocLines: number; zeroSizeCharts: number; axisLabels: string[]; tableRows: number; textHasNaN: boolean };
      assert.match(c.title, /^JumpReLU detection report/);
      assert.deepEqual(c.sections, [...(r.warnings.length ? ['warnings'] : []), 'summary', 'roc', 'details', 'run']);
      assert.equal(c.charts, 1, 'one ROC plot (one attack)');
      assert.equal(c.rocLines, 4, 'three ROC curves and the chance line');
      assert.equal(c.zeroSizeCharts, 0);
      assert.deepEqual(c.axisLabels, ['false positive rate (%)', 'true positive rate (%)']);
      assert.equal(c.tableRows, 3);
      assert.equal(c.textHasNaN, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the activation probe reads every site after the retrofit, and its logits are the oracle’s', async () => {
    const ds = await loadDataset(DATA);
    const p = { scale: 1 / 255, mean: [0.1307], std: [0.3081], layout: 'NCHW' as const };
    const space = new SpaceMap('normalized', { channels: 1, height: 28, width: 28 }, p.mean, p.std);
    const x = toAttackSpace(ds, p, 'normalized', 16);
    const probe = new ActivationProbe(retrofittedModel(defaultModelPath(), 1), { threads: 1, batch: 7, space });
    const oracle = new ModelOracle(retrofittedModel(defaultModelPath(), 1), { kappa: 1, threads: 1, batch: 16, space });
    try {
      const acts = await probe.run(x, 16);
      assert.deepEqual(probe.layers.map((l) => l.kind), ['site', 'site', 'site', 'site', 'logits']);
      assert.deepEqual(probe.layers.map((l) => l.dim), [1440, 320, 120, 90, 10]);
      assert.deepEqual(probe.skipped, []);
      const logits = await oracle.forward(x, 16);
      for (let i = 0; i < logits.length; i++) assert.ok(Math.abs(acts[4]![i]! - logits[i]!) < 1e-5);
      // JumpReLU at κ = 1: every site value is 0 or above 1, and some are above 1
      for (const a of acts.slice(0, 4)) {
        assert.ok(a.every((v) => v === 0 || v > 1));
        assert.ok(a.some((v) => v > 1));
      }
    } finally {
      await probe.release();
      await oracle.release();
    }
  });

  test('too few successful attacks: no AUC, the reason in the result and a warning, and a page with “—” in its place', async () => {
    const { detect } = await import('../src/runtime/detect/index.js');
    const r = await detect({
      modelPath: defaultModelPath(), dataset: await loadDataset(DATA), clamp: 'batch-minmax', kappas: [0], attacks: ['fgsm'],
      attackParams: { fgsm: { eps: 0.001 } }, limit: 40, threads: 1, modes: ['white-box'],
    });
    const x = r.results[0]!;
    assert.equal(x.auc, null);
    assert.equal(x.roc, null);
    assert.match(x.skipped ?? '', /successful adversarial examples; the detector needs at least 21 \(5 folds, k = 20\)/);
    assert.ok(r.warnings.some((w) => /no AUC/.test(w)));
    assert.equal(r.layers.length, 5, 'the feature columns are named even when no cell ran the detector');
    const html = renderDetectHtml(r);
    assert.doesNotMatch(html, /NaN|undefined|null/);
    assert.doesNotMatch(html, /id="fig-roc-/, 'no ROC plot without a curve');
  });

  test('usage errors are one line, before any attack runs', async () => {
    await assert.rejects(cli(['detect', defaultModelPath(), '--data', DATA, '--k', '100', '--batch', '100']), /--k 100 needs a minibatch of more than 100/);
    await assert.rejects(cli(['detect', defaultModelPath(), '--data', DATA, '--mode', 'gray-box']), /--mode 'gray-box'/);
    await assert.rejects(cli(['detect', defaultModelPath(), '--data', DATA, '--attacks', 'cw']), /unknown attack 'cw'/);
    await assert.rejects(cli(['detect', defaultModelPath(), '--data', DATA, '--folds', '1']), /--folds must be an integer ≥ 2/);
  });
});
