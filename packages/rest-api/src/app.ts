// createRestApi: the hono app of the management API — the §6.2 pipeline as middleware, then every §6.1 route.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { isAuditStoreError } from '@defenseclaw/audit-store';
import { getConnInfo } from '@hono/node-server/conninfo';
import { type Context, Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ApiContext, Handler, Method } from './_context.ts';
import { type AppEnv, DEFAULT_MAX_BODY_BYTES, type RouteClass, tooLarge } from './_http.ts';
import type { RateLimit } from './_limits.ts';
import { registerAdminRoutes } from './_routes-admin.ts';
import { registerAuditRoutes } from './_routes-audit.ts';
import { registerEnforceRoutes } from './_routes-enforce.ts';
import { registerInspectRoutes } from './_routes-inspect.ts';
import { registerStatusRoutes } from './_routes-status.ts';
import type { Dynamic, Logger, RestApiDeps } from './deps.ts';
import { isRestApiError, RestApiError } from './errors.ts';
import { createInspectCommit, type InspectCommitMode } from './inspect-commit.ts';
import {
  allowedHosts,
  CLIENT_HEADER,
  checkCsrf,
  checkHost,
  checkNoTokenInQuery,
  checkOrigin,
  isLoopbackAddress,
  presentedToken,
  TOKEN_HEADER,
  unauthorized,
} from './security.ts';
import { createTokenChecker } from './token.ts';

/** The largest request body accepted (spec 20 §6.2: 1 MiB). */
export const MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES;

/** Options of `createRestApi`; `Dynamic` values may be getters, read on every request (hot reload). */
export type RestApiOptions = {
  /** The port the API listens on (`gateway.api_port`), for the Host and Origin allow-lists. */
  port: Dynamic<number>;
  /** `gateway.api_host`; its `host:port` is allowed in Host too. @default '127.0.0.1' */
  apiHost?: string;
  /** The API token (`$DEFENSECLAW_API_TOKEN`); undefined or empty → writes answer 503 `no_token_configured`. */
  token: Dynamic<string | undefined>;
  /** `gateway.api_require_token_for_reads`. @default false */
  requireTokenForReads?: Dynamic<boolean>;
  /** `gateway.api_allowed_hosts`: extra `host:port` values accepted in Host. @default [] */
  allowedHosts?: Dynamic<readonly string[]>;
  /** `telemetry.metrics`: whether `/metrics` answers. @default true */
  metricsEnabled?: Dynamic<boolean>;
  /** This daemon's identity, checked by the admin shutdown route. */
  identity: { pid: number; dataDir: string };
  /** Largest request body. @default 1048576 */
  maxBodyBytes?: number;
  /** Inspect requests in flight before 503 `overloaded`. @default 256 */
  maxInspectInFlight?: number;
  /** Inspect rate per non-loopback peer. @default { perSecond: 20, burst: 40 } */
  inspectRateLimit?: RateLimit;
  /** How long a gateway RPC may take before 504. @default 10000 */
  rpcTimeoutMs?: number;
  /** How long an inspect commit may take before 503 `audit_unavailable` (`audit.enqueue_timeout_ms`). @default 2000 */
  commitTimeoutMs?: Dynamic<number>;
  /** How inspect records are committed when `deps.commit` is not given. @default 'group' */
  commitMode?: InspectCommitMode;
  /** Returns the peer address of a request. @default the socket's remote address (`getConnInfo`) */
  peerAddress?: (c: Context<AppEnv>) => string | undefined;
  /** Receives the access log (debug) and failures; never bodies or tokens. */
  logger?: Logger;
  /** Wall clock, Unix ms. @default Date.now */
  now?: () => number;
};

/** Live counters of the API (for the `api` health entry). */
export type RestApiStats = { requests: number; inFlight: number; authFailures: number };

/** The hono app of the management API, with its counters. */
export type RestApi = Hono<AppEnv> & { readonly stats: Readonly<RestApiStats> };

/**
 * Creates the management REST API (spec 20 §6) as a hono app; serve it with `@hono/node-server`.
 *
 * @example
 * const api = createRestApi(
 *   { health, status: () => buildStatus(), store, policy, gateway, metrics },
 *   { port: 18970, token: () => process.env.DEFENSECLAW_API_TOKEN, identity: { pid: process.pid, dataDir } },
 * );
 * const server = serve({ fetch: api.fetch, hostname: '127.0.0.1', port: 18970 });
 */
export function createRestApi(deps: RestApiDeps, options: RestApiOptions): RestApi {
  const log = options.logger ?? SILENT;
  const now = options.now ?? Date.now;
  const tokens = createTokenChecker(() => read(options.token));
  const stats: RestApiStats = { requests: 0, inFlight: 0, authFailures: 0 };
  const routes = new Map<string, Map<string, RouteClass>>();
  const app = new Hono<AppEnv>();
  const peerOf = options.peerAddress ?? defaultPeer;
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const shutdown = { started: false };

  let hostCache: { key: string; hosts: Set<string> } | undefined;
  const hostsFor = (port: number) => {
    const extra = read(options.allowedHosts ?? []);
    const key = `${port}|${extra.join(',')}`;
    if (hostCache?.key !== key) hostCache = { key, hosts: allowedHosts(port, options.apiHost, extra) };
    return hostCache.hosts;
  };

  // 1–2. Request id, access log, hardening headers, request metrics.
  app.use(async (c, next) => {
    const t0 = performance.now();
    stats.requests += 1;
    stats.inFlight += 1;
    c.set('requestId', requestIdOf(c.req.header('x-request-id')));
    try {
      await next();
    } finally {
      stats.inFlight -= 1;
    }
    harden(c);
    const route = routes.has(c.req.path) ? c.req.path : 'unmatched';
    const status = c.res.status;
    deps.metrics?.apiRequestsTotal.inc({ route, method: methodLabel(c.req.method), status: String(status) });
    log.debug(`${c.req.method} ${route} ${status} ${(performance.now() - t0).toFixed(1)}ms`);
  });

  // 3–6. Host, Origin, token, CSRF (spec order: token before CSRF, so failing both gives 401).
  app.use(async (c, next) => {
    try {
      const method = c.req.method;
      const cls = classOf(routes, method, c.req.path);
      c.set('routeClass', cls);
      const port = read(options.port);
      checkHost(c.req.header('host'), hostsFor(port));
      checkOrigin(c.req.header('origin'), c.req.header('sec-fetch-site'), port);
      checkNoTokenInQuery(c.req.url);
      const peer = peerOf(c);
      const loopback = isLoopbackAddress(peer);
      c.set('peer', peer);
      c.set('peerLoopback', loopback);
      const presented = presentedToken(c.req.header('authorization'), c.req.header(TOKEN_HEADER));
      const valid = presented !== undefined && tokens.matches(presented);
      c.set('authenticated', valid);
      if (cls === 'admin' && !loopback) {
        throw new RestApiError('loopback_only', 'admin routes answer loopback peers only');
      }
      if (cls === 'write' || cls === 'admin') {
        if (!tokens.configured()) {
          throw new RestApiError('no_token_configured', 'no API token is configured; writes are refused');
        }
        if (!valid) throw unauthorized();
      } else if (cls === 'read' && (!loopback || read(options.requireTokenForReads ?? false)) && !valid) {
        throw unauthorized();
      }
      if (MUTATING.has(method)) {
        checkCsrf(method, c.req.header(CLIENT_HEADER), c.req.header('content-type'), hasBody(c));
        c.set('client', clientLabel(c.req.header(CLIENT_HEADER)));
        if (cls === 'write' && (shutdown.started || deps.isShuttingDown?.() === true)) {
          throw new RestApiError('shutting_down', 'the sidecar is shutting down');
        }
      } else {
        c.set('client', undefined);
      }
    } catch (error) {
      if (isRestApiError(error) && AUTH_FAILURES.has(error.code)) {
        stats.authFailures += 1;
        deps.metrics?.apiAuthFailuresTotal.inc({ reason: error.code });
      }
      throw error;
    }
    await next();
  });

  // 7. Body cap: a declared length over the cap is refused here; a chunked body is counted as the route reads it
  // (readBodyText), so neither is ever buffered past the cap.
  app.use(async (c, next) => {
    c.set('maxBodyBytes', maxBody);
    const length = c.req.header('content-length');
    if (length !== undefined && Number(length) > maxBody) throw tooLarge(maxBody);
    await next();
  });

  const api: ApiContext = {
    deps,
    log,
    metrics: deps.metrics,
    now,
    commit: deps.commit ?? createInspectCommit(deps.store, options.commitMode ?? 'group'),
    rpcTimeoutMs: options.rpcTimeoutMs ?? 10_000,
    commitTimeoutMs: () => read(options.commitTimeoutMs ?? 2000),
    maxInspectInFlight: options.maxInspectInFlight ?? 256,
    rateLimit: options.inspectRateLimit ?? { perSecond: 20, burst: 40 },
    identity: options.identity,
    metricsEnabled: () => read(options.metricsEnabled ?? true),
    shutdown,
    route(method: Method, path: string, cls: RouteClass, handler: Handler) {
      const methods = routes.get(path) ?? new Map<string, RouteClass>();
      routes.set(path, methods);
      methods.set(method, cls);
      if (method === 'GET') methods.set('HEAD', cls);
      app.on(method, path, handler);
    },
  };
  registerStatusRoutes(api);
  registerAuditRoutes(api);
  registerEnforceRoutes(api);
  registerInspectRoutes(api);
  registerAdminRoutes(api);

  app.notFound((c) => {
    const methods = routes.get(c.req.path);
    if (methods !== undefined) {
      const allow = [...methods.keys()].join(', ');
      return errorResponse(
        c,
        new RestApiError(
          'method_not_allowed',
          `${methodLabel(c.req.method)} is not allowed on ${c.req.path}`,
          {
            headers: { Allow: allow },
          },
        ),
      );
    }
    return errorResponse(c, new RestApiError('not_found', 'no such route'));
  });

  app.onError((error, c) => {
    if (isRestApiError(error)) return errorResponse(c, error);
    if (error instanceof HTTPException && error.status === 413) {
      return errorResponse(c, new RestApiError('payload_too_large', `request body exceeds ${maxBody} bytes`));
    }
    if (isAuditStoreError(error, 'INVALID_CURSOR')) {
      return errorResponse(
        c,
        new RestApiError('invalid_query', 'invalid query parameter cursor: is malformed'),
      );
    }
    log.error('api: request failed', {
      route: routes.has(c.req.path) ? c.req.path : 'unmatched',
      error: error.name,
      message: error.message,
    });
    return errorResponse(c, new RestApiError('internal', 'internal error'));
  });

  Object.defineProperty(app, 'stats', {
    get: (): Readonly<RestApiStats> => ({ ...stats }),
    enumerable: true,
  });
  return app as RestApi;
}

// --- internal ---

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const AUTH_FAILURES = new Set([
  'forbidden_host',
  'forbidden_origin',
  'cross_site',
  'token_in_query',
  'unauthorized',
  'no_token_configured',
  'loopback_only',
  'csrf_header_missing',
  'unsupported_media_type',
]);

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

function read<T>(value: Dynamic<T>): T {
  return typeof value === 'function' ? (value as () => T)() : value;
}

/** A route's class; unknown routes are `read` so that remote peers learn nothing without the token. */
function classOf(routes: Map<string, Map<string, RouteClass>>, method: string, path: string): RouteClass {
  // A preflight never reaches a handler (always 405, no CORS headers): nothing to authenticate.
  if (method === 'OPTIONS') return 'open';
  const methods = routes.get(path);
  return methods?.get(method) ?? methods?.get('POST') ?? 'read';
}

function defaultPeer(c: Context<AppEnv>): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined; // not served by node-server: an unknown peer is treated as remote
  }
}

/** Whether a request declares a body: a non-zero length, chunked encoding, or a content type. */
function hasBody(c: Context<AppEnv>): boolean {
  const length = c.req.header('content-length');
  if (length !== undefined) return length.trim() !== '0';
  return c.req.header('transfer-encoding') !== undefined || c.req.header('content-type') !== undefined;
}

function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER';
}

// The client header ends up in `acked_by` and the audit trail: keep it a short plain label.
function clientLabel(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const label = value
    .trim()
    .slice(0, 64)
    .replace(/[^A-Za-z0-9._:-]/g, '_');
  return label === '' ? undefined : label;
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

function requestIdOf(header: string | undefined): string {
  return header !== undefined && REQUEST_ID_RE.test(header) ? header : uuidv7();
}

/** A UUIDv7: 48 bits of Unix ms, then randomness (from a v4 UUID, whose variant bits already fit). */
function uuidv7(): string {
  const random = randomUUID();
  const ts = Date.now().toString(16).padStart(12, '0').slice(-12);
  return `${ts.slice(0, 8)}-${ts.slice(8, 12)}-7${random.slice(15)}`;
}

function harden(c: Context<AppEnv>): void {
  const apply = (headers: Headers) => {
    headers.set('Cache-Control', 'no-store');
    headers.set('X-Content-Type-Options', 'nosniff');
    headers.set('X-Request-Id', c.get('requestId'));
    for (const name of [...headers.keys()]) {
      if (name.toLowerCase().startsWith('access-control-')) headers.delete(name);
    }
  };
  try {
    apply(c.res.headers);
  } catch {
    // Some responses carry immutable headers; copy them into a fresh response.
    c.res = new Response(c.res.body, c.res);
    apply(c.res.headers);
  }
}

function errorResponse(c: Context<AppEnv>, error: RestApiError): Response {
  const body: Record<string, unknown> = {
    code: error.code,
    message: error.message,
    request_id: c.get('requestId'),
  };
  if (error.details !== undefined) body.details = error.details;
  return c.json({ error: body }, error.status, error.headers);
}
