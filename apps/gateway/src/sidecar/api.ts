import type { AuditStore } from '@defenseclaw/audit-store';
import type { GatewayClient } from '@defenseclaw/gateway-client';
import type { GuardrailProxy } from '@defenseclaw/guardrail-proxy';
import type { PolicyEngine } from '@defenseclaw/policy';
import type { Logger } from '@defenseclaw/protocol';
import {
  createMetrics,
  createRestApi,
  createRuntimeEnforcer,
  type GatewayRpc,
  type Metrics,
  type ProviderRegistry,
  type ProvidersView,
  type QueueingRuntimeEnforcer,
  type RestApi,
} from '@defenseclaw/rest-api';
import type { Config } from '../config/schema.ts';
import type { HealthRegistry } from './health.ts';
import type { ReloadOutcome } from './reload.ts';

/** What the management API is built from; getters because hot reload swaps config, and the client comes later. */
export type SidecarApiSources = {
  health: HealthRegistry;
  config: () => Config;
  dataDir: string;
  version: string;
  store: AuditStore;
  engine: PolicyEngine;
  client: () => GatewayClient | undefined;
  proxy: () => GuardrailProxy | undefined;
  env: NodeJS.ProcessEnv;
  status: () => unknown;
  reload: () => Promise<ReloadOutcome>;
  /** Starts the graceful shutdown of the whole process (admin route). */
  shutdown: () => void;
  isShuttingDown: () => boolean;
  logger: Logger;
  /** The registry the sidecar's telemetry feeds; without one, a registry is created when `telemetry.metrics`. */
  metrics?: Metrics;
};

/** The API app plus the parts the sidecar keeps feeding. */
export type SidecarApi = {
  app: RestApi;
  metrics: Metrics | undefined;
  enforcer: QueueingRuntimeEnforcer;
};

/**
 * Composes `@defenseclaw/rest-api` over the sidecar's parts (spec 20 §6): health, `/status`, the audit store, the
 * policy engine with serialised reload, the OpenClaw connection for the passthrough routes, the guardrail's
 * provider registry and the Prometheus registry.
 */
export function createSidecarApi(s: SidecarApiSources): SidecarApi {
  const gateway: GatewayRpc = {
    connected: () => s.client()?.state === 'connected',
    request: (method, params, options) => {
      const client = s.client();
      if (client === undefined) return Promise.reject(new Error('not connected to OpenClaw'));
      return client.request(method, params, { timeoutMs: options.timeoutMs, signal: options.signal });
    },
    setPluginEnabled: (name, enabled, options) => {
      const client = s.client();
      if (client === undefined) return Promise.reject(new Error('not connected to OpenClaw'));
      const call = { timeoutMs: options.timeoutMs, signal: options.signal };
      return enabled ? client.enablePlugin(name, call) : client.disablePlugin(name, call);
    },
  };
  const enforcer = createRuntimeEnforcer(gateway, { logger: s.logger });
  // A registry handed in always exists, so `/metrics` follows telemetry.metrics across hot reloads.
  const metrics =
    s.metrics ?? (s.config().telemetry.metrics ? createMetrics({ version: s.version }) : undefined);
  if (metrics !== undefined) {
    metrics.beforeScrape(() => {
      metrics.setSubsystemStates(s.health.snapshot());
      const stats = s.store.stats;
      metrics.auditQueueDepth.set(stats.queueDepth);
      metrics.auditQueueCapacity.set(stats.queueCapacity);
      metrics.gatewayConnected.set(s.client()?.state === 'connected' ? 1 : 0);
      metrics.proxyOpenStreams.set(s.proxy()?.stats().open_streams ?? 0);
    });
  }
  const providers: ProviderRegistry | undefined = s.config().guardrail.enabled
    ? {
        list: () => providersView(s.proxy(), s.config()),
        reload: async () => {
          const outcome = await s.reload();
          return outcome.success
            ? { success: true, view: providersView(s.proxy(), s.config()) }
            : { success: false, errors: [outcome.error] };
        },
      }
    : undefined;
  const app = createRestApi(
    {
      health: s.health,
      status: s.status,
      store: s.store,
      policy: {
        engine: s.engine,
        settings: () => {
          const config = s.config();
          return {
            mode: config.policy.mode,
            profile: config.policy.profile,
            failMode: config.policy.fail_mode,
            budgetMs: config.policy.scan.budget_ms,
          };
        },
        reload: async () => {
          const outcome = await s.reload();
          if (outcome.success) return { success: true, restartRequired: outcome.restartRequired };
          return {
            success: false,
            code:
              outcome.code === 'reload_in_progress'
                ? 'reload_in_progress'
                : outcome.code === 'invalid_config'
                  ? 'config_invalid'
                  : 'policy_invalid',
            errors: outcome.error.split('\n').filter((line) => line.trim() !== ''),
          };
        },
      },
      gateway,
      enforcer,
      ...(providers === undefined ? {} : { providers }),
      ...(metrics === undefined ? {} : { metrics }),
      shutdown: s.shutdown,
      isShuttingDown: s.isShuttingDown,
    },
    {
      port: () => s.config().gateway.api_port,
      apiHost: s.config().gateway.api_host,
      token: () => s.env[s.config().gateway.api_token_env],
      requireTokenForReads: () => s.config().gateway.api_require_token_for_reads,
      allowedHosts: () => s.config().gateway.api_allowed_hosts,
      metricsEnabled: () => s.config().telemetry.metrics,
      commitTimeoutMs: () => s.config().audit.enqueue_timeout_ms,
      identity: { pid: process.pid, dataDir: s.dataDir },
      logger: s.logger,
    },
  );
  return { app, metrics, enforcer };
}

// --- internal ---

function providersView(proxy: GuardrailProxy | undefined, config: Config): ProvidersView {
  const views = proxy?.providers() ?? [];
  return {
    providers: views.map((view) => ({
      name: view.name,
      baseUrl: view.base_url,
      flavour: view.flavour,
      apiKeyEnv: view.api_key_env ?? undefined,
      keyPresent: view.key_present,
      models: view.models,
    })),
    models: Object.fromEntries(
      Object.entries(config.guardrail.aliases).map(([alias, target]) => [alias, { ...target }]),
    ),
    defaultProvider: config.guardrail.default_provider,
  };
}
