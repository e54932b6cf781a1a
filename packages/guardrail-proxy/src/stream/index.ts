// Public surface of the streaming guard (spec 30 §B6): SSE parsing, per-format adapters, release queue.

import type { BlockInfo, StreamGuard, StreamGuardOptions, WireFormat } from './types.ts';

export * from './types.ts';

/**
 * Creates a guarded SSE stream that releases upstream bytes to the client sink as the policy allows.
 *
 * @example
 * const guard = createStreamGuard({ format: 'openai-chat', mode: 'action', holdbackChars: 256, scanner, judgeToolCall, makeBlock, sink });
 */
export function createStreamGuard(options: StreamGuardOptions): StreamGuard {
  void options;
  throw new Error('createStreamGuard: not implemented yet');
}

/** Renders a complete native SSE stream answering a request blocked before any upstream call. */
export function synthesizeBlockStream(format: WireFormat, block: BlockInfo): string {
  void format;
  void block;
  throw new Error('synthesizeBlockStream: not implemented yet');
}
