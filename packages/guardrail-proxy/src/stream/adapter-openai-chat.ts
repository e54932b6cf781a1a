// OpenAI Chat Completions streaming (spec 30 §B6.2): `data:` chunks, `data: [DONE]` at the end. Text is
// `choices[i].delta.content` (and `refusal`); tool calls are `delta.tool_calls[k]` fragments keyed by index, complete
// when the next index starts or the choice finishes.
import * as v from 'valibot';
import { any, arr, loose, nullish, num, opt, str } from './_fast-shape.ts';
import {
  type DecodedFrame,
  EMPTY_FRAME,
  type FormatAdapter,
  MALFORMED_FRAME,
  parseJson,
  type StreamEvent,
} from './adapter.ts';
import { blockFlag, chatFinishReason, sseFrame, synthesizeBlockStream } from './block-stream.ts';
import type { SseFrame } from './sse-parser.ts';
import type { BlockInfo } from './types.ts';

const ToolCallDeltaSchema = v.looseObject({
  index: v.optional(v.number()),
  id: v.optional(v.nullable(v.string())),
  function: v.optional(
    v.nullable(
      v.looseObject({
        name: v.optional(v.nullable(v.string())),
        arguments: v.optional(v.nullable(v.string())),
      }),
    ),
  ),
});

const ChoiceSchema = v.looseObject({
  index: v.optional(v.number()),
  delta: v.optional(
    v.nullable(
      v.looseObject({
        content: v.optional(v.nullable(v.string())),
        refusal: v.optional(v.nullable(v.string())),
        tool_calls: v.optional(v.nullable(v.array(ToolCallDeltaSchema))),
        function_call: v.optional(
          v.nullable(
            v.looseObject({
              name: v.optional(v.nullable(v.string())),
              arguments: v.optional(v.nullable(v.string())),
            }),
          ),
        ),
      }),
    ),
  ),
  finish_reason: v.optional(v.nullable(v.string())),
});

/** One streamed chat chunk (loose: unknown keys pass). */
export const ChatChunkSchema = v.looseObject({
  id: v.optional(v.string()),
  created: v.optional(v.number()),
  model: v.optional(v.string()),
  system_fingerprint: v.optional(v.nullable(v.string())),
  choices: v.optional(v.nullable(v.array(ChoiceSchema))),
  usage: v.optional(v.nullable(v.unknown())),
  error: v.optional(v.unknown()),
});

type ChatChunk = v.InferOutput<typeof ChatChunkSchema>;

const fnShape = nullish(loose({ name: nullish(str), arguments: nullish(str) }));

/** `ChatChunkSchema` as an allocation-free predicate (the hot path; valibot decides what it rejects). */
export const isChatChunk = loose({
  id: opt(str),
  created: opt(num),
  model: opt(str),
  system_fingerprint: nullish(str),
  choices: nullish(
    arr(
      loose({
        index: opt(num),
        delta: nullish(
          loose({
            content: nullish(str),
            refusal: nullish(str),
            tool_calls: nullish(arr(loose({ index: opt(num), id: nullish(str), function: fnShape }))),
            function_call: fnShape,
          }),
        ),
        finish_reason: nullish(str),
      }),
    ),
  ),
  usage: any,
  error: any,
});

/** Parses one chunk: the fast predicate first, valibot for anything it does not accept. */
export function parseChatChunk(json: unknown): ChatChunk | undefined {
  if (isChatChunk(json)) return json as ChatChunk;
  const parsed = v.safeParse(ChatChunkSchema, json);
  return parsed.success ? parsed.output : undefined;
}

/** Creates the OpenAI Chat Completions adapter. */
export function createOpenAiChatAdapter(): FormatAdapter {
  return new OpenAiChatAdapter();
}

class OpenAiChatAdapter implements FormatAdapter {
  /** Per choice: the tool-call key open upstream. */
  readonly #open = new Map<number, string>();
  readonly #ended = new Set<string>();
  /** Client-visible: the first released chunk's identity (reused by synthesised chunks). */
  #identity: { id: string; created: number; model: string; system_fingerprint?: string | null } | undefined;
  #textShown = false;

  decode(frame: SseFrame): DecodedFrame {
    const data = frame.data;
    if (data === undefined) return EMPTY_FRAME;
    if (data.trim() === '[DONE]') return { success: true, events: [{ type: 'terminal' }], value: undefined };
    const chunk = parseChatChunk(parseJson(data));
    if (chunk === undefined) return MALFORMED_FRAME;
    const events: StreamEvent[] = [];
    if (chunk.error !== undefined && chunk.error !== null) events.push({ type: 'error' });
    for (const choice of chunk.choices ?? []) {
      const ci = choice.index ?? 0;
      const delta = choice.delta;
      if (delta) {
        if (delta.content) events.push({ type: 'text', text: delta.content });
        if (delta.refusal) events.push({ type: 'text', text: delta.refusal });
        for (const tc of delta.tool_calls ?? [])
          this.#toolDelta(events, ci, `${ci}:${tc.index ?? 0}`, tc.id, tc.function);
        if (delta.function_call)
          this.#toolDelta(events, ci, `${ci}:function_call`, undefined, delta.function_call);
      }
      if (choice.finish_reason) {
        const key = this.#open.get(ci);
        if (key !== undefined) {
          events.push({ type: 'tool_end', key });
          this.#ended.add(key);
          this.#open.delete(ci);
        }
      }
    }
    if (chunk.usage !== undefined && chunk.usage !== null) events.push({ type: 'usage', usage: chunk.usage });
    return { success: true, events, value: chunk };
  }

  #toolDelta(
    events: StreamEvent[],
    ci: number,
    key: string,
    id: string | null | undefined,
    fn: { name?: string | null; arguments?: string | null } | null | undefined,
  ): void {
    if (this.#ended.has(key)) return;
    const open = this.#open.get(ci);
    if (open !== key) {
      // A new index completes the previous call of the same choice.
      if (open !== undefined) {
        events.push({ type: 'tool_end', key: open });
        this.#ended.add(open);
      }
      this.#open.set(ci, key);
      events.push({ type: 'tool_start', key, ...(id ? { id } : {}), name: fn?.name ?? '' });
    }
    if (fn?.arguments) events.push({ type: 'tool_args', key, fragment: fn.arguments });
  }

  released(_frame: SseFrame, value: unknown): void {
    if (value === undefined) return;
    const chunk = value as ChatChunk;
    if (!this.#textShown) {
      for (const c of chunk.choices ?? []) if (c.delta?.content || c.delta?.refusal) this.#textShown = true;
    }
    if (this.#identity || chunk.id === undefined) return;
    this.#identity = {
      id: chunk.id,
      created: chunk.created ?? Math.floor(Date.now() / 1000),
      model: chunk.model ?? '',
      ...(chunk.system_fingerprint !== undefined ? { system_fingerprint: chunk.system_fingerprint } : {}),
    };
  }

  blockEnding(block: BlockInfo): string {
    const base = this.#identity;
    if (!base) return synthesizeBlockStream('openai-chat', block);
    const head = { ...base, object: 'chat.completion.chunk' };
    return (
      sseFrame({
        ...head,
        choices: [
          {
            index: 0,
            // Set the block text apart from text the client already shows.
            delta: { content: this.#textShown ? `\n\n${block.text}` : block.text },
            logprobs: null,
            finish_reason: null,
          },
        ],
      }) +
      sseFrame({
        ...head,
        choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: chatFinishReason(block) }],
        defenseclaw: blockFlag(block),
      }) +
      'data: [DONE]\n\n'
    );
  }

  errorEnding(message: string): string {
    return sseFrame({ error: { message, type: 'upstream_error', code: 'upstream_stream_error' } });
  }
}
