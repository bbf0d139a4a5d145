// Throughput of `jumprelu eval --ray` on a local Ray head: the same evaluation unsharded (a plain eval,
// no Ray), on 1 shard and on 2 shards (one CPU and one ORT thread each), alternated, with wall time and
// images/s, and the attack time (the cells' wall_s; a merged cell's is the sum over its shards, i.e.
// machine-seconds of one ORT thread each) → CPU-seconds per 10,000 images.
//   node dist/bench/ray.bench.js [--model default|lenet|resnet] [--limit N] [--reps R] [--attacks A] [--kappa K]
// default: the bundled LeNet on its held-out digits (always present); lenet/resnet: the authors' models
// (fixtures/.cache, npm run fixtures:authors) on ../shared/data. Run it with `nice -n 10` on a shared machine.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Report } from '../src/runtime/report/schema.js';
import { authorsModelPath, defaultHeldoutPaths, defaultModelPath, hasSharedData, sharedPaths } from '../test/fixtures.js';
import { rayMissing, startLocalRay } from '../test/helpers/ray-head.js';
import { RayJobsClient } from '../src/cluster/ray-jobs.js';
import { writeFile } from 'node:fs/promises';

const run = promisify(execFile);

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const model = arg('model', 'default');
const reps = Number(arg('reps', '1'));
const missing = rayMissing();
if (missing) {
  console.log(`skipped: ${missing}`);
  process.exit(0);
}
if (model !== 'default' && !hasSharedData()) {
  console.log('skipped: --model lenet/resnet need ../shared/data and fixtures/.cache (npm run fixtures:authors)');
  process.exit(0);
}

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'jumprelu.js');
const setups: Record<string, () => { path: string; data: string; limit: string; kappa: string; attacks: string }> = {
  default: () => ({ path: defaultModelPath(), data: `mnist:${defaultHeldoutPaths().images},${defaultHeldoutPaths().labels}`, limit: '200', kappa: '0,1', attacks: 'ifgsm,deepfool2' }),
  lenet: () => ({ path: authorsModelPath('lenet_baseline'), data: `mnist:${dirname(sharedPaths().mnistTestImages)}`, limit: '200', kappa: '0,1', attacks: 'ifgsm,deepfool2' }),
  resnet: () => ({ path: authorsModelPath('resnet20_baseline'), data: `cifar10:${sharedPaths().cifar10First1000}`, limit: '40', kappa: '0,0.05', attacks: 'ifgsm,deepfool2' }),
};
const setup = setups[model];
if (!setup) throw new Error(`--model: one of ${Object.keys(setups).join(', ')}`);
const s = setup();
const limit = arg('limit', s.limit);
const evalArgs = ['eval', s.path, '--data', s.data, '--limit', limit, '--kappa', arg('kappa', s.kappa), '--attacks', arg('attacks', s.attacks), '--mode', 'white-box', '--threads', '1', '--quiet', '--json'];

interface Row { shards: number; wallS: number; machineS: number; perShardS: number[]; cpuS: number[] }

// Every eval process (the plain one and each shard's job) runs under this wrapper, which prints the CPU time
// (user, sys) of its child on stderr: wall figures on a shared machine measure the neighbours as much as us.
const WRAPPER = '"$@"; s=$?; times >&2; exit $s\n';

/** The children's user + sys seconds from the last `times` line ("0m9.150s 0m0.500s"). */
function cpuOf(text: string): number {
  const m = [...text.matchAll(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/gm)];
  const last = m[m.length - 1];
  if (!last) return NaN;
  return 60 * Number(last[1]) + Number(last[2]) + 60 * Number(last[3]) + Number(last[4]);
}

async function once(shards: number, address: string, work: string): Promise<Row> {
  const tag = `${shards}-${Math.random().toString(36).slice(2, 8)}`;
  const out = join(work, `out-${tag}`);
  const wrapper = join(work, 'cpu-time.sh');
  const ray = shards === 0 ? [] : ['--ray', address, '--shards', String(shards), '--ray-cpus', '1', '--ray-entrypoint', `sh ${wrapper} ${process.execPath} ${cli}`];
  const t0 = performance.now();
  const plain = await run('sh', [wrapper, process.execPath, cli, ...evalArgs, '--report', out, ...ray], { maxBuffer: 256 << 20 });
  const wallS = (performance.now() - t0) / 1000;
  let cpuS = [cpuOf(plain.stderr)];
  if (shards > 0) {
    // each shard job's own CPU time, from its log (the driver's is small: polling and the merge)
    const client = new RayJobsClient(address);
    const jobs = (await client.list()).filter((j) => j.status === 'SUCCEEDED' && j.entrypoint.includes(out));
    cpuS = await Promise.all(jobs.map(async (j) => cpuOf(await client.logs(j.submissionId))));
  }
  const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as Report;
  // attack time: the cells' wall_s (a merged cell's is the sum over its shards), without start-up and loading
  const cells = (r: Report) => r.results.reduce((t, x) => t + x.wall_s, 0);
  const perShardS: number[] = [];
  if (shards > 0) {
    for (const d of (await readdir(join(out, 'shards'))).sort()) {
      const r = JSON.parse(await readFile(join(out, 'shards', d, 'report.json'), 'utf8').catch(() => 'null')) as Report | null;
      if (r) perShardS.push(cells(r));
    }
  }
  await rm(out, { recursive: true, force: true });
  return { shards, wallS, machineS: cells(report), perShardS, cpuS };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`model ${model} (${s.path}); ${limit} images; ${evalArgs.slice(4).join(' ')}`);
console.log(`CPU: ${cpus()[0]?.model ?? '?'} (${cpus().length} logical); node ${process.version}; load average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
const work = await mkdtemp(join(tmpdir(), 'jumprelu-ray-bench-'));
await writeFile(join(work, 'cpu-time.sh'), WRAPPER);
const ray = await startLocalRay({ numCpus: 2 });
const rows: Row[] = [];
try {
  console.log(`ray start: ${ray.startS.toFixed(1)} s`);
  for (let r = 0; r < reps; r++) {
    // alternated order against drift in the machine's load
    for (const shards of r % 2 === 0 ? [0, 1, 2] : [2, 1, 0]) {
      const row = await once(shards, ray.address, work);
      rows.push(row);
      console.log(`  rep ${r + 1} ${shards === 0 ? 'no Ray ' : `${shards} shard${shards > 1 ? 's' : ' '}`}: wall ${row.wallS.toFixed(1)} s, ${(Number(limit) / row.wallS).toFixed(2)} images/s; attack time ${row.machineS.toFixed(1)} s${row.perShardS.length ? ` (shards ${row.perShardS.map((x) => x.toFixed(1)).join(' + ')})` : ''}; eval process CPU ${row.cpuS.map((x) => x.toFixed(1)).join(' + ')} s`);
    }
  }
} finally {
  await ray.stop();
  await rm(work, { recursive: true, force: true });
}
console.log(`\nmedians over ${reps} rep(s); load average at end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log('run        wall s   images/s   attack wall-s (sum over shards)   eval CPU-s (sum)   CPU-s per 10,000 images');
for (const shards of [0, 1, 2]) {
  const mine = rows.filter((x) => x.shards === shards);
  const wall = median(mine.map((x) => x.wallS));
  const machine = median(mine.map((x) => x.machineS));
  const cpu = median(mine.map((x) => x.cpuS.reduce((t, c) => t + c, 0)));
  console.log(`${(shards === 0 ? 'no Ray' : `${shards} shard${shards > 1 ? 's' : ''}`).padEnd(9)} ${wall.toFixed(1).padStart(7)}  ${(Number(limit) / wall).toFixed(2).padStart(9)}   ${machine.toFixed(1).padStart(14)}                ${cpu.toFixed(1).padStart(10)}       ${(cpu / Number(limit) * 10_000).toFixed(0).padStart(8)}`);
}
