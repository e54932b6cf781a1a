// The per-format adapter contract (spec 30 §B6.2): frames in, normalised events out, plus the client-visible state
// each format needs to end a stream natively (§B6.5, §B6.6).
import { createAnthropicAdapter } from './adapter-anthropic.ts';
import { createOpenAiChatAdapter } from './adapter-openai-chat.ts';
import { createResponsesAdapter } from './adapter-responses.ts';
import type { SseFrame } from './sse-parser.ts';
import type { BlockInfo, WireFormat } from './types.ts';

/** A normalised stream event (§B6.2). */
export type StreamEvent =
  | { type: 'text'; text: string }
  | { type: 'tool_start'; key: string; id?: string; name: string }
  | { type: 'tool_args'; key: string; fragment: string }
  | { type: 'tool_end'; key: string; arguments?: string }
  | { type: 'usage'; usage: unknown }
  | { type: 'terminal' }
  | { type: 'error' };

/** A decoded frame: its events and parsed payload, or a frame whose JSON does not parse. */
export type DecodedFrame =
  | { success: true; events: readonly StreamEvent[]; value: unknown }
  | { success: false };

/** One wire format's view of a stream. */
export type FormatAdapter = {
  /** Decodes an upstream frame (in arrival order) into normalised events. */
  decode(frame: SseFrame): DecodedFrame;
  /** Records that the client has received `frame` (`value` is its decoded payload). */
  released(frame: SseFrame, value: unknown): void;
  /** Renders the native events that end the stream on a block, from what the client has seen. */
  blockEnding(block: BlockInfo): string;
  /** Renders the native error event that ends the stream on an upstream fault. */
  errorEnding(message: string): string;
};

/** Creates the adapter of a wire format. */
export function createAdapter(format: WireFormat): FormatAdapter {
  switch (format) {
    case 'openai-chat':
      return createOpenAiChatAdapter();
    case 'anthropic-messages':
      return createAnthropicAdapter();
    case 'openai-responses':
      return createResponsesAdapter();
  }
}

/** No events (shared, never mutated). */
export const NO_EVENTS: readonly StreamEvent[] = Object.freeze([]);

/** A frame without data: nothing to decode. */
export const EMPTY_FRAME: DecodedFrame = Object.freeze({
  success: true,
  events: NO_EVENTS,
  value: undefined,
});

/** A frame whose JSON does not parse. */
export const MALFORMED_FRAME: DecodedFrame = Object.freeze({ success: false });

/** Parses JSON, returning `undefined` when it does not parse. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
