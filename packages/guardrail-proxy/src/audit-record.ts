import { toWire, type Verdict } from '@defenseclaw/policy';
import type { Endpoint } from './providers/registry.ts';

// The per-request audit record (spec 30 §B8): routing facts, verdicts as `toWire` JSON (redacted findings only),
// outcome and the latency split. Never prompt or completion content, never a credential.

/** How a proxied request ended. */
export const PROXY_OUTCOMES = [
  'ok',
  'blocked_request',
  'blocked_response',
  'cut_midstream',
  'upstream_error',
  'upstream_status',
  'client_aborted',
  'timeout',
  'rejected',
] as const;

/** One request outcome. */
export type ProxyOutcome = (typeof PROXY_OUTCOMES)[number];

/** The record handed to the injected `audit` sink once per LLM request (snake_case, like the store's payloads). */
export type ProxyAuditRecord = {
  kind: 'guardrail.request';
  /** Epoch milliseconds at request start. */
  ts: number;
  request_id: string;
  block_id?: string;
  client_request_id?: string;
  session_key?: string;
  agent_id?: string;
  run_id?: string;
  client_user?: string;
  endpoint: Endpoint;
  path: string;
  stream: boolean;
  model_requested?: string;
  provider?: string;
  model_upstream?: string;
  mode: 'observe' | 'action';
  generation: { id: string; digest: string };
  request_verdict?: Record<string, unknown>;
  response_verdict?: Record<string, unknown>;
  outcome: ProxyOutcome;
  /** The proxy's own error code when it answered with an error (e.g. `invalid_api_key`, `upstream_timeout`). */
  error_code?: string;
  /** The HTTP status the client received. */
  status: number;
  upstream_status?: number;
  latency_ms: {
    total: number;
    upstream_ttfb?: number;
    upstream_total?: number;
    scan_request: number;
    scan_response: number;
    overhead: number;
  };
  bytes: { request: number; response: number; delivered: number };
  counts: {
    messages_total: number;
    messages_scanned: number;
    seen_cache_hits: number;
    unscanned: number;
    already_enforced: number;
    tool_calls: number;
    frames?: number;
    held_max?: number;
    scanned_chars?: number;
  };
  /** Lanes that failed open (scanner errors let through), with the engine error code. */
  fail_open?: { lane: string; reason: string }[];
};

/** A mutable builder the request handler fills in as it goes. */
export type AuditDraft = Omit<ProxyAuditRecord, 'latency_ms' | 'request_verdict' | 'response_verdict'> & {
  startedAt: number;
  upstreamStart?: number;
  upstreamHeadersAt?: number;
  upstreamEnd?: number;
  scanRequestMs: number;
  scanResponseMs: number;
  requestVerdict?: Verdict;
  responseVerdict?: Verdict;
};

/** Draft-only fields that never reach the record. */
const DRAFT_ONLY: ReadonlySet<string> = new Set([
  'startedAt',
  'upstreamStart',
  'upstreamHeadersAt',
  'upstreamEnd',
  'scanRequestMs',
  'scanResponseMs',
  'requestVerdict',
  'responseVerdict',
]);

/** Finishes a draft into the record (latencies rounded to 0.01 ms). */
export function finishAuditRecord(draft: AuditDraft, endedAt: number): ProxyAuditRecord {
  const { startedAt, upstreamStart, upstreamHeadersAt, upstreamEnd } = draft;
  const total = endedAt - startedAt;
  const latency: ProxyAuditRecord['latency_ms'] = {
    total: round(total),
    scan_request: round(draft.scanRequestMs),
    scan_response: round(draft.scanResponseMs),
    overhead: round(total),
  };
  if (upstreamStart !== undefined) {
    if (upstreamHeadersAt !== undefined) latency.upstream_ttfb = round(upstreamHeadersAt - upstreamStart);
    const upTotal = (upstreamEnd ?? endedAt) - upstreamStart;
    latency.upstream_total = round(upTotal);
    latency.overhead = round(Math.max(0, total - upTotal));
  }
  // A plain copy of the record's fields in the draft's order (object rest over a draft this size was slow).
  const record = {} as Record<string, unknown>;
  for (const key in draft) {
    const value = (draft as Record<string, unknown>)[key];
    if (value !== undefined && !DRAFT_ONLY.has(key)) record[key] = value;
  }
  record.latency_ms = latency;
  if (draft.requestVerdict) record.request_verdict = toWire(draft.requestVerdict);
  if (draft.responseVerdict) record.response_verdict = toWire(draft.responseVerdict);
  return record as ProxyAuditRecord;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
