// The floor of bench:proxy: a bare Node pass-through proxy (node:http in, `undici.request` out, bodies piped, only
// `content-type` copied back). No routing, auth, parsing or scanning: what any Node proxy costs.
import { createServer } from 'node:http';
import { Agent, request } from 'undici';

const upstream = process.env.BENCH_UPSTREAM!;
const agent = new Agent({ connections: 1024, pipelining: 1, keepAliveTimeout: 30_000 });

const server = createServer(async (req, res) => {
  try {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const name of ['x-bench-frames', 'x-bench-interval-ms', 'x-bench-chunk-chars']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const answer = await request(`${upstream}${req.url}`, {
      method: 'POST',
      headers,
      body: req,
      dispatcher: agent,
      signal: controller.signal,
    });
    res.writeHead(answer.statusCode, {
      'content-type': String(answer.headers['content-type'] ?? 'application/json'),
    });
    answer.body.pipe(res);
  } catch {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  }
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ op: 'ready', port: (server.address() as { port: number }).port });
});
process.on('disconnect', () => server.close(() => process.exit(0)));
process.on('SIGTERM', () => process.exit(0));
