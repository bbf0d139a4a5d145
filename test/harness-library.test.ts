// The harness as a library: everything the CLI does is callable from the package entry — evaluate and tune
// with a report folder, the dataset loaders, the attack registry and an attack on the analytic oracle.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';

import * as jumprelu from '../src/index.js';
import { defaultHeldoutPaths, defaultModelPath } from './fixtures.js';

test('evaluate, tune, datasets, registry and report writer from the package entry', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jumprelu-lib-'));
  try {
    const { images, labels } = defaultHeldoutPaths();
    const dataset = await jumprelu.loadDataset(`mnist:${images},${labels}`);
    assert.equal(dataset.count, 1000);
    const base = {
      modelPath: defaultModelPath(), dataset, clamp: 'batch-minmax' as const, attacks: ['fgsm'], modes: ['white-box' as const],
      limit: 30, batch: 500, threads: 1,
    };
    const { report, perSample } = await jumprelu.evaluate({ ...base, kappas: [0, 1], report: { dir: join(dir, 'eval') } });
    assert.equal(report.results.length, 2);
    assert.equal(perSample.length, 60);
    assert.equal(report.input_convention?.resolved_from, 'data kind');
    const onDisk = JSON.parse(readFileSync(join(dir, 'eval', 'report.json'), 'utf8')) as jumprelu.Report;
    assert.deepEqual(onDisk.results.map((r) => r.accuracy), report.results.map((r) => r.accuracy));
    assert.ok(existsSync(join(dir, 'eval', 'report.html')) && !existsSync(join(dir, 'eval', jumprelu.CHECKPOINT_DIR)));
    // a targeted criterion: only predictions of the target class count as successes
    const targets = Int32Array.from(dataset.labels, (l) => (l + 1) % 10);
    const tg = await jumprelu.evaluate({ ...base, kappas: [0], criterion: jumprelu.targeted(targets) });
    assert.equal(tg.report.settings.criterion, 'targeted');
    const hits = tg.perSample.filter((r) => r.clean_pred === r.label && r.adv_pred === targets[r.index]).length;
    assert.equal(tg.perSample.filter((r) => r.success).length, hits);
    const untargeted = perSample.filter((r) => r.kappa === 0 && r.success).length;
    assert.ok(hits < untargeted, `targeted successes ${hits} < misclassifications ${untargeted}`);
    assert.equal(tg.report.results[0]!.accuracy, report.results[0]!.accuracy, 'accuracy under attack does not depend on the criterion');
    const t = await jumprelu.tune({ ...base, kappas: [0, 0.5], maxAccuracyDrop: 100 });
    assert.equal(t.report.kind, 'tune');
    assert.equal(t.report.tuning?.candidates.length, 2 + (t.report.tuning?.refined?.length ?? 0));
    assert.ok(jumprelu.ATTACK_NAMES.includes('deepfool2'));
    // an attack from the registry on the analytic oracle: a linear model is fooled in one DeepFool step
    const oracle = new jumprelu.AnalyticOracle(jumprelu.linearModel({ channels: 1, height: 1, width: 2 }, [1, 0, 0, 1], [0, 0]));
    const attack = jumprelu.makeAttack('deepfool2', jumprelu.resolveAttackParams('deepfool2', 'mnist'));
    const x = Float32Array.of(1, 0.5);
    const out = await attack.run({ oracle, x, labels: Int32Array.of(0), n: 1, clamp: new jumprelu.Clamp('box', Float32Array.of(-9), Float32Array.of(9), 2) });
    assert.equal(jumprelu.predictions(await oracle.forward(out.adv, 1), 1)[0], 1);
    assert.equal(out.iterations[0], 1);
    const html = jumprelu.renderReportHtml(report);
    assert.match(html, /id="input-convention"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
