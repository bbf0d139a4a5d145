// CPU time of each step of one conversion in one process (process.cpuUsage, user + sys): decoding, planning
// (what --list does), the site table, the retrofit (verifier before and after included), the table of the
// result, encoding and writing. Alternate runs of two builds to compare them on a noisy machine.
//   node dist/bench/convert-steps.js MODEL.onnx [KAPPA]      (e.g. a 128k Relu chain: --write-chain FILE N)

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeModel } from '../src/ir/encode.js';
import { loadModel, saveModel } from '../src/ir/io.js';
import { planRetrofit } from '../src/passes/jumprelu.js';
import { retrofit } from '../src/passes/retrofit.js';
import { formatSiteTable } from '../src/cli/convert-command.js';
import { buildReluChain } from '../test/helpers/build-model.js';

const args = process.argv.slice(2);
if (args[0] === '--write-chain') {
  fs.writeFileSync(args[1]!, encodeModel(buildReluChain(Number(args[2] ?? 131072))).toBytes());
  process.exit(0);
}
const [file, kappaText] = args as [string, string | undefined];
const kappa = Number(kappaText ?? 0.5);
const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const out: Record<string, number> = {};
let t = cpu();
function step<R>(name: string, f: () => R): R {
  const r = f();
  const now = cpu();
  out[name] = Math.round(now - t);
  t = now;
  return r;
}
const model = step('decode', () => loadModel(file));
const plan = step('plan', () => planRetrofit(model, { kappa }));
step('table', () => formatSiteTable(plan).length);
const report = step('retrofit', () => retrofit(model, { kappa }));
step('table2', () => formatSiteTable(report.sites).length);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-steps-'));
step('encode+write', () => saveModel(model, path.join(dir, 'out.onnx')));
fs.rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ ms: out, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024), load: os.loadavg()[0] }));
