// Runs the n shards of one evaluation as Ray jobs: submits them all (Ray queues what the cluster's free CPUs
// cannot start yet), follows their states and progress, resubmits a shard whose job failed or was stopped a
// bounded number of times, each attempt into a fresh folder, and returns the folder of each shard's
// successful attempt. Merging is the caller's (the CLI calls the merge library on those folders).
//
// The shards write their reports into folders under `root`, which every worker must see at the same path
// (a shared file system: NFS, a mounted bucket, or one machine's disk for a single-node cluster). That keeps
// the reports byte-for-byte what `eval --shard` writes on one machine, with no size limit; the alternative,
// shipping each report back through the job logs, is capped by Ray's log retention and mixes with progress.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type RayJobInfo, RayError, RayJobsClient, type RuntimeEnv, isTerminal } from './ray-jobs.js';

export interface ShardJob {
  /** 1-based shard index (`--shard i/n`). */
  shard: number;
  /** 0-based attempt (0 is the first submission). */
  attempt: number;
  /** Where this attempt writes its report. */
  dir: string;
}

export interface RayShardsOptions {
  client: RayJobsClient;
  shards: number;
  /** Resubmissions allowed per shard after its first attempt fails (default 2: at most 3 attempts). */
  retries?: number;
  /** The shell command a shard's attempt runs on the cluster. */
  entrypoint: (job: ShardJob) => string;
  /** Folder of the shard folders (`shard-i-of-n[.retry-k]`), visible to every worker at this path. */
  root: string;
  runtimeEnv?: RuntimeEnv;
  /** CPUs each shard holds (default 1): with C free CPUs Ray runs ⌊C / this⌋ shards at once. */
  cpusPerShard?: number;
  gpusPerShard?: number;
  /** Prefix of the submission ids (default `jumprelu-<time>-<random>`); ids are `<prefix>-s<i>-a<k>`. */
  runId?: string;
  /** Pause between polls, ms (default 1 s). */
  pollMs?: number;
  /** Deadline of the whole run, ms (default 24 h); at the deadline every job still going is stopped. */
  timeoutMs?: number;
  /** Consecutive failed polls of the job API tolerated before giving up (default 5). */
  pollFailures?: number;
  /** A progress line each time the picture changes. */
  progress?: (line: string) => void;
  /** Aborting it (Ctrl-C) stops every job still going and ends the run with ray-interrupted. */
  signal?: AbortSignal;
  /** Called after each submission (tests use it to stop a job mid-run). */
  onSubmitted?: (job: ShardJob & { id: string }) => void;
}

export interface ShardAttempt extends ShardJob {
  id: string;
  status: RayJobInfo['status'];
  message: string;
}

export interface RayShardsResult {
  /** The successful attempt's folder of each shard, in shard order (shard i at i − 1). */
  dirs: string[];
  /** Every attempt, in submission order. */
  attempts: ShardAttempt[];
  wallS: number;
}

export function shardDirName(shard: number, shards: number, attempt: number): string {
  return `shard-${shard}-of-${shards}${attempt > 0 ? `.retry-${attempt}` : ''}`;
}

/** The last `n` lines of a log, for error messages. */
export function tail(logs: string, n = 5): string {
  return logs.trimEnd().split('\n').slice(-n).join('\n');
}

/** The latest percentage a shard's progress printed (the eval's non-TTY progress: `task: 40%`). */
export function lastPercent(logs: string): number | null {
  const m = [...logs.matchAll(/(\d{1,3})%/g)];
  if (m.length === 0) return null;
  return Number(m[m.length - 1]![1]);
}

/** Cells a shard finished so far: the eval logs `κ=… ATTACK MODE: accuracy …` after each. */
export function cellsDone(logs: string): number {
  return [...logs.matchAll(/^κ=\S+ .*: accuracy [\d.]+%/gmu)].length;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Live extends ShardAttempt {
  percent: number | null;
  cells: number;
  logsPolledAt: number;
}

/**
 * Runs every shard to success or throws: ray-shard-failed when a shard's attempts are used up (the other
 * jobs are stopped first), ray-shard-output when a job succeeded without writing its report.json,
 * ray-wait-timeout at the deadline, ray-interrupted when `signal` aborts, ray-unreachable/ray-timeout when the
 * job API stays silent. In every case the jobs still going are stopped first.
 */
export async function runShardsOnRay(o: RayShardsOptions): Promise<RayShardsResult> {
  const { client, shards } = o;
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shards must be a positive integer, got ${shards}`);
  const retries = o.retries ?? 2;
  const pollMs = o.pollMs ?? 1000;
  const timeoutMs = o.timeoutMs ?? 24 * 3600_000;
  const pollFailures = o.pollFailures ?? 5;
  const runId = o.runId ?? `jumprelu-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const progress = o.progress ?? (() => {});
  const started = performance.now();
  const attempts: ShardAttempt[] = [];
  const live = new Map<number, Live>();
  const dirs: string[] = new Array<string>(shards);

  const submit = async (shard: number, attempt: number): Promise<void> => {
    const job: ShardJob = { shard, attempt, dir: join(o.root, shardDirName(shard, shards, attempt)) };
    const id = await client.submit({
      entrypoint: o.entrypoint(job),
      submissionId: `${runId}-s${shard}-a${attempt}`,
      ...(o.runtimeEnv ? { runtimeEnv: o.runtimeEnv } : {}),
      metadata: { jumprelu_run: runId, shard: String(shard), shards: String(shards), attempt: String(attempt) },
      entrypointNumCpus: o.cpusPerShard ?? 1,
      ...(o.gpusPerShard ? { entrypointNumGpus: o.gpusPerShard } : {}),
    });
    const a: Live = { ...job, id, status: 'PENDING', message: '', percent: null, cells: 0, logsPolledAt: 0 };
    attempts.push(a);
    live.set(shard, a);
    o.onSubmitted?.({ ...job, id });
  };

  const stopAll = async (): Promise<void> => {
    await Promise.allSettled([...live.values()].filter((a) => !isTerminal(a.status)).map((a) => client.stop(a.id)));
  };

  let lastLine = '';
  const report = (): void => {
    const done = dirs.filter(Boolean).length;
    const retried = attempts.filter((a) => a.attempt > 0).length;
    const parts = [...live.values()].sort((x, y) => x.shard - y.shard).map((a) => `${a.shard}${a.attempt ? `(retry ${a.attempt})` : ''} ${a.status === 'RUNNING' ? `running${a.cells ? ` ${a.cells} cells` : ''}${a.percent !== null ? ` ${a.percent}%` : ''}` : a.status.toLowerCase()}`);
    const line = `ray: ${done}/${shards} shards done${retried ? `, ${retried} retried` : ''}${parts.length ? ` · ${parts.join(' · ')}` : ''}`;
    if (line !== lastLine) progress(line);
    lastLine = line;
  };

  try {
    for (let s = 1; s <= shards; s++) await submit(s, 0);
    let failures = 0;
    while (live.size > 0) {
      if (performance.now() - started > timeoutMs) {
        await stopAll();
        throw new RayError(`Ray: shards ${[...live.keys()].join(', ')} still unfinished after ${(timeoutMs / 1000).toFixed(0)} s; their jobs were stopped`, 'ray-wait-timeout');
      }
      await sleep(pollMs);
      if (o.signal?.aborted) {
        await stopAll();
        throw new RayError(`Ray: interrupted; stopped the jobs of shards ${[...live.keys()].join(', ')}; finished shards are in ${o.root}`, 'ray-interrupted');
      }
      for (const a of [...live.values()]) {
        let info: RayJobInfo;
        try {
          info = await client.status(a.id);
          failures = 0;
        } catch (err) {
          if (err instanceof RayError && (err.code === 'ray-unreachable' || err.code === 'ray-timeout') && ++failures < pollFailures) continue;
          throw err;
        }
        a.status = info.status;
        a.message = info.message;
        if (info.status === 'RUNNING' && performance.now() - a.logsPolledAt > Math.max(pollMs, 2000)) {
          // the logs are fetched whole (the REST API has no offset), so not on every poll
          a.logsPolledAt = performance.now();
          const logs = await client.logs(a.id).catch(() => '');
          a.percent = lastPercent(logs) ?? a.percent;
          a.cells = cellsDone(logs);
        }
        if (!isTerminal(info.status)) continue;
        if (info.status === 'SUCCEEDED') {
          if (!existsSync(join(a.dir, 'report.json'))) {
            await stopAll();
            throw new RayError(`Ray: shard ${a.shard}'s job ${a.id} succeeded but ${join(a.dir, 'report.json')} is not there: do the workers see ${o.root} at the same path?`, 'ray-shard-output');
          }
          dirs[a.shard - 1] = a.dir;
          live.delete(a.shard);
          continue;
        }
        // FAILED (the entrypoint exited non-zero, or its worker died) or STOPPED (someone stopped it): retried
        const logs = await client.logs(a.id).catch(() => '');
        // exit status 2 is a usage error (jumprelu's convention): the same command fails the same way again
        const usage = info.status === 'FAILED' && info.driverExitCode === 2;
        if (a.attempt < retries && !usage) {
          progress(`ray: shard ${a.shard} ${info.status.toLowerCase()} (${info.message || 'no message'}); retry ${a.attempt + 1} of ${retries}`);
          await submit(a.shard, a.attempt + 1);
        } else {
          live.delete(a.shard);
          await stopAll();
          throw new RayError(`Ray: shard ${a.shard} ${info.status.toLowerCase()}${usage ? ' with exit status 2 (a usage error: not retried)' : ''} (attempt ${a.attempt + 1} of ${retries + 1}); last job ${a.id}: ${info.message || 'no message'}${logs ? `; its log ends: ${tail(logs, 3).replace(/\s*\n\s*/g, ' | ')}` : ''}`, 'ray-shard-failed');
        }
      }
      report();
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { dirs, attempts: attempts.map(({ shard, attempt, dir, id, status, message }) => ({ shard, attempt, dir, id, status, message })), wallS: (performance.now() - started) / 1000 };
}
