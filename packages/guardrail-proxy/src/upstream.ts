import type { LookupFunction } from 'node:net';
import { Agent, type Dispatcher, request } from 'undici';
import { collectBody } from './_collect.ts';
import type { ProviderEntry } from './providers/registry.ts';
import { createGuardedLookup } from './ssrf.ts';

// Upstream HTTP over undici (spec 30 §B1/§B7): one Agent per provider origin (keep-alive, pipelining 1, a pool as
// large as the stream cap, connect timeout, the SSRF-guarded lookup, no redirects), and error classification.

/** Options of `createUpstreamPools`. */
export type UpstreamPoolOptions = {
  /** Connections per origin; at least `guardrail.max_streams`, so streams never queue behind each other. */
  connections: number;
  connectTimeoutMs: number;
  /** The resolver the SSRF guard wraps (tests inject one). @default dns.lookup */
  lookup?: LookupFunction;
};

/** The upstream connection pools, keyed by provider origin and SSRF policy. */
export type UpstreamPools = {
  /** Returns the Agent for a provider, creating it on first use. */
  agentFor(provider: ProviderEntry): Agent;
  /** Closes pools no provider uses any more (after a registry reload); in-flight requests finish first. */
  retain(providers: Iterable<ProviderEntry>): void;
  /** Destroys every pool. */
  close(): Promise<void>;
  /** The number of live pools. */
  readonly size: number;
};

/** Creates the upstream pools. */
export function createUpstreamPools(options: UpstreamPoolOptions): UpstreamPools {
  const agents = new Map<string, Agent>();
  const keyOf = (p: ProviderEntry) => `${p.origin}|${p.allowPrivate ? 'private' : 'public'}`;
  return {
    agentFor(provider) {
      const key = keyOf(provider);
      let agent = agents.get(key);
      if (!agent) {
        const lookupOptions: Parameters<typeof createGuardedLookup>[0] = {
          allowPrivate: provider.allowPrivate,
        };
        if (options.lookup) lookupOptions.lookup = options.lookup;
        agent = new Agent({
          connections: options.connections,
          pipelining: 1,
          keepAliveTimeout: 4_000,
          keepAliveMaxTimeout: 60_000,
          connect: { timeout: options.connectTimeoutMs, lookup: createGuardedLookup(lookupOptions) },
        });
        agents.set(key, agent);
      }
      return agent;
    },
    retain(providers) {
      const keep = new Set<string>();
      for (const p of providers) keep.add(keyOf(p));
      for (const [key, agent] of agents) {
        if (keep.has(key)) continue;
        agents.delete(key);
        void agent.close().catch(() => {});
      }
    },
    async close() {
      const all = [...agents.values()];
      agents.clear();
      await Promise.all(all.map((a) => a.destroy().catch(() => {})));
    },
    get size() {
      return agents.size;
    },
  };
}

/** Why an upstream call failed, as the client's error code. */
export type UpstreamFailure = {
  code: 'upstream_unavailable' | 'upstream_timeout' | 'upstream_address_refused';
  /** Safe to show: names the provider and the failure, never a credential. */
  message: string;
  /** A short machine reason for the audit record and health (`ECONNREFUSED`, `headers_timeout`, …). */
  reason: string;
};

/** Options of `callUpstream`. */
export type UpstreamCall = {
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  agent: Agent;
  signal: AbortSignal;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
};

/** Sends one upstream request; network failures come back classified instead of thrown. */
export async function callUpstream(
  call: UpstreamCall,
  providerName: string,
): Promise<
  { success: true; response: Dispatcher.ResponseData } | { success: false; failure: UpstreamFailure }
> {
  try {
    const response = await request(call.url, {
      method: 'POST',
      headers: call.headers,
      body: call.body,
      dispatcher: call.agent,
      signal: call.signal,
      headersTimeout: call.headersTimeoutMs,
      bodyTimeout: call.bodyTimeoutMs,
    });
    return { success: true, response };
  } catch (error) {
    return { success: false, failure: classifyUpstreamError(error, providerName, call.signal) };
  }
}

/** The reason the total-duration timer aborts an upstream request with. */
export class UpstreamTotalTimeout extends Error {
  /** Creates the abort reason. */
  constructor(ms: number) {
    super(`the upstream exceeded its ${ms} ms total duration`);
    this.name = 'UpstreamTotalTimeout';
  }
}

/** Classifies an undici / socket / SSRF error (walking `cause`). */
export function classifyUpstreamError(
  error: unknown,
  providerName: string,
  signal?: AbortSignal,
): UpstreamFailure {
  if (signal?.aborted && signal.reason instanceof UpstreamTotalTimeout) {
    return {
      code: 'upstream_timeout',
      message: `Upstream ${providerName}: ${signal.reason.message}.`,
      reason: 'total_timeout',
    };
  }
  const codes: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    if (e instanceof AggregateError) for (const inner of e.errors) pushCode(codes, inner);
    e = (e as { cause?: unknown }).cause;
  }
  const has = (c: string) => codes.includes(c);
  if (has('DC_SSRF_REFUSED')) {
    const msg = findMessage(error, 'DC_SSRF_REFUSED') ?? 'the upstream address is not allowed';
    return {
      code: 'upstream_address_refused',
      message: `Upstream ${providerName}: ${msg}.`,
      reason: 'ssrf_refused',
    };
  }
  if (has('UND_ERR_CONNECT_TIMEOUT') || has('ETIMEDOUT')) {
    return {
      code: 'upstream_timeout',
      message: `Upstream ${providerName}: connect timed out.`,
      reason: 'connect_timeout',
    };
  }
  if (has('UND_ERR_HEADERS_TIMEOUT')) {
    return {
      code: 'upstream_timeout',
      message: `Upstream ${providerName}: no response headers in time.`,
      reason: 'headers_timeout',
    };
  }
  if (has('UND_ERR_BODY_TIMEOUT')) {
    return {
      code: 'upstream_timeout',
      message: `Upstream ${providerName}: the response stalled.`,
      reason: 'body_timeout',
    };
  }
  const code = codes.find((c) => /^E[A-Z]+$/.test(c)) ?? codes[0] ?? 'network_error';
  const what =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'DNS lookup failed'
        : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET'
          ? 'connection reset'
          : 'unreachable';
  return { code: 'upstream_unavailable', message: `Upstream ${providerName}: ${what}.`, reason: code };
}

/** Reads an upstream body up to `capBytes`; beyond it the body is destroyed and `too_large` returned. */
export function readUpstreamBody(
  body: Dispatcher.ResponseData['body'],
  capBytes: number,
): Promise<
  { success: true; bytes: Buffer } | { success: false; reason: 'too_large' | 'error'; error?: unknown }
> {
  // Plain events rather than an async iterator: fewer promises and ticks per response.
  return collectBody(body, capBytes, 'destroy').then((r) =>
    r.kind === 'ok'
      ? { success: true as const, bytes: r.bytes }
      : r.kind === 'too_large'
        ? { success: false as const, reason: 'too_large' as const }
        : { success: false as const, reason: 'error' as const, error: r.error },
  );
}

// --- internal ---

function pushCode(codes: string[], e: unknown): void {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') codes.push(code);
}

function findMessage(error: unknown, code: string): string | undefined {
  let e: unknown = error;
  for (let depth = 0; e && depth < 5; depth++) {
    if ((e as { code?: unknown }).code === code) return (e as Error).message.replace(/\.$/, '');
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
