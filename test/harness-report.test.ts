// Reports that survive interruption: the report folder is rewritten atomically after each cell, Ctrl-C keeps
// every finished cell, `--resume DIR` ends with the report an uninterrupted run gives (timings aside), an
// unwritable folder is refused before the first attack, and a full disk keeps the last complete report.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs, { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';

import { ReportWriteError, writeReportFiles } from '../src/runtime/report/write.js';
import type { Report } from '../src/runtime/report/schema.js';
import { defaultHeldoutPaths, defaultModelPath, repoRoot } from './fixtures.js';

const bin = join(repoRoot(), 'dist', 'src', 'cli', 'jumprelu.js');
const { images, labels } = defaultHeldoutPaths();
const args = ['eval', defaultModelPath(), '--data', `mnist:${images},${labels}`, '--kappa', '0,1,1.5', '--attacks', 'deepfool2,fgsm',
  '--mode', 'white-box,gray-box', '--limit', '100', '--threads', '1', '--quiet'];

/** The report without what legitimately differs between runs (creation time, wall times, peak memory, the folder). */
function comparable(r: Report): unknown {
  return { ...r, created: null, results: r.results.map((x) => ({ ...x, wall_s: null })), resources: null };
}

test('kill -INT mid-run, then --resume: the same report as an uninterrupted run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jumprelu-resume-'));
  try {
    const whole = join(dir, 'whole');
    const cut = join(dir, 'cut');
    const full = spawnSync(process.execPath, [bin, ...args, '--report', whole], { encoding: 'utf8' });
    assert.equal(full.status, 0, full.stderr);
    const expected = JSON.parse(readFileSync(join(whole, 'report.json'), 'utf8')) as Report;
    const total = expected.results.length;
    assert.equal(total, 3 * 2 * 2);
    assert.equal(expected.partial, undefined, 'a complete report has no `partial`');
    assert.ok(!existsSync(join(whole, '.checkpoint')), 'the checkpoint is removed when the run completes');

    // interrupt once a few cells are done
    const child = spawn(process.execPath, [bin, ...args, '--report', cut], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += String(d); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let seen = 0;
    for (let t = 0; t < 1200 && child.exitCode === null; t++) {
      await new Promise((r) => setTimeout(r, 50));
      try {
        seen = (JSON.parse(readFileSync(join(cut, 'report.json'), 'utf8')) as Report).partial?.results_done ?? 0;
      } catch { /* not written yet: it is renamed into place, so it is never half-written */ }
      if (seen >= 2) break;
    }
    child.kill('SIGINT');
    const code = await exited;
    assert.equal(code, 130, `interrupted (exit ${code}) after ${seen} results; stderr: ${stderr}`);
    assert.match(stderr, /interrupted: .* continue with the same command and --resume/);
    const partial = JSON.parse(readFileSync(join(cut, 'report.json'), 'utf8')) as Report;
    assert.ok(partial.partial && partial.results.length >= 2 && partial.results.length < total, `partial report with ${partial.results.length} of ${total}`);
    assert.ok(readdirSync(cut).every((f) => !f.includes('.tmp-')), 'no temporary files left');
    const partialLines = readFileSync(join(cut, 'per-sample.jsonl'), 'utf8').trim().split('\n').length;
    assert.ok(partialLines >= 100 * partial.results.length, 'per-sample rows of the finished cells are on disk');

    const resumed = spawnSync(process.execPath, [bin, ...args, '--resume', cut], { encoding: 'utf8' });
    assert.equal(resumed.status, 0, resumed.stderr);
    const got = JSON.parse(readFileSync(join(cut, 'report.json'), 'utf8')) as Report;
    assert.deepEqual(comparable(got), comparable(expected));
    assert.equal(readFileSync(join(cut, 'per-sample.jsonl'), 'utf8'), readFileSync(join(whole, 'per-sample.jsonl'), 'utf8'));
    // a complete report has nothing to resume
    const other = spawnSync(process.execPath, [bin, ...args.map((a) => (a === '100' ? '90' : a)), '--resume', whole], { encoding: 'utf8' });
    assert.equal(other.status, 1); // a missing checkpoint is a missing file (io), not a usage error
    assert.match(other.stderr, /no interrupted run there .*its report is complete/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unwritable --report folder is refused before the first attack', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jumprelu-report-'));
  try {
    writeFileSync(join(dir, 'file'), 'x');
    const r = spawnSync(process.execPath, [bin, ...args, '--report', join(dir, 'file', 'out')], { encoding: 'utf8' });
    assert.equal(r.status, 1); // io (report-write), not usage
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /--report .*: cannot write there/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a full disk while rewriting the report keeps the last complete one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jumprelu-enospc-'));
  const report = { format: 1, kind: 'eval', results: [], clean: [], warnings: [] } as unknown as Report;
  const original = fs.writeSync;
  try {
    writeReportFiles(dir, report);
    const before = readFileSync(join(dir, 'report.json'), 'utf8');
    let calls = 0;
    (fs as { writeSync: unknown }).writeSync = (...a: unknown[]) => {
      if (++calls > 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return (original as (...x: unknown[]) => number)(...a);
    };
    syncBuiltinESMExports();
    assert.throws(() => writeReportFiles(dir, { ...report, warnings: ['changed'] }),
      (e: Error) => e instanceof ReportWriteError && /no space left on device \(the last complete report is kept\)/.test(e.message));
    (fs as { writeSync: unknown }).writeSync = original;
    syncBuiltinESMExports();
    assert.equal(readFileSync(join(dir, 'report.json'), 'utf8'), before);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
  } finally {
    (fs as { writeSync: unknown }).writeSync = original;
    syncBuiltinESMExports();
    rmSync(dir, { recursive: true, force: true });
  }
});
