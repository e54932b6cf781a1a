// One HEC request: POST the lines, classify the answer (spec 20 §9.2 response table). The token travels only in
// the Authorization header; no message built here ever contains it.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import * as v from 'valibot';

/** How a HEC request ended. */
export type HecOutcome =
  | { kind: 'ok'; status: number }
  /** 400 / 413: the batch (or one event in it) is unacceptable; bisect. */
  | { kind: 'rejected'; status: number; code?: number; text?: string }
  /** 401 / 403: the token is wrong or disabled. */
  | { kind: 'auth'; status: number; code?: number }
  /** Anything worth retrying: network error, timeout, 5xx, 429, an answer that is not HEC's. */
  | { kind: 'retry'; reason: HecRetryReason; message: string; status?: number; retryAfterMs?: number };

/** Why a request is retried. */
export type HecRetryReason = 'network' | 'timeout' | 'server_error' | 'throttled' | 'invalid_response';

/** Where and how requests go. */
export type HecTarget = {
  url: URL;
  /** The full `Authorization` header value (`Splunk <token>`). */
  authorization: string;
  timeoutMs: number;
};

/** A keep-alive HTTP(S) client for one endpoint. */
export type HecClient = {
  /** Sends one body; never throws, never rejects. */
  post(body: string, signal: AbortSignal): Promise<HecOutcome>;
  /** Closes idle and busy sockets. */
  close(): void;
};

/** The most response bytes read; a HEC answer is a few dozen. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** HEC's JSON answer (loose: Splunk adds fields such as `invalid-event-number`, `ackId`). */
const HecResponseSchema = v.looseObject({
  text: v.optional(v.string()),
  code: v.optional(v.number()),
});

/** Creates a client with at most `maxSockets` connections. */
export function createHecClient(target: HecTarget, maxSockets: number): HecClient {
  const https = target.url.protocol === 'https:';
  const agent = https
    ? new HttpsAgent({ keepAlive: true, maxSockets })
    : new HttpAgent({ keepAlive: true, maxSockets });
  const send = https ? httpsRequest : httpRequest;

  return {
    post(body, signal) {
      return new Promise<HecOutcome>((resolve) => {
        let settled = false;
        const finish = (outcome: HecOutcome) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve(outcome);
        };
        const req = send(target.url, {
          method: 'POST',
          agent,
          headers: {
            authorization: target.authorization,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        });
        const timer = setTimeout(() => {
          finish({ kind: 'retry', reason: 'timeout', message: `no answer within ${target.timeoutMs} ms` });
          req.destroy();
        }, target.timeoutMs);
        const onAbort = () => {
          finish({ kind: 'retry', reason: 'network', message: 'aborted' });
          req.destroy();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        req.on('error', (error: NodeJS.ErrnoException) => {
          finish({ kind: 'retry', reason: 'network', message: networkMessage(error) });
        });
        req.on('response', (res) => {
          readBody(res).then(
            (text) => finish(classify(res, text)),
            (error: NodeJS.ErrnoException) =>
              finish({ kind: 'retry', reason: 'network', message: networkMessage(error) }),
          );
        });
        if (signal.aborted) onAbort();
        else req.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

/** Parses `Retry-After` (delta seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

// --- internal ---

function classify(res: IncomingMessage, text: string): HecOutcome {
  const status = res.statusCode ?? 0;
  const parsed = parseHec(text);
  if (status === 200) {
    if (parsed?.code === 0) return { kind: 'ok', status };
    return {
      kind: 'retry',
      reason: 'invalid_response',
      status,
      message: 'HEC answered 200 without code 0 (is splunk.hec_url a HEC endpoint?)',
    };
  }
  if (status === 401 || status === 403) {
    return parsed?.code === undefined
      ? { kind: 'auth', status }
      : { kind: 'auth', status, code: parsed.code };
  }
  if (status === 400 || status === 413) {
    const outcome: HecOutcome = { kind: 'rejected', status };
    if (parsed?.code !== undefined) outcome.code = parsed.code;
    if (parsed?.text !== undefined) outcome.text = parsed.text.slice(0, 200);
    return outcome;
  }
  const retryAfterMs = parseRetryAfter(header(res, 'retry-after'), Date.now());
  const detail = parsed?.text === undefined ? '' : `: ${parsed.text.slice(0, 200)}`;
  const outcome: HecOutcome =
    status === 429
      ? { kind: 'retry', reason: 'throttled', status, message: `HEC answered 429${detail}` }
      : status >= 500
        ? { kind: 'retry', reason: 'server_error', status, message: `HEC answered ${status}${detail}` }
        : { kind: 'retry', reason: 'invalid_response', status, message: `HEC answered ${status}${detail}` };
  if (retryAfterMs !== undefined) outcome.retryAfterMs = retryAfterMs;
  return outcome;
}

function parseHec(text: string): v.InferOutput<typeof HecResponseSchema> | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const result = v.safeParse(HecResponseSchema, json);
  return result.success ? result.output : undefined;
}

function header(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      if (size >= MAX_RESPONSE_BYTES) return;
      size += chunk.length;
      chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8').slice(0, MAX_RESPONSE_BYTES)));
    res.on('error', reject);
    res.on('aborted', () => reject(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
  });
}

function networkMessage(error: NodeJS.ErrnoException): string {
  // System errors name the address, never request headers; keep the code and a short message.
  const code = error.code ?? error.name;
  const text = error.message.includes(code) ? error.message : `${code}: ${error.message}`;
  return text.slice(0, 300);
}
