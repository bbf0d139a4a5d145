// Preloaded with `node --import` ahead of a command: writes the process's peak resident set size on exit, so a
// test or bench measures a child run's memory from outside the code it measures.

process.on('exit', () => {
  process.stderr.write(`\nmax-rss-kb ${process.resourceUsage().maxRSS}\n`);
});
