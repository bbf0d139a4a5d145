// The npm package as a user gets it: `npm pack` of a copy of this checkout (prepack builds dist/ and the
// prebuilt custom-op libraries), `npm install` of the tarball into an empty folder, then what a user does
// with it: --version, convert with --target custom and --emit-customops (nothing written inside the
// installed package), the emitted library loaded by Python ONNX Runtime, the TypeScript API compiled with
// tsc, CommonJS require, and the prebuilt CPU library rebuilt from the tarball's sources (byte-identical:
// the shipped binary is the one its sources build). Dependencies come from npm's cache when it has them
// (else the registry), except onnxruntime-node, linked from the checkout's node_modules.
//
// The prebuilt libraries of the checkout (customops/prebuilt/, made by `npm run build:prebuilt` or by
// customops/cuda-compile-check.sh in CI) are reused when they were built from the same sources; otherwise
// prepack builds them, the CUDA one only where an nvcc is at hand (else the test says it packed CPU only).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'node:test';
import { customOpsSourcesHash, type CustomOpsManifest } from '../src/cli/emit-customops.js';
import { repoRoot } from './fixtures.js';

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}:\n${String(r.stderr).slice(-4000)}\n${String(r.stdout).slice(-2000)}`);
  return { stdout: String(r.stdout), stderr: String(r.stderr) };
}

function have(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

/** An nvcc that needs no download: $CUDACXX, PATH, /usr/local/cuda, or the wheels cuda-toolkit.sh installed. */
function localNvcc(root: string): string | undefined {
  if (process.env['CUDACXX']) return process.env['CUDACXX'];
  const r = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  if (fs.existsSync('/usr/local/cuda/bin/nvcc')) return '/usr/local/cuda/bin/nvcc';
  const wheels = path.join(root, 'customops', 'third_party', 'cuda', 'nvidia');
  for (const d of fs.existsSync(wheels) ? fs.readdirSync(wheels) : []) {
    const n = path.join(wheels, d, 'bin', 'nvcc');
    if (fs.existsSync(n)) return n;
  }
  return undefined;
}

function localOrtHeaders(root: string): string | undefined {
  if (process.env['ORT_INCLUDE_DIR']) return process.env['ORT_INCLUDE_DIR'];
  const tp = path.join(root, 'customops', 'third_party');
  for (const d of fs.existsSync(tp) ? fs.readdirSync(tp) : []) {
    const inc = path.join(tp, d, 'include');
    if (d.startsWith('ort-headers-') && fs.existsSync(path.join(inc, 'onnxruntime_c_api.h'))) return inc;
  }
  return undefined;
}

/** Every file under dir with its size and mtime, to show that nothing was written there. */
function snapshot(dir: string): string {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else { const s = fs.lstatSync(p); out.push(`${path.relative(dir, p)} ${s.size} ${s.mtimeMs}`); }
    }
  };
  walk(dir);
  return out.join('\n');
}

const sha256 = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

test('npm pack → npm install in an empty folder: CLI, custom-op library, TypeScript API, rebuild from the tarball', { timeout: 600_000 }, (t) => {
  if (process.platform !== 'linux' || process.arch !== 'x64') { t.skip('prebuilt libraries are made for linux-x64 only'); return; }
  if (!have('git', ['--version']) || !fs.existsSync(path.join(repoRoot(), '.git'))) { t.skip('needs a git checkout'); return; }
  if (!have('cmake', ['--version'])) { t.skip('cmake is not installed'); return; }
  const hasPython = have('python3', ['-c', 'import onnx, onnxruntime, numpy']);
  const root = repoRoot();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jumprelu-pack-'));
  const env: NodeJS.ProcessEnv = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_onnxruntime_node_install: 'skip', npm_config_update_notifier: 'false' };
  const headers = localOrtHeaders(root);
  if (headers) env['ORT_INCLUDE_DIR'] = headers;
  const nvcc = localNvcc(root);
  if (nvcc) env['CUDACXX'] = nvcc;
  else { env['JUMPRELU_PREBUILT_CUDA'] = '0'; t.diagnostic('no nvcc at hand (customops/cuda-compile-check.sh installs one): packing the CPU library only'); }
  const t0 = Date.now();
  const step = (what: string): void => t.diagnostic(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  try {
    // 1. A copy of the checkout (tracked and untracked-but-not-ignored files), packed there.
    const src = path.join(tmp, 'src');
    const files = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root }).stdout.split('\0').filter(Boolean);
    for (const f of files) {
      const from = path.join(root, f);
      if (!fs.existsSync(from) || !fs.lstatSync(from).isFile()) continue; // links to shared folders (node_modules, caches) stay behind
      fs.mkdirSync(path.dirname(path.join(src, f)), { recursive: true });
      fs.copyFileSync(from, path.join(src, f));
    }
    fs.mkdirSync(path.join(src, '.git')); // build-prebuilt.sh and build.sh treat the copy as a checkout
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(src, 'node_modules'));
    const prebuilt = path.join(root, 'customops', 'prebuilt');
    if (fs.existsSync(prebuilt)) fs.cpSync(prebuilt, path.join(src, 'customops', 'prebuilt'), { recursive: true });
    step('copied');
    const packed = run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: src, env });
    const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const tarball = path.join(tmp, info[0]!.filename);
    const listed = new Set(info[0]!.files.map((f) => f.path));
    for (const f of ['LICENSE', 'README.md', 'package.json', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/jumprelu.js',
      'customops/build.sh', 'customops/src/jumprelu_ops.cc', 'customops/prebuilt/linux-x64/MANIFEST.json',
      'customops/prebuilt/linux-x64/libjumprelu_customops.so']) assert.ok(listed.has(f), `the tarball has no ${f}`);
    if (nvcc) assert.ok(listed.has('customops/prebuilt/linux-x64/libjumprelu_customops_cuda.so'), 'the tarball has no CUDA library');
    assert.ok(![...listed].some((f) => f.startsWith('dist/test/') || f.startsWith('test/') || f.endsWith('.ts') && !f.endsWith('.d.ts')), 'tests or TypeScript sources in the tarball');

    step('packed');
    // 2. Installed into an empty folder.
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    // onnxruntime-node (about 290 MB unpacked) is linked from the checkout instead of being unpacked again;
    // it satisfies the package's dependency on it. --ignore-scripts: its install script must not download.
    const ortNode = path.join(root, 'node_modules', 'onnxruntime-node');
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { 'onnxruntime-node': `file:${ortNode}` } }));
    run('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball], { cwd: app, env });
    step('installed');
    const pkg = path.join(app, 'node_modules', 'jumprelu');
    const before = snapshot(pkg);
    const bin = (name: string): string => path.join(app, 'node_modules', '.bin', name);
    const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version as string;
    assert.equal(run(bin('jumprelu'), ['--version'], { cwd: app }).stdout.trim(), version);
    assert.equal(run(bin('jumprelu-convert'), ['--version'], { cwd: app }).stdout.trim(), version);

    // 3. Convert with --target custom and --emit-customops: a note on stderr, the libraries and the usage note copied.
    const model = path.join(pkg, 'fixtures', 'default', 'lenet_mnist_baseline.onnx');
    const conv = run(bin('jumprelu-convert'), [model, 'custom.onnx', '--kappa', '1', '--target', 'custom', '--emit-customops', 'ops'], { cwd: app, env });
    assert.match(conv.stderr, /onnxruntime-node and onnxruntime-web cannot/);
    run(bin('jumprelu-convert'), [model, 'tr.onnx', '--kappa', '1'], { cwd: app });
    const manifest = JSON.parse(fs.readFileSync(path.join(app, 'ops', 'MANIFEST.json'), 'utf8')) as CustomOpsManifest;
    assert.equal(sha256(path.join(app, 'ops', 'libjumprelu_customops.so')), manifest.libraries.cpu!.sha256);
    assert.ok(fs.existsSync(path.join(app, 'ops', 'JUMPRELU_CUSTOMOPS.md')));
    assert.equal(manifest.sources_sha256, customOpsSourcesHash(path.join(pkg, 'customops')), 'the manifest names other sources than the tarball ships');
    assert.equal(snapshot(pkg), before, 'something was written inside the installed package');

    step('converted');
    // 4. Python ONNX Runtime loads the emitted libraries and runs the model: equal to the thresholded-relu model.
    if (hasPython) {
      const libs = Object.values(manifest.libraries).map((l) => path.join(app, 'ops', l.file));
      const py = run('python3', ['-c', `
import sys, numpy as np, onnxruntime as ort
x = np.random.default_rng(0).normal(size=(2, 1, 28, 28)).astype(np.float32)
ref = ort.InferenceSession("tr.onnx", providers=["CPUExecutionProvider"])
want = ref.run(None, {ref.get_inputs()[0].name: x})[0]
for lib in sys.argv[1:]:
    so = ort.SessionOptions(); so.register_custom_ops_library(lib)
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession("custom.onnx", so, providers=["CPUExecutionProvider"])
    got = s.run(None, {s.get_inputs()[0].name: x})[0]
    assert np.array_equal(got, want), (lib, float(np.abs(got - want).max()))
print("ok", len(sys.argv) - 1)
`, ...libs], { cwd: app });
      assert.equal(py.stdout.trim(), `ok ${libs.length}`);
    } else t.diagnostic('python3 with onnx, onnxruntime and numpy is not installed: the Python check is skipped');

    step('python');
    // 5. The TypeScript API through the exports map, compiled with tsc; CommonJS require.
    fs.writeFileSync(path.join(app, 'main.ts'), `import { loadModel, retrofit, saveModel, type RetrofitReport } from 'jumprelu';
const m = loadModel(process.argv[2]!);
const r: RetrofitReport = retrofit(m, { kappa: 0.5, target: 'where' });
saveModel(m, 'api.onnx');
console.log(r.counts.converted);
`);
    fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')], skipLibCheck: false } }));
    run(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: app });
    assert.equal(run(process.execPath, ['main.js', model], { cwd: app }).stdout.trim(), '4');
    fs.writeFileSync(path.join(app, 'req.cjs'), "const j = require('jumprelu'); console.log(typeof j.retrofit, typeof j.loadModel);\n");
    assert.equal(run(process.execPath, ['req.cjs'], { cwd: app }).stdout.trim(), 'function function');
    assert.equal(spawnSync(process.execPath, ['-e', "import('jumprelu/dist/src/ir/io.js')"], { cwd: app }).status, 1, 'files outside the exports map are importable');

    step('typescript');
    // 6. The prebuilt CPU library rebuilt from the installed package's sources, outside it: byte-identical.
    const rebuilt = run('bash', [path.join(pkg, 'customops', 'build.sh'), path.join(tmp, 'rebuild'), '-DJUMPRELU_CUDA=OFF', '-DJUMPRELU_BUILD_C_SMOKE=OFF', '-DJUMPRELU_STATIC_LIBSTDCXX=OFF'], { env }).stdout.trim().split('\n').pop()!;
    assert.equal(sha256(rebuilt), manifest.libraries.cpu!.sha256, 'the shipped CPU library is not what the tarball\'s sources build');
    const noCmake = spawnSync('bash', [path.join(pkg, 'customops', 'build.sh'), path.join(tmp, 'rebuild2')], { encoding: 'utf8', env: { ...env, CMAKE: '/nonexistent/cmake' } });
    assert.equal(noCmake.status, 1);
    assert.match(noCmake.stderr.trim(), /^build\.sh: cmake \(>= 3\.18\) is not installed: apt-get install cmake/);
    assert.equal(snapshot(pkg), before, 'building from source wrote inside the installed package');
    step('rebuilt');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
