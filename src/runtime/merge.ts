// `jumprelu merge DIR… --report OUT`: the shard reports of one evaluation (eval --shard i/n, shard.ts) combined
// into the report the unsharded run gives, field for field — timings (created, wall_s) and where the shards ran
// (merged_from) aside. Every figure is recomputed from the shards' per-sample rows over the whole set, by the
// same functions evaluate uses (summarise, worstCase, maskingFindings, verdict); what has no per-sample row
// (clean accuracy, the transfer matrix's rows crafted on other κ, the iteration curves) is added up from the
// shards' counts (each a fraction of the shard's n, so the count is exact); the example pictures are the first
// successful samples of the whole set, taken from the shards' own first ones.
//
// Refused, with one line and a stable code: a folder without a finished shard report (merge-not-shard,
// merge-partial), shards of different runs (merge-mismatch: settings, model hash and interface, data hash, input
// convention, tool version, shard count), a shard missing (merge-missing) or given twice (merge-overlap), rows that do not
// match their report (merge-corrupt, exit 1). Mismatches are usage errors (exit 2): the folders named are wrong.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JumpReluError, UsageError } from '../ir/errors.js';
import { fileNotFound, fileReadError } from '../ir/file-errors.js';
import { makeAttack, isAttackName } from './attacks/registry.js';
import type { EvalRun, PerSampleRow } from './evaluate.js';
import { maskingWarnings } from './evaluate.js';
import { summarise, worstCase } from './metrics.js';
import type { AttackResult, CleanResult, ExampleImage, IterationCurve, Norm, Report, TransferMatrix } from './report/schema.js';
import { PER_SAMPLE_FILE, writeReportDir } from './report/write.js';
import { maskingFindings, verdict } from './verdict.js';

/** A shard report that cannot be merged: its rows or figures do not hold together (exit 1). */
export class ShardDataError extends JumpReluError {
  override readonly name = 'ShardDataError';
  static override readonly defaults = { kind: 'data' as const, code: 'merge-corrupt' };
}

interface Shard {
  dir: string;
  report: Report;
  rows: PerSampleRow[];
}

const cellKey = (r: { kappa: number; attack: string; mode: string }) => `${r.kappa}\u0000${r.attack}\u0000${r.mode}`;

function readShard(dir: string): Shard {
  const file = join(dir, 'report.json');
  // a missing folder or report is a missing file (io, exit 1), as for every path option
  if (!existsSync(dir)) throw fileNotFound(dir, 'merge', 'folder');
  if (!existsSync(file)) throw new JumpReluError(`merge: ${dir} holds no report.json (not a report folder)`, { code: 'file-not-found' });
  let report: Report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  } catch (e) {
    throw new ShardDataError(`merge: ${file} is not readable JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (report.format !== 1) throw new ShardDataError(`merge: ${file} is not a jumprelu report of format 1`);
  if (!report.shard) throw new UsageError(`merge: ${dir} is not a shard report (run with eval --shard i/n)`, { code: 'merge-not-shard' });
  if (report.partial) {
    throw new UsageError(`merge: shard ${report.shard.index}/${report.shard.count} in ${dir} is unfinished (${report.partial.results_done} results done); finish it with --resume ${dir}`, { code: 'merge-partial' });
  }
  const rowsFile = join(dir, report.per_sample_file ?? PER_SAMPLE_FILE);
  let text: string;
  try {
    text = readFileSync(rowsFile, 'utf8');
  } catch (e) {
    throw fileReadError(rowsFile, e, 'merge');
  }
  const rows: PerSampleRow[] = [];
  let line = 0;
  for (const l of text.split('\n')) {
    line++;
    if (!l.trim()) continue;
    try {
      rows.push(JSON.parse(l) as PerSampleRow);
    } catch {
      throw new ShardDataError(`merge: ${rowsFile} line ${line} is not JSON`);
    }
  }
  return { dir, report, rows };
}

/** What must be equal in every shard for them to be parts of one run (label → value). */
function identity(r: Report): Array<[string, unknown]> {
  const { n: _n, path: _path, ...data } = r.data;
  // performance knobs may differ per machine (results do not depend on them: per-sample streams, fixed-length curves)
  const { ort_threads: _t, ort_threads_rule: _tr, max_memory: _mm, batch: _b, ...settings } = r.settings;
  const s = r.shard!;
  return [
    ['kind', r.kind],
    ['tool version', r.tool.version],
    ['model (sha256)', r.model.sha256],
    ['model interface', r.model.interface ?? null],
    ['data (sha256 of the evaluated set)', s.data_sha256],
    ['number of samples', s.total],
    ['data settings', data],
    ['input convention', r.input_convention ?? null],
    ['settings', settings],
    ['shard count', s.count],
    ['shard scheme', s.scheme],
    ['cells', r.results.map(cellKey)],
    ['κ of the clean results', r.clean.map((c) => c.kappa)],
    ['transfer matrices', (r.transfers ?? []).map((t) => [t.attack, t.source_kappas, t.target_kappas])],
    ['curves', (r.curves ?? []).map((c) => [cellKey(c), c.iterations.length])],
    ['data warnings', s.base_warnings],
  ];
}

/** Which of the identity fields differ (settings named down to the key). */
function differences(a: Report, b: Report): string[] {
  const ia = identity(a);
  const ib = identity(b);
  const out: string[] = [];
  ia.forEach(([label, va], i) => {
    const vb = ib[i]![1];
    if (JSON.stringify(va) === JSON.stringify(vb)) return;
    if (label === 'settings' || label === 'data settings') {
      const ra = va as Record<string, unknown>;
      const rb = vb as Record<string, unknown>;
      const keys = [...new Set([...Object.keys(ra), ...Object.keys(rb)])].filter((k) => JSON.stringify(ra[k]) !== JSON.stringify(rb[k]));
      out.push(`${label === 'settings' ? 'settings' : 'data'} (${keys.join(', ')})`);
    } else out.push(label);
  });
  return out;
}

/** The shards in order, checked to be the whole of one run: same run, every index once. */
function checkShards(shards: Shard[]): Shard[] {
  const first = shards[0]!;
  for (const s of shards.slice(1)) {
    const d = differences(first.report, s.report);
    if (d.length) {
      throw new UsageError(`merge: ${s.dir} is a shard of another run than ${first.dir}: they differ in ${d.join('; ')}`, { code: 'merge-mismatch' });
    }
  }
  const count = first.report.shard!.count;
  const byIndex = new Map<number, Shard>();
  for (const s of shards) {
    const i = s.report.shard!.index;
    const seen = byIndex.get(i);
    if (seen) throw new UsageError(`merge: shard ${i}/${count} is given twice (${seen.dir} and ${s.dir})`, { code: 'merge-overlap' });
    byIndex.set(i, s);
  }
  const missing = Array.from({ length: count }, (_, k) => k + 1).filter((i) => !byIndex.has(i));
  if (missing.length) {
    throw new UsageError(`merge: shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} missing (given: ${[...byIndex.keys()].sort((a, b) => a - b).join(', ') || 'none'})`, { code: 'merge-missing' });
  }
  const ordered = [...byIndex.keys()].sort((a, b) => a - b).map((i) => byIndex.get(i)!);
  // contiguous and covering: each starts where the one before ends
  let at = 0;
  for (const s of ordered) {
    const { first: f, end, index } = s.report.shard!;
    if (f !== at) throw new UsageError(`merge: shard ${index}/${count} in ${s.dir} starts at sample ${f}, not ${at}: the shards overlap or leave a gap`, { code: f < at ? 'merge-overlap' : 'merge-missing' });
    if (s.report.data.n !== end - f) throw new ShardDataError(`merge: ${s.dir}: data.n ${s.report.data.n} but the shard covers ${end - f} samples`);
    at = end;
  }
  if (at !== first.report.shard!.total) throw new ShardDataError(`merge: the shards cover ${at} samples of ${first.report.shard!.total}`);
  return ordered;
}

/** A fraction of `n` back to its count (exact: the fraction was count/n). */
const count = (fraction: number, n: number) => Math.round(fraction * n);

/** Merges shard report folders into one run (report and per-sample rows, like evaluate returns). */
export function mergeShards(dirs: readonly string[]): EvalRun {
  if (dirs.length === 0) throw new UsageError('merge: give the shard report folders', { code: 'merge-missing' });
  const shards = checkShards(dirs.map(readShard));
  const head = shards[0]!.report;
  const total = head.shard!.total;

  // per cell, the rows of the whole set in sample order (shard order is sample order)
  const cellRows = new Map<string, PerSampleRow[]>();
  for (const r of head.results) cellRows.set(cellKey(r), []);
  for (const s of shards) {
    const { first, end } = s.report.shard!;
    const mine = new Map<string, number>();
    for (const row of s.rows) {
      const list = cellRows.get(cellKey(row));
      if (!list) throw new ShardDataError(`merge: ${s.dir}: a per-sample row of κ=${row.kappa} ${row.attack} ${row.mode}, which is no result of the report`);
      if (!(row.index >= first && row.index < end)) throw new ShardDataError(`merge: ${s.dir}: a per-sample row of sample ${row.index}, outside the shard's ${first}…${end - 1}`);
      if (typeof row.attacked !== 'boolean') throw new ShardDataError(`merge: ${s.dir}: per-sample rows without 'attacked' (not written by eval --shard)`);
      list.push(row);
      mine.set(cellKey(row), (mine.get(cellKey(row)) ?? 0) + 1);
    }
    for (const r of s.report.results) {
      if (mine.get(cellKey(r)) !== end - first) throw new ShardDataError(`merge: ${s.dir}: κ=${r.kappa} ${r.attack} ${r.mode} has ${mine.get(cellKey(r)) ?? 0} per-sample rows for ${end - first} samples`);
    }
  }
  const rowsOf = (r: { kappa: number; attack: string; mode: string }) => cellRows.get(cellKey(r))!;

  const clean: CleanResult[] = head.clean.map((c, j) => ({
    ...c, n: total, accuracy: shards.reduce((sum, s) => sum + count(s.report.clean[j]!.accuracy, s.report.data.n), 0) / total,
  }));
  const results: AttackResult[] = head.results.map((r, j) => {
    const rows = rowsOf(r);
    rows.sort((a, b) => a.index - b.index);
    const sum = summarise(rows, Uint8Array.from(rows, (row) => (row.attacked ? 1 : 0)));
    const merged: AttackResult = {
      ...r, n: sum.n, accuracy: sum.accuracy, fooling_rate: sum.fooling_rate, rho_all: sum.rho_all, rho_success: sum.rho_success,
      abs_perturbation_mean: sum.abs_perturbation_mean, iterations_mean: sum.iterations_mean,
      wall_s: shards.reduce((t, s) => t + s.report.results[j]!.wall_s, 0), zero_gradient_rate: sum.zero_gradient_rate,
    };
    return merged;
  });
  const perSample: PerSampleRow[] = [];
  for (const r of results) {
    for (const row of rowsOf(r)) {
      const { attacked: _a, ...plain } = row;
      perSample.push({ ...plain, attacked: row.attacked === true });
    }
  }

  const budgets = new Map<string, { norm: Norm; eps: number } | null>();
  for (const [name, params] of Object.entries(head.settings.attacks)) {
    budgets.set(name, isAttackName(name) ? makeAttack(name, params, head.settings.seed).budget ?? null : null);
  }
  const worst = worstCase(results, perSample, budgets);
  const findings = maskingFindings(results, perSample, worst);

  const transfers: TransferMatrix[] = (head.transfers ?? []).map((t, j) => ({
    ...t,
    accuracy: t.accuracy.map((row, a) => row.map((_, b) => shards.reduce((sum, s) => sum + count(s.report.transfers![j]!.accuracy[a]![b]!, s.report.data.n), 0) / total)),
  }));
  const curves: IterationCurve[] = (head.curves ?? []).map((c, j) => ({
    ...c, accuracy: c.accuracy.map((_, t) => shards.reduce((sum, s) => sum + count(s.report.curves![j]!.accuracy[t]!, s.report.data.n), 0) / total),
  }));
  const perResult = head.settings.examples_per_result ?? 2;
  const examples: ExampleImage[] = [];
  for (const r of results) {
    const pool = shards.flatMap((s) => (s.report.examples ?? []).filter((e) => cellKey(e) === cellKey(r)));
    pool.sort((a, b) => a.index - b.index);
    examples.push(...pool.slice(0, perResult));
  }

  const { shard: _shard, partial: _partial, per_sample_file: _psf, merged_from: _mf, ...rest } = head;
  const report: Report = {
    ...rest,
    created: shards.map((s) => s.report.created).sort()[0]!,
    data: { ...head.data, n: total },
    clean,
    results,
    warnings: [...head.shard!.base_warnings, ...maskingWarnings(results), ...findings.map((f) => `gradient masking: ${f.message}`)],
  };
  delete report.worst_case;
  delete report.verdict;
  // each shard's own process: the largest of their peaks (per shard: merged_from has the hosts)
  delete report.resources;
  const peaks = shards.map((s) => s.report.resources?.peak_rss_bytes).filter((p): p is number => typeof p === 'number');
  if (peaks.length) report.resources = { peak_rss_bytes: Math.max(...peaks) };
  delete report.transfer;
  delete report.transfers;
  delete report.curves;
  delete report.examples;
  if (worst.length) report.worst_case = worst;
  if (results.length) report.verdict = verdict(clean, results, worst, findings);
  if (transfers.length) {
    report.transfer = transfers[0]!;
    report.transfers = transfers;
  }
  if (curves.length) report.curves = curves;
  if (examples.length) report.examples = examples;
  report.merged_from = {
    shards: shards.length, scheme: head.shard!.scheme, hosts: shards.map((s) => s.report.shard!.host), created: shards.map((s) => s.report.created),
  };
  return { report, perSample };
}

/** mergeShards, then the merged folder written (report.json, report.html, per-sample.jsonl; atomically each). */
export async function mergeReports(dirs: readonly string[], out: string): Promise<EvalRun & { written: { json: string; html: string; perSample: string } }> {
  if (dirs.includes(out)) throw new UsageError(`merge: --report ${out} is one of the shard folders; write the merged report elsewhere`, { code: 'merge-output' });
  const run = mergeShards(dirs);
  const written = await writeReportDir(out, run.report, run.perSample);
  return { ...run, written };
}
