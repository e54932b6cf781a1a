// The streaming guard (spec 30 §B6): upstream SSE bytes in, client bytes out. Frames are parsed once, decoded by the
// wire format's adapter, their text fed to the incremental scanner and their tool calls judged when complete; the
// release queue lets each frame go, as its original bytes and in arrival order, once the text hold-back and the
// tool-call hold allow. A block drops what is still held and ends the stream with native events.
import type { Verdict } from '@defenseclaw/policy';
import { createAdapter, type FormatAdapter } from './adapter.ts';
import { ReleaseQueue } from './release-queue.ts';
import { createSseParser, type SseFrame, type SseParseResult, type SseParser } from './sse-parser.ts';
import type {
  BlockInfo,
  ProposedToolCall,
  StreamGuard,
  StreamGuardOptions,
  StreamOutcome,
  StreamSummary,
} from './types.ts';

/**
 * Creates a guarded SSE stream that releases upstream bytes to the client sink as the policy allows.
 *
 * @example
 * const guard = createStreamGuard({
 *   format: 'openai-chat', mode: 'action', holdbackChars: 256,
 *   scanner: engine.streamScanner(ctx), judgeToolCall, makeBlock, sink: res,
 * });
 * upstream.on('data', (chunk) => guard.push(chunk) || upstream.pause());
 * upstream.on('end', () => guard.end());
 */
export function createStreamGuard(options: StreamGuardOptions): StreamGuard {
  return new Guard(options);
}

// --- internal ---

const ACTION_RANK: Record<string, number> = { allow: 0, alert: 1, confirm: 2, block: 3 };
const SEVERITY_RANK: Record<string, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

/** A tool call being assembled from fragments. */
type OpenTool = { id?: string; name: string; args: string; startSeq: number };

class Guard implements StreamGuard {
  readonly #o: StreamGuardOptions;
  readonly #action: boolean;
  readonly #holdback: number;
  readonly #maxHeld: number;
  readonly #adapter: FormatAdapter;
  readonly #parser: SseParser;
  readonly #queue = new ReleaseQueue();
  readonly #tools = new Map<string, OpenTool>();
  #seq = 0;
  #textChars = 0;
  #textFinished = false;
  #terminal = false;
  #upstreamError = false;
  #textVerdict: Verdict | undefined;
  #toolVerdict: Verdict | undefined;
  #done = false;
  #outcome: StreamOutcome = 'ok';
  #block: BlockInfo | undefined;
  #error: string | undefined;
  #frames = 0;
  #delivered = 0;
  #toolCalls = 0;
  #usage: unknown;
  #writable = true;
  /** Released frames not yet written (one write per upstream chunk). */
  #out: Uint8Array[] = [];

  constructor(options: StreamGuardOptions) {
    this.#o = options;
    this.#action = options.mode === 'action';
    // Observe mode never cuts, so holding text back would only add latency [decision].
    this.#holdback = this.#action ? Math.max(0, Math.floor(options.holdbackChars)) : 0;
    this.#maxHeld = options.maxHeldBytes ?? 4 * 1024 * 1024;
    this.#adapter = createAdapter(options.format);
    this.#parser = createSseParser({
      maxEventBytes: options.maxEventBytes ?? 1024 * 1024,
      onFrame: (frame) => this.#onFrame(frame),
    });
  }

  get done(): boolean {
    return this.#done;
  }

  push(chunk: Uint8Array): boolean {
    if (this.#done) return true;
    let r: SseParseResult;
    try {
      r = this.#parser.push(chunk);
    } catch {
      this.#internalError();
      return this.#writable;
    }
    if (this.#done) return this.#writable;
    if (!r.success) {
      this.#fault(r.code, 'upstream sent an oversized stream event');
      return this.#writable;
    }
    this.#flushOut();
    return this.#writable;
  }

  end(): void {
    try {
      this.#end();
    } catch {
      this.#internalError();
    }
  }

  #end(): void {
    if (this.#done) return;
    this.#parser.end();
    if (this.#done) return;
    if (!this.#terminal && !this.#upstreamError) {
      // EOF before the format's terminal event is an upstream cut (§B6.1).
      this.#fault('upstream_eof', 'upstream closed the stream before it finished');
      return;
    }
    // After the terminal event every tool call is as complete as it will get.
    for (const [key, tool] of this.#tools) {
      this.#tools.delete(key);
      this.#judge(tool, tool.args);
      if (this.#done) return;
    }
    this.#finishText();
    if (this.#done) return;
    this.#release();
    if (this.#done) return;
    this.#flushOut();
    if (this.#upstreamError) {
      this.#outcome = 'upstream_error';
      this.#error = 'upstream_error_event';
    }
    this.#close();
  }

  /** A failing judge or scanner must not leave the client with a half-written stream: fail closed. */
  #internalError(): void {
    if (this.#done) return;
    this.#out = [];
    this.#queue.clear();
    this.#tools.clear();
    this.#textFinished = true;
    this.#fault('internal_error', 'DefenseClaw could not inspect this stream', 'cut_midstream');
  }

  fail(reason: string): void {
    this.#fault(reason, `upstream stream failed (${reason})`);
  }

  abort(): void {
    if (this.#done) return;
    this.#outcome = 'client_aborted';
    this.#free();
  }

  summary(): StreamSummary {
    const s: StreamSummary = {
      outcome: this.#outcome,
      verdict: this.#summaryVerdict(),
      frames: this.#frames,
      heldMax: this.#queue.maxBytes,
      scannedChars: this.#o.scanner.scannedChars,
      textChars: this.#textChars,
      deliveredBytes: this.#delivered,
      toolCalls: this.#toolCalls,
    };
    if (this.#block) s.block = this.#block;
    if (this.#usage !== undefined) s.usage = this.#usage;
    if (this.#error !== undefined) s.error = this.#error;
    return s;
  }

  #onFrame(frame: SseFrame): void {
    if (this.#done) return;
    const seq = this.#seq++;
    this.#frames++;
    const decoded = this.#adapter.decode(frame);
    if (!decoded.success) {
      // A frame that does not parse cannot be scanned: never forwarded in action mode (§B6.6).
      if (this.#action) this.#fault('malformed_frame', 'upstream sent a malformed stream event');
      else {
        this.#enqueue(frame, undefined, seq, false);
        this.#release();
      }
      return;
    }
    let hasText = false;
    let terminal = false;
    for (const ev of decoded.events) {
      switch (ev.type) {
        case 'text':
          if (this.#textFinished) {
            // Text after the final event was never scanned: not forwarded in action mode.
            if (this.#action) this.#fault('protocol_error', 'upstream sent content after its final event');
            break;
          }
          hasText = true;
          this.#textChars += ev.text.length;
          this.#onTextVerdict(this.#o.scanner.push(ev.text));
          break;
        case 'tool_start':
          if (!this.#tools.has(ev.key)) {
            this.#tools.set(ev.key, {
              ...(ev.id ? { id: ev.id } : {}),
              name: ev.name,
              args: '',
              startSeq: seq,
            });
          }
          break;
        case 'tool_args': {
          const tool = this.#tools.get(ev.key);
          if (tool) tool.args += ev.fragment;
          break;
        }
        case 'tool_end': {
          const tool = this.#tools.get(ev.key);
          if (tool) {
            this.#tools.delete(ev.key);
            this.#judge(tool, ev.arguments ?? tool.args);
          }
          break;
        }
        case 'usage':
          this.#usage = ev.usage;
          break;
        case 'terminal':
          terminal = true;
          break;
        case 'error':
          this.#upstreamError = true;
          break;
      }
      if (this.#done) return;
    }
    this.#enqueue(frame, decoded.value, seq, hasText);
    if (this.#done) return;
    if (terminal) {
      this.#terminal = true;
      this.#finishText();
      if (this.#done) return;
    }
    // Release decisions are taken per frame, so the client bytes do not depend on how upstream chunks split.
    this.#release();
  }

  #enqueue(frame: SseFrame, value: unknown, seq: number, hasText: boolean): void {
    this.#queue.push({ frame, value, seq, textEnd: this.#textChars, hasText });
    if (this.#action && this.#queue.bytes > this.#maxHeld) {
      // Fail closed: nothing unjudged leaves, and the client learns the stream ended abnormally.
      this.#queue.clear();
      this.#flushOut();
      this.#outcome = 'cut_midstream';
      this.#error = 'held_bytes_limit';
      this.#write(
        this.#adapter.errorEnding('DefenseClaw stopped this stream: too much unjudged data was held'),
      );
      this.#close();
    }
  }

  #finishText(): void {
    if (this.#textFinished) return;
    this.#textFinished = true;
    this.#onTextVerdict(this.#o.scanner.finish());
  }

  #onTextVerdict(verdict: Verdict): void {
    this.#textVerdict = verdict;
    if (this.#blocks(verdict)) this.#cut(verdict);
  }

  #judge(tool: OpenTool, args: string): void {
    this.#toolCalls++;
    const call: ProposedToolCall = { name: tool.name, arguments: args };
    if (tool.id !== undefined) call.id = tool.id;
    const verdict = this.#o.judgeToolCall(call);
    if (!this.#toolVerdict || stricter(verdict, this.#toolVerdict)) this.#toolVerdict = verdict;
    if (this.#blocks(verdict)) this.#cut(verdict);
  }

  #blocks(verdict: Verdict): boolean {
    if (!this.#action || this.#done) return false;
    if (verdict.action === 'block') return true;
    return verdict.error !== undefined && verdict.mode === 'action' && this.#o.failMode !== 'open';
  }

  /** Moves every frame the hold-back and tool-call hold allow to the client output (written by `#flushOut`). */
  #release(): void {
    if (this.#done) return;
    const out = this.#out;
    let flushed = false;
    for (let head = this.#queue.peek(); head; head = this.#queue.peek()) {
      if (this.#action) {
        if (this.#heldByTool(head.seq)) break;
        if (this.#holdback > 0 && head.hasText && !this.#textFinished) {
          const need = head.textEnd + this.#holdback;
          if (this.#scannedTo() < need) {
            const flush = this.#o.scanner.flush;
            if (flushed || flush === undefined || this.#textChars < need) break;
            flushed = true;
            this.#onTextVerdict(flush.call(this.#o.scanner));
            if (this.#done) return;
            continue;
          }
        }
      }
      this.#queue.shift();
      out.push(head.frame.raw);
      this.#adapter.released(head.frame, head.value);
    }
  }

  /** Writes the released frames, one write per upstream chunk. */
  #flushOut(): void {
    const out = this.#out;
    if (out.length === 0) return;
    this.#out = [];
    this.#write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  #heldByTool(seq: number): boolean {
    for (const tool of this.#tools.values()) if (tool.startSeq <= seq) return true;
    return false;
  }

  #scannedTo(): number {
    // A scanner that cannot say how far it has scanned covers nothing until `finish()` (fail closed).
    return this.#o.scanner.scannedTo ?? 0;
  }

  /** Ends the stream on a block: drops what is held and writes the native ending (§B6.5). */
  #cut(verdict: Verdict): void {
    this.#o.onBlock?.(verdict);
    const block = this.#o.makeBlock(verdict);
    this.#block = block;
    this.#outcome = 'cut_midstream';
    this.#queue.clear();
    this.#flushOut();
    this.#write(this.#adapter.blockEnding(block));
    this.#close();
  }

  /** Ends the stream on an upstream fault: releases what is judged clean, then a native error event (§B6.6). */
  #fault(code: string, message: string, outcome: StreamOutcome = 'upstream_error'): void {
    if (this.#done) return;
    this.#finishText();
    if (this.#done) return;
    // Calls never completed are dropped with every frame from their start on.
    const cut = Math.min(...[...this.#tools.values()].map((t) => t.startSeq));
    this.#tools.clear();
    const out = this.#out;
    for (let head = this.#queue.shift(); head; head = this.#queue.shift()) {
      if (this.#action && head.seq >= cut) break;
      out.push(head.frame.raw);
      this.#adapter.released(head.frame, head.value);
    }
    this.#queue.clear();
    this.#flushOut();
    this.#outcome = outcome;
    this.#error = code;
    this.#write(this.#adapter.errorEnding(message));
    this.#close();
  }

  #write(chunk: Uint8Array | string): void {
    this.#delivered += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    this.#writable = this.#o.sink.write(chunk);
  }

  #close(): void {
    this.#free();
    this.#o.sink.end();
  }

  #free(): void {
    this.#done = true;
    this.#out = [];
    this.#queue.clear();
    this.#tools.clear();
  }

  #summaryVerdict(): Verdict {
    let v = this.#textVerdict;
    if (!v) {
      v = this.#o.scanner.push('');
      this.#textVerdict = v;
    }
    if (this.#toolVerdict && stricter(this.#toolVerdict, v)) return this.#toolVerdict;
    return v;
  }
}

function stricter(a: Verdict, b: Verdict): boolean {
  const d = (ACTION_RANK[a.action] ?? 0) - (ACTION_RANK[b.action] ?? 0);
  if (d !== 0) return d > 0;
  const r = (ACTION_RANK[a.rawAction] ?? 0) - (ACTION_RANK[b.rawAction] ?? 0);
  if (r !== 0) return r > 0;
  return (SEVERITY_RANK[a.severity ?? ''] ?? -1) > (SEVERITY_RANK[b.severity ?? ''] ?? -1);
}
