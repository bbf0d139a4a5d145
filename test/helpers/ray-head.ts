// A throw-away local Ray head for tests and benches: loopback only, its own temp dir and free ports, and a
// stop() that runs `ray stop` and then makes sure no process of this head is left (by pid, from its dir).

import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

let found: { ray: string } | { missing: string } | undefined;

/**
 * The `ray` executable beside the python3 on PATH that has Ray with its job server, or why there is none.
 * (The executable itself, not pyenv's shim: each shim call costs seconds on a loaded machine.)
 */
export function findRay(): { ray: string } | { missing: string } {
  if (found) return found;
  const r = spawnSync('python3', ['-c', 'import sys, os, ray, ray.dashboard.modules.job; print(os.path.join(os.path.dirname(sys.executable), "ray"))'], { encoding: 'utf8', timeout: 120_000 });
  const ray = r.stdout?.trim();
  if (r.status !== 0 || !ray || !existsSync(ray)) {
    found = { missing: /No module named 'ray'$/m.test(r.stderr ?? '') || !ray ? 'ray is not installed for python3 (pip install "ray[default]", see requirements-dev.txt)' : `ray is installed without its job server (pip install "ray[default]"): ${(r.stderr ?? '').trim().split('\n').pop()}` };
  } else found = { ray };
  return found;
}

/** Why Ray cannot be used here, or null when it can. */
export function rayMissing(): string | null {
  const f = findRay();
  return 'missing' in f ? f.missing : null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface LocalRay {
  /** http://127.0.0.1:PORT of the job API. */
  address: string;
  tempDir: string;
  startS: number;
  stop(): Promise<void>;
}

function pidsOf(marker: string): number[] {
  // every process of this head has the temp dir on its command line (--temp-dir, --session-dir, log paths)
  return spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout.split('\n')
    .filter((l) => l.includes(marker)).map((l) => Number(l.trim().split(/\s+/)[0])).filter((p) => Number.isInteger(p) && p !== process.pid);
}

export async function startLocalRay({ numCpus = 2 }: { numCpus?: number } = {}): Promise<LocalRay> {
  // short path: Ray's socket names must stay under 107 characters
  const tempDir = await mkdtemp(join(tmpdir(), 'jr-ray-'));
  const [gcs, dash, client, agent] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const f = findRay();
  if ('missing' in f) throw new Error(f.missing);
  const ray = f.ray;
  const env = { ...process.env, RAY_USAGE_STATS_ENABLED: '0' };
  const t0 = performance.now();
  const stop = async () => {
    await run(ray, ['stop', '--force'], { env, timeout: 60_000 }).catch(() => undefined);
    for (const pid of pidsOf(tempDir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(tempDir, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    await run(ray, ['start', '--head', '--num-cpus', String(numCpus), '--node-ip-address', '127.0.0.1', '--port', String(gcs),
      '--include-dashboard=true', '--dashboard-host', '127.0.0.1', '--dashboard-port', String(dash), '--ray-client-server-port', String(client),
      '--dashboard-agent-listen-port', String(agent), '--temp-dir', tempDir, '--disable-usage-stats', '--include-log-monitor=false'], { env, timeout: 120_000 });
  } catch (err) {
    const logs = await readdir(join(tempDir, 'session_latest', 'logs')).catch(() => [] as string[]);
    const dash = logs.includes('dashboard.log') ? (await readFile(join(tempDir, 'session_latest', 'logs', 'dashboard.log'), 'utf8')).slice(-2000) : '';
    await stop();
    throw new Error(`ray start failed: ${(err as Error).message}\n${dash}`);
  }
  const address = `http://127.0.0.1:${dash}`;
  // `ray start` can return before the job API answers: poll it, bounded
  const deadline = performance.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${address}/api/version`, { signal: AbortSignal.timeout(5000) }).then((r) => r.ok, () => false);
    if (ok) break;
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`Ray's job API at ${address} did not answer within 60 s of ray start`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { address, tempDir, startS: (performance.now() - t0) / 1000, stop };
}
