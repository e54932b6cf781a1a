// What every route module gets from `createRestApi`: the deps, resolved settings and a registration function.
import type { Context } from 'hono';
import type { AppEnv, RouteClass } from './_http.ts';
import type { InspectCommit, Logger, RestApiDeps } from './deps.ts';
import type { Metrics } from './metrics.ts';

/** A route handler. */
export type Handler = (c: Context<AppEnv>) => Response | Promise<Response>;

/** The methods routes are registered for (HEAD follows GET). */
export type Method = 'GET' | 'POST' | 'DELETE';

/** The shared state of one API instance. */
export type ApiContext = {
  deps: RestApiDeps;
  log: Logger;
  metrics: Metrics | undefined;
  /** Wall clock, Unix ms. */
  now: () => number;
  commit: InspectCommit;
  /** How long a gateway RPC may take before 504. */
  rpcTimeoutMs: number;
  /** How long an inspect commit may take before 503 `audit_unavailable`. */
  commitTimeoutMs: () => number;
  maxInspectInFlight: number;
  rateLimit: { perSecond: number; burst: number };
  identity: { pid: number; dataDir: string };
  metricsEnabled: () => boolean;
  /** Set once the admin route started a shutdown. */
  shutdown: { started: boolean };
  /** Registers a route with its access class. */
  route(method: Method, path: string, cls: RouteClass, handler: Handler): void;
};
