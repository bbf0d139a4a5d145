// Peak RSS of `jumprelu eval` against grid size, for a VGG-sized model (issue #15: memory must not grow with the
// grid): VGG-11 at 32×32 (9.2 M parameters, random weights, test/helpers/vgg.ts), n images labelled with its own
// predictions, FGSM white-box at 1, 4 and 8 κ (1, 4, 8 settings), one child process per run, its peak measured
// from outside (test/helpers/max-rss.ts) next to the one the report records. Then --max-memory: DeepFool-L2 on
// the same model with budgets, the batch chosen and the peak reached.
//   npm run build && nice -n 10 node dist/bench/eval-memory.bench.js [--n 16] [--cli OTHER/dist/src/cli/jumprelu.js]
// --cli runs another build (e.g. a checkout of an older commit) for a before/after comparison.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeVggCase } from '../test/helpers/vgg.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const cli = arg('--cli', join(here, '../src/cli/jumprelu.js'));
const n = Number(arg('--n', '16'));
const grids = arg('--grids', '1,4,8').split(',').map(Number);
const budgets = arg('--budgets', '700M,1G').split(',').filter(Boolean);
const maxRss = pathToFileURL(join(here, '../test/helpers/max-rss.js')).href;
const KAPPAS = [0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1];

function run(argv: string[]): Promise<{ peakMb: number; seconds: number; report: Record<string, any> | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', maxRss, cli, 'eval', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('close', (code) => {
      const m = /max-rss-kb (\d+)/.exec(err);
      if (code !== 0 || !m) return reject(new Error(`eval exited ${code}: ${err.slice(-1500)}`));
      let report = null;
      try { report = JSON.parse(out); } catch { /* an older build may print no JSON */ }
      resolve({ peakMb: Number(m[1]) / 1024, seconds: (performance.now() - t0) / 1000, report, stderr: err });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'jumprelu-memory-bench-'));
try {
  const c = await writeVggCase(dir, n);
  console.log(`VGG-11 at 32×32, ${(c.parameters / 1e6).toFixed(1)} M parameters, n=${n}; ${cli}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const common = [c.model, '--data', c.data, '--mode', 'white-box', '--threads', '1', '--preprocessing', 'none', '--json'];
  console.log('settings (κ × fgsm white-box)  peak RSS MB  report peak MB  wall s');
  for (const g of grids) {
    const r = await run([...common, '--attacks', 'fgsm', '--kappa', KAPPAS.slice(0, g).join(',')]);
    const rep = r.report?.['resources']?.['peak_rss_bytes'];
    console.log(`${String(g).padStart(29)}  ${r.peakMb.toFixed(0).padStart(11)}  ${(rep ? (rep / 2 ** 20).toFixed(0) : '-').padStart(14)}  ${r.seconds.toFixed(1).padStart(6)}`);
  }
  if (budgets.length) {
    console.log('--max-memory (deepfool2, 1 κ, --batch 500)  batch chosen  peak RSS MB  wall s');
    for (const b of budgets) {
      const r = await run([...common, '--attacks', 'deepfool2', '--kappa', '0', '--max-memory', b]);
      const batch = r.report?.['settings']?.['batch'];
      console.log(`${b.padStart(43)}  ${String(batch ?? '-').padStart(12)}  ${r.peakMb.toFixed(0).padStart(11)}  ${r.seconds.toFixed(1).padStart(6)}`);
    }
    const r = await run([...common, '--attacks', 'deepfool2', '--kappa', '0']);
    console.log(`${'(none)'.padStart(43)}  ${String(r.report?.['settings']?.['batch'] ?? '-').padStart(12)}  ${r.peakMb.toFixed(0).padStart(11)}  ${r.seconds.toFixed(1).padStart(6)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
