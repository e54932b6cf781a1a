import type { OutgoingHttpHeaders } from 'node:http';
import type { EvalContext, Verdict } from '@defenseclaw/policy';
import type { Dispatcher } from 'undici';
import { newBlockId, uuidv7 } from './_ids.ts';
import type { OpenStream, ProxyState } from './_state.ts';
import { type AuditDraft, finishAuditRecord, type ProxyOutcome } from './audit-record.ts';
import { blockBody, makeBlockInfo } from './block-body.ts';
import { effectiveHoldbackChars } from './config.ts';
import { errorBody, type ProxyHttpErrorCode, statusOf } from './error-body.ts';
import { clientResponseHeaders, headerValue, upstreamRequestHeaders } from './headers.ts';
import { inspectPrompt, mapRequest } from './inspect-request.ts';
import { extractCompletion, judgeCompletion } from './inspect-response.ts';
import { applyFailMode, createFallbackScanner, judgeToolCall } from './judge.ts';
import { ENDPOINT_FLAVOURS, type Endpoint, type ResolvedModel, upstreamUrl } from './providers/registry.ts';
import { parseRequestBody, type RequestBody } from './request-body.ts';
import { createStreamGuard, synthesizeBlockStream } from './stream/index.ts';
import type { BlockInfo, StreamSummary, StreamTextScanner, WireFormat } from './stream/types.ts';
import type { ClientRequest, ClientResponse } from './transport.ts';
import { callUpstream, readUpstreamBody, type UpstreamFailure, UpstreamTotalTimeout } from './upstream.ts';

// The LLM request pipeline (spec 30 §B2–§B8): admission, auth, body, model resolution, request inspection, the
// upstream call, response inspection or the guarded stream, and one audit record.

/** The wire format each endpoint speaks. */
export const ENDPOINT_FORMATS: Readonly<Record<Endpoint, WireFormat>> = {
  chat: 'openai-chat',
  messages: 'anthropic-messages',
  responses: 'openai-responses',
};

/** Handles one LLM request end to end; never throws (failures become answers in the caller's format). */
export async function handleLlm(
  state: ProxyState,
  endpoint: Endpoint,
  path: string,
  request: ClientRequest,
  reply: ClientResponse,
): Promise<void> {
  const run = new Run(state, endpoint, path, request, reply);
  state.counters.requests++;
  state.inflight++;
  try {
    await run.execute();
  } catch (error) {
    state.logger.error('guardrail: request failed', {
      request_id: run.requestId,
      error: error instanceof Error ? error.name : 'unknown',
    });
    if (!reply.headersSent) run.fail('internal_error', 'The DefenseClaw proxy failed on this request.');
    else reply.end();
    run.draft.outcome = 'rejected';
    run.draft.error_code = 'internal_error';
  } finally {
    state.inflight--;
    run.emitAudit();
  }
}

// --- internal ---

const SESSION_HEADERS = [
  ['x-defenseclaw-session-key', 'session_key'],
  ['x-defenseclaw-agent-id', 'agent_id'],
  ['x-defenseclaw-run-id', 'run_id'],
] as const;

/** One request in flight: its audit draft and the steps of the pipeline. */
class Run {
  readonly state: ProxyState;
  readonly endpoint: Endpoint;
  readonly format: WireFormat;
  readonly request: ClientRequest;
  readonly reply: ClientResponse;
  readonly requestId: string;
  readonly draft: AuditDraft;
  readonly mode: 'observe' | 'action';
  #audited = false;

  constructor(
    state: ProxyState,
    endpoint: Endpoint,
    path: string,
    request: ClientRequest,
    reply: ClientResponse,
  ) {
    this.state = state;
    this.endpoint = endpoint;
    this.format = ENDPOINT_FORMATS[endpoint];
    this.request = request;
    this.reply = reply;
    const ts = state.now();
    this.requestId = uuidv7(ts);
    this.mode = state.config.mode === 'action' ? 'action' : 'observe';
    const gen = state.engine.generation;
    this.draft = {
      kind: 'guardrail.request',
      ts,
      request_id: this.requestId,
      endpoint,
      path,
      stream: false,
      mode: this.mode,
      generation: { id: gen.id, digest: gen.digest },
      outcome: 'ok',
      status: 0,
      bytes: { request: 0, response: 0, delivered: 0 },
      counts: {
        messages_total: 0,
        messages_scanned: 0,
        seen_cache_hits: 0,
        unscanned: 0,
        already_enforced: 0,
        tool_calls: 0,
      },
      startedAt: performance.now(),
      scanRequestMs: 0,
      scanResponseMs: 0,
    };
    const clientRequestId = headerValue(request.headers, 'x-request-id');
    if (clientRequestId) this.draft.client_request_id = clientRequestId.slice(0, 128);
    for (const [header, field] of SESSION_HEADERS) {
      const value = headerValue(request.headers, header);
      if (value) this.draft[field] = value.slice(0, 256);
    }
  }

  async execute(): Promise<void> {
    const { state, draft } = this;
    const cfg = state.config;
    if (state.closing || state.inflight > cfg.max_inflight) {
      state.counters.rejected++;
      return this.fail('overloaded', 'The DefenseClaw proxy is at capacity; retry shortly.', {
        'retry-after': '1',
      });
    }
    if (!state.masterKey) {
      state.counters.rejected++;
      return this.fail('invalid_api_key', 'The DefenseClaw master key is not configured on the proxy.');
    }
    if (!state.masterKey.verify(this.request.headers)) {
      state.counters.rejected++;
      return this.fail('invalid_api_key', 'Invalid DefenseClaw master key.');
    }
    const read = await this.request.readBody(cfg.limits.request_body_bytes);
    if (!read.success) {
      if (read.reason === 'aborted') return this.settle('client_aborted');
      state.counters.rejected++;
      return this.fail(
        'request_too_large',
        `The request body exceeds guardrail.limits.request_body_bytes (${cfg.limits.request_body_bytes} bytes).`,
        { connection: 'close' },
      );
    }
    draft.bytes.request = read.bytes.length;
    const parsed = parseRequestBody(this.format, read.bytes);
    if (!parsed.success) {
      state.counters.rejected++;
      return this.fail(parsed.code, parsed.message);
    }
    const body = parsed.body;
    const stream = body.stream === true;
    draft.stream = stream;
    draft.model_requested = body.model.slice(0, 256);
    const user = clientUser(this.format, body);
    if (user) draft.client_user = user;

    const resolved = state.registry.resolve(body.model);
    if (!resolved) {
      state.counters.rejected++;
      return this.fail(
        'model_not_found',
        `Model "${body.model.slice(0, 128)}" is not configured: no alias, no known provider prefix and no default_provider.`,
      );
    }
    draft.provider = resolved.provider.name;
    draft.model_upstream = resolved.model.slice(0, 256);
    if (!ENDPOINT_FLAVOURS[this.endpoint].includes(resolved.provider.flavour)) {
      state.counters.rejected++;
      return this.fail(
        'unsupported_endpoint_for_provider',
        `Provider "${resolved.provider.name}" (flavour ${resolved.provider.flavour}) does not serve this endpoint.`,
      );
    }
    let apiKey: string | undefined;
    if (resolved.provider.apiKeyEnv !== undefined) {
      apiKey = state.env(resolved.provider.apiKeyEnv) || undefined;
      if (!apiKey) {
        state.counters.rejected++;
        return this.fail(
          'provider_not_configured',
          `Provider "${resolved.provider.name}" has no API key: set ${resolved.provider.apiKeyEnv}.`,
        );
      }
    }
    if (stream && state.openStreams.size >= cfg.max_streams) {
      state.counters.rejected++;
      return this.fail('overloaded', 'The DefenseClaw proxy has too many open streams; retry shortly.', {
        'retry-after': '1',
      });
    }

    // Request-side inspection (B3).
    const ctx = this.evalContext();
    const mapped = mapRequest(this.format, body);
    const insp = await inspectPrompt(
      {
        engine: state.engine,
        seen: state.seen,
        blockRefs: state.blockRefs,
        failMode: state.failModes.proxy_prompt,
      },
      mapped,
      ctx,
      body.model,
    );
    draft.scanRequestMs = insp.scanMs;
    draft.counts.messages_total = insp.total;
    draft.counts.messages_scanned = insp.scanned;
    draft.counts.seen_cache_hits = insp.cacheHits;
    draft.counts.unscanned = insp.unscanned;
    draft.counts.already_enforced = insp.acknowledged;
    if (insp.verdict) draft.requestVerdict = insp.verdict;
    if (insp.failOpen) this.failOpen(insp.failOpen);
    if (insp.verdict?.action === 'block') {
      const block = this.block(insp.verdict, body.model, insp.blockingHashes);
      return this.sendBlock(block, stream, 'blocked_request');
    }
    if (this.reply.clientGone) return this.settle('client_aborted');

    const upstreamBody =
      resolved.model === body.model
        ? read.bytes
        : Buffer.from(JSON.stringify({ ...body, model: resolved.model }));
    const headers = upstreamRequestHeaders(this.request.headers, {
      flavour: resolved.provider.flavour,
      apiKey,
      forward: state.forward,
    });
    if (stream) return this.relayStream(resolved, headers, upstreamBody, body.model, ctx);
    return this.relayJson(resolved, headers, upstreamBody, body.model, ctx);
  }

  /** Non-streaming: read the upstream answer, judge it, relay it byte-identical or replace it (B4). */
  async relayJson(
    resolved: ResolvedModel,
    headers: Record<string, string>,
    body: Buffer,
    model: string,
    ctx: EvalContext,
  ): Promise<void> {
    const { state, draft } = this;
    const limits = state.config.limits;
    const ac = new AbortController();
    const timer = setTimeout(
      () => ac.abort(new UpstreamTotalTimeout(limits.total_timeout_ms)),
      limits.total_timeout_ms,
    );
    this.reply.onClientGone(() => ac.abort());
    const active: OpenStream = {
      cut() {
        ac.abort();
      },
    };
    state.active.add(active);
    try {
      const up = await this.callProvider(resolved, headers, body, ac.signal, limits.first_byte_timeout_ms);
      if (up === undefined) return;
      const read = await readUpstreamBody(up.body, limits.response_body_bytes);
      draft.upstreamEnd = performance.now();
      if (!read.success) {
        if (this.reply.clientGone) return this.settle('client_aborted');
        if (read.reason === 'too_large') {
          this.noteUpstream(resolved.provider.name, 'response too large');
          return this.fail(
            'upstream_response_too_large',
            `The upstream response exceeds guardrail.limits.response_body_bytes (${limits.response_body_bytes} bytes).`,
          );
        }
        return this.upstreamFailed(
          resolved.provider.name,
          callFailure(read.error, resolved.provider.name, ac.signal),
        );
      }
      draft.bytes.response = read.bytes.length;
      this.noteUpstream(resolved.provider.name, up.statusCode >= 500 ? `HTTP ${up.statusCode}` : undefined);
      if (this.reply.clientGone) return this.settle('client_aborted');
      const relayHeaders = clientResponseHeaders(up.headers);
      if (up.statusCode < 200 || up.statusCode >= 300) {
        // Errors are relayed unscanned with their status (B4).
        this.sendBytes(up.statusCode, relayHeaders, read.bytes);
        return this.settle('upstream_status');
      }
      this.judgeAndRelay(up.statusCode, relayHeaders, read.bytes, model, ctx);
    } finally {
      clearTimeout(timer);
      state.active.delete(active);
    }
  }

  /** Streaming: send the head, pipe the upstream SSE through the stream guard, cut on block or fault (B6). */
  async relayStream(
    resolved: ResolvedModel,
    headers: Record<string, string>,
    body: Buffer,
    model: string,
    ctx: EvalContext,
  ): Promise<void> {
    const { state, draft } = this;
    const limits = state.config.limits;
    const ac = new AbortController();
    let totalTimedOut = false;
    let cut: ((reason: string) => void) | undefined;
    const timer = setTimeout(() => {
      totalTimedOut = true;
      if (cut) cut(`the stream exceeded its ${limits.stream_total_timeout_ms} ms total duration`);
      else ac.abort(new UpstreamTotalTimeout(limits.stream_total_timeout_ms));
    }, limits.stream_total_timeout_ms);
    const open: OpenStream = {
      cut(reason) {
        if (cut) cut(reason);
        else ac.abort();
      },
    };
    state.openStreams.add(open);
    this.reply.onClientGone(() => ac.abort());
    try {
      const up = await this.callProvider(
        resolved,
        headers,
        body,
        ac.signal,
        limits.stream_first_byte_timeout_ms,
      );
      if (up === undefined) return;
      const contentType = String(headerValue(up.headers, 'content-type') ?? '');
      if (up.statusCode < 200 || up.statusCode >= 300 || !contentType.includes('text/event-stream')) {
        // A status before the stream starts is relayed as JSON; a 2xx JSON answer is judged like a non-stream one.
        const read = await readUpstreamBody(up.body, limits.response_body_bytes);
        draft.upstreamEnd = performance.now();
        if (!read.success) {
          if (read.reason === 'too_large') {
            return this.fail(
              'upstream_response_too_large',
              'The upstream response exceeds the response body limit.',
            );
          }
          return this.upstreamFailed(
            resolved.provider.name,
            callFailure(read.error, resolved.provider.name, ac.signal),
          );
        }
        draft.bytes.response = read.bytes.length;
        this.noteUpstream(resolved.provider.name, up.statusCode >= 500 ? `HTTP ${up.statusCode}` : undefined);
        const relayHeaders = clientResponseHeaders(up.headers);
        if (up.statusCode < 200 || up.statusCode >= 300) {
          this.sendBytes(up.statusCode, relayHeaders, read.bytes);
          return this.settle('upstream_status');
        }
        return this.judgeAndRelay(up.statusCode, relayHeaders, read.bytes, model, ctx);
      }
      this.noteUpstream(resolved.provider.name, undefined);
      await this.pipeStream(up, model, ctx, ac, (fn) => {
        cut = fn;
      });
      if (totalTimedOut && draft.outcome === 'upstream_error') draft.outcome = 'timeout';
    } finally {
      clearTimeout(timer);
      state.openStreams.delete(open);
    }
  }

  /** Judges a 2xx JSON completion and relays it byte-identical, or replaces it with the block answer (B4). */
  judgeAndRelay(
    status: number,
    relayHeaders: Record<string, string | string[]>,
    bytes: Buffer,
    model: string,
    ctx: EvalContext,
  ): void {
    const { state, draft } = this;
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      json = undefined;
    }
    const completion = json === undefined ? undefined : extractCompletion(this.format, json);
    if (!completion) {
      const failed = applyFailMode(
        unscannable(ctx, state.engine),
        state.failModes.proxy_completion,
        'response',
      );
      if (failed.verdict.action === 'block') {
        draft.responseVerdict = failed.verdict;
        this.fail('upstream_invalid_response', 'The upstream response could not be parsed for inspection.');
        return;
      }
      this.failOpen({ lane: 'proxy_completion', reason: 'unparseable_response' });
      this.sendBytes(status, relayHeaders, bytes);
      this.settle('ok');
      return;
    }
    const judged = judgeCompletion(state.engine, completion, ctx, {
      completion: state.failModes.proxy_completion,
      toolCall: state.failModes.proxy_tool_call,
    });
    draft.scanResponseMs = judged.scanMs;
    draft.counts.tool_calls = judged.toolCalls;
    draft.responseVerdict = judged.verdict;
    for (const f of judged.failOpen) this.failOpen(f);
    if (judged.verdict.action === 'block') {
      this.sendBlock(this.block(judged.verdict, model, []), false, 'blocked_response');
      return;
    }
    this.sendBytes(status, relayHeaders, bytes);
    this.settle('ok');
  }

  /** Pipes an SSE upstream body through the stream guard with backpressure and abort propagation. */
  pipeStream(
    up: Dispatcher.ResponseData,
    model: string,
    ctx: EvalContext,
    ac: AbortController,
    setCut: (fn: (reason: string) => void) => void,
  ): Promise<void> {
    const { state, draft, reply } = this;
    const cfg = state.config;
    const upstreamHeaders = clientResponseHeaders(up.headers);
    delete upstreamHeaders['content-type'];
    let blockedBeforeHead = false;
    const head = (): OutgoingHttpHeaders => {
      const h: OutgoingHttpHeaders = {
        ...upstreamHeaders,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'x-defenseclaw-request-id': this.requestId,
        'server-timing': this.serverTiming(),
      };
      if (blockedBeforeHead) h['x-defenseclaw-blocked'] = 'true';
      return h;
    };
    const scanCtx: EvalContext = { ...ctx, lane: 'proxy_completion' };
    const rawScanner: StreamTextScanner = state.engine.streamScanner
      ? state.engine.streamScanner(scanCtx, { scanStepChars: cfg.stream.scan_step_chars })
      : createFallbackScanner(state.engine, scanCtx, {
          stepChars: cfg.stream.scan_step_chars,
          overlapChars: cfg.stream.overlap_chars,
        });
    const failOpens = (v: Verdict, failMode: 'closed' | 'open', noun: string): Verdict => {
      const r = applyFailMode(v, failMode, noun);
      if (r.failOpen) this.failOpen(r.failOpen);
      return r.verdict;
    };
    const scanner: StreamTextScanner = {
      push: (text) => failOpens(rawScanner.push(text), state.failModes.proxy_completion, 'response'),
      finish: () => failOpens(rawScanner.finish(), state.failModes.proxy_completion, 'response'),
      get scannedChars() {
        return rawScanner.scannedChars;
      },
      get scannedTo() {
        return rawScanner.scannedTo;
      },
    };
    if (rawScanner.flush) {
      const flush = rawScanner.flush.bind(rawScanner);
      scanner.flush = () => failOpens(flush(), state.failModes.proxy_completion, 'response');
    }
    return new Promise<void>((resolve) => {
      let settled = false;
      let blocked = false;
      const source = up.body;
      const finish = () => {
        if (settled) return;
        settled = true;
        draft.upstreamEnd ??= performance.now();
        this.recordStream(guard.summary(), blocked);
        if (!source.destroyed) source.destroy();
        resolve();
      };
      const guard = createStreamGuard({
        format: this.format,
        mode: this.mode,
        holdbackChars: effectiveHoldbackChars(cfg),
        maxEventBytes: cfg.stream.max_event_bytes,
        maxHeldBytes: cfg.stream.max_held_bytes,
        // The wrappers above already turned scanner failures into blocks or fail-opens per lane.
        failMode: 'open',
        scanner,
        judgeToolCall: (call) =>
          failOpens(judgeToolCall(state.engine, call, ctx), state.failModes.proxy_tool_call, 'tool call'),
        makeBlock: (verdict) => this.block(verdict, model, []),
        sink: {
          write: (chunk) => {
            if (!reply.headersSent) reply.writeHead(200, head());
            return reply.write(chunk);
          },
          end: () => {
            if (!reply.headersSent) reply.writeHead(200, head());
            reply.end();
            // The guard may still be finalising its summary when it ends the sink.
            queueMicrotask(finish);
          },
        },
        onBlock: () => {
          blocked = true;
          if (!reply.headersSent) blockedBeforeHead = true;
          draft.upstreamEnd = performance.now();
          ac.abort();
        },
      });
      setCut((reason) => {
        if (!guard.done) guard.fail(reason);
        ac.abort();
        finish();
      });
      reply.onDrain(() => {
        if (source.isPaused()) source.resume();
      });
      reply.onClientGone(() => {
        if (!guard.done) guard.abort();
        ac.abort();
        finish();
      });
      source.on('data', (chunk: Buffer) => {
        draft.bytes.response += chunk.length;
        if (guard.done) return;
        if (!guard.push(chunk)) source.pause();
      });
      source.on('end', () => {
        draft.upstreamEnd = performance.now();
        if (!guard.done) guard.end();
        if (guard.done) finish();
      });
      source.on('error', (error: unknown) => {
        if (!guard.done) {
          const failure = callFailure(error, draft.provider ?? 'upstream', ac.signal);
          guard.fail(failure.message);
          this.noteUpstream(draft.provider ?? '', failure.message);
        }
        finish();
      });
      source.on('close', () => {
        // An upstream that closes without 'end' or 'error' (aborted by us) still settles the stream.
        if (guard.done) finish();
      });
    });
  }

  recordStream(summary: StreamSummary, blocked: boolean): void {
    const { state, draft } = this;
    draft.responseVerdict = summary.verdict;
    draft.counts.frames = summary.frames;
    draft.counts.held_max = summary.heldMax;
    draft.counts.scanned_chars = summary.scannedChars;
    draft.counts.tool_calls = summary.toolCalls;
    if (summary.block) draft.block_id = summary.block.blockId;
    const outcome: ProxyOutcome =
      summary.outcome === 'cut_midstream' || blocked
        ? 'cut_midstream'
        : summary.outcome === 'client_aborted' || this.reply.clientGone
          ? 'client_aborted'
          : summary.outcome === 'upstream_error'
            ? /timed out|stalled|total duration|idle/i.test(summary.error ?? '')
              ? 'timeout'
              : 'upstream_error'
            : 'ok';
    if (outcome === 'cut_midstream') state.counters.blocked++;
    if (outcome === 'upstream_error' || outcome === 'timeout') state.counters.upstreamErrors++;
    this.settle(outcome, 200);
  }

  evalContext(): EvalContext {
    const meta: EvalContext['meta'] = { requestId: this.requestId };
    if (this.draft.session_key) meta.sessionKey = this.draft.session_key;
    if (this.draft.agent_id) meta.agentId = this.draft.agent_id;
    if (this.draft.run_id) meta.runId = this.draft.run_id;
    const ctx: EvalContext = { lane: 'proxy_prompt', mode: this.mode, nowMs: this.state.now(), meta };
    if (this.state.scanBudgetMs !== undefined) ctx.budgetMs = this.state.scanBudgetMs;
    return ctx;
  }

  /** Mints a block reference (remembering which prompt messages it covers) and renders the block answer. */
  block(verdict: Verdict, model: string, covered: readonly string[]): BlockInfo {
    const { state } = this;
    const blockId = newBlockId(state.now());
    state.blockRefs.set(blockId, {
      covered: new Set(covered),
      ruleIds: verdict.ruleIds,
      issuedAt: state.now(),
    });
    this.draft.block_id = blockId;
    return makeBlockInfo(verdict, {
      blockId,
      requestId: this.requestId,
      template: state.config.block_message,
      compat: state.config.block_compat,
      model,
    });
  }

  sendBlock(block: BlockInfo, stream: boolean, outcome: 'blocked_request' | 'blocked_response'): void {
    this.state.counters.blocked++;
    const headers: OutgoingHttpHeaders = {
      'x-defenseclaw-request-id': this.requestId,
      'x-defenseclaw-blocked': 'true',
      'server-timing': this.serverTiming(),
    };
    if (stream) {
      const text = synthesizeBlockStream(this.format, block);
      headers['content-type'] = 'text/event-stream; charset=utf-8';
      headers['cache-control'] = 'no-cache';
      headers['content-length'] = Buffer.byteLength(text);
      this.reply.writeHead(200, headers);
      this.reply.end(text);
    } else {
      const text = blockBody(this.format, block, this.state.now());
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(text);
      this.reply.writeHead(200, headers);
      this.reply.end(text);
    }
    this.settle(outcome, 200);
  }

  sendBytes(status: number, relayHeaders: Record<string, string | string[]>, bytes: Buffer): void {
    this.reply.writeHead(status, {
      ...relayHeaders,
      'content-length': bytes.length,
      'x-defenseclaw-request-id': this.requestId,
      'server-timing': this.serverTiming(),
    });
    this.reply.end(bytes);
    this.draft.status = status;
  }

  /** Answers with an error in the caller's format. */
  fail(code: ProxyHttpErrorCode, message: string, extra: OutgoingHttpHeaders = {}): void {
    const text = errorBody(this.format, code, message, this.requestId);
    const status = statusOf(code);
    if (!this.reply.headersSent) {
      this.reply.writeHead(status, {
        ...extra,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        'x-defenseclaw-request-id': this.requestId,
      });
      this.reply.end(text);
    } else this.reply.end();
    this.draft.error_code = code;
    this.draft.status = status;
    this.draft.outcome =
      code === 'upstream_timeout'
        ? 'timeout'
        : code.startsWith('upstream_')
          ? 'upstream_error'
          : this.draft.outcome === 'ok'
            ? 'rejected'
            : this.draft.outcome;
  }

  /** Calls the provider and records the upstream timings; undefined once a failure has been answered. */
  async callProvider(
    resolved: ResolvedModel,
    headers: Record<string, string>,
    body: Buffer,
    signal: AbortSignal,
    headersTimeoutMs: number,
  ): Promise<Dispatcher.ResponseData | undefined> {
    const { state, draft } = this;
    draft.upstreamStart = performance.now();
    const call = await callUpstream(
      {
        url: upstreamUrl(resolved.provider, this.endpoint),
        headers,
        body,
        agent: state.pools.agentFor(resolved.provider),
        signal,
        headersTimeoutMs,
        bodyTimeoutMs: state.config.limits.stream_idle_timeout_ms,
      },
      resolved.provider.name,
    );
    if (!call.success) {
      this.upstreamFailed(resolved.provider.name, call.failure);
      return undefined;
    }
    draft.upstreamHeadersAt = performance.now();
    draft.upstream_status = call.response.statusCode;
    return call.response;
  }

  upstreamFailed(provider: string, failure: UpstreamFailure): void {
    if (this.reply.clientGone) {
      this.settle('client_aborted');
      return;
    }
    this.state.counters.upstreamErrors++;
    this.noteUpstream(provider, failure.message);
    this.state.logger.warn('guardrail: upstream failed', {
      request_id: this.requestId,
      provider,
      reason: failure.reason,
    });
    this.fail(failure.code, failure.message);
  }

  noteUpstream(provider: string, error: string | undefined): void {
    if (!provider) return;
    const prev = this.state.upstreams.get(provider) ?? { state: 'unknown' as const };
    if (error === undefined) {
      // Health reads to the second; rendering a date per request was a measurable part of a request's cost.
      const at = isoSecond(this.state.now());
      if (prev.state !== 'ok' || prev.last_ok_at !== at)
        this.state.upstreams.set(provider, { state: 'ok', last_ok_at: at });
    } else {
      const next: { state: 'error'; last_ok_at?: string; last_error: string } = {
        state: 'error',
        last_error: error,
      };
      if (prev.last_ok_at) next.last_ok_at = prev.last_ok_at;
      this.state.upstreams.set(provider, next);
    }
  }

  failOpen(entry: { lane: string; reason: string }): void {
    if (this.draft.fail_open) this.draft.fail_open.push(entry);
    else this.draft.fail_open = [entry];
    const key = `${entry.lane}:${entry.reason}`;
    this.state.counters.failOpen.set(key, (this.state.counters.failOpen.get(key) ?? 0) + 1);
  }

  settle(outcome: ProxyOutcome, status?: number): void {
    this.draft.outcome = outcome;
    if (status !== undefined) this.draft.status = status;
    if (outcome === 'client_aborted') this.state.counters.clientAborted++;
  }

  serverTiming(): string {
    const d = this.draft;
    const scan = d.scanRequestMs + d.scanResponseMs;
    const upstream =
      d.upstreamStart !== undefined
        ? (d.upstreamEnd ?? d.upstreamHeadersAt ?? performance.now()) - d.upstreamStart
        : 0;
    return `scan;dur=${scan.toFixed(2)}, upstream;dur=${upstream.toFixed(2)}`;
  }

  emitAudit(): void {
    if (this.#audited) return;
    this.#audited = true;
    this.draft.bytes.delivered = this.reply.bytesWritten;
    if (this.draft.requestVerdict?.wouldBlock || this.draft.responseVerdict?.wouldBlock)
      this.state.counters.wouldBlock++;
    try {
      this.state.audit(finishAuditRecord(this.draft, performance.now()));
    } catch {
      this.state.logger.warn('guardrail: the audit sink threw; record dropped', {
        request_id: this.requestId,
      });
    }
  }
}

let isoSecondKey = Number.NaN;
let isoSecondText = '';

/** The ISO-8601 rendering of `ms` truncated to the second (cached: one `Date` per second, not per request). */
function isoSecond(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecondKey) {
    isoSecondKey = second;
    isoSecondText = new Date(second * 1000).toISOString();
  }
  return isoSecondText;
}

function clientUser(format: WireFormat, body: RequestBody): string | undefined {
  let user: unknown;
  if (format === 'anthropic-messages') {
    const meta = body.metadata;
    if (meta && typeof meta === 'object') user = (meta as Record<string, unknown>).user_id;
  } else user = body.user ?? body.safety_identifier;
  return typeof user === 'string' && user !== '' ? user.slice(0, 128) : undefined;
}

function callFailure(error: unknown, provider: string, signal: AbortSignal): UpstreamFailure {
  // A body read failure after headers (reset, idle timeout).
  return classifyBodyError(error, provider, signal);
}

function classifyBodyError(error: unknown, provider: string, signal: AbortSignal): UpstreamFailure {
  if (signal.aborted && signal.reason instanceof UpstreamTotalTimeout) {
    return {
      code: 'upstream_timeout',
      message: `Upstream ${provider}: ${signal.reason.message}.`,
      reason: 'total_timeout',
    };
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'UND_ERR_BODY_TIMEOUT') {
    return {
      code: 'upstream_timeout',
      message: `Upstream ${provider}: the stream stalled (idle timeout).`,
      reason: 'body_timeout',
    };
  }
  return {
    code: 'upstream_unavailable',
    message: `Upstream ${provider}: connection reset mid-response.`,
    reason: String(code ?? 'reset'),
  };
}

/** A verdict standing for a response the proxy could not parse, so the completion lane's fail mode applies. */
function unscannable(ctx: EvalContext, engine: ProxyState['engine']): Verdict {
  const v = engine.evaluate(
    { kind: 'completion', text: '', toolCalls: [] },
    { ...ctx, lane: 'proxy_completion' },
  );
  return {
    ...v,
    error: { code: 'ENGINE-INVALID-INPUT', message: 'the upstream response is not a parseable completion' },
  };
}
