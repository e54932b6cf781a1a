// Shared fixtures of the streaming-guard tests: the real policy engine compiled from the bundled pack, recorded-style
// upstream streams for each wire format, a collecting sink, and per-format validators of SSE event sequences.
import assert from 'node:assert/strict';
import {
  compilePolicy,
  createEngine,
  type EvalContext,
  loadBundledPacks,
  type PolicyEngine,
  type Verdict,
} from '@defenseclaw/policy';
import {
  type BlockInfo,
  createSseParser,
  createStreamGuard,
  type ProposedToolCall,
  type SseFrame,
  type StreamGuard,
  type StreamGuardOptions,
  type StreamSummary,
  type WireFormat,
} from '../src/stream/index.ts';

/** The real engine over the bundled pack. */
export const engine: PolicyEngine = (() => {
  const r = compilePolicy({ packs: loadBundledPacks() });
  if (!r.success) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return createEngine(r.policy, { evidenceKey: new Uint8Array(32).fill(3) });
})();

/** Every wire format. */
export const FORMATS: readonly WireFormat[] = ['openai-chat', 'anthropic-messages', 'openai-responses'];

/** The block id used by `makeBlock`. */
export const BLOCK_ID = 'dcblk_01HZX3K9Q7M2V8T4R6N5P0A1BC';

/** An evaluation context on a proxy lane. */
export function laneCtx(
  lane: 'proxy_completion' | 'proxy_tool_call',
  mode: 'observe' | 'action',
): EvalContext {
  return { lane, mode, nowMs: 1_700_000_000_000, meta: { requestId: 'req-1' } };
}

/** Judges a proposed tool call as the routes do: JSON arguments as a tool call on `proxy_tool_call`. */
export function judgeWith(mode: 'observe' | 'action') {
  return (call: ProposedToolCall): Verdict => {
    let args: unknown;
    try {
      args = call.arguments.trim() === '' ? {} : JSON.parse(call.arguments);
    } catch {
      args = { raw: call.arguments };
    }
    return engine.evaluate({ kind: 'tool_call', tool: call.name, args }, laneCtx('proxy_tool_call', mode));
  };
}

/** Renders a block answer as the routes do. */
export function makeBlock(verdict: Verdict, compat: 'native' | 'lenient' = 'native'): BlockInfo {
  return {
    blockId: BLOCK_ID,
    requestId: 'req-1',
    ruleIds: verdict.ruleIds,
    reason: verdict.explanation,
    text: `[DefenseClaw] Blocked: ${verdict.explanation.replace(/\.$/, '')}. Ref ${BLOCK_ID}.`,
    compat,
    model: 'test-model',
  };
}

/** A sink that collects what the client would receive. */
export type CollectSink = {
  chunks: Buffer[];
  ended: number;
  writable: boolean;
  write(chunk: Uint8Array | string): boolean;
  end(): void;
  bytes(): Buffer;
  text(): string;
};

/** Creates a collecting sink. */
export function collectSink(): CollectSink {
  const sink: CollectSink = {
    chunks: [],
    ended: 0,
    writable: true,
    write(chunk) {
      sink.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
      return sink.writable;
    },
    end() {
      sink.ended++;
    },
    bytes: () => Buffer.concat(sink.chunks),
    text: () => Buffer.concat(sink.chunks).toString('utf8'),
  };
  return sink;
}

/** Options of `runGuard`. */
export type RunOptions = {
  format: WireFormat;
  mode?: 'observe' | 'action';
  holdbackChars?: number;
  compat?: 'native' | 'lenient';
  /** Chunk boundaries (byte offsets); default: one chunk per SSE frame, as a paced upstream delivers them. */
  cuts?: readonly number[];
  /** Call `end()` after the last chunk (default true). */
  end?: boolean;
  extra?: Partial<StreamGuardOptions>;
  /** Observes each judged tool call with the bytes delivered so far. */
  onJudge?: (call: ProposedToolCall, delivered: string) => void;
};

/** Feeds `input` through a guard with the real engine; returns what the client received and the summary. */
export function runGuard(
  input: Uint8Array | string,
  o: RunOptions,
): { out: Buffer; summary: StreamSummary; sink: CollectSink; guard: StreamGuard; blocks: number } {
  const bytes = typeof input === 'string' ? Buffer.from(input) : Buffer.from(input);
  const mode = o.mode ?? 'action';
  const sink = collectSink();
  const judge = judgeWith(mode);
  let blocks = 0;
  const guard = createStreamGuard({
    format: o.format,
    mode,
    holdbackChars: o.holdbackChars ?? (mode === 'action' ? 256 : 0),
    scanner: engine.streamScanner(laneCtx('proxy_completion', mode)),
    judgeToolCall: (call) => {
      o.onJudge?.(call, sink.text());
      return judge(call);
    },
    makeBlock: (v) => {
      blocks++;
      return makeBlock(v, o.compat);
    },
    sink,
    ...o.extra,
  });
  let cuts = o.cuts;
  if (!cuts) {
    const ends: number[] = [];
    let end = 0;
    for (const f of parseFrames(bytes, true)) {
      end += f.raw.length;
      ends.push(end);
    }
    cuts = ends;
  }
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    if (c > at) guard.push(bytes.subarray(at, c));
    at = c;
  }
  if (o.end !== false) guard.end();
  return { out: sink.bytes(), summary: guard.summary(), sink, guard, blocks };
}

/** One part of a recorded-style completion: a text delta or a whole tool call (arguments in fragments). */
export type Part = { text: string } | { tool: { id: string; name: string; fragments: string[] } };

/** Renders a recorded-style upstream stream of `format` from parts. */
export function recordedStream(
  format: WireFormat,
  parts: readonly Part[],
  opts: { usage?: boolean } = {},
): string {
  switch (format) {
    case 'openai-chat':
      return openAiChatStream(parts, opts.usage ?? true);
    case 'anthropic-messages':
      return anthropicStream(parts);
    case 'openai-responses':
      return responsesStream(parts);
  }
}

function openAiChatStream(parts: readonly Part[], usage: boolean): string {
  const head = { id: 'chatcmpl-up1', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-x' };
  const chunk = (delta: unknown, finish: string | null = null) =>
    `data: ${JSON.stringify({ ...head, system_fingerprint: 'fp_1', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
  let out = chunk({ role: 'assistant', content: '' });
  let tools = 0;
  for (const p of parts) {
    if ('text' in p) out += chunk({ content: p.text });
    else {
      const index = tools++;
      out += chunk({
        tool_calls: [
          { index, id: p.tool.id, type: 'function', function: { name: p.tool.name, arguments: '' } },
        ],
      });
      for (const f of p.tool.fragments) out += chunk({ tool_calls: [{ index, function: { arguments: f } }] });
    }
  }
  out += chunk({}, tools > 0 ? 'tool_calls' : 'stop');
  if (usage) {
    out += `data: ${JSON.stringify({ ...head, choices: [], usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 } })}\n\n`;
  }
  return `${out}data: [DONE]\n\n`;
}

function ev(type: string, body: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...body })}\n\n`;
}

function anthropicStream(parts: readonly Part[]): string {
  let out = ev('message_start', {
    message: {
      id: 'msg_up1',
      type: 'message',
      role: 'assistant',
      model: 'claude-x',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 1 },
    },
  });
  let index = -1;
  let textOpen = false;
  let hasTool = false;
  for (const p of parts) {
    if ('text' in p) {
      if (!textOpen) {
        index++;
        out += ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
        out += 'event: ping\ndata: {"type": "ping"}\n\n';
        textOpen = true;
      }
      out += ev('content_block_delta', { index, delta: { type: 'text_delta', text: p.text } });
    } else {
      if (textOpen) out += ev('content_block_stop', { index });
      textOpen = false;
      hasTool = true;
      index++;
      out += ev('content_block_start', {
        index,
        content_block: { type: 'tool_use', id: p.tool.id, name: p.tool.name, input: {} },
      });
      for (const f of p.tool.fragments) {
        out += ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: f } });
      }
      out += ev('content_block_stop', { index });
    }
  }
  if (textOpen) out += ev('content_block_stop', { index });
  out += ev('message_delta', {
    delta: { stop_reason: hasTool ? 'tool_use' : 'end_turn', stop_sequence: null },
    usage: { output_tokens: 15 },
  });
  return out + ev('message_stop', {});
}

function responsesStream(parts: readonly Part[]): string {
  let seq = 0;
  const e = (type: string, body: Record<string, unknown>) => ev(type, { ...body, sequence_number: seq++ });
  const response = {
    id: 'resp_up1',
    object: 'response',
    created_at: 1700000000,
    status: 'in_progress',
    error: null,
    incomplete_details: null,
    model: 'gpt-x',
    output: [] as unknown[],
    usage: null as unknown,
  };
  let out = e('response.created', { response });
  out += e('response.in_progress', { response });
  const output: unknown[] = [];
  let msg: { index: number; id: string; text: string } | undefined;
  const closeMsg = () => {
    if (!msg) return;
    const { index, id, text } = msg;
    const part = { type: 'output_text', text, annotations: [] };
    out += e('response.output_text.done', {
      item_id: id,
      output_index: index,
      content_index: 0,
      text,
      logprobs: [],
    });
    out += e('response.content_part.done', { item_id: id, output_index: index, content_index: 0, part });
    const item = { id, type: 'message', status: 'completed', role: 'assistant', content: [part] };
    out += e('response.output_item.done', { output_index: index, item });
    output.push(item);
    msg = undefined;
  };
  for (const p of parts) {
    if ('text' in p) {
      if (!msg) {
        msg = { index: output.length, id: `msg_up${output.length}`, text: '' };
        out += e('response.output_item.added', {
          output_index: msg.index,
          item: { id: msg.id, type: 'message', status: 'in_progress', role: 'assistant', content: [] },
        });
        out += e('response.content_part.added', {
          item_id: msg.id,
          output_index: msg.index,
          content_index: 0,
          part: { type: 'output_text', text: '', annotations: [] },
        });
      }
      msg.text += p.text;
      out += e('response.output_text.delta', {
        item_id: msg.id,
        output_index: msg.index,
        content_index: 0,
        delta: p.text,
        logprobs: [],
      });
    } else {
      closeMsg();
      const index = output.length;
      const id = `fc_up${index}`;
      const base = { id, type: 'function_call', call_id: p.tool.id, name: p.tool.name };
      out += e('response.output_item.added', {
        output_index: index,
        item: { ...base, status: 'in_progress', arguments: '' },
      });
      for (const f of p.tool.fragments) {
        out += e('response.function_call_arguments.delta', { item_id: id, output_index: index, delta: f });
      }
      const args = p.tool.fragments.join('');
      out += e('response.function_call_arguments.done', {
        item_id: id,
        output_index: index,
        arguments: args,
      });
      const item = { ...base, status: 'completed', arguments: args };
      out += e('response.output_item.done', { output_index: index, item });
      output.push(item);
    }
  }
  closeMsg();
  return (
    out +
    e('response.completed', {
      response: {
        ...response,
        status: 'completed',
        output,
        usage: { input_tokens: 9, output_tokens: 12, total_tokens: 21 },
      },
    })
  );
}

/** Parses SSE bytes with the guard's own parser (asserting nothing is left over). */
export function parseFrames(bytes: Uint8Array | string, allowPartial = false): SseFrame[] {
  const frames: SseFrame[] = [];
  const p = createSseParser({ onFrame: (f) => frames.push(f) });
  const r = p.push(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
  assert.ok(r.success, 'r.success');
  const { droppedBytes } = p.end();
  if (!allowPartial) assert.equal(droppedBytes, 0, 'no partial frame at the end');
  return frames;
}

/** Asserts that `bytes` form a valid, complete event sequence of `format`; returns the parsed payloads. */
export function assertValidSequence(
  format: WireFormat,
  bytes: Uint8Array | string,
): Record<string, unknown>[] {
  const frames = parseFrames(bytes).filter((f) => f.data !== undefined);
  assert.ok(frames.length > 0, 'some events');
  switch (format) {
    case 'openai-chat':
      return checkOpenAiChat(frames);
    case 'anthropic-messages':
      return checkAnthropic(frames);
    case 'openai-responses':
      return checkResponses(frames);
  }
}

function checkOpenAiChat(frames: SseFrame[]): Record<string, unknown>[] {
  const last = frames.at(-1)!;
  const payloads: Record<string, unknown>[] = [];
  const errorEnding = last.data !== '[DONE]';
  if (errorEnding) {
    const err = JSON.parse(last.data!) as { error?: { type?: string } };
    assert.ok(err.error, 'a stream without [DONE] ends with an error chunk');
  }
  const ids = new Set<string>();
  let finished = false;
  frames.forEach((f, i) => {
    if (f.data === '[DONE]') {
      assert.equal(i, frames.length - 1, '[DONE] is last and appears once');
      return;
    }
    const c = JSON.parse(f.data!) as Record<string, unknown> & {
      id?: string;
      choices?: { finish_reason?: string }[];
    };
    payloads.push(c);
    if (c.error) return;
    assert.equal(c.object, 'chat.completion.chunk');
    if (c.id) ids.add(c.id);
    assert.ok(String(c.id).startsWith('chatcmpl-'), 'chat ids keep their prefix');
    for (const ch of c.choices ?? []) if (ch.finish_reason) finished = true;
  });
  assert.equal(ids.size, 1, 'one completion id throughout');
  if (!errorEnding) assert.ok(finished, 'a finish_reason before [DONE]');
  return payloads;
}

function checkAnthropic(frames: SseFrame[]): Record<string, unknown>[] {
  const payloads = frames.map((f) => {
    const p = JSON.parse(f.data!) as Record<string, unknown>;
    assert.equal(f.event, p.type, 'event name matches the payload type');
    return p;
  });
  if (payloads.at(-1)!.type === 'error') return payloads;
  assert.equal(payloads[0]!.type, 'message_start');
  assert.equal(payloads.at(-1)!.type, 'message_stop');
  const open = new Set<number>();
  let next = 0;
  let delta = false;
  for (const p of payloads.slice(1, -1)) {
    const index = p.index as number;
    switch (p.type) {
      case 'content_block_start':
        assert.ok(!delta, 'no block after message_delta');
        assert.equal(index, next, 'blocks start at increasing indices');
        open.add(index);
        next++;
        break;
      case 'content_block_delta':
        assert.ok(open.has(index), `delta on an open block ${index}`);
        break;
      case 'content_block_stop':
        assert.ok(open.delete(index), `stop of an open block ${index}`);
        break;
      case 'message_delta':
        assert.equal(open.size, 0, 'every block closed before message_delta');
        delta = true;
        break;
      case 'ping':
        break;
      default:
        assert.fail(`unexpected ${String(p.type)}`);
    }
  }
  assert.ok(delta, 'a message_delta');
  return payloads;
}

function checkResponses(frames: SseFrame[]): Record<string, unknown>[] {
  const payloads = frames.map((f) => {
    const p = JSON.parse(f.data!) as Record<string, unknown>;
    assert.equal(f.event, p.type, 'event name matches the payload type');
    return p;
  });
  let seq = -1;
  for (const p of payloads) {
    assert.equal(typeof p.sequence_number, 'number');
    assert.ok((p.sequence_number as number) > seq, 'sequence_number increases');
    seq = p.sequence_number as number;
  }
  assert.equal(payloads[0]!.type, 'response.created');
  const last = payloads.at(-1)!;
  if (last.type === 'error') return payloads;
  assert.ok(['response.completed', 'response.incomplete', 'response.failed'].includes(last.type as string));
  const items: { done: boolean; parts: boolean[] }[] = [];
  for (const p of payloads.slice(1, -1)) {
    const oi = p.output_index as number;
    const ci = p.content_index as number;
    switch (p.type) {
      case 'response.in_progress':
        break;
      case 'response.output_item.added':
        assert.equal(oi, items.length, 'items are added in order');
        items.push({ done: false, parts: [] });
        break;
      case 'response.output_item.done':
        assert.ok(items[oi] && !items[oi]!.done, 'done of an open item');
        assert.ok(!items[oi]!.parts.some((x) => x), 'its parts are closed first');
        items[oi]!.done = true;
        break;
      case 'response.content_part.added':
        assert.ok(items[oi] && !items[oi]!.done, 'items[oi] && !items[oi]!.done');
        items[oi]!.parts[ci] = true;
        break;
      case 'response.content_part.done':
        assert.ok(items[oi]?.parts[ci], 'done of an open part');
        items[oi]!.parts[ci] = false;
        break;
      case 'response.output_text.delta':
      case 'response.output_text.done':
        assert.ok(items[oi]?.parts[ci], 'text on an open part');
        break;
      case 'response.function_call_arguments.delta':
      case 'response.function_call_arguments.done':
        assert.ok(items[oi] && !items[oi]!.done, 'items[oi] && !items[oi]!.done');
        break;
      default:
        assert.fail(`unexpected ${String(p.type)}`);
    }
  }
  assert.ok(
    items.every((i) => i.done),
    'every item done before the terminal event',
  );
  const response = last.response as { output: unknown[]; id: string };
  assert.equal(response.output.length, items.length, 'the terminal response lists every item');
  assert.ok(response.id.startsWith('resp_'), 'response.id.startsWith(resp_)');
  return payloads;
}

/** Asserts two byte strings are identical, reporting the first difference (node's diff of huge strings is slow). */
export function assertSameBytes(
  actual: Uint8Array | string,
  expected: Uint8Array | string,
  message = 'bytes',
): void {
  const a = Buffer.from(actual);
  const b = Buffer.from(expected);
  if (a.equals(b)) return;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  assert.fail(
    `${message}: differ at byte ${i} (lengths ${a.length} vs ${b.length}): ` +
      `${JSON.stringify(a.subarray(i, i + 60).toString())} vs ${JSON.stringify(b.subarray(i, i + 60).toString())}`,
  );
}

/** Reads a nested value from parsed JSON (undefined when any step is missing). */
export function pick(value: unknown, ...path: (string | number)[]): unknown {
  let cur = value;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

/** Splits text into `n` roughly equal deltas. */
export function splitText(text: string, n: number): string[] {
  const out: string[] = [];
  const size = Math.ceil(text.length / n);
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** A deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
