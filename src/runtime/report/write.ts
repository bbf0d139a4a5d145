// Writing a run's report folder: report.json (schema.ts), per-sample.jsonl (one line per sample per result)
// and report.html (self-contained page from html.ts). Every file is written to a temporary name and renamed,
// so a full disk or an interrupt leaves the last complete version, never a cut one.

import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { JumpReluError } from '../../ir/errors.js';
import type { PerSampleRow } from '../evaluate.js';
import { renderReportHtml } from './html.js';
import type { Report } from './schema.js';

export const PER_SAMPLE_FILE = 'per-sample.jsonl';

/** The report folder cannot be written (full disk, permissions): exit 1, the last complete files kept. */
export class ReportWriteError extends JumpReluError {
  override readonly name = 'ReportWriteError';
  static override readonly defaults = { kind: 'io' as const, code: 'report-write' };
}

function round(v: number): number {
  return Number.isInteger(v) ? v : Math.round(v * 1e7) / 1e7;
}

function why(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOSPC': return 'no space left on device';
    case 'EDQUOT': return 'disk quota exceeded';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EROFS': return 'read-only file system';
    case 'ENOTDIR': return 'a path component is not a folder';
    default: return err.code ?? (e as Error).message;
  }
}

/** Writes `chunks` to `file` atomically: a temporary file in the same folder, fsynced, then renamed over it. */
export function writeFileAtomic(file: string, chunks: Iterable<string | Uint8Array>): void {
  const tmp = `${file}.tmp-${process.pid}`;
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
    for (const c of chunks) writeSync(fd, typeof c === 'string' ? Buffer.from(c) : c);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== null) try { closeSync(fd); } catch { /* already failing */ }
    try { unlinkSync(tmp); } catch { /* not created */ }
    throw new ReportWriteError(`cannot write ${file}: ${why(e)}${(e as NodeJS.ErrnoException).code === 'ENOSPC' ? ' (the last complete report is kept)' : ''}`);
  }
}

/**
 * Makes sure the report folder can be written, before the first attack: creates it, and writes and removes a
 * probe file. An unwritable folder is an io error (exit 1, code report-write), refused before anything runs.
 */
export function prepareReportDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    const probe = join(dir, `.probe-${process.pid}`);
    writeFileAtomic(probe, ['ok\n']);
    unlinkSync(probe);
  } catch (e) {
    const reason = e instanceof ReportWriteError ? e.message.replace(/^cannot write [^:]*: /, '') : why(e);
    throw new ReportWriteError(`--report ${dir}: cannot write there (${reason})`);
  }
}

/**
 * One per-sample row. `shard`: the form of a shard report's rows, what `jumprelu merge` reads back: ρ and the
 * perturbation at full precision (the merged figures are recomputed from them and must equal the unsharded
 * run's) and whether the sample was attacked (the denominator of iterations_mean and zero_gradient_rate).
 */
export function perSampleLine(r: PerSampleRow, shard = false): string {
  return JSON.stringify({
    kappa: r.kappa, attack: r.attack, mode: r.mode, index: r.index, label: r.label, clean_pred: r.clean_pred, adv_pred: r.adv_pred,
    success: r.success, rho: shard ? r.rho : round(r.rho), abs: shard ? r.abs : round(r.abs), iterations: r.iterations, zero_gradient: r.zero_gradient,
    ...(shard ? { attacked: r.attacked === true } : {}),
  });
}

function* perSampleChunks(rows: readonly PerSampleRow[], shard: boolean): Generator<string> {
  const chunk: string[] = [];
  for (const r of rows) {
    chunk.push(perSampleLine(r, shard));
    if (chunk.length >= 5000) yield `${chunk.splice(0).join('\n')}\n`;
  }
  if (chunk.length) yield `${chunk.join('\n')}\n`;
}

/** report.json and report.html (atomically each). */
export function writeReportFiles(dir: string, report: Report): { json: string; html: string } {
  report.per_sample_file = PER_SAMPLE_FILE;
  const json = join(dir, 'report.json');
  writeFileAtomic(json, [`${JSON.stringify(report, null, 1)}\n`]);
  const html = join(dir, 'report.html');
  writeFileAtomic(html, [renderReportHtml(report)]);
  return { json, html };
}

/** The whole folder: per-sample.jsonl, report.json, report.html — each written atomically. */
export async function writeReportDir(dir: string, report: Report, perSample: readonly PerSampleRow[]): Promise<{ json: string; html: string; perSample: string }> {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new ReportWriteError(`cannot create ${dir}: ${why(e)}`);
  }
  const perSamplePath = join(dir, PER_SAMPLE_FILE);
  writeFileAtomic(perSamplePath, perSampleChunks(perSample, report.shard !== undefined));
  return { ...writeReportFiles(dir, report), perSample: perSamplePath };
}

/** Removes a folder tree, ignoring what is already gone. */
export function removeTree(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
