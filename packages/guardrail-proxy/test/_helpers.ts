// Shared fixtures for the proxy tests: the real policy engine over the bundled pack, a scriptable fake upstream LLM
// on loopback, and a proxy factory that cleans up after each test.
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { compilePolicy, createEngine, loadBundledPacks, type PolicyEngine } from '@defenseclaw/policy';
import type { ProxyAuditRecord } from '../src/audit-record.ts';
import { type GuardrailConfigInput, parseGuardrailConfig } from '../src/config.ts';
import type { Logger } from '../src/logger.ts';
import { createGuardrailProxy, type GuardrailProxy, type GuardrailProxyOptions } from '../src/proxy.ts';

/** A valid master key for tests. */
export const MASTER_KEY = `sk-dc-${'ab'.repeat(32)}`;

/** The provider keys the fake env holds. */
export const PROVIDER_KEYS = {
  OPENAI_API_KEY: 'sk-test-openai-upstream-key',
  ANTHROPIC_API_KEY: 'sk-ant-test-upstream',
};

let engineCache: PolicyEngine | undefined;

/** The real engine over the bundled default pack (compiled once per test process). */
export function bundledEngine(): PolicyEngine {
  if (engineCache) return engineCache;
  const compiled = compilePolicy({
    packs: loadBundledPacks(),
    config: { profile: 'default' },
    verifyBundledExamples: false,
  });
  if (!compiled.success) throw new Error(compiled.errors.map((e) => e.message).join('\n'));
  engineCache = createEngine(compiled.policy, { evidenceKey: new Uint8Array(32).fill(3) });
  return engineCache;
}

/** One request the fake upstream received. */
export type SeenRequest = { method: string; url: string; headers: IncomingHttpHeaders; body: string };

/** A scriptable fake upstream LLM on 127.0.0.1:0. */
export type FakeUpstream = {
  port: number;
  baseUrl: string;
  requests: SeenRequest[];
  /** Replaces the handler (default: 200 with an OpenAI chat completion saying "hello"). */
  handle(fn: (req: SeenRequest, res: ServerResponse) => void): void;
  close(): Promise<void>;
};

/** Starts a fake upstream; it is closed when the test ends. */
export async function startFakeUpstream(t: TestContext): Promise<FakeUpstream> {
  const requests: SeenRequest[] = [];
  let handler = (_req: SeenRequest, res: ServerResponse) => sendJson(res, 200, chatCompletion('hello'));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(seen);
      handler(seen, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  t.after(close);
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    handle(fn) {
      handler = fn;
    },
    close,
  };
}

/** Writes a JSON answer. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** An OpenAI chat completion with text and optional tool calls. */
export function chatCompletion(text: string | null, toolCalls: { name: string; arguments: string }[] = []) {
  const message: Record<string, unknown> = { role: 'assistant', content: text, refusal: null };
  if (toolCalls.length > 0) {
    message.tool_calls = toolCalls.map((tc, i) => ({ id: `call_${i}`, type: 'function', function: tc }));
  }
  return {
    id: 'chatcmpl-upstream1',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gpt-test',
    choices: [
      { index: 0, message, logprobs: null, finish_reason: toolCalls.length > 0 ? 'tool_calls' : 'stop' },
    ],
    usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
  };
}

/** An Anthropic message with text and optional tool uses. */
export function anthropicMessage(text: string, toolUses: { name: string; input: unknown }[] = []) {
  return {
    id: 'msg_upstream1',
    type: 'message',
    role: 'assistant',
    model: 'claude-test',
    content: [
      { type: 'text', text },
      ...toolUses.map((t, i) => ({ type: 'tool_use', id: `toolu_${i}`, name: t.name, input: t.input })),
    ],
    stop_reason: toolUses.length > 0 ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: 2 },
  };
}

/** An OpenAI Responses answer with text and optional function calls. */
export function responsesAnswer(text: string, calls: { name: string; arguments: string }[] = []) {
  return {
    id: 'resp_upstream1',
    object: 'response',
    created_at: 1_700_000_000,
    status: 'completed',
    error: null,
    incomplete_details: null,
    model: 'gpt-test',
    output: [
      {
        type: 'message',
        id: 'msg_up1',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text, annotations: [] }],
      },
      ...calls.map((c, i) => ({
        type: 'function_call',
        id: `fc_${i}`,
        call_id: `call_${i}`,
        status: 'completed',
        ...c,
      })),
    ],
    usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 },
  };
}

/** A logger that keeps every line, to grep for secrets. */
export function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(`${level} ${msg} ${fields ? JSON.stringify(fields) : ''}`);
  };
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** Options of `makeProxy`. */
export type MakeProxyOptions = {
  /** Extra/override keys of the guardrail section. */
  config?: GuardrailConfigInput;
  /** The fake upstream the `openai`/`anthropic` test providers point at. */
  upstream?: FakeUpstream;
  env?: Record<string, string>;
  listen?: boolean;
} & Partial<Omit<GuardrailProxyOptions, 'config' | 'env'>>;

/** A proxy under test, its audit records and logs. */
export type ProxyUnderTest = {
  proxy: GuardrailProxy;
  records: ProxyAuditRecord[];
  logger: ReturnType<typeof captureLogger>;
  port: number;
  /** `http://127.0.0.1:<port>` once listening. */
  url: string;
};

/** Creates a proxy pointed at the fake upstream (providers `openai`, `anthropic`, `chatonly`); closed after the test. */
export async function makeProxy(t: TestContext, options: MakeProxyOptions = {}): Promise<ProxyUnderTest> {
  const base = options.upstream?.baseUrl ?? 'http://127.0.0.1:9';
  const input: GuardrailConfigInput = {
    enabled: true,
    mode: 'action',
    providers: {
      openai: {
        base_url: `${base}/v1`,
        api_key_env: 'OPENAI_API_KEY',
        flavour: 'openai',
        allow_private: true,
        models: ['gpt-test'],
      },
      anthropic: {
        base_url: base,
        api_key_env: 'ANTHROPIC_API_KEY',
        flavour: 'anthropic',
        allow_private: true,
      },
      chatonly: { base_url: `${base}/v1`, flavour: 'openai-chat', allow_private: true },
    },
    aliases: { 'defenseclaw/fast': { provider: 'openai', model: 'gpt-fast' } },
    ...options.config,
  };
  const parsed = parseGuardrailConfig(input);
  if (!parsed.success) throw new Error(parsed.errors.join('\n'));
  // Port 0 (any free port) is for tests only; the config schema keeps 1–65535.
  if (options.config?.port === undefined) parsed.config.port = 0;
  const env: Record<string, string> = {
    DEFENSECLAW_MASTER_KEY: MASTER_KEY,
    ...PROVIDER_KEYS,
    ...options.env,
  };
  const records: ProxyAuditRecord[] = [];
  const logger = captureLogger();
  const { config: _c, upstream: _u, env: _e, listen, ...rest } = options;
  const proxy = createGuardrailProxy({
    engine: bundledEngine(),
    audit: (r) => records.push(r),
    logger,
    ...rest,
    config: parsed.config,
    env: (name) => env[name],
  });
  t.after(() => proxy.close({ graceMs: 0 }));
  let port = 0;
  if (listen !== false) port = (await proxy.listen()).port;
  return { proxy, records, logger, port, url: `http://127.0.0.1:${port}` };
}

/** Headers carrying the master key (Bearer). */
export function authed(extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json', ...extra };
}

/** Waits until `predicate` holds (polling), or fails after `ms`. */
export async function waitFor(predicate: () => boolean, ms = 2000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw HTTP exchange result. */
export type RawResponse = { status: number; headers: IncomingHttpHeaders; body: string };

/** Sends one request with exactly these headers (node:http, no pooling), for header-hygiene tests. */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'POST', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Returns a loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
