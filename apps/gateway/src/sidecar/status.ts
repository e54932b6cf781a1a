import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditStore } from '@defenseclaw/audit-store';
import type { GatewayClient } from '@defenseclaw/gateway-client';
import type { PolicyEngine } from '@defenseclaw/policy';
import { displayPath } from '../config/paths.ts';
import type { Config } from '../config/schema.ts';
import type { HealthRegistry } from './health.ts';
import type { InspectionStats } from './inspection.ts';
import type { ReloadOutcome } from './reload.ts';

/** What `buildStatus` reads; every part may be absent while the sidecar starts. */
export type StatusSources = {
  health: HealthRegistry;
  config: Config;
  dataDir: string;
  configPath: string;
  version: string;
  startedAt: number | undefined;
  store: AuditStore | undefined;
  engine: PolicyEngine | undefined;
  client: GatewayClient | undefined;
  inspection: InspectionStats | undefined;
  reload: { configGeneration: number; loadedAt: string; last: ReloadOutcome | undefined };
  env: NodeJS.ProcessEnv;
};

/** How this process is supervised, from the environment its supervisor set. */
export function supervisorKind(env: NodeJS.ProcessEnv): 'detached' | 'foreground' | 'systemd' | 'launchd' {
  const declared = env.DEFENSECLAW_SUPERVISOR;
  if (declared === 'detached' || declared === 'systemd' || declared === 'launchd') return declared;
  if (env.INVOCATION_ID !== undefined) return 'systemd';
  if (env.XPC_SERVICE_NAME !== undefined && env.XPC_SERVICE_NAME !== '0') return 'launchd';
  return 'foreground';
}

/** Builds the `GET /status` payload of spec 20 §5.3 (no secrets; paths shown with `~`). */
export function buildStatus(s: StatusSources): Record<string, unknown> {
  const now = Date.now();
  const hello = s.client?.hello;
  const stats = s.store?.stats;
  const counts = s.store?.queries.counts();
  const generation = s.engine?.generation;
  const last = s.reload.last;
  return {
    health: s.health.snapshot(),
    runtime: {
      pid: process.pid,
      data_dir: displayPath(s.dataDir),
      config_path: displayPath(s.configPath),
      version: s.version,
      node: process.version,
      started_at: s.startedAt === undefined ? null : new Date(s.startedAt).toISOString(),
      uptime_ms: s.startedAt === undefined ? 0 : now - s.startedAt,
      supervisor: supervisorKind(s.env),
      ...(s.env.DEFENSECLAW_RESTART_REASON ? { restart_reason: s.env.DEFENSECLAW_RESTART_REASON } : {}),
      watchdog: watchdogInfo(s.dataDir, s.config.gateway.watchdog.enabled),
    },
    gateway_hello:
      hello === undefined
        ? null
        : {
            protocol: hello.protocol,
            server_version: hello.server?.version,
            conn_id: hello.server?.connId,
            connected_at: s.health.get('gateway').since,
            auth_role: hello.auth?.role,
            scopes: hello.auth?.scopes ?? [],
            tick_interval_ms: hello.policy?.tickIntervalMs,
            max_payload: hello.policy?.maxPayload,
            methods: hello.features?.methods?.length ?? 0,
            events: hello.features?.events?.length ?? 0,
            missing_methods: (s.health.get('gateway').details?.missing_methods as string[] | undefined) ?? [],
          },
    audit:
      stats === undefined || counts === undefined
        ? null
        : {
            path: displayPath(stats.path),
            events_recorded: counts.eventsRecorded,
            verdicts_recorded: counts.verdictsRecorded,
            alerts_open: counts.alertsOpen,
            alerts_open_by_severity: counts.alertsOpenBySeverity,
            since_start: {
              events: s.inspection?.events ?? 0,
              verdicts: sum(s.inspection?.verdictsByAction),
              blocks: s.inspection?.verdictsByAction.block ?? 0,
              alerts:
                (s.inspection?.verdictsByAction.alert ?? 0) + (s.inspection?.verdictsByAction.confirm ?? 0),
            },
            queue: { depth: stats.queueDepth, capacity: stats.queueCapacity, high_water: stats.highWater },
            dropped: stats.dropped,
            write_errors: stats.writeErrors,
            last_commit_at:
              stats.lastCommitAt === undefined ? null : new Date(stats.lastCommitAt).toISOString(),
            synchronous: stats.synchronous,
            size_bytes: fileSize(stats.path) + fileSize(`${stats.path}-wal`),
          },
    policy:
      generation === undefined
        ? null
        : {
            profile: s.config.policy.profile,
            mode: s.config.policy.mode,
            generation: { id: generation.id, digest: generation.digest },
            packs: generation.packs.map((pack) => `${pack.name}@${pack.version}`),
            rules: s.engine?.stats.rules ?? 0,
            loaded_at: new Date(generation.loadedAt).toISOString(),
          },
    config: {
      path: displayPath(s.configPath),
      generation: s.reload.configGeneration,
      loaded_at: s.reload.loadedAt,
      last_reload:
        last === undefined
          ? null
          : last.success
            ? { at: last.at, ok: true, restart_required: last.restartRequired }
            : { at: last.at, ok: false, error: last.error, restart_required: [] },
    },
  };
}

// --- internal ---

function sum(values: Record<string, number> | undefined): number {
  let total = 0;
  for (const n of Object.values(values ?? {})) total += n;
  return total;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function watchdogInfo(dataDir: string, enabled: boolean): Record<string, unknown> {
  let pid: number | undefined;
  try {
    const text = readFileSync(join(dataDir, 'watchdog.pid'), 'utf8').trim();
    if (/^\d+$/.test(text)) pid = Number(text);
  } catch {
    // no watchdog PID file
  }
  if (pid !== undefined) {
    try {
      process.kill(pid, 0);
    } catch {
      pid = undefined;
    }
  }
  return { enabled, ...(pid === undefined ? {} : { pid, state: 'running' }) };
}
