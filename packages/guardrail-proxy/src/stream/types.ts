// The contract between the proxy's routes (request handling, upstream calls) and the streaming guard
// (SSE parsing, per-format adapters, release queue, incremental scan). The routes own transport; the guard owns
// bytes and verdicts and never touches sockets directly.

import type { Verdict } from '@defenseclaw/policy';

/** The three wire formats the proxy speaks. */
export const WIRE_FORMATS = ['openai-chat', 'anthropic-messages', 'openai-responses'] as const;

/** One wire format: OpenAI Chat Completions, Anthropic Messages, or OpenAI Responses. */
export type WireFormat = (typeof WIRE_FORMATS)[number];

/** What a block answer carries (spec 30 §B5), already rendered by the routes. */
export type BlockInfo = {
  /** The block reference `dcblk_<26 base32>`; also the suffix of synthesised ids (`chatcmpl-<id>`, `msg_<id>`, `resp_<id>`). */
  blockId: string;
  /** The proxy's request id (UUIDv7). */
  requestId: string;
  /** Rule ids of the blocking findings. */
  ruleIds: string[];
  /** The verdict's explanation (safe to show; never the matched secret). */
  reason: string;
  /** The visible text: `guardrail.block_message` with `{reason}` and `{ref}` filled in. */
  text: string;
  /** Which stop reasons to use (§B5): `native` (content_filter / refusal / incomplete) or `lenient` (stop / end_turn / completed). */
  compat: 'native' | 'lenient';
  /** The model name to echo in synthesised bodies. */
  model: string;
};

/** A tool call the model proposed, complete (all argument fragments joined). */
export type ProposedToolCall = {
  id?: string;
  name: string;
  /** The raw JSON string the model produced (may not parse). */
  arguments: string;
};

/** Where the guard writes client-bound bytes; mirrors the parts of `ServerResponse` it needs. */
export type StreamSink = {
  /** Writes bytes to the client; `false` means wait for `drain` before pushing more upstream bytes. */
  write(chunk: Uint8Array | string): boolean;
  /** Ends the client response. */
  end(): void;
};

/** Incremental text scanning for one stream (the policy engine's `streamScanner`, spec 30 §B6.4). */
export type StreamTextScanner = {
  /** Appends text and scans what is due; returns the verdict so far (`allow` while clean). */
  push(text: string): Verdict;
  /** Scans the remainder (whole-text rules rerun) and returns the final verdict. */
  finish(): Verdict;
  /** Characters scanned so far (overlap included), for the O(n) bound. */
  readonly scannedChars: number;
  /** Scans the pending text now when the scanner's O(n) budget allows (a hold-back release needs it); returns the verdict so far. */
  flush?(): Verdict;
  /** Characters of text the verdict so far covers; without it, text held back by `holdbackChars` waits for `finish()`. */
  readonly scannedTo?: number;
};

/** Options of `createStreamGuard`. */
export type StreamGuardOptions = {
  format: WireFormat;
  /** `observe` never cuts a stream (records would-block); `action` holds and cuts. */
  mode: 'observe' | 'action';
  /** Text hold-back in characters (§B6.3). */
  holdbackChars: number;
  /** Largest single SSE event in bytes; bigger is an upstream protocol error. @default 1048576 */
  maxEventBytes?: number;
  /** Most bytes held back at once before failing closed. @default 4194304 */
  maxHeldBytes?: number;
  /** The text scanner for the completion text (lane `proxy_completion`). */
  scanner: StreamTextScanner;
  /** Judges one complete tool call (lane `proxy_tool_call`); unparseable arguments are the judge's concern. */
  judgeToolCall(call: ProposedToolCall): Verdict;
  /** Renders the block answer for a blocking verdict (called at most once). */
  makeBlock(verdict: Verdict): BlockInfo;
  /** The client sink. The routes send status and headers before the first write. */
  sink: StreamSink;
  /** Called once when the guard decides to block, so the routes abort the upstream request. */
  onBlock?: (verdict: Verdict) => void;
  /**
   * `policy.fail_mode` for scanner failures (a verdict with `error`) in action mode: `closed` cuts the stream, `open`
   * delivers it (the verdict still records the error). Observe mode always fails open (spec 30 §B7).
   * @default 'closed'
   */
  failMode?: 'closed' | 'open';
};

/** How a guarded stream ended. */
export type StreamOutcome = 'ok' | 'cut_midstream' | 'upstream_error' | 'client_aborted';

/** What the guard reports at the end, for the per-request audit record (§B8). */
export type StreamSummary = {
  outcome: StreamOutcome;
  /** The strictest verdict over text and tool calls (`allow` when clean). */
  verdict: Verdict;
  /** The block, when the stream was cut. */
  block?: BlockInfo;
  frames: number;
  /** Most bytes held at once. */
  heldMax: number;
  /** Characters the scanner covered (≤ 5 × text length). */
  scannedChars: number;
  /** Completion text length in characters. */
  textChars: number;
  /** Bytes written to the client. */
  deliveredBytes: number;
  /** Tool calls seen (complete). */
  toolCalls: number;
  /** Upstream usage when the stream carried it (raw provider object). */
  usage?: unknown;
  /** Why the upstream failed, when it did (no content). */
  error?: string;
};

/** A guarded SSE stream: upstream bytes in, client bytes out. */
export type StreamGuard = {
  /** Feeds upstream bytes; returns `false` when the client sink asked for backpressure. */
  push(chunk: Uint8Array): boolean;
  /** Upstream ended cleanly (EOF); flushes or synthesises the ending. */
  end(): void;
  /** Upstream failed mid-stream (reset, idle timeout); writes a native error event and closes. */
  fail(reason: string): void;
  /** The client went away; frees everything without writing. */
  abort(): void;
  /** True once the guard has blocked, ended, failed or aborted. */
  readonly done: boolean;
  /** The summary (final once `done`). */
  summary(): StreamSummary;
};
