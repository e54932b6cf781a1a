// The fake LLM upstream of bench:proxy, run as its own process (pinned to cpu0). It speaks just enough OpenAI Chat
// Completions: a realistic non-streaming completion, and streams of numbered chunks paced by the requested model name
// (`…frames-64-interval-20-chunk-24`; every proxy forwards the model, while custom headers are not forwarded by all
// of them — Portkey drops them) so a client can check that every frame arrived, in order and unaltered. The headers
// `x-bench-frames`, `x-bench-interval-ms`, `x-bench-chunk-chars` are still honoured when the model names nothing.
// `GET /count` reports how many completions it served, proving each target reached it.
import { createServer } from 'node:http';

let served = 0;
let connections = 0;

const COMPLETION_TEXT =
  'Here is a summary of the repository layout. The src folder holds the TypeScript sources, split by feature; ' +
  'tests live next to them under test/, and the bench folder measures throughput and latency. To build, run the ' +
  'install step and then the typecheck; nothing is compiled ahead of time because the runtime loads sources ' +
  'through a loader. Configuration is read from config.yaml in the data directory, with environment overrides ' +
  'for secrets. The audit database keeps every verdict, and the REST API serves health and alerts on loopback. ' +
  'Let me know if you want me to open any of these files or run the test suite next.';

/** Renders stream frame `i` of a completion; the client recomputes it to check integrity. */
export function streamFrame(id: string, i: number, chunkChars: number): string {
  const content = `f${String(i).padStart(5, '0')} ${'lorem ipsum dolor sit amet '.repeat(8).slice(0, Math.max(0, chunkChars - 7))}`;
  return `data: ${JSON.stringify({
    id,
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'bench-model',
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
  })}\n\n`;
}

const finalFrames = (id: string) =>
  `data: ${JSON.stringify({
    id,
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'bench-model',
    choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
  })}\n\ndata: [DONE]\n\n`;

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ served, connections }));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    served += 1;
    let body: { stream?: boolean; model?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { stream?: boolean; model?: unknown };
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"bad json"}}');
      return;
    }
    const id = `chatcmpl-bench${served}`;
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created: 1_700_000_000,
          model: 'bench-model',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: COMPLETION_TEXT, refusal: null },
              logprobs: null,
              finish_reason: 'stop',
            },
          ],
          usage: { prompt_tokens: 300, completion_tokens: 120, total_tokens: 420 },
        }),
      );
      return;
    }
    const model = typeof body.model === 'string' ? body.model : '';
    const knob = (name: string, header: string, fallback: number) =>
      Number(new RegExp(`${name}-(\\d+)`).exec(model)?.[1] ?? req.headers[header] ?? fallback);
    const frames = knob('frames', 'x-bench-frames', 16);
    const intervalMs = knob('interval', 'x-bench-interval-ms', 0);
    const chunkChars = knob('chunk', 'x-bench-chunk-chars', 24);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const next = () => {
      if (res.destroyed) return;
      if (i >= frames) {
        res.end(finalFrames(id));
        return;
      }
      if (intervalMs === 0) {
        let out = '';
        while (i < frames) out += streamFrame(id, i++, chunkChars);
        res.write(out);
        next();
        return;
      }
      res.write(streamFrame(id, i++, chunkChars));
      timer = setTimeout(next, intervalMs);
    };
    res.on('close', () => clearTimeout(timer));
    next();
  });
});
server.keepAliveTimeout = 30_000;
server.on('connection', () => {
  connections += 1;
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.send?.({ op: 'ready', port: address.port });
});
process.on('disconnect', () => server.close(() => process.exit(0)));
process.on('SIGTERM', () => process.exit(0));
