// Attack throughput side by side with torchattacks (PyTorch) on the same cores: the bundled default LeNet, the
// same images, DeepFool-L2 (40 iterations), PGD-40 (L∞ ε = 0.1, step 0.01) and APGD-CE (100 iterations), [0, 1]
// pixel space. Images per second for jumprelu (ONNX Runtime, --threads intra-op threads) and for torchattacks
// (torch.set_num_threads(--threads)), in alternated order, medians over --repeats runs, and their ratio.
//   node dist/bench/attacks-peer.bench.js [--n 200] [--threads 1] [--repeats 3]
// Needs a Python with torch (fixtures/torch-python.sh) and torchattacks in fixtures/.cache/py (.ci/run puts it there).

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

import { type ParamValue, makeAttack, resolveAttackParams } from '../src/runtime/attacks/registry.js';
import { loadDataset } from '../src/runtime/dataset.js';
import { ModelOracle, retrofittedModel } from '../src/runtime/oracle.js';
import { Clamp, SpaceMap } from '../src/runtime/space.js';
import { defaultHeldoutPaths, defaultModelPath, torchPython } from '../test/fixtures.js';
import { PEER_LIB, exportGraph, runPeer } from '../test/helpers/peer.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const n = Number(arg('n', '200'));
const threads = Number(arg('threads', '1'));
const repeats = Number(arg('repeats', '3'));
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

const ATTACKS: Array<{ name: string; peer: Record<string, unknown>; ours: Record<string, ParamValue> }> = [
  { name: 'deepfool2', peer: { name: 'deepfool2', kind: 'deepfool', steps: 40, overshoot: 0.02 }, ours: { iterations: 40, overshoot: 1.02 } },
  { name: 'pgd', peer: { name: 'pgd', kind: 'pgd', eps: 0.1, alpha: 0.01, steps: 40 }, ours: { eps: 0.1, step: 0.01, iterations: 40 } },
  { name: 'apgd-ce', peer: { name: 'apgd-ce', kind: 'apgd', norm: 'Linf', loss: 'ce', eps: 0.1, steps: 100 }, ours: { eps: 0.1, iterations: 100 } },
];

const py = await torchPython();
if (!py || !existsSync(join(PEER_LIB, 'torchattacks'))) {
  console.log('skipped: needs a Python with torch and torchattacks in fixtures/.cache/py (see .ci/run)');
  process.exit(0);
}
const { images, labels } = defaultHeldoutPaths();
const ds = await loadDataset(`mnist:${images},${labels}`);
const shape = { channels: 1, height: 28, width: 28 };
const x = Float32Array.from(ds.values.subarray(0, n * 784), (v) => Math.fround(v / 255));
const y = Int32Array.from(ds.labels.subarray(0, n));
const dir = mkdtempSync(join(tmpdir(), 'jumprelu-bench-peer-'));
writeFileSync(join(dir, 'x.f32'), Buffer.from(x.buffer));
writeFileSync(join(dir, 'y.i32'), Buffer.from(y.buffer));
const graph = { ...exportGraph(defaultModelPath('baseline'), 0, dir), mean: [0.1307], std: [0.3081], n, shape: [1, 28, 28], attacks: ATTACKS.map((a) => a.peer) };
writeFileSync(join(dir, 'graph.json'), JSON.stringify(graph));

const space = new SpaceMap('pixel', shape, [0.1307], [0.3081]);
const oracle = new ModelOracle(retrofittedModel(defaultModelPath('baseline'), 0), { kappa: 0, threads, batch: n, space });
await oracle.warm({ ce: true, diff: true });
const clamp = Clamp.box('pixel', shape, [0.1307], [0.3081]);
const ours: Record<string, number[]> = {};
const theirs: Record<string, number[]> = {};
const runOurs = async () => {
  for (const a of ATTACKS) {
    const attack = makeAttack(a.name, resolveAttackParams(a.name as 'pgd', 'mnist', a.ours));
    const t0 = performance.now();
    await attack.run({ oracle, x, labels: y, n, clamp });
    (ours[a.name] ??= []).push(n / ((performance.now() - t0) / 1000));
  }
};
const runTheirs = async () => {
  process.env['PEER_THREADS'] = String(threads);
  const r = await runPeer(py, dir);
  if (r.code !== 0) throw new Error(r.output);
  const out = JSON.parse(readFileSync(join(dir, 'peer.json'), 'utf8')) as Record<string, { seconds: number }>;
  for (const a of ATTACKS) (theirs[a.name] ??= []).push(n / out[a.name]!.seconds);
};
try {
  for (let r = 0; r < repeats; r++) {
    if (r % 2 === 0) {
      await runOurs();
      await runTheirs();
    } else {
      await runTheirs();
      await runOurs();
    }
  }
} finally {
  await oracle.release();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`default LeNet, ${n} images, ${threads} thread(s) each; CPU ${cpus()[0]?.model ?? '?'} (${availableParallelism()} logical); medians of ${repeats}, alternated`);
console.log('attack      jumprelu img/s  torchattacks img/s  ratio');
for (const a of ATTACKS) {
  const o = median(ours[a.name]!);
  const t = median(theirs[a.name]!);
  console.log(`${a.name.padEnd(11)} ${o.toFixed(1).padStart(14)} ${t.toFixed(1).padStart(19)} ${(o / t).toFixed(2).padStart(6)}`);
}
