// Writing a detection report folder: report.json and report.html, each atomically (report/write.ts's
// writeFileAtomic: a temporary file in the same folder, fsynced, renamed over the final name), so a reader or an
// interrupted run never sees half a file. Both are rendered before either is written.

import { join } from 'node:path';
import { prepareReportDir, writeFileAtomic } from '../report/write.js';
import { renderDetectHtml } from './html.js';
import type { DetectReport } from './schema.js';

export function writeDetectReport(dir: string, report: DetectReport): { json: string; html: string } {
  prepareReportDir(dir);
  const json = join(dir, 'report.json');
  const html = join(dir, 'report.html');
  const jsonText = `${JSON.stringify(report, null, 1)}\n`;
  const htmlText = renderDetectHtml(report);
  writeFileAtomic(json, [jsonText]);
  writeFileAtomic(html, [htmlText]);
  return { json, html };
}
