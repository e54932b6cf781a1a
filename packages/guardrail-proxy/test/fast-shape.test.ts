import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import {
  ChatRequestSchema,
  FAST_SHAPES,
  MessagesRequestSchema,
  ResponsesRequestSchema,
} from '../src/request-body.ts';
import {
  AnthropicEventSchema,
  isAnthropicEvent,
  parseAnthropicEvent,
} from '../src/stream/adapter-anthropic.ts';
import { ChatChunkSchema, isChatChunk, parseChatChunk } from '../src/stream/adapter-openai-chat.ts';
import {
  isResponsesEvent,
  parseResponsesEvent,
  ResponsesEventSchema,
} from '../src/stream/adapter-responses.ts';

// The per-frame predicates only ever accept what the adapters' valibot schemas accept; what they reject goes to
// valibot. Random frames of each format's shape, with every field sometimes replaced by a value of a wrong type,
// check the first property; the parse functions must agree with valibot on accept/reject either way.

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Gen = (r: () => number, depth: number) => unknown;

const WRONG: readonly unknown[] = [null, 0, 1.5, '', 'x', true, false, [], [1], {}, { a: 1 }];
const wrong = (r: () => number) => WRONG[Math.floor(r() * WRONG.length)];

/** A generator that usually builds `good` and sometimes drops the key or puts a value of a wrong type. */
const field =
  (good: Gen): Gen =>
  (r, d) => {
    const x = r();
    if (x < 0.1) return undefined;
    if (x < 0.2) return wrong(r);
    return good(r, d + 1);
  };
const obj =
  (fields: Record<string, Gen>): Gen =>
  (r, d) => {
    if (r() < 0.03) return wrong(r);
    const out: Record<string, unknown> = { extra_key: r() < 0.5 ? 'kept' : { nested: [1, 2] } };
    for (const [k, g] of Object.entries(fields)) {
      const value = g(r, d);
      if (value !== undefined) out[k] = value;
    }
    return out;
  };
const list =
  (item: Gen): Gen =>
  (r, d) =>
    Array.from({ length: Math.floor(r() * 3) }, () => (r() < 0.05 ? wrong(r) : item(r, d + 1)));
const s: Gen = (r) => `s${Math.floor(r() * 100)}`;
const n: Gen = (r) => Math.floor(r() * 10);
const sOrNull: Gen = (r) => (r() < 0.2 ? null : s(r, 0));

const chat = obj({
  id: field(s),
  created: field(n),
  model: field(s),
  system_fingerprint: field(sOrNull),
  choices: field(
    list(
      obj({
        index: field(n),
        delta: field(
          obj({
            content: field(sOrNull),
            refusal: field(sOrNull),
            tool_calls: field(
              list(
                obj({
                  index: field(n),
                  id: field(sOrNull),
                  function: field(obj({ name: field(sOrNull), arguments: field(sOrNull) })),
                }),
              ),
            ),
            function_call: field(obj({ name: field(sOrNull), arguments: field(sOrNull) })),
          }),
        ),
        finish_reason: field(sOrNull),
      }),
    ),
  ),
  usage: field((r) => (r() < 0.5 ? null : { total_tokens: 3 })),
});

const usage = obj({ output_tokens: field((r) => (r() < 0.3 ? null : n(r, 0))) });
const anthropic = obj({
  type: field(s),
  index: field(n),
  message: field(obj({ usage: field(usage) })),
  content_block: field(
    obj({ type: field(s), id: field(s), name: field(s), text: field(s), thinking: field(s) }),
  ),
  delta: field(obj({ type: field(s), text: field(s), thinking: field(s), partial_json: field(s) })),
  usage: field(usage),
});

const responses = obj({
  type: field(s),
  sequence_number: field(n),
  output_index: field(n),
  content_index: field(n),
  delta: field(s),
  text: field(s),
  arguments: field(s),
  item: field(obj({ type: field(s), id: field(s), call_id: field(s), name: field(s), arguments: field(s) })),
  part: field(obj({ type: field(s) })),
  response: field(obj({ usage: field(n) })),
});

const CASES = [
  ['openai-chat', chat, isChatChunk, parseChatChunk, ChatChunkSchema],
  ['anthropic-messages', anthropic, isAnthropicEvent, parseAnthropicEvent, AnthropicEventSchema],
  ['openai-responses', responses, isResponsesEvent, parseResponsesEvent, ResponsesEventSchema],
] as const;

describe('per-frame shape predicates', () => {
  for (const [format, gen, fast, parse, schema] of CASES) {
    it(`${format}: accept only what the valibot schema accepts, and parse agrees with valibot`, () => {
      const r = rng(format.length * 7919);
      let accepted = 0;
      let rejected = 0;
      for (let i = 0; i < 4000; i++) {
        const x = JSON.parse(JSON.stringify(gen(r, 0) ?? null)) as unknown;
        const byValibot = v.safeParse(schema as v.GenericSchema, x);
        if ((fast as (x: unknown) => boolean)(x)) {
          accepted++;
          assert.ok(byValibot.success, `fast path accepted what valibot rejects: ${JSON.stringify(x)}`);
          assert.deepEqual((parse as (x: unknown) => unknown)(x), byValibot.output);
        } else {
          rejected++;
          assert.equal((parse as (x: unknown) => unknown)(x) !== undefined, byValibot.success);
        }
      }
      // Both branches must have been exercised for the property to mean anything.
      assert.ok(accepted > 200 && rejected > 200, `accepted ${accepted}, rejected ${rejected}`);
    });
  }
});

describe('request-body shape predicates', () => {
  const message = obj({ role: field(s), content: field(s) });
  const bodies = {
    'openai-chat': obj({ model: field(s), messages: field(list(message)), stream: field((r) => r() < 0.5) }),
    'anthropic-messages': obj({
      model: field(s),
      messages: field(list(message)),
      system: field((r) => (r() < 0.5 ? 'sys' : [{ type: 'text', text: 'sys' }])),
      stream: field((r) => (r() < 0.3 ? null : r() < 0.5)),
    }),
    'openai-responses': obj({
      model: field((r) => (r() < 0.1 ? '' : s(r, 0))),
      input: field((r) => (r() < 0.5 ? 'hi' : [message(r, 1)])),
      instructions: field(sOrNull),
      stream: field((r) => r() < 0.5),
    }),
  } as const;
  const schemas = {
    'openai-chat': ChatRequestSchema,
    'anthropic-messages': MessagesRequestSchema,
    'openai-responses': ResponsesRequestSchema,
  } as const;
  for (const format of ['openai-chat', 'anthropic-messages', 'openai-responses'] as const) {
    it(`${format}: accept only what the valibot schema accepts`, () => {
      const r = rng(format.length * 104_729);
      let accepted = 0;
      let rejected = 0;
      for (let i = 0; i < 4000; i++) {
        const x = JSON.parse(JSON.stringify(bodies[format](r, 0) ?? null)) as unknown;
        const byValibot = v.safeParse(schemas[format] as v.GenericSchema, x);
        if (FAST_SHAPES[format](x)) {
          accepted++;
          assert.ok(byValibot.success, `fast path accepted what valibot rejects: ${JSON.stringify(x)}`);
        } else rejected++;
      }
      assert.ok(accepted > 200 && rejected > 200, `accepted ${accepted}, rejected ${rejected}`);
    });
  }
});
