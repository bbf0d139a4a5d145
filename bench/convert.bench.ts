// Converter throughput and memory against `cp` of the same bytes, in the same run.
//   npm run bench            (writes ~7 GB of temporary files under $TMPDIR/jumprelu-bench; --skip-large: ~1 GB)
//   node dist/bench/convert.bench.js --sites-only    only the sites sweep (1k…128k-node Relu chains)
//   node dist/bench/convert.bench.js --inline-only [RUNS]  only the two inline models (100 and 236 MB), RUNS rounds (default 5)
// Models: a ResNet-50-sized chain (~100 MB of float32 weights, inline) and a >2 GiB model whose
// weights live in external data. Figures: median of 5 runs (3 for the big model).

import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel } from '../src/ir/encode.js';
import { Model } from '../src/ir/model.js';
import { Node } from '../src/ir/node.js';
import { Attribute } from '../src/ir/attribute.js';
import { DataType, Tensor } from '../src/ir/tensor.js';
import { ValueInfo } from '../src/ir/value-info.js';
import { buildReluChain, modelWithInput } from '../test/helpers/build-model.js';

const dir = path.join(os.tmpdir(), 'jumprelu-bench');
const here = path.dirname(fileURLToPath(import.meta.url));
const convertOnce = path.join(here, 'convert-once.js');

/** Conv(C→C, 3×3) + Relu blocks; weights inline (random) or in an external file. */
function buildChain(blocks: number, channels: number, external: { file: string; location: string } | null): Model {
  const { model, g, x } = modelWithInput('bench', ['N', channels, 8, 8]);
  const perTensor = channels * channels * 9 * 4;
  const fd = external ? fs.openSync(external.file, 'w') : null;
  const chunk = Buffer.alloc(Math.min(perTensor, 64 << 20));
  let cur = x;
  for (let i = 0; i < blocks; i++) {
    let w: Tensor;
    if (fd !== null) {
      for (let done = 0; done < perTensor; done += chunk.length) {
        randomFillSync(chunk);
        fs.writeSync(fd, chunk, 0, Math.min(chunk.length, perTensor - done), i * perTensor + done);
      }
      w = Tensor.fromFloat32(`w${i}`, [channels, channels, 3, 3], []).withExternalData(external!.location, i * perTensor, perTensor);
    } else {
      const data = new Float32Array(channels * channels * 9);
      randomFillSync(data);
      for (let k = 0; k < data.length; k++) data[k] = (data[k]! % 1) * 0.01; // finite values
      w = Tensor.fromFloat32(`w${i}`, [channels, channels, 3, 3], data);
    }
    const wv = g.addInitializer(w);
    const conv = g.append(new Node('Conv', [cur, wv], { name: `conv${i}`, outputNames: [`c${i}`], attributes: [new Attribute('pads', { type: 7, value: [1n, 1n, 1n, 1n] })] }));
    const relu = g.append(new Node('Relu', [conv.outputs[0]!], { name: `relu${i}`, outputNames: [`r${i}`] }));
    cur = relu.outputs[0]!;
  }
  if (fd !== null) fs.closeSync(fd);
  g.addOutput(cur, ValueInfo.tensor(DataType.FLOAT, ['N', channels, 8, 8]));
  return model;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

// CPU time (user + sys) of a child comes from /usr/bin/time where there is one (10 ms resolution): on a
// loaded machine it varies far less than wall time, which waits for the CPU other work holds.
const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

interface Timed {
  wall: number;
  cpu: number | null;
}

function timeCmd(cmd: string, args: string[]): Timed {
  const [exe, argv] = TIME ? [TIME, ['-f', 'cpu %U %S', cmd, ...args]] : [cmd, args];
  const t0 = performance.now();
  const r = spawnSync(exe, argv, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  return { wall, cpu: m ? (Number(m[1]) + Number(m[2])) * 1000 : null };
}

/** What convert-once.ts reports (the step fields are absent in --copy mode), plus the wall time around it. */
interface Once {
  wallMs: number;
  startMs: number;
  importMs: number;
  ms: number;
  cpuMs: number;
  rss: number;
  [step: string]: number;
}

function convert(input: string, output: string, extra: string[] = []): Once {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [convertOnce, input, output, ...extra], { encoding: 'utf8' });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`convert failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout) as Record<string, number>;
  return { ...j, startMs: j['startMs']!, importMs: j['importMs']!, ms: j['ms']!, cpuMs: j['cpuMs']!, wallMs, rss: j['maxRssBytes']! };
}

function nodeBaselineRss(): number {
  const r = spawnSync(process.execPath, ['-e', "import('onnxruntime-node').catch(()=>0).then(()=>process.stdout.write(String(process.resourceUsage().maxRSS*1024)))"], { encoding: 'utf8' });
  return Number(r.stdout);
}

const cli = path.join(here, '..', 'src', 'cli', 'jumprelu-convert.js');
const loadAverage = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');

let baseRss = 0;
/**
 * `cp`, `node -e ''`, the `jumprelu-convert` CLI, convert-once.ts (which times its steps) and, for inline
 * models, its copy loop alone on the same file, each from a clean output folder after `sync`, in an order
 * that alternates run by run; medians.
 */
function bench(name: string, input: string, dataFiles: string[], outDir: string, runs: number): void {
  const bytes = [input, ...dataFiles].reduce((a, f) => a + fs.statSync(f).size, 0);
  const cpT: Timed[] = [];
  const nodeT: Timed[] = [];
  const cliT: Timed[] = [];
  const conv: Once[] = [];
  const copy: Once[] = [];
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, path.basename(input));
  const clearOutputs = (): void => {
    for (const f of [input, ...dataFiles]) fs.rmSync(path.join(outDir, path.basename(f)), { force: true });
    // Flush dirty pages first, so no step pays for another's write-back.
    spawnSync('sync');
  };
  const steps: Record<string, () => void> = {
    cp: () => cpT.push(timeCmd('cp', [input, ...dataFiles, outDir])),
    node: () => nodeT.push(timeCmd(process.execPath, ['-e', ''])),
    cli: () => cliT.push(timeCmd(process.execPath, [cli, input, out, '--kappa', '0.07'])),
    convert: () => conv.push(convert(input, out)),
  };
  // The saver's copy loop alone, in a fresh process: what copying the bytes from JS costs against `cp`.
  if (dataFiles.length === 0) steps['copy'] = () => copy.push(convert(input, out, ['--copy']));
  const load0 = loadAverage();
  for (let i = 0; i < runs; i++) {
    // Alternate the order: the later steps of a round run with a warmer cache.
    const order = i % 2 === 0 ? Object.keys(steps) : Object.keys(steps).reverse();
    for (const which of order) {
      clearOutputs();
      steps[which]!();
    }
  }
  const cp = median(cpT.map((t) => t.wall));
  const m = (f: (c: Once) => number, of = conv): number => median(of.map(f));
  const cpuOf = (ts: Timed[]): number | null => (ts.every((t) => t.cpu !== null) ? median(ts.map((t) => t.cpu!)) : null);
  const cpCpu = cpuOf(cpT);
  const wall = m((c) => c.wallMs);
  const inproc = m((c) => c.ms);
  const rss = m((c) => c.rss);
  const proto = fs.statSync(input).size;
  const mb = bytes / 1e6;
  const cpuText = (cpu: number | null): string => (cpu === null || cpCpu === null ? ''
    : `   CPU ${cpu.toFixed(0).padStart(5)} ms = ${cpCpu > 0 ? (cpu / cpCpu).toFixed(2) : '∞'}× cp's`);
  const row = (label: string, ms: number, cpu: number | null, ratio = true, rate = true): string =>
    `  ${label.padEnd(28)} ${ms.toFixed(0).padStart(7)} ms  ${rate ? `${(mb / (ms / 1000)).toFixed(0).padStart(6)} MB/s` : '           '}` +
    `${ratio ? `  ratio ${(ms / cp).toFixed(2)}× cp` : '             '}${cpuText(cpu)}`;
  console.log(`\n${name}: ${mb.toFixed(1)} MB on disk (${(proto / 1e6).toFixed(1)} MB protobuf), median of ${runs}; load average ${load0} → ${loadAverage()}`);
  console.log(row('cp', cp, cpCpu, false));
  console.log(row("node -e ''", median(nodeT.map((t) => t.wall)), cpuOf(nodeT), true, false));
  console.log(row('jumprelu-convert (CLI)', median(cliT.map((t) => t.wall)), cpuOf(cliT)));
  console.log(row('convert-once wall', wall, null));
  console.log(row('load+retrofit+save', inproc, m((c) => c.cpuMs)));
  console.log(row('the same, 2nd call in process', m((c) => c['warmMs']!), m((c) => c['warmCpuMs']!)));
  if (copy.length) console.log(row('JS copy loop, in process', m((c) => c.ms, copy), m((c) => c.cpuMs, copy)));
  const ms = (k: string): string => `${m((c) => c[`${k}Ms`]!).toFixed(0)} (CPU ${m((c) => c[`${k}CpuMs`]!).toFixed(0)})`;
  console.log(`  steps (convert-once, medians, ms): node start ${m((c) => c.startMs).toFixed(0)}, imports ${m((c) => c.importMs).toFixed(0)}, ` +
    `load ${ms('load')}, retrofit ${ms('retrofit')}, save ${ms('save')}, ` +
    `exit ${m((c) => c.wallMs - (c['endMs'] ?? c.startMs + c.importMs + c.ms)).toFixed(0)} (wall − the rest)`);
  const above = Math.max(0, rss - baseRss);
  console.log(`  peak RSS                     ${(rss / 1e6).toFixed(0).padStart(7)} MB  (${(above / 1e6).toFixed(0)} MB above a bare node process) = ` +
    `${(rss / bytes).toFixed(2)}× the model's ${mb.toFixed(0)} MB; ${(above / proto).toFixed(2)}× the protobuf file above the baseline`);
}

/**
 * Conversion time against the number of sites: the whole CLI process (convert, and --list) on chains of
 * 1k…128k Relu nodes, with `node -e ''` and `cp` of the same file as baselines in the same run. Linear
 * time shows as a constant ms per 1k sites from one size to the next. Median of 3, order alternated.
 */
function sitesSweep(): void {
  // stdout discarded, not piped: the 128k-row site table is larger than spawnSync's buffer.
  const timeQuiet = (cmd: string, args: string[]): number => {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
    return performance.now() - t0;
  };
  const sweepDir = path.join(dir, 'sites');
  fs.mkdirSync(sweepDir, { recursive: true });
  const nodeStart = median([0, 1, 2, 3, 4].map(() => timeQuiet(process.execPath, ['-e', ''])));
  const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`\nsites sweep: Relu chains, whole process (node start ${nodeStart.toFixed(0)} ms included), median of 3; load average ${load()}`);
  console.log('  nodes    convert ms  ms/1k sites   --list ms       cp ms');
  for (const k of [1, 2, 4, 8, 16, 32, 64, 128]) {
    const n = k * 1024;
    const input = path.join(sweepDir, `chain${k}k.onnx`);
    const output = path.join(sweepDir, `chain${k}k-out.onnx`);
    fs.writeFileSync(input, encodeModel(buildReluChain(n)).toBytes());
    const conv: number[] = [];
    const list: number[] = [];
    const cp: number[] = [];
    for (let i = 0; i < 3; i++) {
      const steps: Array<() => void> = [
        () => conv.push(timeQuiet(process.execPath, [cli, input, output, '--kappa', '0.5'])),
        () => list.push(timeQuiet(process.execPath, [cli, input, '--list'])),
        () => cp.push(timeQuiet('cp', [input, output])),
      ];
      for (const step of i % 2 === 0 ? steps : steps.reverse()) step();
    }
    console.log(`  ${String(n).padStart(6)}  ${median(conv).toFixed(0).padStart(10)}  ${(median(conv) / k).toFixed(1).padStart(11)}  ${median(list).toFixed(0).padStart(10)}  ${median(cp).toFixed(0).padStart(10)}`);
    fs.rmSync(input, { force: true });
    fs.rmSync(output, { force: true });
  }
  console.log(`  load average at the end ${load()}`);
}

fs.mkdirSync(dir, { recursive: true });
if (process.argv.includes('--sites-only')) {
  sitesSweep();
  process.exit(0);
}
baseRss = nodeBaselineRss();
console.log(`node ${process.version}, ${os.cpus().length} cores; bare node process peak RSS ${(baseRss / 1e6).toFixed(0)} MB`);

// ResNet-50 has ~25.6 M parameters (~102 MB float32): 43 blocks of 256×256×3×3 ≈ 101 MB.
const inlineOnly = process.argv.indexOf('--inline-only');
const inlineRuns = inlineOnly >= 0 && process.argv[inlineOnly + 1] ? Number(process.argv[inlineOnly + 1]) : 5;
const small = path.join(dir, 'chain100.onnx');
fs.writeFileSync(small, encodeModel(buildChain(43, 256, null)).toBytes());
bench('ResNet-50-sized model (inline weights)', small, [], path.join(dir, 'out100'), inlineRuns);

// The 236 MB inline model of issue 10: 100 blocks of 256×256×3×3 float32.
const mid = path.join(dir, 'chain236.onnx');
fs.writeFileSync(mid, encodeModel(buildChain(100, 256, null)).toBytes());
bench('236 MB model (inline weights)', mid, [], path.join(dir, 'out236'), inlineRuns);
if (inlineOnly >= 0) process.exit(0);

if (!process.argv.includes('--skip-large')) {
  // 57 blocks of 1024×1024×3×3 float32 = 2.15 GB of external data.
  const largeDir = path.join(dir, 'large');
  fs.mkdirSync(largeDir, { recursive: true });
  const large = path.join(largeDir, 'chain2g.onnx');
  const data = path.join(largeDir, 'chain2g.onnx.data');
  if (!fs.existsSync(data) || fs.statSync(data).size < 2 ** 31) {
    fs.writeFileSync(large, encodeModel(buildChain(57, 1024, { file: data, location: 'chain2g.onnx.data' })).toBytes());
  }
  bench('>2 GiB model (external data, converted into another folder: data copied)', large, [data], path.join(dir, 'out2g'), 3);
}

sitesSweep();
