// OpenAI Responses streaming (spec 30 §B6.2): typed events with increasing `sequence_number`. Text is
// `response.output_text.delta`; a tool call is a `function_call` output item whose argument deltas complete at
// `function_call_arguments.done` / `output_item.done`. The terminal event carries the whole response, so the adapter
// remembers the output items the client has seen to end a cut stream with a consistent response.
import * as v from 'valibot';
import { any, loose, num, opt, str } from './_fast-shape.ts';
import {
  type DecodedFrame,
  EMPTY_FRAME,
  type FormatAdapter,
  MALFORMED_FRAME,
  NO_EVENTS,
  parseJson,
  type StreamEvent,
} from './adapter.ts';
import {
  responsesBlockItem,
  responsesBlockItemEvents,
  responsesTerminal,
  sseFrame,
  synthesizeBlockStream,
  zeroResponsesUsage,
} from './block-stream.ts';
import type { SseFrame } from './sse-parser.ts';
import type { BlockInfo } from './types.ts';

const ItemSchema = v.looseObject({
  type: v.string(),
  id: v.optional(v.string()),
  call_id: v.optional(v.string()),
  name: v.optional(v.string()),
  arguments: v.optional(v.string()),
});

/** One Responses stream event (loose: unknown keys pass). */
export const ResponsesEventSchema = v.looseObject({
  type: v.string(),
  sequence_number: v.optional(v.number()),
  output_index: v.optional(v.number()),
  content_index: v.optional(v.number()),
  delta: v.optional(v.unknown()),
  text: v.optional(v.string()),
  arguments: v.optional(v.string()),
  item: v.optional(ItemSchema),
  part: v.optional(v.looseObject({ type: v.string() })),
  response: v.optional(v.looseObject({ usage: v.optional(v.unknown()) })),
});

type ResponsesEvent = v.InferOutput<typeof ResponsesEventSchema>;

/** `ResponsesEventSchema` as an allocation-free predicate (the hot path; valibot decides what it rejects). */
export const isResponsesEvent = loose({
  type: str,
  sequence_number: opt(num),
  output_index: opt(num),
  content_index: opt(num),
  delta: any,
  text: opt(str),
  arguments: opt(str),
  item: opt(loose({ type: str, id: opt(str), call_id: opt(str), name: opt(str), arguments: opt(str) })),
  part: opt(loose({ type: str })),
  response: opt(loose({ usage: any })),
});

/** Parses one event: the fast predicate first, valibot for anything it does not accept. */
export function parseResponsesEvent(json: unknown): ResponsesEvent | undefined {
  if (isResponsesEvent(json)) return json as ResponsesEvent;
  const parsed = v.safeParse(ResponsesEventSchema, json);
  return parsed.success ? parsed.output : undefined;
}

/** A content part the client has seen: its added form and the text delivered so far. */
type SeenPart = { part: Record<string, unknown>; text: string; done: boolean };
/** An output item the client has seen. */
type SeenItem = { item: Record<string, unknown>; parts: SeenPart[]; done: boolean };

/** Creates the OpenAI Responses adapter. */
export function createResponsesAdapter(): FormatAdapter {
  return new ResponsesAdapter();
}

class ResponsesAdapter implements FormatAdapter {
  readonly #calls = new Set<number>();
  // Client-visible state.
  #response: Record<string, unknown> | undefined;
  #seq = -1;
  readonly #items: SeenItem[] = [];

  decode(frame: SseFrame): DecodedFrame {
    if (frame.data === undefined) return EMPTY_FRAME;
    const ev = parseResponsesEvent(parseJson(frame.data));
    if (ev === undefined) return MALFORMED_FRAME;
    const key = String(ev.output_index ?? 0);
    let events: StreamEvent[] | undefined;
    switch (ev.type) {
      case 'response.output_text.delta':
        if (typeof ev.delta === 'string' && ev.delta) events = [{ type: 'text', text: ev.delta }];
        break;
      case 'response.output_item.added':
        if (ev.item?.type === 'function_call') {
          this.#calls.add(ev.output_index ?? 0);
          events = [
            {
              type: 'tool_start',
              key,
              ...(ev.item.call_id ? { id: ev.item.call_id } : {}),
              name: ev.item.name ?? '',
            },
          ];
          if (ev.item.arguments) events.push({ type: 'tool_args', key, fragment: ev.item.arguments });
        }
        break;
      case 'response.function_call_arguments.delta':
        if (typeof ev.delta === 'string' && ev.delta && this.#calls.has(ev.output_index ?? 0)) {
          events = [{ type: 'tool_args', key, fragment: ev.delta }];
        }
        break;
      case 'response.function_call_arguments.done':
        if (this.#calls.delete(ev.output_index ?? 0)) {
          events = [
            { type: 'tool_end', key, ...(ev.arguments !== undefined ? { arguments: ev.arguments } : {}) },
          ];
        }
        break;
      case 'response.output_item.done':
        if (ev.item?.type === 'function_call' && this.#calls.delete(ev.output_index ?? 0)) {
          events = [
            {
              type: 'tool_end',
              key,
              ...(ev.item.arguments !== undefined ? { arguments: ev.item.arguments } : {}),
            },
          ];
        }
        break;
      case 'response.completed':
      case 'response.incomplete':
        events = [{ type: 'terminal' }];
        if (ev.response?.usage) events.unshift({ type: 'usage', usage: ev.response.usage });
        break;
      case 'response.failed':
        events = [{ type: 'error' }, { type: 'terminal' }];
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
    const ev = value as ResponsesEvent & Record<string, unknown>;
    if (typeof ev.sequence_number === 'number' && ev.sequence_number > this.#seq)
      this.#seq = ev.sequence_number;
    const oi = ev.output_index ?? 0;
    const ci = ev.content_index ?? 0;
    switch (ev.type) {
      case 'response.created':
      case 'response.in_progress':
        if (ev.response) this.#response = { ...(ev.response as Record<string, unknown>), output: [] };
        break;
      case 'response.output_item.added':
        if (ev.item) this.#items[oi] = { item: ev.item, parts: [], done: false };
        break;
      case 'response.output_item.done': {
        if (ev.item) this.#items[oi] = { item: ev.item, parts: [], done: true };
        break;
      }
      case 'response.content_part.added': {
        const seen = this.#items[oi];
        if (seen && ev.part) seen.parts[ci] = { part: ev.part, text: '', done: false };
        break;
      }
      case 'response.output_text.delta': {
        const part = this.#items[oi]?.parts[ci];
        if (part && typeof ev.delta === 'string') part.text += ev.delta;
        break;
      }
      case 'response.output_text.done': {
        const part = this.#items[oi]?.parts[ci];
        if (part && ev.text !== undefined) part.text = ev.text;
        break;
      }
      case 'response.content_part.done': {
        const seen = this.#items[oi];
        if (seen && ev.part) seen.parts[ci] = { part: ev.part, text: '', done: true };
        break;
      }
      default:
        break;
    }
  }

  blockEnding(block: BlockInfo): string {
    const response = this.#response;
    if (!response) return synthesizeBlockStream('openai-responses', block);
    let seq = this.#seq + 1;
    let out = '';
    const ev = (type: string, body: Record<string, unknown>) => {
      out += sseFrame({ type, ...body, sequence_number: seq++ }, type);
    };
    const output: Record<string, unknown>[] = [];
    this.#items.forEach((seen, oi) => {
      if (!seen) return;
      if (seen.done) {
        output.push(seen.item);
        return;
      }
      // Close what the client saw open: text parts, then the item itself (marked incomplete).
      const itemId = seen.item.id;
      const content: Record<string, unknown>[] = [];
      seen.parts.forEach((p, ci) => {
        if (!p) return;
        if (p.done) {
          content.push(p.part);
          return;
        }
        const part = p.part.type === 'output_text' ? { ...p.part, text: p.text } : p.part;
        if (p.part.type === 'output_text') {
          ev('response.output_text.done', {
            item_id: itemId,
            output_index: oi,
            content_index: ci,
            text: p.text,
            logprobs: [],
          });
        }
        ev('response.content_part.done', { item_id: itemId, output_index: oi, content_index: ci, part });
        content.push(part);
      });
      const item = {
        ...seen.item,
        status: 'incomplete',
        ...(seen.item.type === 'message' ? { content } : {}),
      };
      ev('response.output_item.done', { output_index: oi, item });
      output.push(item);
    });
    const itemId = `msg_${block.blockId}`;
    const added = responsesBlockItemEvents(itemId, this.#items.length, block.text, seq);
    out += added.frames;
    output.push(responsesBlockItem(itemId, block.text, 'completed'));
    return out + responsesTerminal(block, { ...response, output, usage: zeroResponsesUsage() }, added.seq);
  }

  errorEnding(message: string): string {
    return sseFrame(
      { type: 'error', code: 'upstream_stream_error', message, param: null, sequence_number: this.#seq + 1 },
      'error',
    );
  }
}
