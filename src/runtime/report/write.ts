// Writing a run's report folder: report.json (schema.ts), per-sample.jsonl (one line per sample per result)
// and report.html (self-contained page from html.ts).

import { mkdirSync, writeFileSync, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { PerSampleRow } from '../evaluate.js';
import { renderReportHtml } from './html.js';
import type { Report } from './schema.js';

export const PER_SAMPLE_FILE = 'per-sample.jsonl';

function round(v: number): number {
  return Number.isInteger(v) ? v : Math.round(v * 1e7) / 1e7;
}

export async function writeReportDir(dir: string, report: Report, perSample: readonly PerSampleRow[]): Promise<{ json: string; html: string; perSample: string }> {
  mkdirSync(dir, { recursive: true });
  const perSamplePath = join(dir, PER_SAMPLE_FILE);
  report.per_sample_file = PER_SAMPLE_FILE;
  await new Promise<void>((resolve, reject) => {
    const s = createWriteStream(perSamplePath);
    s.on('error', reject);
    const chunk: string[] = [];
    for (const r of perSample) {
      chunk.push(JSON.stringify({
        kappa: r.kappa, attack: r.attack, mode: r.mode, index: r.index, label: r.label, clean_pred: r.clean_pred, adv_pred: r.adv_pred,
        success: r.success, rho: round(r.rho), abs: round(r.abs), iterations: r.iterations, zero_gradient: r.zero_gradient,
      }));
      if (chunk.length >= 5000) s.write(`${chunk.splice(0).join('\n')}\n`);
    }
    if (chunk.length) s.write(`${chunk.join('\n')}\n`);
    s.end(() => resolve());
  });
  const json = join(dir, 'report.json');
  writeFileSync(json, `${JSON.stringify(report, null, 1)}\n`);
  const html = join(dir, 'report.html');
  writeFileSync(html, renderReportHtml(report));
  return { json, html, perSample: perSamplePath };
}
