// The converter on what real-world pipelines hand it (issue 10): models built here with onnx,
// onnxruntime's optimiser and its quantizer (test/py/convert_cases.py), converted by the CLI, and
// checked independently (onnx.checker, onnxruntime on both sides, numpy references).
//   - a κ constant ORT deduplicated is never edited for two sites (change-on-write); the record matches
//   - Clip bounds from float16 initializers and every Constant form; fused and folded activations reported
//   - QDQ: a Relu between DequantizeLinear and QuantizeLinear is converted; a folded one is reported
//   - --require all|N, "nothing/only part converted" on stderr, --json's schema
//   - a ReLU6 site named in a kappa map stays idempotent; invalid inputs refused with one line
//   - the custom target inside a model-local function, the function target's IR version and opset imports
//   - a 128k-node chain: every site converted, no stack overflow (its time is in bench/convert.bench.ts)

import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { decodeModel } from '../src/ir/decode.js';
import { encodeModel } from '../src/ir/encode.js';
import { loadModel, saveModel } from '../src/ir/io.js';
import { Model } from '../src/ir/model.js';
import { verifyModel } from '../src/ir/verify.js';
import { formatSiteTable } from '../src/cli/convert-command.js';
import { retrofit } from '../src/index.js';
import { parseRequirement } from '../src/passes/coverage.js';
import { type RetrofitOptions, type RetrofitReport, type SiteReport, planRetrofit } from '../src/passes/jumprelu.js';
import { RECORD_KEY, type RetrofitRecord } from '../src/passes/retrofit-record.js';
import { repoRoot } from './fixtures.js';
import { buildReluChain, sitesModel } from './helpers/build-model.js';

const CLI = fileURLToPath(new URL('../src/cli/jumprelu-convert.js', import.meta.url));
const CASES = path.join(repoRoot(), 'test', 'py', 'convert_cases.py');

function convert(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
}

function ok(r: SpawnSyncReturns<string>): SpawnSyncReturns<string> {
  assert.equal(r.error, undefined);
  assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
  return r;
}

/** A refusal: the exit status, one line on stderr, and no output file. */
function refused(r: SpawnSyncReturns<string>, status: number, pattern: RegExp, output?: string): void {
  assert.equal(r.status, status, `exit ${r.status}: ${r.stdout}${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr: ${r.stderr}`);
  assert.match(lines[0]!, pattern);
  if (output) assert.ok(!fs.existsSync(output), `${output} must not be written`);
}

/** The library path (what the CLI calls), in-process: spawning a CLI per case costs a second on a busy machine. */
function convertHere(input: string, output: string, options: RetrofitOptions): RetrofitReport {
  const m = loadModel(input);
  const report = retrofit(m, options);
  saveModel(m, output);
  return report;
}

function list(input: string, options: RetrofitOptions | null = { kappa: 0.5 }): SiteReport[] {
  return planRetrofit(loadModel(input), options);
}

function load(file: string): Model {
  return decodeModel(new Uint8Array(fs.readFileSync(file)));
}

function record(file: string): RetrofitRecord {
  const raw = load(file).getMetadata(RECORD_KEY);
  assert.ok(raw, `${file} has a retrofit record`);
  return JSON.parse(raw) as RetrofitRecord;
}

function python(args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync('python3', [CASES, ...args], { encoding: 'utf8', input, timeout: 120_000 });
}

type Check = Record<string, unknown>;
/** Runs independent checks in one Python process; one result object per check. */
function pyChecks(checks: Check[]): Array<Record<string, unknown>> {
  const r = python(['check'], JSON.stringify(checks));
  assert.equal(r.status, 0, `convert_cases.py check: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

const hasPython = spawnSync('python3', ['-c', 'import onnx, onnxruntime, onnxruntime.quantization, numpy'], { stdio: 'ignore' }).status === 0;

describe('converter on real-world models', { skip: hasPython ? false : 'python3 with onnx, onnxruntime and numpy is not installed' }, () => {
  let dir: string;
  const f = (name: string): string => path.join(dir, name);
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-realworld-'));
    const r = python(['make', dir]);
    assert.equal(r.status, 0, `convert_cases.py make: ${r.stderr}`);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('after ORT deduplicates equal κ constants, a per-layer update changes only that layer and the record says so', async () => {
    convertHere(f('deduped.onnx'), f('where.onnx'), { kappa: 0.5, target: 'where' });
    // ORT's basic level (what users save as "the optimised model") folds the two equal κ initializers into one.
    await ort.InferenceSession.create(f('where.onnx'), { graphOptimizationLevel: 'basic', optimizedModelFilePath: f('where-ort.onnx'), logSeverityLevel: 3 });
    const optimised = load(f('where-ort.onnx'));
    const greaters = optimised.graph.nodes.filter((n) => n.opType === 'Greater');
    assert.equal(greaters.length, 2);
    assert.equal(greaters[0]!.inputs[1], greaters[1]!.inputs[1], 'precondition: ORT shares one κ initializer between the sites');
    // Update the site whose recorded κ name survived the deduplication: the one an in-place edit would hit.
    const shared = greaters[0]!.inputs[1]!.name;
    const target = record(f('where-ort.onnx')).sites.find((s) => s.kappa_value === shared)!;
    const other = record(f('where-ort.onnx')).sites.find((s) => s !== target && s.node !== target.node)!;
    fs.writeFileSync(f('map.json'), JSON.stringify({ [target.node]: 1.5 }));
    const r = ok(convert([f('where-ort.onnx'), f('updated.onnx'), '--kappa', '0.5', '--kappa-map', f('map.json'), '--target', 'where', '--json']));
    const counts = (JSON.parse(r.stdout) as { counts: Record<string, number> }).counts;
    assert.equal(counts['updated'], 1);
    assert.equal(counts['unchanged'], 1);
    const rec = record(f('updated.onnx'));
    assert.equal(rec.sites.find((s) => s.node === target.node)!.kappa, 1.5);
    assert.equal(rec.sites.find((s) => s.node === other.node)!.kappa, 0.5);
    // The κ each Greater really reads matches the record.
    const m = load(f('updated.onnx'));
    for (const s of rec.sites) {
      const mask = m.graph.nodes.find((n) => n.name === s.mask_node)!;
      const k = mask.inputs[1]!;
      assert.equal(k.name, s.kappa_value, `${s.node}: recorded κ value name`);
      assert.deepEqual([...k.initializer!.float32Data(() => new Uint8Array())], [s.kappa]);
    }
    // And the outputs equal a fresh conversion of the original model with the same map.
    ok(convert([f('deduped.onnx'), f('fresh.onnx'), '--kappa', '0.5', '--kappa-map', f('map.json'), '--target', 'where']));
    const [same] = pyChecks([{ check: 'same-outputs', a: f('updated.onnx'), b: f('fresh.onnx') }]);
    assert.deepEqual(same, { plain: true, optimized: true });
  });

  test('float16 ReLU6 (Clip with float16 initializer bounds) is converted with --relu6, and reported without it', () => {
    const plain = convert([f('clip_f16.onnx'), f('f16-plain.onnx'), '--kappa', '0.5']);
    ok(plain);
    assert.match(plain.stdout, /clip\s+Clip\s+main\s+relu6.*reported: Clip\(min=0, max=6\)/);
    assert.match(plain.stderr, /warning: nothing converted: 1 ReLU-like site\(s\) left as they were: relu6 \(Clip, needs --relu6\)/);
    const outs: Check[] = [];
    for (const target of ['thresholded-relu', 'where', 'function']) {
      const out = f(`f16-${target}.onnx`);
      const r = convertHere(f('clip_f16.onnx'), out, { kappa: 0.5, relu6: true, target: target as 'where' });
      assert.equal(r.counts.converted, 1);
      assert.equal(r.coverage.left.length, 0);
      outs.push({ check: 'checker', file: out }, { check: 'relu6-jump', original: f('clip_f16.onnx'), converted: out, pre: 'c', kappa: 0.5, lo: 0, hi: 6 });
    }
    const results = pyChecks(outs);
    for (let i = 0; i < results.length; i += 2) {
      assert.deepEqual(results[i], { ok: true });
      const j = results[i + 1]!;
      assert.equal(j['dtype'], 'float16');
      assert.ok((j['jumped'] as number) > 0, 'some activations lie in (0, κ]: the check can fail');
      assert.equal(j['equal'], true, `output ${i / 2} equals clip(J(pre)) in float16`);
    }
  });

  test('Clip bounds from Constant nodes (value, value_float, value_floats, float64 value) are recognised', () => {
    const checks: Check[] = [];
    for (const form of ['value', 'value_float', 'value_floats', 'value_double']) {
      const [site] = list(f(`clip_const_${form}.onnx`), null);
      assert.equal(site?.kind, 'clip', form);
      assert.equal(site?.note, 'Clip(min=0, max=6): ReLU6-like');
      const out = f(`const-${form}.onnx`);
      convertHere(f(`clip_const_${form}.onnx`), out, { kappa: 0.75, relu6: true, target: 'where', require: 'all' });
      checks.push({ check: 'relu6-jump', original: f(`clip_const_${form}.onnx`), converted: out, pre: 'x', kappa: 0.75, lo: 0, hi: 6 });
    }
    for (const [i, r] of pyChecks(checks).entries()) {
      assert.ok((r['jumped'] as number) > 0);
      assert.equal(r['equal'], true, `case ${i}: ${JSON.stringify(r)}`);
    }
  });

  test('fused activations ORT produces (FusedConv Relu/Clip, FusedGemm) are reported with advice; --require all refuses', async () => {
    // ORT's own fusion on a float model (extended level): Conv+Relu → com.microsoft::FusedConv.
    await ort.InferenceSession.create(f('deduped.onnx'), { graphOptimizationLevel: 'extended', optimizedModelFilePath: f('ort-fused.onnx'), logSeverityLevel: 3 });
    assert.ok(load(f('ort-fused.onnx')).graph.nodes.some((n) => n.opType === 'FusedConv'), 'precondition: ORT fused Conv+Relu');
    for (const file of ['ort-fused.onnx', 'fused.onnx']) {
      const sites = list(f(file)).map((s) => ({ ...s, note: s.note ?? '' }));
      assert.ok(sites.length >= 2);
      for (const s of sites) {
        assert.equal(s.kind, 'fused', JSON.stringify(s));
        assert.equal(s.action, 'reported');
        assert.match(s.note, /built-in (Relu|Clip\(0, 6\)) activation.*convert the model before ONNX Runtime's extended optimisations/);
      }
      if (file === 'fused.onnx') assert.deepEqual(sites.map((s) => s.node).sort(), ['fc_relu', 'fc_relu6', 'fg_relu']);
    }
    refused(convert([f('fused.onnx'), f('fused-out.onnx'), '--kappa', '0.5', '--require', 'all']), 1,
      /--require all: every ReLU-like site must be converted, but 0 of 3 would be converted; left: fc_relu \(fused into FusedConv\)/, f('fused-out.onnx'));
    const r = ok(convert([f('fused.onnx'), f('fused-out.onnx'), '--kappa', '0.5']));
    assert.match(r.stderr, /warning: nothing converted: 3 ReLU-like site\(s\) left/);
  });

  test('QDQ: a Relu kept between DequantizeLinear and QuantizeLinear converts and runs; a folded one is reported', () => {
    // Kept (QDQKeepRemovableActivations): both Relus convert; outputs equal an independent rewrite.
    const r = convertHere(f('qdq_keep1.onnx'), f('qdq-conv.onnx'), { kappa: 0.25, require: 'all' });
    assert.equal(r.counts.converted, 2);
    assert.equal(r.coverage.left.length, 0);
    const [rewrite, same, differ, checker] = pyChecks([
      { check: 'rewrite-relu', file: f('qdq_keep1.onnx'), out: f('qdq-ref.onnx'), kappa: 0.25 },
      { check: 'same-outputs', a: f('qdq-conv.onnx'), b: f('qdq-ref.onnx') },
      { check: 'differ', a: f('qdq-conv.onnx'), b: f('qdq_keep1.onnx') },
      { check: 'checker', file: f('qdq-conv.onnx') },
    ]);
    assert.deepEqual(rewrite, { ok: true });
    assert.deepEqual(same, { plain: true, optimized: true });
    assert.deepEqual(differ, { differ: true }, 'κ = 0.25 changes the quantized outputs: the comparison can fail');
    assert.deepEqual(checker, { ok: true });
    // Folded (the quantizer's default) and QOperator (QLinearConv): reported, with what to do instead.
    for (const [file, kind] of [['qdq_keep0.onnx', 'folded'], ['qoperator.onnx', 'fused']] as const) {
      const sites = list(f(file));
      assert.equal(sites.length, 2, `${file}: ${JSON.stringify(sites)}`);
      for (const s of sites) {
        assert.equal(s.kind, kind);
        assert.equal(s.action, 'reported');
        assert.match(s.note ?? '', /QDQKeepRemovableActivations/);
      }
      assert.throws(() => convertHere(f(file), f('q-out.onnx'), { kappa: 0.5, require: 1 }), /--require 1: 1 site\(s\) must be converted, but 0 of 2/);
      assert.ok(!fs.existsSync(f('q-out.onnx')));
    }
  });

  test('--target custom inside a model-local function passes onnx.checker and runs in ORT with the library', (t) => {
    convertHere(f('fn_relu.onnx'), f('fn-custom.onnx'), { kappa: 0.5, target: 'custom' });
    const fn = load(f('fn-custom.onnx')).functions.find((x) => x.name === 'Act')!;
    assert.ok(fn.opsetImports.some((o) => o.domain === 'com.jumprelu'), 'the function imports the custom domain');
    convertHere(f('fn_relu.onnx'), f('fn-ref.onnx'), { kappa: 0.5 });
    const build = spawnSync('bash', [path.join(repoRoot(), 'customops', 'build.sh'), path.join(repoRoot(), 'customops', 'build')], { encoding: 'utf8' });
    if (build.status !== 0) { t.skip(`custom-op library did not build here: ${build.stderr.trim().split('\n').pop()}`); return; }
    const lib = build.stdout.trim().split('\n').pop()!;
    const [checker, same] = pyChecks([{ check: 'checker', file: f('fn-custom.onnx') }, { check: 'same-outputs', a: f('fn-custom.onnx'), lib, b: f('fn-ref.onnx') }]);
    assert.deepEqual(checker, { ok: true });
    assert.deepEqual(same, { plain: true, optimized: true });
  });

  test('the function target raises IR 7 to 8 and copes with a domain imported twice; conflicting versions are refused', () => {
    convertHere(f('ir7_dup_opset.onnx'), f('ir7-fn.onnx'), { kappa: 0.5, target: 'function' });
    const m = load(f('ir7-fn.onnx'));
    assert.equal(m.irVersion, 8n);
    assert.equal(m.functions.length, 1);
    // Back to thresholded-relu: the function goes; the header stays valid.
    convertHere(f('ir7-fn.onnx'), f('ir7-back.onnx'), { kappa: 0.5 });
    assert.deepEqual(pyChecks([{ check: 'checker', file: f('ir7-fn.onnx') }, { check: 'checker', file: f('ir7-back.onnx') },
      { check: 'same-outputs', a: f('ir7-fn.onnx'), b: f('ir7-back.onnx') }]), [{ ok: true }, { ok: true }, { plain: true, optimized: true }]);
    refused(convert([f('dup_opset_conflict.onnx'), f('dup-out.onnx'), '--kappa', '0.5']), 1,
      /the model imports domain 'ai.onnx' twice, at versions 13 and 17/, f('dup-out.onnx'));
  });

  test('a Relu with two inputs is refused with one line, never repaired', () => {
    // The converter verifies its input first: the op's arity is checked there (src/ir/schema.ts).
    refused(convert([f('relu_two_inputs.onnx'), f('two-out.onnx'), '--kappa', '0.5']), 1,
      /input model: main: Relu node bad has 2 inputs; Relu takes 1 \[verify-input\]$/, f('two-out.onnx'));
    assert.throws(() => list(f('relu_two_inputs.onnx'), null), /Relu node 'bad' has 2 input/);
  });
});

describe('pipeline guarantees', () => {
  let dir: string;
  let model: string;
  const f = (name: string): string => path.join(dir, name);
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-require-'));
    model = f('sites.onnx');
    fs.writeFileSync(model, sitesModel({ withFused: true }).bytes());
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('--require all|N: met, unmet (exit 1, nothing written, the sites named), and bad values (exit 2)', () => {
    // sitesModel: 5 Relu sites, one Clip(0, 6) and one FusedConv.
    refused(convert([model, f('a.onnx'), '--kappa', '0.5', '--require', 'all']), 1,
      /--require all: every ReLU-like site must be converted, but 5 of 7 would be converted; left: clip6 \(Clip, needs --relu6\), fused \(fused into FusedConv\)/, f('a.onnx'));
    assert.throws(() => convertHere(model, f('a.onnx'), { kappa: 0.5, require: 6 }), /--require 6: 6 site\(s\) must be converted, but 5 of 7/);
    const r = ok(convert([model, f('a.onnx'), '--kappa', '0.5', '--require', '5']));
    assert.match(r.stderr, /^jumprelu convert: warning: only part converted: 2 of 7 ReLU-like sites left as they were: clip6 \(Clip, needs --relu6\), fused \(fused into FusedConv\)\n$/);
    // --dry-run applies it too, without writing anything.
    refused(convert([model, '--dry-run', '--kappa', '0.5', '--relu6', '--require', 'all']), 1, /6 of 7 would be converted; left: fused/);
    // Only mapped sites: the unmapped ones are named as left.
    fs.writeFileSync(f('map.json'), JSON.stringify({ relu_a: 0.5 }));
    assert.throws(() => convertHere(model, f('b.onnx'), { kappaMap: { byName: new Map([['relu_a', { kappa: 0.5 }]]), byIndex: new Map(), byRegex: [] }, require: 2 }),
      /1 of 7 would be converted; left: relu_b \(not in the kappa map\)/);
    refused(convert([model, f('c.onnx'), '--kappa', '0.5', '--require', '0']), 2, /--require takes 'all' or a whole number of sites ≥ 1/, f('c.onnx'));
    for (const bad of ['some', '-1', '1.5', '']) assert.throws(() => parseRequirement(bad), /--require takes 'all' or a whole number/);
    assert.equal(parseRequirement('12'), 12);
  });

  test('--json has a pinned schema: counts, summary and one row per site', () => {
    const r = ok(convert([model, f('j.onnx'), '--kappa', '0.5', '--json']));
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(j).sort(), ['bytes', 'counts', 'externalFiles', 'input', 'mode', 'output', 'schema', 'sites', 'summary', 'target']);
    assert.equal(j['schema'], 'jumprelu.convert/1');
    assert.equal(j['mode'], 'convert');
    assert.deepEqual(j['counts'], { converted: 5, updated: 0, unchanged: 0, 'kept-relu': 0, skipped: 0, reported: 2 });
    assert.deepEqual(j['summary'], { sites: 7, done: 5, left: 2, complete: false });
    const sites = j['sites'] as Array<Record<string, unknown>>;
    assert.equal(sites.length, 7);
    const allowed = new Set(['index', 'kind', 'op', 'graph', 'node', 'kappa', 'gradKappa', 'target', 'action', 'note']);
    for (const s of sites) {
      for (const k of Object.keys(s)) assert.ok(allowed.has(k), `unexpected site field ${k}`);
      for (const k of ['index', 'kind', 'op', 'graph', 'node', 'action']) assert.ok(k in s, `site field ${k}`);
      assert.equal(typeof s['index'], 'number');
      assert.ok(['relu', 'jumprelu', 'clip', 'fused', 'folded'].includes(s['kind'] as string));
      assert.ok(['converted', 'updated', 'unchanged', 'kept-relu', 'skipped', 'reported'].includes(s['action'] as string));
    }
    assert.deepEqual(sites.find((s) => s['node'] === 'relu_a'),
      { index: 0, kind: 'relu', op: 'Relu', graph: 'main', node: 'relu_a', kappa: 0.5, target: 'thresholded-relu', action: 'converted' });
    // --list/--dry-run: the same rows and summary, mode named.
    const list = JSON.parse(ok(convert([model, '--dry-run', '--kappa', '0.5', '--json'])).stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(list).sort(), ['counts', 'input', 'mode', 'schema', 'sites', 'summary']);
    assert.equal(list['mode'], 'dry-run');
    assert.deepEqual(list['sites'], sites);
  });

  test('a ReLU6 site named in a kappa map keeps its κ on the next run (idempotent)', () => {
    const options: RetrofitOptions = {
      kappa: 0.3, relu6: true, kappaMap: { byName: new Map([['clip6', { kappa: 0.9 }], ['relu_a', { kappa: 0.2 }]]), byIndex: new Map(), byRegex: [] },
    };
    convertHere(model, f('once.onnx'), options);
    const once = record(f('once.onnx'));
    assert.equal(once.sites.find((s) => s.clip_node === 'clip6')!.kappa, 0.9);
    const m = loadModel(f('once.onnx'));
    const again = retrofit(m, options);
    assert.equal(again.counts.unchanged, 6, JSON.stringify(again.sites));
    assert.ok(Buffer.from(encodeModel(m).toBytes()).equals(fs.readFileSync(f('once.onnx'))), 'the second run writes the same bytes');
  });
});

describe('a 128k-node Relu chain (time is measured in bench/, correctness here)', () => {
  test('every site converts, the model verifies and round-trips, and the site table prints without overflowing the stack', () => {
    const n = 128 * 1024;
    const bytes = encodeModel(buildReluChain(n)).toBytes(); // through the decoder, as a file would come

    const model = decodeModel(bytes);
    const planned = planRetrofit(model, { kappa: 0.5 });
    assert.equal(planned.length, n);
    const table = formatSiteTable(planned);
    assert.equal(table.split('\n').length, n + 1);

    const report = retrofit(model, { kappa: 0.5, require: 'all' });
    assert.equal(report.counts.converted, n);
    assert.equal(report.coverage.left.length, 0);
    assert.deepEqual(verifyModel(model), []);
    const nodes = model.graph.nodes;
    assert.equal(nodes.length, n);
    assert.ok(nodes.every((node, i) => node.opType === 'ThresholdedRelu' && node.name === `relu${i}` && node.attr('alpha')?.asFloat() === 0.5));
    assert.equal(nodes[n - 1]!.outputs[0], model.graph.outputs[0]);
  });
});
