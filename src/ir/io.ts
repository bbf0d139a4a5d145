// Reading and writing model files, external data included.
//
// Loading validates every external-data reference before anything else runs: the location must stay
// inside the model's folder (no absolute paths, no `..`, no symlink that leads out), the byte range
// must lie inside the file, and a declared length must agree with the tensor's dims and type.
// Saving is atomic: everything is written to temporary files first and renamed at the end, so a
// failure leaves no partial output and never damages the input.
//
// Big inline initializers are not read at load time (model-image.ts): their raw_data stays in the input
// file, and saving copies those byte ranges from the input to the output (file-span.ts), after checking
// the input has not changed since it was loaded.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeModel } from './decode.js';
import { encodeModel } from './encode.js';
import { ExternalDataError, JumpReluError, ModelFormatError } from './errors.js';
import { copyBytes, type FileSpan, SpanSource, stampOf } from './file-span.js';
import type { Model } from './model.js';
import { readFully, readModelImage } from './model-image.js';
import { Holes, writeChunks } from './span-writer.js';
import type { ExternalBytes, Tensor } from './tensor.js';
import { readExternalBytes } from './external-bytes.js';

export { readExternalBytes };
import { AttributeType } from './attribute.js';

/** Protobuf messages are limited to 2 GiB; larger models must keep their weights in external data. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

export interface LoadOptions {
  /**
   * Leave big inline initializers' data in the file until it is needed or saved (default true). False reads
   * the whole file into memory, e.g. to let the file be rewritten while the model is still in use.
   */
  leaveDataOnDisk?: boolean;
}

export function loadModel(file: string, options: LoadOptions = {}): Model {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new JumpReluError(`cannot read '${file}': no such file`, { code: 'file-not-found' });
  }
  if (!stat.isFile()) throw new JumpReluError(`cannot read '${file}': not a regular file`, { code: 'not-a-file' });
  if (stat.size > PROTOBUF_LIMIT) {
    throw new ModelFormatError(`'${file}' is ${stat.size} bytes, over protobuf's 2 GiB limit: not a valid ONNX file`, { code: 'model-too-large' });
  }
  const real = fs.realpathSync(file);
  const fd = fs.openSync(real, 'r');
  try {
    const image = readModelImage(fd, real, stampOf(fs.fstatSync(fd, { bigint: true })), options.leaveDataOnDisk ?? true);
    const model = decodeModel(image.bytes, path.dirname(path.resolve(file)));
    model.sourceFile = real;
    leaveOnDisk(model, image.bytes, image.spans, fd);
    validateTensors(model);
    return model;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Hands each span the image left unread to the tensor whose raw_data it is. A span no tensor claims (the
 * decoder read the file differently from the scan, which it should not) is read into the image after all,
 * so the decoded views are complete either way.
 */
function leaveOnDisk(model: Model, image: Uint8Array, spans: readonly FileSpan[], fd: number): void {
  if (spans.length === 0) return;
  const byOffset = new Map(spans.map((s) => [s.offset, s]));
  for (const v of model.graph.initializers.values()) v.initializer?.leaveDataOnDisk(image, byOffset);
  for (const s of byOffset.values()) readFully(fd, s.file, image, s.offset, s.offset + s.length);
}

/** Every tensor of the model (initializers, sparse initializers' parts, tensor attributes, all graphs). */
export function* allTensors(model: Model): Generator<Tensor> {
  for (const g of model.graphs()) {
    for (const v of g.initializers.values()) if (v.initializer) yield v.initializer;
    for (const s of g.sparseInitializers) if (s.tensors) yield* s.tensors;
    for (let n = g.firstNode; n; n = n._next) {
      if (n.attributes.size === 0) continue; // no iterator for the many nodes without attributes
      for (const a of n.attributes.values()) {
        if (a.data.type === AttributeType.TENSOR) yield a.data.value as Tensor;
        if (a.data.type === AttributeType.TENSORS) yield* a.data.value as Tensor[];
      }
    }
  }
}

function validateTensors(model: Model): void {
  for (const t of allTensors(model)) {
    if (t.external) {
      if (!model.baseDir) throw new ExternalDataError(`tensor '${t.name}' uses external data but the model has no folder`, { code: 'external-data-no-folder' });
      t.externalBytes = resolveExternalData(model.baseDir, t);
    } else {
      t.validateInlineData();
    }
  }
}

function resolveExternalData(baseDir: string, t: Tensor): ExternalBytes {
  const ref = t.external!;
  const loc = ref.location;
  const where = `tensor '${t.name}': external data location '${loc}'`;
  if (loc === '') throw new ExternalDataError(`${where} is empty`, { code: 'external-data-location' });
  if (path.isAbsolute(loc) || path.win32.isAbsolute(loc) || loc.startsWith('/') || loc.startsWith('\\')) {
    throw new ExternalDataError(`${where} is an absolute path; it must be relative to the model's folder`, { code: 'external-data-escape' });
  }
  if (loc.split(/[\\/]/).includes('..')) throw new ExternalDataError(`${where} escapes the model's folder`, { code: 'external-data-escape' });
  if (loc.includes('\0')) throw new ExternalDataError(`${where} contains a NUL byte`, { code: 'external-data-location' });
  const full = path.join(baseDir, loc);
  let real: string;
  try {
    real = fs.realpathSync(full);
  } catch {
    throw new ExternalDataError(`${where}: file not found`, { code: 'external-data-missing' });
  }
  const realBase = fs.realpathSync(baseDir);
  if (!real.startsWith(realBase + path.sep)) {
    throw new ExternalDataError(`${where} leads outside the model's folder through a symbolic link`, { code: 'external-data-escape' });
  }
  const st = fs.statSync(real);
  if (!st.isFile()) throw new ExternalDataError(`${where} is not a regular file`, { code: 'external-data-missing' });
  const expected = t.expectedByteLength;
  if (ref.length !== null && expected !== null && ref.length !== expected) {
    throw new ExternalDataError(
      `tensor '${t.name}': external data length ${ref.length} disagrees with dims [${t.dims.join(', ')}] (${expected} bytes)`, { code: 'external-data-length' });
  }
  const length = ref.length ?? expected;
  if (length === null) throw new ExternalDataError(`tensor '${t.name}': external data of a variable-size type needs a length`, { code: 'external-data-length' });
  if (ref.offset > BigInt(st.size) || ref.offset + length > BigInt(st.size)) {
    throw new ExternalDataError(
      `tensor '${t.name}': external data range ${ref.offset}+${length} runs past the end of '${loc}' (${st.size} bytes)`, { code: 'external-data-range' });
  }
  return { file: real, offset: Number(ref.offset), length: Number(length) };
}

/**
 * The model's bytes for a runtime that loads it from memory (ONNX Runtime's InferenceSession.create(bytes)):
 * external data inlined, since such a runtime resolves external locations against the process's working
 * directory, not the model's folder. External references are resolved (and checked) against the model's folder
 * if the loader has not done it yet.
 */
export function sessionBytes(model: Model): Uint8Array {
  let external = false;
  for (const t of allTensors(model)) {
    if (!t.external) continue;
    external = true;
    if (!t.externalBytes) {
      if (!model.baseDir) throw new ExternalDataError(`tensor '${t.name}' uses external data but the model has no folder`, { code: 'external-data-no-folder' });
      t.externalBytes = resolveExternalData(model.baseDir, t);
    }
  }
  if (!external) return encodeModel(model).toBytes();
  const chunks = encodeModel(model, (t) => (t.externalBytes ? t.withInlineData(readExternalBytes(t.externalBytes)).encode() : t.encode()));
  if (chunks.length > PROTOBUF_LIMIT) {
    throw new JumpReluError(`the model with its external data is ${chunks.length} bytes, over protobuf's 2 GiB limit: it cannot be handed to ONNX Runtime from memory`,
      { kind: 'unsupported-model', code: 'model-too-large' });
  }
  return chunks.toBytes();
}

export interface SaveOptions {
  /** Move initializers of at least `threshold` bytes into `location` (default `<model file>.data`). */
  externalData?: { threshold: number; location?: string };
}

export interface SaveResult {
  modelBytes: number;
  externalFiles: string[];
}

/**
 * Writes the model to `file` atomically. External data already referenced by the model stays where it
 * is when the output is in the model's own folder, and is copied beside the output otherwise.
 */
export function saveModel(model: Model, file: string, options: SaveOptions = {}): SaveResult {
  const outFile = path.resolve(file);
  const outDir = path.dirname(outFile);
  if (!fs.existsSync(outDir) || !fs.statSync(outDir).isDirectory()) {
    throw new JumpReluError(`cannot write '${file}': folder '${outDir}' does not exist`, { code: 'output-path' });
  }
  if (fs.existsSync(outFile) && fs.statSync(outFile).isDirectory()) {
    throw new JumpReluError(`cannot write '${file}': it is a folder`, { code: 'output-path' });
  }
  const referenced = new Set<string>();
  for (const t of allTensors(model)) if (t.externalBytes) referenced.add(t.externalBytes.file);
  // The output's real path (it exists when the model is saved over its own file, the one case that matters below).
  const realOut = realOrSelf(outFile);
  const overInput = model.sourceFile !== null && realOut === model.sourceFile;
  if (referenced.has(realOut)) {
    throw new JumpReluError(`cannot write '${file}': it is an external-data file of the model being saved`, { code: 'output-path' });
  }
  const staged: Array<{ tmp: string; final: string }> = [];
  const stage = (final: string): string => {
    // Two outputs with one final path would leave the last rename's bytes under both names.
    if (staged.some((s) => s.final === final)) throw new JumpReluError(`two output files would be written to '${final}'`, { code: 'output-path' });
    const tmp = path.join(path.dirname(final), `.${path.basename(final)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
    staged.push({ tmp, final });
    return tmp;
  };
  const createdDirs: string[] = [];
  let done = false;
  try {
    const replacements = new Map<Tensor, Tensor>();
    const externalFiles: string[] = [];
    if (options.externalData) {
      const location = options.externalData.location ?? `${path.basename(outFile)}.data`;
      checkOutputLocation(location);
      const dataFile = path.join(outDir, location);
      checkDataFileCollision(model, dataFile, outFile);
      const parent = path.dirname(dataFile);
      if (!fs.existsSync(parent)) {
        createdDirs.push(firstMissingAncestor(parent));
        fs.mkdirSync(parent, { recursive: true });
      }
      writeExternalData(model, stage(dataFile), location, options.externalData.threshold, replacements);
      externalFiles.push(dataFile);
    }
    copyExistingExternalData(model, outDir, replacements, stage, externalFiles, createdDirs);
    const holes = new Holes();
    const chunks = encodeModel(model, (t) => {
      const r = replacements.get(t);
      if (r) return r.encode();
      const e = t.encodeLeavingData();
      if (e.hole) holes.add(t, e.bytes, e.hole.at, e.hole.span);
      return e.bytes;
    });
    if (chunks.length > PROTOBUF_LIMIT) {
      throw new JumpReluError(
        `the model would be ${chunks.length} bytes, over protobuf's 2 GiB limit; save with external data (--external-data)`,
        { kind: 'unsupported-model', code: 'output-too-large' });
    }
    const written = writeChunks(stage(outFile), chunks.chunks, holes);
    if (overInput) keepDataNotFollowed(model, holes);
    for (const s of staged) fs.renameSync(s.tmp, s.final);
    staged.length = 0;
    done = true;
    if (overInput) holes.moveTo(outFile, written);
    return { modelBytes: chunks.length, externalFiles };
  } catch (e) {
    // File-system failures (permissions, full disk, a path component that is a file) are the user's
    // to fix: one line, not an internal error.
    if (!(e instanceof JumpReluError) && typeof (e as NodeJS.ErrnoException).code === 'string') {
      throw new JumpReluError(`cannot write '${file}': ${(e as Error).message}`, { code: 'write-failed' });
    }
    throw e;
  } finally {
    for (const s of staged) fs.rmSync(s.tmp, { force: true });
    if (!done) for (const d of createdDirs) fs.rmSync(d, { recursive: true, force: true });
  }
}

/**
 * Before the input file is replaced by the output: tensors whose data is left in it but not copied into the
 * output as a hole (renamed, moved to external data, or not written at all) could not follow it to the new
 * file (Holes.moveTo), and the old file is about to go, so their data is read into memory now. Otherwise the
 * model would stay in memory unusable: every later read or save refused with input-changed.
 */
function keepDataNotFollowed(model: Model, holes: Holes): void {
  for (const t of allTensors(model)) {
    if (t.dataOnDisk && t.dataOnDisk.file === model.sourceFile && !holes.holds(t)) t.loadDataIntoMemory();
  }
}

function firstMissingAncestor(dir: string): string {
  let d = dir;
  while (!fs.existsSync(path.dirname(d))) d = path.dirname(d);
  return d;
}

function realOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/**
 * The new data file must not replace the output model, the input model, or (unless the input itself is
 * being replaced) a data file the input still needs.
 */
function checkDataFileCollision(model: Model, dataFile: string, outFile: string): void {
  const data = realOrSelf(dataFile);
  const out = realOrSelf(outFile);
  if (data === out) throw new JumpReluError(`external data location '${path.basename(dataFile)}' is the output model itself`, { code: 'output-path' });
  if (model.sourceFile && data === model.sourceFile) throw new JumpReluError(`external data location '${path.basename(dataFile)}' is the input model`, { code: 'output-path' });
  const replacingInput = model.sourceFile !== null && out === model.sourceFile;
  // Initializers move to the new file; tensors inside node attributes (Constant) keep their old file.
  const moving = new Set<Tensor>();
  for (const g of model.graphs()) for (const v of g.initializers.values()) if (v.initializer) moving.add(v.initializer);
  for (const t of allTensors(model)) {
    if (!t.externalBytes || t.externalBytes.file !== data) continue;
    if (!replacingInput || !moving.has(t)) {
      throw new JumpReluError(`external data location '${path.basename(dataFile)}' would overwrite external data the model still needs; choose another name`, { code: 'output-path' });
    }
  }
}

function checkOutputLocation(location: string): void {
  const parts = location.split(/[\\/]/);
  const last = parts[parts.length - 1];
  if (path.isAbsolute(location) || parts.includes('..') || location === '' || last === '' || last === '.') {
    throw new JumpReluError(`external data location '${location}' must be a relative path inside the output folder`, { code: 'output-path' });
  }
}

const ALIGN = 64;
/**
 * Tensors smaller than this stay inline even with threshold 0: ONNX Runtime constant-folds tiny
 * tensors (an If condition, say) and then resolves their external location against the working
 * directory instead of the model's folder.
 */
const MIN_EXTERNAL_BYTES = 64;

function writeExternalData(model: Model, tmp: string, location: string, threshold: number, replacements: Map<Tensor, Tensor>): void {
  const fd = fs.openSync(tmp, 'w');
  try {
    let offset = 0;
    for (const g of model.graphs()) {
      for (const v of g.initializers.values()) {
        const t = v.initializer;
        if (!t) continue;
        const size = t.external ? t.externalBytes?.length ?? 0 : t.inlineRawLength ?? -1;
        // Data that was external moves to the new file whatever its size, so the output references one
        // file only (and an old data file may be replaced safely when the input is).
        if (!t.externalBytes && (size < 0 || size < threshold || size < MIN_EXTERNAL_BYTES)) continue;
        const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
        if (pad) fs.writeSync(fd, new Uint8Array(pad), 0, pad, offset);
        offset += pad;
        if (t.externalBytes) copyRange(t.externalBytes, fd, offset);
        else if (t.dataOnDisk) copySpan(t.dataOnDisk, fd, offset);
        else writeAll(fd, t.inlineRawData!, offset);
        replacements.set(t, t.withExternalData(location, offset, size));
        offset += size;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

function copyExistingExternalData(
  model: Model, outDir: string, replacements: Map<Tensor, Tensor>, stage: (f: string) => string, externalFiles: string[],
  createdDirs: string[],
): void {
  // Keyed by destination: two locations reaching one file through a symlink are two files to write.
  const copies = new Map<string, string>(); // destination → real source file
  for (const t of allTensors(model)) {
    if (!t.externalBytes || replacements.has(t)) continue;
    copies.set(path.join(outDir, t.external!.location), t.externalBytes.file);
  }
  for (const [dest, src] of copies) {
    if (fs.existsSync(dest) && fs.realpathSync(dest) === src) continue; // same folder: nothing to copy
    const parent = path.dirname(dest);
    if (!fs.existsSync(parent)) {
      createdDirs.push(firstMissingAncestor(parent));
      fs.mkdirSync(parent, { recursive: true });
    }
    fs.copyFileSync(src, stage(dest));
    externalFiles.push(dest);
  }
}

function copyRange(src: ExternalBytes, fd: number, at: number): void {
  const inFd = fs.openSync(src.file, 'r');
  try {
    copyBytes(inFd, src.offset, src.length, fd, at,
      () => new ExternalDataError(`'${src.file}' is shorter than declared`, { code: 'external-data-range' }));
  } finally {
    fs.closeSync(inFd);
  }
}

function copySpan(span: FileSpan, fd: number, at: number): void {
  const src = SpanSource.open(span);
  try {
    src.copyTo(span.offset, span.length, fd, at);
    src.check();
  } finally {
    src.close();
  }
}

function writeAll(fd: number, bytes: Uint8Array, at: number): void {
  for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done, bytes.length - done, at + done);
}
