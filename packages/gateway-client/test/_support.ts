// Shared test helpers (not a test file): a recording logger, event waits, fake and bare ws servers with
// a client attached, and failure capture.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@defenseclaw/protocol';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  type ClientEventMap,
  createGatewayClient,
  deviceIdentityFromSeed,
  type GatewayClient,
  type GatewayClientError,
  type GatewayClientOptions,
  isGatewayClientError,
} from '../src/index.ts';
import {
  createFakeOpenClawGateway,
  type FakeOpenClawGateway,
  type FakeOpenClawGatewayOptions,
} from '../src/testing/index.ts';

/** One captured log line. */
export type LogLine = {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields?: Record<string, unknown>;
};

/** A logger that keeps every line, plus the whole output as one string for leak checks. */
export function createRecordingLogger(): { logger: Logger; lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const record =
    (level: LogLine['level']) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      lines.push(fields === undefined ? { level, msg } : { level, msg, fields });
    };
  return {
    logger: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') },
    lines,
    text: () =>
      lines.map((line) => `${line.level} ${line.msg} ${JSON.stringify(line.fields ?? {})}`).join('\n'),
  };
}

/** A fixed test identity (seed 0x00…0x1f, the spec 10 §2.3 vector), so tests never touch ~/.defenseclaw. */
export const testIdentity = deviceIdentityFromSeed(Uint8Array.from({ length: 32 }, (_, i) => i));

/** Resolves with the next `name` event matching `predicate` (no timer: the test runner's timeout applies). */
export function nextEvent<K extends keyof ClientEventMap>(
  client: GatewayClient,
  name: K,
  predicate: (payload: ClientEventMap[K]) => boolean = () => true,
): Promise<ClientEventMap[K]> {
  return new Promise((resolve) => {
    const off = client.on(name, (payload) => {
      if (!predicate(payload)) return;
      off();
      resolve(payload);
    });
  });
}

/** Collects every `name` event into an array. */
export function collect<K extends keyof ClientEventMap>(client: GatewayClient, name: K): ClientEventMap[K][] {
  const out: ClientEventMap[K][] = [];
  client.on(name, (payload) => out.push(payload));
  return out;
}

/** Waits until `predicate` holds, polling on real macrotasks (setImmediate is never mocked here). */
export async function until(predicate: () => boolean, limit = 20_000): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (predicate()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('condition not reached');
}

/** A bare ws server on 127.0.0.1:0 for handshakes the fake cannot produce. */
export async function createRawServer(
  onConnection: (ws: WebSocket, headers: Record<string, unknown>) => void,
): Promise<{
  url: string;
  port: number;
  sockets: Set<WebSocket>;
  closeCodes: number[];
  close(): Promise<void>;
}> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const sockets = new Set<WebSocket>();
  const closeCodes: number[] = [];
  server.on('connection', (ws, req) => {
    sockets.add(ws);
    ws.on('close', (code) => {
      closeCodes.push(code);
      sockets.delete(ws);
    });
    onConnection(ws, req.headers);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    sockets,
    closeCodes,
    close: async () => {
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback URL where nothing listens (connections are refused). */
export async function deadUrl(): Promise<{ url: string; port: number }> {
  const raw = await createRawServer(() => {});
  await raw.close();
  return { url: raw.url, port: raw.port };
}

/** The body of `withFakeClient` and `withConnectedClient`. */
export type FakeClientBody = (fake: FakeOpenClawGateway, client: GatewayClient) => Promise<void>;

/**
 * Runs `body` with a fresh fake gateway and a client (with `testIdentity`) pointed at it, not yet connected,
 * and closes the client, then the fake, even when `body` throws.
 */
export async function withFakeClient(
  fakeOptions: FakeOpenClawGatewayOptions,
  clientOptions: Partial<GatewayClientOptions>,
  body: FakeClientBody,
): Promise<void> {
  const fake = await createFakeOpenClawGateway(fakeOptions);
  const client = createGatewayClient({ url: fake.url, identity: testIdentity, ...clientOptions });
  try {
    await body(fake, client);
  } finally {
    await client.close();
    await fake.close();
  }
}

/** Like `withFakeClient`, with `token` on both sides and the client connected before `body` runs. */
export function withConnectedClient(
  token: string,
  fakeOptions: FakeOpenClawGatewayOptions,
  clientOptions: Partial<GatewayClientOptions>,
  body: FakeClientBody,
): Promise<void> {
  return withFakeClient({ token, ...fakeOptions }, { token, ...clientOptions }, async (fake, client) => {
    await client.connect();
    await body(fake, client);
  });
}

/**
 * Runs `body` with a bare ws server (see `createRawServer`) and a client (with `testIdentity`) pointed at it,
 * and closes the client, then the server, even when `body` throws.
 */
export async function withRawClient(
  onConnection: (ws: WebSocket, headers: Record<string, unknown>) => void,
  clientOptions: Partial<GatewayClientOptions>,
  body: (client: GatewayClient) => Promise<void>,
): Promise<void> {
  const raw = await createRawServer(onConnection);
  const client = createGatewayClient({ url: raw.url, identity: testIdentity, ...clientOptions });
  try {
    await body(client);
  } finally {
    await client.close();
    await raw.close();
  }
}

/** Awaits `promise`, asserts that it rejects with a GatewayClientError, and returns that error. */
export async function failure(promise: Promise<unknown>): Promise<GatewayClientError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isGatewayClientError(error), `expected a GatewayClientError, got ${String(error)}`);
    return error;
  }
  assert.fail('the call resolved but should have failed');
}

/** Under mock timers: collects the next `count` `reconnecting` events, ticking through each backoff but the last. */
export async function nextReconnects(
  client: GatewayClient,
  tick: (ms: number) => void,
  count: number,
): Promise<ClientEventMap['reconnecting'][]> {
  const seen: ClientEventMap['reconnecting'][] = [];
  for (let i = 0; i < count; i++) {
    const event = await nextEvent(client, 'reconnecting');
    seen.push(event);
    if (i < count - 1) tick(event.delayMs);
  }
  return seen;
}

/** Sends a `connect.challenge` the way OpenClaw does. */
export function sendChallenge(ws: WebSocket, nonce = 'test-nonce'): void {
  ws.send(JSON.stringify({ type: 'event', event: 'connect.challenge', payload: { nonce, ts: Date.now() } }));
}

/** The `auth.token` a fake connection sent in its connect params. */
export function sentToken(connection: { params: Record<string, unknown> | undefined } | undefined): unknown {
  const auth = connection?.params?.auth;
  return typeof auth === 'object' && auth !== null ? (auth as { token?: unknown }).token : undefined;
}

/** The `serverError.details` of an error as a record (empty when absent). */
export function detailsOf(
  error: { serverError?: { details?: unknown } | undefined } | undefined,
): Record<string, unknown> {
  const details = error?.serverError?.details;
  return typeof details === 'object' && details !== null ? (details as Record<string, unknown>) : {};
}
