// Shared fixtures: a real in-memory audit store, the real engine over the bundled pack, and request helpers.
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { type AuditStore, openAuditStore } from '@defenseclaw/audit-store';
import {
  type CompiledPolicy,
  compilePolicy,
  createEngine,
  loadBundledPacks,
  type PolicyEngine,
} from '@defenseclaw/policy';
import {
  createRestApi,
  type PolicySettings,
  type ReloadOutcome,
  type RestApi,
  type RestApiDeps,
  type RestApiOptions,
} from '../src/index.ts';

export const PORT = 18970;
export const HOST = `127.0.0.1:${PORT}`;
export const TOKEN = `tok-${randomBytes(16).toString('hex')}`;
export const DATA_DIR = '/tmp/dc-rest-api-test-home';

let compiled: CompiledPolicy | undefined;

/** The bundled default pack, compiled once per test file. */
export function bundledPolicy(): CompiledPolicy {
  if (compiled === undefined) {
    const result = compilePolicy({
      packs: loadBundledPacks(),
      config: { profile: 'default' },
      verifyBundledExamples: false,
    });
    if (!result.success) throw new Error(result.errors.map((e) => e.message).join('\n'));
    compiled = result.policy;
  }
  return compiled;
}

/** A real engine over the bundled pack. */
export function makeEngine(): PolicyEngine {
  return createEngine(bundledPolicy(), { evidenceKey: new Uint8Array(32).fill(7), lists: { entries: [] } });
}

/** Opens an in-memory store, closed after the test. */
export function openStore(t: TestContext): AuditStore {
  const store = openAuditStore({ path: ':memory:', flushIntervalMs: 1 });
  t.after(async () => {
    await store.close({ drainTimeoutMs: 200 }).catch(() => {});
  });
  return store;
}

/** Everything a test may want to poke at. */
export type Fixture = {
  app: RestApi;
  store: AuditStore;
  engine: PolicyEngine;
  settings: PolicySettings;
  reloads: { calls: number; next: ReloadOutcome };
};

/** Builds the API over a fresh store and engine; `deps` and `options` override the defaults. */
export function makeApi(
  t: TestContext,
  overrides: { deps?: Partial<RestApiDeps>; options?: Partial<RestApiOptions>; engine?: PolicyEngine } = {},
): Fixture {
  const store = openStore(t);
  const engine = overrides.engine ?? makeEngine();
  const settings: PolicySettings = { mode: 'action', profile: 'default' };
  const reloads: Fixture['reloads'] = { calls: 0, next: { success: true } };
  const deps: RestApiDeps = {
    health: {
      snapshot: () => ({ api: { state: 'running', since: '2026-01-01T00:00:00.000Z' } }),
      failing: () => [],
    },
    status: () => ({ runtime: { pid: process.pid, data_dir: DATA_DIR } }),
    store,
    policy: {
      get engine() {
        return engine;
      },
      settings: () => settings,
      compiled: () => bundledPolicy(),
      reload: async () => {
        reloads.calls += 1;
        return reloads.next;
      },
    },
    ...overrides.deps,
  };
  const app = createRestApi(deps, {
    port: PORT,
    token: TOKEN,
    identity: { pid: process.pid, dataDir: DATA_DIR },
    ...overrides.options,
  });
  return { app, store, engine, settings, reloads };
}

/** Options of `call`. */
export type CallOptions = {
  /** Request body; objects are JSON-encoded. */
  body?: unknown;
  /** Sends `Authorization: Bearer <TOKEN>` (default for writes) or the given token; `false` sends none. */
  token?: string | false;
  /** Extra or replacing headers; `undefined` values remove a default header. */
  headers?: Record<string, string | undefined>;
  /** The peer address the request comes from. @default '127.0.0.1' */
  peer?: string;
};

/** Sends a request through `app.request()` with the defaults a well-behaved local client would use. */
export async function call(
  app: RestApi,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Response> {
  const write = method !== 'GET' && method !== 'HEAD';
  const headers: Record<string, string | undefined> = { Host: HOST };
  const token = options.token ?? (write ? TOKEN : false);
  if (token !== false) headers.Authorization = `Bearer ${token}`;
  if (write) {
    headers['X-DefenseClaw-Client'] = 'test';
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  }
  Object.assign(headers, options.headers);
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) clean[k] = v;
  const init: RequestInit = { method, headers: clean };
  if (options.body !== undefined) {
    init.body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  return app.request(path, init, { incoming: { socket: { remoteAddress: options.peer ?? '127.0.0.1' } } });
}

/** Reads a JSON body (any shape). */
// biome-ignore lint/suspicious/noExplicitAny: test bodies are inspected field by field
export async function json(res: Response): Promise<any> {
  return res.json();
}

/** Asserts the common error shape and returns the error object. */
export async function errorOf(
  res: Response,
): Promise<{ code: string; message: string; request_id: string; details?: Record<string, unknown> }> {
  const body = (await res.json()) as { error?: unknown };
  if (typeof body.error !== 'object' || body.error === null)
    throw new Error(`not an error body: ${JSON.stringify(body)}`);
  const e = body.error as { code: string; message: string; request_id: string };
  if (typeof e.code !== 'string' || typeof e.message !== 'string' || typeof e.request_id !== 'string') {
    throw new Error(`malformed error body: ${JSON.stringify(body)}`);
  }
  return e;
}
