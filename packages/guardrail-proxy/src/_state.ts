import type { ProxyAuditRecord } from './audit-record.ts';
import type { MasterKeyCheck } from './auth.ts';
import type { GuardrailConfig } from './config.ts';
import type { FailMode, ProxyEngine } from './judge.ts';
import type { Logger } from './logger.ts';
import type { ProviderRegistry } from './providers/registry.ts';
import type { BlockRefEntry, SeenEntry, TtlLru } from './seen-cache.ts';
import type { UpstreamPools } from './upstream.ts';

// The mutable state one proxy instance shares between its routes (internal; never re-exported).

/** Passive upstream health, derived from traffic (no probing). */
export type UpstreamHealth = { state: 'ok' | 'error' | 'unknown'; last_ok_at?: string; last_error?: string };

/** One open guarded stream, so `close()` can cut it. */
export type OpenStream = { cut(reason: string): void };

/** Counters behind `stats()` and the health details. */
export type ProxyCounters = {
  requests: number;
  blocked: number;
  wouldBlock: number;
  rejected: number;
  upstreamErrors: number;
  clientAborted: number;
  failOpen: Map<string, number>;
};

/** Everything a request handler reads. */
export type ProxyState = {
  engine: ProxyEngine;
  config: GuardrailConfig;
  registry: ProviderRegistry;
  pools: UpstreamPools;
  env: (name: string) => string | undefined;
  masterKey: MasterKeyCheck | undefined;
  masterKeyProblem: string | undefined;
  forward: ReadonlySet<string>;
  failModes: { proxy_prompt: FailMode; proxy_completion: FailMode; proxy_tool_call: FailMode };
  logger: Logger;
  /** `policy.scan.budget_ms` for every proxy evaluation, when set. */
  scanBudgetMs: number | undefined;
  audit: (record: ProxyAuditRecord) => void;
  now: () => number;
  seen: TtlLru<SeenEntry>;
  blockRefs: TtlLru<BlockRefEntry>;
  counters: ProxyCounters;
  openStreams: Set<OpenStream>;
  /** Non-streaming upstream calls in flight, so `close()` can cut them after the grace period. */
  active: Set<OpenStream>;
  inflight: number;
  upstreams: Map<string, UpstreamHealth>;
  /** The port the Host check expects (the bound port once listening). */
  port: number;
  closing: boolean;
};
