// One conversion in a fresh process, for the benchmark: prints its steps' wall and CPU times and peak RSS as
// JSON. It imports what `jumprelu-convert` needs for a conversion (not the package entry, which loads the
// harness and ORT), after Node's own start-up, so the import time is measured on its own:
//   startMs   process start → this module running (Node's bootstrap and loading this file)
//   importMs  importing the IR and the passes
//   loadMs, retrofitMs, saveMs, and ms = their sum (the in-process figure); *CpuMs: CPU time (user + sys)
//   warmMs, warmCpuMs  the same conversion again in the same process (output removed and `sync` run
//              first, outside the timing): what a pipeline that converts many models through the API pays
//              per model once the code is compiled; the first call also pays V8 compiling the codec
//   endMs      process start → the report (the parent's wall time minus this is the exit)
//   node dist/bench/convert-once.js IN OUT
//   node dist/bench/convert-once.js IN OUT --copy   the file copied by the saver's copy loop alone (a baseline)

const startMs = performance.now();
const [input, output] = process.argv.slice(2) as [string, string];
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const steps: Record<string, number> = {};
let wall = performance.now();
let cpu = cpuNow();
function step(name: string, f: () => void): void {
  f();
  const w = performance.now();
  const c = cpuNow();
  steps[`${name}Ms`] = w - wall;
  steps[`${name}CpuMs`] = c - cpu;
  wall = w;
  cpu = c;
}

if (process.argv.includes('--copy')) {
  const fs = await import('node:fs');
  const { copyBytes } = await import('../src/ir/file-span.js');
  const importMs = performance.now() - startMs;
  wall = performance.now();
  cpu = cpuNow();
  step('copy', () => {
    const inFd = fs.openSync(input, 'r');
    const outFd = fs.openSync(output, 'w');
    copyBytes(inFd, 0, fs.fstatSync(inFd).size, outFd, null, () => new Error('short'));
    fs.closeSync(outFd);
    fs.closeSync(inFd);
  });
  process.stdout.write(`${JSON.stringify({ startMs, importMs, ...steps, ms: steps['copyMs'], cpuMs: steps['copyCpuMs'], maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
} else {
  const [{ loadModel, saveModel }, { retrofit }] = await Promise.all([import('../src/ir/io.js'), import('../src/passes/retrofit.js')]);
  const importMs = performance.now() - startMs;
  wall = performance.now();
  cpu = cpuNow();
  let model: ReturnType<typeof loadModel> | null = null;
  step('load', () => (model = loadModel(input)));
  step('retrofit', () => retrofit(model!, { kappa: 0.07 }));
  step('save', () => saveModel(model!, output));
  const sum = (k: string): number => steps[`load${k}`]! + steps[`retrofit${k}`]! + steps[`save${k}`]!;
  const first = { ms: sum('Ms'), cpuMs: sum('CpuMs'), maxRssBytes: process.resourceUsage().maxRSS * 1024 };
  const fs = await import('node:fs');
  const { spawnSync } = await import('node:child_process');
  fs.rmSync(output, { force: true });
  spawnSync('sync');
  wall = performance.now();
  cpu = cpuNow();
  step('warm', () => {
    const again = loadModel(input);
    retrofit(again, { kappa: 0.07 });
    saveModel(again, output);
  });
  process.stdout.write(`${JSON.stringify({ startMs, importMs, ...steps, ...first, endMs: performance.now() })}\n`);
}
