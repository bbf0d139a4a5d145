// A file or folder the user named that cannot be read: always kind `io` (exit 1), never a usage error —
// the path was typed correctly, the file system disagrees (docs/errors: exit 2 only for usage errors). One
// message shape for every option that takes a path (the model, --kappa-map, --data, --resume, merge's
// folders): "<what>: cannot read '<path>': <why>", with code `file-not-found` (nothing there, or a path
// component that is not a folder), `not-a-file` (a folder where a file is wanted, or the reverse) or `io`.

import { JumpReluError } from './errors.js';

/** The io error for a failed read of `file` (an fs error, or anything else thrown while reading it). */
export function fileReadError(file: string, err: unknown, what?: string): JumpReluError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const prefix = what ? `${what}: ` : '';
  switch (code) {
    case 'ENOENT': case 'ENOTDIR':
      return new JumpReluError(`${prefix}cannot read '${file}': no such file`, { code: 'file-not-found', cause: err });
    case 'EISDIR':
      return new JumpReluError(`${prefix}cannot read '${file}': it is a folder, not a file`, { code: 'not-a-file', cause: err });
    case 'EACCES': case 'EPERM':
      return new JumpReluError(`${prefix}cannot read '${file}': permission denied`, { cause: err });
    default:
      return new JumpReluError(`${prefix}cannot read '${file}': ${code ?? (err instanceof Error ? err.message : String(err))}`, { cause: err });
  }
}

/** The io error for a path that does not exist (found by a check rather than a failed read). */
export function fileNotFound(file: string, what?: string, kind: 'file' | 'folder' = 'file'): JumpReluError {
  return new JumpReluError(`${what ? `${what}: ` : ''}cannot read '${file}': no such ${kind}`, { code: 'file-not-found' });
}
