// The CLI (issue 2, "CLI behaviour" and the passes' options): --list/--dry-run/--json, `jumprelu convert`
// = `jumprelu-convert`, --kappa-map (name, /regex/, #index, {kappa, grad_kappa}) and --only-mapped,
// --grad-kappa in the metadata record, --relu6, and Relu sites inside If branches and local functions.
// Every option of every command that takes a path: a missing or unreadable file is an io error (exit 1,
// code file-not-found / not-a-file / io / the output's code) on one line, never a usage error (exit 2).

import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { decodeModel } from '../src/ir/decode.js';
import type { Model } from '../src/ir/model.js';
import type { Node } from '../src/ir/node.js';
import { RECORD_KEY, type RetrofitRecord, type SiteRecord, type Target } from '../src/passes/retrofit-record.js';
import { ModelBuilder, countOps, sitesModel } from './helpers/build-model.js';
import { bytesOf, runModel } from './helpers/ort.js';
import { defaultHeldoutPaths, defaultModelPath } from './fixtures.js';

const BIN = fileURLToPath(new URL('../src/cli/', import.meta.url));

function run(bin: 'jumprelu-convert' | 'jumprelu', args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [path.join(BIN, `${bin}.js`), ...args], { encoding: 'utf8', timeout: 30_000 });
}

function ok(r: SpawnSyncReturns<string>): SpawnSyncReturns<string> {
  assert.equal(r.error, undefined);
  assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
  return r;
}

function record(m: Model): RetrofitRecord {
  const raw = m.getMetadata(RECORD_KEY);
  assert.ok(raw, 'the model has a retrofit record');
  return JSON.parse(raw) as RetrofitRecord;
}

function siteOf(m: Model, node: string): SiteRecord {
  const s = record(m).sites.find((r) => r.node === node);
  assert.ok(s, `site ${node} recorded`);
  return s;
}

function load(file: string): Model {
  return decodeModel(new Uint8Array(fs.readFileSync(file)));
}

/** Every node anywhere in the model (main graph, subgraphs, function bodies). */
function nodes(m: Model): Node[] {
  return [...m.allNodes()].map((e) => e.node);
}

describe('jumprelu-convert CLI', () => {
  let tmp: string;
  let model: string;
  let plain: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-cli-'));
    model = path.join(tmp, 'sites.onnx');
    fs.writeFileSync(model, sitesModel({ withFused: true }).bytes());
    plain = path.join(tmp, 'plain.onnx'); // without the com.microsoft node: runs in ORT
    fs.writeFileSync(plain, sitesModel().bytes());
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const out = (name: string): string => path.join(tmp, name);

  test('--list prints every site: name, op, graph path, and the κ that would apply', () => {
    const r = ok(run('jumprelu-convert', [model, '--list', '--kappa', '0.25']));
    const expected: Array<[string, string, string]> = [
      ['relu_a', 'Relu', 'main'], ['relu_b', 'Relu', 'main'], ['clip6', 'Clip', 'main'], ['fused', 'FusedConv', 'main'],
      ['relu_then', 'Relu', 'main/branch.then_branch'], ['relu_else', 'Relu', 'main/branch.else_branch'],
      ['relu_in_fn', 'Relu', 'function local.fns::Act'],
    ];
    const lines = r.stdout.split('\n');
    for (const [name, op, graph] of expected) {
      const line = lines.find((l) => new RegExp(`\\s${name}\\s`).test(l));
      assert.ok(line, `site ${name} listed:\n${r.stdout}`);
      assert.ok(line.includes(op) && line.includes(graph), `${name}: op ${op}, graph ${graph}: ${line}`);
      if (op === 'Relu') assert.match(line, /\s0\.25\s/, `${name}: κ 0.25 would apply: ${line}`);
      else assert.match(line, /reported/, `${name} is reported: ${line}`);
    }
    assert.match(r.stdout, /7 site\(s\)/);
    // --list alone (no κ) still lists every site; --dry-run too, and neither writes anything.
    const bare = ok(run('jumprelu-convert', [model, '--list']));
    for (const [name] of expected) assert.match(bare.stdout, new RegExp(`\\s${name}\\s`));
    const before = fs.readdirSync(tmp).sort();
    const dry = ok(run('jumprelu-convert', [model, out('dry.onnx'), '--dry-run', '--kappa', '0.25']));
    assert.match(dry.stdout, /relu_in_fn/);
    assert.deepEqual(fs.readdirSync(tmp).sort(), before, '--dry-run writes nothing');
  });

  test('--json is parseable, with a sites array (list and convert)', () => {
    const list = JSON.parse(ok(run('jumprelu-convert', [model, '--list', '--json', '--kappa', '0.25'])).stdout) as {
      sites: Array<{ index: number; kind: string; op: string; graph: string; node: string; kappa?: number; action: string; note?: string }>;
    };
    assert.ok(Array.isArray(list.sites));
    assert.equal(list.sites.length, 7);
    const byNode = new Map(list.sites.map((s) => [s.node, s]));
    assert.equal(byNode.get('relu_then')!.graph, 'main/branch.then_branch');
    assert.equal(byNode.get('relu_in_fn')!.graph, 'function local.fns::Act');
    assert.equal(byNode.get('relu_a')!.kappa, 0.25);
    assert.equal(byNode.get('clip6')!.action, 'reported');
    assert.equal(byNode.get('fused')!.action, 'reported');
    assert.match(byNode.get('fused')!.note ?? '', /FusedConv/);
    // The convertible sites are numbered 0.. in order (as #N keys use); the fused one has no index.
    assert.deepEqual(list.sites.filter((s) => s.kind !== 'fused').map((s) => s.index), [0, 1, 2, 3, 4, 5]);

    const conv = JSON.parse(ok(run('jumprelu-convert', [model, out('json.onnx'), '--kappa', '0.25', '--json'])).stdout) as {
      output: string; target: string; counts: Record<string, number>; sites: unknown[];
    };
    assert.equal(conv.target, 'thresholded-relu');
    assert.equal(conv.sites.length, 7);
    assert.deepEqual(conv.counts, { converted: 5, updated: 0, unchanged: 0, 'kept-relu': 0, skipped: 0, reported: 2 });
  });

  test('`jumprelu convert` gives the same model and report as `jumprelu-convert`', () => {
    for (const target of ['thresholded-relu', 'where', 'function', 'custom']) {
      const args = ['--kappa', '0.4', '--grad-kappa', '0.2', '--target', target, '--relu6'];
      const a = ok(run('jumprelu-convert', [model, out('a.onnx'), ...args]));
      const b = ok(run('jumprelu', ['convert', model, out('b.onnx'), ...args]));
      assert.ok(fs.readFileSync(out('a.onnx')).equals(fs.readFileSync(out('b.onnx'))), `${target}: same bytes`);
      assert.equal(a.stdout.replace('a.onnx', 'X'), b.stdout.replace('b.onnx', 'X'), `${target}: same report`);
    }
    const la = ok(run('jumprelu-convert', [model, '--list', '--json', '--kappa', '0.3']));
    const lb = ok(run('jumprelu', ['convert', model, '--list', '--json', '--kappa', '0.3']));
    assert.equal(la.stdout, lb.stdout);
  });

  test('--kappa-map: exact names, /regex/, #index, {kappa, grad_kappa}; precedence name > index > regex', () => {
    const mapFile = out('map.json');
    fs.writeFileSync(mapFile, JSON.stringify({
      relu_a: 0.5, // exact name…
      '#0': 9, // …beats the index of the same site
      '#1': { kappa: 0.6, grad_kappa: 0.3 }, // relu_b by index
      '/^relu_(then|else)$/': 0.7, // both If branches
      '/relu/': 8, // a later regex loses to the earlier one
      '#5': 0.9, // relu_in_fn
    }));
    ok(run('jumprelu-convert', [model, out('mapped.onnx'), '--kappa-map', mapFile, '--kappa', '0.1']));
    const m = load(out('mapped.onnx'));
    assert.equal(siteOf(m, 'relu_a').kappa, 0.5);
    assert.equal(siteOf(m, 'relu_b').kappa, 0.6);
    assert.equal(siteOf(m, 'relu_b').grad_kappa, 0.3);
    assert.equal(siteOf(m, 'relu_then').kappa, 0.7);
    assert.equal(siteOf(m, 'relu_else').kappa, 0.7);
    assert.equal(siteOf(m, 'relu_in_fn').kappa, 0.9);
    const alpha = new Map(nodes(m).filter((n) => n.opType === 'ThresholdedRelu').map((n) => [n.name, n.attr('alpha')!.asFloat()]));
    assert.deepEqual(Object.fromEntries(alpha), {
      relu_a: Math.fround(0.5), relu_b: Math.fround(0.6), relu_then: Math.fround(0.7), relu_else: Math.fround(0.7), relu_in_fn: Math.fround(0.9),
    });

    // Unmapped sites take the global κ…
    fs.writeFileSync(mapFile, JSON.stringify({ relu_a: 0.5 }));
    ok(run('jumprelu-convert', [model, out('partial.onnx'), '--kappa-map', mapFile, '--kappa', '0.1']));
    const p = load(out('partial.onnx'));
    assert.equal(siteOf(p, 'relu_a').kappa, 0.5);
    assert.equal(siteOf(p, 'relu_b').kappa, 0.1);
    // …or stay ReLU with --only-mapped (and without a global κ).
    for (const extra of [['--only-mapped', '--kappa', '0.1'], []]) {
      ok(run('jumprelu-convert', [model, out('only.onnx'), '--kappa-map', mapFile, ...extra]));
      const o = load(out('only.onnx'));
      assert.deepEqual(record(o).sites.map((s) => s.node), ['relu_a'], extra.join(' '));
      assert.equal(countOps(o, { includeFunctionBodies: true }).get('::Relu'), 4, 'the four unmapped Relus stay');
    }
  });

  test('per-channel κ from --kappa-map with --target where: J per channel, output shape unchanged (rank 4 and rank 2, declared or not)', async () => {
    const cases = [
      { what: 'Conv output [1,3,4,4]', shape: [1, 2, 4, 4], declare: false, conv: true },
      { what: 'Gemm output [2,3], value_info declared', shape: [2, 5], declare: true, conv: false },
      { what: 'Gemm output [2,3], no value_info', shape: [2, 5], declare: false, conv: false },
    ];
    const kappas = [0.1, 0.5, 100];
    for (const c of cases) {
      const mb = new ModelBuilder({ seed: 11 });
      const g = mb.main;
      const x = g.input('x', c.shape);
      const h = c.conv ? g.conv(x, 3, 3, 1, { name: 'conv' }) : g.gemm(x, 3, { name: 'fc' });
      if (c.declare) g.valueInfo(h);
      g.output(g.relu(h, { name: 'r', out: 'y' }));
      const f = out('perchannel.onnx');
      fs.writeFileSync(f, mb.bytes());
      const mapFile = out('perchannel.json');
      fs.writeFileSync(mapFile, JSON.stringify({ r: kappas }));
      ok(run('jumprelu-convert', [f, out('perchannel-out.onnx'), '--kappa-map', mapFile, '--target', 'where']));
      const xs = { x: { data: Float32Array.from({ length: c.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.cos(i * 0.9) * 3), dims: c.shape } };
      // The pre-activation, from the original model with h exposed.
      mb.main.output(h);
      const z = (await runModel(mb.bytes(), xs))[h.value.name]!;
      const y = (await runModel(out('perchannel-out.onnx'), xs))['y']!;
      assert.deepEqual(y.dims, z.dims, `${c.what}: output shape`);
      const per = z.dims.slice(2).reduce((a, b) => a * b, 1);
      const want = z.data.map((v, i) => (v > Math.fround(kappas[Math.floor(i / per) % 3]!) ? v : 0));
      assert.ok(bytesOf(y.data).equals(bytesOf(want)), `${c.what}: J per channel`);
    }
  });

  test('--grad-kappa is recorded in the metadata (and on the node for function/custom targets)', () => {
    for (const target of ['thresholded-relu', 'where', 'function', 'custom'] as Target[]) {
      ok(run('jumprelu-convert', [model, out(`g-${target}.onnx`), '--kappa', '0.4', '--grad-kappa', '0.15', '--target', target]));
      const m = load(out(`g-${target}.onnx`));
      const rec = record(m);
      assert.equal(rec.format, 1);
      assert.equal(rec.sites.length, 5);
      for (const s of rec.sites) {
        assert.equal(s.kappa, 0.4);
        assert.equal(s.grad_kappa, 0.15, `${target} ${s.node}`);
        assert.equal(s.target, target);
      }
      if (target === 'function' || target === 'custom') {
        const calls = nodes(m).filter((n) => n.opType === 'JumpRelu');
        assert.equal(calls.length, 5);
        for (const n of calls) assert.equal(n.attr('grad_kappa')?.asFloat(), Math.fround(0.15));
      }
    }
    // κ = 0 keeps the Relus, but a gradient κ is still remembered.
    ok(run('jumprelu-convert', [model, out('g-zero.onnx'), '--kappa', '0', '--grad-kappa', '0.15']));
    const z = load(out('g-zero.onnx'));
    assert.equal(countOps(z, { includeFunctionBodies: true }).get('::Relu'), 5);
    assert.deepEqual(record(z).sites.map((s) => [s.target, s.kappa, s.grad_kappa]), Array(5).fill(['relu', 0, 0.15]));
  });

  test('--relu6 converts Clip(0, 6) (and Clip(min=0)) as JumpReLU before the clip; without it the site is only reported', async () => {
    const makeClip = (max: number | null): string => {
      const mb = new ModelBuilder();
      const x = mb.main.input('x', [1, 12]);
      mb.main.output(mb.main.clip(x, 0, max, { name: 'clip', out: 'y' }));
      const f = out(`clip-${max}.onnx`);
      fs.writeFileSync(f, mb.bytes());
      return f;
    };
    const xs = Float32Array.from([-3, -0.1, 0, 0.2, 0.5, 0.50001, 1, 5.9, 6, 6.5, 100, Math.fround(0.5)]);
    for (const max of [6, null]) {
      const f = makeClip(max);
      // Without --relu6: reported, nothing changes.
      const rep = ok(run('jumprelu-convert', [f, out('clip-noflag.onnx'), '--kappa', '0.5']));
      assert.match(rep.stdout, /reported: Clip\(min=0/);
      assert.ok(fs.readFileSync(out('clip-noflag.onnx')).equals(fs.readFileSync(f)), 'without --relu6 the model is unchanged');
      for (const target of ['thresholded-relu', 'where', 'function'] as Target[]) {
        ok(run('jumprelu-convert', [f, out('clip-conv.onnx'), '--kappa', '0.5', '--relu6', '--target', target]));
        const m = load(out('clip-conv.onnx'));
        const rec = record(m);
        assert.equal(rec.sites.length, 1);
        assert.equal(rec.sites[0]!.clip_node, 'clip');
        assert.equal(countOps(m).get('::Clip'), 1, 'the clip stays after the JumpReLU');
        const y = (await runModel(new Uint8Array(fs.readFileSync(out('clip-conv.onnx'))), { x: { data: xs, dims: [1, 12] } }))['y']!.data;
        const want = xs.map((v) => (v > Math.fround(0.5) ? Math.min(v, max ?? Infinity) : 0));
        assert.ok(bytesOf(y).equals(bytesOf(want)), `max ${max} ${target}: ${[...y]} vs ${[...want]}`);
      }
    }
  });

  test('Relus inside If branches and inside a model-local function are converted, and the model computes J', async () => {
    for (const target of ['thresholded-relu', 'where', 'function', 'custom'] as Target[]) {
      const r = ok(run('jumprelu-convert', [plain, out(`nested-${target}.onnx`), '--kappa', '0.3', '--target', target, '--json']));
      const summary = JSON.parse(r.stdout) as { sites: Array<{ node: string; graph: string; action: string }> };
      for (const node of ['relu_then', 'relu_else', 'relu_in_fn']) {
        assert.equal(summary.sites.find((s) => s.node === node)?.action, 'converted', `${target} ${node}`);
      }
      const m = load(out(`nested-${target}.onnx`));
      assert.equal(countOps(m, { includeFunctionBodies: true }).get('::Relu') ?? 0, 0, `${target}: no Relu left anywhere`);
      const act = m.functions.find((f) => f.name === 'Act')!;
      const lowered = { 'thresholded-relu': 'ThresholdedRelu', where: 'Where', function: 'JumpRelu', custom: 'JumpRelu' }[target];
      assert.equal(act.body.nodes.filter((n) => n.opType === lowered).length, 1, `${target}: one ${lowered} in the function body`);
      const branch = m.graph.nodes.find((n) => n.opType === 'If')!;
      for (const g of branch.subgraphs) assert.ok(g.nodes.some((n) => n.name.startsWith('relu_')), 'the branch holds its JumpReLU');
    }
    // Numbers: x → If(cond){Relu(x)}{Relu(x)} → Act (Relu inside) → y must be J(J(x)) = J(x), either branch.
    const xs = Float32Array.from([-2, -0.3, 0, 0.1, 0.3, Math.fround(0.3), 0.30001, 0.7, 3, 1e-8, -1e-8, 10]);
    const want = xs.map((v) => (v > Math.fround(0.3) ? v : 0));
    for (const cond of [true, false]) {
      const mb = new ModelBuilder();
      const g = mb.main;
      const x = g.input('x', [1, 12]);
      const c = g.boolConstant('cond', cond);
      const br = g.ifNode(c, [1, 12], (b) => b.relu(x, { name: 'then_relu' }), (b) => b.relu(x, { name: 'else_relu' }), { name: 'if' });
      mb.addFunction('local.fns', 'Act', (b, v) => b.relu(v, { name: 'fn_relu' }), [1, 12]);
      g.output(g.call('local.fns', 'Act', br, { name: 'call', out: 'y' }));
      const f = out(`tiny-${cond}.onnx`);
      fs.writeFileSync(f, mb.bytes());
      for (const target of ['thresholded-relu', 'where', 'function'] as Target[]) {
        const o = out(`tiny-${cond}-${target}.onnx`);
        ok(run('jumprelu-convert', [f, o, '--kappa', '0.3', '--target', target]));
        assert.equal(record(load(o)).sites.length, 3);
        const y = (await runModel(o, { x: { data: xs, dims: [1, 12] } }))['y']!.data;
        assert.ok(bytesOf(y).equals(bytesOf(want)), `cond ${cond} ${target}: ${[...y]}`);
      }
    }
  });

  test('errors: one line and exit 1/2 without --verbose; a stack with --verbose', () => {
    const junk = out('junk.onnx');
    fs.writeFileSync(junk, Uint8Array.from([0x08, 0x07, 0x3a, 0xff, 0x01]));
    const r = run('jumprelu-convert', [junk, out('junk-out.onnx'), '--kappa', '0.1']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    const v = run('jumprelu-convert', [junk, out('junk-out.onnx'), '--kappa', '0.1', '--verbose']);
    assert.equal(v.status, 1);
    assert.match(v.stderr, /\n\s+at /, 'a stack under --verbose');
    const u = run('jumprelu-convert', [model, out('u.onnx'), '--kappa', '-1']);
    assert.equal(u.status, 2, 'usage errors exit 2');
    const none = run('jumprelu', []);
    assert.notEqual(none.status, 0);
    assert.ok(!fs.existsSync(out('junk-out.onnx')) && !fs.existsSync(out('u.onnx')));
  });
});

describe('options that take a path: a missing or unusable file is io (exit 1), one line, never usage (exit 2)', () => {
  let tmp: string;
  let missing: string;
  let folder: string;
  let file: string;
  const model = defaultModelPath();
  const { images, labels } = defaultHeldoutPaths();
  const data = `mnist:${images},${labels}`;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-paths-'));
    missing = path.join(tmp, 'missing');
    folder = path.join(tmp, 'folder');
    fs.mkdirSync(folder);
    file = path.join(tmp, 'file');
    fs.writeFileSync(file, 'x');
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** The run's stderr is exactly `line` (one line), it exits 1, and (for `writes`) wrote nothing there. */
  function refused(bin: 'jumprelu-convert' | 'jumprelu', args: string[], line: string, writes?: string): void {
    const r = run(bin, args);
    assert.equal(r.error, undefined);
    assert.equal(r.stderr, `${line}\n`, `${bin} ${args.join(' ')}`);
    assert.equal(r.status, 1, `${bin} ${args.join(' ')}: exit 1 (io), not 2 (usage)`);
    if (writes) assert.ok(!fs.existsSync(writes), `nothing written to ${writes}`);
  }

  for (const [bin, pre, prog] of [['jumprelu-convert', [], 'jumprelu-convert'], ['jumprelu', ['convert'], 'jumprelu']] as const) {
    test(`${[bin, ...pre].join(' ')}: the model, --kappa-map, the output, --emit-customops`, () => {
      const o = path.join(tmp, `${bin}-out.onnx`);
      refused(bin, [...pre, `${missing}.onnx`, o, '--kappa', '1'], `${prog}: error: cannot read '${missing}.onnx': no such file [file-not-found]`, o);
      refused(bin, [...pre, folder, o, '--kappa', '1'], `${prog}: error: cannot read '${folder}': not a regular file [not-a-file]`, o);
      refused(bin, [...pre, model, o, '--kappa-map', `${missing}.json`], `${prog}: error: --kappa-map: cannot read '${missing}.json': no such file [file-not-found]`, o);
      refused(bin, [...pre, model, '--list', '--kappa-map', `${missing}.json`], `${prog}: error: --kappa-map: cannot read '${missing}.json': no such file [file-not-found]`);
      refused(bin, [...pre, model, o, '--kappa-map', folder], `${prog}: error: --kappa-map: cannot read '${folder}': it is a folder, not a file [not-a-file]`, o);
      refused(bin, [...pre, model, path.join(missing, 'o.onnx'), '--kappa', '1'],
        `${prog}: error: cannot write '${path.join(missing, 'o.onnx')}': folder '${missing}' does not exist [output-path]`);
      refused(bin, [...pre, model, o, '--kappa', '1', '--target', 'custom', '--emit-customops', file],
        `${prog}: error: --emit-customops ${file} is not a folder [emit-customops-dir]`, o);
      // the control: the same lines with the paths fixed succeed
      const map = path.join(tmp, 'map.json');
      fs.writeFileSync(map, JSON.stringify({ '/.*/': 0.5 }));
      ok(run(bin, [...pre, model, o, '--kappa-map', map]));
      assert.ok(fs.existsSync(o));
    });
  }

  test('an unreadable --kappa-map is io too (not checked as root, who reads any file)', { skip: process.getuid?.() === 0 ? 'running as root' : false }, () => {
    const locked = path.join(tmp, 'locked.json');
    fs.writeFileSync(locked, '{}');
    fs.chmodSync(locked, 0o000);
    refused('jumprelu-convert', [model, path.join(tmp, 'l.onnx'), '--kappa-map', locked], `jumprelu-convert: error: --kappa-map: cannot read '${locked}': permission denied [io]`);
  });

  test('jumprelu grad: the model and the output', () => {
    const o = path.join(tmp, 'g.onnx');
    refused('jumprelu', ['grad', `${missing}.onnx`, o, '--wrt', 'input', '--of', 'logits'], `jumprelu: error: cannot read '${missing}.onnx': no such file [file-not-found]`, o);
    refused('jumprelu', ['grad', '--check', `${missing}.onnx`], `jumprelu: error: cannot read '${missing}.onnx': no such file [file-not-found]`);
    refused('jumprelu', ['grad', model, path.join(missing, 'g.onnx'), '--wrt', 'input', '--of', 'logits'],
      `jumprelu: error: cannot write '${path.join(missing, 'g.onnx')}': folder '${missing}' does not exist [output-path]`);
  });

  test('jumprelu eval: the model, every --data kind, --kappa-map, --report, --resume', () => {
    const e = (extra: string[], m = model, d = data): string[] => ['eval', m, '--data', d, '--limit', '2', '--attacks', 'fgsm', '--quiet', ...extra];
    refused('jumprelu', e([], `${missing}.onnx`), `jumprelu: error: cannot read '${missing}.onnx': no such file [file-not-found]`);
    refused('jumprelu', e([], folder), `jumprelu: error: cannot read '${folder}': not a regular file [not-a-file]`);
    const nf = (f: string, what = 'file') => `jumprelu: error: --data: cannot read '${f}': no such ${what} [file-not-found]`;
    refused('jumprelu', e([], model, `npy:${missing}.npy,${labels}`), nf(`${missing}.npy`));
    refused('jumprelu', e([], model, `pb:${missing}.pb,${labels}`), nf(`${missing}.pb`));
    refused('jumprelu', e([], model, `mnist:${images},${missing}`), nf(missing));
    refused('jumprelu', e([], model, `mnist:${missing}`), nf(missing, 'folder'));
    refused('jumprelu', e([], model, `fashion-mnist:${folder}`), `jumprelu: error: --data: no t10k-images-idx3-ubyte[.gz] in ${folder} [file-not-found]`);
    refused('jumprelu', e([], model, `cifar10:${missing}.bin`), nf(`${missing}.bin`));
    refused('jumprelu', e([], model, `npz:${missing}.npz`), nf(`${missing}.npz`));
    refused('jumprelu', e([], model, `npz:${folder}`), `jumprelu: error: --data: cannot read '${folder}': it is a folder, not a file [not-a-file]`);
    refused('jumprelu', e(['--kappa', '0,1', '--kappa-map', `${missing}.json`]), `jumprelu: error: --kappa-map: cannot read '${missing}.json': no such file [file-not-found]`);
    refused('jumprelu', e(['--report', path.join(file, 'out')]),
      `jumprelu: error: --report ${path.join(file, 'out')}: cannot write there (a path component is not a folder) [report-write]`);
    // --resume: refused before anything runs, and the missing folder is not created
    refused('jumprelu', e(['--resume', missing]), `jumprelu: error: --resume: cannot read '${missing}': no such folder [file-not-found]`, missing);
    refused('jumprelu', e(['--resume', folder]), `jumprelu: error: --resume ${folder}: no interrupted run there (no .checkpoint/run.json) [file-not-found]`);
  });

  test('jumprelu tune and detect: --data, --kappa-map, --report', () => {
    const line = `jumprelu: error: --data: cannot read '${missing}.npy': no such file [file-not-found]`;
    refused('jumprelu', ['tune', model, '--data', `npy:${missing}.npy,${labels}`, '--quiet'], line);
    refused('jumprelu', ['tune', model, '--data', data, '--limit', '2', '--kappa-map', `${missing}.json`, '--quiet'],
      `jumprelu: error: --kappa-map: cannot read '${missing}.json': no such file [file-not-found]`);
    refused('jumprelu', ['detect', `${missing}.onnx`, '--data', data, '--quiet'], `jumprelu: error: cannot read '${missing}.onnx': no such file [file-not-found]`);
    refused('jumprelu', ['detect', model, '--data', `npy:${missing}.npy,${labels}`, '--quiet'], line);
    refused('jumprelu', ['detect', model, '--data', data, '--limit', '2', '--report', path.join(file, 'out'), '--quiet'],
      `jumprelu: error: --report ${path.join(file, 'out')}: cannot write there (a path component is not a folder) [report-write]`);
  });

  test('jumprelu merge and demo: the shard folders, --out', () => {
    const out = path.join(tmp, 'merged');
    refused('jumprelu', ['merge', missing, '--report', out], `jumprelu: error: merge: cannot read '${missing}': no such folder [file-not-found]`, out);
    refused('jumprelu', ['merge', folder, '--report', out], `jumprelu: error: merge: ${folder} holds no report.json (not a report folder) [file-not-found]`, out);
    refused('jumprelu', ['demo', '--out', file, '--kappa', '0'], `jumprelu: error: --out ${file}: cannot create the folder (a file is in the way) [output-path]`);
  });
});
