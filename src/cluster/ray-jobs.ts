// A typed client of Ray's job-submission REST API (the dashboard's /api/jobs/ endpoints, the ones the Python
// SDK and `ray job submit` use), on node:http(s): the caller needs no Python. Not on Node's fetch: fetch
// always sends `Sec-Fetch-Mode: cors`, and Ray's dashboard refuses POSTs with any Sec-Fetch-* header as
// browser traffic (405, ray/dashboard/optional_utils.py is_browser_request). Every request has a time limit,
// every wait a deadline, and every failure is a RayError with a stable code (see RAY_ERROR_CODES).

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { JumpReluError, UsageError } from '../ir/errors.js';

/** A job's state as Ray reports it; the last three are terminal. */
export type RayJobStatus = 'PENDING' | 'RUNNING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';
export const RAY_JOB_STATUSES: readonly RayJobStatus[] = ['PENDING', 'RUNNING', 'STOPPED', 'SUCCEEDED', 'FAILED'];
export function isTerminal(s: RayJobStatus): boolean {
  return s === 'STOPPED' || s === 'SUCCEEDED' || s === 'FAILED';
}

/**
 * What Ray can prepare before the entrypoint runs. For node programs only `env_vars` and `working_dir` matter:
 * `working_dir` (a folder or zip URI; local folders are uploaded by the Python SDK only, so here it must be a
 * URI the cluster can fetch) becomes the entrypoint's cwd; pip/conda install Python packages, never node.
 */
export interface RuntimeEnv {
  env_vars?: Record<string, string>;
  working_dir?: string;
  [key: string]: unknown;
}

export interface SubmitRequest {
  /** A shell command, run on a node of the cluster. */
  entrypoint: string;
  /** Our own id (unique per cluster; Ray refuses a reused one). */
  submissionId?: string;
  runtimeEnv?: RuntimeEnv;
  metadata?: Record<string, string>;
  /** Resources the entrypoint holds while it runs: Ray starts it only where they are free (queueing otherwise). */
  entrypointNumCpus?: number;
  entrypointNumGpus?: number;
  entrypointMemory?: number;
}

export interface RayJobInfo {
  submissionId: string;
  status: RayJobStatus;
  message: string;
  entrypoint: string;
  /** ms since the epoch, when Ray set them. */
  startTime: number | null;
  endTime: number | null;
  errorType: string | null;
  driverExitCode: number | null;
  metadata: Record<string, string>;
}

export interface RayVersion {
  /** The job API's version (Ray 2.x serves "4"). */
  api: string;
  ray: string;
}

/**
 * Stable codes (kind `io` unless noted):
 * - ray-address (usage): the address is not an http(s) dashboard address.
 * - ray-unreachable: nothing answers at the address (refused, DNS, reset).
 * - ray-timeout: a request took longer than its limit.
 * - ray-http: Ray answered with an error status (the message has the status and Ray's first line).
 * - ray-not-found: no job with that id.
 * - ray-response: the answer is not the JSON this client expects (a different API version?).
 * - ray-wait-timeout: a job did not reach the awaited state before the deadline.
 * - ray-shard-failed: a shard still failed after its retries (ray-shards.ts).
 * - ray-shard-output: a shard's job succeeded but its report is missing (ray-shards.ts).
 * - ray-interrupted: the run was interrupted (Ctrl-C); its jobs were stopped (ray-shards.ts).
 */
export const RAY_ERROR_CODES = ['ray-address', 'ray-unreachable', 'ray-timeout', 'ray-http', 'ray-not-found', 'ray-response', 'ray-wait-timeout', 'ray-shard-failed', 'ray-shard-output', 'ray-interrupted'] as const;
export type RayErrorCode = (typeof RAY_ERROR_CODES)[number];

/** A failure talking to Ray or running on it: the environment, so kind `io` (exit 1). */
export class RayError extends JumpReluError {
  override name = 'RayError';
  static override readonly defaults = { kind: 'io' as const, code: 'ray' };
  /** The HTTP status when Ray answered. */
  readonly status: number | undefined;
  constructor(message: string, code: RayErrorCode, options: { status?: number; cause?: unknown } = {}) {
    super(message, { code, ...(options.cause !== undefined ? { cause: options.cause } : {}) });
    this.status = options.status;
  }
}

/** `http://host:port` from `host:port` or an http(s) URL; `ray://` (the client port) is refused with a hint. */
export function dashboardUrl(address: string): string {
  const a = address.trim().replace(/\/+$/, '');
  if (a.startsWith('ray://')) {
    throw new UsageError(`--ray ${address}: that is Ray's client address; give the dashboard's (job API) address, e.g. http://HEAD:8265`, { code: 'ray-address' });
  }
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(a) ? a : `http://${a}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`--ray ${address}: not an address (expected http://HOST:PORT of the Ray dashboard)`, { code: 'ray-address' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--ray ${address}: expected an http(s) address of the Ray dashboard`, { code: 'ray-address' });
  }
  if (url.pathname !== '/' && url.pathname !== '') {
    throw new UsageError(`--ray ${address}: give the dashboard's root (http://HOST:PORT), not a path`, { code: 'ray-address' });
  }
  return `${url.protocol}//${url.host}`;
}

export interface RayJobsClientOptions {
  /** Limit of each HTTP request, ms (default 30 s). */
  requestTimeoutMs?: number;
}

interface HttpAnswer {
  status: number;
  text: string;
}

/** One request with a hard time limit on the whole exchange (connect, send, answer). */
function send(url: string, method: string, body: string | undefined, timeoutMs: number): Promise<HttpAnswer> {
  const signal = AbortSignal.timeout(timeoutMs);
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method, signal,
      headers: { 'user-agent': 'jumprelu', accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface WaitOptions {
  /** Deadline of the whole wait, ms. Required: every wait is bounded. */
  timeoutMs: number;
  /** Pause between polls, ms (default 1 s). */
  intervalMs?: number;
  /** When to stop (default: a terminal status). */
  until?: (info: RayJobInfo) => boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function firstLine(text: string): string {
  // Ray answers errors as text/plain, often a Python traceback: its last line names the exception
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length === 0) return '(empty body)';
  const last = lines[lines.length - 1]!;
  const line = lines[0]!.startsWith('Traceback') ? last : lines[0]!;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new RayError(`Ray's answer has no string ${what}`, 'ray-response');
  return v;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function jobInfo(body: unknown): RayJobInfo {
  if (typeof body !== 'object' || body === null) throw new RayError('Ray\'s job details are not an object', 'ray-response');
  const b = body as Record<string, unknown>;
  const status = str(b['status'], 'status') as RayJobStatus;
  if (!RAY_JOB_STATUSES.includes(status)) throw new RayError(`Ray reports an unknown job status '${status}'`, 'ray-response');
  const meta = b['metadata'];
  return {
    submissionId: str(b['submission_id'] ?? b['job_id'], 'submission_id'),
    status,
    message: typeof b['message'] === 'string' ? b['message'] : '',
    entrypoint: typeof b['entrypoint'] === 'string' ? b['entrypoint'] : '',
    startTime: num(b['start_time']),
    endTime: num(b['end_time']),
    errorType: typeof b['error_type'] === 'string' ? b['error_type'] : null,
    driverExitCode: num(b['driver_exit_code']),
    metadata: typeof meta === 'object' && meta !== null ? (meta as Record<string, string>) : {},
  };
}

export class RayJobsClient {
  readonly base: string;
  private readonly requestTimeoutMs: number;

  constructor(address: string, options: RayJobsClientOptions = {}) {
    this.base = dashboardUrl(address);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  private async request(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
    const url = `${this.base}${path}`;
    let res: HttpAnswer;
    try {
      res = await send(url, method, body === undefined ? undefined : JSON.stringify(body), this.requestTimeoutMs);
    } catch (err) {
      const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
      if (e.name === 'TimeoutError' || e.name === 'AbortError') {
        throw new RayError(`Ray at ${this.base}: ${method} ${path} took longer than ${(this.requestTimeoutMs / 1000).toFixed(1)} s`, 'ray-timeout', { cause: err });
      }
      const why = e.code ?? e.cause?.code ?? e.message;
      throw new RayError(`Ray at ${this.base} cannot be reached (${why}); is the head running with its dashboard (ray start --head --include-dashboard=true)?`, 'ray-unreachable', { cause: err });
    }
    const { text } = res;
    if (res.status === 404) throw new RayError(`Ray at ${this.base}: ${firstLine(text)} (${method} ${path}: 404)`, 'ray-not-found', { status: 404 });
    if (res.status < 200 || res.status >= 300) throw new RayError(`Ray at ${this.base}: ${method} ${path} answered ${res.status}: ${firstLine(text)}`, 'ray-http', { status: res.status });
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new RayError(`Ray at ${this.base}: ${method} ${path} did not answer JSON (${firstLine(text)})`, 'ray-response', { status: res.status });
    }
  }

  async version(): Promise<RayVersion> {
    const b = (await this.request('GET', '/api/version')) as Record<string, unknown>;
    return { api: String(str(b['version'], 'version')), ray: str(b['ray_version'], 'ray_version') };
  }

  async submit(req: SubmitRequest): Promise<string> {
    const body: Record<string, unknown> = { entrypoint: req.entrypoint };
    if (req.submissionId !== undefined) body['submission_id'] = req.submissionId;
    if (req.runtimeEnv !== undefined) body['runtime_env'] = req.runtimeEnv;
    if (req.metadata !== undefined) body['metadata'] = req.metadata;
    if (req.entrypointNumCpus !== undefined) body['entrypoint_num_cpus'] = req.entrypointNumCpus;
    if (req.entrypointNumGpus !== undefined) body['entrypoint_num_gpus'] = req.entrypointNumGpus;
    if (req.entrypointMemory !== undefined) body['entrypoint_memory'] = req.entrypointMemory;
    const b = (await this.request('POST', '/api/jobs/', body)) as Record<string, unknown>;
    return str(b['submission_id'] ?? b['job_id'], 'submission_id');
  }

  async status(id: string): Promise<RayJobInfo> {
    return jobInfo(await this.request('GET', `/api/jobs/${encodeURIComponent(id)}`));
  }

  async list(): Promise<RayJobInfo[]> {
    const b = await this.request('GET', '/api/jobs/');
    if (!Array.isArray(b)) throw new RayError('Ray\'s job list is not an array', 'ray-response');
    return b.map(jobInfo);
  }

  /** Everything the entrypoint wrote so far (stdout and stderr together). */
  async logs(id: string): Promise<string> {
    const b = (await this.request('GET', `/api/jobs/${encodeURIComponent(id)}/logs`)) as Record<string, unknown>;
    return str(b['logs'], 'logs');
  }

  /** Asks Ray to stop the job (SIGTERM to the entrypoint, then SIGKILL); false when it had already ended. */
  async stop(id: string): Promise<boolean> {
    const b = (await this.request('POST', `/api/jobs/${encodeURIComponent(id)}/stop`)) as Record<string, unknown>;
    return b['stopped'] === true;
  }

  /** Forgets a terminal job (its details and logs); Ray refuses for a job still running. */
  async delete(id: string): Promise<boolean> {
    const b = (await this.request('DELETE', `/api/jobs/${encodeURIComponent(id)}`)) as Record<string, unknown>;
    return b['deleted'] === true;
  }

  /** Polls until `until` (default: a terminal status) or the deadline, which throws ray-wait-timeout. */
  async waitFor(id: string, options: WaitOptions): Promise<RayJobInfo> {
    const deadline = performance.now() + options.timeoutMs;
    const until = options.until ?? ((i: RayJobInfo) => isTerminal(i.status));
    const interval = options.intervalMs ?? 1000;
    for (;;) {
      const info = await this.status(id);
      if (until(info)) return info;
      const left = deadline - performance.now();
      if (left <= 0) throw new RayError(`Ray job ${id} is still ${info.status} after ${(options.timeoutMs / 1000).toFixed(1)} s`, 'ray-wait-timeout');
      await sleep(Math.min(interval, left));
    }
  }
}
