import type {
  AuditRecord,
  AuditStats,
  AuditStore,
  SplunkBatchInfo,
  SplunkStats,
} from '@defenseclaw/audit-store';
import type { GatewayClient } from '@defenseclaw/gateway-client';
import type { ProxyAuditRecord } from '@defenseclaw/guardrail-proxy';
import { type Metrics, SPLUNK_CIRCUIT_STATES } from '@defenseclaw/rest-api';
import type { Config } from '../config/schema.ts';
import type { HealthRegistry } from './health.ts';
import type { InspectionStats } from './inspection.ts';
import type { SplunkTotals } from './splunk.ts';

/** What telemetry reads at scrape time; getters, because the parts start (and restart) after it. */
export type TelemetrySources = {
  /** The open audit store. */
  store: () => AuditStore | undefined;
  /** The WebSocket pipeline's counters. */
  inspection?: () => Readonly<InspectionStats> | undefined;
  /** The running Splunk forwarder's state, and the counters over every forwarder this process ran. */
  splunk?: () => { stats: SplunkStats | undefined; totals: SplunkTotals } | undefined;
};

/** The hooks the skill watcher calls (`watcher_scans_total{action}`, `watcher_actions_total{outcome}`). */
export type WatcherTelemetry = {
  /** One evaluated skill or plugin, by decision (`clean`, `flagged`, `disabled`, `would_block`, …). */
  scan(decision: string): void;
  /** One enforcement outcome (`disabled`, `queued`, `failed`, `dropped`). */
  action(outcome: string): void;
};

/** Feeds the `defenseclaw_` metrics (spec 20 §9.1) from the running sidecar. */
export type Telemetry = {
  /** The metrics registry served on `/metrics`. */
  readonly metrics: Metrics;
  /**
   * Wraps the store a producer writes through so that every record with verdicts counts `events_total`,
   * `verdicts_total`, `rule_hits_total` and `policy_eval_duration_seconds` (used for the WebSocket pipeline; the
   * inspect routes count their own).
   */
  observeStore(store: AuditStore): AuditStore;
  /** Counts one judged audit record (its event and verdicts). */
  recordAudit(record: AuditRecord): void;
  /** Counts one guardrail proxy request (spec 30 §B8 record): outcome, latency split, fail-open lanes, verdicts. */
  proxyRecord(record: ProxyAuditRecord): void;
  /** Counts reconnects and sequence gaps of a gateway client; returns the unsubscriber. */
  bindClient(client: GatewayClient): () => void;
  /** The hooks handed to the skill watcher. */
  readonly watcher: WatcherTelemetry;
  /** Counts events deleted by one retention run. */
  retentionDeleted(count: number): void;
  /** Records one Splunk HEC request (`splunk_batch_duration_seconds`). */
  splunkBatch(info: SplunkBatchInfo): void;
  /** Refreshes gauges and counters kept by the parts (run before every scrape; also callable directly). */
  refresh(): void;
  /** Detaches the scrape hook and every client listener. */
  close(): void;
};

/**
 * Creates the sidecar's telemetry over a metrics registry: push-style hooks for what happens once (verdicts, proxy
 * requests, reconnects, watcher scans, HEC requests) and a scrape-time refresh for what the parts already count
 * (audit queue and drops, rows written, enforcement outcomes, the Splunk backlog and circuit). No label ever carries
 * a session key, tool name, argument or other user-controlled text.
 *
 * @example
 * ```ts
 * const telemetry = createTelemetry(createMetrics({ version }), { store: () => store });
 * const pipeline = createInspectionPipeline({ store: telemetry.observeStore(store), … });
 * ```
 */
export function createTelemetry(metrics: Metrics, sources: TelemetrySources): Telemetry {
  const m = metrics;
  const unbind = new Set<() => void>();
  // Last values of the monotonic counters the parts keep; deltas go into the Prometheus counters.
  const last = {
    dropped: {} as Record<string, number>,
    writeErrors: 0,
    rows: undefined as { events: number; verdicts: number; alerts: number } | undefined,
    inspection: {} as Record<string, number>,
    splunk: { delivered: 0, rejected: 0, lag: 0, retention: 0 },
  };

  const recordAudit = (record: AuditRecord) => {
    const verdicts = record.verdicts;
    if (verdicts === undefined || verdicts.length === 0) return;
    m.eventsTotal.inc({ kind: record.event.kind, source: record.event.source });
    for (const v of verdicts) {
      countVerdict(m, v.lane, v.action, v.rawAction, v.mode, v.scanMicros);
      for (const f of v.findings) m.ruleHitsTotal.inc({ rule_id: f.ruleId, severity: f.severity });
    }
  };

  const refresh = () => {
    const store = sources.store();
    if (store !== undefined) refreshAudit(store);
    const inspection = sources.inspection?.();
    if (inspection !== undefined) refreshInspection(inspection);
    const splunk = sources.splunk?.();
    if (splunk !== undefined) refreshSplunk(splunk.stats, splunk.totals);
  };

  const refreshAudit = (store: AuditStore) => {
    let stats: AuditStats;
    try {
      stats = store.stats;
    } catch {
      return; // closed
    }
    m.auditQueueDepth.set(stats.queueDepth);
    m.auditQueueCapacity.set(stats.queueCapacity);
    for (const [reason, count] of Object.entries(stats.dropped)) {
      const delta = count - (last.dropped[reason] ?? 0);
      if (delta > 0) m.auditDroppedTotal.inc({ reason }, delta);
      last.dropped[reason] = count;
    }
    const writeErrors = stats.writeErrors - last.writeErrors;
    if (writeErrors > 0)
      m.auditWriteErrorsTotal.inc({ code: stats.lastError?.code ?? 'unknown' }, writeErrors);
    last.writeErrors = stats.writeErrors;
    try {
      // Highest ids ever assigned (index probes): rows written since this process started, per table.
      const counts = store.queries.counts();
      const now = {
        events: counts.eventsRecorded,
        verdicts: counts.verdictsRecorded,
        alerts: counts.alertsRecorded,
      };
      if (last.rows === undefined) last.rows = now;
      for (const table of ['events', 'verdicts', 'alerts'] as const) {
        const delta = now[table] - last.rows[table];
        if (delta > 0) m.auditRowsWrittenTotal.inc({ table }, delta);
      }
      last.rows = now;
    } catch {
      // The store is closing; the next scrape catches up.
    }
  };

  const refreshInspection = (s: Readonly<InspectionStats>) => {
    const feed = (key: string, value: number, inc: (delta: number) => void) => {
      const delta = value - (last.inspection[key] ?? 0);
      if (delta > 0) inc(delta);
      last.inspection[key] = value;
    };
    feed('denials', s.denials, (d) => m.enforcementsTotal.inc({ kind: 'exec.deny', outcome: 'sent' }, d));
    feed('autoApprovals', s.autoApprovals, (d) =>
      m.enforcementsTotal.inc({ kind: 'exec.allow', outcome: 'sent' }, d),
    );
    feed('withheldApprovals', s.withheldApprovals, (d) =>
      m.enforcementsTotal.inc({ kind: 'exec.allow', outcome: 'withheld' }, d),
    );
    feed('resolveFailures', s.resolveFailures, (d) =>
      m.enforcementsTotal.inc({ kind: 'exec.resolve', outcome: 'failed' }, d),
    );
    feed('unrecordedEnforcements', s.unrecordedEnforcements, (d) =>
      m.auditUnrecordedEnforcementsTotal.inc(d),
    );
  };

  const refreshSplunk = (stats: SplunkStats | undefined, totals: SplunkTotals) => {
    m.splunkQueueDepth.set(stats?.queueDepth ?? 0);
    m.splunkCircuitState.set(SPLUNK_CIRCUIT_STATES[stats?.circuit ?? 'closed']);
    const feed = (key: keyof typeof last.splunk, value: number, inc: (delta: number) => void) => {
      const delta = value - last.splunk[key];
      if (delta > 0) inc(delta);
      last.splunk[key] = value;
    };
    feed('delivered', totals.delivered, (d) => m.splunkDeliveredTotal.inc(d));
    feed('rejected', totals.failed.rejected, (d) => m.splunkFailedTotal.inc({ reason: 'rejected' }, d));
    feed('lag', totals.dropped.lag, (d) => m.splunkDroppedTotal.inc({ reason: 'lag' }, d));
    feed('retention', totals.dropped.retention, (d) => m.splunkDroppedTotal.inc({ reason: 'retention' }, d));
  };

  // Rows counted from here on: the baseline is the high mark when telemetry starts, not at the first scrape.
  try {
    const counts = sources.store()?.queries.counts();
    if (counts !== undefined) {
      last.rows = {
        events: counts.eventsRecorded,
        verdicts: counts.verdictsRecorded,
        alerts: counts.alertsRecorded,
      };
    }
  } catch {
    // A closed store: the first scrape sets the baseline.
  }
  const offScrape = m.beforeScrape(refresh);

  return {
    metrics: m,
    observeStore(store) {
      return new Proxy(store, {
        get(target, property, receiver) {
          if (property === 'enqueue') {
            return (record: AuditRecord) => {
              recordAudit(record);
              return target.enqueue(record);
            };
          }
          if (property === 'writeNow') {
            return (record: AuditRecord) => {
              recordAudit(record);
              return target.writeNow(record);
            };
          }
          const value: unknown = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
    recordAudit,
    proxyRecord(record) {
      m.eventsTotal.inc({ kind: 'proxy.request', source: 'proxy' });
      m.proxyRequestsTotal.inc({ endpoint: record.endpoint, outcome: record.outcome });
      m.proxyOverheadSeconds.observe(record.latency_ms.overhead / 1000);
      if (record.latency_ms.upstream_ttfb !== undefined) {
        m.proxyUpstreamTtfbSeconds.observe(record.latency_ms.upstream_ttfb / 1000);
      }
      for (const entry of record.fail_open ?? []) {
        m.guardrailFailOpenTotal.inc({ lane: entry.lane, reason: entry.reason });
      }
      for (const wire of [record.request_verdict, record.response_verdict]) {
        if (wire !== undefined) countWireVerdict(m, wire);
      }
      const enforcement =
        record.outcome === 'blocked_request' || record.outcome === 'blocked_response'
          ? 'proxy.block'
          : record.outcome === 'cut_midstream'
            ? 'stream.cut'
            : undefined;
      if (enforcement !== undefined) m.enforcementsTotal.inc({ kind: enforcement, outcome: 'applied' });
    },
    bindClient(client) {
      let connections = 0;
      const offs = [
        client.on('connected', () => {
          connections += 1;
          if (connections > 1) m.gatewayReconnectsTotal.inc();
          m.gatewayConnected.set(1);
        }),
        client.on('disconnected', () => {
          m.gatewayConnected.set(0);
        }),
        client.on('gap', () => {
          m.gatewaySeqGapsTotal.inc();
        }),
      ];
      const off = () => {
        for (const dispose of offs.splice(0)) dispose();
        unbind.delete(off);
      };
      unbind.add(off);
      return off;
    },
    watcher: {
      scan(decision) {
        m.watcherScansTotal.inc({ action: decision });
      },
      action(outcome) {
        m.watcherActionsTotal.inc({ outcome });
        if (outcome === 'disabled') m.enforcementsTotal.inc({ kind: 'skills.update', outcome: 'applied' });
        else if (outcome === 'failed') m.enforcementsTotal.inc({ kind: 'skills.update', outcome: 'failed' });
      },
    },
    retentionDeleted(count) {
      if (count > 0) m.auditRetentionDeletedTotal.inc(count);
    },
    splunkBatch(info) {
      m.splunkBatchDurationSeconds.observe(info.durationMs / 1000);
    },
    refresh,
    close() {
      offScrape();
      for (const off of [...unbind]) off();
    },
  };
}

/** Sets the `telemetry` health entry from `telemetry.metrics` (at start and on every reload). */
export function reportTelemetryHealth(health: HealthRegistry, config: Config): void {
  if (config.telemetry.metrics) {
    health.set('telemetry', 'running', {
      details: { metrics_path: '/metrics', otlp: 'disabled', reason: undefined },
    });
  } else {
    health.set('telemetry', 'disabled', {
      details: {
        metrics_path: undefined,
        otlp: undefined,
        reason: 'disabled by config (telemetry.metrics: false)',
      },
    });
  }
}

// --- internal ---

function countVerdict(
  m: Metrics,
  lane: string,
  action: string,
  rawAction: string,
  mode: string,
  scanMicros: number | undefined,
): void {
  m.verdictsTotal.inc({ lane, action, raw_action: rawAction, mode });
  if (scanMicros !== undefined && Number.isFinite(scanMicros)) {
    m.policyEvalDurationSeconds.observe({ lane }, scanMicros / 1e6);
  }
}

/** Counts a verdict in its `toWire` JSON form (as the proxy's record carries it). */
function countWireVerdict(m: Metrics, wire: Record<string, unknown>): void {
  const timing = wire.timing as { scan_micros?: number } | undefined;
  countVerdict(
    m,
    String(wire.lane),
    String(wire.action),
    String(wire.raw_action),
    String(wire.mode),
    timing?.scan_micros,
  );
  const findings = wire.findings as { rule_id?: unknown; severity?: unknown }[] | undefined;
  for (const finding of findings ?? []) {
    m.ruleHitsTotal.inc({ rule_id: String(finding.rule_id), severity: String(finding.severity) });
  }
}
