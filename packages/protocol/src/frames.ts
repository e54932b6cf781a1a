import * as v from 'valibot';
import { formatIssues, isRecord, uint } from './_schema.ts';
import { type ErrorShape, ErrorShapeSchema } from './errors.ts';

/** The lowest protocol version we speak. */
export const PROTOCOL_VERSION_MIN = 3;

/** The highest protocol version we speak. */
export const PROTOCOL_VERSION_MAX = 4;

/** A client→server request frame. */
export type RequestFrame = { type: 'req'; id: string; method: string; params?: unknown };

/** A server→client response frame; `payload` holds the result when `ok`, `error` when not. */
export type ResponseFrame = {
  type: 'res';
  id: string;
  ok: boolean;
  payload?: unknown;
  error?: ErrorShape;
} & Record<string, unknown>;

/** A server→client event frame. */
export type EventFrame = {
  type: 'event';
  event: string;
  payload?: unknown;
  seq?: number;
  stateVersion?: { presence?: number; health?: number };
} & Record<string, unknown>;

/** The outcome of parsing one inbound frame; expected failures carry a `reason` instead of throwing. */
export type ParseFrameResult =
  | { success: true; kind: 'req'; frame: RequestFrame }
  | { success: true; kind: 'res'; frame: ResponseFrame }
  | { success: true; kind: 'event'; frame: EventFrame }
  | { success: true; kind: 'unknown'; frame: Record<string, unknown> & { type: string } }
  | { success: false; reason: string };

const nonEmpty = v.pipe(v.string(), v.minLength(1));

/** Validates a `req` frame envelope (loose; `params` is not inspected). */
export const RequestFrameSchema = v.looseObject({
  type: v.literal('req'),
  id: nonEmpty,
  method: nonEmpty,
  params: v.optional(v.unknown()),
});

/** Validates a `res` frame envelope (loose; `payload` is not inspected, `error` is an ErrorShape). */
export const ResponseFrameSchema = v.looseObject({
  type: v.literal('res'),
  id: v.string(),
  ok: v.boolean(),
  payload: v.optional(v.unknown()),
  error: v.optional(ErrorShapeSchema),
});

/** Validates an `event` frame envelope (loose; `payload` is not inspected). */
export const EventFrameSchema = v.looseObject({
  type: v.literal('event'),
  event: nonEmpty,
  payload: v.optional(v.unknown()),
  seq: v.optional(uint),
  stateVersion: v.optional(
    v.looseObject({ presence: v.optional(v.number()), health: v.optional(v.number()) }),
  ),
});

/**
 * Parses one inbound text frame: `JSON.parse` plus a loose envelope check; payloads are left untouched.
 *
 * @example
 * const result = parseFrame(text);
 * if (result.success && result.kind === 'event') handle(result.frame.event, result.frame.payload);
 */
export function parseFrame(text: string): ParseFrameResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { success: false, reason: `malformed JSON: ${(error as Error).message}` };
  }
  return parseFrameObject(value);
}

/** Parses an already-decoded frame value the same way `parseFrame` does. */
export function parseFrameObject(value: unknown): ParseFrameResult {
  if (!isRecord(value)) return { success: false, reason: 'frame is not a JSON object' };
  const type = value.type;
  if (typeof type !== 'string') return { success: false, reason: 'frame has no string "type"' };
  switch (type) {
    case 'event': {
      // Hot path: a well-formed envelope is returned as is (no copy); anything irregular goes through
      // the schema, which produces the failure reason. Both accept exactly the same frames.
      if (isPlainEventEnvelope(value)) return { success: true, kind: 'event', frame: value as EventFrame };
      const result = v.safeParse(EventFrameSchema, value);
      return result.success
        ? { success: true, kind: 'event', frame: result.output }
        : { success: false, reason: formatIssues('invalid event frame', result.issues) };
    }
    case 'res': {
      if (isPlainOkResponse(value)) return { success: true, kind: 'res', frame: value as ResponseFrame };
      const result = v.safeParse(ResponseFrameSchema, value);
      return result.success
        ? { success: true, kind: 'res', frame: result.output }
        : { success: false, reason: formatIssues('invalid res frame', result.issues) };
    }
    case 'req': {
      const result = v.safeParse(RequestFrameSchema, value);
      return result.success
        ? { success: true, kind: 'req', frame: result.output }
        : { success: false, reason: formatIssues('invalid req frame', result.issues) };
    }
    default:
      return { success: true, kind: 'unknown', frame: value as Record<string, unknown> & { type: string } };
  }
}

/** Serialises a request with exactly `type`, `id`, `method` and, only when defined and not null, `params`. */
export function serializeRequest(frame: RequestFrame): string {
  const out: RequestFrame = { type: 'req', id: frame.id, method: frame.method };
  if (frame.params !== undefined && frame.params !== null) out.params = frame.params;
  return JSON.stringify(out);
}

/** Serialises an event frame (used by the fake gateway); undefined keys are dropped. */
export function serializeEvent(frame: EventFrame): string {
  return JSON.stringify(frame);
}

/** Serialises a response frame (used by the fake gateway); undefined keys are dropped. */
export function serializeResponse(frame: ResponseFrame): string {
  return JSON.stringify(frame);
}

// --- internal ---

function isUint(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** Tells whether an event envelope passes `EventFrameSchema` without needing its issue report. */
function isPlainEventEnvelope(value: Record<string, unknown>): boolean {
  const event = value.event;
  if (typeof event !== 'string' || event.length === 0) return false;
  const seq = value.seq;
  if (seq !== undefined && !isUint(seq)) return false;
  const stateVersion = value.stateVersion;
  if (stateVersion === undefined) return true;
  if (!isRecord(stateVersion)) return false;
  const { presence, health } = stateVersion;
  return (
    (presence === undefined || typeof presence === 'number') &&
    (health === undefined || typeof health === 'number')
  );
}

/** Tells whether a `res` envelope is a success without an `error` (the common case), valid per the schema. */
function isPlainOkResponse(value: Record<string, unknown>): boolean {
  return typeof value.id === 'string' && value.ok === true && value.error === undefined;
}
