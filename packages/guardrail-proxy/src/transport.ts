import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { collectBody } from './_collect.ts';
import type { HeaderRecord } from './headers.ts';

// The client side of one exchange. Under @hono/node-server the handler reads the IncomingMessage and writes the
// ServerResponse directly (no fetch Response, no WHATWG streams on the hot path); under `app.request()` (tests,
// other runtimes) the same calls build a web Response.

/** Where a handler writes its answer; the parts of `ServerResponse` the proxy uses. */
export type ClientResponse = {
  /** Whether status and headers went out. */
  readonly headersSent: boolean;
  /** Whether the client went away before the answer finished. */
  readonly clientGone: boolean;
  /** Sends status and headers. */
  writeHead(status: number, headers: OutgoingHttpHeaders): void;
  /** Writes body bytes; `false` asks the writer to wait for `drain`. */
  write(chunk: Uint8Array | string): boolean;
  /** Ends the answer, optionally with a last chunk. */
  end(chunk?: Uint8Array | string): void;
  /** Calls `fn` whenever the client can take more bytes after a `false` write. */
  onDrain(fn: () => void): void;
  /** Calls `fn` once if the client goes away before the answer finished. */
  onClientGone(fn: () => void): void;
  /** Bytes written so far (body only). */
  readonly bytesWritten: number;
};

/** The request side of one exchange. */
export type ClientRequest = {
  /** Lowercase header names. */
  headers: HeaderRecord;
  /** Reads the body up to `capBytes`. */
  readBody(capBytes: number): Promise<BodyReadResult>;
};

/** The outcome of reading a request body under a cap. */
export type BodyReadResult =
  | { success: true; bytes: Buffer }
  | { success: false; reason: 'too_large' | 'aborted' };

/** Wraps Node's request and response (the fast path). */
export function nodeExchange(
  incoming: IncomingMessage,
  outgoing: ServerResponse,
): {
  request: ClientRequest;
  response: ClientResponse;
} {
  return { request: nodeRequest(incoming), response: nodeResponse(outgoing) };
}

/** Wraps a web Request; `response` resolves with the web Response once the head is written. */
export function webExchange(req: Request): {
  request: ClientRequest;
  response: ClientResponse;
  webResponse: Promise<Response>;
} {
  const headers: HeaderRecord = {};
  req.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const request: ClientRequest = {
    headers,
    async readBody(capBytes) {
      const declared = Number(headers['content-length'] ?? Number.NaN);
      if (Number.isFinite(declared) && declared > capBytes) return { success: false, reason: 'too_large' };
      if (!req.body) return { success: true, bytes: Buffer.alloc(0) };
      const reader = req.body.getReader();
      const chunks: Uint8Array[] = [];
      let total = 0;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          total += value.byteLength;
          if (total > capBytes) {
            void reader.cancel().catch(() => {});
            return { success: false, reason: 'too_large' };
          }
          chunks.push(value);
        }
      } catch {
        return { success: false, reason: 'aborted' };
      }
      return { success: true, bytes: Buffer.concat(chunks) };
    },
  };
  const web = webResponse();
  return { request, response: web.response, webResponse: web.promise };
}

// --- internal ---

function nodeRequest(incoming: IncomingMessage): ClientRequest {
  return {
    headers: incoming.headers,
    readBody(capBytes) {
      const declared = Number(incoming.headers['content-length'] ?? Number.NaN);
      if (Number.isFinite(declared) && declared > capBytes) {
        return Promise.resolve({ success: false, reason: 'too_large' });
      }
      return collectBody(incoming, capBytes, 'pause', () => incoming.complete).then(
        (r): BodyReadResult =>
          r.kind === 'ok'
            ? { success: true, bytes: r.bytes }
            : { success: false, reason: r.kind === 'too_large' ? 'too_large' : 'aborted' },
      );
    },
  };
}

function nodeResponse(res: ServerResponse): ClientResponse {
  let gone = false;
  let written = 0;
  const goneListeners: (() => void)[] = [];
  res.on('close', () => {
    if (res.writableFinished) return;
    gone = true;
    for (const fn of goneListeners.splice(0)) fn();
  });
  return {
    get headersSent() {
      return res.headersSent;
    },
    get clientGone() {
      return gone || res.destroyed;
    },
    get bytesWritten() {
      return written;
    },
    writeHead(status, headers) {
      if (!res.headersSent) res.writeHead(status, headers);
    },
    write(chunk) {
      if (gone || res.destroyed) return true;
      written += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
      return res.write(chunk);
    },
    end(chunk) {
      if (gone || res.destroyed) return;
      if (chunk !== undefined)
        written += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
      res.end(chunk);
    },
    onDrain(fn) {
      res.on('drain', fn);
    },
    onClientGone(fn) {
      if (gone) fn();
      else goneListeners.push(fn);
    },
  };
}

function webResponse(): { response: ClientResponse; promise: Promise<Response> } {
  const encoder = new TextEncoder();
  let resolveResponse!: (r: Response) => void;
  const promise = new Promise<Response>((resolve) => {
    resolveResponse = resolve;
  });
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let headersSent = false;
  let ended = false;
  let gone = false;
  let written = 0;
  const drainListeners: (() => void)[] = [];
  const goneListeners: (() => void)[] = [];
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        for (const fn of drainListeners) fn();
      },
      cancel() {
        if (ended) return;
        gone = true;
        for (const fn of goneListeners.splice(0)) fn();
      },
    },
    { highWaterMark: 16 },
  );
  const response: ClientResponse = {
    get headersSent() {
      return headersSent;
    },
    get clientGone() {
      return gone;
    },
    get bytesWritten() {
      return written;
    },
    writeHead(status, headers) {
      if (headersSent) return;
      headersSent = true;
      const h = new Headers();
      for (const [name, value] of Object.entries(headers)) {
        if (value === undefined) continue;
        if (Array.isArray(value)) for (const v of value) h.append(name, v);
        else h.set(name, String(value));
      }
      resolveResponse(new Response(status === 204 || status === 304 ? null : body, { status, headers: h }));
    },
    write(chunk) {
      if (gone || ended) return true;
      const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
      written += bytes.byteLength;
      controller.enqueue(bytes);
      return (controller.desiredSize ?? 1) > 0;
    },
    end(chunk) {
      if (ended) return;
      if (chunk !== undefined) response.write(chunk);
      ended = true;
      if (!gone) controller.close();
    },
    onDrain(fn) {
      drainListeners.push(fn);
    },
    onClientGone(fn) {
      if (gone) fn();
      else goneListeners.push(fn);
    },
  };
  return { response, promise };
}
