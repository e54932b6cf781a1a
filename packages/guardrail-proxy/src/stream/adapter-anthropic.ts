// Anthropic Messages streaming (spec 30 §B6.2): `message_start`, content blocks (`content_block_start` / `_delta` /
// `_stop`), `message_delta`, `message_stop`, `ping`, `error`. Text is `text_delta` and `thinking_delta`; a tool call is
// a `tool_use` block whose `input_json_delta` fragments complete at its `content_block_stop`.
import * as v from 'valibot';
import { loose, nullish, num, opt, str } from './_fast-shape.ts';
import {
  type DecodedFrame,
  EMPTY_FRAME,
  type FormatAdapter,
  MALFORMED_FRAME,
  NO_EVENTS,
  parseJson,
  type StreamEvent,
} from './adapter.ts';
import { anthropicBlockTail, sseFrame, synthesizeBlockStream } from './block-stream.ts';
import type { SseFrame } from './sse-parser.ts';
import type { BlockInfo } from './types.ts';

const UsageSchema = v.looseObject({ output_tokens: v.optional(v.nullable(v.number())) });

/** One Anthropic stream event (loose: unknown keys pass). */
export const AnthropicEventSchema = v.looseObject({
  type: v.string(),
  index: v.optional(v.number()),
  message: v.optional(v.looseObject({ usage: v.optional(v.nullable(UsageSchema)) })),
  content_block: v.optional(
    v.looseObject({
      type: v.string(),
      id: v.optional(v.string()),
      name: v.optional(v.string()),
      text: v.optional(v.string()),
      thinking: v.optional(v.string()),
    }),
  ),
  delta: v.optional(
    v.looseObject({
      type: v.optional(v.string()),
      text: v.optional(v.string()),
      thinking: v.optional(v.string()),
      partial_json: v.optional(v.string()),
    }),
  ),
  usage: v.optional(v.nullable(UsageSchema)),
});

type AnthropicEvent = v.InferOutput<typeof AnthropicEventSchema>;

const usageShape = nullish(loose({ output_tokens: nullish(num) }));

/** `AnthropicEventSchema` as an allocation-free predicate (the hot path; valibot decides what it rejects). */
export const isAnthropicEvent = loose({
  type: str,
  index: opt(num),
  message: opt(loose({ usage: usageShape })),
  content_block: opt(loose({ type: str, id: opt(str), name: opt(str), text: opt(str), thinking: opt(str) })),
  delta: opt(loose({ type: opt(str), text: opt(str), thinking: opt(str), partial_json: opt(str) })),
  usage: usageShape,
});

/** Parses one event: the fast predicate first, valibot for anything it does not accept. */
export function parseAnthropicEvent(json: unknown): AnthropicEvent | undefined {
  if (isAnthropicEvent(json)) return json as AnthropicEvent;
  const parsed = v.safeParse(AnthropicEventSchema, json);
  return parsed.success ? parsed.output : undefined;
}

const TOOL_BLOCKS: ReadonlySet<string> = new Set(['tool_use', 'server_tool_use', 'mcp_tool_use']);

/** Creates the Anthropic Messages adapter. */
export function createAnthropicAdapter(): FormatAdapter {
  return new AnthropicAdapter();
}

class AnthropicAdapter implements FormatAdapter {
  readonly #toolBlocks = new Set<number>();
  readonly #withArgs = new Set<number>();
  // Client-visible state.
  #started = false;
  readonly #openBlocks = new Set<number>();
  #nextIndex = 0;
  #outputTokens = 0;

  decode(frame: SseFrame): DecodedFrame {
    if (frame.data === undefined) return EMPTY_FRAME;
    const ev = parseAnthropicEvent(parseJson(frame.data));
    if (ev === undefined) return MALFORMED_FRAME;
    const index = ev.index ?? 0;
    let events: StreamEvent[] | undefined;
    switch (ev.type) {
      case 'message_start':
        if (ev.message?.usage) events = [{ type: 'usage', usage: ev.message.usage }];
        break;
      case 'content_block_start': {
        const cb = ev.content_block;
        if (cb && TOOL_BLOCKS.has(cb.type)) {
          this.#toolBlocks.add(index);
          events = [
            { type: 'tool_start', key: String(index), ...(cb.id ? { id: cb.id } : {}), name: cb.name ?? '' },
          ];
        } else if (cb?.text) events = [{ type: 'text', text: cb.text }];
        else if (cb?.thinking) events = [{ type: 'text', text: cb.thinking }];
        break;
      }
      case 'content_block_delta': {
        const d = ev.delta;
        if (!d) break;
        if (d.type === 'input_json_delta') {
          if (d.partial_json && this.#toolBlocks.has(index)) {
            this.#withArgs.add(index);
            events = [{ type: 'tool_args', key: String(index), fragment: d.partial_json }];
          }
        } else if (d.text) events = [{ type: 'text', text: d.text }];
        else if (d.thinking) events = [{ type: 'text', text: d.thinking }];
        break;
      }
      case 'content_block_stop':
        if (this.#toolBlocks.delete(index)) {
          // A tool call without input fragments has the empty input object.
          const args = this.#withArgs.delete(index) ? undefined : '{}';
          events = [{ type: 'tool_end', key: String(index), ...(args ? { arguments: args } : {}) }];
        }
        break;
      case 'message_delta':
        if (ev.usage) events = [{ type: 'usage', usage: ev.usage }];
        break;
      case 'message_stop':
        events = [{ type: 'terminal' }];
        break;
      case 'error':
        events = [{ type: 'error' }];
        break;
      default:
        break;
    }
    return { success: true, events: events ?? NO_EVENTS, value: ev };
  }

  released(_frame: SseFrame, value: unknown): void {
    if (value === undefined) return;
    const ev = value as AnthropicEvent;
    switch (ev.type) {
      case 'message_start':
        this.#started = true;
        this.#outputTokens = ev.message?.usage?.output_tokens ?? this.#outputTokens;
        break;
      case 'content_block_start': {
        const index = ev.index ?? 0;
        this.#openBlocks.add(index);
        if (index >= this.#nextIndex) this.#nextIndex = index + 1;
        break;
      }
      case 'content_block_stop':
        this.#openBlocks.delete(ev.index ?? 0);
        break;
      case 'message_delta':
        this.#outputTokens = ev.usage?.output_tokens ?? this.#outputTokens;
        break;
      default:
        break;
    }
  }

  blockEnding(block: BlockInfo): string {
    if (!this.#started) return synthesizeBlockStream('anthropic-messages', block);
    let out = '';
    for (const index of [...this.#openBlocks].sort((a, b) => a - b)) {
      out += sseFrame({ type: 'content_block_stop', index }, 'content_block_stop');
    }
    return out + anthropicBlockTail(block, this.#nextIndex, this.#outputTokens);
  }

  errorEnding(message: string): string {
    return sseFrame({ type: 'error', error: { type: 'api_error', message } }, 'error');
  }
}
