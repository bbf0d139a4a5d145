// `jumprelu-convert m.onnx --list | head`: a reader that stops early is not an error. Both bins' entry
// points (convert-main.ts, main.ts) install this before writing anything.

export function exitQuietlyOnEpipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}
