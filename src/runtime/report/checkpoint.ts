// The checkpoint of an interrupted run: every finished craft (an attack's adversarial examples and per-sample
// counts) is kept in REPORT/.checkpoint/, so `--resume REPORT` replays those crafts instead of re-running them and
// ends with the same report as an uninterrupted run (timings included: they are stored too). The figures are
// recomputed from the stored examples by the same code, so nothing but the crafts needs storing. The folder is
// removed when the run completes.
//
// Each craft is one file: a JSON header (lengths, curve, wall time) and the examples as float32 bits XORed with
// the clean samples' (exact, and untouched samples compress to nothing), deflated.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { DataError, JumpReluError, UsageError } from '../../ir/errors.js';
import { fileNotFound, fileReadError } from '../../ir/file-errors.js';
import type { AttackOutput } from '../attacks/common.js';
import { ReportWriteError, removeTree, writeFileAtomic } from './write.js';

export const CHECKPOINT_DIR = '.checkpoint';

export interface Craft {
  out: AttackOutput;
  wall: number;
}

/**
 * Refuses a --resume folder that holds no interrupted run, before anything runs or is created there. A folder
 * or checkpoint that is not there is a missing file (io, exit 1, code file-not-found), as for every path option.
 */
export function checkResumable(reportDir: string): void {
  if (!existsSync(reportDir)) throw fileNotFound(reportDir, '--resume', 'folder');
  if (!existsSync(join(reportDir, CHECKPOINT_DIR, 'run.json'))) {
    throw new JumpReluError(`--resume ${reportDir}: no interrupted run there (no ${CHECKPOINT_DIR}/run.json)${existsSync(join(reportDir, 'report.json')) ? '; its report is complete' : ''}`,
      { code: 'file-not-found' });
  }
}

export class Checkpoint {
  private readonly index = new Map<string, string>();

  private constructor(readonly dir: string, private readonly x: Float32Array) {}

  /** Starts a new run in `reportDir` (an earlier checkpoint there is discarded). */
  static fresh(reportDir: string, fingerprint: Record<string, unknown>, x: Float32Array): Checkpoint {
    const dir = join(reportDir, CHECKPOINT_DIR);
    removeTree(dir);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new ReportWriteError(`cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    writeFileAtomic(join(dir, 'run.json'), [`${JSON.stringify(fingerprint, null, 1)}\n`]);
    return new Checkpoint(dir, x);
  }

  /** Continues the run checkpointed in `reportDir`; refuses when its settings differ from these (checkResumable first). */
  static resume(reportDir: string, fingerprint: Record<string, unknown>, x: Float32Array): Checkpoint {
    const dir = join(reportDir, CHECKPOINT_DIR);
    const runFile = join(dir, 'run.json');
    checkResumable(reportDir);
    let text: string;
    try {
      text = readFileSync(runFile, 'utf8');
    } catch (e) {
      throw fileReadError(runFile, e, '--resume');
    }
    let saved: Record<string, unknown>;
    try {
      saved = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new DataError(`--resume ${reportDir}: ${runFile} is not valid JSON; start the run again without --resume`, { code: 'checkpoint-corrupt' });
    }
    const differ = Object.keys({ ...saved, ...fingerprint }).filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(fingerprint[k]));
    if (differ.length) {
      throw new UsageError(`--resume ${reportDir}: the interrupted run used different ${differ.join(', ')}: resume with the same model, data and flags`);
    }
    const c = new Checkpoint(dir, x);
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.craft')) continue;
      try {
        const label = c.decodeLabel(f);
        if (label !== null) c.index.set(label, join(dir, f));
      } catch {
        // a craft file cut by the interrupt: that craft simply runs again
      }
    }
    return c;
  }

  get size(): number {
    return this.index.size;
  }

  private fileFor(label: string): string {
    return join(this.dir, `${createHash('sha256').update(label).digest('hex').slice(0, 24)}.craft`);
  }

  private decodeLabel(file: string): string | null {
    const { header } = this.read(join(this.dir, file));
    return typeof header['label'] === 'string' ? header['label'] : null;
  }

  private read(file: string): { header: Record<string, unknown>; body: Uint8Array } {
    const raw = inflateSync(readFileSync(file));
    const len = raw.readUInt32LE(0);
    const header = JSON.parse(raw.subarray(4, 4 + len).toString('utf8')) as Record<string, unknown>;
    return { header, body: new Uint8Array(raw.buffer, raw.byteOffset + 4 + len, raw.byteLength - 4 - len) };
  }

  /** The stored craft with this label, or undefined. */
  get(label: string): Craft | undefined {
    const file = this.index.get(label);
    if (!file) return undefined;
    const { header, body } = this.read(file);
    const n = header['n'] as number;
    const values = header['values'] as number;
    if (values !== this.x.length) return undefined;
    const copy = body.slice(); // aligned
    const bits = new Uint32Array(copy.buffer, 0, values);
    const clean = new Uint32Array(this.x.buffer, this.x.byteOffset, values);
    const advBits = new Uint32Array(values);
    for (let i = 0; i < values; i++) advBits[i] = bits[i]! ^ clean[i]!;
    let at = values * 4;
    const iterations = new Int32Array(copy.buffer.slice(at, at + 4 * n));
    at += 4 * n;
    const attacked = copy.slice(at, at + n);
    at += n;
    const zeroGradient = copy.slice(at, at + n);
    return {
      out: { adv: new Float32Array(advBits.buffer), iterations, attacked, zeroGradient, curve: header['curve'] as number[] },
      wall: header['wall'] as number,
    };
  }

  /** Stores a finished craft (atomically: an interrupt leaves it whole or absent). */
  put(label: string, c: Craft): void {
    const n = c.out.iterations.length;
    const values = this.x.length;
    const header = Buffer.from(JSON.stringify({ label, n, values, curve: c.out.curve, wall: c.wall }));
    const body = new Uint8Array(4 + header.length + values * 4 + 4 * n + 2 * n);
    new DataView(body.buffer).setUint32(0, header.length, true);
    body.set(header, 4);
    let at = 4 + header.length;
    const adv = new Uint32Array(c.out.adv.buffer, c.out.adv.byteOffset, values);
    const clean = new Uint32Array(this.x.buffer, this.x.byteOffset, values);
    const xor = new Uint32Array(values);
    for (let i = 0; i < values; i++) xor[i] = adv[i]! ^ clean[i]!;
    body.set(new Uint8Array(xor.buffer), at);
    at += values * 4;
    body.set(new Uint8Array(c.out.iterations.buffer, c.out.iterations.byteOffset, 4 * n), at);
    at += 4 * n;
    body.set(c.out.attacked, at);
    at += n;
    body.set(c.out.zeroGradient, at);
    const file = this.fileFor(label);
    writeFileAtomic(file, [deflateSync(body, { level: 1 })]);
    this.index.set(label, file);
  }

  /** The run completed: the checkpoint is no longer needed. */
  finish(): void {
    removeTree(this.dir);
  }
}
