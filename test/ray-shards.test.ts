// Ray as the engine of sharded evaluations, against a real local Ray head (127.0.0.1 only, its own temp dir
// and free ports, `ray stop` at the end even on failure): the job-API client, the shard runner's retry of a
// stopped job, and `jumprelu eval --ray … --shards 4` equal to the unsharded run. Skipped only when ray is not
// installed (CI installs it from requirements-dev.txt). Budget: ~120 s, most of it Ray's own start and stop.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { RayError, RayJobsClient, dashboardUrl } from '../src/cluster/ray-jobs.js';
import { runShardsOnRay, shardDirName } from '../src/cluster/ray-shards.js';
import { UsageError } from '../src/ir/errors.js';
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

const missing = rayMissing();

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

  test('job API: version, submit, status, logs, stop, delete and its error codes', async () => {
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
  });

  test('shard runner: a job stopped mid-run is retried into a fresh folder; exhausted retries fail with a code', async () => {
    const root = join(work, 'fake');
    await mkdir(root, { recursive: true });
    const stopped: string[] = [];
    const lines: string[] = [];
    const r = await runShardsOnRay({
      client, shards: 2, retries: 1, root, pollMs: 300, cpusPerShard: 0.5, runId: 'fake',
      // stands in for `jumprelu eval --shard`: a few seconds of work, then the report
      entrypoint: (j) => `echo 'task: 50%'; sleep 3; mkdir -p '${j.dir}' && echo '{"shard":${j.shard}}' > '${j.dir}/report.json'`,
      progress: (l) => lines.push(l),
      onSubmitted: (j) => {
        if (j.shard !== 2 || j.attempt !== 0) return;
        void client.waitFor(j.id, { timeoutMs: 60_000, intervalMs: 200, until: (i) => i.status === 'RUNNING' })
          .then(() => client.stop(j.id)).then(() => stopped.push(j.id));
      },
    });
    assert.deepEqual(stopped, ['fake-s2-a0']);
    assert.deepEqual(r.dirs, [join(root, shardDirName(1, 2, 0)), join(root, shardDirName(2, 2, 1))]);
    assert.deepEqual(r.attempts.map((a) => [a.shard, a.attempt, a.status]), [[1, 0, 'SUCCEEDED'], [2, 0, 'STOPPED'], [2, 1, 'SUCCEEDED']]);
    for (const [i, d] of r.dirs.entries()) assert.deepEqual(JSON.parse(await readFile(join(d, 'report.json'), 'utf8')), { shard: i + 1 });
    assert.ok(!existsSync(join(root, shardDirName(2, 2, 0), 'report.json')), 'the stopped attempt wrote no report');
    assert.ok(lines.some((l) => /shard 2 stopped .*retry 1 of 1/.test(l)), lines.join('\n'));
    assert.match(lines[lines.length - 1]!, /^ray: 2\/2 shards done, 1 retried/);

    await Promise.all([
      assert.rejects(runShardsOnRay({ client, shards: 1, retries: 0, root, pollMs: 300, cpusPerShard: 0.5, runId: 'bad', entrypoint: () => 'echo broken-shard >&2; exit 7' }),
        (e: unknown) => e instanceof RayError && e.code === 'ray-shard-failed' && /shard 1 failed \(attempt 1 of 1\)/.test(e.message) && /broken-shard/.test(e.message)),
      assert.rejects(runShardsOnRay({ client, shards: 1, retries: 0, root, pollMs: 300, cpusPerShard: 0.5, runId: 'silent', entrypoint: () => 'true' }),
        (e: unknown) => e instanceof RayError && e.code === 'ray-shard-output'),
    ]);
  });
});
