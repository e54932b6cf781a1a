// Request helpers shared by the routes: JSON bodies and query strings validated with valibot, time values, and
// validation messages that never echo the input.
import { Readable } from 'node:stream';
import type { Context } from 'hono';
import * as v from 'valibot';
import { type Issue, RestApiError } from './errors.ts';

/** The hono environment of the app: node-server bindings and per-request variables. */
export type AppEnv = {
  Bindings: { incoming?: { socket?: { remoteAddress?: string } }; outgoing?: NodeOutgoing };
  Variables: {
    requestId: string;
    routeClass: RouteClass;
    peer: string | undefined;
    peerLoopback: boolean;
    authenticated: boolean;
    client: string | undefined;
    /** The largest request body this app reads, in bytes. */
    maxBodyBytes: number;
  };
};

/** The slice of node's ServerResponse the admin route listens on. */
export type NodeOutgoing = { once(event: 'finish' | 'close', listener: () => void): unknown };

/** Who may call a route (spec 20 §6.1). */
export type RouteClass = 'open' | 'read' | 'write' | 'admin';

/** Any valibot schema (synchronous). */
export type AnySchema = v.GenericSchema;

/** The largest request body when the app sets no other limit (spec 20 §6.2: 1 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Reads and validates a JSON body; throws 400 `invalid_json` / `validation_failed` (nothing of the body echoed). */
export async function readBody<S extends AnySchema>(
  c: Context<AppEnv>,
  schema: S,
): Promise<v.InferOutput<S>> {
  return parseBody(await readBodyText(c), schema);
}

/**
 * Reads the request body as UTF-8 text, refusing more than `maxBodyBytes` with 413 `payload_too_large` as soon as
 * the count passes it (chunked bodies included). Under node-server it reads the node request stream directly: the
 * fetch `Request` that `c.req.text()` would build first (an AbortController, a web stream over the socket and
 * undici's Request) costs more than the rest of an inspect call's HTTP handling.
 */
export async function readBodyText(c: Context<AppEnv>): Promise<string> {
  const limit = c.get('maxBodyBytes') ?? DEFAULT_MAX_BODY_BYTES;
  const incoming: unknown = c.env?.incoming;
  if (incoming instanceof Readable && !incoming.readableDidRead && !incoming.readableEnded) {
    return UTF8.decode(await readStream(incoming, limit));
  }
  const body = c.req.raw.body;
  if (body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return UTF8.decode(Buffer.concat(chunks, size));
}

/** The 413 answer for a body over `limit` bytes. */
export function tooLarge(limit: number): RestApiError {
  return new RestApiError('payload_too_large', `request body exceeds ${limit} bytes`);
}

/** Parses and validates body text already read; an empty body counts as `{}`. */
export function parseBody<S extends AnySchema>(text: string, schema: S): v.InferOutput<S> {
  let value: unknown;
  if (text.trim() === '') {
    value = {};
  } else {
    try {
      value = JSON.parse(text);
    } catch {
      throw new RestApiError('invalid_json', 'request body is not valid JSON');
    }
  }
  const parsed = v.safeParse(schema, value);
  if (!parsed.success) {
    const issues = toIssues(parsed.issues);
    throw new RestApiError('validation_failed', `invalid request body: ${describe(issues)}`, {
      details: { issues },
    });
  }
  return parsed.output;
}

/** Validates the query string (first value of each key); throws 400 `invalid_query` naming the bad parameters. */
export function readQuery<S extends AnySchema>(c: Context<AppEnv>, schema: S): v.InferOutput<S> {
  const parsed = v.safeParse(schema, c.req.query());
  if (!parsed.success) {
    const issues = toIssues(parsed.issues);
    throw new RestApiError('invalid_query', `invalid query parameter ${describe(issues)}`, {
      details: { issues },
    });
  }
  return parsed.output;
}

/** Maps valibot issues to `{path, message}` built from the schema's expectations only. */
export function toIssues(issues: readonly v.BaseIssue<unknown>[]): Issue[] {
  return issues.slice(0, 20).map((issue) => ({
    path: v.getDotPath(issue) ?? '',
    message: issueMessage(issue),
  }));
}

/** A JSON schema for "an ISO-8601 time or a relative duration (`15m`, `1h`, `7d`)", output as Unix ms. */
export function timeParam(now: () => number) {
  return v.pipe(
    v.string(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const ms = parseTime(dataset.value, now());
      if (ms === undefined) {
        addIssue({ message: 'must be an ISO-8601 time or a duration such as 15m, 1h, 7d' });
        return NEVER;
      }
      return ms;
    }),
  );
}

/** Parses an ISO-8601 time or a relative duration before `nowMs`; undefined when it is neither. */
export function parseTime(value: string, nowMs: number): number | undefined {
  const rel = RELATIVE_RE.exec(value);
  if (rel !== null) return nowMs - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS];
  if (!ISO_RE.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Formats Unix milliseconds as the wire's ISO-8601 UTC time. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

// --- internal ---

// Decodes like fetch's `text()`: invalid sequences become U+FFFD and a leading byte-order mark is dropped.
const UTF8 = new TextDecoder();

/** Collects a node request body up to `limit` bytes; past it, stops listening (node-server drains the rest). */
function readStream(incoming: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (incoming.destroyed) {
      reject(new RestApiError('bad_request', 'the request body was not received completely'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onAbort);
      incoming.off('close', onAbort);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        settle();
        incoming.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      settle();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onAbort = () => {
      settle();
      reject(new RestApiError('bad_request', 'the request body was not received completely'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onAbort);
    incoming.on('close', onAbort);
  });
}

const RELATIVE_RE = /^(\d{1,7})(s|m|h|d|w)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const ISO_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

// Valibot's default messages quote the received value, which may be a secret; ours name only what was expected.
function issueMessage(issue: v.BaseIssue<unknown>): string {
  if (issue.type === 'raw_transform' || issue.type === 'check' || issue.type === 'raw_check') {
    return issue.message;
  }
  if (issue.kind === 'schema' && issue.received === 'undefined') return 'is required';
  if (issue.type === 'regex') return 'is malformed';
  if (issue.type === 'strict_object' || issue.type === 'never') return 'is not allowed';
  if (issue.expected !== null) return `must be ${issue.expected}`;
  return 'is invalid';
}

function describe(issues: readonly Issue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => (i.path === '' ? i.message : `${i.path} ${i.message}`))
    .join('; ');
}
