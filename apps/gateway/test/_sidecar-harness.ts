import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { AuditStore, EventDetail } from '@defenseclaw/audit-store';
import type { FakeConnection, FakeOpenClawGateway } from '@defenseclaw/gateway-client/testing';
import { type Config, defaultConfig, ensureDataDir } from '../src/config/index.ts';
import { createAppLogger } from '../src/logger.ts';
import { createSidecar, type Sidecar } from '../src/sidecar/sidecar.ts';
import { freePort, waitUntil } from './_helpers.ts';

// --- test-only helper: a real sidecar (real audit.db, real default pack) against a fake gateway; not a test file ---

/** Collects app log lines in memory. */
export function captureLogs() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += String(chunk);
      callback();
    },
  });
  return { logger: createAppLogger({ stream, fancy: false, level: 'debug' }), text: () => text };
}

/** A config pointing every path into `dir` and the client at the fake, with short reconnect delays. */
export async function sidecarConfig(
  dir: string,
  fake: FakeOpenClawGateway,
  patch: (config: Config) => void = () => {},
): Promise<Config> {
  const config = defaultConfig();
  config.gateway.port = fake.port;
  config.gateway.api_port = await freePort();
  config.gateway.device_key_file = join(dir, 'device.key');
  config.gateway.reconnect_ms = 50;
  config.gateway.max_reconnect_ms = 200;
  config.claw.config_file = join(dir, 'missing-openclaw.json');
  config.audit.path = join(dir, 'audit.db');
  config.policy.pack_dirs = [join(dir, 'policies')];
  patch(config);
  return config;
}

/** A running sidecar, its data dir, its log and the fake connection it subscribed on. */
export type StartedSidecar = {
  sidecar: Sidecar;
  store: AuditStore;
  dir: string;
  logs: () => string;
  connection: FakeConnection;
};

/** Creates a fresh data dir under `root`. */
export function newDataDir(root: string, name: string): string {
  const dir = join(root, name);
  ensureDataDir(dir);
  mkdirSync(join(dir, 'policies'), { recursive: true, mode: 0o700 });
  return dir;
}

/** Starts a sidecar against the fake and waits until it is subscribed and registered as an exec approver. */
export async function startSidecar(
  dir: string,
  fake: FakeOpenClawGateway,
  token: string,
  patch?: (config: Config) => void,
): Promise<StartedSidecar> {
  const config = await sidecarConfig(dir, fake, patch);
  const logs = captureLogs();
  const sidecar = createSidecar(config, {
    logger: logs.logger,
    dataDir: dir,
    clientVersion: '0.0.0-test',
    env: { OPENCLAW_GATEWAY_TOKEN: token },
  });
  await sidecar.start();
  const connection = await fake.waitFor(
    (g) => g.openConnections.find((c) => c.subscribed && c.caps.includes('exec-approvals')),
    { timeoutMs: 10_000 },
  );
  await waitUntil(
    () => (sidecar.health.get('gateway').state === 'running' ? true : undefined),
    10_000,
    'gateway running',
  );
  return { sidecar, store: sidecar.store as AuditStore, dir, logs: logs.text, connection };
}

/** Waits for `count` committed events of `kind` (oldest first) and returns their details. */
export async function committedEvents(
  store: AuditStore,
  kind: string,
  count = 1,
  timeoutMs = 10_000,
): Promise<EventDetail[]> {
  return waitUntil(
    () => {
      const page = store.queries.listEvents({ kind, limit: 1000 });
      if (page.events.length < count) return undefined;
      return page.events
        .map((event) => store.queries.getEvent(event.id))
        .filter((event): event is EventDetail => event !== undefined)
        .sort((a, b) => a.id - b.id);
    },
    timeoutMs,
    () => `${count} committed ${kind} event(s)`,
  );
}

/** A running fake OpenAI upstream (see `startToolCallUpstream`). */
export type ToolCallUpstream = {
  port: number;
  /** The `authorization` header of every request, in order. */
  authorizations: string[];
  close(): Promise<void>;
};

/** Starts a fake OpenAI chat-completions upstream on 127.0.0.1 whose every answer proposes `exec {command}`. */
export async function startToolCallUpstream(command: string): Promise<ToolCallUpstream> {
  const authorizations: string[] = [];
  const server = createServer((req, res) => {
    authorizations.push(String(req.headers.authorization));
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-up1',
          object: 'chat.completion',
          created: 1,
          model: 'up-model',
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: null,
                tool_calls: [
                  {
                    id: 'call_1',
                    type: 'function',
                    function: { name: 'exec', arguments: JSON.stringify({ command }) },
                  },
                ],
              },
              finish_reason: 'tool_calls',
            },
          ],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    authorizations,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
