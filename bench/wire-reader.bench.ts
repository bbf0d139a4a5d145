// Our field cursor (src/ir/wire.ts FieldCursor) against protobufjs's Reader (the one onnx-proto brings), on
// the same work: every field of the graph and of each NodeProto, strings read, nested messages skipped. Also
// whole-model decoding for scale: our decodeModel (IR, origins, scopes) and onnx-proto's generated
// ModelProto.decode (plain objects on protobufjs's Reader). Medians of alternated runs in one process.
//   node dist/bench/wire-reader.bench.js MODEL.onnx [MODEL.onnx …]    (e.g. the 128k Relu chain from
//   `node dist/bench/convert-steps.js --write-chain chain.onnx 131072`, and a real model)

import * as fs from 'node:fs';
import * as os from 'node:os';
import { createRequire } from 'node:module';
import { decodeModel } from '../src/ir/decode.js';
import { FieldCursor, WireType } from '../src/ir/wire.js';

interface PbReader {
  pos: number;
  len: number;
  uint32(): number;
  string(): string;
  skip(length?: number): PbReader;
  skipType(wireType: number): PbReader;
}
interface PbReaderClass {
  create(buf: Uint8Array): PbReader;
}
// protobufjs is onnx-proto's dependency, not ours: load it from there.
const requireFromOnnxProto = createRequire(createRequire(import.meta.url).resolve('onnx-proto'));
const Reader = (requireFromOnnxProto('protobufjs/minimal') as { Reader: PbReaderClass }).Reader;
const onnxProto = requireFromOnnxProto('onnx-proto') as { onnx: { ModelProto: { decode(b: Uint8Array): unknown } } };

const GRAPH = 7, NODE = 1, STRING_FIELDS = new Set([1, 2, 3, 4, 6, 7, 8]);

/** Graph payload bounds inside the model bytes, found with the cursor (same for both walkers). */
function graphBounds(bytes: Uint8Array): [number, number] {
  const c = new FieldCursor().reset(bytes);
  while (c.next()) if (c.no === GRAPH) return [c.payloadStart, c.payloadEnd];
  throw new Error('no graph');
}

function walkCursor(bytes: Uint8Array, [gs, ge]: [number, number]): number {
  let chars = 0;
  const g = new FieldCursor().reset(bytes, gs, ge);
  const n = new FieldCursor();
  while (g.next()) {
    if (g.no !== NODE || g.wireType !== WireType.LengthDelimited) continue;
    n.reset(bytes, g.payloadStart, g.payloadEnd);
    while (n.next()) if (STRING_FIELDS.has(n.no)) chars += n.string().length;
  }
  return chars;
}

function walkReader(bytes: Uint8Array, [gs, ge]: [number, number]): number {
  let chars = 0;
  const r = Reader.create(bytes.subarray(gs, ge));
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 !== NODE || (tag & 7) !== 2) {
      r.skipType(tag & 7);
      continue;
    }
    const len = r.uint32();
    const end = r.pos + len;
    while (r.pos < end) {
      const t = r.uint32();
      if (STRING_FIELDS.has(t >>> 3) && (t & 7) === 2) chars += r.string().length;
      else r.skipType(t & 7);
    }
  }
  return chars;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node dist/bench/wire-reader.bench.js MODEL.onnx [MODEL.onnx …]');
  process.exit(2);
}
console.log(`node ${process.version}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (const file of files) {
  const bytes = new Uint8Array(fs.readFileSync(file));
  const bounds = graphBounds(bytes);
  if (walkCursor(bytes, bounds) !== walkReader(bytes, bounds)) throw new Error('the two walks read different strings');
  const runs: Record<string, number[]> = { cursor: [], reader: [], decodeModel: [], onnxProto: [] };
  const jobs: Array<[string, () => unknown]> = [
    ['cursor', () => walkCursor(bytes, bounds)],
    ['reader', () => walkReader(bytes, bounds)],
    ['decodeModel', () => decodeModel(bytes)],
    ['onnxProto', () => onnxProto.onnx.ModelProto.decode(bytes)],
  ];
  for (let i = 0; i < 7; i++) {
    for (const [name, f] of i % 2 === 0 ? jobs : [...jobs].reverse()) {
      const t0 = performance.now();
      f();
      runs[name]!.push(performance.now() - t0);
    }
  }
  const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]));
  console.log(`${file} (${(bytes.length / 1e6).toFixed(1)} MB), median of 7 in one process:`);
  console.log(`  field walk, our FieldCursor      ${m.cursor!.toFixed(1).padStart(8)} ms`);
  console.log(`  field walk, protobufjs Reader    ${m.reader!.toFixed(1).padStart(8)} ms  (${(m.reader! / m.cursor!).toFixed(2)}× the cursor)`);
  console.log(`  decodeModel (our IR)             ${m.decodeModel!.toFixed(1).padStart(8)} ms`);
  console.log(`  onnx-proto ModelProto.decode     ${m.onnxProto!.toFixed(1).padStart(8)} ms  (${(m.onnxProto! / m.decodeModel!).toFixed(2)}× decodeModel)`);
}
console.log(`load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
