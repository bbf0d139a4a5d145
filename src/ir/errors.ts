// Errors a user can act on. The CLI prints `message` on one line and exits non-zero; anything that is
// not a JumpReluError is a bug and is reported as one (with a stack under --verbose).

export class JumpReluError extends Error {
  override name = 'JumpReluError';
}

/** The input is not a well-formed ONNX model (truncated, not protobuf, inconsistent sizes). */
export class ModelFormatError extends JumpReluError {
  override name = 'ModelFormatError';
}

/** External data that is missing, escapes the model's folder, or disagrees with its declaration. */
export class ExternalDataError extends JumpReluError {
  override name = 'ExternalDataError';
}

/** The graph breaks an IR invariant (reported by the verifier, naming the pass that broke it). */
export class VerifyError extends JumpReluError {
  override name = 'VerifyError';
}

/** Options or arguments that cannot be honoured (bad κ, unknown target, opset too old, …). */
export class UsageError extends JumpReluError {
  override name = 'UsageError';
}
