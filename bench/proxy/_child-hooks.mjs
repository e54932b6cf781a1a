// Loaded with `--import` into every proxy process bench:proxy starts (ours, the floor and Portkey). On the IPC
// message `{op:'rss'}` it forces a GC (the child runs with --expose-gc) and answers with its resident set size, so
// the benchmark can measure memory per open stream the same way for all three; on `{op:'cpu'}` it answers with the
// process's CPU time so far (user + system, microseconds), which prices a request independently of machine load;
// `{op:'loop-reset'}` / `{op:'loop'}` sample how late its event loop ran (p99 and max, ms), so a stall seen by the
// client can be told apart from one inside the proxy.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();

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
  } else if (message.op === 'loop-reset') {
    loopDelay.reset();
    process.send?.({ op: 'loop-reset', id: message.id });
  } else if (message.op === 'loop') {
    process.send?.({
      op: 'loop',
      p99: loopDelay.percentile(99) / 1e6,
      max: loopDelay.max / 1e6,
      id: message.id,
    });
  } else if (message.op === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send?.({ op: 'cpu', cpu: user + system, id: message.id });
  }
});
