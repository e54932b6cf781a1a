import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { applyServerTimeouts } from '@defenseclaw/rest-api';
import { createAdaptorServer } from '@hono/node-server';

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

/** Anything with a WHATWG `fetch` handler, such as a hono app. */
export type FetchApp = { fetch: (request: Request, ...rest: never[]) => Response | Promise<Response> };

/**
 * Serves a hono app on `host:port` with the API's server timeouts, resolving once listening.
 *
 * @throws BindError when the address cannot be bound (`EADDRINUSE` for a taken port).
 */
export async function listenHttp(app: FetchApp, options: ListenHttpOptions): Promise<HttpListener> {
  const configKey = options.configKey ?? 'gateway.api_port';
  const server = createAdaptorServer({
    fetch: app.fetch as (request: Request) => Response | Promise<Response>,
  }) as Server;
  applyServerTimeouts(server);
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
