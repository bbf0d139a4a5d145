// Our attacks against a Python peer on the same weights, images and ε: torchattacks (PyPI, installed by
// .ci/run into fixtures/.cache/py without its dependencies; torch is Debian's) runs PGD and APGD on the bundled
// default LeNet, read op by op from the same ONNX file (test/py/attack_peer.py), in [0, 1] pixel space with
// the model's normalisation in front, as `jumprelu eval --space pixel --clamp box` attacks it. Robust accuracy
// must agree within 1 point, for the ReLU model (κ = 0) and the JumpReLU model at κ = 1 (white-box: both
// differentiate through the mask 1[z > κ]). Our attacks keep a sample's first misclassified iterate; torchattacks'
// PGD returns its last iterate, so its figure is taken at "misclassified at any iterate" (recorded by the
// peer script around the model), APGD's as returned (it keeps the best adversarial iterate itself).

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';

import { loadDataset } from '../src/runtime/dataset.js';
import { evaluate } from '../src/runtime/evaluate.js';
import { defaultHeldoutPaths, defaultModelPath, repoRoot, requireTorch } from './fixtures.js';
import { PEER_LIB, exportGraph, runPeer } from './helpers/peer.js';

const N = 200;
const EPS = 0.1;

const ATTACKS: Array<{ name: string; kind: string; eps: number; ours: Record<string, number> } & Record<string, unknown>> = [
  { name: 'pgd', kind: 'pgd', compare: 'robust_any_iterate', eps: EPS, alpha: 0.01, steps: 40, ours: { eps: EPS, step: 0.01, iterations: 40 } },
  { name: 'apgd-ce', kind: 'apgd', compare: 'robust', norm: 'Linf', loss: 'ce', eps: EPS, steps: 100, ours: { eps: EPS, iterations: 100 } },
];

for (const kappa of [0, 1]) {
  test(`PGD-40 and APGD-CE-100 (ε = ${EPS}, pixel space) on the default LeNet at κ = ${kappa}: robust accuracy within 1 point of torchattacks`, async (t) => {
    const py = await requireTorch(t);
    if (!py) return;
    if (!existsSync(join(PEER_LIB, 'torchattacks'))) {
      const reason = `skipped: torchattacks is not in ${PEER_LIB} (.ci/run installs it: pip install --no-deps --target fixtures/.cache/py torchattacks)`;
      if (process.env['JUMPRELU_REQUIRE_FIXTURES'] === '1') throw new Error(reason);
      t.skip(reason);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'jumprelu-peer-'));
    try {
      const { images, labels } = defaultHeldoutPaths();
      const dataset = await loadDataset(`mnist:${images},${labels}`);
      const run = await evaluate({
        modelPath: defaultModelPath('baseline'), dataset, preprocess: 'normalize', preprocessing: { mean: [0.1307], std: [0.3081] },
        space: 'pixel', clamp: 'box', kappas: [kappa], attacks: ATTACKS.map((a) => a.name),
        attackParams: Object.fromEntries(ATTACKS.map((a) => [a.name, a.ours])), modes: ['white-box'], limit: N, batch: 200, threads: 1,
      });
      const x = new Float32Array(N * 784);
      for (let i = 0; i < x.length; i++) x[i] = Math.fround(dataset.values[i]! / 255);
      writeFileSync(join(dir, 'x.f32'), Buffer.from(x.buffer));
      writeFileSync(join(dir, 'y.i32'), Buffer.from(Int32Array.from(dataset.labels.subarray(0, N)).buffer));
      const graph = { ...exportGraph(defaultModelPath('baseline'), kappa, dir), mean: [0.1307], std: [0.3081], n: N, shape: [1, 28, 28], attacks: ATTACKS };
      writeFileSync(join(dir, 'graph.json'), JSON.stringify(graph));
      const peer = await runPeer(py, dir);
      assert.equal(peer.code, 0, peer.output);
      const theirs = JSON.parse(readFileSync(join(dir, 'peer.json'), 'utf8')) as Record<string, Record<string, number[]> & { max_linf?: number; seconds?: number }>;
      const count = (v: number[]) => v.reduce((a, b) => a + b, 0);
      assert.equal(count(theirs['clean']!.robust), Math.round(run.report.clean[0]!.accuracy * N), 'the same model and images: the same clean accuracy');
      for (const a of ATTACKS) {
        const ours = run.report.results.find((r) => r.attack === a.name)!;
        const mine = Math.round(ours.accuracy * N);
        const peer = count(theirs[a.name]![a['compare'] as string]!);
        t.diagnostic(`κ=${kappa} ${a.name}: jumprelu ${mine}/${N} robust (${ours.wall_s.toFixed(1)} s), torchattacks ${peer}/${N} (${theirs[a.name]!.seconds!.toFixed(1)} s; ${count(theirs[a.name]!['robust']!)} at its returned example)`);
        assert.ok(Math.abs(mine - peer) <= 0.01 * N, `κ=${kappa} ${a.name}: jumprelu ${mine}/${N} vs torchattacks ${peer}/${N}`);
        assert.ok(theirs[a.name]!.max_linf! <= EPS + 1e-6);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
