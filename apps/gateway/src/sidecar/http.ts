import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import type { HealthRegistry } from './health.ts';

/** Why a listener could not bind; the CLI maps `EADDRINUSE` to exit code 4. */
export class BindError extends Error {
  override readonly name = 'BindError';
  /** The system error code, e.g. `EADDRINUSE`. */
  readonly code: string;
  /** The address that could not be bound, `host:port`. */
  readonly address: string;
  /** The config key that sets the port, e.g. `gateway.api_port`. */
  readonly configKey: string;

  constructor(code: string, address: string, configKey: string, cause?: unknown) {
    const what =
      code === 'EADDRINUSE' ? 'address already in use' : code === 'EACCES' ? 'permission denied' : code;
    super(`bind: ${what}: ${address} (${configKey})`, { cause });
    this.code = code;
    this.address = address;
    this.configKey = configKey;
  }
}

/** Tells whether a value is a `BindError`. */
export function isBindError(value: unknown): value is BindError {
  return value instanceof BindError;
}

/** Builds the hono app serving `GET /health` (`?strict=1` answers 503 when an enabled subsystem failed). */
export function createHealthApp(health: HealthRegistry, hooks: { onRequest?: () => void } = {}): Hono {
  const app = new Hono();
  app.use(async (_c, next) => {
    hooks.onRequest?.();
    await next();
  });
  app.get('/health', (c) => {
    const strict = c.req.query('strict');
    const failing = strict === '1' || strict === 'true' ? health.failing() : [];
    return c.json(health.snapshot(), failing.length > 0 ? 503 : 200);
  });
  app.notFound((c) =>
    c.json({ error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } }, 404),
  );
  app.onError((_error, c) => c.json({ error: { code: 'internal', message: 'internal error' } }, 500));
  return app;
}

/** A listening HTTP server. */
export type HttpListener = {
  /** The bound address as `host:port` (IPv6 in brackets). */
  readonly address: string;
  /** The bound port (useful when 0 was asked for). */
  readonly port: number;
  /** Stops accepting, destroys idle sockets at once and busy ones after `graceMs`. */
  close(graceMs?: number): Promise<void>;
};

/** Options of `listenHttp`. */
export type ListenHttpOptions = {
  host: string;
  port: number;
  /** The config key named in a bind failure. @default 'gateway.api_port' */
  configKey?: string;
};

/**
 * Serves a hono app on `host:port`, resolving once listening.
 *
 * @throws BindError when the address cannot be bound (`EADDRINUSE` for a taken port).
 */
export async function listenHttp(app: Hono, options: ListenHttpOptions): Promise<HttpListener> {
  const configKey = options.configKey ?? 'gateway.api_port';
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(
        new BindError(error.code ?? 'EUNKNOWN', formatAddress(options.host, options.port), configKey, error),
      );
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(options.port, options.host);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    address: formatAddress(options.host, port),
    port,
    close: (graceMs = 1000) =>
      new Promise<void>((resolve) => {
        if (!server.listening) {
          resolve();
          return;
        }
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

// --- internal ---

function formatAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}
