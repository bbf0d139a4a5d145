// Attack throughput (samples/s) of DeepFool L2 and PGD (L∞, projected) on the authors' LeNetLike and
// ResNet-20, by batch size, with forward-only throughput from the same run for comparison.
//   node dist/bench/attacks.bench.js [--threads N] [--models lenet,resnet] [--batches 1,10,100,1000]
// Needs ../shared/data and the authors' ONNX cache (npm run fixtures:authors).

import { availableParallelism, cpus } from 'node:os';
import { dirname } from 'node:path';
import { makeAttack, resolveAttackParams } from '../src/runtime/attacks/registry.js';
import { loadDataset, toAttackSpace } from '../src/runtime/dataset.js';
import { ModelOracle, retrofittedModel } from '../src/runtime/oracle.js';
import { Clamp, SpaceMap } from '../src/runtime/space.js';
import { authorsModelPath, hasSharedData, sharedPaths } from '../test/fixtures.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const threads = Number(arg('threads', '1'));
const models = arg('models', 'lenet,resnet').split(',');
const batches = arg('batches', '1,10,100,1000').split(',').map(Number);

if (!hasSharedData()) {
  console.log('skipped: needs ../shared/data and fixtures/.cache (npm run fixtures:authors)');
  process.exit(0);
}

console.log(`ORT intra-op threads: ${threads}; CPU: ${cpus()[0]?.model ?? '?'} (${availableParallelism()} logical); node ${process.version}`);
console.log('model      kappa batch    n   forward/s   deepfool2/s  pgd/s   (DeepFool iterations mean, PGD iterations)');
for (const m of models) {
  const cifar = m === 'resnet';
  const ds = await loadDataset(cifar ? `cifar10:${sharedPaths().cifar10First1000}` : `mnist:${dirname(sharedPaths().mnistTestImages)}`);
  const path = authorsModelPath(cifar ? 'resnet20_baseline' : 'lenet_baseline');
  const family = cifar ? 'cifar10' : 'mnist';
  for (const kappa of [0, cifar ? 0.05 : 1]) {
    for (const batch of batches) {
      if (cifar && batch > 250) continue;
      const n = cifar ? Math.min(250, Math.max(20, batch)) : Math.min(1000, Math.max(100, batch));
      const space = new SpaceMap('normalized', ds, ds.defaults.mean, ds.defaults.std);
      const x = toAttackSpace(ds, ds.defaults, 'normalized', n);
      const labels = ds.labels.slice(0, n);
      const clamp = Clamp.batchMinMax(x, ds);
      const oracle = new ModelOracle(retrofittedModel(path, kappa), { kappa, threads, batch, space });
      await oracle.warm({ ce: true, diff: true });
      let t0 = performance.now();
      await oracle.forward(x, n);
      const fwd = n / ((performance.now() - t0) / 1000);
      const df = makeAttack('deepfool2', resolveAttackParams('deepfool2', family));
      t0 = performance.now();
      const dfo = await df.run({ oracle, x, labels, n, clamp });
      const dfs = n / ((performance.now() - t0) / 1000);
      const pgdParams = resolveAttackParams('pgd', family);
      const pgd = makeAttack('pgd', pgdParams);
      t0 = performance.now();
      const po = await pgd.run({ oracle, x, labels, n, clamp });
      const pgds = n / ((performance.now() - t0) / 1000);
      const mean = (a: Int32Array) => a.reduce((s, v) => s + v, 0) / a.length;
      console.log(`${(cifar ? 'ResNet-20' : 'LeNetLike').padEnd(10)} ${String(kappa).padEnd(5)} ${String(batch).padStart(5)} ${String(n).padStart(5)} ${fwd.toFixed(0).padStart(10)} ${dfs.toFixed(1).padStart(12)} ${pgds.toFixed(1).padStart(7)}   (${mean(dfo.iterations).toFixed(1)}, ${mean(po.iterations).toFixed(1)})`);
      await oracle.release();
    }
  }
}
