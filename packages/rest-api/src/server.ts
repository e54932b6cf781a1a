// Server-level limits of the API listener (spec 20 §6.2), for whoever creates the node HTTP server.
import type { Server } from 'node:http';

/** The listener timeouts of spec 20 §6.2. */
export const SERVER_TIMEOUTS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
} as const;

/**
 * Applies the spec's header, request and keep-alive timeouts to a node HTTP server.
 *
 * @example
 * const server = createAdaptorServer({ fetch: api.fetch }) as Server;
 * applyServerTimeouts(server);
 */
export function applyServerTimeouts(server: Server): Server {
  server.headersTimeout = SERVER_TIMEOUTS.headersTimeoutMs;
  server.requestTimeout = SERVER_TIMEOUTS.requestTimeoutMs;
  server.keepAliveTimeout = SERVER_TIMEOUTS.keepAliveTimeoutMs;
  return server;
}
