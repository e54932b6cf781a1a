import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import {
  findMarkedProcesses,
  type ProbeResult,
  readPidFile,
  readProcessIdentity,
  removePidFileIf,
  rotateLog,
  spawnDetached,
  stopProcess,
  waitForReady,
  writePidFile,
} from '@defenseclaw/supervisor';
import { CliError, EXIT_CODES, type ExitCode } from '../cli-error.ts';
import type { Config } from '../config/schema.ts';
import { type ApiSettings, apiAddress, apiRequest, readApiToken } from './_api-client.ts';
import {
  checkPidFile,
  childEnv,
  type LifecycleContext,
  roleMatcher,
  selfCommand,
  verifyRole,
} from './_lifecycle.ts';
import type { Output } from './_output.ts';

/** Health entry as served by `GET /health`. */
export type HealthEntry = {
  state: string;
  since?: string;
  last_error?: string;
  details?: Record<string, unknown>;
};

/** The health map. */
export type HealthMap = Record<string, HealthEntry>;

/** Who spawned the daemon, written in the log marker. */
export type SpawnedBy = 'start' | 'restart' | 'watchdog';

/** How long `start` waits for the watchdog to write its PID file. */
export const WATCHDOG_PID_WAIT_MS = 3000;

/** The API settings of a validated config. */
export function apiSettingsOf(config: Config): ApiSettings {
  return {
    host: config.gateway.api_host,
    port: config.gateway.api_port,
    tokenEnv: config.gateway.api_token_env,
  };
}

/** The outcome of `launchDaemon`. */
export type LaunchResult =
  | { ok: true; pid: number; health: HealthMap; readyMs: number }
  | { ok: false; exitCode: ExitCode; message: string };

/** Options of `launchDaemon`. */
export type LaunchOptions = {
  by: SpawnedBy;
  timeoutMs: number;
  /** `DEFENSECLAW_RESTART_REASON` for watchdog restarts. */
  restartReason?: string;
  /** Aborts the readiness wait (the spawned child keeps running with its PID file). */
  signal?: AbortSignal;
  /** Runs right after the spawn, e.g. to print `Starting gateway sidecar daemon... `. */
  onSpawn?: (pid: number) => void;
};

/**
 * Spawns `run` detached (log rotated, marker appended, identity markers set), writes `gateway.pid` atomically and
 * waits for readiness (spec 20 §2.3 steps 5–8). On failure the child is stopped and the PID file removed; the
 * result carries the exit code and operator message.
 */
export async function launchDaemon(
  ctx: LifecycleContext,
  config: Config,
  options: LaunchOptions,
): Promise<LaunchResult> {
  try {
    rotateLog(ctx.logFile);
  } catch {
    // A failed rotation only means a longer log.
  }
  const marker = `==== start ${new Date().toISOString()} by ${options.by} ====`;
  const self = selfCommand(['run']);
  const child = await spawnDetached({
    command: self.command,
    args: self.args,
    cwd: ctx.dataDir,
    env: childEnv(
      ctx,
      'daemon',
      options.restartReason === undefined ? {} : { DEFENSECLAW_RESTART_REASON: options.restartReason },
    ),
    logFile: ctx.logFile,
    marker,
  });
  const identity = await readProcessIdentity(child.pid);
  writePidFile(ctx.pidFile, child.pid);
  options.onSpawn?.(child.pid);

  const api = apiSettingsOf(config);
  let last: HealthMap | undefined;
  const outcome = await waitForReady<HealthMap>({
    timeoutMs: options.timeoutMs,
    intervalMs: 100,
    probeTimeoutMs: 1000,
    exited: child.exited,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    probe: async () => {
      const result = await probeReady(api, config);
      if (result.health !== undefined) last = result.health;
      return result.probe;
    },
  });

  if (outcome.status === 'ready') {
    const identityProblem = await checkStatusIdentity(ctx, api, child.pid);
    if (identityProblem === undefined) {
      return { ok: true, pid: child.pid, health: outcome.value, readyMs: outcome.elapsedMs };
    }
    await cleanUp(ctx, child.pid, identity);
    return { ok: false, exitCode: EXIT_CODES.STARTUP, message: `start: FAILED: ${identityProblem}` };
  }
  if (outcome.status === 'aborted') {
    return { ok: false, exitCode: EXIT_CODES.STARTUP, message: 'start: aborted while waiting for readiness' };
  }
  await cleanUp(ctx, child.pid, identity);
  if (outcome.status === 'exited') {
    const code = outcome.exit.code;
    const after = logAfterMarker(ctx.logFile, marker);
    if (code === EXIT_CODES.CONFIG) {
      const issues = after.filter((line) => !/^\d{4}-\d\d-\d\dT/.test(line));
      return {
        ok: false,
        exitCode: EXIT_CODES.CONFIG,
        message: issues.length > 0 ? issues.join('\n') : 'start: FAILED: invalid configuration (exit code 3)',
      };
    }
    if (code === EXIT_CODES.BIND) {
      const match = after
        .map((line) => /bind: address already in use: (\S+) \(([\w.]+)\)/.exec(line))
        .find((m) => m !== null);
      const address = match?.[1] ?? apiAddress(api);
      const key = match?.[2] ?? 'gateway.api_port';
      return { ok: false, exitCode: EXIT_CODES.BIND, message: bindMessage(ctx, address, key) };
    }
    const shown = outcome.exit.code ?? outcome.exit.signal ?? 'unknown';
    return {
      ok: false,
      exitCode: EXIT_CODES.STARTUP,
      message: [`start: FAILED: daemon exited during startup (exit code ${shown})`, ...after.slice(-20)].join(
        '\n',
      ),
    };
  }
  if (outcome.status === 'failed') {
    return { ok: false, exitCode: EXIT_CODES.STARTUP, message: `start: FAILED: ${outcome.detail}` };
  }
  const states =
    last === undefined
      ? (outcome.lastDetail ?? 'no answer')
      : Object.entries(last)
          .map(([key, entry]) => `${key}:${entry.state}`)
          .join(' ');
  return {
    ok: false,
    exitCode: EXIT_CODES.STARTUP,
    message: `start: FAILED: not ready after ${Math.round(options.timeoutMs / 1000)}s (${states})`,
  };
}

/** The exit-4 message of spec 20 §2.3 step 4, naming the address and config key. */
export function bindMessage(ctx: LifecycleContext, address: string, key: string): string {
  const port = /:(\d+)$/.exec(address)?.[1] ?? '';
  return (
    `start: FAILED: bind: address already in use: ${address} (${key})\n` +
    `Find the owner with 'lsof -i :${port}', or change ${key} in ${ctx.show(ctx.configPath)}`
  );
}

/** A listener `start` will bind, and the config key naming it. */
export type Listener = { host: string; port: number; key: string };

/** The listeners the daemon binds: the API, and the proxy when `guardrail.enabled`. */
export function listenersOf(config: Config): Listener[] {
  const out: Listener[] = [
    { host: config.gateway.api_host, port: config.gateway.api_port, key: 'gateway.api_port' },
  ];
  if (config.guardrail.enabled) {
    out.push({ host: config.guardrail.host, port: config.guardrail.port, key: 'guardrail.port' });
  }
  return out;
}

/** Tries to bind and close a listener; resolves the error code when the bind fails. */
export function tryBind(listener: Listener): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'EUNKNOWN'));
    server.listen({ host: listener.host, port: listener.port, exclusive: true }, () => {
      server.close(() => resolve(undefined));
    });
  });
}

/** Formats a listener as `host:port` (IPv6 in brackets). */
export function listenerAddress(listener: Listener): string {
  return listener.host.includes(':')
    ? `[${listener.host}]:${listener.port}`
    : `${listener.host}:${listener.port}`;
}

/**
 * Asks `GET /status` whether the daemon on the API port belongs to this data dir; returns its PID when it does
 * (the PID file was lost), undefined otherwise (including when the route does not exist yet).
 */
export async function findDaemonByStatus(
  ctx: LifecycleContext,
  api: ApiSettings,
): Promise<number | undefined> {
  const runtime = await fetchRuntime(ctx, api);
  if (runtime === undefined || !sameDataDir(ctx, runtime.dataDir)) return undefined;
  return runtime.pid;
}

/** `runtime.pid`, `runtime.data_dir` and `runtime.supervisor` from `GET /status`, when the route answers. */
export async function fetchRuntime(
  ctx: LifecycleContext,
  api: ApiSettings,
): Promise<{ pid: number; dataDir: string; supervisor: string | undefined } | undefined> {
  try {
    const token = readApiToken(ctx.dataDir, api.tokenEnv);
    const response = await apiRequest(api, { path: '/status', token, timeoutMs: 1000 });
    if (response.status !== 200) return undefined;
    const runtime = (response.json as { runtime?: Record<string, unknown> } | undefined)?.runtime;
    if (typeof runtime?.pid !== 'number' || typeof runtime.data_dir !== 'string') return undefined;
    return {
      pid: runtime.pid,
      dataDir: runtime.data_dir,
      supervisor: typeof runtime.supervisor === 'string' ? runtime.supervisor : undefined,
    };
  } catch {
    return undefined;
  }
}

/** Tells whether a `runtime.data_dir` (absolute or `~/…`) names this data dir. */
export function sameDataDir(ctx: LifecycleContext, dataDir: string): boolean {
  return dataDir === ctx.dataDir || dataDir === ctx.realDataDir || dataDir === ctx.show(ctx.dataDir);
}

/**
 * Stops every process with our daemon markers for this data dir that no PID file names (Linux: a CLI killed
 * between spawn and PID write); each is verified before SIGTERM. Returns the PIDs stopped.
 */
export async function sweepOrphans(ctx: LifecycleContext, note: (line: string) => void): Promise<number[]> {
  const named = readPidFile(ctx.pidFile);
  const stopped: number[] = [];
  for (const pid of findMarkedProcesses(roleMatcher(ctx, 'daemon'))) {
    if (named.kind === 'pid' && named.pid === pid) continue;
    const verdict = await verifyRole(ctx, 'daemon', pid);
    if (verdict.status !== 'ours') continue;
    note(`Stopping orphaned daemon (PID ${pid}) that no PID file names`);
    await stopProcess(verdict.identity, { termTimeoutMs: 10_000 });
    stopped.push(pid);
  }
  return stopped;
}

/** Maps a health state to the word of the `Health:` summary line. */
export function healthWord(state: string): string {
  if (state === 'running' || state === 'healthy') return 'ok';
  if (state === 'disabled' || state === 'stopped') return 'off';
  return state;
}

/** The lines printed after `OK (PID N)` (spec 20 §2.3 step 9). */
export function healthSummary(ctx: LifecycleContext, health: HealthMap): string[] {
  const lines = [
    `  Health: ${Object.entries(health)
      .map(([key, entry]) => `${key}:${healthWord(entry.state)}`)
      .join(', ')}`,
  ];
  for (const [key, entry] of Object.entries(health)) {
    if (entry.state === 'error' || entry.state === 'reconnecting') {
      lines.push(`  ! ${key}: ${entry.state} — ${entry.last_error ?? 'no detail'}`);
    }
  }
  lines.push(`  Log file: ${ctx.show(ctx.logFile)}`, `  PID file: ${ctx.show(ctx.pidFile)}`);
  return lines;
}

/** Spawns the watchdog (`_watchdog`, detached, output appended to `watchdog.log`) and waits for its PID file. */
export async function launchWatchdog(ctx: LifecycleContext): Promise<number> {
  const self = selfCommand(['_watchdog']);
  const child = await spawnDetached({
    command: self.command,
    args: self.args,
    cwd: ctx.dataDir,
    env: childEnv(ctx, 'watchdog'),
    logFile: ctx.watchdogLogFile,
  });
  const deadline = Date.now() + WATCHDOG_PID_WAIT_MS;
  let exited = false;
  void child.exited.then(() => {
    exited = true;
  });
  for (;;) {
    const content = readPidFile(ctx.watchdogPidFile);
    if (content.kind === 'pid' && content.pid === child.pid) return child.pid;
    if (exited) throw new CliError(EXIT_CODES.RUNTIME, 'the watchdog exited at once (see watchdog.log)');
    if (Date.now() > deadline)
      throw new CliError(EXIT_CODES.RUNTIME, 'the watchdog wrote no PID file within 3 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts the watchdog when enabled and not already running; prints the `Watchdog:` line. */
export async function ensureWatchdog(
  ctx: LifecycleContext,
  config: Config,
  out: Output,
  options: { noWatchdog?: boolean | undefined; note: (line: string) => void },
): Promise<void> {
  if (!config.gateway.watchdog.enabled || options.noWatchdog === true) {
    out.out(
      options.noWatchdog === true && config.gateway.watchdog.enabled
        ? '  Watchdog: not started (--no-watchdog)'
        : '  Watchdog: disabled (enable with gateway.watchdog.enabled)',
    );
    return;
  }
  const existing = await checkPidFile(ctx, 'watchdog', options.note);
  if (existing.status === 'ours') {
    out.out(`  Watchdog: running (PID ${existing.pid})`);
    return;
  }
  try {
    const pid = await launchWatchdog(ctx);
    out.out(`  Watchdog: started (PID ${pid})`);
  } catch (error) {
    out.out(`  Watchdog: failed to start: ${error instanceof Error ? error.message : String(error)}`);
  }
}

// --- internal ---

async function probeReady(
  api: ApiSettings,
  config: Config,
): Promise<{ probe: ProbeResult<HealthMap>; health?: HealthMap }> {
  let response: Awaited<ReturnType<typeof apiRequest>>;
  try {
    response = await apiRequest(api, { path: '/health', timeoutMs: 1000 });
  } catch (error) {
    return { probe: { ready: false, detail: error instanceof Error ? error.message : String(error) } };
  }
  const health = response.json as HealthMap | undefined;
  if (response.status !== 200 || typeof health !== 'object' || health === null) {
    return { probe: { ready: false, detail: `HTTP ${response.status}` } };
  }
  const state = (key: string) => health[key]?.state;
  const enabled: Record<string, boolean> = {
    guardrail: config.guardrail.enabled,
    watcher: config.gateway.watcher.enabled,
  };
  for (const key of ['guardrail', 'watcher']) {
    if (enabled[key] === true && state(key) === 'error') {
      return {
        probe: { ready: false, fatal: true, detail: `${key}: ${health[key]?.last_error ?? 'error'}` },
        health,
      };
    }
  }
  const core = ['api', 'audit', 'policy'].every(
    (key) => state(key) === undefined || state(key) === 'running',
  );
  // Subsystems this build does not ship report `disabled` even when enabled in config; any settled state passes.
  const settled = Object.values(health).every((entry) => entry.state !== 'starting');
  if (core && settled && state('api') === 'running') return { probe: { ready: true, value: health }, health };
  return { probe: { ready: false, detail: 'starting' }, health };
}

async function checkStatusIdentity(
  ctx: LifecycleContext,
  api: ApiSettings,
  pid: number,
): Promise<string | undefined> {
  const runtime = await fetchRuntime(ctx, api);
  if (runtime === undefined) return undefined; // no /status route in this build: the PID was verified by spawn
  if (runtime.pid !== pid || !sameDataDir(ctx, runtime.dataDir)) {
    return `the API at ${apiAddress(api)} answers for PID ${runtime.pid} (${runtime.dataDir}), not for the daemon just started (PID ${pid})`;
  }
  return undefined;
}

async function cleanUp(
  ctx: LifecycleContext,
  pid: number,
  identity: Awaited<ReturnType<typeof readProcessIdentity>>,
): Promise<void> {
  if (identity !== undefined) await stopProcess(identity, { termTimeoutMs: 10_000 });
  removePidFileIf(ctx.pidFile, pid);
}

function logAfterMarker(logFile: string, marker: string): string[] {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return [];
  }
  const at = text.lastIndexOf(marker);
  const tail = at === -1 ? text : text.slice(at + marker.length);
  return tail.split('\n').filter((line) => line.trim() !== '');
}
