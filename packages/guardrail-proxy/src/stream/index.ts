// Public surface of the streaming guard (spec 30 §B6): SSE parsing, per-format adapters, release queue, block endings.

export { synthesizeBlockStream } from './block-stream.ts';
export {
  createSseParser,
  type SseFrame,
  type SseParseResult,
  type SseParser,
  type SseParserOptions,
} from './sse-parser.ts';
export { createStreamGuard } from './stream-guard.ts';
export * from './types.ts';
