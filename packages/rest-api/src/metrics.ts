// The Prometheus metrics of spec 20 §9.1 on their own prom-client registry, with typed handles for the sidecar.
import type { Verdict } from '@defenseclaw/policy';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The prefix of every metric name. */
export const METRIC_PREFIX = 'defenseclaw_';

/** Latency buckets in seconds (spec 20 §9.1). */
export const LATENCY_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
] as const;

/** Buckets of the audit batch-size histogram (records per transaction). */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] as const;

/** The values of `defenseclaw_splunk_circuit_state`. */
export const SPLUNK_CIRCUIT_STATES = { closed: 0, half_open: 1, open: 2 } as const;

/** Options of `createMetrics`. */
export type MetricsOptions = {
  /** The registry to fill. @default a new Registry */
  registry?: Registry;
  /** Whether prom-client's default process metrics (heap, event-loop lag) are collected. @default true */
  defaultMetrics?: boolean;
  /** The sidecar version for `build_info`. @default '0.0.0' */
  version?: string;
};

/** The typed handles of every `defenseclaw_` metric, plus helpers; the registry serves `/metrics`. */
export type Metrics = {
  /** The registry holding every metric below. */
  readonly registry: Registry;
  eventsTotal: Counter<'kind' | 'source'>;
  verdictsTotal: Counter<'lane' | 'action' | 'raw_action' | 'mode'>;
  ruleHitsTotal: Counter<'rule_id' | 'severity'>;
  enforcementsTotal: Counter<'kind' | 'outcome'>;
  guardrailFailOpenTotal: Counter<'lane' | 'reason'>;
  policyEvalDurationSeconds: Histogram<'lane'>;
  inspectDurationSeconds: Histogram<'route'>;
  inspectFailModeTotal: Counter<'route' | 'code'>;
  proxyRequestsTotal: Counter<'endpoint' | 'outcome'>;
  proxyOpenStreams: Gauge;
  proxyOverheadSeconds: Histogram;
  proxyUpstreamTtfbSeconds: Histogram;
  gatewayConnected: Gauge;
  gatewayReconnectsTotal: Counter;
  gatewaySeqGapsTotal: Counter;
  gatewayRpcDurationSeconds: Histogram<'method' | 'outcome'>;
  auditQueueDepth: Gauge;
  auditQueueCapacity: Gauge;
  auditWriteDurationSeconds: Histogram;
  auditBatchSize: Histogram;
  auditRowsWrittenTotal: Counter<'table'>;
  auditDroppedTotal: Counter<'reason'>;
  auditWriteErrorsTotal: Counter<'code'>;
  auditRetentionDeletedTotal: Counter;
  auditUnrecordedEnforcementsTotal: Counter;
  splunkQueueDepth: Gauge;
  splunkCircuitState: Gauge;
  splunkDeliveredTotal: Counter;
  splunkFailedTotal: Counter<'reason'>;
  splunkDroppedTotal: Counter<'reason'>;
  splunkBatchDurationSeconds: Histogram;
  watcherScansTotal: Counter<'action'>;
  watcherActionsTotal: Counter<'outcome'>;
  apiRequestsTotal: Counter<'route' | 'method' | 'status'>;
  apiAuthFailuresTotal: Counter<'reason'>;
  subsystemState: Gauge<'subsystem' | 'state'>;
  buildInfo: Gauge<'version' | 'node'>;
  /** Counts one verdict: `verdicts_total`, `rule_hits_total` per finding, `policy_eval_duration_seconds`. */
  recordVerdict(verdict: Verdict): void;
  /** Sets `subsystem_state` from a health map (1 for each subsystem's current state, 0 for the others). */
  setSubsystemStates(health: Record<string, unknown>): void;
  /** Registers a hook run before every scrape (refresh gauges from live counters); returns its remover. */
  beforeScrape(hook: () => void): () => void;
  /** Runs the hooks and renders the Prometheus text exposition. */
  scrape(): Promise<string>;
};

/** The health states `subsystem_state` knows (spec 20 §5.1). */
const STATES = ['starting', 'running', 'healthy', 'reconnecting', 'error', 'stopped', 'disabled'] as const;

/**
 * Creates the `defenseclaw_` metrics on their own registry.
 *
 * @example
 * const metrics = createMetrics({ version: '0.1.0' });
 * metrics.gatewayReconnectsTotal.inc();
 * const text = await metrics.scrape(); // Prometheus text format
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  const p = METRIC_PREFIX;
  const buckets = [...LATENCY_BUCKETS_SECONDS];
  const counter = <T extends string>(name: string, help: string, labelNames: readonly T[] = []) =>
    new Counter<T>({ name: p + name, help, labelNames, registers });
  const gauge = <T extends string>(name: string, help: string, labelNames: readonly T[] = []) =>
    new Gauge<T>({ name: p + name, help, labelNames, registers });
  const histogram = <T extends string>(
    name: string,
    help: string,
    labelNames: readonly T[] = [],
    custom: readonly number[] = buckets,
  ) => new Histogram<T>({ name: p + name, help, labelNames, buckets: [...custom], registers });

  const hooks = new Set<() => void>();
  const m: Omit<Metrics, 'recordVerdict' | 'setSubsystemStates' | 'beforeScrape' | 'scrape'> = {
    registry,
    eventsTotal: counter('events_total', 'Events judged, by kind and source', ['kind', 'source']),
    verdictsTotal: counter('verdicts_total', 'Verdicts by lane, action, raw action and mode', [
      'lane',
      'action',
      'raw_action',
      'mode',
    ]),
    ruleHitsTotal: counter('rule_hits_total', 'Findings by rule id and severity', ['rule_id', 'severity']),
    enforcementsTotal: counter('enforcements_total', 'Enforcements by kind and outcome', ['kind', 'outcome']),
    guardrailFailOpenTotal: counter('guardrail_fail_open_total', 'Fail-open decisions by lane and reason', [
      'lane',
      'reason',
    ]),
    policyEvalDurationSeconds: histogram('policy_eval_duration_seconds', 'Policy evaluation time', ['lane']),
    inspectDurationSeconds: histogram('inspect_duration_seconds', 'Inspect request time, commit included', [
      'route',
    ]),
    inspectFailModeTotal: counter('inspect_fail_mode_total', 'Inspect answers decided by a fail mode', [
      'route',
      'code',
    ]),
    proxyRequestsTotal: counter('proxy_requests_total', 'Guardrail proxy requests by endpoint and outcome', [
      'endpoint',
      'outcome',
    ]),
    proxyOpenStreams: gauge('proxy_open_streams', 'Streams open in the guardrail proxy'),
    proxyOverheadSeconds: histogram('proxy_overhead_seconds', 'Proxy time not spent upstream'),
    proxyUpstreamTtfbSeconds: histogram('proxy_upstream_ttfb_seconds', 'Upstream time to first byte'),
    gatewayConnected: gauge('gateway_connected', '1 while connected to the OpenClaw gateway'),
    gatewayReconnectsTotal: counter('gateway_reconnects_total', 'Reconnects to the OpenClaw gateway'),
    gatewaySeqGapsTotal: counter('gateway_seq_gaps_total', 'Event sequence gaps seen'),
    gatewayRpcDurationSeconds: histogram('gateway_rpc_duration_seconds', 'Gateway RPC time', [
      'method',
      'outcome',
    ]),
    auditQueueDepth: gauge('audit_queue_depth', 'Records waiting in the audit writer queue'),
    auditQueueCapacity: gauge('audit_queue_capacity', 'Capacity of the audit writer queue'),
    auditWriteDurationSeconds: histogram('audit_write_duration_seconds', 'Audit batch commit time'),
    auditBatchSize: histogram('audit_batch_size', 'Records per audit transaction', [], BATCH_SIZE_BUCKETS),
    auditRowsWrittenTotal: counter('audit_rows_written_total', 'Audit rows written by table', ['table']),
    auditDroppedTotal: counter('audit_dropped_total', 'Audit records not written, by reason', ['reason']),
    auditWriteErrorsTotal: counter('audit_write_errors_total', 'Failed audit commits by code', ['code']),
    auditRetentionDeletedTotal: counter('audit_retention_deleted_total', 'Events deleted by retention'),
    auditUnrecordedEnforcementsTotal: counter(
      'audit_unrecorded_enforcements_total',
      'Enforcements sent without an audit record',
    ),
    splunkQueueDepth: gauge('splunk_queue_depth', 'Events committed but not yet forwarded to Splunk'),
    splunkCircuitState: gauge('splunk_circuit_state', 'Splunk circuit: 0 closed, 1 half open, 2 open'),
    splunkDeliveredTotal: counter('splunk_delivered_total', 'Events accepted by Splunk HEC'),
    splunkFailedTotal: counter('splunk_failed_total', 'Events Splunk HEC rejected, by reason', ['reason']),
    splunkDroppedTotal: counter('splunk_dropped_total', 'Events never forwarded, by reason', ['reason']),
    splunkBatchDurationSeconds: histogram('splunk_batch_duration_seconds', 'Splunk HEC batch time'),
    watcherScansTotal: counter('watcher_scans_total', 'Skill and plugin scans by action', ['action']),
    watcherActionsTotal: counter('watcher_actions_total', 'Watcher enforcement actions by outcome', [
      'outcome',
    ]),
    apiRequestsTotal: counter('api_requests_total', 'REST API requests by route pattern, method, status', [
      'route',
      'method',
      'status',
    ]),
    apiAuthFailuresTotal: counter('api_auth_failures_total', 'REST API requests refused, by reason', [
      'reason',
    ]),
    subsystemState: gauge('subsystem_state', '1 for the current state of each subsystem', [
      'subsystem',
      'state',
    ]),
    buildInfo: gauge('build_info', 'Build information', ['version', 'node']),
  };
  m.buildInfo.set({ version: options.version ?? '0.0.0', node: process.versions.node }, 1);
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: p });

  return {
    ...m,
    recordVerdict(verdict) {
      m.verdictsTotal.inc({
        lane: verdict.lane,
        action: verdict.action,
        raw_action: verdict.rawAction,
        mode: verdict.mode,
      });
      for (const finding of verdict.findings) {
        m.ruleHitsTotal.inc({ rule_id: finding.ruleId, severity: finding.severity });
      }
      m.policyEvalDurationSeconds.observe({ lane: verdict.lane }, verdict.timing.scanMicros / 1e6);
    },
    setSubsystemStates(health) {
      for (const [subsystem, entry] of Object.entries(health)) {
        const current = (entry as { state?: unknown } | null)?.state;
        for (const state of STATES) m.subsystemState.set({ subsystem, state }, state === current ? 1 : 0);
      }
    },
    beforeScrape(hook) {
      hooks.add(hook);
      return () => {
        hooks.delete(hook);
      };
    },
    async scrape() {
      for (const hook of hooks) hook();
      return registry.metrics();
    },
  };
}
