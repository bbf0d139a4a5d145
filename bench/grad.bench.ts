// Gradient-model time against forward time in onnxruntime-node, same process, same session options.
//   npm run build && node dist/bench/grad.bench.js [--quick] [--threads N]
// Models: the paper authors' LeNetLike (MNIST) and ResNet-20 (CIFAR-10) from fixtures/.cache (built by
// `npm run fixtures:authors`), as exported (ReLU) and retrofitted with JumpReLU (ThresholdedRelu).
// For batch 1, 100 and 1000: the forward model, the vjp model (forward + backward), the cross-entropy
// model (what FGSM/PGD run) and, at batch 1 and 100, the logit-differences model with k = 9 candidates
// (DeepFool; its batch is tiled to 9·N, so compare it with 9 forward passes). Median of several runs
// after one warm-up run; ratios are to the forward median of the same run.
//   node dist/bench/grad.bench.js --zoo DIR [--threads 2] [--models a,b]
// The vision zoo built by test/py/zoo_reference.py (DIR: fixtures/.cache/zoo-<hash>): forward and
// cross-entropy gradient at batch 1 and 16, alternated run by run, next to PyTorch's ratio of
// forward + backward to forward (no_grad) on the same models and threads (bench/torch_grad_ratio.py).

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';

import * as ort from 'onnxruntime-node';

import { buildGradientModel } from '../src/autodiff/index.js';
import { encodeModel } from '../src/ir/encode.js';
import { loadModel, sessionBytes } from '../src/ir/io.js';
import type { Model } from '../src/ir/model.js';
import { retrofit } from '../src/passes/jumprelu.js';
import { authorsModelPath } from '../test/fixtures.js';

ort.env.logLevel = 'error';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const threadsArg = args.indexOf('--threads');
const threads = threadsArg >= 0 ? Number(args[threadsArg + 1]) : undefined;
const BATCHES = quick ? [1, 100] : [1, 100, 1000];
const K = 9;

function runsFor(batch: number): number {
  if (quick) return batch === 1 ? 20 : 3;
  return batch === 1 ? 50 : batch === 100 ? 10 : 5;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function timeModel(model: Model, feeds: Record<string, ort.Tensor>, runs: number): Promise<number> {
  const options: ort.InferenceSession.SessionOptions = threads ? { intraOpNumThreads: threads } : {};
  const session = await ort.InferenceSession.create(encodeModel(model).toBytes(), options);
  await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  await session.release();
  return median(times);
}

function randomInput(n: number, per: number): Float32Array {
  const x = new Float32Array(n * per);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = (s / 2 ** 32) * 4 - 2;
  }
  return x;
}

interface Row { model: string; batch: number; forward: number; vjp: number; ce: number; ld: number | null }

async function bench(name: string, model: Model, sample: number[]): Promise<Row[]> {
  const vjp = buildGradientModel(model, { wrt: ['input'], of: ['logits'] });
  const ce = buildGradientModel(model, { wrt: ['input'], of: ['logits'], mode: 'cross-entropy' });
  const ld = buildGradientModel(model, { wrt: ['input'], of: ['logits'], mode: 'logit-differences' });
  const per = sample.reduce((a, b) => a * b, 1);
  const rows: Row[] = [];
  for (const n of BATCHES) {
    const runs = runsFor(n);
    const input = new ort.Tensor('float32', randomInput(n, per), [n, ...sample]);
    const labels = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 10)), [n]);
    const cands = new ort.Tensor('int64', BigInt64Array.from({ length: n * K }, (_, i) => BigInt((Math.floor(i / K) % 10 + 1 + (i % K)) % 10)), [n, K]);
    const forward = await timeModel(model, { input }, runs);
    const tv = await timeModel(vjp, { input, logits_cotangent: new ort.Tensor('float32', new Float32Array(n * 10).fill(1), [n, 10]) }, runs);
    const tc = await timeModel(ce, { input, labels }, runs);
    const tl = n <= 100 ? await timeModel(ld, { input, labels, candidates: cands }, Math.max(3, Math.ceil(runs / 3))) : null;
    const row = { model: name, batch: n, forward, vjp: tv, ce: tc, ld: tl };
    rows.push(row);
    printRow(row);
  }
  return rows;
}

function printRow(r: Row): void {
  const ms = (v: number) => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
  const ld = r.ld === null ? '—' : `${ms(r.ld)} ms (${(r.ld / r.forward).toFixed(1)}× fwd, ${(r.ld / (K * r.forward)).toFixed(2)}× ${K} fwd)`;
  process.stdout.write(`| ${r.model} | ${r.batch} | ${ms(r.forward)} ms | ${ms(r.vjp)} ms (${(r.vjp / r.forward).toFixed(2)}×) | ${ms(r.ce)} ms (${(r.ce / r.forward).toFixed(2)}×) | ${ld} |\n`);
}

/** --zoo DIR: the zoo's cross-entropy gradient / forward ratio next to PyTorch's. */
async function zooBench(dir: string): Promise<void> {
  const t = threads ?? 2;
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: t, interOpNumThreads: 1 };
  const only = args.indexOf('--models');
  const wantedNames = only >= 0 ? new Set((args[only + 1] ?? '').split(',')) : null;
  const names = readdirSync(dir).filter((n) => existsSync(join(dir, n, 'meta.json')) && (!wantedNames || wantedNames.has(n))).sort();
  const runs = quick ? 5 : 15;
  const py = spawnSync('sh', ['fixtures/torch-python.sh', 'bench/torch_grad_ratio.py', '--models', names.join(','), '--batches', '1,16',
    '--threads', String(t), '--runs', String(runs)], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: 'fixtures/.cache/py' } });
  const torchTimes = py.status === 0 ? JSON.parse(py.stdout.trim().split('\n').pop()!) as Record<string, Record<string, { forward_ms: number; ce_ms: number }>> : null;
  if (!torchTimes) process.stdout.write(`(no PyTorch figures: ${py.stderr.trim().split('\n').pop()})\n`);
  process.stdout.write(`onnxruntime-node ${ort.env.versions.node}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${t} intra-op threads, `
    + `median of ${runs} alternated runs\n\n| model | batch | ORT forward | ORT cross-entropy (ratio) | PyTorch forward | PyTorch fwd+bwd (ratio) |\n|---|---|---|---|---|---|\n`);
  for (const name of names) {
    const meta = JSON.parse(readFileSync(join(dir, name, 'meta.json'), 'utf8')) as { size: number; classes: number };
    const model = loadModel(join(dir, name, 'model.onnx'));
    const ce = buildGradientModel(model, { wrt: ['input'], of: ['logits'], mode: 'cross-entropy' });
    const fs = await ort.InferenceSession.create(sessionBytes(model), options);
    const cs = await ort.InferenceSession.create(sessionBytes(ce), options);
    for (const n of [1, 16]) {
      const per = 3 * meta.size * meta.size;
      const input = new ort.Tensor('float32', randomInput(n, per), [n, 3, meta.size, meta.size]);
      const labels = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i % meta.classes)), [n]);
      await fs.run({ input });
      await cs.run({ input, labels });
      const tf: number[] = [];
      const tc: number[] = [];
      for (let i = 0; i < runs; i++) {
        let t0 = performance.now();
        await fs.run({ input });
        tf.push(performance.now() - t0);
        t0 = performance.now();
        await cs.run({ input, labels });
        tc.push(performance.now() - t0);
      }
      const [f, c] = [median(tf), median(tc)];
      const pt = torchTimes?.[name]?.[String(n)];
      const torchCols = pt ? `${pt.forward_ms.toFixed(2)} ms | ${pt.ce_ms.toFixed(2)} ms (${(pt.ce_ms / pt.forward_ms).toFixed(2)}×)` : '— | —';
      process.stdout.write(`| ${name} | ${n} | ${f.toFixed(2)} ms | ${c.toFixed(2)} ms (${(c / f).toFixed(2)}×) | ${torchCols} |\n`);
    }
    await fs.release();
    await cs.release();
  }
}

async function main(): Promise<void> {
  const zooArg = args.indexOf('--zoo');
  if (zooArg >= 0) {
    await zooBench(args[zooArg + 1] ?? '');
    return;
  }
  const models: Array<[string, string, number[]]> = [
    ['LeNetLike', authorsModelPath('lenet_baseline'), [1, 28, 28]],
    ['ResNet-20', authorsModelPath('resnet20_baseline'), [3, 32, 32]],
  ];
  const missing = models.filter(([, file]) => !existsSync(file));
  if (missing.length > 0) {
    process.stdout.write(`skipped: ${missing.map(([, f]) => f).join(', ')} missing (npm run fixtures:authors)\n`);
    return;
  }
  process.stdout.write(`onnxruntime-node ${ort.env.versions.node}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), `
    + `intra-op threads: ${threads ?? 'ORT default'}; median of ${BATCHES.map((b) => `${runsFor(b)} (batch ${b})`).join(', ')} runs\n\n`);
  process.stdout.write('| model | batch | forward | vjp (ratio) | cross-entropy (ratio) | logit-differences, k = 9 |\n|---|---|---|---|---|---|\n');
  for (const [name, file, sample] of models) {
    await bench(name, loadModel(file), sample);
    const jump = loadModel(file);
    retrofit(jump, { kappa: name === 'LeNetLike' ? 1 : 0.05, target: 'thresholded-relu' });
    await bench(`${name} JumpReLU`, jump, sample);
  }
}

await main();
