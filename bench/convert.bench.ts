// Converter throughput and memory against `cp` of the same bytes, in the same run.
//   npm run bench            (writes ~7 GB of temporary files under $TMPDIR/jumprelu-bench; --skip-large: ~1 GB)
//   node dist/bench/convert.bench.js --sites-only    only the sites sweep (1k…128k-node Relu chains)
// Models: a ResNet-50-sized chain (~100 MB of float32 weights, inline) and a >2 GiB model whose
// weights live in external data. Figures: median of 5 runs (3 for the big model).

import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel } from '../src/ir/encode.js';
import { Graph } from '../src/ir/graph.js';
import { Model } from '../src/ir/model.js';
import { Node } from '../src/ir/node.js';
import { Attribute } from '../src/ir/attribute.js';
import { DataType, Tensor } from '../src/ir/tensor.js';
import { Value } from '../src/ir/value.js';
import { ValueInfo } from '../src/ir/value-info.js';
import { buildReluChain } from '../test/helpers/build-model.js';

const dir = path.join(os.tmpdir(), 'jumprelu-bench');
const here = path.dirname(fileURLToPath(import.meta.url));
const convertOnce = path.join(here, 'convert-once.js');

/** Conv(C→C, 3×3) + Relu blocks; weights inline (random) or in an external file. */
function buildChain(blocks: number, channels: number, external: { file: string; location: string } | null): Model {
  const g = new Graph('bench');
  const model = new Model(g);
  model.irVersion = 8n;
  model.opsetImports = [{ domain: '', version: 17n }];
  const x = new Value('x');
  x.scope = g;
  g.addInput(x, ValueInfo.tensor(DataType.FLOAT, ['N', channels, 8, 8]));
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

function timeCmd(cmd: string, args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} failed`);
  return performance.now() - t0;
}

function convert(input: string, output: string): { wallMs: number; ms: number; rss: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [convertOnce, input, output], { encoding: 'utf8' });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`convert failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { ms: number; maxRssBytes: number };
  return { wallMs, ms: j.ms, rss: j.maxRssBytes };
}

function nodeBaselineRss(): number {
  const r = spawnSync(process.execPath, ['-e', "import('onnxruntime-node').catch(()=>0).then(()=>process.stdout.write(String(process.resourceUsage().maxRSS*1024)))"], { encoding: 'utf8' });
  return Number(r.stdout);
}

let baseRss = 0;
function bench(name: string, input: string, dataFiles: string[], outDir: string, runs: number): void {
  const bytes = [input, ...dataFiles].reduce((a, f) => a + fs.statSync(f).size, 0);
  const cpT: number[] = [];
  const conv: Array<ReturnType<typeof convert>> = [];
  fs.mkdirSync(outDir, { recursive: true });
  const clearOutputs = (): void => {
    for (const f of [input, ...dataFiles]) fs.rmSync(path.join(outDir, path.basename(f)), { force: true });
    // Flush dirty pages first, so neither side pays for the other's write-back.
    spawnSync('sync');
  };
  for (let i = 0; i < runs; i++) {
    // Alternate which goes first: the second of a pair runs with a warmer cache.
    const order = i % 2 === 0 ? ['cp', 'convert'] : ['convert', 'cp'];
    for (const which of order) {
      clearOutputs();
      if (which === 'cp') cpT.push(timeCmd('cp', [input, ...dataFiles, outDir]));
      else conv.push(convert(input, path.join(outDir, path.basename(input))));
    }
  }
  const cp = median(cpT);
  const wall = median(conv.map((c) => c.wallMs));
  const inproc = median(conv.map((c) => c.ms));
  const rss = median(conv.map((c) => c.rss));
  const proto = fs.statSync(input).size;
  const mb = bytes / 1e6;
  console.log(`\n${name}: ${mb.toFixed(1)} MB on disk (${(proto / 1e6).toFixed(1)} MB protobuf), median of ${runs}`);
  console.log(`  cp                     ${cp.toFixed(0).padStart(7)} ms  ${(mb / (cp / 1000)).toFixed(0).padStart(6)} MB/s`);
  console.log(`  jumprelu-convert wall  ${wall.toFixed(0).padStart(7)} ms  ${(mb / (wall / 1000)).toFixed(0).padStart(6)} MB/s  ratio ${(wall / cp).toFixed(2)}× cp (process start included)`);
  console.log(`  load+retrofit+save     ${inproc.toFixed(0).padStart(7)} ms  ${(mb / (inproc / 1000)).toFixed(0).padStart(6)} MB/s  ratio ${(inproc / cp).toFixed(2)}× cp`);
  const above = Math.max(0, rss - baseRss);
  console.log(`  peak RSS               ${(rss / 1e6).toFixed(0).padStart(7)} MB  (${(above / 1e6).toFixed(0)} MB above a bare node process) = ` +
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
  const cli = path.join(here, '..', 'src', 'cli', 'jumprelu-convert.js');
  const sweepDir = path.join(dir, 'sites');
  fs.mkdirSync(sweepDir, { recursive: true });
  const nodeStart = median([0, 1, 2, 3, 4].map(() => timeQuiet(process.execPath, ['-e', ''])));
  console.log(`\nsites sweep: Relu chains, whole process (node start ${nodeStart.toFixed(0)} ms included), median of 3`);
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
}

fs.mkdirSync(dir, { recursive: true });
if (process.argv.includes('--sites-only')) {
  sitesSweep();
  process.exit(0);
}
baseRss = nodeBaselineRss();
console.log(`node ${process.version}, ${os.cpus().length} cores; bare node process peak RSS ${(baseRss / 1e6).toFixed(0)} MB`);

// ResNet-50 has ~25.6 M parameters (~102 MB float32): 43 blocks of 256×256×3×3 ≈ 101 MB.
const small = path.join(dir, 'chain100.onnx');
fs.writeFileSync(small, encodeModel(buildChain(43, 256, null)).toBytes());
bench('ResNet-50-sized model (inline weights)', small, [], path.join(dir, 'out100'), 5);

// The 236 MB inline model of issue 10: 100 blocks of 256×256×3×3 float32.
const mid = path.join(dir, 'chain236.onnx');
fs.writeFileSync(mid, encodeModel(buildChain(100, 256, null)).toBytes());
bench('236 MB model (inline weights)', mid, [], path.join(dir, 'out236'), 5);

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
