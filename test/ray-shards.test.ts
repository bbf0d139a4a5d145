// Ray as the engine of sharded evaluations, against a real local Ray head (127.0.0.1 only, its own temp dir
// and free ports, `ray stop` at the end even on failure): the job-API client, the shard runner's retry of a
// stopped job, and `jumprelu eval --ray … --shards 4` equal to the unsharded run. Skipped only when ray is not
// installed (CI installs it from requirements-dev.txt). Budget: ~120 s, most of it Ray's own start and stop.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { RayError, RayJobsClient, dashboardUrl } from '../src/cluster/ray-jobs.js';
import { runShardsOnRay } from '../src/cluster/ray-shards.js';
import { evalCommand } from '../src/cli/eval-command.js';
import { planRayEval, shellQuote } from '../src/cli/ray-eval.js';
import { JumpReluError, UsageError } from '../src/ir/errors.js';
import type { Report } from '../src/runtime/report/schema.js';
import { defaultModelPath, defaultModelsDir } from './fixtures.js';
import { captureStdout, runCommands } from './helpers/cli.js';
import { comparable } from './helpers/comparable-report.js';
import { type LocalRay, rayMissing, startLocalRay } from './helpers/ray-head.js';

test('dashboard addresses: host:port, URLs, and the ray:// client address refused', () => {
  assert.equal(dashboardUrl('127.0.0.1:8265'), 'http://127.0.0.1:8265');
  assert.equal(dashboardUrl('http://127.0.0.1:8265/'), 'http://127.0.0.1:8265');
  assert.equal(dashboardUrl('https://head.example:443'), 'https://head.example');
  assert.throws(() => dashboardUrl('ray://127.0.0.1:10001'), (e: unknown) => e instanceof UsageError && e.code === 'ray-address' && /dashboard/.test(e.message));
  assert.throws(() => dashboardUrl('http://127.0.0.1:8265/api'), /root/);
  assert.throws(() => dashboardUrl('ftp://x'), /http/);
});

test('a closed port is ray-unreachable, a request over its limit ray-timeout', async () => {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  // a server that accepts and never answers
  const silent = createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const silentPort = (silent.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  try {
    await assert.rejects(new RayJobsClient(`127.0.0.1:${port}`).version(), (e: unknown) => e instanceof RayError && e.code === 'ray-unreachable' && e.kind === 'io');
    await assert.rejects(new RayJobsClient(`127.0.0.1:${silentPort}`, { requestTimeoutMs: 300 }).status('x'), (e: unknown) => e instanceof RayError && e.code === 'ray-timeout');
  } finally {
    silent.close();
  }
});

test('eval --ray: each shard runs the command as typed, with --shard i/n and its own --report, from --ray-cwd', async () => {
  const yargs = (await import('yargs')).default;
  let parsed: Record<string, unknown> | undefined;
  await yargs(['eval', 'models/m 1.onnx', '--data', "mnist:/data/it's", '-k', '0,1', '--attack-param', 'pgd.iterations=3', '--attack-param', 'pgd.random_start=true',
    '--transfer', '--no-allow-no-sites', '--quiet', '--ray', 'http://127.0.0.1:8265', '--shards', '3', '--report', 'out', '--ray-cwd', '/work/x', '--ray-env', 'A=b=c'])
    .command({ ...evalCommand, handler: (argv) => { parsed = argv as Record<string, unknown>; } }).strict().parseAsync();
  const plan = planRayEval(parsed as never, parsed!);
  assert.equal(plan.out, '/work/x/out');
  assert.equal(plan.root, '/work/x/out/shards');
  assert.deepEqual(plan.runtimeEnv, { env_vars: { A: 'b=c' } });
  const cmd = plan.entrypoint(2, '/work/x/out/shards/shard-2-of-3');
  assert.ok(cmd.startsWith("cd /work/x && jumprelu eval 'models/m 1.onnx' "), cmd);
  assert.ok(cmd.endsWith(' --shard 2/3 --report /work/x/out/shards/shard-2-of-3'), cmd);
  for (const part of ["--data 'mnist:/data/it'\\''s'", '--kappa 0,1', '--attack-param pgd.iterations=3 --attack-param pgd.random_start=true', '--transfer', '--no-allow-no-sites', '--threads 1', '--mode white-box']) {
    assert.ok(cmd.includes(` ${part}`), `${part} in ${cmd}`);
  }
  // what the driver consumes does not reach the workers
  for (const gone of ['--ray ', '--shards', '--ray-cwd', '--ray-env', '--quiet', ' -k ', '--report out']) assert.ok(!cmd.includes(gone), `${gone} not in ${cmd}`);
  assert.equal(shellQuote("a'b"), `'a'\\''b'`);
});

const missing = rayMissing();
const cliPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'jumprelu.js');
const cli = (args: string[]) => captureStdout(() => runCommands([evalCommand], args));

describe('with a local Ray head', { skip: missing ?? false }, () => {
  let ray: LocalRay;
  let client: RayJobsClient;
  let work: string;

  before(async () => {
    ray = await startLocalRay({ numCpus: 2 });
    client = new RayJobsClient(ray.address, { requestTimeoutMs: 20_000 });
    work = await mkdtemp(join(tmpdir(), 'jumprelu-ray-'));
  });

  after(async () => {
    await ray?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  // the job-API and shard-runner checks run side by side: most of a job's seconds are Ray starting its
  // supervisor process, which overlaps well
  test('job API: version, submit, status, logs, stop, delete and its error codes; the shard runner\'s failures and retries', async () => {
    await Promise.all([apiChecks(), runnerChecks()]);
  });

  async function apiChecks(): Promise<void> {
    const v = await client.version();
    assert.match(v.ray, /^2\./);
    // three jobs at once (each job costs Ray seconds to start): one succeeds, one fails, one is stopped
    const [id, failing, long] = await Promise.all([
      client.submit({ entrypoint: 'echo hello-from-ray', submissionId: 'api-echo', entrypointNumCpus: 0.1 }),
      client.submit({ entrypoint: 'echo about-to-fail; exit 3', entrypointNumCpus: 0.1 }),
      client.submit({ entrypoint: 'sleep 60', submissionId: 'api-sleep', entrypointNumCpus: 0.1 }),
    ]);
    assert.equal(id, 'api-echo');
    await client.waitFor(long, { timeoutMs: 60_000, intervalMs: 300, until: (i) => i.status === 'RUNNING' });
    // a bounded wait that cannot be met
    await assert.rejects(client.waitFor(long, { timeoutMs: 500, intervalMs: 100 }), (e: unknown) => e instanceof RayError && e.code === 'ray-wait-timeout');
    assert.equal(await client.stop(long), true);
    const [done, failed, stopped] = await Promise.all([id, failing, long].map((j) => client.waitFor(j, { timeoutMs: 60_000, intervalMs: 300 })));
    assert.equal(done!.status, 'SUCCEEDED');
    assert.equal(done!.driverExitCode, 0);
    assert.match(await client.logs(id), /hello-from-ray/);
    assert.equal(failed!.status, 'FAILED');
    assert.equal(failed!.driverExitCode, 3);
    assert.match(await client.logs(failing), /about-to-fail/);
    assert.equal(stopped!.status, 'STOPPED');
    // a reused submission id is refused by Ray
    await assert.rejects(client.submit({ entrypoint: 'true', submissionId: 'api-echo' }), (e: unknown) => e instanceof RayError && e.code === 'ray-http');
    assert.equal(await client.delete(id), true);
    await assert.rejects(client.status(id), (e: unknown) => e instanceof RayError && e.code === 'ray-not-found' && e.status === 404);
    assert.ok((await client.list()).some((j) => j.submissionId === failing));
  }

  /** A usage error (exit 2) is not retried; a job without its report is ray-shard-output; an abort stops the
   * jobs; a killed shard process is retried. */
  async function runnerChecks(): Promise<void> {
    const root = join(work, 'fake');
    await mkdir(root, { recursive: true });
    const lines: string[] = [];
    const interrupt = new AbortController();
    let sleeper = '';
    await Promise.all([
      assert.rejects(runShardsOnRay({ client, shards: 1, retries: 2, root, pollMs: 300, cpusPerShard: 0.5, runId: 'abort', signal: interrupt.signal, entrypoint: () => 'sleep 60',
        onSubmitted: (j) => {
          sleeper = j.id;
          void client.waitFor(j.id, { timeoutMs: 60_000, intervalMs: 200, until: (i) => i.status === 'RUNNING' }).then(() => interrupt.abort());
        } }),
        (e: unknown) => e instanceof RayError && e.code === 'ray-interrupted'),
      assert.rejects(runShardsOnRay({ client, shards: 1, retries: 2, root, pollMs: 300, cpusPerShard: 0.5, runId: 'bad', progress: (l) => lines.push(l), entrypoint: () => 'echo broken-shard >&2; exit 2' }),
        (e: unknown) => e instanceof RayError && e.code === 'ray-shard-failed' && /shard 1 failed with exit status 2 .*not retried.*attempt 1 of 3/.test(e.message) && /broken-shard/.test(e.message)),
      assert.rejects(runShardsOnRay({ client, shards: 1, retries: 0, root, pollMs: 300, cpusPerShard: 0.5, runId: 'silent', entrypoint: () => 'true' }),
        (e: unknown) => e instanceof RayError && e.code === 'ray-shard-output' && /shard-1-of-1/.test(e.message)),
      // a shard whose process dies (SIGKILL, as when its worker is lost) on the first attempt is retried
      (async () => {
        const r = await runShardsOnRay({ client, shards: 1, retries: 1, root: join(root, 'killed'), pollMs: 300, cpusPerShard: 0.5, runId: 'killed',
          entrypoint: (j) => (j.attempt === 0 ? 'kill -9 $$' : `mkdir -p '${j.dir}' && echo '{}' > '${j.dir}/report.json'`) });
        assert.deepEqual(r.attempts.map((a) => [a.attempt, a.status]), [[0, 'FAILED'], [1, 'SUCCEEDED']]);
        assert.equal(r.dirs[0], join(root, 'killed', 'shard-1-of-1.retry-1'));
      })(),
    ]);
    assert.ok(!lines.some((l) => /retry/.test(l)), lines.join('\n'));
    assert.equal((await client.waitFor(sleeper, { timeoutMs: 60_000, intervalMs: 300 })).status, 'STOPPED');
    assert.equal((await client.list()).filter((j) => j.submissionId.startsWith('bad-')).length, 1);
  }

  test('eval --ray --shards 4 (one shard stopped mid-run and retried) merges into the unsharded run\'s report', async () => {
    const data = join(work, 'mnist');
    await mkdir(data, { recursive: true });
    await copyFile(join(defaultModelsDir(), 'mnist-heldout-1000-images-idx3-ubyte.gz'), join(data, 't10k-images-idx3-ubyte.gz'));
    await copyFile(join(defaultModelsDir(), 'mnist-heldout-1000-labels-idx1-ubyte.gz'), join(data, 't10k-labels-idx1-ubyte.gz'));
    const common = ['eval', defaultModelPath(), '--data', `mnist:${data}`, '--limit', '12', '--kappa', '0,1', '--attacks', 'fgsm,pgd,deepfool2',
      '--attack-param', 'pgd.random_start=true', '--attack-param', 'pgd.iterations=3', '--attack-param', 'deepfool2.iterations=5', '--threads', '1', '--quiet'];
    const out = join(work, 'ray-out');
    // stop shard 2's first job as soon as Ray runs it (its eval is then starting or under way)
    let stoppedId: string | undefined;
    let watching = true;
    const watcher = (async () => {
      while (watching && stoppedId === undefined) {
        const job = (await client.list()).find((j) => j.metadata['shard'] === '2' && j.metadata['attempt'] === '0' && j.status === 'RUNNING');
        if (job) {
          await client.stop(job.submissionId);
          stoppedId = job.submissionId;
        } else await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const table = await (async () => {
      try {
        return await cli([...common, '--report', out, '--ray', ray.address, '--shards', '4', '--ray-cpus', '0.5', '--ray-entrypoint', `${process.execPath} ${cliPath}`]);
      } finally {
        watching = false;
        await watcher;
      }
    })();
    assert.match(table, /clean accuracy: κ=0/);
    assert.ok(stoppedId, 'a job of shard 2 was stopped');
    assert.equal((await client.status(stoppedId)).status, 'STOPPED');
    const retry = (await client.list()).find((j) => j.metadata['shard'] === '2' && j.metadata['attempt'] === '1');
    assert.equal(retry?.status, 'SUCCEEDED');
    assert.ok(existsSync(join(out, 'shards', 'shard-2-of-4.retry-1', 'report.json')));

    const full = join(work, 'full');
    await cli([...common, '--report', full]);
    const merged = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as Report;
    const single = JSON.parse(await readFile(join(full, 'report.json'), 'utf8')) as Report;
    assert.equal(merged.data.n, 12);
    assert.deepEqual(comparable(merged), comparable(single));
    assert.equal(await readFile(join(out, 'per-sample.jsonl'), 'utf8'), await readFile(join(full, 'per-sample.jsonl'), 'utf8'));
  });

  test('eval --ray: usage errors before anything is submitted', async () => {
    const base = ['eval', defaultModelPath(), '--data', 'mnist:/nonexistent', '--ray', ray.address];
    const code = async (args: string[]) => cli(args).then(() => 'none', (e: unknown) => (e instanceof JumpReluError ? `${e.kind}:${e.code}` : String(e)));
    assert.equal(await code([...base, '--report', join(work, 'x')]), 'usage:ray-shards');
    assert.equal(await code([...base, '--shards', '2']), 'usage:ray-needs-report');
    assert.equal(await code([...base, '--shards', '2', '--report', join(work, 'x'), '--shard', '1/2']), 'usage:ray-shards');
    assert.equal(await code([...base, '--shards', '2', '--report', join(work, 'x'), '--ray-retries', '11']), 'usage:ray-retries');
    assert.equal(await code(['eval', defaultModelPath(), '--data', 'mnist:/x', '--ray', 'ray://127.0.0.1:10001', '--shards', '2', '--report', join(work, 'x')]), 'usage:ray-address');
  });
});
