// Property tests of the converter over generated graphs (issue 2, "How it must be verified"):
// chains and DAGs of Conv/Gemm/MatMul/Add/Relu/MaxPool/Flatten/Concat, random κ, random and
// deliberately colliding names. Set FC_SEED to replay a failure fast-check reports.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { decodeModel } from '../src/ir/decode.js';
import { encodeModel } from '../src/ir/encode.js';
import type { Model } from '../src/ir/model.js';
import { retrofit } from '../src/index.js';
import { RECORD_KEY, type Target } from '../src/passes/retrofit-record.js';
import { type GraphSpec, type Instr, ModelBuilder, buildFromSpec, countOps, makeRng, sitesModel } from './helpers/build-model.js';
import { type Feeds, type Outputs, bytesOf, describeDifference, randomFeed, runModel, sameOutputs } from './helpers/ort.js';

const seedParams = process.env['FC_SEED'] ? { seed: Number(process.env['FC_SEED']) } : {};

// ---- arbitraries ----------------------------------------------------------------------------------

/** Node names: often the same few (duplicates), names the pass itself would generate, or random. */
const nodeNameArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('', 'r', 'relu', 'Relu', 'jumprelu_0', 'jumprelu_1', 'x', 'x_jumprelu',
    'x_jumprelu_mask', 'r_kappa', 'r_mask', 'r_zero', 'r_1', 'relu_tail', 'layer/0/Relu', 'conv_w') },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);

/** Value names: collide with node names and with what the lowerings generate (`<node>_kappa`, `<y>_jump_mask`, …). */
const valueNameArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('y', 'r', 'relu', 'r_kappa', 'r_zero', 'r_mask', 'r_mask_1', 'r_kappa_1',
    'relu_out', 'y_jump_mask', 'relu_out_jump_mask', 'jumprelu_0', 'jumprelu_0_kappa', 'jumprelu_0_zero',
    'jumprelu_0_mask', 'x_jumprelu', 'x_jumprelu_mask', 'X', 'Y', 'mask', 'kappa_x', 'relu_tail_kappa') },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 6 }) },
);

const named = { name: nodeNameArb, out: valueNameArb };
const idx = fc.nat({ max: 50 });
const ch = fc.integer({ min: 1, max: 6 });

const instrArb: fc.Arbitrary<Instr> = fc.oneof(
  { weight: 7, arbitrary: fc.record({ op: fc.constant('relu' as const), a: idx, ...named }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('conv' as const), a: idx, ch, k: fc.constantFrom(1 as const, 3 as const), ...named }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('gemm' as const), a: idx, ch, ...named }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('matmul' as const), a: idx, ch, ...named }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('add' as const), a: idx, b: idx, ...named }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('bias' as const), a: idx, ...named }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('maxpool' as const), a: idx, ...named }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('flatten' as const), a: idx, ...named }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('concat' as const), a: idx, b: idx, ...named }) },
);

const specArb: fc.Arbitrary<GraphSpec> = fc.record({
  seed: fc.nat(),
  input: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 6 }), fc.integer({ min: 2, max: 6 })),
  instrs: fc.array(instrArb, { minLength: 2, maxLength: 12 }),
  inputName: fc.constantFrom('x', 'input', 'r', 'x_jumprelu', 'relu_out'),
  symbolicBatch: fc.boolean(),
  exposeSites: fc.boolean(),
  valueInfos: fc.array(idx, { maxLength: 3 }),
  extraOutputs: fc.integer({ min: 1, max: 3 }),
});

/** κ: 0, values around the activation scale, tiny ones, and anything finite and ≥ 0 in between. */
const kappaArb = fc.oneof(
  fc.constant(0),
  fc.constantFrom(1e-6, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2),
  fc.double({ min: 0, max: 3, noNaN: true, noDefaultInfinity: true }).map((k) => Math.abs(k)),
);
const positiveKappaArb = kappaArb.filter((k) => k > 0);
const allTargets: Target[] = ['thresholded-relu', 'where', 'function', 'custom'];
const ortTargets: Target[] = ['thresholded-relu', 'where', 'function'];

// ---- helpers -------------------------------------------------------------------------------------

function convert(bytes: Uint8Array, kappa: number, target: Target): Uint8Array {
  const m = decodeModel(bytes);
  retrofit(m, { kappa, target });
  return encodeModel(m).toBytes();
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** The JumpReLU nodes a target leaves at each site, as `domain::op` keys of countOps. */
const loweredKey: Record<Target, string> = {
  'thresholded-relu': '::ThresholdedRelu',
  where: '::Where',
  function: 'com.jumprelu.functions::JumpRelu',
  custom: 'com.jumprelu::JumpRelu',
};

function interfaceOf(m: Model): unknown {
  const info = (b: Uint8Array | null | undefined): string => (b ? Buffer.from(b).toString('hex') : 'none');
  return {
    inputs: m.graph.inputs.map((v, i) => [v.name, info(m.graph.inputInfos[i]?.typeBytes)]),
    outputs: m.graph.outputs.map((v, i) => [v.name, info(m.graph.outputInfos[i]?.typeBytes)]),
    valueInfos: m.graph.valueInfos.map((e) => [e.value.name, info(e.info.typeBytes)]),
  };
}

function feedsFor(built: ReturnType<typeof buildFromSpec>, seed: number): Feeds {
  return { [built.inputName]: randomFeed(makeRng(seed ^ 0x5eed), built.inputShape, 2) };
}

async function outputsOf(bytes: Uint8Array, feeds: Feeds): Promise<Outputs> {
  return runModel(bytes, feeds);
}

// ---- properties ----------------------------------------------------------------------------------

describe('converter properties over generated graphs', () => {
  test('(a) round trip, (b) one JumpReLU per Relu, (c) interface kept, (f) same κ twice is a no-op — all targets', () => {
    fc.assert(fc.property(specArb, kappaArb, fc.constantFrom(...allTargets), (spec, kappa, target) => {
      const built = buildFromSpec(spec); // node names may repeat: ONNX allows it
      const bytes = built.builder.bytes();
      // (a) decode → encode is the identity on the bytes we built
      assert.ok(equalBytes(encodeModel(decodeModel(bytes)).toBytes(), bytes), 'round trip of the generated model');

      const original = decodeModel(bytes);
      const model = decodeModel(bytes);
      const report = retrofit(model, { kappa, target });
      const out = encodeModel(model).toBytes();
      assert.ok(equalBytes(encodeModel(decodeModel(out)).toBytes(), out), 'round trip of the converted model');
      const converted = decodeModel(out);
      const before = countOps(original);
      const after = countOps(converted);

      if (kappa === 0) {
        // J₀ = ReLU: the Relu nodes stay and nothing else changes.
        assert.equal(report.counts['kept-relu'], built.reluCount);
        assert.ok(equalBytes(out, bytes), 'κ = 0 leaves the model byte for byte as it was');
      } else {
        // (b) no Relu left, one JumpReLU per former Relu, one record per site
        assert.equal(after.get('::Relu') ?? 0, 0, 'no Relu left');
        assert.equal(after.get(loweredKey[target]) ?? 0, built.reluCount, `one ${loweredKey[target]} per Relu`);
        if (target === 'where') assert.equal(after.get('::Greater') ?? 0, built.reluCount);
        assert.equal(report.counts.converted, built.reluCount);
        const record = JSON.parse(converted.getMetadata(RECORD_KEY)!) as { sites: Array<{ node: string; kappa: number }> };
        assert.equal(record.sites.length, built.reluCount);
        assert.equal(new Set(record.sites.map((s) => s.node)).size, built.reluCount, 'site node names are unique');
        for (const [k, n] of before) if (k !== '::Relu') assert.equal(after.get(k), n, `other ops untouched (${k})`);
        if (target === 'thresholded-relu') {
          for (const n of converted.graph.nodes) {
            if (n.opType === 'ThresholdedRelu') assert.equal(n.attr('alpha')?.asFloat(), Math.fround(kappa));
          }
        }
      }
      // (c) graph interface: names and declared types of inputs and outputs (and value_info) unchanged
      assert.deepEqual(interfaceOf(converted), interfaceOf(original));
      // (f) converting again with the same κ and target changes nothing
      assert.ok(equalBytes(convert(out, kappa, target), out), 'second conversion with the same κ is byte-identical');
      // … and with a new κ, every site carries the new κ.
      const k2 = kappa === 0 ? 0.75 : kappa * 2;
      const updated = decodeModel(convert(out, k2, target));
      const sites = (JSON.parse(updated.getMetadata(RECORD_KEY)!) as { sites: Array<{ kappa: number }> }).sites;
      assert.equal(sites.length, built.reluCount);
      // The record keeps the κ as given; a κ equal in float32 to the recorded one counts as unchanged.
      for (const s of sites) assert.equal(Math.fround(s.kappa), Math.fround(k2));
      for (const node of updated.graph.nodes) {
        if (node.opType === 'ThresholdedRelu') assert.equal(node.attr('alpha')?.asFloat(), Math.fround(k2), 'alpha updated');
        if (node.opType === 'JumpRelu') assert.equal(node.attr('kappa')?.asFloat(), Math.fround(k2), 'kappa attribute updated');
        if (node.opType === 'Greater') {
          const t = node.inputs[1]?.initializer;
          assert.ok(t, 'where: κ is an initializer');
          assert.equal(t.float32Data(() => new Uint8Array())[0], Math.fround(k2), 'where: κ constant updated');
        }
      }
    }), { numRuns: 150, ...seedParams });
  });

  test('(d) κ = 0 equals the original bit for bit and (e) all lowerings agree, in onnxruntime-node', async () => {
    await fc.assert(fc.asyncProperty(specArb, positiveKappaArb, async (spec, kappa) => {
      const built = buildFromSpec(spec, { uniqueNodeNames: true }); // ORT refuses duplicate node names
      const bytes = built.builder.bytes();
      const feeds = feedsFor(built, spec.seed);
      const reference = await outputsOf(bytes, feeds);
      const zero = await outputsOf(convert(bytes, 0, 'thresholded-relu'), feeds);
      assert.ok(sameOutputs(zero, reference), `κ = 0 differs from the original: ${describeDifference(zero, reference)}`);

      const results: Array<[Target, Outputs]> = [];
      for (const target of ortTargets) results.push([target, await outputsOf(convert(bytes, kappa, target), feeds)]);
      const [first, firstOut] = results[0]!;
      for (const [target, out] of results.slice(1)) {
        assert.ok(sameOutputs(out, firstOut), `${target} differs from ${first}: ${describeDifference(out, firstOut)}`);
      }
      // With every site's input and output exposed, each site computes J(z) = z if z > κ else 0 exactly.
      if (spec.exposeSites) {
        const k = Math.fround(kappa);
        for (const site of built.sites) {
          const z = site.input.name === built.inputName ? feeds[built.inputName]!.data : firstOut[site.input.name]!.data;
          const y = firstOut[site.output.name]!.data;
          const want = z.map((v) => (v > k ? v : 0));
          assert.ok(bytesOf(y).equals(bytesOf(want)), `site ${site.output.name}: J(z) wrong`);
        }
      }
    }), { numRuns: 40, ...seedParams });
  });

  test('(f) a new κ (and target) on a converted model equals converting the original with it', async () => {
    await fc.assert(fc.asyncProperty(
      specArb, positiveKappaArb, kappaArb, fc.constantFrom(...ortTargets), fc.option(fc.constantFrom(...ortTargets), { freq: 2 }),
      async (spec, k1, k2, t1, maybeT2) => {
        const t2 = maybeT2 ?? t1; // a third of the runs keep the target: the in-place κ update
        const built = buildFromSpec(spec, { uniqueNodeNames: true });
        const bytes = built.builder.bytes();
        const once = convert(bytes, k1, t1);
        const twice = convert(once, k2, t2);
        const direct = convert(bytes, k2, t2);
        // Same shape of graph: every site re-lowered, nothing of the first lowering left behind.
        const a = decodeModel(twice);
        const b = decodeModel(direct);
        assert.deepEqual(Object.fromEntries(countOps(a)), Object.fromEntries(countOps(b)), 'same ops as a direct conversion');
        assert.equal(a.graph.initializers.size, b.graph.initializers.size, 'no initializers left over from the first lowering');
        assert.deepEqual(interfaceOf(a), interfaceOf(decodeModel(bytes)));
        // And the same numbers.
        const feeds = feedsFor(built, spec.seed);
        const x = await outputsOf(twice, feeds);
        const y = await outputsOf(direct, feeds);
        assert.ok(sameOutputs(x, y), `re-converted ${t1}(κ=${k1}) → ${t2}(κ=${k2}) differs: ${describeDifference(x, y)}`);
        // Converting the re-converted model again with the same κ changes nothing.
        assert.ok(equalBytes(convert(twice, k2, t2), twice), 'idempotent after an update');
      }), { numRuns: 60, ...seedParams });
  });

  test('J(z) at the threshold: z = κ gives 0, just above gives z; NaN, ±∞, ±0 — every lowering', async () => {
    await fc.assert(fc.asyncProperty(positiveKappaArb, fc.array(fc.float({ noNaN: false }), { maxLength: 16 }), async (kappa, extra) => {
      const k = Math.fround(kappa);
      const values = [k, Math.fround(k * (1 + 2 ** -23)), nextUp(k), nextDown(k), -k, 0, -0, NaN, Infinity, -Infinity, 1e-45, ...extra];
      const mb = new ModelBuilder();
      const x = mb.main.input('x', [1, values.length]);
      mb.main.output(mb.main.relu(x, { name: 'site', out: 'y' }));
      const feeds: Feeds = { x: { data: Float32Array.from(values), dims: [1, values.length] } };
      const want = Float32Array.from(values.map((v) => (Math.fround(v) > k ? v : 0)));
      for (const target of ortTargets) {
        const out = await runModel(convert(mb.bytes(), kappa, target), feeds);
        assert.ok(bytesOf(out['y']!.data).equals(bytesOf(want)), `${target} κ=${kappa}: got ${[...out['y']!.data]} want ${[...want]}`);
      }
    }), { numRuns: 15, ...seedParams });
  });

  test('(g) emitted models pass onnx.checker.check_model(full_check=True), and protobuf-serialised copies round-trip', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-props-'));
    try {
      const specs = fc.sample(specArb, { numRuns: 6, seed: 20240601 });
      const files: string[] = [];
      specs.forEach((spec, i) => {
        const built = buildFromSpec(spec); // duplicate node names allowed: ONNX accepts them
        const bytes = built.builder.bytes();
        const write = (name: string, b: Uint8Array): void => {
          const f = path.join(dir, name);
          fs.writeFileSync(f, b);
          files.push(f);
        };
        write(`m${i}_original.onnx`, bytes);
        for (const target of allTargets) write(`m${i}_${target}.onnx`, convert(bytes, 0.25, target));
        write(`m${i}_kappa0.onnx`, convert(bytes, 0, 'where'));
        write(`m${i}_reconverted.onnx`, convert(convert(bytes, 0.25, 'where'), 0.5, 'function'));
      });
      // Sites in If branches, a local function and a Clip (with --relu6), and a reported FusedConv.
      const sites = sitesModel({ withFused: true }).bytes();
      for (const target of allTargets) {
        const m = decodeModel(sites);
        retrofit(m, { kappa: 0.25, target, relu6: true, gradKappa: 0.1 });
        const f = path.join(dir, `sites_${target}.onnx`);
        fs.writeFileSync(f, encodeModel(m).toBytes());
        files.push(f);
      }
      const script = [
        'import sys, json, onnx',
        'res = {}',
        'for f in sys.argv[1:]:',
        '    try:',
        '        m = onnx.load(f)',
        '        onnx.checker.check_model(m, full_check=True)',
        "        open(f + '.pb', 'wb').write(m.SerializeToString())",
        "        res[f] = 'ok'",
        '    except Exception as e:',
        "        res[f] = type(e).__name__ + ': ' + str(e).splitlines()[0]",
        'print(json.dumps(res))',
      ].join('\n');
      const r = spawnSync('python3', ['-c', script, ...files], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      const res = JSON.parse(r.stdout) as Record<string, string>;
      const failures = Object.entries(res).filter(([, v]) => v !== 'ok');
      assert.deepEqual(failures, [], 'every emitted model passes the full ONNX check');
      assert.equal(Object.keys(res).length, files.length);
      // Bytes written by the real protobuf library (possibly laid out differently from ours) round-trip too.
      for (const f of files) {
        const pb = new Uint8Array(fs.readFileSync(`${f}.pb`));
        assert.ok(equalBytes(encodeModel(decodeModel(pb)).toBytes(), pb), `round trip of ${path.basename(f)} as serialised by protobuf`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

function nextUp(x: number): number {
  const b = new Float32Array([x]);
  const i = new Uint32Array(b.buffer);
  i[0] = x >= 0 ? i[0]! + 1 : i[0]! - 1;
  return b[0]!;
}

function nextDown(x: number): number {
  const b = new Float32Array([x]);
  const i = new Uint32Array(b.buffer);
  i[0] = x > 0 ? i[0]! - 1 : i[0]! + 1;
  return b[0]!;
}
