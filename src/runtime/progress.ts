// Progress on stderr: a redrawn bar when stderr is a TTY, otherwise a plain line per task (and every 10 %).

export interface Progress {
  start(task: string, total: number): void;
  update(done: number): void;
  end(note?: string): void;
  log(line: string): void;
}

export const silentProgress: Progress = { start() {}, update() {}, end() {}, log() {} };

export function stderrProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = !!stream.isTTY;
  let task = '';
  let total = 0;
  let started = 0;
  let lastDecile = -1;
  const fmt = (s: number) => (s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${Math.round(s % 60)}s`);
  return {
    start(t, n) {
      task = t;
      total = n;
      started = performance.now();
      lastDecile = -1;
      if (!tty) stream.write(`${task} …\n`);
    },
    update(done) {
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      if (tty) {
        const width = 24;
        const filled = Math.round(frac * width);
        stream.write(`\r${task} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.round(frac * 100)}% ${fmt((performance.now() - started) / 1000)}\x1b[K`);
      } else {
        const decile = Math.floor(frac * 10);
        if (decile > lastDecile && decile < 10) {
          lastDecile = decile;
          if (decile > 0) stream.write(`${task}: ${decile * 10}%\n`);
        }
      }
    },
    end(note) {
      const s = `${task}: done in ${fmt((performance.now() - started) / 1000)}${note ? ` (${note})` : ''}`;
      stream.write(tty ? `\r${s}\x1b[K\n` : `${s}\n`);
    },
    log(line) {
      stream.write(`${line}\n`);
    },
  };
}
