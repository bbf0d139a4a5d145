// Errors a user can act on, as data: each has a kind (what is wrong: the arguments, the model, the data,
// the file system) and a short stable code (for tests and pipelines; never reworded once released). The
// CLI prints `message` on one line with the code and exits with the kind's status (2 for usage, 1 for the
// rest); anything that is not a JumpReluError is a bug and is reported as one (with a stack under
// --verbose). This module sits below every layer, so any layer may throw these.

/**
 * - `usage`: the arguments or options cannot be honoured (bad κ, unknown target, missing flag). Exit 2.
 *   Only for what the user typed; what the model or data is never makes a usage error.
 * - `invalid-model`: the model is not valid ONNX (malformed protobuf, a node with the wrong number of
 *   inputs for its op, external data that escapes its folder, a broken graph).
 * - `unsupported-model`: a valid model that this tool cannot handle (an op without a gradient rule,
 *   control flow where it is not supported, an opset too old for the requested form).
 * - `data`: input data that is malformed or inconsistent (a dataset file, NaN pixels, wrong shapes).
 * - `io`: the file system or environment (a file that cannot be read or written, a failed build).
 */
export type ErrorKind = 'usage' | 'invalid-model' | 'unsupported-model' | 'data' | 'io';

export const ERROR_KINDS: readonly ErrorKind[] = ['usage', 'invalid-model', 'unsupported-model', 'data', 'io'];

export interface JumpReluErrorOptions {
  /** A short stable code (lowercase words joined by '-', e.g. 'external-data-duplicate'). */
  code?: string;
  /** Overrides the class's kind (only the base class needs it). */
  kind?: ErrorKind;
  cause?: unknown;
}

/** The process exit status for an error kind: 2 for usage errors, 1 for everything else. */
export function exitStatusOf(kind: ErrorKind): number {
  return kind === 'usage' ? 2 : 1;
}

export class JumpReluError extends Error {
  override name = 'JumpReluError';
  readonly kind: ErrorKind;
  readonly code: string;

  /** The base class defaults to kind `io` (file-system and environment failures) with code 'io'. */
  constructor(message: string, options: JumpReluErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const defaults = (new.target as unknown as { readonly defaults?: { kind: ErrorKind; code: string } }).defaults;
    this.kind = options.kind ?? defaults?.kind ?? 'io';
    this.code = options.code ?? defaults?.code ?? this.kind;
  }

  static readonly defaults: { kind: ErrorKind; code: string } = { kind: 'io', code: 'io' };
}

/** Options or arguments that cannot be honoured (bad κ, unknown target, missing output, …). */
export class UsageError extends JumpReluError {
  override name = 'UsageError';
  static override readonly defaults = { kind: 'usage' as const, code: 'usage' };
}

/** The model is not valid ONNX in a way the file's bytes show (truncated, not protobuf, bad sizes). */
export class ModelFormatError extends JumpReluError {
  override name = 'ModelFormatError';
  static override readonly defaults = { kind: 'invalid-model' as const, code: 'model-format' };
}

/** The model is well-formed protobuf but breaks ONNX's rules (wrong input count, duplicate names, …). */
export class InvalidModelError extends JumpReluError {
  override name = 'InvalidModelError';
  static override readonly defaults = { kind: 'invalid-model' as const, code: 'invalid-model' };
}

/** External data that is missing, escapes the model's folder, or disagrees with its declaration. */
export class ExternalDataError extends JumpReluError {
  override name = 'ExternalDataError';
  static override readonly defaults = { kind: 'invalid-model' as const, code: 'external-data' };
}

/**
 * The graph breaks an IR invariant. On the input model that is an invalid model; after a pass it is a
 * bug in that pass, which the message names.
 */
export class VerifyError extends JumpReluError {
  override name = 'VerifyError';
  static override readonly defaults = { kind: 'invalid-model' as const, code: 'verify' };
}

/** A valid model this tool cannot handle (no gradient rule for an op, control flow, opset too old, …). */
export class UnsupportedModelError extends JumpReluError {
  override name = 'UnsupportedModelError';
  static override readonly defaults = { kind: 'unsupported-model' as const, code: 'unsupported-model' };
}

/** Input data (a dataset file, image arrays, labels) that is malformed or inconsistent. */
export class DataError extends JumpReluError {
  override name = 'DataError';
  static override readonly defaults = { kind: 'data' as const, code: 'data' };
}

/** The kind and code of any thrown value: a JumpReluError's own, or `internal` for anything else (a bug). */
export function describeError(err: unknown): { kind: ErrorKind | 'internal'; code: string; message: string } {
  if (err instanceof JumpReluError) return { kind: err.kind, code: err.code, message: err.message };
  return { kind: 'internal', code: 'internal', message: err instanceof Error ? err.message : String(err) };
}
