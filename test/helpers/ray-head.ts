// A throw-away local Ray head for tests and benches: loopback only, its own temp dir and free ports, and a
// stop() that ends this head's processes (by pid: see pidsOf) and no other Ray on the machine.

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

/**
 * The processes of one head: those naming its temp dir or its GCS port on their command line (gcs_server,
 * raylet, dashboard, monitor, the client server) and all their descendants (agents, workers, job
 * supervisors and the jobs' own commands, whose titles Ray rewrites). Not `ray stop`: that stops every Ray
 * head of the machine, including another test's or the user's.
 */
function pidsOf(tempDir: string, gcsPort: number): number[] {
  const rows = spawnSync('ps', ['-eo', 'pid=,ppid=,stat=,args='], { encoding: 'utf8' }).stdout.split('\n').map((l) => {
    const m = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(l);
    // zombies are gone already (their parent reaps them)
    return m && !m[3]!.startsWith('Z') ? { pid: Number(m[1]), ppid: Number(m[2]), args: m[4]! } : undefined;
  }).filter((r) => r !== undefined);
  const ours = new Set(rows.filter((r) => r.args.includes(tempDir) || r.args.includes(`:${gcsPort} `) || r.args.endsWith(`:${gcsPort}`)).map((r) => r.pid));
  for (let grown = true; grown;) {
    grown = false;
    for (const r of rows) if (!ours.has(r.pid) && ours.has(r.ppid)) (ours.add(r.pid), (grown = true));
  }
  ours.delete(process.pid);
  return [...ours];
}

function signal(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
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
  const killLeft = () => signal(pidsOf(tempDir, gcs), 'SIGKILL');
  // a test process that ends without stop() (a crash, the runner's timeout) still takes the head with it
  process.once('exit', killLeft);
  const stop = async () => {
    // SIGTERM, up to 10 s to go, then SIGKILL what is left
    signal(pidsOf(tempDir, gcs), 'SIGTERM');
    for (let i = 0; i < 40 && pidsOf(tempDir, gcs).length > 0; i++) await new Promise((r) => setTimeout(r, 250));
    killLeft();
    process.off('exit', killLeft);
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
