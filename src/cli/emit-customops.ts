// --emit-customops DIR: copy the custom-op libraries that ship prebuilt in this package
// (customops/prebuilt/<platform>/, made by customops/build-prebuilt.sh when the package is packed), their
// manifest and a usage note into DIR. No compiler, no network, nothing written inside the package: a
// platform without prebuilt libraries gets an error that says how to build one from the shipped sources.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JumpReluError } from '../ir/errors.js';
import { packageRoot } from '../package-root.js';

/** What build-prebuilt.sh writes next to the libraries (MANIFEST.json). */
export interface CustomOpsManifest {
  platform: string;
  sources_sha256: string;
  ort_api_version_of_headers: number;
  min_onnxruntime: string;
  compiler: string;
  libraries: Partial<Record<'cpu' | 'cuda', { file: string; kernels: string[]; sha256: string; bytes: number; needs_glibc: string | null; cuda?: string }>>;
  cuda_missing?: string;
}

export interface EmittedCustomOps {
  /** The CPU library (float32/float16 kernels). */
  library: string;
  /** The library with CPU and CUDA kernels, when the package has one. */
  cudaLibrary?: string;
  /** The usage note written next to them. */
  note: string;
  manifest: string;
}

/** `linux-x64`, the folder name under customops/prebuilt/ for this machine. */
export function platformKey(): string {
  return `${process.platform}-${process.arch}`;
}

/**
 * The files whose content determines the binaries, hashed the way build-prebuilt.sh hashes them:
 * sha256 over the `sha256sum` lines (`<hex>  <path>\n`) of the files in byte order of their paths.
 */
export function customOpsSourcesHash(customopsDir: string): string | undefined {
  const srcDir = path.join(customopsDir, 'src');
  if (!fs.existsSync(srcDir)) return undefined;
  const files = ['CMakeLists.txt', 'build.sh', 'build-prebuilt.sh', 'repro/fixed_pid.c', ...fs.readdirSync(srcDir).map((f) => `src/${f}`)];
  files.sort(); // ASCII names: code-unit order is byte order, as LC_ALL=C sort gives
  let lines = '';
  for (const f of files) {
    const file = path.join(customopsDir, f);
    if (!fs.existsSync(file)) return undefined;
    lines += `${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}  ${f}\n`;
  }
  return createHash('sha256').update(lines).digest('hex');
}

function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

const BUILD_HINT = 'build.sh needs cmake ≥ 3.18, a C++17 compiler and ONNX Runtime headers (it fetches them, or set ORT_INCLUDE_DIR)';

/** Reads and checks the prebuilt libraries of this package for this platform. */
export function prebuiltCustomOps(): { dir: string; manifest: CustomOpsManifest } {
  const root = packageRoot();
  const customops = path.join(root, 'customops');
  const dir = path.join(customops, 'prebuilt', platformKey());
  const manifestFile = path.join(dir, 'MANIFEST.json');
  if (!fs.existsSync(manifestFile)) {
    const inCheckout = fs.existsSync(path.join(root, '.git'));
    throw new JumpReluError(inCheckout
      ? `no prebuilt custom-op library in ${dir}: run \`npm run build:prebuilt\` in this checkout first (JUMPRELU_PREBUILT_CUDA=0 for the CPU library only; ${BUILD_HINT})`
      : `this package has no prebuilt custom-op library for ${platformKey()} (only linux-x64 ships); build one from its sources: bash ${path.join(customops, 'build.sh')} BUILD_DIR (${BUILD_HINT})`,
    { code: 'customops-missing' });
  }
  let manifest: CustomOpsManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as CustomOpsManifest;
  } catch (e) {
    throw new JumpReluError(`${manifestFile} is not valid JSON: ${(e as Error).message}`, { code: 'customops-damaged' });
  }
  const sources = customOpsSourcesHash(customops);
  if (sources !== undefined && sources !== manifest.sources_sha256) {
    throw new JumpReluError(`the prebuilt custom-op libraries in ${dir} were built from other sources than customops/ holds now: run \`npm run build:prebuilt\``, { code: 'customops-stale' });
  }
  for (const lib of Object.values(manifest.libraries)) {
    const file = path.join(dir, lib.file);
    if (!fs.existsSync(file)) throw new JumpReluError(`prebuilt custom-op library ${file} is missing`, { code: 'customops-damaged' });
    if (sha256File(file) !== lib.sha256) throw new JumpReluError(`prebuilt custom-op library ${file} does not match its manifest (damaged installation?)`, { code: 'customops-damaged' });
  }
  if (!manifest.libraries.cpu) throw new JumpReluError(`${manifestFile} lists no CPU library`, { code: 'customops-damaged' });
  return { dir, manifest };
}

/** Copies a file into place through a temporary name, so DEST never holds half a library. */
function copyAtomic(from: string, to: string): void {
  const tmp = `${to}.tmp-${process.pid}`;
  try {
    fs.copyFileSync(from, tmp);
    fs.renameSync(tmp, to);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new JumpReluError(`cannot write ${to}: ${(e as Error).message}`, { code: 'customops-write' });
  }
}

export function emitCustomOps(destDir: string): EmittedCustomOps {
  // the folder the user named first: a file in its place is refused whether or not the libraries are built
  if (fs.existsSync(destDir) && !fs.statSync(destDir).isDirectory()) throw new JumpReluError(`--emit-customops ${destDir} is not a folder`, { code: 'emit-customops-dir' });
  const { dir, manifest } = prebuiltCustomOps();
  try {
    fs.mkdirSync(destDir, { recursive: true });
  } catch (e) {
    throw new JumpReluError(`cannot create ${destDir}: ${(e as Error).message}`, { code: 'customops-write' });
  }
  const out: Partial<EmittedCustomOps> = {};
  for (const [kind, lib] of Object.entries(manifest.libraries)) {
    const to = path.join(destDir, lib.file);
    copyAtomic(path.join(dir, lib.file), to);
    if (kind === 'cpu') out.library = to;
    else out.cudaLibrary = to;
  }
  out.manifest = path.join(destDir, 'MANIFEST.json');
  copyAtomic(path.join(dir, 'MANIFEST.json'), out.manifest);
  out.note = path.join(destDir, 'JUMPRELU_CUSTOMOPS.md');
  copyAtomic(path.join(packageRoot(), 'customops', 'USAGE.md'), out.note);
  return out as EmittedCustomOps;
}
