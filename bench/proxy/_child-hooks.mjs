// Loaded with `--import` into every proxy process bench:proxy starts (ours, the floor and Portkey). On the IPC
// message `{op:'rss'}` it forces a GC (the child runs with --expose-gc) and answers with its resident set size, so
// the benchmark can measure memory per open stream the same way for all three; on `{op:'cpu'}` it answers with the
// process's CPU time so far (user + system, microseconds), which prices a request independently of machine load.
process.on('message', (message) => {
  if (message === null || typeof message !== 'object') return;
  if (message.op === 'rss') {
    globalThis.gc?.();
    globalThis.gc?.();
    const m = process.memoryUsage();
    process.send?.({
      op: 'rss',
      rss: m.rss,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      id: message.id,
    });
  } else if (message.op === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send?.({ op: 'cpu', cpu: user + system, id: message.id });
  }
});
