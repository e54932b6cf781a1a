// A fake Splunk HTTP Event Collector on loopback for the forwarder tests: real sockets, programmable answers,
// outages (the listener closes and reopens on the same port) and slow replies. Not a test file.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import type { Logger } from '@defenseclaw/protocol';

/** One event line as the fake parsed it. */
export type HecLine = {
  time: number;
  host: string;
  source: string;
  sourcetype: string;
  index?: string;
  event: {
    id: number;
    ts: string;
    kind: string;
    source: string;
    session_key: string | null;
    tool: string | null;
    summary: string | null;
    verdicts: {
      lane: string;
      action: string;
      raw_action: string;
      severity: string | null;
      mode: string;
      rule_ids: string[];
      enforced: boolean;
    }[];
    sidecar: { version: string; instance_id: string };
    payload?: unknown;
  };
};

/** One request the fake received. */
export type HecRequest = { authorization: string | undefined; path: string; bytes: number; lines: HecLine[] };

/** What the fake answers; `delayMs` holds the answer, `destroy` drops the connection instead. */
export type HecReply = {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
  destroy?: boolean;
};

/** A running fake collector. */
export type FakeHec = {
  /** `http://127.0.0.1:<port>` (a bare base URL, as operators write it). */
  readonly url: string;
  readonly requests: HecRequest[];
  /** Ids of events in requests that were answered 200, in arrival order (repeats included). */
  readonly acceptedIds: number[];
  /** Replaces the answer logic; the default accepts valid lines carrying the expected token. */
  handle(fn: (request: HecRequest, index: number) => HecReply): void;
  /** Closes the listener and every connection: the collector is down (connection refused). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
};

/** The answer of a healthy collector. */
export const SUCCESS: HecReply = { status: 200, body: { text: 'Success', code: 0 } };

/** Starts a fake collector expecting `Authorization: Splunk <token>`; closed after the test. */
export async function startFakeHec(t: TestContext, options: { token: string }): Promise<FakeHec> {
  const requests: HecRequest[] = [];
  const acceptedIds: number[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const defaultHandler = (request: HecRequest): HecReply => {
    if (request.authorization !== `Splunk ${options.token}`) {
      return { status: 401, body: { text: 'Invalid token', code: 4 } };
    }
    return SUCCESS;
  };
  let handler: (request: HecRequest, index: number) => HecReply = defaultHandler;
  let server: Server | undefined;
  let port = 0;

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let lines: HecLine[];
      try {
        lines = raw.split('\n').map((line) => JSON.parse(line) as HecLine);
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ text: 'Invalid data format', code: 6 }));
        return;
      }
      const request: HecRequest = {
        authorization: req.headers.authorization,
        path: req.url ?? '',
        bytes: Buffer.byteLength(raw),
        lines,
      };
      const index = requests.push(request) - 1;
      const reply = handler(request, index);
      const answer = () => {
        timers.delete(timer);
        if (reply.destroy === true) {
          req.socket.destroy();
          return;
        }
        if (reply.status === 200) for (const line of lines) acceptedIds.push(line.event.id);
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {}));
      };
      const timer = setTimeout(answer, reply.delayMs ?? 0);
      timers.add(timer);
    });
  };

  const listen = async () => {
    server = createServer(onRequest);
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as AddressInfo).port;
  };
  const stop = async () => {
    const current = server;
    server = undefined;
    if (current === undefined) return;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    current.closeAllConnections();
    await new Promise<void>((resolve) => current.close(() => resolve()));
  };

  await listen();
  const fake: FakeHec = {
    url: `http://127.0.0.1:${port}`,
    requests,
    acceptedIds,
    handle(fn) {
      handler = fn;
    },
    down: stop,
    up: listen,
    close: stop,
  };
  t.after(stop);
  return fake;
}

/** Polls `probe` until it returns something other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => T | undefined | false,
  what: string | (() => string),
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      assert.fail(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A logger that keeps every line (message and fields) in memory. */
export function memoryLogger(): Logger & { lines: string[]; text(): string } {
  const lines: string[] = [];
  const push = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(`${level} ${msg}${fields === undefined ? '' : ` ${JSON.stringify(fields)}`}`);
  };
  return {
    lines,
    text: () => lines.join('\n'),
    debug: push('debug'),
    info: push('info'),
    warn: push('warn'),
    error: push('error'),
  };
}

/** The ids 1..n. */
export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}
