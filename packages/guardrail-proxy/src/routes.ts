import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { type Context, Hono } from 'hono';
import { uuidv7 } from './_ids.ts';
import type { ProxyState } from './_state.ts';
import { errorBody, type ProxyHttpErrorCode, statusOf } from './error-body.ts';
import { ENDPOINT_FORMATS, handleLlm } from './handle-llm.ts';
import { type Endpoint, listModels } from './providers/registry.ts';
import type { WireFormat } from './stream/types.ts';
import { nodeExchange, webExchange } from './transport.ts';

// The hono app (spec 30 §B2): routes, Host/Origin checks, error envelopes. LLM routes hand the raw Node request and
// response to the pipeline when served by @hono/node-server, and fall back to web objects under `app.request()`.
// The Node listener (`createNodeListener`) sends POSTs to the four LLM paths straight to the same pipeline, after the
// same Host/Origin checks, without building hono's request and context (about a tenth of a proxied request's CPU);
// every other request goes through hono.

/** The hono environment of the proxy app: Node bindings when served by @hono/node-server. */
export type ProxyAppEnv = { Bindings: Partial<HttpBindings> };

/** What the app needs besides the state: the health entry for `GET /health`. */
export type ProxyAppHooks = { health(): unknown };

const LLM_ROUTES: readonly [string, Endpoint][] = [
  ['/v1/chat/completions', 'chat'],
  ['/chat/completions', 'chat'],
  ['/v1/messages', 'messages'],
  ['/v1/responses', 'responses'],
];

/** Builds the proxy's hono app over shared state. */
export function createProxyApp(state: ProxyState, hooks: ProxyAppHooks): Hono<ProxyAppEnv> {
  const app = new Hono<ProxyAppEnv>();

  app.use('*', async (c, next) => {
    // Under @hono/node-server read the Node headers: `c.req.header()` would build a web Headers object.
    const incoming = c.env?.incoming;
    const refused = refuseForeign(
      state,
      incoming ? incoming.headers.host : (c.req.header('host') ?? new URL(c.req.url).host),
      incoming ? incoming.headers.origin : c.req.header('origin'),
    );
    if (refused) return errorResponse(c, formatOfPath(c.req.path), refused.code, refused.message);
    await next();
  });

  for (const [path, endpoint] of LLM_ROUTES) {
    app.post(path, async (c) => {
      const incoming = c.env?.incoming;
      const outgoing = c.env?.outgoing;
      if (incoming && outgoing) {
        const io = nodeExchange(incoming, outgoing);
        await handleLlm(state, endpoint, path, io.request, io.response);
        return RESPONSE_ALREADY_SENT;
      }
      const io = webExchange(c.req.raw);
      const done = handleLlm(state, endpoint, path, io.request, io.response);
      // A request whose client went away before any answer has no head; answer the (gone) caller with 499.
      return Promise.race([
        io.webResponse,
        done.then(() => (io.response.headersSent ? io.webResponse : new Response(null, { status: 499 }))),
      ]);
    });
  }

  const models = (c: Context<ProxyAppEnv>) => {
    const headers = c.env?.incoming?.headers ?? Object.fromEntries(c.req.raw.headers);
    if (!state.masterKey?.verify(headers)) {
      state.counters.rejected++;
      return errorResponse(c, 'openai-chat', 'invalid_api_key', 'Invalid DefenseClaw master key.');
    }
    return c.json({ object: 'list', data: listModels(state.registry) });
  };
  app.get('/v1/models', models);
  app.get('/models', models);
  app.get('/health', (c) => c.json(hooks.health() as object));

  for (const path of [...LLM_ROUTES.map(([p]) => p), '/v1/models', '/models', '/health']) {
    app.all(path, (c) =>
      errorResponse(
        c,
        formatOfPath(path),
        'method_not_allowed',
        `Method ${c.req.method} is not allowed on ${path}.`,
      ),
    );
  }
  app.notFound((c) =>
    errorResponse(
      c,
      formatOfPath(c.req.path),
      'not_found',
      `No route for ${c.req.method} ${c.req.path.slice(0, 200)}.`,
    ),
  );
  app.onError((error, c) => {
    state.logger.error('guardrail: route failed', { error: error.name });
    return errorResponse(
      c,
      formatOfPath(c.req.path),
      'internal_error',
      'The DefenseClaw proxy failed on this request.',
    );
  });
  return app;
}

/**
 * Creates the Node request listener: POSTs to the LLM paths (exact path, any query) go straight to the pipeline after
 * the Host/Origin checks; everything else is served by the hono app.
 */
export function createNodeListener(
  state: ProxyState,
  app: Hono<ProxyAppEnv>,
): (req: IncomingMessage, res: ServerResponse) => void {
  const viaHono = getRequestListener(app.fetch, { overrideGlobalObjects: false });
  const endpoints = new Map(LLM_ROUTES);
  return (req, res) => {
    if (req.method === 'POST') {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const path = q < 0 ? url : url.slice(0, q);
      const endpoint = endpoints.get(path);
      if (endpoint !== undefined) {
        serveLlm(state, endpoint, path, req, res);
        return;
      }
    }
    void viaHono(req, res);
  };
}

/** Whether a Host header names this proxy: a loopback name (or the configured host) with the bound port. */
export function hostAllowed(host: string | undefined, port: number, configuredHost: string): boolean {
  if (!host) return false;
  const h = host.toLowerCase();
  const names = ['127.0.0.1', 'localhost', '[::1]'];
  const configured = configuredHost.toLowerCase();
  if (configured !== '0.0.0.0' && configured !== '::' && !names.includes(configured)) {
    names.push(configured.includes(':') && !configured.startsWith('[') ? `[${configured}]` : configured);
  }
  for (const name of names) {
    if (h === `${name}:${port}`) return true;
    if (port === 80 && h === name) return true;
  }
  return false;
}

/** Whether an Origin is a localhost page (any scheme and port); anything else is browser CSRF. */
export function originAllowed(origin: string): boolean {
  if (!URL.canParse(origin)) return false;
  const url = new URL(origin);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  return url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
}

// --- internal ---

function formatOfPath(path: string): WireFormat {
  for (const [p, endpoint] of LLM_ROUTES) if (p === path) return ENDPOINT_FORMATS[endpoint];
  return 'openai-chat';
}

/** Refuses (counting and logging it) a request whose Host does not name this proxy or whose Origin is foreign. */
function refuseForeign(
  state: ProxyState,
  host: string | undefined,
  origin: string | undefined,
): { code: 'forbidden_host' | 'forbidden_origin'; message: string } | undefined {
  if (!hostAllowed(host, state.port, state.config.host)) {
    state.counters.rejected++;
    state.logger.warn('guardrail: request with a foreign Host refused', { host: (host ?? '').slice(0, 100) });
    return { code: 'forbidden_host', message: 'The Host header does not name this proxy.' };
  }
  if (origin !== undefined && !originAllowed(origin)) {
    state.counters.rejected++;
    state.logger.warn('guardrail: cross-origin request refused', { origin: origin.slice(0, 100) });
    return { code: 'forbidden_origin', message: 'Cross-origin requests are not accepted.' };
  }
  return undefined;
}

/** The LLM fast path of the Node listener: the same checks, pipeline and error envelopes as the hono route. */
function serveLlm(
  state: ProxyState,
  endpoint: Endpoint,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const refused = refuseForeign(state, req.headers.host, req.headers.origin);
  if (refused) {
    const requestId = uuidv7(Date.now());
    const body = errorBody(ENDPOINT_FORMATS[endpoint], refused.code, refused.message, requestId);
    res.writeHead(statusOf(refused.code), {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-defenseclaw-request-id': requestId,
    });
    res.end(body);
    return;
  }
  const io = nodeExchange(req, res);
  // `handleLlm` answers every failure itself; this guards only against a bug escaping it.
  handleLlm(state, endpoint, path, io.request, io.response).catch(() => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
    res.end();
  });
}

function errorResponse(
  c: Context<ProxyAppEnv>,
  format: WireFormat,
  code: ProxyHttpErrorCode,
  message: string,
): Response {
  const requestId = uuidv7(Date.now());
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-defenseclaw-request-id': requestId,
  };
  if (code === 'method_not_allowed')
    headers.allow = c.req.path === '/health' || c.req.path.endsWith('models') ? 'GET' : 'POST';
  return c.body(errorBody(format, code, message, requestId), statusOf(code) as 400, headers);
}
