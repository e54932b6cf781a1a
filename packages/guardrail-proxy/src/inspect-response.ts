import type { EvalContext, Verdict } from '@defenseclaw/policy';
import {
  applyFailMode,
  type FailMode,
  type FailModeResult,
  judgeToolCall,
  type ProxyEngine,
  strictest,
} from './judge.ts';
import type { ProposedToolCall, WireFormat } from './stream/types.ts';

// Response-side inspection of non-streaming completions (spec 30 §B4): extract the text and the proposed tool calls
// per format, judge the text on `proxy_completion` and every tool call on `proxy_tool_call`; the strictest wins.

/** The scannable parts of a completion. */
export type ExtractedCompletion = { text: string; toolCalls: ProposedToolCall[] };

/** Extracts text and tool calls from a parsed completion body; undefined when the body has no known shape. */
export function extractCompletion(format: WireFormat, body: unknown): ExtractedCompletion | undefined {
  if (!isObj(body)) return undefined;
  if (format === 'openai-chat') return extractChat(body);
  if (format === 'anthropic-messages') return extractMessages(body);
  return extractResponses(body);
}

/** What judging a completion found. */
export type CompletionJudgement = {
  /** The strictest verdict (text or any tool call). */
  verdict: Verdict;
  failOpen: NonNullable<FailModeResult['failOpen']>[];
  toolCalls: number;
  scanMs: number;
};

/** Fail modes of the response lanes. */
export type ResponseFailModes = { completion: FailMode; toolCall: FailMode };

/** Judges a completion's text and each of its tool calls. */
export function judgeCompletion(
  engine: ProxyEngine,
  completion: ExtractedCompletion,
  ctx: EvalContext,
  failModes: ResponseFailModes,
): CompletionJudgement {
  const t0 = performance.now();
  const failOpen: NonNullable<FailModeResult['failOpen']>[] = [];
  const text = applyFailMode(
    engine.evaluate(
      { kind: 'completion', text: completion.text, toolCalls: [] },
      { ...ctx, lane: 'proxy_completion' },
    ),
    failModes.completion,
    'response',
  );
  if (text.failOpen) failOpen.push(text.failOpen);
  const verdicts: Verdict[] = [text.verdict];
  for (const call of completion.toolCalls) {
    const r = applyFailMode(judgeToolCall(engine, call, ctx), failModes.toolCall, 'tool call');
    if (r.failOpen) failOpen.push(r.failOpen);
    verdicts.push(r.verdict);
  }
  return {
    verdict: strictest(verdicts)!,
    failOpen,
    toolCalls: completion.toolCalls.length,
    scanMs: performance.now() - t0,
  };
}

// --- internal ---

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function call(id: unknown, name: unknown, args: string): ProposedToolCall {
  const c: ProposedToolCall = { name: typeof name === 'string' ? name : '', arguments: args };
  if (typeof id === 'string') c.id = id;
  return c;
}

function argsText(x: unknown): string {
  if (typeof x === 'string') return x;
  return x === undefined ? '' : JSON.stringify(x);
}

function extractChat(body: Record<string, unknown>): ExtractedCompletion | undefined {
  if (!Array.isArray(body.choices)) return undefined;
  const texts: string[] = [];
  const toolCalls: ProposedToolCall[] = [];
  for (const choice of body.choices) {
    if (!isObj(choice) || !isObj(choice.message)) continue;
    const m = choice.message;
    if (typeof m.content === 'string') texts.push(m.content);
    else if (Array.isArray(m.content)) {
      for (const p of m.content) if (isObj(p) && typeof p.text === 'string') texts.push(p.text);
    }
    if (typeof m.reasoning_content === 'string') texts.push(m.reasoning_content);
    if (Array.isArray(m.tool_calls)) {
      for (const tc of m.tool_calls) {
        if (!isObj(tc)) continue;
        const fn = isObj(tc.function) ? tc.function : isObj(tc.custom) ? tc.custom : undefined;
        if (!fn) continue;
        toolCalls.push(
          call(
            tc.id,
            fn.name,
            argsText(fn.arguments ?? (fn.input !== undefined ? { input: fn.input } : undefined)),
          ),
        );
      }
    }
    if (isObj(m.function_call))
      toolCalls.push(call(undefined, m.function_call.name, argsText(m.function_call.arguments)));
  }
  return { text: texts.join('\n'), toolCalls };
}

function extractMessages(body: Record<string, unknown>): ExtractedCompletion | undefined {
  if (!Array.isArray(body.content)) return undefined;
  const texts: string[] = [];
  const toolCalls: ProposedToolCall[] = [];
  for (const b of body.content) {
    if (!isObj(b)) continue;
    if (b.type === 'text' && typeof b.text === 'string') texts.push(b.text);
    else if (b.type === 'thinking' && typeof b.thinking === 'string') texts.push(b.thinking);
    else if (b.type === 'tool_use') toolCalls.push(call(b.id, b.name, JSON.stringify(b.input ?? {})));
  }
  return { text: texts.join('\n'), toolCalls };
}

function extractResponses(body: Record<string, unknown>): ExtractedCompletion | undefined {
  if (!Array.isArray(body.output)) return undefined;
  const texts: string[] = [];
  const toolCalls: ProposedToolCall[] = [];
  for (const item of body.output) {
    if (!isObj(item)) continue;
    if (item.type === 'message' && Array.isArray(item.content)) {
      for (const p of item.content) {
        if (!isObj(p)) continue;
        if (p.type === 'output_text' && typeof p.text === 'string') texts.push(p.text);
        else if (p.type === 'refusal' && typeof p.refusal === 'string') texts.push(p.refusal);
      }
    } else if (item.type === 'reasoning' && Array.isArray(item.summary)) {
      for (const s of item.summary) if (isObj(s) && typeof s.text === 'string') texts.push(s.text);
    } else if (item.type === 'function_call') {
      toolCalls.push(call(item.call_id ?? item.id, item.name, argsText(item.arguments)));
    } else if (item.type === 'custom_tool_call') {
      // Free-form tool input is not JSON by design; judged as `{input}`.
      toolCalls.push(call(item.call_id ?? item.id, item.name, JSON.stringify({ input: item.input ?? '' })));
    }
  }
  return { text: texts.join('\n'), toolCalls };
}
