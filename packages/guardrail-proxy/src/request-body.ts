import * as v from 'valibot';
import { arr, loose, nullish, opt, type Shape, str } from './stream/_fast-shape.ts';
import type { WireFormat } from './stream/types.ts';

// Validation of the three request bodies (spec 30 §B3.1). Loose objects: unknown keys pass through to the upstream.

type Received = { received: string };

const model = v.pipe(
  v.string((i: Received) => `model must be a non-empty string; got ${i.received}`),
  v.nonEmpty('model must be a non-empty string'),
);
const stream = v.optional(
  v.nullable(v.boolean((i: Received) => `stream must be true or false; got ${i.received}`)),
);
const message = v.looseObject(
  { role: v.string((i: Received) => `every message needs a string role; got ${i.received}`) },
  (i: Received) => `every message must be an object; got ${i.received}`,
);

/** An OpenAI Chat Completions request as far as the proxy reads it. */
export const ChatRequestSchema = v.looseObject(
  {
    model,
    messages: v.array(message, (i: Received) => `messages must be an array; got ${i.received}`),
    stream,
  },
  (i: Received) => `the body must be a JSON object; got ${i.received}`,
);

/** An Anthropic Messages request as far as the proxy reads it. */
export const MessagesRequestSchema = v.looseObject(
  {
    model,
    messages: v.array(message, (i: Received) => `messages must be an array; got ${i.received}`),
    system: v.optional(
      v.union(
        [v.string(), v.array(v.unknown())],
        (i: Received) => `system must be a string or an array; got ${i.received}`,
      ),
    ),
    stream,
  },
  (i: Received) => `the body must be a JSON object; got ${i.received}`,
);

/** An OpenAI Responses request as far as the proxy reads it. */
export const ResponsesRequestSchema = v.looseObject(
  {
    model,
    input: v.union(
      [v.string(), v.array(v.unknown())],
      (i: Received) => `input must be a string or an array; got ${i.received}`,
    ),
    instructions: v.optional(
      v.nullable(v.string((i: Received) => `instructions must be a string; got ${i.received}`)),
    ),
    stream,
  },
  (i: Received) => `the body must be a JSON object; got ${i.received}`,
);

const bool: Shape = (x) => typeof x === 'boolean';
const modelShape: Shape = (x) => typeof x === 'string' && x.length > 0;
const streamShape = nullish(bool);
const messagesShape = arr(loose({ role: str }));
const strOrArray: Shape = (x) => typeof x === 'string' || Array.isArray(x);

/** The request schemas as predicates that accept only what they accept (`test/fast-shape.test.ts`). */
export const FAST_SHAPES: Readonly<Record<WireFormat, Shape>> = {
  'openai-chat': loose({ model: modelShape, messages: messagesShape, stream: streamShape }),
  'anthropic-messages': loose({
    model: modelShape,
    messages: messagesShape,
    system: opt(strOrArray),
    stream: streamShape,
  }),
  'openai-responses': loose({
    model: modelShape,
    input: strOrArray,
    instructions: nullish(str),
    stream: streamShape,
  }),
};

/** A validated request body of any format. */
export type RequestBody = Record<string, unknown> & { model: string; stream?: boolean | null | undefined };

/** Parses and validates a request body for a wire format; failures name the offending field. */
export function parseRequestBody(
  format: WireFormat,
  bytes: Buffer,
):
  | { success: true; body: RequestBody }
  | { success: false; code: 'invalid_json' | 'invalid_request'; message: string } {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { success: false, code: 'invalid_json', message: 'The request body is not valid JSON.' };
  }
  // The common, valid shape passes an allocation-free check; anything else gets valibot's verdict and messages.
  if (FAST_SHAPES[format](json)) return { success: true, body: json as RequestBody };
  const schema =
    format === 'openai-chat'
      ? ChatRequestSchema
      : format === 'anthropic-messages'
        ? MessagesRequestSchema
        : ResponsesRequestSchema;
  const result = v.safeParse(schema, json);
  if (!result.success) {
    const issue = result.issues[0];
    const path = issue ? v.getDotPath(issue) : null;
    const message = issue?.message ?? 'invalid request';
    return {
      success: false,
      code: 'invalid_request',
      message: path && !message.startsWith(path.split('.')[0]!) ? `${path}: ${message}` : message,
    };
  }
  return { success: true, body: result.output as RequestBody };
}
