import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type AuditStore, openAuditStore } from '@defenseclaw/audit-store';
import { createGatewayClient, type GatewayClient, readOpenClawToken } from '@defenseclaw/gateway-client';
import {
  createGuardrailProxy,
  type GuardrailProxy,
  isGuardrailProxyError,
} from '@defenseclaw/guardrail-proxy';
import { createEngine, maskSecrets, type PolicyEngine } from '@defenseclaw/policy';
import { createNormalizer } from '@defenseclaw/protocol';
import { createMetrics } from '@defenseclaw/rest-api';
import { CliError, EXIT_CODES } from '../cli-error.ts';
import { writeEnvVar } from '../config/env-file.ts';
import { gatewayUrl } from '../config/gateway-url.ts';
import { isLoopbackHost } from '../config/load.ts';
import { displayPath } from '../config/paths.ts';
import type { Config } from '../config/schema.ts';
import { EVIDENCE_KEY_ENV, ensureMasterKey, ensureSidecarSecrets } from '../config/secrets.ts';
import { describeToken, resolveGatewayToken } from '../config/token.ts';
import type { AppLogger } from '../logger.ts';
import { createSidecarApi, type SidecarApi } from './api.ts';
import { type AuditHealth, createAuditHealth } from './audit-health.ts';
import { formatRecord } from './format-record.ts';
import { bindGatewayHealth, type GatewayHealthBinding } from './gateway-health.ts';
import { createHealthRegistry, type HealthRegistry, SUBSYSTEMS } from './health.ts';
import { BindError, type HttpListener, listenHttp } from './http.ts';
import { createInspectionPipeline, type InspectionPipeline, inspectionSettings } from './inspection.ts';
import { loadSidecarPolicy } from './policy-setup.ts';
import { proxyAuditRecord } from './proxy-audit.ts';
import { createReloader, type ReloadOutcome, type ReloadTrigger } from './reload.ts';
import { createSplunkService } from './splunk.ts';
import { buildStatus } from './status.ts';
import { createTelemetry, reportTelemetryHealth, type Telemetry } from './telemetry.ts';
import { createSkillWatcher, type SkillWatcher, watcherSettings } from './watcher.ts';

/** How often expired audit events are deleted (`audit.retention_days`); the first run is a minute after start. */
export const RETENTION_INTERVAL_MS = 60 * 60_000;

/** How long `close()` may take before it gives up waiting (spec: the process exits within 2 s of a signal). */
export const CLOSE_BUDGET_MS = 1800;

/** How often health details are refreshed from the store and pipeline counters. */
export const HEALTH_REFRESH_MS = 500;

/** Options of `createSidecar`. */
export type SidecarOptions = {
  /** The app logger; the sidecar logs under its own subsystems. */
  logger: AppLogger;
  /** The absolute data dir (`.env` lives there). */
  dataDir: string;
  /** The version reported to OpenClaw as `client.version`. */
  clientVersion: string;
  /** Environment for token resolution and the generated secrets. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** The absolute path of `config.yaml`, re-read by hot reload. @default `<dataDir>/config.yaml` */
  configPath?: string;
  /** The variables `.env` supplied at start; a reload may rotate them. @default [] */
  envFileVars?: readonly string[];
  /** Ends the process gracefully (`POST /admin/shutdown`); `run` sends itself SIGTERM. @default close() */
  requestShutdown?: () => void;
};

/** The running composition of audit store, policy engine, health registry, HTTP listener and gateway client. */
export type Sidecar = {
  /** The health map served on `GET /health`. */
  readonly health: HealthRegistry;
  /** The API address once started, `host:port`. */
  readonly address: string | undefined;
  /** The audit store once opened (tests read it). */
  readonly store: AuditStore | undefined;
  /** The live inspection pipeline once started. */
  readonly inspection: InspectionPipeline | undefined;
  /**
   * Opens the audit store, compiles the policy, binds the API and starts the gateway client (spec 20 §2.6).
   *
   * @throws CliError exit 1 when the audit store cannot open, exit 3 for an invalid rule pack; `BindError` when the
   * API port is taken.
   */
  start(): Promise<void>;
  /** Stops everything within `CLOSE_BUDGET_MS`, draining the audit queue last; safe to call twice. */
  close(): Promise<void>;
  /** Hot-reloads `.env`, `config.yaml` and the rule packs (SIGHUP, `POST /policy/reload`); all-or-nothing. */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome>;
  /** The running configuration (restart-only keys as started). */
  readonly config: Config;
};

/**
 * Composes the sidecar (spec 20 §2.6): audit store → policy engine (bundled + operator packs, lists from the store,
 * evidence key from `.env`) → `GET /health` listener → gateway client feeding the inspection pipeline, which
 * judges every tool call, tool result and exec approval and records it.
 *
 * @example
 * ```ts
 * const sidecar = createSidecar(config, { logger, dataDir, clientVersion: '0.1.0' });
 * await sidecar.start();
 * process.once('SIGTERM', () => void sidecar.close());
 * ```
 */
export function createSidecar(initialConfig: Config, options: SidecarOptions): Sidecar {
  // Replaced by hot reload; closures read the latest value (restart-only keys never change in it).
  let config = initialConfig;
  const env = options.env ?? process.env;
  const log = options.logger.child('sidecar');
  const gatewayLog = options.logger.child('gateway');
  const eventLog = options.logger.child('events');
  const policyLog = options.logger.child('policy');
  const auditLog = options.logger.child('audit');
  const health = createHealthRegistry();
  const envFile = join(options.dataDir, '.env');
  let retentionTimer: NodeJS.Timeout | undefined;
  let lastPolicyError: string | undefined;
  const reloader = createReloader({
    dataDir: options.dataDir,
    configPath: options.configPath ?? join(options.dataDir, 'config.yaml'),
    envFile,
    env,
    envFileVars: options.envFileVars ?? [],
    current: () => config,
    logger: policyLog,
    apply: (next, loaded) => {
      for (const warning of loaded.warnings) policyLog.warn(warning.message);
      config = next;
      if (engine !== undefined) {
        engine.swap(loaded.policy);
        if (store !== undefined) engine.setLists({ entries: store.lists.entries(Date.now()) });
        lastPolicyError = undefined;
        reportPolicy(engine, loaded.packDirs);
      }
      pipeline?.setSettings(inspectionSettings(next));
      watcher?.setSettings(watcherSettings(next));
      if (proxy !== undefined) {
        const swapped = proxy.reloadProviders(next.guardrail);
        if (!swapped.success)
          log.error(`guardrail: provider registry not reloaded:\n  ${swapped.errors.join('\n  ')}`);
      }
      store?.configure({
        capture: next.audit.capture,
        maxPayloadBytes: next.audit.max_payload_bytes,
        enqueueTimeoutMs: next.audit.enqueue_timeout_ms,
      });
      if (api !== undefined) reportTelemetryHealth(health, next);
      // A new forwarder picks up splunk.* and a rotated token; after a 401 this is the immediate retry (§9.2).
      if (store !== undefined) void splunk.restart();
    },
  });
  let listener: HttpListener | undefined;
  let client: GatewayClient | undefined;
  let binding: GatewayHealthBinding | undefined;
  let store: AuditStore | undefined;
  let engine: PolicyEngine | undefined;
  let pipeline: InspectionPipeline | undefined;
  let proxy: GuardrailProxy | undefined;
  let watcher: SkillWatcher | undefined;
  let telemetry: Telemetry | undefined;
  // Forwards committed audit events to Splunk HEC when splunk.enabled; restarted by every reload.
  const splunk = createSplunkService({
    health,
    config: () => config,
    env,
    version: options.clientVersion,
    logger: options.logger.child('splunk'),
    addSecret: (value) => options.logger.addSecret(value),
    onBatch: (info) => telemetry?.splunkBatch(info),
  });
  let api: SidecarApi | undefined;
  let auditHealth: AuditHealth | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let offPressure: (() => void) | undefined;
  let connId: string | undefined;
  let refreshedToken: string | undefined;
  let startedAt: number | undefined;
  // sidecar.stop pairs with a recorded sidecar.start; a start that failed half-way records neither.
  let startRecorded = false;
  let closing: Promise<void> | undefined;

  const markStatic = () => {
    health.set('sandbox', 'disabled', { details: { reason: 'not supported in this build' } });
    // The watcher reports its own entry once started (refreshHealth); until then it is starting or disabled.
    if (!config.gateway.watcher.enabled)
      health.set('watcher', 'disabled', {
        details: { reason: 'disabled by config (gateway.watcher.enabled: false)' },
      });
    if (!config.guardrail.enabled)
      health.set('guardrail', 'disabled', {
        details: { reason: 'disabled by config (guardrail.enabled: false)' },
      });
    // The Splunk service reports its own entry once started (after the store opens).
    if (!config.splunk.enabled)
      health.set('splunk', 'disabled', { details: { reason: 'disabled by config (splunk.enabled: false)' } });
  };

  const openStore = (): AuditStore => {
    const path = config.audit.path;
    health.set('audit', 'starting', { details: { path: displayPath(path) } });
    try {
      const opened = openAuditStore({
        path,
        synchronous: config.audit.synchronous,
        queueSize: config.audit.queue_size,
        batchMax: config.audit.batch_max,
        flushIntervalMs: config.audit.flush_interval_ms,
        enqueueTimeoutMs: config.audit.enqueue_timeout_ms,
        capture: config.audit.capture,
        maxPayloadBytes: config.audit.max_payload_bytes,
        version: options.clientVersion,
        logger: auditLog,
      });
      return opened;
    } catch (error) {
      // The store's messages start with "audit: cannot open <path>: "; keep only the cause.
      const message = (error instanceof Error ? error.message : String(error))
        .replace(/^audit: /, '')
        .replace(`cannot open ${path}: `, '');
      health.set('audit', 'error', { lastError: message });
      throw new CliError(EXIT_CODES.RUNTIME, `audit: cannot open ${displayPath(path)}: ${message}`, {
        cause: error,
      });
    }
  };

  const startPolicy = async (opened: AuditStore): Promise<PolicyEngine> => {
    health.set('policy', 'starting', {
      details: { profile: config.policy.profile, mode: config.policy.mode },
    });
    const loaded = await loadSidecarPolicy(config, policyLog);
    for (const warning of loaded.warnings) policyLog.warn(warning.message);
    const secrets = ensureSidecarSecrets({ envFile, apiTokenEnv: config.gateway.api_token_env, env });
    options.logger.addSecret(env[EVIDENCE_KEY_ENV]);
    options.logger.addSecret(secrets.apiToken);
    for (const name of secrets.generated) log.info(`generated ${name} into ${displayPath(envFile)}`);
    for (const warning of secrets.warnings) log.warn(warning);
    const created = createEngine(loaded.policy, {
      evidenceKey: secrets.evidenceKey,
      lists: { entries: opened.lists.entries(Date.now()) },
    });
    reportPolicy(created, loaded.packDirs);
    return created;
  };

  const reportPolicy = (current: PolicyEngine, packDirs: readonly string[]) => {
    const generation = current.generation;
    const entries = store?.lists.entries(Date.now()) ?? [];
    health.set('policy', 'running', {
      details: {
        profile: config.policy.profile,
        mode: config.policy.mode,
        generation: {
          id: generation.id,
          digest: generation.digest,
          loaded_at: new Date(generation.loadedAt).toISOString(),
        },
        last_error: lastPolicyError,
        packs: generation.packs.map((pack) => `${pack.name}@${pack.version}`),
        pack_dirs: packDirs.map((dir) => displayPath(dir)),
        rules: current.stats.rules,
        lists: {
          block: entries.filter((entry) => entry.action === 'block').length,
          allow: entries.filter((entry) => entry.action === 'allow').length,
        },
      },
    });
    policyLog.info(
      `policy generation ${generation.id} loaded: ${current.stats.rules} rules in ${current.stats.packs} packs`,
      { mode: config.policy.mode, profile: config.policy.profile },
    );
  };

  const refreshHealth = () => {
    auditHealth?.refresh();
    splunk.refresh();
    if (api !== undefined && health.get('api').state === 'running') {
      const a = api.app.stats;
      health.patch('api', {
        requests: a.requests,
        in_flight: a.inFlight,
        auth_failures: a.authFailures,
        require_token_for_reads: config.gateway.api_require_token_for_reads,
      });
    }
    if (proxy !== undefined) {
      const entry = proxy.health();
      health.set('guardrail', entry.state, { lastError: entry.last_error, details: entry.details });
    }
    if (watcher !== undefined && closing === undefined) {
      const entry = watcher.health();
      health.set('watcher', entry.state, { lastError: entry.lastError, details: entry.details });
    }
    if (pipeline === undefined || health.get('gateway').state === 'disabled') return;
    const s = pipeline.stats;
    health.patch('gateway', {
      events: s.events,
      verdicts_by_action: { ...s.verdictsByAction },
      would_block: s.wouldBlock,
      approval_decisions: { ...s.decisions },
      denials: s.denials,
      auto_approvals: s.autoApprovals,
      approvals_pending: s.approvalsPending,
      unrecorded_enforcements: s.unrecordedEnforcements,
      resolve_failures: s.resolveFailures,
    });
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

  const startClient = (inspection: InspectionPipeline) => {
    const { gateway } = config;
    const url = gatewayUrl(config);
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
    telemetry?.bindClient(created);
    // The client logs connects, drops, failures and shutdowns itself (once per distinct cause).
    created.on('token-refreshed', ({ source }) => {
      void persistRefreshedToken(source);
    });
    created.on('connected', ({ hello }) => {
      connId = hello.server?.connId;
      if (api !== undefined && api.enforcer.pending > 0) void api.enforcer.flush();
      // Re-learns the skill dirs from skills.status on every (re)connect and sends queued disables (spec 20 §8.1).
      void watcher?.onConnected();
    });
    created.on('disconnected', () => {
      connId = undefined;
      watcher?.onDisconnected();
    });
    created.on('event', (event) => {
      inspection.push(event, connId);
      watcher?.onGatewayEvent(event.name);
    });
    created.start();
  };

  // Health text may quote server messages; make sure no known token survives in it.
  const maskSecrets = (text: string) => {
    const token = currentToken();
    return token !== undefined && token.length >= 6 ? text.split(token).join('[REDACTED]') : text;
  };

  const recordStart = (opened: AuditStore) => {
    startRecorded = true;
    const previous = opened.previousShutdown;
    void opened
      .enqueue({
        event: {
          ts: Date.now(),
          kind: 'sidecar.start',
          source: 'sidecar',
          summary: `sidecar started (previous shutdown: ${previous})`,
          payload: {
            previous_shutdown: previous,
            version: options.clientVersion,
            pid: process.pid,
            policy_generation: engine?.generation.id,
            mode: config.policy.mode,
          },
        },
      })
      .catch((error: unknown) => auditLog.warn('sidecar.start was not recorded', { error: String(error) }));
    if (previous === 'unclean') {
      log.warn('the previous run did not shut down cleanly; records queued at that moment may be missing');
    }
  };

  const sidecar: Sidecar = {
    health,
    get address() {
      return listener?.address;
    },
    get store() {
      return store;
    },
    get inspection() {
      return pipeline;
    },
    async start() {
      startedAt = Date.now();
      markStatic();
      health.set('api', 'starting');
      store = openStore();
      auditHealth = createAuditHealth(() => (store as AuditStore).stats, health);
      auditHealth.refresh();
      let pressureWarned = false;
      offPressure = store.onPressure((high) => {
        auditHealth?.setPressure(high);
        // The gateway client cannot pause intake: events keep flowing, enqueues wait up to
        // audit.enqueue_timeout_ms on a full queue, then records are dropped and counted.
        if (high && !pressureWarned) {
          pressureWarned = true;
          auditLog.warn(
            'audit queue above 80 %; events keep flowing (the gateway connection cannot pause) and records that find the queue full for audit.enqueue_timeout_ms are dropped and counted',
          );
        } else if (!high) {
          pressureWarned = false;
        }
      });
      engine = await startPolicy(store);
      const opened = store;
      telemetry = createTelemetry(createMetrics({ version: options.clientVersion }), {
        store: () => opened,
        inspection: () => pipeline?.stats,
        splunk: () => ({ stats: splunk.stats, totals: splunk.totals }),
      });
      pipeline = createInspectionPipeline({
        engine,
        // Every record the WebSocket lanes commit is counted on its way to the store (verdicts, rule hits).
        store: telemetry.observeStore(store),
        settings: inspectionSettings(config),
        mask: maskSecrets,
        logger: eventLog,
        normalizer: createNormalizer({ logger: eventLog }),
        onRecord: (record) => eventLog.info(formatRecord(record)),
        // The client is created after the pipeline (it feeds it); approvals only arrive once it exists.
        resolver: {
          resolveApproval: (id, decision, callOptions) =>
            client === undefined
              ? Promise.reject(new Error('not connected to OpenClaw'))
              : client.resolveApproval(id, decision, callOptions),
        },
      });
      api = createSidecarApi({
        health,
        config: () => config,
        dataDir: options.dataDir,
        version: options.clientVersion,
        store,
        engine,
        client: () => client,
        proxy: () => proxy,
        env,
        status: () => statusPayload(),
        reload: () => sidecar.reload('api'),
        shutdown: () => (options.requestShutdown ?? (() => void sidecar.close()))(),
        isShuttingDown: () => closing !== undefined,
        logger: options.logger.child('api'),
        metrics: telemetry.metrics,
      });
      reportTelemetryHealth(health, config);
      try {
        listener = await listenHttp(api.app, {
          host: config.gateway.api_host,
          port: config.gateway.api_port,
        });
      } catch (error) {
        health.set('api', 'error', { lastError: error instanceof Error ? error.message : String(error) });
        throw error;
      }
      health.set('api', 'running', {
        details: {
          addr: listener.address,
          requests: 0,
          in_flight: 0,
          auth_failures: 0,
          require_token_for_reads: config.gateway.api_require_token_for_reads,
        },
      });
      log.info(`API listening on ${listener.address}`);
      if (config.guardrail.enabled) await startProxy(engine, store);
      if (config.gateway.connect) {
        startClient(pipeline);
      } else {
        health.set('gateway', 'disabled', {
          details: { reason: 'disabled by config (gateway.connect: false)' },
        });
        gatewayLog.info('not connecting to OpenClaw (gateway.connect: false)');
      }
      // Created even when disabled, so that a hot reload can turn it on; start() is synchronous (scans follow).
      watcher = createSkillWatcher({
        engine,
        // Counted like the WebSocket lanes: skill_admission verdicts and rule hits.
        store: telemetry.observeStore(store),
        settings: watcherSettings(config),
        gateway: () => client,
        // skills.status names paths on the OpenClaw host: only watch them when that host is this machine.
        learnDirs: isLoopbackHost(config.gateway.host),
        logger: options.logger.child('watcher'),
        mask: maskSecrets,
        metrics: telemetry.watcher,
      });
      watcher.start();
      refreshHealth();
      recordStart(store);
      splunk.start(store);
      ticker = setInterval(refreshHealth, HEALTH_REFRESH_MS);
      ticker.unref();
      scheduleRetention(60_000);
    },
    close() {
      closing ??= (async () => {
        const deadline = performance.now() + CLOSE_BUDGET_MS;
        clearInterval(ticker);
        clearTimeout(retentionTimer);
        refreshHealth();
        for (const key of SUBSYSTEMS) {
          if (key !== 'gateway' && key !== 'audit' && health.get(key).state !== 'disabled') {
            health.set(key, 'stopped');
          }
        }
        binding?.stop();
        pipeline?.close();
        // The watcher stops with the network side; a scan or disable in flight gets a quarter of the budget.
        const watcherClosed = watcher?.close(Math.floor(CLOSE_BUDGET_MS / 4));
        // The network side gets at most half the budget; the audit drain gets what is left.
        await settleWithin(
          Promise.allSettled([
            watcherClosed,
            client?.close(),
            listener?.close(Math.floor(CLOSE_BUDGET_MS / 3)),
            proxy?.close({ graceMs: Math.floor(CLOSE_BUDGET_MS / 3) }),
            // Before the store closes: an accepted batch in flight still moves the cursor.
            splunk.close(),
          ]),
          Math.floor(CLOSE_BUDGET_MS / 2),
        );
        // Decisions already on their way to the store finish before the drain starts.
        await pipeline?.idle(Math.max(0, Math.min(200, deadline - performance.now() - 600)));
        let finished = true;
        if (store !== undefined) {
          offPressure?.();
          finished = await closeStore(store, deadline);
        }
        telemetry?.close();
        if (performance.now() > deadline) finished = false;
        if (finished) log.info('stopped');
        else log.warn(`shutdown did not finish within ${CLOSE_BUDGET_MS} ms; giving up waiting`);
      })();
      return closing;
    },
    async reload(trigger) {
      const outcome = await reloader.reload(trigger);
      if (outcome.success) {
        policyLog.info(
          `reloaded (${trigger}): policy generation ${outcome.generation.id}; ${outcome.applied.length} key(s) applied` +
            (outcome.restartRequired.length > 0
              ? `; restart required for ${outcome.restartRequired.join(', ')}`
              : ''),
        );
        recordReload('config.reload', {
          trigger,
          applied: outcome.applied,
          restart_required: outcome.restartRequired,
        });
      } else if (outcome.code !== 'reload_in_progress') {
        lastPolicyError = outcome.error;
        health.patch('policy', { last_error: outcome.error });
        policyLog.error(`reload failed (${trigger}); the running policy stays:\n${outcome.error}`);
        recordReload('policy.reload_failed', { trigger, code: outcome.code });
      }
      return outcome;
    },
    get config() {
      return config;
    },
  };

  const statusPayload = () =>
    buildStatus({
      health,
      config,
      dataDir: options.dataDir,
      configPath: options.configPath ?? join(options.dataDir, 'config.yaml'),
      version: options.clientVersion,
      startedAt,
      store,
      engine,
      client,
      inspection: pipeline?.stats,
      reload: {
        configGeneration: reloader.configGeneration,
        loadedAt: reloader.loadedAt,
        last: reloader.last,
      },
      env,
    });

  return sidecar;

  // Binds the guardrail proxy (spec 30 §B1) with the live engine; each request's record goes to the audit queue.
  async function startProxy(current: PolicyEngine, opened: AuditStore): Promise<void> {
    const guardrailLog = options.logger.child('guardrail');
    const master = ensureMasterKey({ envFile, name: config.guardrail.master_key_env, env });
    options.logger.addSecret(master.value);
    if (master.generated)
      log.info(`generated ${config.guardrail.master_key_env} into ${displayPath(envFile)}`);
    for (const warning of master.warnings) log.warn(warning);
    const fail = config.policy.fail_mode;
    proxy = createGuardrailProxy({
      engine: current,
      config: config.guardrail,
      logger: guardrailLog,
      env: (name) => env[name],
      scanBudgetMs: config.policy.scan.budget_ms,
      ...(master.value === undefined ? {} : { masterKey: master.value }),
      failMode: {
        ...(fail.proxy_prompt === undefined ? {} : { proxy_prompt: fail.proxy_prompt }),
        ...(fail.proxy_completion === undefined ? {} : { proxy_completion: fail.proxy_completion }),
        ...(fail.proxy_tool_call === undefined ? {} : { proxy_tool_call: fail.proxy_tool_call }),
      },
      audit: (record) => {
        telemetry?.proxyRecord(record);
        opened.enqueue(proxyAuditRecord(record)).catch((error: unknown) =>
          auditLog.warn('a guardrail request was not recorded', {
            error: error instanceof Error ? error.message : String(error),
          }),
        );
      },
    });
    try {
      const bound = await proxy.listen();
      guardrailLog.info(
        `guardrail proxy listening on ${bound.address}:${bound.port} (${config.guardrail.mode} mode)`,
      );
    } catch (error) {
      const cause = isGuardrailProxyError(error)
        ? (error.cause as NodeJS.ErrnoException | undefined)
        : undefined;
      refreshHealth();
      throw new BindError(
        cause?.code ?? 'EUNKNOWN',
        `${config.guardrail.host}:${config.guardrail.port}`,
        'guardrail.port',
        error,
      );
    }
    refreshHealth();
  }

  function recordReload(kind: string, payload: Record<string, unknown>): void {
    void store
      ?.enqueue({ event: { ts: Date.now(), kind, source: 'sidecar', summary: kind, payload } })
      .catch((error: unknown) => auditLog.warn(`${kind} was not recorded`, { error: String(error) }));
  }

  // Deletes expired events now and then; a failed run is logged and retried at the next interval.
  function scheduleRetention(delayMs: number): void {
    retentionTimer = setTimeout(() => {
      const days = config.audit.retention_days;
      const opened = store;
      if (opened === undefined || closing !== undefined) return;
      void opened
        .runRetention({ retentionDays: days })
        .then((result) => {
          telemetry?.retentionDeleted(result.deleted);
          if (result.deleted > 0 || result.expiredListEntries > 0)
            auditLog.info(
              `retention: deleted ${result.deleted} events older than ${days} days, ${result.expiredListEntries} expired list entries`,
            );
        })
        .catch((error: unknown) =>
          auditLog.warn('retention run failed', {
            error: error instanceof Error ? error.message : String(error),
          }),
        )
        .finally(() => {
          if (closing === undefined) scheduleRetention(RETENTION_INTERVAL_MS);
        });
    }, delayMs);
    retentionTimer.unref();
  }

  // Drains the queue within audit.drain_timeout_ms (capped by what is left of the close budget), records
  // sidecar.stop with the counts and closes the DB. A drain cut short drops the rest (counted, and recorded by the
  // store as an audit.gap event when the DB still takes writes); sidecar.stop is then not written, since writing it
  // would first commit the very records the budget had no room for.
  async function closeStore(opened: AuditStore, deadline: number): Promise<boolean> {
    const drainMs = Math.max(
      0,
      Math.min(config.audit.drain_timeout_ms, Math.floor(deadline - performance.now() - 150)),
    );
    const before = opened.stats;
    const droppedBefore = sumDropped(before.dropped);
    const drainedAll =
      drainMs > 0 ? await settleWithin(opened.flush(), drainMs) : opened.stats.queueDepth === 0;
    const after = opened.stats;
    const drained = after.committedRecords - before.committedRecords;
    const left = after.queueDepth + after.waiting;
    try {
      if (startRecorded && drainedAll && left === 0) {
        opened.writeNow({
          event: {
            ts: Date.now(),
            kind: 'sidecar.stop',
            source: 'sidecar',
            summary: `sidecar stopped: ${drained} queued records drained`,
            payload: {
              drained,
              dropped: sumDropped(after.dropped) - droppedBefore,
              uptime_ms: startedAt === undefined ? 0 : Date.now() - startedAt,
            },
          },
        });
      }
    } catch (error) {
      auditLog.warn('sidecar.stop was not recorded', {
        error: error instanceof Error ? error.message : String(error),
      });
    }
    try {
      const result = await opened.close({ drainTimeoutMs: 0 });
      if (result.dropped > 0) auditLog.warn(`audit: ${result.dropped} events not written at shutdown`);
      auditHealth?.refresh();
      health.set('audit', 'stopped', {
        details: { drained: drained + result.drained, dropped_at_shutdown: result.dropped },
      });
      return true;
    } catch (error) {
      health.set('audit', 'stopped', { lastError: error instanceof Error ? error.message : String(error) });
      auditLog.error('audit: closing the store failed', {
        error: error instanceof Error ? error.message : String(error),
      });
      return false;
    }
  }
}

// --- internal ---

function sumDropped(dropped: Record<string, number>): number {
  let total = 0;
  for (const n of Object.values(dropped)) total += n;
  return total;
}

async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    promise.then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return done;
}
