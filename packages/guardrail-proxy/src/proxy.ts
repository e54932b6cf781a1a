import { createServer, type Server } from 'node:http';
import type { LookupFunction } from 'node:net';
import type { Hono } from 'hono';
import type { ProxyState, UpstreamHealth } from './_state.ts';
import type { ProxyAuditRecord } from './audit-record.ts';
import { createMasterKeyCheck, MASTER_KEY_PATTERN } from './auth.ts';
import { type GuardrailConfig, type GuardrailConfigInput, parseGuardrailConfig } from './config.ts';
import { GuardrailProxyError } from './errors.ts';
import type { ProxyEngine, ProxyFailModes } from './judge.ts';
import { type Logger, silentLogger } from './logger.ts';
import { createProviderRegistry, type ProviderView, providerViews } from './providers/registry.ts';
import { createNodeListener, createProxyApp, type ProxyAppEnv } from './routes.ts';
import { BLOCK_REF_CAPACITY, createTtlLru, DAY_MS } from './seen-cache.ts';
import { createUpstreamPools } from './upstream.ts';

/** Options of `createGuardrailProxy`. */
export type GuardrailProxyOptions = {
  /** The policy engine (the sidecar's `PolicyEngine`, or anything with `evaluate` and `generation`). */
  engine: ProxyEngine;
  /** The validated `guardrail` section (`GuardrailConfigSchema` output). */
  config: GuardrailConfig;
  /** The per-request audit sink; called once per LLM request, never awaited, must not throw. */
  audit?: (record: ProxyAuditRecord) => void;
  /** Where the proxy logs (never content or secrets). @default silentLogger */
  logger?: Logger;
  /** Looks up provider keys and the master key by variable name (environment, then `.env`). @default process.env */
  env?: (name: string) => string | undefined;
  /** The master key, when the app derives it (e.g. from `device.key`); overrides `master_key_env`. */
  masterKey?: string;
  /** `policy.fail_mode` for the proxy lanes; each defaults to `closed`. */
  failMode?: ProxyFailModes;
  /** The wall clock (epoch ms) for ids, TTLs and records. @default Date.now */
  clock?: () => number;
  /** The DNS resolver the connect-time SSRF guard wraps (tests inject one). @default dns.lookup */
  lookup?: LookupFunction;
  /** Scan budget per evaluation (`policy.scan.budget_ms`); a miss is `ENGINE-BUDGET`, handled by the fail mode. */
  scanBudgetMs?: number;
};

/** The `guardrail` entry of the health map (spec 00 "Health", spec 20 §5.2). */
export type GuardrailHealthEntry = {
  state: 'starting' | 'running' | 'error' | 'stopped';
  since: string;
  last_error?: string;
  details: {
    addr: string | null;
    mode: 'observe' | 'action';
    generation: { id: string; digest: string };
    open_streams: number;
    upstreams: Record<string, UpstreamHealth>;
    requests: number;
    blocked: number;
    providers: number;
  };
};

/** Counters of a running proxy (for metrics and `status`). */
export type GuardrailProxyStats = {
  requests: number;
  inflight: number;
  open_streams: number;
  blocked: number;
  would_block: number;
  rejected: number;
  upstream_errors: number;
  client_aborted: number;
  /** `guardrail_fail_open_total{lane,reason}`, keyed `"<lane>:<reason>"`. */
  fail_open: Record<string, number>;
  seen_cache_entries: number;
  block_refs: number;
  upstream_pools: number;
};

/** A guardrail proxy instance. */
export type GuardrailProxy = {
  /** The hono app (usable with `app.request()` without listening). */
  readonly app: Hono<ProxyAppEnv>;
  /** Binds `guardrail.host:guardrail.port`; resolves with the bound address. */
  listen(): Promise<{ address: string; port: number }>;
  /** Stops accepting, gives open streams `graceMs` to finish, cuts the rest, closes the pools. */
  close(options?: { graceMs?: number }): Promise<void>;
  /** Swaps providers, aliases and the other hot keys all-or-nothing, re-reading keys through `env`. */
  reloadProviders(
    config: GuardrailConfig | GuardrailConfigInput,
  ): { success: true; providers: ProviderView[] } | { success: false; errors: string[] };
  /** The providers, as `GET /v1/config/providers` shows them (variable names, never values). */
  providers(): ProviderView[];
  /** The `guardrail` health entry. */
  health(): GuardrailHealthEntry;
  /** Counters. */
  stats(): GuardrailProxyStats;
};

/**
 * Creates the guardrail proxy: an OpenAI/Anthropic-compatible LLM proxy that inspects prompts and completions.
 * @throws GuardrailProxyError `CONFIG_INVALID` when the provider registry is invalid.
 * @example
 * const proxy = createGuardrailProxy({ engine, config: cfg.guardrail, audit: (r) => store.enqueueProxy(r), env, logger });
 * const { port } = await proxy.listen();
 * // …
 * await proxy.close();
 */
export function createGuardrailProxy(options: GuardrailProxyOptions): GuardrailProxy {
  const config = options.config;
  const built = createProviderRegistry(config);
  if (!built.success) {
    throw new GuardrailProxyError(
      'CONFIG_INVALID',
      `invalid guardrail config:\n  ${built.errors.join('\n  ')}`,
    );
  }
  const now = options.clock ?? Date.now;
  const env = options.env ?? ((name: string) => process.env[name]);
  const logger = options.logger ?? silentLogger;
  const audit = options.audit ?? (() => {});
  const poolOptions: Parameters<typeof createUpstreamPools>[0] = {
    connections: Math.max(config.max_streams, 1),
    connectTimeoutMs: config.limits.connect_timeout_ms,
  };
  if (options.lookup) poolOptions.lookup = options.lookup;
  const state: ProxyState = {
    engine: options.engine,
    config,
    registry: built.registry,
    pools: createUpstreamPools(poolOptions),
    env,
    masterKey: undefined,
    masterKeyProblem: undefined,
    forward: new Set(config.forward_headers),
    failModes: {
      proxy_prompt: options.failMode?.proxy_prompt ?? 'closed',
      proxy_completion: options.failMode?.proxy_completion ?? 'closed',
      proxy_tool_call: options.failMode?.proxy_tool_call ?? 'closed',
    },
    logger,
    scanBudgetMs: options.scanBudgetMs,
    audit,
    now,
    seen: createTtlLru({ capacity: config.seen_cache_entries, ttlMs: DAY_MS, now }),
    blockRefs: createTtlLru({ capacity: BLOCK_REF_CAPACITY, ttlMs: DAY_MS, now }),
    counters: {
      requests: 0,
      blocked: 0,
      wouldBlock: 0,
      rejected: 0,
      upstreamErrors: 0,
      clientAborted: 0,
      failOpen: new Map(),
    },
    openStreams: new Set(),
    active: new Set(),
    inflight: 0,
    upstreams: new Map(),
    port: config.port,
    closing: false,
  };
  const resolveMasterKey = () => {
    const name = config.master_key_env;
    const key = options.masterKey ?? env(name);
    state.masterKey = undefined;
    state.masterKeyProblem = undefined;
    if (!key) state.masterKeyProblem = `master key variable ${name} is not set`;
    else if (!MASTER_KEY_PATTERN.test(key)) {
      state.masterKeyProblem = `the value of ${options.masterKey ? 'the master key' : name} is not a DefenseClaw master key (sk-dc- + 64 hex)`;
    } else state.masterKey = createMasterKeyCheck(key);
    if (state.masterKeyProblem) logger.warn(`guardrail: ${state.masterKeyProblem}; every request is refused`);
  };
  resolveMasterKey();

  let lifecycle: GuardrailHealthEntry['state'] = 'starting';
  let since = new Date(now()).toISOString();
  let lastError: string | undefined;
  const setLifecycle = (next: GuardrailHealthEntry['state'], error?: string) => {
    if (next !== lifecycle) since = new Date(now()).toISOString();
    lifecycle = next;
    lastError = error;
  };
  let server: Server | undefined;
  let addr: string | null = null;

  const health = (): GuardrailHealthEntry => {
    const problem = lastError ?? state.masterKeyProblem;
    const shown = lifecycle === 'running' && state.masterKeyProblem ? 'error' : lifecycle;
    const gen = state.engine.generation;
    const entry: GuardrailHealthEntry = {
      state: shown,
      since,
      details: {
        addr,
        mode: state.config.mode === 'action' ? 'action' : 'observe',
        generation: { id: gen.id, digest: gen.digest },
        open_streams: state.openStreams.size,
        upstreams: Object.fromEntries(
          [...state.registry.providers.keys()].map((name) => [
            name,
            { ...(state.upstreams.get(name) ?? { state: 'unknown' as const }) },
          ]),
        ),
        requests: state.counters.requests,
        blocked: state.counters.blocked,
        providers: state.registry.providers.size,
      },
    };
    if (problem && (shown === 'error' || shown === 'stopped' || shown === 'starting'))
      entry.last_error = problem;
    return entry;
  };

  const app = createProxyApp(state, { health });

  return {
    app,
    listen() {
      if (state.closing)
        return Promise.reject(new GuardrailProxyError('CLOSED', 'the guardrail proxy is closed'));
      if (server)
        return Promise.reject(
          new GuardrailProxyError('INTERNAL', 'the guardrail proxy is already listening'),
        );
      const listener = createNodeListener(state, app);
      const srv = createServer(
        { headersTimeout: 10_000, requestTimeout: 60_000, keepAliveTimeout: 5_000 },
        listener,
      );
      server = srv;
      return new Promise((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException) => {
          server = undefined;
          const message = `cannot listen on ${config.host}:${config.port}: ${error.code ?? error.message}`;
          setLifecycle('error', message);
          reject(new GuardrailProxyError('LISTEN_FAILED', message, { cause: error }));
        };
        srv.once('error', onError);
        srv.listen(config.port, config.host, () => {
          srv.off('error', onError);
          srv.on('error', (error: NodeJS.ErrnoException) => {
            setLifecycle('error', `listener error: ${error.code ?? error.message}`);
            logger.error('guardrail: listener error', { code: error.code });
          });
          const bound = srv.address();
          const port = typeof bound === 'object' && bound ? bound.port : config.port;
          const address = typeof bound === 'object' && bound ? bound.address : config.host;
          state.port = port;
          addr = `${address.includes(':') ? `[${address}]` : address}:${port}`;
          setLifecycle('running');
          logger.info('guardrail: listening', { addr, mode: state.config.mode });
          resolve({ address, port });
        });
      });
    },
    async close(closeOptions = {}) {
      const graceMs = closeOptions.graceMs ?? 3_000;
      state.closing = true;
      const srv = server;
      server = undefined;
      const closed = srv ? new Promise<void>((resolve) => srv.close(() => resolve())) : Promise.resolve();
      srv?.closeIdleConnections();
      if (state.openStreams.size > 0 || state.active.size > 0) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(deadline);
            clearInterval(poll);
            resolve();
          };
          const deadline = setTimeout(done, graceMs);
          const poll = setInterval(() => {
            if (state.openStreams.size === 0 && state.active.size === 0) done();
          }, 25);
        });
      }
      for (const s of [...state.openStreams]) s.cut('the DefenseClaw proxy is shutting down');
      for (const a of [...state.active]) a.cut('the DefenseClaw proxy is shutting down');
      srv?.closeAllConnections();
      await closed;
      await state.pools.close();
      setLifecycle('stopped');
      logger.info('guardrail: stopped');
    },
    reloadProviders(input) {
      const parsed = parseGuardrailConfig(input);
      if (!parsed.success) return parsed;
      const next = createProviderRegistry(parsed.config);
      if (!next.success) return next;
      const old = state.config;
      // Keys that size or bind resources need a restart; everything else applies now.
      state.config = {
        ...parsed.config,
        enabled: old.enabled,
        host: old.host,
        port: old.port,
        max_streams: old.max_streams,
        seen_cache_entries: old.seen_cache_entries,
        limits: { ...parsed.config.limits, connect_timeout_ms: old.limits.connect_timeout_ms },
      };
      state.registry = next.registry;
      state.forward = new Set(parsed.config.forward_headers);
      for (const name of [...state.upstreams.keys()])
        if (!next.registry.providers.has(name)) state.upstreams.delete(name);
      state.pools.retain(next.registry.providers.values());
      resolveMasterKey();
      logger.info('guardrail: providers reloaded', { providers: next.registry.providers.size });
      return { success: true, providers: providerViews(next.registry, env) };
    },
    providers() {
      return providerViews(state.registry, env);
    },
    health,
    stats() {
      return {
        requests: state.counters.requests,
        inflight: state.inflight,
        open_streams: state.openStreams.size,
        blocked: state.counters.blocked,
        would_block: state.counters.wouldBlock,
        rejected: state.counters.rejected,
        upstream_errors: state.counters.upstreamErrors,
        client_aborted: state.counters.clientAborted,
        fail_open: Object.fromEntries(state.counters.failOpen),
        seen_cache_entries: state.seen.size,
        block_refs: state.blockRefs.size,
        upstream_pools: state.pools.size,
      };
    },
  };
}
