// Loaded with `--import` into every proxy process bench:proxy starts (ours, the floor and Portkey). On the IPC
// message `{op:'rss'}` it forces a GC (the child runs with --expose-gc) and answers with its resident set size, so
// the benchmark can measure memory per open stream the same way for all three.
process.on('message', (message) => {
  if (message === null || typeof message !== 'object' || message.op !== 'rss') return;
  globalThis.gc?.();
  globalThis.gc?.();
  process.send?.({ op: 'rss', rss: process.memoryUsage().rss, id: message.id });
});
