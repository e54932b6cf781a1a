import { readFileSync } from 'node:fs';
import { defineCommand } from 'citty';
import { CliError, EXIT_CODES } from '../cli-error.ts';
import {
  type ApiResponse,
  type ApiSettings,
  ApiUnreachableError,
  apiAddress,
  apiRequest,
  readApiSettings,
  readApiToken,
} from './_api-client.ts';
import { type LifecycleContext, lifecycleContext } from './_context.ts';
import { type GlobalFlags, globalArgs } from './_global-args.ts';
import { loadModule } from './_load-module.ts';
import { createOutput, type Output } from './_output.ts';

// Kept free of the config schema, the sidecar, the policy engine and SQLite, and it loads the supervisor only off the
// happy path: `status` must answer fast.

/** Flags of `status`. */
export type StatusFlags = GlobalFlags & { json?: boolean | undefined };

type Entry = { state: string; since?: string; last_error?: string; details?: Record<string, unknown> };
type StatusBody = {
  health: Record<string, Entry>;
  runtime?: {
    pid?: number;
    data_dir?: string;
    version?: string;
    uptime_ms?: number;
    supervisor?: string;
    watchdog?: { enabled?: boolean; pid?: number; state?: string; restarts_in_window?: number };
  };
  audit?: { alerts_open?: number; alerts_open_by_severity?: Record<string, number> };
};

/** `status [--json]`: the daemon's health as a table, from `GET /status` (falling back to `GET /health`). */
export default defineCommand({
  meta: { name: 'status', description: 'Show whether the daemon runs and the health of each subsystem' },
  args: { ...globalArgs, json: { type: 'boolean', description: 'Print the /status document as JSON' } },
  async run({ args }) {
    await statusCommand(args);
  },
});

/**
 * Runs `status`: exit 0 whenever the daemon answers; exit 1 when it is not running (a stale PID file is cleaned
 * with its note) or its API does not answer.
 */
export async function statusCommand(flags: StatusFlags): Promise<void> {
  const out = createOutput(flags);
  const ctx = lifecycleContext(flags);
  const api = await readApiSettings(ctx.configPath);
  const token = readApiToken(ctx.dataDir, api.tokenEnv);
  let response: ApiResponse;
  try {
    response = await apiRequest(api, { path: '/status', token, timeoutMs: 2000 });
  } catch (error) {
    if (!(error instanceof ApiUnreachableError)) throw error;
    await notAnswering(ctx, api, out, flags, error.message);
    return;
  }
  const body = response.json as StatusBody | undefined;
  if (response.status === 200 && isHealthMap(body?.health)) {
    if (flags.json) {
      out.out(response.text.trim());
      return;
    }
    // A daemon that does not report the watchdog's restart count: read watchdog.state, which is local anyway.
    const runtime = body.runtime ?? {};
    if (runtime.watchdog?.pid !== undefined && runtime.watchdog.restarts_in_window === undefined) {
      runtime.watchdog = { ...runtime.watchdog, ...readWatchdogState(ctx) };
    }
    render(ctx, api, out, { ...body, runtime });
    return;
  }
  // No /status route yet (or reads need a token we lack): /health is always open.
  let health: ApiResponse;
  try {
    health = await apiRequest(api, { path: '/health', timeoutMs: 2000 });
  } catch (error) {
    await notAnswering(ctx, api, out, flags, error instanceof Error ? error.message : String(error));
    return;
  }
  if (health.status !== 200 || !isHealthMap(health.json)) {
    await notAnswering(ctx, api, out, flags, `GET /health answered HTTP ${health.status}`);
    return;
  }
  const { checkPidFile } = await loadModule<typeof import('./_lifecycle.ts')>(
    new URL('./_lifecycle.ts', import.meta.url),
  );
  const pidCheck = await checkPidFile(ctx, 'daemon', (line) => out.err(line));
  const watchdogCheck = await checkPidFile(ctx, 'watchdog', (line) => out.err(line));
  const watchdog =
    watchdogCheck.status === 'none'
      ? {}
      : { enabled: true, pid: watchdogCheck.pid, ...readWatchdogState(ctx) };
  const synthesized: StatusBody = {
    health: health.json,
    runtime: {
      ...(pidCheck.status === 'none' ? {} : { pid: pidCheck.pid }),
      data_dir: ctx.dataDir,
      watchdog,
    },
  };
  if (flags.json) out.out(JSON.stringify(synthesized));
  else render(ctx, api, out, synthesized);
}

// --- internal ---

async function notAnswering(
  ctx: LifecycleContext,
  api: ApiSettings,
  out: Output,
  flags: StatusFlags,
  reason: string,
): Promise<never> {
  const { checkPidFile } = await loadModule<typeof import('./_lifecycle.ts')>(
    new URL('./_lifecycle.ts', import.meta.url),
  );
  const check = await checkPidFile(ctx, 'daemon', (line) => out.err(line));
  if (check.status !== 'none') {
    const message = `Gateway sidecar process is running (PID ${check.pid}) but the API at ${apiAddress(api)} is not answering: ${reason}`;
    if (flags.json) out.out(JSON.stringify({ running: false, pid: check.pid, reason: message }));
    else out.out(message);
  } else if (flags.json) {
    out.out(JSON.stringify({ running: false, pid: null, reason: 'not running' }));
  } else {
    out.out('Gateway sidecar is not running');
    out.out('Start it with: defenseclaw-gateway start');
  }
  throw new CliError(EXIT_CODES.RUNTIME, '');
}

function render(ctx: LifecycleContext, api: ApiSettings, out: Output, body: StatusBody): void {
  const runtime = body.runtime ?? {};
  const health = body.health;
  const uptimeMs = runtime.uptime_ms ?? sinceMs(health.api?.since);
  const head = [
    runtime.pid === undefined ? undefined : `PID ${runtime.pid}`,
    uptimeMs === undefined ? undefined : `up ${formatDuration(uptimeMs)}`,
  ].filter((part) => part !== undefined);
  out.out(
    `${out.bold('DefenseClaw gateway sidecar')} — ${out.green('running')}${head.length > 0 ? ` (${head.join(', ')})` : ''}`,
  );
  out.out(
    `  ${[
      runtime.version === undefined ? undefined : `version ${runtime.version}`,
      `api ${apiAddress(api)}`,
      `data ${ctx.show(runtime.data_dir ?? ctx.dataDir)}`,
      runtime.supervisor === undefined ? undefined : `supervisor ${runtime.supervisor}`,
    ]
      .filter((part) => part !== undefined)
      .join(' · ')}`,
  );
  const dog = runtime.watchdog;
  if (dog !== undefined) {
    out.out(
      dog.pid === undefined
        ? `  watchdog: ${dog.enabled === true ? out.yellow('not running') : 'not running'}`
        : `  watchdog: running (PID ${dog.pid})${dog.restarts_in_window === undefined ? '' : `, ${dog.restarts_in_window} restarts in the last 10 min`}${dog.state === 'paused' ? ` — ${out.yellow('restarts paused')}` : ''}`,
    );
  }
  out.out('');
  const rows = Object.entries(health).map(([key, entry]) => ({
    key,
    state: entry.state,
    since: entry.since ?? '',
    detail: detailText(entry.details),
    entry,
  }));
  const keyWidth = Math.max(9, ...rows.map((r) => r.key.length)) + 2;
  const stateWidth = 13;
  const sinceWidth = 26;
  out.out(
    `  ${'SUBSYSTEM'.padEnd(keyWidth)}${'STATE'.padEnd(stateWidth)}${'SINCE'.padEnd(sinceWidth)}DETAIL`,
  );
  for (const row of rows) {
    const paint =
      row.state === 'running' || row.state === 'healthy'
        ? out.green
        : row.state === 'disabled'
          ? out.dim
          : row.state === 'error'
            ? out.red
            : out.yellow;
    out.out(
      `  ${row.key.padEnd(keyWidth)}${paint(row.state.padEnd(stateWidth))}${row.since.padEnd(sinceWidth)}${row.detail}`.trimEnd(),
    );
    if (
      (row.state === 'reconnecting' || row.state === 'error' || row.state === 'stopped') &&
      row.entry.last_error
    ) {
      out.out(`    last error: ${row.entry.last_error}`);
    }
    if (row.key === 'guardrail' && (row.state === 'stopped' || row.state === 'error')) {
      out.out("    run 'defenseclaw-gateway doctor' — probably a missing plugin or bad master_key");
    }
  }
  const alerts = body.audit;
  if (alerts?.alerts_open !== undefined) {
    const critical = alerts.alerts_open_by_severity?.critical ?? 0;
    out.out('');
    out.out(
      `  alerts: ${alerts.alerts_open} open${critical > 0 ? ` (${critical} critical)` : ''} — defenseclaw-gateway alerts`,
    );
  }
}

function readWatchdogState(ctx: LifecycleContext): { state?: string; restarts_in_window?: number } {
  let state: { state?: unknown; restarts?: unknown } | undefined;
  try {
    state = JSON.parse(readFileSync(ctx.watchdogStateFile, 'utf8')) as typeof state;
  } catch {
    return {};
  }
  return {
    ...(typeof state?.state === 'string' ? { state: state.state } : {}),
    ...(Array.isArray(state?.restarts) ? { restarts_in_window: state.restarts.length } : {}),
  };
}

// DETAIL shows scalars only, and never a key that could hold a credential.
function detailText(details: Record<string, unknown> | undefined): string {
  if (details === undefined) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(details)) {
    if (/token|secret|key/i.test(key)) continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue;
    parts.push(
      key === 'reason' || key === 'addr' || key === 'url' ? String(value) : `${key} ${String(value)}`,
    );
  }
  const text = parts.join(' · ');
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

function isHealthMap(value: unknown): value is Record<string, Entry> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((entry) => typeof (entry as Entry | null)?.state === 'string');
}

function sinceMs(since: string | undefined): number | undefined {
  if (since === undefined) return undefined;
  const at = Date.parse(since);
  return Number.isFinite(at) ? Math.max(0, Date.now() - at) : undefined;
}

function formatDuration(ms: number): string {
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h ${m}m ${s}s`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}
