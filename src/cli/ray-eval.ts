// `jumprelu eval … --ray ADDRESS --shards n --report OUT`: the same evaluation as n Ray jobs, each the eval
// command itself with `--shard i/n --report OUT/shards/shard-i-of-n`, then merged into OUT (docs/scale-out.md).
// The workers run the command line the caller typed, from the same folder (--ray-cwd), so model and data
// paths (and every recorded path) are the caller's: workers must see them, and OUT, at the same paths.

import { isAbsolute, join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { UsageError } from '../ir/errors.js';
import { RayJobsClient, type RuntimeEnv } from '../cluster/ray-jobs.js';
import { runShardsOnRay } from '../cluster/ray-shards.js';

export interface RayArgs {
  ray?: string;
  shards?: number;
  rayEntrypoint: string;
  rayRetries: number;
  rayCwd?: string;
  rayEnv?: string[];
  rayCpus: number;
  rayGpus: number;
  rayTimeout: number;
}

/** Retries per shard by default: a shard is run at most 1 + this many times. */
export const DEFAULT_RAY_RETRIES = 2;

export function rayOptions<T>(y: Argv<T>): Argv<T & RayArgs> {
  return y
    .option('ray', { type: 'string', describe: 'run the shards as jobs on the Ray cluster whose dashboard (job API) is at this address, e.g. http://HEAD:8265; needs --shards and --report' })
    .option('shards', { type: 'number', describe: 'with --ray: number of shards (jobs) to split the samples into' })
    .option('ray-entrypoint', { type: 'string', default: 'jumprelu', describe: 'with --ray: how workers start jumprelu (e.g. "node /opt/jumprelu/dist/src/cli/jumprelu.js")' })
    .option('ray-retries', { type: 'number', default: DEFAULT_RAY_RETRIES, describe: 'with --ray: resubmissions of a failed or stopped shard before the run fails' })
    .option('ray-cwd', { type: 'string', describe: 'with --ray: folder the workers run in (default: this one); model, data and --report paths are read from there' })
    .option('ray-env', { type: 'string', array: true, describe: 'with --ray: KEY=VALUE set for the workers (runtime_env.env_vars)' })
    .option('ray-cpus', { type: 'number', default: 1, describe: 'with --ray: CPUs each shard holds on the cluster (set --threads to match)' })
    .option('ray-gpus', { type: 'number', default: 0, describe: 'with --ray: GPUs each shard holds (with --ep cuda)' })
    .option('ray-timeout', { type: 'number', default: 86_400, describe: 'with --ray: seconds before unfinished shards are stopped and the run fails' }) as unknown as Argv<T & RayArgs>;
}

/** Single-quoted for a POSIX shell. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_\-+=.,/:@%]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

// options that the driver consumes or replaces; everything else goes to the workers as typed
const DRIVER_ONLY = new Set(['ray', 'shards', 'ray-entrypoint', 'ray-retries', 'ray-cwd', 'ray-env', 'ray-cpus', 'ray-gpus', 'ray-timeout', 'report', 'resume', 'shard', 'json', 'quiet', 'verbose', 'help', 'version', 'model']);

/**
 * The worker's eval arguments from the parsed ones: yargs gives every option under its kebab-case name (and a
 * camelCase copy, and aliases under one letter), so the kebab/one-word keys are the options, once each.
 */
export function workerArgs(parsed: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(parsed)) {
    if (key === '_' || key === '$0' || key.length === 1 || /[A-Z]/.test(key) || DRIVER_ONLY.has(key) || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === 'boolean') out.push(v ? `--${key}` : `--no-${key}`);
      else out.push(`--${key}`, String(v));
    }
  }
  return out;
}

function envVars(list: readonly string[] | undefined): Record<string, string> | undefined {
  if (!list?.length) return undefined;
  const env: Record<string, string> = {};
  for (const kv of list) {
    const at = kv.indexOf('=');
    if (at <= 0) throw new UsageError(`--ray-env '${kv}': expected KEY=VALUE`, { code: 'ray-env' });
    env[kv.slice(0, at)] = kv.slice(at + 1);
  }
  return env;
}

export interface RayEvalPlan {
  client: RayJobsClient;
  shards: number;
  out: string;
  root: string;
  entrypoint: (shard: number, dir: string) => string;
  runtimeEnv: RuntimeEnv | undefined;
}

/** Checks the --ray flags and builds the shard command lines (no network yet). */
export function planRayEval(a: RayArgs & { model: string; report?: string; resume?: string; shard?: string; json?: boolean }, parsed: Record<string, unknown>): RayEvalPlan {
  if (a.ray === undefined) throw new UsageError('planRayEval needs --ray');
  const client = new RayJobsClient(a.ray);
  if (a.shards === undefined || !Number.isInteger(a.shards) || a.shards < 1) throw new UsageError('--ray needs --shards N (a positive integer)', { code: 'ray-shards' });
  if (a.report === undefined) throw new UsageError('--ray needs --report OUT: the merged report goes there and the shards\' into OUT/shards/, a folder every worker must see', { code: 'ray-needs-report' });
  if (a.resume !== undefined) throw new UsageError('--ray runs afresh: a failed shard is retried by the run itself; drop --resume', { code: 'ray-resume' });
  if (a.shard !== undefined) throw new UsageError('--ray makes the shards itself: drop --shard', { code: 'ray-shards' });
  if (!Number.isInteger(a.rayRetries) || a.rayRetries < 0 || a.rayRetries > 10) throw new UsageError('--ray-retries must be an integer from 0 to 10', { code: 'ray-retries' });
  if (!(a.rayCpus > 0)) throw new UsageError('--ray-cpus must be positive', { code: 'ray-cpus' });
  if (!(a.rayGpus >= 0)) throw new UsageError('--ray-gpus must be 0 or more', { code: 'ray-gpus' });
  if (!(a.rayTimeout > 0)) throw new UsageError('--ray-timeout must be a positive number of seconds', { code: 'ray-timeout' });
  const cwd = resolve(a.rayCwd ?? process.cwd());
  const out = isAbsolute(a.report) ? a.report : resolve(cwd, a.report);
  const root = join(out, 'shards');
  const rest = workerArgs(parsed);
  // ONNX Runtime's default (min(4, cores)) would oversubscribe a node running several shards
  if (parsed['threads'] === undefined) rest.push('--threads', String(Math.max(1, Math.floor(a.rayCpus))));
  const entrypoint = (shard: number, dir: string) =>
    `cd ${shellQuote(cwd)} && ${a.rayEntrypoint} eval ${[a.model, ...rest, '--shard', `${shard}/${a.shards}`, '--report', dir].map(shellQuote).join(' ')}`;
  const env = envVars(a.rayEnv);
  return { client, shards: a.shards, out, root, entrypoint, runtimeEnv: env ? { env_vars: env } : undefined };
}

/** Runs the plan: the shards on Ray (with retries), then the merge into OUT. */
export async function runEvalOnRay(a: RayArgs & { model: string; report?: string; resume?: string; shard?: string; json?: boolean; quiet?: boolean }, parsed: Record<string, unknown>): Promise<void> {
  const plan = planRayEval(a, parsed);
  const say = a.quiet || a.json ? () => {} : (l: string) => process.stderr.write(`${l}\n`);
  const v = await plan.client.version();
  say(`ray: ${plan.client.base} (Ray ${v.ray}): ${plan.shards} shards of ${a.rayCpus} CPU each, up to ${a.rayRetries} retries each; shard reports in ${plan.root}`);
  const { mergeReports } = await import('../runtime/merge.js');
  const { formatTable } = await import('./eval-command.js');
  // Ctrl-C: stop the jobs (the cluster would otherwise run them on), keep the finished shard folders
  const interrupt = new AbortController();
  const onSignal = () => {
    say('ray: interrupted: stopping the jobs …');
    interrupt.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const result = await runShardsOnRay({
    signal: interrupt.signal,
    client: plan.client, shards: plan.shards, retries: a.rayRetries, root: plan.root, cpusPerShard: a.rayCpus, ...(a.rayGpus > 0 ? { gpusPerShard: a.rayGpus } : {}), timeoutMs: a.rayTimeout * 1000,
    entrypoint: (j) => plan.entrypoint(j.shard, j.dir), ...(plan.runtimeEnv ? { runtimeEnv: plan.runtimeEnv } : {}), progress: say,
  }).finally(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });
  const merged = await mergeReports(result.dirs, plan.out);
  say(`ray: ${plan.shards} shards in ${result.wallS.toFixed(1)} s (${result.attempts.length} jobs); merged into ${merged.written.json}, ${merged.written.html}, ${merged.written.perSample}`);
  process.stdout.write(a.json ? `${JSON.stringify(merged.report, null, 1)}\n` : `${formatTable(merged.report)}\n`);
}
