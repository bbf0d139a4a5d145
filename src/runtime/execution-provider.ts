// The ONNX Runtime execution provider the harness's sessions run on (`--ep cpu|cuda`). CPU is always there; CUDA
// only where the installed onnxruntime-node binding lists it and its provider libraries load on this machine
// (the npm package leaves them out unless its install script could fetch them, and they need an NVIDIA GPU).
// Asked for and not there, the run is refused before anything is attacked, with one line saying why — never a
// silent fall-back to CPU. Exit 2: the option cannot be honoured as typed, and the same command will be refused
// again on this installation (a job engine should not retry it); the fix is --ep cpu or the CUDA build.

import { basename } from 'node:path';
import * as ort from 'onnxruntime-node';
import { UsageError } from '../ir/errors.js';
import { ortMessage } from './oracle.js';

export const EXECUTION_PROVIDERS = ['cpu', 'cuda'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export function isExecutionProvider(s: string): s is ExecutionProvider {
  return (EXECUTION_PROVIDERS as readonly string[]).includes(s);
}

/** The providers the binding was built with (what `listSupportedBackends` says; cpu only when it cannot say). */
export function listedProviders(): string[] {
  const list = (ort as unknown as { listSupportedBackends?: () => Array<{ name: string }> }).listSupportedBackends;
  return typeof list === 'function' ? list().map((b) => b.name) : ['cpu'];
}

/** The session options that put a session on `ep`. */
export function providerOptions(ep: ExecutionProvider): Pick<ort.InferenceSession.SessionOptions, 'executionProviders'> {
  return { executionProviders: ep === 'cpu' ? ['cpu'] : ['cuda', 'cpu'] };
}

/** Why ORT could not start the provider, in a few words (the library it could not load, the CUDA failure). */
function reason(e: unknown): string {
  const m = ortMessage(e).slice(0, 200);
  if (/Failed to load (?:shared )?library/i.test(m)) return `its provider libraries are not installed or do not load (${m})`;
  return m;
}

/**
 * Refuses `ep` unless sessions can run on it: cuda must be listed by the binding, and a session of the model
 * itself must start on it (the probe loads the provider library and the device). cpu is always accepted.
 */
export async function checkExecutionProvider(ep: ExecutionProvider, modelPath: string): Promise<void> {
  if (ep === 'cpu') return;
  const listed = listedProviders();
  if (!listed.includes(ep)) {
    throw new UsageError(`--ep ${ep}: the installed onnxruntime-node has no ${ep} provider (it has ${listed.join(', ')}); use --ep cpu`, { code: 'ep-unavailable' });
  }
  let session: ort.InferenceSession | null = null;
  // ORT's own log line about the failed library load would precede ours: only fatal ones (set before its first session)
  ort.env.logLevel = 'fatal';
  try {
    session = await ort.InferenceSession.create(modelPath, { executionProviders: [ep], logSeverityLevel: 4 });
  } catch (e) {
    throw new UsageError(`--ep ${ep}: onnxruntime-node cannot start the ${ep} provider here: ${reason(e)}; use --ep cpu, or install onnxruntime-node with its CUDA libraries on a machine with an NVIDIA GPU`, { code: 'ep-unavailable' });
  } finally {
    await session?.release();
  }
}
