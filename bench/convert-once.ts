// One conversion in a fresh process, for the benchmark: prints its steps' wall times and peak RSS as JSON.
// It imports what `jumprelu-convert` needs for a conversion (not the package entry, which loads the
// harness and ORT), after Node's own start-up, so the import time is measured on its own:
//   startMs   process start → this module running (Node's bootstrap and loading this file)
//   importMs  importing the IR and the passes
//   loadMs, retrofitMs, saveMs, and ms = their sum (the in-process figure); cpuMs: its CPU time (user + sys)

const startMs = performance.now();
const [{ loadModel, saveModel }, { retrofit }] = await Promise.all([import('../src/ir/io.js'), import('../src/passes/retrofit.js')]);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const [input, output] = process.argv.slice(2) as [string, string];
const model = loadModel(input);
const t1 = performance.now();
retrofit(model, { kappa: 0.07 });
const t2 = performance.now();
saveModel(model, output);
const t3 = performance.now();
const cpu = process.cpuUsage(cpu0);
process.stdout.write(`${JSON.stringify({
  startMs, importMs: t0 - startMs, loadMs: t1 - t0, retrofitMs: t2 - t1, saveMs: t3 - t2, ms: t3 - t0, cpuMs: (cpu.user + cpu.system) / 1000,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
})}\n`);
