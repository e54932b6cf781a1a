import { join } from 'node:path';
import { createGatewayClient, type GatewayClient, readOpenClawToken } from '@defenseclaw/gateway-client';
import { createNormalizer } from '@defenseclaw/protocol';
import { writeEnvVar } from '../config/env-file.ts';
import { displayPath } from '../config/paths.ts';
import type { Config } from '../config/schema.ts';
import { describeToken, resolveGatewayToken } from '../config/token.ts';
import type { AppLogger } from '../logger.ts';
import { formatRecord } from './format-record.ts';
import { bindGatewayHealth, type GatewayHealthBinding } from './gateway-health.ts';
import { createHealthRegistry, type HealthRegistry, SUBSYSTEMS } from './health.ts';
import { createHealthApp, type HttpListener, listenHttp } from './http.ts';

/** How long `close()` may take before it gives up waiting (spec: the process exits within 2 s of a signal). */
export const CLOSE_BUDGET_MS = 1800;

/** Options of `createSidecar`. */
export type SidecarOptions = {
  /** The app logger; the sidecar logs under its own subsystems. */
  logger: AppLogger;
  /** The absolute data dir (`.env` lives there). */
  dataDir: string;
  /** The version reported to OpenClaw as `client.version`. */
  clientVersion: string;
  /** Environment for token resolution. @default process.env */
  env?: NodeJS.ProcessEnv;
};

/** The running composition of health registry, HTTP listener and gateway client. */
export type Sidecar = {
  /** The health map served on `GET /health`. */
  readonly health: HealthRegistry;
  /** The API address once started, `host:port`. */
  readonly address: string | undefined;
  /** Binds the API and starts the gateway client; throws `BindError` when the API port is taken. */
  start(): Promise<void>;
  /** Stops everything within `CLOSE_BUDGET_MS`; safe to call twice. */
  close(): Promise<void>;
};

// Subsystems of later releases: what the operator reads in `details.reason` until they arrive.
const NOT_BUILT = {
  audit: 'not built yet: the SQLite audit store arrives with @defenseclaw/audit-store; nothing is recorded',
  policy:
    'not built yet: the policy engine arrives with @defenseclaw/policy; tool calls are logged, not judged',
  watcher: 'not built yet: the skill watcher arrives in a later release',
  guardrail: 'not built yet: the LLM guardrail proxy arrives with @defenseclaw/guardrail-proxy',
  telemetry: 'not built yet: /metrics arrives with the REST API',
  splunk: 'not built yet: the Splunk HEC forwarder arrives with the audit store',
} as const;

/**
 * Composes the sidecar: health registry, `GET /health` listener, gateway client and normaliser, logging one line
 * per tool call, tool result and approval request.
 *
 * @example
 * ```ts
 * const sidecar = createSidecar(config, { logger, dataDir, clientVersion: '0.1.0' });
 * await sidecar.start();
 * process.once('SIGTERM', () => void sidecar.close());
 * ```
 */
export function createSidecar(config: Config, options: SidecarOptions): Sidecar {
  const env = options.env ?? process.env;
  const log = options.logger.child('sidecar');
  const gatewayLog = options.logger.child('gateway');
  const eventLog = options.logger.child('events');
  const health = createHealthRegistry();
  const envFile = join(options.dataDir, '.env');
  let listener: HttpListener | undefined;
  let client: GatewayClient | undefined;
  let binding: GatewayHealthBinding | undefined;
  let requests = 0;
  let refreshedToken: string | undefined;
  let closing: Promise<void> | undefined;

  const markStatic = () => {
    health.set('sandbox', 'disabled', { details: { reason: 'not supported in this build' } });
    health.set('audit', 'disabled', { details: { reason: NOT_BUILT.audit } });
    health.set('policy', 'disabled', { details: { reason: NOT_BUILT.policy } });
    health.set('watcher', 'disabled', {
      details: {
        reason: config.gateway.watcher.enabled
          ? NOT_BUILT.watcher
          : 'disabled by config (gateway.watcher.enabled: false)',
      },
    });
    health.set('guardrail', 'disabled', {
      details: {
        reason: config.guardrail.enabled
          ? NOT_BUILT.guardrail
          : 'disabled by config (guardrail.enabled: false)',
      },
    });
    health.set('telemetry', 'disabled', {
      details: {
        reason: config.telemetry.metrics
          ? NOT_BUILT.telemetry
          : 'disabled by config (telemetry.metrics: false)',
      },
    });
    health.set('splunk', 'disabled', {
      details: {
        reason: config.splunk.enabled ? NOT_BUILT.splunk : 'disabled by config (splunk.enabled: false)',
      },
    });
    if (config.guardrail.enabled)
      log.warn(
        'guardrail.enabled is true, but this build has no LLM proxy; nothing listens on guardrail.port',
      );
    if (config.splunk.enabled)
      log.warn('splunk.enabled is true, but this build has no Splunk forwarder; nothing is sent');
  };

  const currentToken = () => refreshedToken ?? resolveGatewayToken(config, env).token;

  const persistRefreshedToken = async (source: string) => {
    // The event names the file the client read; read it again for the value, which events never carry.
    const read = await readOpenClawToken({ configPath: source, env });
    if (!read.success) {
      gatewayLog.warn('token refreshed by the client, but it could not be re-read for .env', {
        reason: read.message,
      });
      return;
    }
    refreshedToken = read.token;
    options.logger.addSecret(read.token);
    try {
      writeEnvVar(envFile, 'OPENCLAW_GATEWAY_TOKEN', read.token);
      gatewayLog.info(
        `gateway token refreshed from ${displayPath(read.path)}; saved to ${displayPath(envFile)}`,
        {
          token: describeToken(read.token),
        },
      );
    } catch (error) {
      gatewayLog.warn(`gateway token refreshed, but saving it to ${displayPath(envFile)} failed`, {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  };

  const startClient = () => {
    const { gateway } = config;
    const scheme = gateway.tls ? 'wss' : 'ws';
    const host =
      gateway.host.includes(':') && !gateway.host.startsWith('[') ? `[${gateway.host}]` : gateway.host;
    const url = `${scheme}://${host}:${gateway.port}`;
    const resolved = resolveGatewayToken(config, env);
    options.logger.addSecret(resolved.token);
    if (resolved.token === undefined) {
      gatewayLog.warn(
        `no OpenClaw gateway token set; put OPENCLAW_GATEWAY_TOKEN in ${displayPath(envFile)} unless the gateway runs without auth`,
      );
    }
    gatewayLog.info(`connecting to OpenClaw at ${url}`, {
      token: describeToken(resolved.token),
      ...(resolved.source === undefined ? {} : { token_source: resolved.source }),
    });
    const normalizer = createNormalizer({ logger: eventLog });
    const created = createGatewayClient({
      url,
      token: currentToken,
      deviceKeyFile: gateway.device_key_file,
      ...(config.claw.config_file === undefined ? {} : { openclawConfigPath: config.claw.config_file }),
      clientVersion: options.clientVersion,
      reconnect: { initialDelayMs: gateway.reconnect_ms, maxDelayMs: gateway.max_reconnect_ms },
      logger: gatewayLog,
      env,
    });
    client = created;
    binding = bindGatewayHealth(created, health, { url, mask: maskSecrets });
    // The client logs connects, drops, failures and shutdowns itself (once per distinct cause).
    created.on('token-refreshed', ({ source }) => {
      void persistRefreshedToken(source);
    });
    created.on('event', ({ name, payload }) => {
      const record = normalizer.push(name, payload);
      if (record !== undefined) eventLog.info(formatRecord(record));
    });
    created.start();
  };

  // Health text may quote server messages; make sure no known token survives in it.
  const maskSecrets = (text: string) => {
    const token = currentToken();
    return token !== undefined && token.length >= 6 ? text.split(token).join('[REDACTED]') : text;
  };

  return {
    health,
    get address() {
      return listener?.address;
    },
    async start() {
      markStatic();
      health.set('api', 'starting');
      const app = createHealthApp(health, {
        onRequest: () => {
          requests += 1;
          health.patch('api', { requests });
        },
      });
      try {
        listener = await listenHttp(app, { host: config.gateway.api_host, port: config.gateway.api_port });
      } catch (error) {
        health.set('api', 'error', { lastError: error instanceof Error ? error.message : String(error) });
        throw error;
      }
      health.set('api', 'running', { details: { addr: listener.address, routes: ['/health'], requests } });
      log.info(`API listening on ${listener.address}`, { routes: '/health' });
      if (config.gateway.connect) {
        startClient();
      } else {
        health.set('gateway', 'disabled', {
          details: { reason: 'disabled by config (gateway.connect: false)' },
        });
        gatewayLog.info('not connecting to OpenClaw (gateway.connect: false)');
      }
    },
    close() {
      closing ??= (async () => {
        for (const key of SUBSYSTEMS) {
          if (key !== 'gateway' && health.get(key).state !== 'disabled') health.set(key, 'stopped');
        }
        binding?.stop();
        let timer: NodeJS.Timeout | undefined;
        const finished = await Promise.race([
          Promise.allSettled([client?.close(), listener?.close(Math.floor(CLOSE_BUDGET_MS / 2))]).then(
            () => true,
          ),
          new Promise<false>((resolve) => {
            timer = setTimeout(() => resolve(false), CLOSE_BUDGET_MS);
          }),
        ]);
        clearTimeout(timer);
        if (finished) log.info('stopped');
        else log.warn(`shutdown did not finish within ${CLOSE_BUDGET_MS} ms; giving up waiting`);
      })();
      return closing;
    },
  };
}
